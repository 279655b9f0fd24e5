#if canImport(Glibc)
import Glibc
#endif
import CLibPCI
import PCI

/// Guest accesses to one BAR of a VFIO device. The parts of the region the kernel lets us mmap
/// (the whole BAR, or its sparse-mmap areas, which usually leave out the MSI-X table) are
/// mapped once, and an access there is one volatile host load or store of the guest's width;
/// the rest goes through pread/pwrite on the device file, as QEMU's `vfio_region_read/write`
/// does. The function's own MSI-X table and PBA never get here: the emulation answers them.
final class VFIORegionAccess {
    let region: VFIORegionInfo
    private let device: VFIODevice
    /// Mapped areas: region offsets and their host address.
    private let areas: [(range: Range<UInt64>, base: UnsafeMutableRawPointer)]

    /// Maps what may be mapped. A mapping the kernel refuses is not an error: those accesses
    /// take the pread/pwrite path instead (slower, same result).
    init(device: VFIODevice, region: VFIORegionInfo) {
        self.device = device
        self.region = region
        var areas: [(range: Range<UInt64>, base: UnsafeMutableRawPointer)] = []
        for area in region.mappableAreas where !area.isEmpty && area.upperBound <= region.size {
            if case let .success(base) = device.kernel.mmap(device: device.fd, offset: region.offset + area.lowerBound,
                                                             size: UInt64(area.count), writable: region.writable) {
                areas.append((area, base))
            }
        }
        self.areas = areas
    }

    deinit {
        for area in areas { device.kernel.munmap(area.base, size: UInt64(area.range.count)) }
    }

    /// The parts of the mapped areas the guest may reach with no trap: whole `page`s of the
    /// areas that hold none of `excluded` (region offsets; the MSI-X table and PBA, which must
    /// stay emulated), as QEMU's vfio-pci carves its mmap subregions around the MSI-X table at
    /// page granularity (`vfio_pci_fixup_msix_region`). A region that is not both readable and
    /// writable has none: a guest store to a read-only mapping would fault the host.
    func directWindows(excluding excluded: [Range<UInt64>], page: UInt64) -> [PCIDirectWindow] {
        guard region.readable, region.writable, page > 0, page & (page - 1) == 0 else { return [] }
        let holes = excluded.filter { !$0.isEmpty }.map { ($0.lowerBound & ~(page - 1))..<(($0.upperBound + page - 1) & ~(page - 1)) }
        var windows: [PCIDirectWindow] = []
        for area in areas {
            var pieces: [Range<UInt64>] = []
            let start = (area.range.lowerBound + page - 1) & ~(page - 1)
            let end = area.range.upperBound & ~(page - 1)
            if start < end { pieces.append(start..<end) }
            for hole in holes {
                pieces = pieces.flatMap { piece -> [Range<UInt64>] in
                    guard piece.overlaps(hole) else { return [piece] }
                    return [piece.lowerBound..<max(piece.lowerBound, hole.lowerBound),
                            min(piece.upperBound, hole.upperBound)..<piece.upperBound].filter { !$0.isEmpty }
                }
            }
            // A window's host address must be page aligned too (a TLB entry maps a whole host
            // page): true when the area starts on a page, as VFIO's sparse areas do; a piece
            // that is not stays trapped.
            for piece in pieces where UInt(bitPattern: area.base + Int(piece.lowerBound - area.range.lowerBound)) & UInt(page - 1) == 0 {
                windows.append(PCIDirectWindow(offset: piece.lowerBound, size: UInt64(piece.count),
                                               host: area.base + Int(piece.lowerBound - area.range.lowerBound)))
            }
        }
        return windows.sorted { $0.offset < $1.offset }
    }

    /// Puts scratch memory (`park`) or the device (`arm`) behind `windows`, keeping their host
    /// addresses: the guest address space maps those addresses for as long as the BAR decodes.
    /// The first failure is returned; the other windows are still done.
    func park(_ windows: [PCIDirectWindow]) -> VFIOErrno? {
        var first: VFIOErrno?
        for window in windows {
            if let failure = device.kernel.park(window.host, size: window.size), first == nil { first = failure }
        }
        return first
    }

    func arm(_ windows: [PCIDirectWindow]) -> VFIOErrno? {
        var first: VFIOErrno?
        for window in windows {
            if let failure = device.kernel.remap(window.host, device: device.fd, offset: region.offset + window.offset,
                                                 size: window.size, writable: region.writable), first == nil { first = failure }
        }
        return first
    }

    /// Bytes of the BAR reached through a mapping rather than pread/pwrite.
    var mappedBytes: UInt64 { areas.reduce(0) { $0 + UInt64($1.range.count) } }

    @inline(__always)
    private func mapped(_ offset: UInt64, _ size: Int) -> UnsafeMutableRawPointer? {
        for area in areas where offset >= area.range.lowerBound && offset &+ UInt64(size) <= area.range.upperBound {
            return area.base + Int(offset - area.range.lowerBound)
        }
        return nil
    }

    func read(offset: UInt64, size: Int) -> UInt64 {
        guard region.readable, offset &+ UInt64(size) <= region.size else { return 0 }
        if let at = mapped(offset, size) {
            // SAFETY: `at ..< at + size` lies in a live MAP_SHARED mapping of the BAR (checked
            // by `mapped`); volatile so the device sees exactly this access.
            switch size {
            case 1: return UInt64(bp_mmio_read8(at))
            case 2: return UInt64(bp_mmio_read16(at))
            case 4: return UInt64(bp_mmio_read32(at))
            default: return bp_mmio_read64(at)
            }
        }
        var value: UInt64 = 0
        let count = withUnsafeMutableBytes(of: &value) { raw in
            (try? device.kernel.read(device: device.fd, offset: region.offset + offset,
                                     into: UnsafeMutableRawBufferPointer(rebasing: raw.prefix(size))).get()) ?? 0
        }
        return count == size ? UInt64(littleEndian: value) : 0
    }

    func write(offset: UInt64, size: Int, value: UInt64) {
        guard region.writable, offset &+ UInt64(size) <= region.size else { return }
        if let at = mapped(offset, size) {
            // SAFETY: as in read; the mapping is PROT_WRITE because the region is writable.
            switch size {
            case 1: bp_mmio_write8(at, UInt8(truncatingIfNeeded: value))
            case 2: bp_mmio_write16(at, UInt16(truncatingIfNeeded: value))
            case 4: bp_mmio_write32(at, UInt32(truncatingIfNeeded: value))
            default: bp_mmio_write64(at, value)
            }
            return
        }
        var bytes = value.littleEndian
        _ = withUnsafeBytes(of: &bytes) { raw in
            device.kernel.write(device: device.fd, offset: region.offset + offset, from: UnsafeRawBufferPointer(rebasing: raw.prefix(size)))
        }
    }
}

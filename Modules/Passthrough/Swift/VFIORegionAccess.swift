import CLibPCI

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

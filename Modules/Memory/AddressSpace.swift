import Trace

/// Told when a write reaches a page that holds translated or pre-decoded code, so the CPU can
/// drop what it derived from the old bytes before the next instruction is fetched there.
public protocol CodeWriteObserver: AnyObject {
    /// `physicalPage` is the guest physical address shifted right by 12.
    func codeWritten(physicalPage: UInt64)
}

/// The guest physical address space: RAM, ROM and MMIO regions that never overlap.
///
/// Lookups go through a sorted array and a one-entry cache (no dictionaries on the access path).
/// CPU loads and stores to RAM do not come here at all once their page is in the hart's TLB;
/// this is the slow path and the path for devices.
public final class AddressSpace {
    /// Sorted by base address; never overlapping.
    public private(set) var regions: [MemoryRegion] = []
    private var lastHit: MemoryRegion?
    /// Receives writes to code pages (set by the CPU).
    public weak var codeWriteObserver: (any CodeWriteObserver)?
    /// How many RAM regions have been unmapped: harts may hold TLB entries for them, so whoever
    /// runs the harts flushes their translations when this changes (the machine does, between
    /// slices).
    public private(set) var ramUnmaps: UInt64 = 0

    /// Device accesses in progress: a CPU store reaching a device is depth 1; an MSI or other
    /// bus-master write that device issues while handling it, and lands on MMIO again, is depth 2.
    private var dispatchDepth = 0
    /// Nested device accesses since the outermost one began (`nestedDispatchBudget` bounds it).
    private var nestedDispatches = 0
    /// MMIO accesses refused because they nested too deep or too often (see `maxDispatchDepth`).
    public private(set) var refusedNestedAccesses: UInt64 = 0

    /// How deep device accesses may nest. A device's MSI aimed at MMIO (an IMSIC, another
    /// device's register, its own BAR) is delivered as an ordinary memory write, as on a real
    /// fabric; but where a real fabric queues that posted write and moves on, a synchronous
    /// model would recurse (edu's MSI-X vector aimed at its own interrupt-raise register raises
    /// the interrupt again, forever). Past this depth the write is dropped and a read answers
    /// nothing, which the requester sees as a master abort (PCI 3.0 §3.3.3.1; an unanswered
    /// posted MSI is simply lost). Legitimate chains are short: CPU -> device -> IMSIC is 2.
    public static let maxDispatchDepth = 8
    /// How many nested device accesses one outermost access may cause in all, so that a device
    /// that fans out (one write triggering several messages) cannot multiply work per level.
    public static let nestedDispatchBudget = 4096

    public init() {}

    // MARK: Building the map

    /// Maps zero-filled RAM. Throws `RegionOverlap` naming both regions if the range is taken.
    @discardableResult
    public func mapRAM(name: String, base: UInt64, size: UInt64) throws -> MemoryRegion {
        try insert(MemoryRegion(name: name, base: base, size: size, kind: .ram, device: nil))
    }

    /// Maps host memory that `owner` keeps (`size` bytes at `storage`, such as a RAM-backed PCI
    /// BAR) as RAM, so harts enter its pages in their TLBs. The region keeps `owner` alive.
    @discardableResult
    public func mapRAM(name: String, base: UInt64, size: UInt64, storage: UnsafeMutableRawPointer, owner: AnyObject) throws -> MemoryRegion {
        try insert(MemoryRegion(name: name, base: base, size: size, borrowing: storage, owner: owner))
    }

    /// Maps a device's registers that are host memory (`RegionKind.deviceMemory`: an mmapped
    /// VFIO BAR), so harts enter its pages in their TLBs and each guest load or store is one host
    /// access of the same width. `base`, `size` and `storage` must be 4 KiB aligned: a TLB entry
    /// covers a whole page, and a page only partly device memory would let accesses spill into
    /// whatever follows it. The region keeps `owner` alive.
    @discardableResult
    public func mapDeviceMemory(name: String, base: UInt64, size: UInt64, storage: UnsafeMutableRawPointer, owner: AnyObject) throws -> MemoryRegion {
        precondition(base & 0xFFF == 0 && size & 0xFFF == 0 && size > 0 && UInt(bitPattern: storage) & 0xFFF == 0,
                     "device memory '\(name)' must be whole 4 KiB pages")
        return try insert(MemoryRegion(name: name, base: base, size: size, borrowing: storage, owner: owner, kind: .deviceMemory))
    }

    /// Maps read-only memory holding `contents` (zero-padded to `size`).
    @discardableResult
    public func mapROM(name: String, base: UInt64, size: UInt64, contents: [UInt8] = []) throws -> MemoryRegion {
        precondition(contents.count <= size, "ROM contents larger than the region")
        let region = try insert(MemoryRegion(name: name, base: base, size: size, kind: .rom, device: nil))
        contents.withUnsafeBytes { region.host!.copyMemory(from: $0.baseAddress!, byteCount: contents.count) }
        return region
    }

    /// Maps a device's registers.
    @discardableResult
    public func mapMMIO(name: String, base: UInt64, size: UInt64, device: any MMIODevice) throws -> MemoryRegion {
        precondition(device.implementedSizes.rawValue != 0, "device '\(name)' implements no access size")
        return try insert(MemoryRegion(name: name, base: base, size: size, kind: .mmio, device: device))
    }

    /// Removes a region (a PCI BAR being moved or disabled). Hart TLBs hold only RAM and device
    /// memory pages, so unmapping MMIO needs no TLB flush; unmapping those does, and is the
    /// caller's business (`ramUnmaps`).
    public func unmap(_ region: MemoryRegion) {
        if region.kind == .ram || region.kind == .deviceMemory { ramUnmaps &+= 1 }
        regions.removeAll { $0 === region }
        if lastHit === region { lastHit = nil }
    }

    private func insert(_ region: MemoryRegion) throws -> MemoryRegion {
        for other in regions where region.base < other.end && other.base < region.end {
            throw RegionOverlap(name: region.name, base: region.base, size: region.size,
                                otherName: other.name, otherBase: other.base, otherSize: other.size)
        }
        regions.append(region)
        regions.sort { $0.base < $1.base }
        return region
    }

    // MARK: Lookup

    /// The region containing `address`, or nil for unmapped addresses.
    @inline(__always)
    public func region(containing address: UInt64) -> MemoryRegion? {
        if let hit = lastHit, hit.contains(address) { return hit }
        var low = 0, high = regions.count
        while low < high {
            let mid = (low + high) >> 1
            let candidate = regions[mid]
            if address < candidate.base { high = mid }
            else if address >= candidate.end { low = mid + 1 }
            else { lastHit = candidate; return candidate }
        }
        return nil
    }

    /// Host memory for `[address, address+length)` when it lies wholly in one RAM or device
    /// memory region (or ROM, if `forWrite` is false). This is what the hart's TLB caches;
    /// callers that copy bytes (DMA) must check the region is RAM.
    @inline(__always)
    public func hostPointer(_ address: UInt64, length: UInt64, forWrite: Bool) -> UnsafeMutableRawPointer? {
        guard let region = region(containing: address), let host = region.host,
              address &- region.base &+ length <= region.size else { return nil }
        if forWrite && region.kind == .rom { return nil }
        return host + Int(address &- region.base)
    }

    // MARK: Slow-path access (CPU TLB misses, MMIO, devices)

    /// Reads `size` (1, 2, 4 or 8) bytes, little-endian. Nil means nothing answers at that
    /// address: the caller raises an access fault, as hardware does for an unmapped address.
    public func read(_ address: UInt64, size: Int) -> UInt64? {
        guard let region = region(containing: address) else { return nil }
        return read(in: region, offset: address &- region.base, size: size)
    }

    /// `read(_:size:)` at `offset` in a region the caller has already looked up (the hart's
    /// slow path, which needs the region for PMP and its TLB): one lookup per access.
    public func read(in region: MemoryRegion, offset: UInt64, size: Int) -> UInt64? {
        guard offset &+ UInt64(size) <= region.size else { return nil }
        if let host = region.host {
            return loadLittleEndian(host + Int(offset), size: size)
        }
        guard enterDispatch() else { return nil }
        defer { dispatchDepth -= 1 }
        let value = dispatchRead(region, offset: offset, size: size)
        if Trace.mask & TraceGroup.mmio.bit != 0 { traceAccess(region, "read", offset: offset, size: size, value: value) }
        return value
    }

    /// Writes the low `size` bytes of `value`. False means nothing answers at that address.
    /// Writes to ROM are accepted and ignored, as a ROM chip ignores them.
    @discardableResult
    public func write(_ address: UInt64, size: Int, value: UInt64) -> Bool {
        guard let region = region(containing: address) else { return false }
        return write(in: region, offset: address &- region.base, size: size, value: value)
    }

    /// `write(_:size:value:)` at `offset` in a region the caller has already looked up.
    @discardableResult
    public func write(in region: MemoryRegion, offset: UInt64, size: Int, value: UInt64) -> Bool {
        guard offset &+ UInt64(size) <= region.size else { return false }
        switch region.kind {
        case .ram:
            noteWrite(region, offset: offset, length: UInt64(size))
            storeLittleEndian(region.host! + Int(offset), size: size, value: value)
        case .rom:
            break
        case .deviceMemory:
            // One host store of the guest's width (storeLittleEndian is a single move): the
            // device sees the access as made. No code pages to note: device memory is never code.
            storeLittleEndian(region.host! + Int(offset), size: size, value: value)
        case .mmio:
            guard enterDispatch() else { return false }
            defer { dispatchDepth -= 1 }
            if Trace.mask & TraceGroup.mmio.bit != 0 { traceAccess(region, "write", offset: offset, size: size, value: value) }
            dispatchWrite(region, offset: offset, size: size, value: value)
        }
        return true
    }

    /// One `mmio` trace event (Trace.swift): off the access path, reached only when tracing.
    @inline(never)
    private func traceAccess(_ region: MemoryRegion, _ what: String, offset: UInt64, size: Int, value: UInt64) {
        Trace.emit(.mmio, device: region.traceName, what, [
            "region": .text(region.name), "offset": .hex(offset &+ region.traceOffset), "size": .number(UInt64(size)),
            "value": .hex(size >= 8 ? value : value & ((1 << UInt64(8 * size)) - 1)),
        ])
    }

    /// The one bound on re-entrant device dispatch (see `maxDispatchDepth`): true when a
    /// device access may start (the caller then decrements `dispatchDepth` when it ends).
    @inline(__always)
    private func enterDispatch() -> Bool {
        if dispatchDepth == 0 {
            nestedDispatches = 0
        } else {
            nestedDispatches += 1
            guard dispatchDepth < AddressSpace.maxDispatchDepth,
                  nestedDispatches <= AddressSpace.nestedDispatchBudget else {
                refusedNestedAccesses &+= 1
                return false
            }
        }
        dispatchDepth += 1
        return true
    }

    // MARK: Code-page tracking (self-modifying code)

    /// Marks the RAM page holding `physicalAddress` as containing code. Returns false when the
    /// address is not RAM or ROM (nothing to track).
    @discardableResult
    public func markCodePage(_ physicalAddress: UInt64) -> Bool {
        guard let region = region(containing: physicalAddress), let pages = region.codePages else { return false }
        pages[Int((physicalAddress &- region.base) >> 12)] = 1
        return true
    }

    /// Whether the page holding `physicalAddress` is marked as holding code.
    public func isCodePage(_ physicalAddress: UInt64) -> Bool {
        guard let region = region(containing: physicalAddress), let pages = region.codePages else { return false }
        return pages[Int((physicalAddress &- region.base) >> 12)] != 0
    }

    /// Forgets every code-page mark (after the CPU flushed all translations).
    public func clearCodePages() {
        for region in regions {
            guard let pages = region.codePages else { continue }
            pages.update(repeating: 0, count: Int((region.size + 4095) >> 12))
        }
    }

    /// Called for every write into RAM that does not go through a hart's TLB fast path.
    @inline(__always)
    func noteWrite(_ region: MemoryRegion, offset: UInt64, length: UInt64) {
        guard let pages = region.codePages, length > 0 else { return }
        var page = offset >> 12
        let last = (offset &+ length &- 1) >> 12
        while page <= last {
            if pages[Int(page)] != 0 {
                pages[Int(page)] = 0
                codeWriteObserver?.codeWritten(physicalPage: (region.base >> 12) &+ page)
            }
            page &+= 1
        }
    }

    // MARK: Adapting access widths for devices

    private func dispatchRead(_ region: MemoryRegion, offset: UInt64, size: Int) -> UInt64 {
        let device = region.device!
        let sizes = region.implementedSizes
        if sizes.contains(size: size) { return device.read(offset: offset, size: size) }
        if let smallest = sizes.smallest, smallest > size {
            // Widen: read the enclosing aligned unit and pick our bytes out of it.
            let unit = UInt64(smallest)
            let aligned = offset & ~(unit - 1)
            let shift = (offset - aligned) * 8
            return (device.read(offset: aligned, size: smallest) >> shift) & mask(size)
        }
        // Split into the widest implemented pieces no larger than the access, little-endian.
        let piece = pieceSize(sizes, below: size)
        var result: UInt64 = 0
        var done = 0
        while done < size {
            let part = device.read(offset: offset + UInt64(done), size: piece) & mask(piece)
            result |= part << UInt64(done * 8)
            done += piece
        }
        return result
    }

    private func dispatchWrite(_ region: MemoryRegion, offset: UInt64, size: Int, value: UInt64) {
        let device = region.device!
        let sizes = region.implementedSizes
        if sizes.contains(size: size) { device.write(offset: offset, size: size, value: value & mask(size)); return }
        if let smallest = sizes.smallest, smallest > size {
            // Widen without reading first (a read can have side effects, e.g. popping a FIFO):
            // the other bytes of the unit are written as zero, as QEMU's memory core does.
            let unit = UInt64(smallest)
            let aligned = offset & ~(unit - 1)
            let shift = (offset - aligned) * 8
            device.write(offset: aligned, size: smallest, value: (value & mask(size)) << shift)
            return
        }
        let piece = pieceSize(sizes, below: size)
        var done = 0
        while done < size {
            device.write(offset: offset + UInt64(done), size: piece, value: (value >> UInt64(done * 8)) & mask(piece))
            done += piece
        }
    }

    private func pieceSize(_ sizes: AccessSizes, below size: Int) -> Int {
        var piece = size >> 1
        while piece > 1 && !sizes.contains(size: piece) { piece >>= 1 }
        return piece
    }
}

@inline(__always) func mask(_ size: Int) -> UInt64 { size >= 8 ? ~0 : (1 << UInt64(size * 8)) - 1 }

/// Little-endian load of 1, 2, 4 or 8 bytes from possibly unaligned host memory.
@inline(__always)
public func loadLittleEndian(_ pointer: UnsafeRawPointer, size: Int) -> UInt64 {
    switch size {
    case 1: return UInt64(pointer.load(as: UInt8.self))
    case 2: return UInt64(UInt16(littleEndian: pointer.loadUnaligned(as: UInt16.self)))
    case 4: return UInt64(UInt32(littleEndian: pointer.loadUnaligned(as: UInt32.self)))
    default: return UInt64(littleEndian: pointer.loadUnaligned(as: UInt64.self))
    }
}

/// Little-endian store of the low 1, 2, 4 or 8 bytes of `value` to possibly unaligned host memory.
@inline(__always)
public func storeLittleEndian(_ pointer: UnsafeMutableRawPointer, size: Int, value: UInt64) {
    switch size {
    case 1: pointer.storeBytes(of: UInt8(truncatingIfNeeded: value), as: UInt8.self)
    case 2: pointer.storeBytes(of: UInt16(truncatingIfNeeded: value).littleEndian, as: UInt16.self)
    case 4: pointer.storeBytes(of: UInt32(truncatingIfNeeded: value).littleEndian, as: UInt32.self)
    default: pointer.storeBytes(of: value.littleEndian, as: UInt64.self)
    }
}

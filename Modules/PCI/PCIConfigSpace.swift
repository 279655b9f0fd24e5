import Memory
/// Told after the guest wrote configuration-space bytes in its range (MSI, MSI-X control and
/// mask registers react to unmasking by sending pending messages).
public protocol PCIConfigWriteObserver: AnyObject {
    func configWritten(offset: Int, size: Int)
}

/// The 4 KiB configuration space of one function: register bytes plus, per byte, the bits
/// software may write and the bits that are write-1-to-clear (crosvm `pci_configuration.rs`).
///
/// Everything a function shows in configuration space lives here: the type 0 or type 1 header,
/// BARs with their sizing protocol, the capability list and PCIe extended capabilities. The guest
/// goes through `read`/`write` (masked); the device model goes through `load`/`store`, which
/// ignore the masks (hardware-owned bits such as status and pending bits).
public final class PCIConfigSpace {
    /// Header layout (PCI 3.0 §6.1, header type bits 6:0).
    public enum HeaderType: UInt8, Sendable {
        /// Type 0: an endpoint with six BARs.
        case endpoint = 0
        /// Type 1: a PCI-to-PCI bridge or PCIe root port with two BARs and bus numbers.
        case bridge = 1
    }

    /// Bytes of PCIe configuration space per function (PCIe Base 4.0 §7.2.2).
    public static let size = 4096

    public let headerType: HeaderType
    private var bytes = [UInt8](repeating: 0, count: PCIConfigSpace.size)
    private var writable = [UInt8](repeating: 0, count: PCIConfigSpace.size)
    private var clearOnWrite = [UInt8](repeating: 0, count: PCIConfigSpace.size)
    private var resetBytes: [UInt8] = []
    /// Declared BARs by index; a 64-bit BAR also occupies index + 1 (left nil).
    public private(set) var bars: [PCIBAR?]
    /// Held weakly: the observers (capabilities) hold the function's bus interface, which
    /// holds this configuration space.
    private var observers: [(range: Range<Int>, observer: WeakObserver)] = []
    private struct WeakObserver { weak var value: (any PCIConfigWriteObserver)? }
    /// Where the next capability goes and which byte points at it.
    private var nextCapability = PCIConfigRegister.headerEnd
    private var lastCapabilityLink = PCIConfigRegister.capabilitiesPointer
    private var nextExtendedCapability = PCIConfigRegister.extendedStart
    private var lastExtendedCapability: Int?

    /// A header of `headerType` with `identity`; the command register starts at zero (no
    /// decode, no bus master).
    public init(identity: PCIIdentity = PCIIdentity(vendorID: 0xffff, deviceID: 0xffff, classCode: 0),
                headerType: HeaderType = .endpoint) {
        self.headerType = headerType
        bars = [PCIBAR?](repeating: nil, count: headerType == .endpoint ? 6 : 2)
        setIdentity(identity)
        store8(PCIConfigRegister.headerType, headerType.rawValue)
        setWritable(PCIConfigRegister.command, size: 2, mask: UInt32(PCICommand.writable.rawValue))
        setClearOnWrite(PCIConfigRegister.status, size: 2, mask: UInt32(PCIStatus.errorBits.rawValue))
        // Cache line size is read/write for compatibility (PCIe Base 4.0 §7.5.1.1.7); the
        // latency timer is read-only zero on PCIe. Interrupt line is scratch for software.
        setWritable(PCIConfigRegister.cacheLineSize, size: 1, mask: 0xff)
        setWritable(PCIConfigRegister.interruptLine, size: 1, mask: 0xff)
        switch headerType {
        case .endpoint:
            // Expansion ROM BAR: no ROM, so every bit reads as zero (sizing finds size 0).
            break
        case .bridge:
            setWritable(PCIConfigRegister.primaryBus, size: 3, mask: 0xff_ffff)
            // 32-bit I/O and 64-bit prefetchable windows (PCI-to-PCI Bridge 1.2 §3.2.5.6, §3.2.5.9).
            store8(PCIConfigRegister.ioBase, 0x01)
            store8(PCIConfigRegister.ioLimit, 0x01)
            setWritable(PCIConfigRegister.ioBase, size: 2, mask: 0xf0f0)
            setClearOnWrite(PCIConfigRegister.secondaryStatus, size: 2, mask: UInt32(PCIStatus.errorBits.rawValue))
            setWritable(PCIConfigRegister.memoryBase, size: 4, mask: 0xfff0_fff0)
            store16(PCIConfigRegister.prefetchableBase, 0x1)
            store16(PCIConfigRegister.prefetchableLimit, 0x1)
            setWritable(PCIConfigRegister.prefetchableBase, size: 4, mask: 0xfff0_fff0)
            setWritable(PCIConfigRegister.prefetchableBaseUpper, size: 4, mask: 0xffff_ffff)
            setWritable(PCIConfigRegister.prefetchableLimitUpper, size: 4, mask: 0xffff_ffff)
            setWritable(PCIConfigRegister.ioBaseUpper, size: 4, mask: 0xffff_ffff)
            // Parity/SERR enable, ISA, VGA, master abort mode, secondary bus reset (§3.2.5.18).
            setWritable(PCIConfigRegister.bridgeControl, size: 2, mask: 0x005f)
        }
    }

    /// Sets the identity registers (vendor, device, revision, class, subsystem on type 0).
    public func setIdentity(_ identity: PCIIdentity) {
        store16(PCIConfigRegister.vendorID, identity.vendorID)
        store16(PCIConfigRegister.deviceID, identity.deviceID)
        store8(PCIConfigRegister.revisionID, identity.revision)
        store8(PCIConfigRegister.classCode, UInt8(truncatingIfNeeded: identity.classCode))
        store16(PCIConfigRegister.classCode + 1, UInt16(truncatingIfNeeded: identity.classCode >> 8))
        if headerType == .endpoint {
            store16(PCIConfigRegister.subsystemVendorID, identity.subsystemVendorID)
            store16(PCIConfigRegister.subsystemID, identity.subsystemID)
        }
    }

    // MARK: Guest access (masked)

    /// Reads `size` (1, 2 or 4) bytes at `offset`, little-endian. Offsets past the space read 0.
    public func read(offset: Int, size: Int) -> UInt32 {
        var value: UInt32 = 0
        for index in 0..<size where offset + index < PCIConfigSpace.size {
            value |= UInt32(bytes[offset + index]) << (8 * index)
        }
        return value
    }

    /// Writes the low `size` bytes of `value` as software does: only writable bits change, and
    /// a 1 written to a write-1-to-clear bit clears it. Observers of the range are told after.
    public func write(offset: Int, size: Int, value: UInt32) {
        guard offset >= 0, offset + size <= PCIConfigSpace.size else { return }
        for index in 0..<size {
            let byte = UInt8(truncatingIfNeeded: value >> (8 * index))
            let at = offset + index
            let mask = writable[at]
            bytes[at] = (bytes[at] & ~mask) | (byte & mask)
            bytes[at] &= ~(byte & clearOnWrite[at])
        }
        let written = offset..<(offset + size)
        for entry in observers where entry.range.overlaps(written) {
            entry.observer.value?.configWritten(offset: offset, size: size)
        }
    }

    // MARK: Device access (unmasked)

    public func load8(_ offset: Int) -> UInt8 { bytes[offset] }
    public func load16(_ offset: Int) -> UInt16 { UInt16(truncatingIfNeeded: read(offset: offset, size: 2)) }
    public func load32(_ offset: Int) -> UInt32 { read(offset: offset, size: 4) }

    public func store8(_ offset: Int, _ value: UInt8) { bytes[offset] = value }
    public func store16(_ offset: Int, _ value: UInt16) { store(offset, size: 2, value: UInt32(value)) }
    public func store32(_ offset: Int, _ value: UInt32) { store(offset, size: 4, value: value) }

    private func store(_ offset: Int, size: Int, value: UInt32) {
        for index in 0..<size { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
    }

    /// Declares which bits of `[offset, offset+size)` software may write (all others read-only).
    public func setWritable(_ offset: Int, size: Int, mask: UInt32) {
        for index in 0..<size { writable[offset + index] = UInt8(truncatingIfNeeded: mask >> (8 * index)) }
    }

    /// Declares which bits of `[offset, offset+size)` are write-1-to-clear.
    public func setClearOnWrite(_ offset: Int, size: Int, mask: UInt32) {
        for index in 0..<size { clearOnWrite[offset + index] = UInt8(truncatingIfNeeded: mask >> (8 * index)) }
    }

    /// Calls `observer` after every guest write overlapping `range`.
    public func observeWrites(_ range: Range<Int>, _ observer: any PCIConfigWriteObserver) {
        observers.append((range, WeakObserver(value: observer)))
    }

    // MARK: Header fields

    public var command: PCICommand { PCICommand(rawValue: load16(PCIConfigRegister.command)) }

    public var status: PCIStatus { PCIStatus(rawValue: load16(PCIConfigRegister.status)) }

    /// Sets or clears hardware-owned status bits (interrupt status, received master abort, …).
    public func setStatus(_ bits: PCIStatus, _ on: Bool) {
        let current = load16(PCIConfigRegister.status)
        store16(PCIConfigRegister.status, on ? current | bits.rawValue : current & ~bits.rawValue)
    }

    /// The multi-function bit of the header type (set by the bus when function 0 has siblings).
    public var isMultiFunction: Bool {
        get { bytes[PCIConfigRegister.headerType] & 0x80 != 0 }
        set { bytes[PCIConfigRegister.headerType] = (bytes[PCIConfigRegister.headerType] & 0x7f) | (newValue ? 0x80 : 0) }
    }

    public var interruptPin: PCIInterruptPin? {
        get { PCIInterruptPin(rawValue: bytes[PCIConfigRegister.interruptPin]) }
        set { bytes[PCIConfigRegister.interruptPin] = newValue?.rawValue ?? 0 }
    }

    // MARK: BARs

    /// Declares BAR `index` (a 64-bit BAR also takes `index + 1`). Its address starts at zero.
    public func declareBAR(_ index: Int, _ bar: PCIBAR) {
        precondition(index < bars.count && (bar.kind != .memory64 || index + 1 < bars.count),
                     "BAR \(index) does not exist in a \(headerType) header")
        precondition(bars[index] == nil && (index == 0 || bars[index - 1]?.kind != .memory64),
                     "BAR \(index) is already taken")
        bars[index] = bar
        let offset = PCIConfigRegister.bar0 + 4 * index
        store32(offset, bar.typeBits)
        // Address bits below the size are read-only zero: writing all ones reads back the size.
        let sizeMask = ~(bar.size - 1)
        setWritable(offset, size: 4, mask: UInt32(truncatingIfNeeded: sizeMask) & bar.addressMaskLow)
        if bar.kind == .memory64 {
            store32(offset + 4, 0)
            setWritable(offset + 4, size: 4, mask: UInt32(truncatingIfNeeded: sizeMask >> 32))
        }
    }

    /// The address BAR `index` holds (bus address, flags removed), or nil if not declared.
    public func barAddress(_ index: Int) -> UInt64? {
        guard index < bars.count, let bar = bars[index] else { return nil }
        let offset = PCIConfigRegister.bar0 + 4 * index
        var address = UInt64(load32(offset) & bar.addressMaskLow)
        if bar.kind == .memory64 { address |= UInt64(load32(offset + 4)) << 32 }
        return address
    }

    /// Whether `offset` lies in a BAR register (a write there may move a BAR).
    public func isBARRegister(_ offset: Int) -> Bool {
        (PCIConfigRegister.bar0..<(PCIConfigRegister.bar0 + 4 * bars.count)).contains(offset)
    }

    // MARK: Capabilities

    /// Appends a capability of `length` bytes (at least 2) to the list in [0x40, 0x100) and
    /// returns its offset; the ID and next pointer are filled in (PCI 3.0 §6.7).
    @discardableResult
    public func addCapability(id: UInt8, length: Int) -> Int {
        let offset = (nextCapability + 3) & ~3
        precondition(length >= 2 && offset + length <= PCIConfigRegister.extendedStart,
                     "capability 0x\(String(id, radix: 16)) of \(length) bytes does not fit below 0x100")
        store8(offset, id)
        store8(offset + 1, 0)
        store8(lastCapabilityLink, UInt8(offset))
        lastCapabilityLink = offset + 1
        nextCapability = offset + length
        setStatus(.capabilitiesList, true)
        return offset
    }

    /// Appends a PCIe extended capability (header: ID, version, next pointer; PCIe Base 4.0
    /// §7.6.3) of `length` bytes in [0x100, 0x1000) and returns its offset.
    @discardableResult
    public func addExtendedCapability(id: UInt16, version: UInt8, length: Int) -> Int {
        let offset = (nextExtendedCapability + 3) & ~3
        precondition(length >= 4 && offset + length <= PCIConfigSpace.size, "extended capability does not fit")
        store32(offset, UInt32(id) | UInt32(version & 0xf) << 16)
        if let last = lastExtendedCapability {
            store32(last, load32(last) & 0x000f_ffff | UInt32(offset) << 20)
        }
        lastExtendedCapability = offset
        nextExtendedCapability = offset + length
        return offset
    }

    /// The capability list as software walks it: (ID, offset) in list order. Stops at a loop.
    public func capabilities() -> [(id: UInt8, offset: Int)] {
        guard status.contains(.capabilitiesList) else { return [] }
        var result: [(id: UInt8, offset: Int)] = []
        var offset = Int(load8(PCIConfigRegister.capabilitiesPointer) & 0xfc)
        while offset >= PCIConfigRegister.headerEnd && result.count < 48 {
            result.append((load8(offset), offset))
            offset = Int(load8(offset + 1) & 0xfc)
        }
        return result
    }

    /// The offset of the first capability with `id`, if any.
    public func findCapability(_ id: UInt8) -> Int? {
        capabilities().first { $0.id == id }?.offset
    }

    /// The extended capability list: (ID, version, offset) in list order.
    public func extendedCapabilities() -> [(id: UInt16, version: UInt8, offset: Int)] {
        var result: [(id: UInt16, version: UInt8, offset: Int)] = []
        var offset = PCIConfigRegister.extendedStart
        while offset >= PCIConfigRegister.extendedStart && result.count < 960 {
            let header = load32(offset)
            if header == 0 { break }
            result.append((UInt16(truncatingIfNeeded: header), UInt8((header >> 16) & 0xf), offset))
            offset = Int(header >> 20) & 0xffc
        }
        return result
    }

    // MARK: Reset

    /// Records the current registers as the power-on state (the bus calls this once the
    /// function is built).
    public func captureResetState() { resetBytes = bytes }

    /// Restores the power-on registers (a conventional reset, PCIe Base 4.0 §6.6.1).
    public func reset() {
        guard !resetBytes.isEmpty else { return }
        // The multi-function bit describes the slot, not the function's state: keep it.
        let multiFunction = isMultiFunction
        bytes = resetBytes
        isMultiFunction = multiFunction
    }
}

/// Snapshots (docs/snapshots.md): the 4 KiB of register contents. The writable and
/// write-1-to-clear masks, the BAR declarations and the capability layout are the function's
/// construction, the same in the machine a snapshot is loaded into, so they are not saved.
extension PCIConfigSpace {
    public func save(to state: inout DeviceStateWriter) { state.put(bytes) }

    public func restore(from state: inout DeviceStateReader) throws(DeviceStateError) {
        let saved = try state.data()
        guard saved.count == PCIConfigSpace.size else {
            throw .mismatch("configuration space of \(saved.count) bytes, not \(PCIConfigSpace.size)")
        }
        bytes = saved
    }
}

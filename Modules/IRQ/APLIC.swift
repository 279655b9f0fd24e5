import Memory
import Trace

/// One interrupt domain of a RISC-V Advanced Platform-Level Interrupt Controller (RISC-V AIA 1.0
/// §4), laid out as QEMU's `virt` with `aia=aplic-imsic` maps them: the machine-level root domain
/// at 0x0c000000 and a supervisor-level child at 0x0d000000.
///
/// Wired sources enter the root domain; a domain hands a source down to a child by setting the
/// D bit of its `sourcecfg` (§4.5.2), and the source is *active* only in the domain at the end of
/// that chain, in the mode that domain's `sourcecfg` gives. Every domain is an
/// `InterruptController` for the same wires, so a device may hold an `IRQLine` into any domain.
///
/// A domain delivers in one mode, fixed when it is built (as QEMU's `msimode`):
/// - **direct**: an interrupt delivery control (IDC) per hart drives the hart's MEIP or SEIP
///   (§4.8); software claims through `claimi`.
/// - **MSI**: a pending-and-enabled source is forwarded as a 32-bit write of its EIID to the
///   target hart's IMSIC page, whose address comes from the root domain's `mmsiaddrcfg` or
///   `smsiaddrcfg` (§4.5.3–4.5.4, §4.9.1); the write goes through the `AddressSpace`.
///
/// Pending bits follow §4.7 exactly; in particular a level-sensitive source in MSI mode becomes
/// pending again through `setip`/`setipnum`/`setipnum_le` only while its rectified input is high,
/// which Linux 6.10+ relies on to re-raise a still-asserted level interrupt.
public final class APLIC: InterruptController, MMIODevice {
    /// The device's name in traces (its board entry's name, set by its kind).
    public var traceName = "aplic"
    /// Register map (§4.5, table 4.1).
    public enum Layout {
        public static let domainConfiguration: UInt64 = 0x0000
        /// `sourcecfg[i]` at `sourceConfigurationBase + 4 * (i - 1)`, i = 1…1023.
        public static let sourceConfigurationBase: UInt64 = 0x0004
        public static let machineMSIAddress: UInt64 = 0x1BC0
        public static let machineMSIAddressHigh: UInt64 = 0x1BC4
        public static let supervisorMSIAddress: UInt64 = 0x1BC8
        public static let supervisorMSIAddressHigh: UInt64 = 0x1BCC
        public static let setPendingBase: UInt64 = 0x1C00
        public static let setPendingNumber: UInt64 = 0x1CDC
        /// `in_clrip[k]`: reads give rectified inputs, writes clear pending bits.
        public static let clearPendingBase: UInt64 = 0x1D00
        public static let clearPendingNumber: UInt64 = 0x1DDC
        public static let setEnableBase: UInt64 = 0x1E00
        public static let setEnableNumber: UInt64 = 0x1EDC
        public static let clearEnableBase: UInt64 = 0x1F00
        public static let clearEnableNumber: UInt64 = 0x1FDC
        public static let setPendingNumberLittleEndian: UInt64 = 0x2000
        public static let setPendingNumberBigEndian: UInt64 = 0x2004
        public static let generateMSI: UInt64 = 0x3000
        /// `target[i]` at `targetBase + 4 * (i - 1)`.
        public static let targetBase: UInt64 = 0x3004
        /// IDC of hart index h at `interruptDeliveryBase + 32 * h` (direct mode only, §4.8).
        public static let interruptDeliveryBase: UInt64 = 0x4000
        public static let interruptDeliveryStride: UInt64 = 32
        public static let idelivery: UInt64 = 0x00
        public static let iforce: UInt64 = 0x04
        public static let ithreshold: UInt64 = 0x08
        public static let topi: UInt64 = 0x18
        public static let claimi: UInt64 = 0x1C
        public static let maximumSources = 1023
        /// Bytes a domain needs for `harts` IDCs (QEMU's `APLIC_SIZE`, before its 16 KiB rounding).
        public static func regionSize(harts: Int) -> UInt64 { interruptDeliveryBase + interruptDeliveryStride * UInt64(harts) }
    }

    /// How a domain delivers interrupts (`domaincfg.DM`, §4.5.1).
    public enum DeliveryMode: Sendable, Equatable {
        case direct, msi
    }

    /// Source modes (`sourcecfg.SM`, §4.5.2, table 4.2).
    public enum SourceMode: UInt32, Sendable {
        case inactive = 0, detached = 1, edgeRising = 4, edgeFalling = 5, levelHigh = 6, levelLow = 7

        var isLevel: Bool { self == .levelHigh || self == .levelLow }
        /// Whether the rectified input is the inverted wire.
        var isInverted: Bool { self == .edgeFalling || self == .levelLow }
    }

    /// Why a domain cannot be built as configured (a board-file error).
    public enum ConfigurationError: Error, Equatable, CustomStringConvertible {
        case sourceCount(Int)
        case childSourceCount(child: Int, parent: Int)

        public var description: String {
            switch self {
            case .sourceCount(let n): return "APLIC source count \(n) is outside 1...\(Layout.maximumSources)"
            case .childSourceCount(let child, let parent):
                return "APLIC child domain has \(child) sources, more than its parent's \(parent)"
            }
        }
    }

    // Field masks (§4.5.1–4.5.2, §4.5.16–4.5.17, §4.8).
    private enum Field {
        static let domainEnable: UInt32 = 1 << 8
        static let domainMSIMode: UInt32 = 1 << 2
        /// domaincfg bits 31:24 read 0x80, so a big-endian read of the wrong width is recognisable.
        static let domainFixed: UInt32 = 0x80 << 24
        static let delegate: UInt32 = 1 << 10
        static let childIndex: UInt32 = 0x3FF
        static let sourceMode: UInt32 = 7
        static let hartIndexShift: UInt32 = 18
        static let hartIndex: UInt32 = 0x3FFF
        static let guestIndexShift: UInt32 = 12
        static let guestIndex: UInt32 = 0x3F
        static let eiid: UInt32 = 0x7FF
        static let priority: UInt32 = 0xFF
        static let locked: UInt32 = 1 << 31
        /// mmsiaddrcfgh: L, HHXS, LHXS, HHXW, LHXW, High Base PPN.
        static let machineMSIHighWritable: UInt32 = 0x1F << 24 | 7 << 20 | 7 << 16 | 0xF << 12 | 0xFFF
        /// smsiaddrcfgh: LHXS and High Base PPN.
        static let supervisorMSIHighWritable: UInt32 = 7 << 20 | 0xFFF
    }

    public let level: InterruptLevel
    public let deliveryMode: DeliveryMode
    public let sourceCount: Int
    /// The domain whose `sourcecfg` D bits hand sources to this one; nil for the root.
    public private(set) weak var parent: APLIC?
    /// Child domains in `riscv,children` order: a D bit's child index selects one.
    public private(set) var children: [APLIC] = []
    private var indexInParent = 0

    public var implementedSizes: AccessSizes { .word }

    /// Harts by hart index: direct mode drives their pins through the IDCs.
    private let harts: [any HartInterruptInputs]
    /// Where MSI-mode domains write their MSIs (weak: the bus maps this device).
    private weak var bus: AddressSpace?
    private let words: Int

    private var interruptsEnabled = false
    /// `sourcecfg[i]` as written (0 when the source is not delegated to this domain).
    private var sourceConfiguration: [UInt32]
    private var target: [UInt32]
    private var pending: [UInt32]
    private var enabled: [UInt32]
    /// Wire levels, kept by the root domain only.
    private var input: [UInt32]
    // msiaddrcfg registers: the root domain's only (§4.5.3).
    private var machineMSIAddress: UInt32 = 0
    private var machineMSIAddressHigh: UInt32 = 0
    private var supervisorMSIAddress: UInt32 = 0
    private var supervisorMSIAddressHigh: UInt32 = 0
    // IDCs (direct mode).
    private var idelivery: [Bool]
    private var iforce: [Bool]
    private var ithreshold: [UInt32]
    private var output: [Bool]

    /// - Parameters:
    ///   - level: the privilege level the domain interrupts (MEIP/SEIP in direct mode; which
    ///     msiaddrcfg and IMSIC files in MSI mode).
    ///   - sourceCount: `riscv,num-sources` (QEMU virt: 96).
    ///   - harts: the harts by hart index; a direct-mode domain has one IDC for each.
    ///   - bus: where an MSI-mode domain writes its MSIs.
    public init(level: InterruptLevel, deliveryMode: DeliveryMode, sourceCount: Int = 96,
                harts: [any HartInterruptInputs], bus: AddressSpace?) throws(ConfigurationError) {
        guard (1...Layout.maximumSources).contains(sourceCount) else { throw .sourceCount(sourceCount) }
        self.level = level
        self.deliveryMode = deliveryMode
        self.sourceCount = sourceCount
        self.harts = harts
        self.bus = bus
        words = (sourceCount + 1 + 31) / 32
        sourceConfiguration = Array(repeating: 0, count: sourceCount + 1)
        // target[i] resets to hart 0 with priority 1 (a priority of 0 is not allowed, §4.5.16).
        target = Array(repeating: deliveryMode == .direct ? 1 : 0, count: sourceCount + 1)
        pending = Array(repeating: 0, count: words)
        enabled = Array(repeating: 0, count: words)
        input = Array(repeating: 0, count: words)
        let idcs = deliveryMode == .direct ? harts.count : 0
        idelivery = Array(repeating: false, count: idcs)
        iforce = Array(repeating: false, count: idcs)
        ithreshold = Array(repeating: 0, count: idcs)
        output = Array(repeating: false, count: idcs)
        for hart in harts.prefix(idcs) { hart.setInterruptPending(bit: level.externalInterruptBit, false) }
    }

    /// Makes `child` this domain's next child (child index = number of earlier children).
    public func addChild(_ child: APLIC) throws(ConfigurationError) {
        guard child.sourceCount <= sourceCount else { throw .childSourceCount(child: child.sourceCount, parent: sourceCount) }
        child.parent = self
        child.indexInParent = children.count
        children.append(child)
    }

    private var root: APLIC { parent?.root ?? self }

    // MARK: InterruptController

    /// A wire changed: the root records it and the domain where the source is active applies
    /// its source mode (§4.7).
    public func setLevel(source: Int, level high: Bool) {
        let root = self.root
        guard root !== self else { return setInput(source: source, high: high) }
        root.setLevel(source: source, level: high)
    }

    private func setInput(source: Int, high: Bool) {
        guard source >= 1 && source <= sourceCount else { return }
        let word = source >> 5, bit = UInt32(1) << UInt32(source & 31)
        let wasHigh = input[word] & bit != 0
        guard wasHigh != high else { return }
        if Trace.mask & TraceGroup.irq.bit != 0 {
            Trace.emit(.irq, device: traceName, "level", ["source": .number(UInt64(source)), "level": .flag(high)])
        }
        if high { input[word] |= bit } else { input[word] &= ~bit }
        guard let domain = activeDomain(source) else { return }
        domain.inputChanged(source: source)
    }

    /// The domain in which `source` is active, following D bits down from here.
    private func activeDomain(_ source: Int) -> APLIC? {
        guard source <= sourceCount else { return nil }
        let configuration = sourceConfiguration[source]
        if configuration & Field.delegate != 0 {
            let child = Int(configuration & Field.childIndex)
            return child < children.count ? children[child].activeDomain(source) : nil
        }
        return configuration & Field.sourceMode == SourceMode.inactive.rawValue ? nil : self
    }

    /// Whether the parent chain hands `source` to this domain (the root owns every source).
    private func isDelegatedHere(_ source: Int) -> Bool {
        guard source >= 1 && source <= sourceCount else { return false }
        guard let parent else { return true }
        let configuration = parent.sourceConfiguration[source]
        return parent.isDelegatedHere(source) && configuration & Field.delegate != 0
            && Int(configuration & Field.childIndex) == indexInParent
    }

    /// The source's mode here, `.inactive` when it is delegated onward or not handed to us.
    private func mode(_ source: Int) -> SourceMode {
        let configuration = sourceConfiguration[source]
        guard configuration & Field.delegate == 0 else { return .inactive }
        return SourceMode(rawValue: configuration & Field.sourceMode) ?? .inactive
    }

    /// The rectified input (§4.5.2): the wire, inverted for Edge0/Level0, 0 when detached or inactive.
    private func rectifiedInput(_ source: Int) -> Bool {
        let mode = mode(source)
        guard mode != .inactive && mode != .detached else { return false }
        let root = self.root
        let wire = root.input[source >> 5] & (UInt32(1) << UInt32(source & 31)) != 0
        return wire != mode.isInverted
    }

    private func inputChanged(source: Int) {
        let mode = mode(source)
        let rectified = rectifiedInput(source)
        switch mode {
        case .inactive, .detached:
            return
        case .edgeRising, .edgeFalling:
            // Only a low-to-high transition of the rectified input pends (§4.7); setInput only
            // calls us on a change, so rectified high means it just rose.
            if rectified { setPendingBit(source, true) }
        case .levelHigh, .levelLow:
            // Direct mode: pending is the rectified input. MSI mode: set on the rising level,
            // cleared whenever it is low (§4.7).
            setPendingBit(source, rectified)
        }
        update()
    }

    // MARK: Pending bits (§4.7)

    @inline(__always) private func bit(_ bits: [UInt32], _ source: Int) -> Bool {
        bits[source >> 5] & (UInt32(1) << UInt32(source & 31)) != 0
    }

    private func setPendingBit(_ source: Int, _ value: Bool) {
        let mask = UInt32(1) << UInt32(source & 31)
        if value { pending[source >> 5] |= mask } else { pending[source >> 5] &= ~mask }
    }

    private func setEnableBit(_ source: Int, _ value: Bool) {
        let mask = UInt32(1) << UInt32(source & 31)
        if value { enabled[source >> 5] |= mask } else { enabled[source >> 5] &= ~mask }
    }

    /// A write to `setip`, `setipnum`, `setipnum_le` or `setipnum_be` for `source` (§4.7):
    /// detached and edge sources always pend; a level source pends only in MSI mode and only
    /// while its rectified input is high; in direct mode its pending bit is the input itself.
    private func softwareSetPending(_ source: Int) {
        guard source >= 1 && source <= sourceCount else { return }
        switch mode(source) {
        case .inactive: return
        case .detached, .edgeRising, .edgeFalling: setPendingBit(source, true)
        case .levelHigh, .levelLow:
            if deliveryMode == .msi && rectifiedInput(source) { setPendingBit(source, true) }
        }
    }

    /// A write to `in_clrip` or `clripnum` for `source` (§4.7): ignored for a level source in
    /// direct mode, clears the pending bit otherwise.
    private func softwareClearPending(_ source: Int) {
        guard source >= 1 && source <= sourceCount else { return }
        let mode = mode(source)
        if mode == .inactive || (mode.isLevel && deliveryMode == .direct) { return }
        setPendingBit(source, false)
    }

    private func softwareSetEnable(_ source: Int, _ value: Bool) {
        guard source >= 1 && source <= sourceCount, mode(source) != .inactive else { return }
        setEnableBit(source, value)
    }

    // MARK: MMIODevice

    public func read(offset: UInt64, size: Int) -> UInt64 {
        guard offset & 3 == 0 else { return 0 }
        return UInt64(readRegister(offset))
    }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        guard offset & 3 == 0 else { return }
        writeRegister(offset, UInt32(truncatingIfNeeded: value))
        update()
    }

    private func readRegister(_ offset: UInt64) -> UInt32 {
        switch offset {
        case Layout.domainConfiguration:
            return Field.domainFixed | (interruptsEnabled ? Field.domainEnable : 0)
                | (deliveryMode == .msi ? Field.domainMSIMode : 0)
        case Layout.sourceConfigurationBase..<Layout.machineMSIAddress:
            guard let source = sourceIndex(offset, base: Layout.sourceConfigurationBase), isDelegatedHere(source) else { return 0 }
            return sourceConfiguration[source]
        case Layout.machineMSIAddress: return parent == nil ? machineMSIAddress : 0
        case Layout.machineMSIAddressHigh: return parent == nil ? machineMSIAddressHigh : 0
        case Layout.supervisorMSIAddress: return parent == nil ? supervisorMSIAddress : 0
        case Layout.supervisorMSIAddressHigh: return parent == nil ? supervisorMSIAddressHigh : 0
        case Layout.setPendingBase..<Layout.setPendingNumber:
            return activeWord(pending, offset - Layout.setPendingBase)
        case Layout.clearPendingBase..<Layout.clearPendingNumber:
            let word = Int((offset - Layout.clearPendingBase) >> 2)
            guard word < words else { return 0 }
            var value: UInt32 = 0
            for index in 0..<32 where rectifiedInput(word * 32 + index, checked: true) { value |= 1 << UInt32(index) }
            return value
        case Layout.setEnableBase..<Layout.setEnableNumber:
            return activeWord(enabled, offset - Layout.setEnableBase)
        case Layout.targetBase..<Layout.interruptDeliveryBase:
            guard let source = sourceIndex(offset, base: Layout.targetBase), mode(source) != .inactive else { return 0 }
            return target[source]
        case Layout.interruptDeliveryBase...:
            return readIDC(offset)
        default:
            // setipnum, clripnum, setienum, clrienum, clrie, setipnum_le/be read as zero; genmsi's
            // Busy bit is never set because an MSI is written at once.
            return offset == Layout.generateMSI ? lastGeneratedMSI : 0
        }
    }

    /// The target and EIID of the last `genmsi` write (its Busy bit is always clear).
    private var lastGeneratedMSI: UInt32 = 0

    private func writeRegister(_ offset: UInt64, _ value: UInt32) {
        switch offset {
        case Layout.domainConfiguration:
            // Only IE is writable: DM is fixed by the domain's delivery mode and BE is 0 (§4.5.1).
            interruptsEnabled = value & Field.domainEnable != 0
        case Layout.sourceConfigurationBase..<Layout.machineMSIAddress:
            guard let source = sourceIndex(offset, base: Layout.sourceConfigurationBase) else { return }
            writeSourceConfiguration(source, value)
        case Layout.machineMSIAddress...Layout.supervisorMSIAddressHigh:
            writeMSIAddressConfiguration(offset, value)
        case Layout.setPendingBase..<Layout.setPendingNumber:
            apply(.setPending, to: value, word: offset - Layout.setPendingBase)
        case Layout.setPendingNumber, Layout.setPendingNumberLittleEndian:
            softwareSetPending(Int(value))
        case Layout.setPendingNumberBigEndian:
            softwareSetPending(Int(value.byteSwapped))
        case Layout.clearPendingBase..<Layout.clearPendingNumber:
            apply(.clearPending, to: value, word: offset - Layout.clearPendingBase)
        case Layout.clearPendingNumber:
            softwareClearPending(Int(value))
        case Layout.setEnableBase..<Layout.setEnableNumber:
            apply(.setEnable, to: value, word: offset - Layout.setEnableBase)
        case Layout.setEnableNumber:
            softwareSetEnable(Int(value), true)
        case Layout.clearEnableBase..<Layout.clearEnableNumber:
            apply(.clearEnable, to: value, word: offset - Layout.clearEnableBase)
        case Layout.clearEnableNumber:
            softwareSetEnable(Int(value), false)
        case Layout.generateMSI:
            // genmsi exists in MSI mode only (§4.5.17): an extempore MSI of EIID to a hart's file
            // at this domain's level, guest index 0.
            guard deliveryMode == .msi else { return }
            lastGeneratedMSI = value & (Field.hartIndex << Field.hartIndexShift | Field.eiid)
            sendMSI(hartIndex: (value >> Field.hartIndexShift) & Field.hartIndex, guestIndex: 0, eiid: value & Field.eiid)
        case Layout.targetBase..<Layout.interruptDeliveryBase:
            guard let source = sourceIndex(offset, base: Layout.targetBase), mode(source) != .inactive else { return }
            writeTarget(source, value)
        case Layout.interruptDeliveryBase...:
            writeIDC(offset, value)
        default:
            break
        }
    }

    /// `sourcecfg[i]` (§4.5.2). Read-only zero unless the source is handed to this domain; the D
    /// bit is read-only zero in a domain without children; reserved modes 2 and 3 read back as
    /// inactive. A source that stops being active here loses its pending and enable bits.
    private func writeSourceConfiguration(_ source: Int, _ value: UInt32) {
        guard isDelegatedHere(source) else { return }
        let newValue: UInt32
        if value & Field.delegate != 0 && !children.isEmpty {
            newValue = value & (Field.delegate | Field.childIndex)
        } else {
            let mode = value & Field.sourceMode
            newValue = mode == 2 || mode == 3 ? 0 : mode
        }
        let old = sourceConfiguration[source]
        sourceConfiguration[source] = newValue
        if old != newValue {
            // Whatever the children held for this source is no longer theirs.
            for child in children { child.forget(source) }
        }
        let mode = mode(source)
        if mode == .inactive {
            setPendingBit(source, false)
            setEnableBit(source, false)
        } else if mode.isLevel {
            // §4.5.2: a write may set the pending bit when the rectified input is high under
            // the new mode; for a level source it must here, or an input already high when
            // software configures the source would never interrupt in MSI mode. A low level
            // clears it (§4.7).
            setPendingBit(source, rectifiedInput(source))
        }
    }

    /// The parent stopped delegating `source` here: it reads as inactive again, everywhere below.
    private func forget(_ source: Int) {
        guard source <= sourceCount else { return }
        sourceConfiguration[source] = 0
        target[source] = deliveryMode == .direct ? 1 : 0
        setPendingBit(source, false)
        setEnableBit(source, false)
        for child in children { child.forget(source) }
        update()
    }

    /// `target[i]` (§4.5.16): in direct mode hart index and a priority of 1…255 (0 becomes 1);
    /// in MSI mode hart index, guest index (read-only zero: there are no guest files) and EIID.
    private func writeTarget(_ source: Int, _ value: UInt32) {
        var hart = (value >> Field.hartIndexShift) & Field.hartIndex
        switch deliveryMode {
        case .direct:
            if Int(hart) >= harts.count { hart = 0 } // WARL: only existing IDCs
            let priority = value & Field.priority
            target[source] = hart << Field.hartIndexShift | (priority == 0 ? 1 : priority)
        case .msi:
            target[source] = hart << Field.hartIndexShift | value & Field.eiid
        }
    }

    /// msiaddrcfg registers (§4.5.3–4.5.4): in the root domain only, read-only once L is set.
    private func writeMSIAddressConfiguration(_ offset: UInt64, _ value: UInt32) {
        guard parent == nil, machineMSIAddressHigh & Field.locked == 0 else { return }
        switch offset {
        case Layout.machineMSIAddress: machineMSIAddress = value
        case Layout.machineMSIAddressHigh: machineMSIAddressHigh = value & (Field.locked | Field.machineMSIHighWritable)
        case Layout.supervisorMSIAddress: supervisorMSIAddress = value
        case Layout.supervisorMSIAddressHigh: supervisorMSIAddressHigh = value & Field.supervisorMSIHighWritable
        default: break
        }
    }

    // MARK: MSI delivery (§4.9)

    /// The IMSIC page address of hart `hartIndex`, guest `guestIndex`, for this domain's level
    /// (§4.5.4): `(Base PPN | g << (HHXS + 12) | h << LHXS | guest) << 12`, with
    /// g = hart index bits above LHXW (HHXW of them) and h = the low LHXW bits.
    public func msiAddress(hartIndex: UInt32, guestIndex: UInt32) -> UInt64 {
        let root = self.root
        let high = UInt64(root.machineMSIAddressHigh)
        let lowHartWidth = (high >> 12) & 0xF
        let highHartWidth = (high >> 16) & 7
        let highHartShift = (high >> 24) & 0x1F
        let basePage: UInt64, lowHartShift: UInt64
        switch level {
        case .machine:
            basePage = (high & 0xFFF) << 32 | UInt64(root.machineMSIAddress)
            lowHartShift = (high >> 20) & 7
        case .supervisor:
            let supervisorHigh = UInt64(root.supervisorMSIAddressHigh)
            basePage = (supervisorHigh & 0xFFF) << 32 | UInt64(root.supervisorMSIAddress)
            lowHartShift = (supervisorHigh >> 20) & 7
        }
        let index = UInt64(hartIndex)
        let group = (index >> lowHartWidth) & ((1 << highHartWidth) - 1)
        let hart = index & ((1 << lowHartWidth) - 1)
        let guest = level == .supervisor ? UInt64(guestIndex) : 0
        return (basePage | group << (highHartShift + 12) | hart << lowHartShift | guest) << 12
    }

    private func sendMSI(hartIndex: UInt32, guestIndex: UInt32, eiid: UInt32) {
        bus?.write(msiAddress(hartIndex: hartIndex, guestIndex: guestIndex), size: 4, value: UInt64(eiid))
    }

    /// MSI mode: forwards every pending-and-enabled active source and clears its pending bit
    /// (§4.9.2). Direct mode: re-evaluates every IDC's output (§4.8.1).
    private func update() {
        switch deliveryMode {
        case .msi:
            guard interruptsEnabled else { return }
            for word in 0..<words {
                var ready = pending[word] & enabled[word]
                while ready != 0 {
                    let source = word * 32 + ready.trailingZeroBitCount
                    ready &= ready &- 1
                    guard mode(source) != .inactive else { continue }
                    setPendingBit(source, false)
                    let value = target[source]
                    sendMSI(hartIndex: (value >> Field.hartIndexShift) & Field.hartIndex,
                            guestIndex: (value >> Field.guestIndexShift) & Field.guestIndex, eiid: value & Field.eiid)
                }
            }
        case .direct:
            for index in 0..<output.count {
                let asserted = interruptsEnabled && idelivery[index] && (iforce[index] || topInterrupt(hart: index) != 0)
                guard asserted != output[index] else { continue }
                output[index] = asserted
                harts[index].setInterruptPending(bit: level.externalInterruptBit, asserted)
            }
        }
    }

    // MARK: Interrupt delivery controls (direct mode, §4.8)

    /// `topi` of hart `index` (§4.8.1.4): `source << 16 | priority` of the pending, enabled source
    /// targeting it with the lowest priority number (ties: lowest source) under a non-zero
    /// `ithreshold`, or 0.
    public func topInterrupt(hart index: Int) -> UInt32 {
        guard index < output.count else { return 0 }
        var best = 0
        var bestPriority = UInt32.max
        for word in 0..<words {
            var candidates = pending[word] & enabled[word]
            while candidates != 0 {
                let source = word * 32 + candidates.trailingZeroBitCount
                candidates &= candidates &- 1
                let value = target[source]
                guard Int((value >> Field.hartIndexShift) & Field.hartIndex) == index, mode(source) != .inactive else { continue }
                let priority = value & Field.priority
                if priority < bestPriority {
                    best = source
                    bestPriority = priority
                }
            }
        }
        guard best != 0 else { return 0 }
        let threshold = ithreshold[index]
        guard threshold == 0 || bestPriority < threshold else { return 0 }
        return UInt32(best) << 16 | bestPriority
    }

    private func idc(_ offset: UInt64) -> (hart: Int, register: UInt64)? {
        let relative = offset - Layout.interruptDeliveryBase
        let index = Int(relative / Layout.interruptDeliveryStride)
        guard index < output.count else { return nil }
        return (index, relative % Layout.interruptDeliveryStride)
    }

    private func readIDC(_ offset: UInt64) -> UInt32 {
        guard let (hart, register) = idc(offset) else { return 0 }
        switch register {
        case Layout.idelivery: return idelivery[hart] ? 1 : 0
        case Layout.iforce: return iforce[hart] ? 1 : 0
        case Layout.ithreshold: return ithreshold[hart]
        case Layout.topi: return topInterrupt(hart: hart)
        case Layout.claimi:
            let top = claim(hart: hart)
            update()
            return top
        default: return 0
        }
    }

    /// `claimi` (§4.8.1.5): returns `topi` and clears the pending bit of the source it names
    /// (a level source's bit follows its input in direct mode, so it stays); with nothing to
    /// report, clears `iforce`.
    private func claim(hart: Int) -> UInt32 {
        let top = topInterrupt(hart: hart)
        guard top != 0 else {
            iforce[hart] = false
            return 0
        }
        let source = Int(top >> 16)
        if !mode(source).isLevel { setPendingBit(source, false) }
        return top
    }

    private func writeIDC(_ offset: UInt64, _ value: UInt32) {
        guard let (hart, register) = idc(offset) else { return }
        switch register {
        case Layout.idelivery: idelivery[hart] = value & 1 != 0
        case Layout.iforce: iforce[hart] = value & 1 != 0
        case Layout.ithreshold: ithreshold[hart] = value & Field.priority
        default: break
        }
    }

    // MARK: Decoding helpers

    /// Source i of a register array with one 32-bit register per source starting at source 1.
    private func sourceIndex(_ offset: UInt64, base: UInt64) -> Int? {
        let source = Int((offset - base) >> 2) + 1
        return source <= sourceCount ? source : nil
    }

    /// A word of a bit array as software sees it: bits of sources not active here read as zero.
    private func activeWord(_ bits: [UInt32], _ offset: UInt64) -> UInt32 {
        let word = Int(offset >> 2)
        guard word < words else { return 0 }
        var value = bits[word]
        var remaining = value
        while remaining != 0 {
            let index = remaining.trailingZeroBitCount
            remaining &= remaining &- 1
            if mode(word * 32 + index) == .inactive { value &= ~(1 << UInt32(index)) }
        }
        return value
    }

    private func rectifiedInput(_ source: Int, checked: Bool) -> Bool {
        source >= 1 && source <= sourceCount && rectifiedInput(source)
    }

    private enum BitAction { case setPending, clearPending, setEnable, clearEnable }

    /// Applies a write of `value` to word `offset / 4` of `setip`, `in_clrip`, `setie` or `clrie`.
    private func apply(_ action: BitAction, to value: UInt32, word offset: UInt64) {
        var remaining = value
        let base = Int(offset >> 2) * 32
        while remaining != 0 {
            let source = base + remaining.trailingZeroBitCount
            remaining &= remaining &- 1
            switch action {
            case .setPending: softwareSetPending(source)
            case .clearPending: softwareClearPending(source)
            case .setEnable: softwareSetEnable(source, true)
            case .clearEnable: softwareSetEnable(source, false)
            }
        }
    }

    // MARK: Inspection (tests, monitor)

    /// Whether `source`'s pending bit is set in this domain.
    public func isPending(source: Int) -> Bool {
        source >= 1 && source <= sourceCount && bit(pending, source)
    }
}

/// A machine reset (AIA 1.0 §4.5: every writable register resets to zero unless its section
/// says otherwise; §4.5.1 `domaincfg` IE = 0; §4.5.2 every source inactive; §4.5.16 `target`
/// back to hart 0 priority 1 in direct mode; §4.8.1 IDCs with delivery off, no forced interrupt,
/// threshold 0). The wires into the root keep their levels; the domain tree is the board's.
extension APLIC: DeviceLifecycle {
    public func reset() {
        interruptsEnabled = false
        for index in sourceConfiguration.indices {
            sourceConfiguration[index] = 0
            target[index] = deliveryMode == .direct ? 1 : 0
        }
        for word in 0..<words {
            pending[word] = 0
            enabled[word] = 0
        }
        machineMSIAddress = 0
        machineMSIAddressHigh = 0
        supervisorMSIAddress = 0
        supervisorMSIAddressHigh = 0
        lastGeneratedMSI = 0
        for index in idelivery.indices {
            idelivery[index] = false
            iforce[index] = false
            ithreshold[index] = 0
            if output[index] {
                output[index] = false
                harts[index].setInterruptPending(bit: level.externalInterruptBit, false)
            }
        }
    }
}

/// Snapshots (docs/snapshots.md): every register of the domain (AIA 1.0 §4.5) and, in the root,
/// the wire levels; the domain tree itself is the board's. A direct-mode restore drives every
/// IDC's pin to the level the restored registers give; an MSI-mode domain has nothing pending
/// and enabled at a save (it forwards such a source at once), so it sends nothing on restore.
extension APLIC {
    public func save(to state: inout DeviceStateWriter) {
        state.put(interruptsEnabled)
        state.put(words: sourceConfiguration)
        state.put(words: target)
        state.put(words: pending)
        state.put(words: enabled)
        state.put(words: input)
        state.put(machineMSIAddress)
        state.put(machineMSIAddressHigh)
        state.put(supervisorMSIAddress)
        state.put(supervisorMSIAddressHigh)
        state.put(lastGeneratedMSI)
        state.put(flags: idelivery)
        state.put(flags: iforce)
        state.put(words: ithreshold)
    }

    public func restore(from state: inout DeviceStateReader) throws(DeviceStateError) {
        let enabledDomain = try state.bool()
        let sourceConfiguration = try state.words32(count: sourceCount + 1, "APLIC sourcecfg")
        let target = try state.words32(count: sourceCount + 1, "APLIC target")
        let pending = try state.words32(count: words, "APLIC pending words")
        let enabled = try state.words32(count: words, "APLIC enable words")
        let input = try state.words32(count: words, "APLIC input words")
        let machineAddress = try state.uint32(), machineAddressHigh = try state.uint32()
        let supervisorAddress = try state.uint32(), supervisorAddressHigh = try state.uint32()
        let generated = try state.uint32()
        let idelivery = try state.flags(count: output.count, "APLIC IDCs")
        let iforce = try state.flags(count: output.count, "APLIC IDCs")
        let ithreshold = try state.words32(count: output.count, "APLIC IDCs")
        interruptsEnabled = enabledDomain
        self.sourceConfiguration = sourceConfiguration
        self.target = target
        self.pending = pending
        self.enabled = enabled
        self.input = input
        machineMSIAddress = machineAddress
        machineMSIAddressHigh = machineAddressHigh
        supervisorMSIAddress = supervisorAddress
        supervisorMSIAddressHigh = supervisorAddressHigh
        lastGeneratedMSI = generated
        self.idelivery = idelivery
        self.iforce = iforce
        self.ithreshold = ithreshold
        for index in output.indices {
            output[index] = interruptsEnabled && idelivery[index] && (iforce[index] || topInterrupt(hart: index) != 0)
            harts[index].setInterruptPending(bit: level.externalInterruptBit, output[index])
        }
    }
}

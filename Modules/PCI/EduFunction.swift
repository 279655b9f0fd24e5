import Memory
/// QEMU's `edu` teaching device (QEMU docs/specs/edu.rst) as a PCI function: an ID register, a
/// liveness check, a factorial unit, an interrupt raise/acknowledge pair and a DMA engine with a
/// 4 KiB buffer. It interrupts through MSI-X (one vector, table in BAR 1) when software enabled
/// it, through INTA otherwise. `docs/pci.md` walks through it as the example function.
///
/// Differences from QEMU's: work completes synchronously (the computing and DMA-busy bits are
/// never seen set); MSI-X instead of MSI; a DMA the bus refuses sets command bit 3.
public final class EduFunction: PCIFunction {
    /// PCI IDs QEMU gives the device.
    public static let identity = PCIIdentity(vendorID: 0x1234, deviceID: 0x11e8, revision: 0x10, classCode: 0x00ff00,
                                             subsystemVendorID: 0x1af4, subsystemID: 0x1100)

    /// Registers of BAR 0 (edu.rst "MMIO area spec").
    public enum Register {
        /// Read-only 0xRRrr00ed: major.minor version 1.0.
        public static let identification: UInt64 = 0x00
        /// Reads back the bitwise inverse of what was written.
        public static let liveness: UInt64 = 0x04
        /// Write n: reads back n! (32 bits, wrapping).
        public static let factorial: UInt64 = 0x08
        /// Bit 0: computing (read-only); bit 7: interrupt when a factorial is done.
        public static let status: UInt64 = 0x20
        /// Read-only: the values that raised the interrupt, ORed.
        public static let interruptStatus: UInt64 = 0x24
        /// Write: OR the value into the interrupt status and interrupt.
        public static let interruptRaise: UInt64 = 0x60
        /// Write: clear those bits; the interrupt ends when none are left.
        public static let interruptAcknowledge: UInt64 = 0x64
        public static let dmaSource: UInt64 = 0x80
        public static let dmaDestination: UInt64 = 0x88
        public static let dmaCount: UInt64 = 0x90
        /// Bit 0 start, bit 1 direction (0: RAM to device, 1: device to RAM), bit 2 interrupt
        /// 0x100 when done, bit 3 (ours): the last transfer failed.
        public static let dmaCommand: UInt64 = 0x98
    }

    public enum StatusBit {
        public static let computing: UInt32 = 0x01
        public static let interruptOnFactorial: UInt32 = 0x80
    }

    public enum DMACommand {
        public static let start: UInt64 = 0x1
        public static let toRAM: UInt64 = 0x2
        public static let interrupt: UInt64 = 0x4
        public static let failed: UInt64 = 0x8
    }

    /// Interrupt status values the device raises itself.
    public enum InterruptCause {
        public static let factorial: UInt32 = 0x001
        public static let dma: UInt32 = 0x100
    }

    /// Device addresses of the DMA buffer: [0x40000, 0x41000).
    public static let dmaBufferBase: UInt64 = 0x40000
    public static let dmaBufferSize = 4096

    /// BAR 0: registers and DMA buffer; BAR 1: MSI-X table (0x0) and PBA (0x800).
    ///
    /// BAR 0 takes every width: the DMA buffer is byte memory, so a byte store must reach the
    /// one byte (declared `.word` the bus would widen it with zeros over its neighbours). The
    /// registers serve 4- and 8-byte accesses only, as QEMU's edu (`edu_mmio_ops.valid`: 4...8);
    /// narrower ones read 0 and are ignored.
    public static let bars: [PCIBAR] = [
        .memory32(size: 1 << 20, accessSizes: .all),
        .memory32(size: 0x1000, accessSizes: [.word, .doubleword]),
    ]

    public let bus: PCIBusInterface
    public var config: PCIConfigSpace { bus.config }
    public let msix: MSIXCapability

    private var liveness: UInt32 = 0
    private var factorial: UInt32 = 0
    private var status: UInt32 = 0
    private var interruptStatus: UInt32 = 0
    private var dmaSource: UInt64 = 0
    private var dmaDestination: UInt64 = 0
    private var dmaCount: UInt64 = 0
    private var dmaCommand: UInt64 = 0
    private var buffer = [UInt8](repeating: 0, count: EduFunction.dmaBufferSize)

    public init(bus: PCIBusInterface) {
        self.bus = bus
        let config = bus.config
        config.setIdentity(EduFunction.identity)
        config.declareBAR(0, EduFunction.bars[0])
        config.declareBAR(1, EduFunction.bars[1])
        config.interruptPin = .intA
        config.addPCIExpressCapability(portType: .rootComplexIntegratedEndpoint)
        msix = MSIXCapability(bus: bus, vectors: 1, tableBAR: 1, tableOffset: 0, pbaBAR: 1, pbaOffset: 0x800)
    }

    public func reset() {
        liveness = 0; factorial = 0; status = 0; interruptStatus = 0
        dmaSource = 0; dmaDestination = 0; dmaCount = 0; dmaCommand = 0
        buffer = [UInt8](repeating: 0, count: EduFunction.dmaBufferSize)
        msix.reset()
    }

    // MARK: BARs

    public func readBAR(_ bar: Int, offset: UInt64, size: Int) -> UInt64 {
        if let value = msix.readBAR(bar, offset: offset, size: size) { return value }
        guard bar == 0 else { return 0 }
        if let index = bufferIndex(offset, size) {
            return (0..<size).reduce(0) { $0 | UInt64(buffer[index + $1]) << UInt64(8 * $1) }
        }
        guard size >= 4 else { return 0 }
        switch offset {
        case Register.identification: return 0x0100_00ed
        case Register.liveness: return UInt64(~liveness)
        case Register.factorial: return UInt64(factorial)
        case Register.status: return UInt64(status)
        case Register.interruptStatus: return UInt64(interruptStatus)
        case Register.dmaSource: return dmaSource
        case Register.dmaDestination: return dmaDestination
        case Register.dmaCount: return dmaCount
        case Register.dmaCommand: return dmaCommand
        default: return 0
        }
    }

    public func writeBAR(_ bar: Int, offset: UInt64, size: Int, value: UInt64) {
        if msix.writeBAR(bar, offset: offset, size: size, value: value) { return }
        guard bar == 0 else { return }
        if let index = bufferIndex(offset, size) {
            for byte in 0..<size { buffer[index + byte] = UInt8(truncatingIfNeeded: value >> UInt64(8 * byte)) }
            return
        }
        guard size >= 4 else { return }
        let word = UInt32(truncatingIfNeeded: value)
        switch offset {
        case Register.liveness: liveness = word
        case Register.factorial:
            // 34! has 32 factors of two, so from 34 on the 32-bit result is 0: no need to loop
            // up to four billion times for a large guest value.
            factorial = word >= 34 ? 0 : (1...max(1, word)).reduce(UInt32(1)) { $0 &* $1 }
            if status & StatusBit.interruptOnFactorial != 0 { raise(InterruptCause.factorial) }
        case Register.status:
            status = word & StatusBit.interruptOnFactorial
        case Register.interruptRaise: raise(word)
        case Register.interruptAcknowledge:
            interruptStatus &= ~word
            updateINTx()
        case Register.dmaSource: dmaSource = value
        case Register.dmaDestination: dmaDestination = value
        case Register.dmaCount: dmaCount = value
        case Register.dmaCommand:
            dmaCommand = value & (DMACommand.start | DMACommand.toRAM | DMACommand.interrupt)
            if dmaCommand & DMACommand.start != 0 { runDMA() }
        default: break
        }
    }

    private func bufferIndex(_ offset: UInt64, _ size: Int) -> Int? {
        // `offset` may be any guest value (a DMA address): compare without overflowing.
        guard offset >= EduFunction.dmaBufferBase, offset - EduFunction.dmaBufferBase <= UInt64(EduFunction.dmaBufferSize - size) else { return nil }
        return Int(offset - EduFunction.dmaBufferBase)
    }

    // MARK: DMA and interrupts

    private func runDMA() {
        let toRAM = dmaCommand & DMACommand.toRAM != 0
        let device = toRAM ? dmaSource : dmaDestination
        let ram = toRAM ? dmaDestination : dmaSource
        var ok = false
        // The transfer must stay inside the buffer; otherwise it is refused as a whole.
        if let start = bufferIndex(device, 1), dmaCount <= UInt64(EduFunction.dmaBufferSize - start) {
            let count = Int(dmaCount)
            if toRAM {
                ok = buffer.withUnsafeBytes { bytes in
                    (try? bus.dmaWrite(ram, from: UnsafeRawBufferPointer(rebasing: bytes[start..<(start + count)])).get()) != nil
                }
            } else {
                ok = buffer.withUnsafeMutableBytes { bytes in
                    (try? bus.dmaRead(ram, into: UnsafeMutableRawBufferPointer(rebasing: bytes[start..<(start + count)])).get()) != nil
                }
            }
        }
        let wantsInterrupt = dmaCommand & DMACommand.interrupt != 0
        dmaCommand = ok ? dmaCommand & ~DMACommand.start : (dmaCommand & ~DMACommand.start) | DMACommand.failed
        if wantsInterrupt { raise(InterruptCause.dma) }
    }

    private func raise(_ cause: UInt32) {
        interruptStatus |= cause
        if msix.isEnabled {
            msix.notify(vector: 0)
        } else {
            updateINTx()
        }
    }

    private func updateINTx() {
        bus.setINTx(!msix.isEnabled && interruptStatus != 0)
    }
}

/// Snapshots (docs/snapshots.md): every register, the DMA buffer and the MSI-X table; the
/// configuration space and INTx level are the bridge's to save.
extension EduFunction: PCIFunctionSnapshot {
    public func saveFunction(to state: inout DeviceStateWriter) {
        state.put(liveness)
        state.put(factorial)
        state.put(status)
        state.put(interruptStatus)
        state.put(dmaSource)
        state.put(dmaDestination)
        state.put(dmaCount)
        state.put(dmaCommand)
        state.put(buffer)
        msix.save(to: &state)
    }

    public func restoreFunction(from state: inout DeviceStateReader) throws(DeviceStateError) {
        let registers = (try state.uint32(), try state.uint32(), try state.uint32(), try state.uint32())
        let dma = (try state.uint64(), try state.uint64(), try state.uint64(), try state.uint64())
        let buffer = try state.data()
        guard buffer.count == EduFunction.dmaBufferSize else { throw .mismatch("edu DMA buffer of \(buffer.count) bytes") }
        try msix.restore(from: &state)
        (liveness, factorial, status, interruptStatus) = registers
        (dmaSource, dmaDestination, dmaCount, dmaCommand) = dma
        self.buffer = buffer
    }
}

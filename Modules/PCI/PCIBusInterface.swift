import IRQ
import Memory
import Trace

/// Why a bus-master transfer failed. The function reports it the way its hardware does (an
/// error status, an interrupt); the host never crashes.
public enum PCIDMAError: Error, Equatable, CustomStringConvertible {
    /// Bus Master Enable is clear in the command register: the function may not issue requests.
    case busMasterDisabled(address: UInt64, length: Int)
    /// Nothing answered at the address (a master abort, PCI 3.0 §3.3.3.1); the function's
    /// Received Master Abort status bit is now set.
    case masterAbort(address: UInt64, length: Int)

    public var description: String {
        switch self {
        case let .busMasterDisabled(address, length):
            return "DMA of \(length) bytes at 0x\(String(address, radix: 16)) refused: bus mastering is disabled"
        case let .masterAbort(address, length):
            return "DMA of \(length) bytes at 0x\(String(address, radix: 16)) got a master abort: no RAM there"
        }
    }
}

/// Wire-ORs the INTx outputs of the functions on a host bridge onto its four interrupt lines
/// (INTA…INTD after the swizzle), since several functions share each line (PCI 3.0 §2.2.6).
public final class PCIINTxRouter {
    private let lines: [IRQLine]
    private var asserted: [Int]

    /// `lines` are the controller inputs for INTA, INTB, INTC and INTD of slot 0; an empty
    /// array means INTx is not wired.
    public init(lines: [IRQLine]) {
        precondition(lines.isEmpty || lines.count == 4, "INTx needs 4 lines, got \(lines.count)")
        self.lines = lines
        asserted = [Int](repeating: 0, count: 4)
    }

    /// The host line (0 = INTA of slot 0) that `pin` of `device` reaches: the standard swizzle
    /// (PCI-to-PCI Bridge 1.2 §9.1; the device-tree `interrupt-map` says the same).
    public static func line(device: UInt8, pin: PCIInterruptPin) -> Int {
        (Int(device) + Int(pin.rawValue) - 1) % 4
    }

    /// One more (or one less) function asserts `line`.
    func change(line: Int, asserted up: Bool) {
        guard !lines.isEmpty else { return }
        let before = asserted[line]
        asserted[line] += up ? 1 : -1
        if (before == 0) != (asserted[line] == 0) { lines[line].set(asserted[line] != 0) }
    }
}

/// A function's interface to the bus it sits on: its configuration space, bus-master DMA,
/// message-signalled interrupts (memory writes) and its INTx pin. It is all a device model
/// sees of the machine.
public final class PCIBusInterface {
    public let address: PCIAddress
    public let config: PCIConfigSpace
    private unowned let memory: AddressSpace
    private let intx: PCIINTxRouter?
    /// The function's own INTx level, before Interrupt Disable.
    private var intxLevel = false
    /// What the router was last told for this function.
    private var intxDriven = false
    private var drivenLine = 0

    /// - Parameters:
    ///   - memory: the address space bus-master requests reach (guest RAM and, for MSI, any
    ///     device such as an interrupt controller's message window).
    ///   - intx: where INTx goes; nil when the function's interrupt pins are not wired.
    public init(address: PCIAddress, config: PCIConfigSpace, memory: AddressSpace, intx: PCIINTxRouter? = nil) {
        self.address = address
        self.name = "\(address)"
        self.config = config
        self.memory = memory
        self.intx = intx
    }

    /// The function's name in traces (the board entry's name; its address until the machine
    /// names it).
    public var name: String

    // MARK: Bus-master DMA

    private func traceDMA(_ direction: String, _ address: UInt64, _ length: Int, _ result: String) {
        Trace.emit(.dma, device: name, direction, ["address": .hex(address), "length": .number(UInt64(length)), "result": .text(result)])
    }

    /// Reads guest memory at bus address `address` into `buffer`.
    public func dmaRead(_ address: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Result<Void, PCIDMAError> {
        let traced = Trace.mask & TraceGroup.dma.bit != 0
        guard config.command.contains(.busMaster) else {
            if traced { traceDMA("read", address, buffer.count, "bus-master-disabled") }
            return .failure(.busMasterDisabled(address: address, length: buffer.count))
        }
        if case .failure = DMAAccessor(memory).read(address, into: buffer) {
            config.setStatus(.receivedMasterAbort, true)
            if traced { traceDMA("read", address, buffer.count, "master-abort") }
            return .failure(.masterAbort(address: address, length: buffer.count))
        }
        if traced { traceDMA("read", address, buffer.count, "ok") }
        return .success(())
    }

    /// Writes `bytes` to guest memory at bus address `address`.
    public func dmaWrite(_ address: UInt64, from bytes: UnsafeRawBufferPointer) -> Result<Void, PCIDMAError> {
        let traced = Trace.mask & TraceGroup.dma.bit != 0
        guard config.command.contains(.busMaster) else {
            if traced { traceDMA("write", address, bytes.count, "bus-master-disabled") }
            return .failure(.busMasterDisabled(address: address, length: bytes.count))
        }
        if case .failure = DMAAccessor(memory).write(address, from: bytes) {
            config.setStatus(.receivedMasterAbort, true)
            if traced { traceDMA("write", address, bytes.count, "master-abort") }
            return .failure(.masterAbort(address: address, length: bytes.count))
        }
        if traced { traceDMA("write", address, bytes.count, "ok") }
        return .success(())
    }

    /// Reads `count` bytes into a new array.
    public func dmaRead(_ address: UInt64, count: Int) -> Result<[UInt8], PCIDMAError> {
        var bytes = [UInt8](repeating: 0, count: count)
        let result = bytes.withUnsafeMutableBytes { dmaRead(address, into: $0) }
        return result.map { bytes }
    }

    /// Writes an array of bytes.
    public func dmaWrite(_ address: UInt64, bytes: [UInt8]) -> Result<Void, PCIDMAError> {
        bytes.withUnsafeBytes { dmaWrite(address, from: $0) }
    }

    // MARK: Interrupts

    /// Sends a message-signalled interrupt: a 32-bit memory write of `data` at `address`
    /// (PCI 3.0 §6.8). Whatever is mapped there receives it (an IMSIC on an AIA board, RAM
    /// otherwise). Dropped while bus mastering is disabled, which also disables MSI (PCI 3.0
    /// §6.2.2 bit 2). Returns whether the write was issued and something answered.
    @discardableResult
    public func sendMessage(address: UInt64, data: UInt32) -> Bool {
        guard config.command.contains(.busMaster) else {
            if Trace.mask & TraceGroup.irq.bit != 0 {
                Trace.emit(.irq, device: name, "msi-dropped", ["address": .hex(address), "data": .hex(UInt64(data)), "reason": .text("bus-master-disabled")])
            }
            return false
        }
        // Traced before the write, so the receiver's events follow the sender's in the trace.
        let traced = Trace.mask & TraceGroup.irq.bit != 0
        if traced { Trace.emit(.irq, device: name, "msi", ["address": .hex(address), "data": .hex(UInt64(data))]) }
        let answered = memory.write(address, size: 4, value: UInt64(data))
        if traced && !answered {
            Trace.emit(.irq, device: name, "msi-unanswered", ["address": .hex(address), "data": .hex(UInt64(data))])
        }
        return answered
    }

    /// Drives the function's INTx pin (declared with `config.interruptPin`). The Interrupt
    /// Status bit follows the level; the line reaches the controller unless Interrupt Disable
    /// is set (PCI 3.0 §6.2.2, §6.2.3).
    public func setINTx(_ level: Bool) {
        intxLevel = level
        config.setStatus(.interruptStatus, level)
        updateINTx()
    }

    /// Re-evaluates the INTx output after the command register changed.
    public func commandChanged() { updateINTx() }

    // MARK: BAR mappings

    /// Set by the host bridge the function is attached to.
    var remapBARsHandler: (() -> Void)?

    /// Maps the function's BARs again, asking `memoryBacking` and `directWindows` anew: for a
    /// function whose direct windows change while the BARs stay where they are (a VFIO function
    /// trapping its BARs while an INTx waits for the guest's end of interrupt).
    public func remapBARs() { remapBARsHandler?() }

    private func updateINTx() {
        let drive = intxLevel && !config.command.contains(.interruptDisable) && config.interruptPin != nil
        guard drive != intxDriven, let intx else { return }
        if drive { drivenLine = PCIINTxRouter.line(device: address.device, pin: config.interruptPin!) }
        intx.change(line: drivenLine, asserted: drive)
        intxDriven = drive
        if Trace.mask & TraceGroup.irq.bit != 0 {
            Trace.emit(.irq, device: name, "intx", ["line": .number(UInt64(drivenLine)), "level": .flag(drive)])
        }
    }
}

/// Snapshots (docs/snapshots.md): the function's own INTx level. The restore drives it again
/// (after the configuration space, whose command register gates it, is back), so the shared
/// INTx lines count this function again.
extension PCIBusInterface {
    public func save(to state: inout DeviceStateWriter) { state.put(intxLevel) }

    public func restore(from state: inout DeviceStateReader) throws(DeviceStateError) {
        setINTx(try state.bool())
    }
}

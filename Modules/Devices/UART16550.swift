import IRQ
import Memory

/// An NS16550A UART (TI PC16550D datasheet, "Register Description", Table 2), as QEMU's `virt`
/// board exposes it (`hw/char/serial.c`).
///
/// Transmission is instantaneous: a byte written to THR reaches the backend at once, so THR
/// and the transmitter are always empty again by the next access. Received bytes are pulled
/// from the backend by `poll()` only while the receive FIFO has room, so fast input is held
/// back rather than dropped. Registers are `regShift` apart (0 on QEMU virt: byte-spaced).
public final class UART16550: MMIODevice {
    /// Register indices (offset >> regShift).
    enum Register {
        static let data = 0            // RBR (read) / THR (write); DLL when LCR.DLAB
        static let interruptEnable = 1 // IER; DLM when LCR.DLAB
        static let interruptID = 2     // IIR (read) / FCR (write)
        static let lineControl = 3     // LCR
        static let modemControl = 4    // MCR
        static let lineStatus = 5      // LSR
        static let modemStatus = 6     // MSR
        static let scratch = 7         // SCR
    }

    /// IER bits (datasheet §8.6.3): only the low four are implemented.
    enum InterruptEnable {
        static let receivedData: UInt8 = 0x01     // ERBFI
        static let transmitterEmpty: UInt8 = 0x02 // ETBEI
        static let lineStatus: UInt8 = 0x04       // ELSI
        static let modemStatus: UInt8 = 0x08      // EDSSI
        static let writable: UInt8 = 0x0f
    }

    /// IIR values (datasheet Table 4), highest priority first.
    enum InterruptID {
        static let none: UInt8 = 0x01
        static let lineStatus: UInt8 = 0x06
        static let receivedData: UInt8 = 0x04
        static let characterTimeout: UInt8 = 0x0c
        static let transmitterEmpty: UInt8 = 0x02
        static let modemStatus: UInt8 = 0x00
        static let idMask: UInt8 = 0x0f
        /// Bits 7:6 read 11 while the FIFOs are enabled.
        static let fifosEnabled: UInt8 = 0xc0
    }

    /// FCR bits (datasheet §8.6.4).
    enum FIFOControl {
        static let enable: UInt8 = 0x01
        static let clearReceive: UInt8 = 0x02
        static let clearTransmit: UInt8 = 0x04
        /// Receive trigger levels selected by bits 7:6.
        static let triggerLevels = [1, 4, 8, 14]
    }

    static let lineControlDivisorLatch: UInt8 = 0x80 // LCR.DLAB

    /// MCR bits (datasheet §8.6.6): DTR, RTS, OUT1, OUT2, LOOP.
    enum ModemControl {
        static let loopback: UInt8 = 0x10
        static let writable: UInt8 = 0x1f
        static let reset: UInt8 = 0x08 // OUT2 set, as QEMU resets it
    }

    /// LSR bits (datasheet §8.6.5).
    enum LineStatus {
        static let dataReady: UInt8 = 0x01
        static let overrun: UInt8 = 0x02
        static let parity: UInt8 = 0x04
        static let framing: UInt8 = 0x08
        static let breakInterrupt: UInt8 = 0x10
        static let transmitHoldingEmpty: UInt8 = 0x20
        static let transmitterEmpty: UInt8 = 0x40
        /// Error bits that raise a line-status interrupt and clear when LSR is read.
        static let errors: UInt8 = 0x1e
    }

    /// MSR bits (datasheet §8.6.7).
    enum ModemStatus {
        static let deltaMask: UInt8 = 0x0f
        static let trailingEdgeRing: UInt8 = 0x04
        static let clearToSend: UInt8 = 0x10
        static let dataSetReady: UInt8 = 0x20
        static let ringIndicator: UInt8 = 0x40
        static let carrierDetect: UInt8 = 0x80
        /// A connected line: DCD, DSR and CTS asserted (QEMU's reset value).
        static let connected: UInt8 = 0xb0
    }

    public static let fifoDepth = 16

    public let regShift: Int
    public let backend: any SerialBackend
    public var irq: IRQLine?

    /// Accesses up to the register spacing; a wider one is split by the bus into register-sized
    /// pieces, and pieces that do not start a register are ignored.
    public let implementedSizes: AccessSizes

    private var receiveFIFO = [UInt8](repeating: 0, count: UART16550.fifoDepth)
    private var receiveHead = 0
    private var receiveCount = 0
    private var interruptEnable: UInt8 = 0
    private var interruptID: UInt8 = InterruptID.none
    private var fifoControl: UInt8 = 0
    private var lineControl: UInt8 = 0
    private var modemControl: UInt8 = ModemControl.reset
    private var lineStatus: UInt8 = LineStatus.transmitHoldingEmpty | LineStatus.transmitterEmpty
    private var modemStatus: UInt8 = ModemStatus.connected
    private var scratch: UInt8 = 0
    /// QEMU's reset divisor (115200 baud from a 1.8432 MHz clock would be 1; QEMU uses 0x0c).
    private var divisor: UInt16 = 0x0c
    /// THRE interrupt latch: set when THR empties, cleared by a THR write or by reading an IIR
    /// that reports it (datasheet Table 4, "Interrupt Reset Control").
    private var transmitterInterruptPending = false
    /// Character-timeout latch: data sat below the trigger level for a whole poll interval.
    private var timeoutPending = false
    /// Bytes arrived since the last `poll()`, so the timeout waits for a quiet interval.
    private var receivedSinceLastPoll = false
    private var irqLevel = false

    /// - Parameters:
    ///   - backend: the host side of the line.
    ///   - regShift: log2 of the register spacing in bytes (`reg-shift`; 0 on QEMU virt).
    ///   - irq: the interrupt output, if wired.
    public init(backend: any SerialBackend, regShift: Int = 0, irq: IRQLine? = nil) {
        self.backend = backend
        self.regShift = max(0, min(regShift, 3))
        self.irq = irq
        var sizes: AccessSizes = .byte
        if self.regShift >= 1 { sizes.insert(.halfword) }
        if self.regShift >= 2 { sizes.insert(.word) }
        if self.regShift >= 3 { sizes.insert(.doubleword) }
        implementedSizes = sizes
    }

    /// Bytes of MMIO space 8 registers take (QEMU virt maps 0x100 for reg-shift 0).
    public var registerSpan: UInt64 { UInt64(8 << regShift) }

    // MARK: MMIODevice

    public func read(offset: UInt64, size: Int) -> UInt64 {
        guard let register = registerIndex(offset) else { return 0 }
        let dlab = lineControl & Self.lineControlDivisorLatch != 0
        switch register {
        case Register.data:
            if dlab { return UInt64(divisor & 0xff) }
            return UInt64(popReceived())
        case Register.interruptEnable:
            if dlab { return UInt64(divisor >> 8) }
            return UInt64(interruptEnable)
        case Register.interruptID:
            let value = interruptID
            if value & InterruptID.idMask == InterruptID.transmitterEmpty {
                transmitterInterruptPending = false
                updateInterrupt()
            }
            return UInt64(value)
        case Register.lineControl: return UInt64(lineControl)
        case Register.modemControl: return UInt64(modemControl)
        case Register.lineStatus:
            let value = lineStatus
            if value & LineStatus.errors != 0 {
                lineStatus &= ~LineStatus.errors
                updateInterrupt()
            }
            return UInt64(value)
        case Register.modemStatus:
            let value = currentModemStatus()
            if modemStatus & ModemStatus.deltaMask != 0 {
                modemStatus &= ~ModemStatus.deltaMask
                updateInterrupt()
            }
            return UInt64(value)
        default: return UInt64(scratch)
        }
    }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        guard let register = registerIndex(offset) else { return }
        let byte = UInt8(truncatingIfNeeded: value)
        let dlab = lineControl & Self.lineControlDivisorLatch != 0
        switch register {
        case Register.data:
            if dlab { divisor = (divisor & 0xff00) | UInt16(byte); return }
            transmit(byte)
        case Register.interruptEnable:
            if dlab { divisor = (divisor & 0x00ff) | UInt16(byte) << 8; return }
            let changed = (interruptEnable ^ byte) & InterruptEnable.writable
            interruptEnable = byte & InterruptEnable.writable
            // Enabling ETBEI while THR is empty raises THRE at once, even if reading IIR had
            // cleared it before (QEMU serial.c; Windows and Linux rely on it).
            if changed & InterruptEnable.transmitterEmpty != 0 {
                transmitterInterruptPending = interruptEnable & InterruptEnable.transmitterEmpty != 0
                    && lineStatus & LineStatus.transmitHoldingEmpty != 0
            }
            updateInterrupt()
        case Register.interruptID:
            writeFIFOControl(byte)
        case Register.lineControl:
            lineControl = byte
        case Register.modemControl:
            let oldStatus = currentModemStatus()
            modemControl = byte & ModemControl.writable
            noteModemStatusChange(from: oldStatus, to: currentModemStatus())
            updateInterrupt()
        case Register.lineStatus, Register.modemStatus:
            break // read-only (QEMU ignores these writes too)
        default:
            scratch = byte
        }
    }

    // MARK: Host side

    /// Pulls waiting input from the backend into the receive FIFO and advances the
    /// character-timeout state. The machine calls it regularly.
    public func poll() {
        if modemControl & ModemControl.loopback == 0 {
            while receiveCount < capacity, let byte = backend.read() {
                push(byte)
            }
        }
        // Datasheet §8.6.2: a timeout indication occurs when characters sit in a FIFO below its
        // trigger level and none arrived or left for four character times. Polls stand in for
        // character times: one quiet poll interval is the timeout.
        if fifosEnabled && receiveCount > 0 && receiveCount < triggerLevel && !receivedSinceLastPoll {
            timeoutPending = true
        }
        receivedSinceLastPoll = false
        updateInterrupt()
    }

    /// Delivers `byte` as if it arrived on the line. False (and LSR.OE set) if the FIFO is full.
    @discardableResult
    public func receive(_ byte: UInt8) -> Bool {
        let accepted = push(byte)
        updateInterrupt()
        return accepted
    }

    /// Bytes waiting in the receive FIFO.
    public var receivedCount: Int { receiveCount }

    // MARK: Internals

    private var fifosEnabled: Bool { fifoControl & FIFOControl.enable != 0 }
    /// The 16450 mode (FIFOs off) has a single receive holding register.
    private var capacity: Int { fifosEnabled ? Self.fifoDepth : 1 }
    private var triggerLevel: Int { FIFOControl.triggerLevels[Int(fifoControl >> 6)] }

    private func registerIndex(_ offset: UInt64) -> Int? {
        guard offset & ((1 << UInt64(regShift)) - 1) == 0 else { return nil }
        // Only the low three register-number bits decode, so the bank repeats (QEMU `addr &= 7`).
        return Int((offset >> UInt64(regShift)) & 7)
    }

    private func transmit(_ byte: UInt8) {
        transmitterInterruptPending = false
        if modemControl & ModemControl.loopback != 0 {
            push(byte)
        } else {
            backend.write(byte)
        }
        // The byte left at once: THR and the shift register are empty again.
        lineStatus |= LineStatus.transmitHoldingEmpty | LineStatus.transmitterEmpty
        transmitterInterruptPending = true
        updateInterrupt()
    }

    @discardableResult
    private func push(_ byte: UInt8) -> Bool {
        guard receiveCount < capacity else {
            lineStatus |= LineStatus.overrun
            return false
        }
        receiveFIFO[(receiveHead + receiveCount) % Self.fifoDepth] = byte
        receiveCount += 1
        lineStatus |= LineStatus.dataReady
        receivedSinceLastPoll = true
        timeoutPending = false
        return true
    }

    private func popReceived() -> UInt8 {
        guard receiveCount > 0 else { return 0 }
        let byte = receiveFIFO[receiveHead]
        receiveHead = (receiveHead + 1) % Self.fifoDepth
        receiveCount -= 1
        if receiveCount == 0 { lineStatus &= ~LineStatus.dataReady }
        timeoutPending = false
        updateInterrupt()
        return byte
    }

    private func writeFIFOControl(_ value: UInt8) {
        // Changing FIFO enable clears both FIFOs (datasheet §8.6.4, bit 0).
        if (value ^ fifoControl) & FIFOControl.enable != 0 || value & FIFOControl.clearReceive != 0 {
            receiveHead = 0
            receiveCount = 0
            lineStatus &= ~LineStatus.dataReady
            timeoutPending = false
        }
        // The transmit FIFO is always empty here: clearing it changes nothing.
        fifoControl = value & ~(FIFOControl.clearReceive | FIFOControl.clearTransmit)
        updateInterrupt()
    }

    /// MSR's line bits: in loopback, MCR's outputs fed back (DTR→DSR, RTS→CTS, OUT1→RI,
    /// OUT2→DCD; datasheet §8.6.6 bit 4); otherwise a connected line.
    private func currentModemStatus() -> UInt8 {
        let lines: UInt8
        if modemControl & ModemControl.loopback != 0 {
            let mcr = modemControl
            lines = (mcr & 0x01) << 5 | (mcr & 0x02) << 3 | (mcr & 0x04) << 4 | (mcr & 0x08) << 4
        } else {
            lines = ModemStatus.connected
        }
        return lines | (modemStatus & ModemStatus.deltaMask)
    }

    private func noteModemStatusChange(from old: UInt8, to new: UInt8) {
        let changed = (old ^ new) & 0xf0
        var delta: UInt8 = 0
        if changed & ModemStatus.clearToSend != 0 { delta |= 0x01 }
        if changed & ModemStatus.dataSetReady != 0 { delta |= 0x02 }
        if changed & ModemStatus.ringIndicator != 0 && new & ModemStatus.ringIndicator == 0 {
            delta |= ModemStatus.trailingEdgeRing
        }
        if changed & ModemStatus.carrierDetect != 0 { delta |= 0x08 }
        modemStatus = (modemStatus | delta) & ModemStatus.deltaMask
    }

    /// Recomputes IIR by priority (datasheet Table 4) and drives the line.
    private func updateInterrupt() {
        let enabled = interruptEnable
        var id = InterruptID.none
        if enabled & InterruptEnable.lineStatus != 0 && lineStatus & LineStatus.errors != 0 {
            id = InterruptID.lineStatus
        } else if enabled & InterruptEnable.receivedData != 0 && timeoutPending {
            id = InterruptID.characterTimeout
        } else if enabled & InterruptEnable.receivedData != 0 && receiveCount > 0
                    && (!fifosEnabled || receiveCount >= triggerLevel) {
            id = InterruptID.receivedData
        } else if enabled & InterruptEnable.transmitterEmpty != 0 && transmitterInterruptPending {
            id = InterruptID.transmitterEmpty
        } else if enabled & InterruptEnable.modemStatus != 0 && modemStatus & ModemStatus.deltaMask != 0 {
            id = InterruptID.modemStatus
        }
        interruptID = id | (fifosEnabled ? InterruptID.fifosEnabled : 0)
        let level = id != InterruptID.none
        guard level != irqLevel else { return }
        irqLevel = level
        irq?.set(level)
    }
}

/// The machine polls the UART for console input and the character timeout, and resets it.
extension UART16550: DeviceLifecycle {
    /// The master reset (16550D datasheet Table 9, "UART Reset Configuration"): IER, FCR, LCR,
    /// MCR and the scratch register zero (MCR keeps OUT2 set, as QEMU's `serial_reset`), IIR
    /// "no interrupt", LSR transmitter empty, FIFOs and every interrupt latch cleared, the divisor
    /// at QEMU's reset value; the interrupt output goes low. Bytes still waiting in the host
    /// backend are not the UART's and stay there.
    public func reset() {
        receiveHead = 0
        receiveCount = 0
        interruptEnable = 0
        fifoControl = 0
        lineControl = 0
        modemControl = ModemControl.reset
        lineStatus = LineStatus.transmitHoldingEmpty | LineStatus.transmitterEmpty
        modemStatus = ModemStatus.connected
        scratch = 0
        divisor = 0x0c
        transmitterInterruptPending = false
        timeoutPending = false
        receivedSinceLastPoll = false
        updateInterrupt()
    }
}

/// Snapshots (docs/snapshots.md): every register, the interrupt latches and the receive FIFO's
/// contents, oldest byte first. Bytes still in the host backend are the host's, not the UART's,
/// and are not saved. The restore drives the interrupt line to the restored level.
extension UART16550 {
    public func save(to state: inout DeviceStateWriter) {
        var fifo: [UInt8] = []
        for index in 0..<receiveCount { fifo.append(receiveFIFO[(receiveHead + index) % Self.fifoDepth]) }
        state.put(fifo)
        state.put(interruptEnable)
        state.put(fifoControl)
        state.put(lineControl)
        state.put(modemControl)
        state.put(lineStatus)
        state.put(modemStatus)
        state.put(scratch)
        state.put(divisor)
        state.put(transmitterInterruptPending)
        state.put(timeoutPending)
        state.put(receivedSinceLastPoll)
    }

    public func restore(from state: inout DeviceStateReader) throws(DeviceStateError) {
        let fifo = try state.data()
        guard fifo.count <= Self.fifoDepth else { throw .mismatch("UART FIFO holds \(fifo.count) bytes, at most \(Self.fifoDepth)") }
        let registers = (try state.uint8("IER"), try state.uint8("FCR"), try state.uint8("LCR"), try state.uint8("MCR"),
                         try state.uint8("LSR"), try state.uint8("MSR"), try state.uint8("SCR"))
        let divisor = try state.uint16("divisor")
        let latches = (try state.bool(), try state.bool(), try state.bool())
        for (index, byte) in fifo.enumerated() { receiveFIFO[index] = byte }
        receiveHead = 0
        receiveCount = fifo.count
        (interruptEnable, fifoControl, lineControl, modemControl, lineStatus, modemStatus, scratch) = registers
        self.divisor = divisor
        (transmitterInterruptPending, timeoutPending, receivedSinceLastPoll) = latches
        updateInterrupt()
        // updateInterrupt drives the line only when its level changes: drive it once anyway.
        irq?.set(irqLevel)
    }
}

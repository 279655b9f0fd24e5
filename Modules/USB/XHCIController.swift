import Foundation
import Memory
import PCI
import Trace
import IRQ

/// Why a device cannot be attached to a port.
public enum XHCIAttachError: Error, Equatable, CustomStringConvertible {
    case noSuchPort(port: Int, ports: Int)
    case portInUse(port: Int)
    /// No speed of the device is one the port carries (USB 2 ports: low/full/high; USB 3: super).
    case speedMismatch(port: Int, portIsUSB3: Bool, deviceSpeeds: [USBSpeed])

    public var description: String {
        switch self {
        case let .noSuchPort(port, ports): return "port \(port) does not exist; the controller has ports 1...\(ports)"
        case let .portInUse(port): return "port \(port) already has a device"
        case let .speedMismatch(port, usb3, speeds):
            let what = speeds.map(\.description).joined(separator: "/")
            return "port \(port) is a USB \(usb3 ? 3 : 2) port and cannot take a \(what)-speed device"
        }
    }
}

/// An xHCI 1.2 host controller on PCI (class 0x0c0330): QEMU's `qemu-xhci` IDs and register layout
/// (docs/usb.md). BAR 0 holds the capability, operational, runtime and doorbell registers and the
/// MSI-X table; the controller interrupts through MSI-X (one vector per interrupter) or INTA.
///
/// Everything happens synchronously on the machine's thread: a doorbell write runs the command
/// ring or the endpoint's transfer ring until it is empty or the device keeps a packet pending;
/// a pending packet's completion later resumes its endpoint. Guest memory is only reached
/// through the PCI bus interface; a DMA failure halts the controller with Host System Error.
public final class XHCIController: PCIFunction {
    /// QEMU's qemu-xhci (Red Hat 1b36:000d), USB 3 xHCI class code.
    public static let identity = PCIIdentity(vendorID: 0x1b36, deviceID: 0x000d, revision: 1, classCode: 0x0c0330,
                                             subsystemVendorID: 0x1af4, subsystemID: 0x1100)
    /// BAR 0 (64-bit, 16 KiB, 32-bit accesses; the bus splits and widens the others).
    public static let bars: [PCIBAR] = [.memory64(size: XHCILayout.barSize, accessSizes: [.word])]

    public let bus: PCIBusInterface
    public var config: PCIConfigSpace { bus.config }
    public let msix: MSIXCapability
    public let ports: [XHCIPort]
    public let usb2PortCount: Int
    public let usb3PortCount: Int
    public let maxSlots: Int
    public let interrupters: [XHCIInterrupter]
    public internal(set) var slots: [XHCIDeviceSlot]
    /// Slots handed out by Enable Slot and not disabled since (index 0 unused).
    var slotEnabled: [Bool]

    // Operational registers (§5.4).
    public internal(set) var command: UInt32 = 0
    public internal(set) var status: UInt32 = XHCIStatusBit.halted
    var notificationControl: UInt32 = 0
    var commandRing = XHCIRing()
    var commandRingRunning = false
    var commandRingPointer: UInt64 = 0
    public internal(set) var deviceContextBaseArray: UInt64 = 0
    var configure: UInt32 = 0
    /// Machine time when MFINDEX was last zero (it counts 125 µs microframes, §5.5.1).
    private(set) var frameEpoch = DispatchTime.now().uptimeNanoseconds
    /// The machine's clock (virtual or host), which MFINDEX and isochronous scheduling follow;
    /// nil: the host's monotonic clock (a controller built alone, in tests).
    public var timebase: Timebase? { didSet { frameEpoch = machineNanoseconds() } }

    /// Nanoseconds of machine time.
    func machineNanoseconds() -> UInt64 { timebase?.nanoseconds() ?? DispatchTime.now().uptimeNanoseconds }
    /// Devices polled from the run loop (`poll`).
    private var attachedDevices: [any USBDevice] = []
    /// Isochronous endpoints whose next TD waits for its microframe (`poll` runs them).
    var isochWaiting: [XHCIEndpoint] = []

    /// - Parameters:
    ///   - usb2Ports: USB 2 ports, numbered 1...usb2Ports.
    ///   - usb3Ports: USB 3 ports, numbered after the USB 2 ones.
    public init(bus: PCIBusInterface, usb2Ports: Int = 4, usb3Ports: Int = 4, maxSlots: Int = 32, interrupterCount: Int = 4) {
        precondition(usb2Ports + usb3Ports >= 1 && usb2Ports + usb3Ports <= 255, "1...255 ports")
        precondition((1...255).contains(maxSlots) && (1...1024).contains(interrupterCount))
        self.bus = bus
        usb2PortCount = usb2Ports
        usb3PortCount = usb3Ports
        self.maxSlots = maxSlots
        ports = (0..<(usb2Ports + usb3Ports)).map { XHCIPort(number: $0 + 1, isUSB3: $0 >= usb2Ports) }
        interrupters = (0..<interrupterCount).map { XHCIInterrupter(index: $0) }
        slots = (0...maxSlots).map { XHCIDeviceSlot(id: $0) }
        slotEnabled = [Bool](repeating: false, count: maxSlots + 1)
        let config = bus.config
        config.setIdentity(XHCIController.identity)
        config.declareBAR(0, XHCIController.bars[0])
        config.interruptPin = .intA
        msix = MSIXCapability(bus: bus, vectors: interrupterCount, tableBAR: 0, tableOffset: XHCILayout.msixTable,
                              pbaBAR: 0, pbaOffset: XHCILayout.msixPBA)
        config.addPCIExpressCapability(portType: .rootComplexIntegratedEndpoint)
        // Serial Bus Release Number (xHCI 1.2 §5.2.3): USB 3.0.
        config.store8(0x60, 0x30)
    }

    // MARK: Devices

    /// Plugs `device` into `port` (1-based) at the fastest speed both support. While the
    /// controller runs, the driver sees a Port Status Change Event.
    @discardableResult
    /// `speed`, if given, must be one of the device's (a board's `speed:` property).
    public func attach(_ device: any USBDevice, port number: Int, speed wanted: USBSpeed? = nil) throws(XHCIAttachError) -> USBDeviceCore {
        guard number >= 1, number <= ports.count else { throw .noSuchPort(port: number, ports: ports.count) }
        let port = ports[number - 1]
        guard port.device == nil else { throw .portInUse(port: number) }
        let speeds = wanted.map { device.speeds.contains($0) ? [$0] : [] } ?? device.speeds
        guard let speed = speeds.filter(port.accepts).max() else {
            throw .speedMismatch(port: number, portIsUSB3: port.isUSB3, deviceSpeeds: speeds.sorted())
        }
        let core = USBDeviceCore(device: device, speed: speed)
        core.hostPort = self
        port.connect(core)
        attachedDevices.append(device)
        device.plugged(into: core)
        portChanged(port)
        return core
    }

    /// Unplugs the device on `port`, cancelling its transfers.
    public func detach(port number: Int) {
        guard number >= 1, number <= ports.count, let core = ports[number - 1].device else { return }
        for slot in slots where slot.port === ports[number - 1] {
            for case let endpoint? in slot.endpoints { _ = endpoint.cancelTransfer() }
        }
        attachedDevices.removeAll { $0 === core.device }
        core.hostPort = nil
        ports[number - 1].disconnect()
        portChanged(ports[number - 1])
    }

    /// Lets devices with timed work (scripted input, I/O) make progress; called from the run loop.
    public func poll() {
        for device in attachedDevices { device.poll() }
        if !isochWaiting.isEmpty { runDueIsochronousEndpoints() }
    }

    // MARK: Reset

    public func reset() {
        resetController()
        msix.reset()
    }

    /// HCRST (§4.2): every register to its default, slots disabled, rings forgotten.
    func resetController() {
        for slot in slots {
            for case let endpoint? in slot.endpoints { _ = endpoint.cancelTransfer() }
        }
        slots = (0...maxSlots).map { XHCIDeviceSlot(id: $0) }
        slotEnabled = [Bool](repeating: false, count: maxSlots + 1)
        command = 0
        status = XHCIStatusBit.halted
        notificationControl = 0
        commandRing = XHCIRing()
        commandRingRunning = false
        commandRingPointer = 0
        deviceContextBaseArray = 0
        configure = 0
        for interrupter in interrupters { interrupter.reset() }
        for port in ports {
            port.device?.reset()
            port.reset()
        }
        frameEpoch = machineNanoseconds()
        isochWaiting = []
        bus.setINTx(false)
    }

    public var isRunning: Bool { command & XHCICommandBit.runStop != 0 && status & XHCIStatusBit.halted == 0 }

    /// A DMA error or broken ring: the controller halts with Host System Error (§4.10.2.9),
    /// as hardware does after a PCI master abort; the driver sees it and resets the controller.
    func hostSystemError() {
        status |= XHCIStatusBit.hostSystemError | XHCIStatusBit.halted
        command &= ~XHCICommandBit.runStop
        commandRingRunning = false
        if command & XHCICommandBit.hostSystemErrorEnable != 0 { signal(interrupters[0]) }
    }

    /// An internal error that needs a reset (USBSTS.HCE, xHCI 1.2 §5.4.2): the controller halts
    /// and stays halted until software resets it (HCRST). Used when a guest-built ring keeps the
    /// controller busy past the work one doorbell may cause (`commandsPerDoorbell`), so that a
    /// looping ring cannot hold the host inside one register write.
    func hostControllerError() {
        status |= XHCIStatusBit.hostControllerError | XHCIStatusBit.halted
        command &= ~XHCICommandBit.runStop
        commandRingRunning = false
        signal(interrupters[0])
    }

    // MARK: Events and interrupts

    /// Posts `event` on interrupter `index` (clamped) and interrupts unless `blockInterrupt`.
    func post(_ event: XHCITRB, interrupter index: Int = 0, blockInterrupt: Bool = false) {
        let interrupter = interrupters[index < interrupters.count ? index : 0]
        switch interrupter.post(event, bus) {
        case .failure:
            hostSystemError()
        case .success(.dropped):
            break
        case .success:
            if !blockInterrupt { signal(interrupter) }
        }
    }

    /// Raises the interrupter's interrupt if it may (§4.17.2): MSI-X vector `index` when MSI-X
    /// is on, else INTA while interrupter 0 has IP and IE set.
    func signal(_ interrupter: XHCIInterrupter) {
        guard interrupter.raise() else { return }
        status |= XHCIStatusBit.eventInterrupt
        guard command & XHCICommandBit.interrupterEnable != 0, interrupter.enabled else { return updateINTx() }
        if msix.isEnabled {
            msix.notify(vector: interrupter.index)
            interrupter.messageSent()
        } else {
            updateINTx()
        }
    }

    func updateINTx() {
        let level = !msix.isEnabled && command & XHCICommandBit.interrupterEnable != 0
            && interrupters.contains { $0.pending && $0.enabled }
        bus.setINTx(level)
    }

    /// A port's change bits went up: Port Change Detect and an event (§4.19.2).
    func portChanged(_ port: XHCIPort) {
        if Trace.mask & TraceGroup.usb.bit != 0 {
            Trace.emit(.usb, device: bus.name, "port", ["port": .number(UInt64(port.number)), "connected": .flag(port.device != nil),
                                                         "change-bits": .hex(UInt64(port.changeBits))])
        }
        status |= XHCIStatusBit.portChangeDetect
        guard isRunning, port.changeBits != 0 else { return }
        post(XHCIEvent.portStatusChange(port: port.number))
    }

    /// MFINDEX (§5.5.1): 125 µs microframes since the controller started, 14 bits. Isochronous
    /// scheduling and plugins (`usb->frame_number`) read the same count.
    public var microframeIndex: UInt32 {
        guard isRunning else { return 0 }
        return UInt32(truncatingIfNeeded: currentMicroframe & 0x3fff)
    }

    /// Microframes since the controller was reset, not wrapped: what MFINDEX counts modulo 2^14.
    var currentMicroframe: UInt64 { (machineNanoseconds() &- frameEpoch) / 125_000 }
}

extension XHCIController: USBHostPort {
    /// Device-initiated resume (USB 2.0 §7.1.7.7): the port goes from U3 to Resume with PLC set
    /// and, while the controller runs, a Port Status Change Event tells the driver (xHCI 1.2
    /// §4.15.2.1); a halted controller reports it when it runs again (§4.19.2).
    public func remoteWakeup(from core: USBDeviceCore) -> Bool {
        guard let port = ports.first(where: { $0.device === core }), port.remoteWakeup() else { return false }
        portChanged(port)
        return true
    }
}

/// Snapshots (docs/snapshots.md): the operational registers, MFINDEX, the command ring, every
/// interrupter, port, slot and endpoint (rings by position: the TRBs are guest RAM) and every
/// attached device's state; the configuration space and INTx level are the bridge's. A TD a
/// device was holding (an interrupt IN waiting for input) is not saved: its endpoint's ring
/// still points at it, and the restore hands it to the device again.
extension XHCIController: PCIFunctionSnapshot {
    public var snapshotRefusal: String? {
        let unsaved = ports.compactMap { port in
            port.device.flatMap { $0.device is USBDeviceSnapshot ? nil : "port \(port.number) (\(type(of: $0.device)))" }
        }
        return unsaved.isEmpty ? nil : "USB devices that cannot be saved: " + unsaved.joined(separator: ", ")
    }

    public func saveFunction(to state: inout DeviceStateWriter) {
        state.put(command)
        state.put(status)
        state.put(notificationControl)
        state.put(commandRing.dequeue)
        state.put(commandRing.cycle)
        state.put(commandRingRunning)
        state.put(commandRingPointer)
        state.put(deviceContextBaseArray)
        state.put(configure)
        state.put(machineNanoseconds() &- frameEpoch)
        state.put(flags: slotEnabled)
        msix.save(to: &state)
        state.put(UInt64(interrupters.count))
        for interrupter in interrupters { interrupter.save(to: &state) }
        state.put(UInt64(ports.count))
        for port in ports { port.save(to: &state) }
        state.put(UInt64(slots.count))
        for slot in slots {
            state.put(UInt64(slot.state.rawValue))
            state.put(UInt64(slot.port?.number ?? 0))
            state.put(slot.contextAddress)
            for dci in 1..<32 {
                guard let endpoint = slot.endpoints[dci] else { state.put(false); continue }
                state.put(true)
                state.put(UInt64(endpoint.type.rawValue))
                state.put(endpoint.maxPacketSize)
                state.put(endpoint.ring.dequeue)
                state.put(endpoint.ring.cycle)
                state.put(UInt64(endpoint.state.rawValue))
                state.put(endpoint.transfer != nil)
                state.put(endpoint.interval)
                state.put(endpoint.isochWait != nil)
                state.put(endpoint.isochWait?.trb ?? 0)
                state.put(endpoint.isochWait?.microframe ?? 0)
                state.put(endpoint.nextIsochMicroframe)
                state.put(endpoint.isochStreaming)
            }
        }
    }

    public func restoreFunction(from state: inout DeviceStateReader) throws(DeviceStateError) {
        let registers = (try state.uint32("USBCMD"), try state.uint32("USBSTS"), try state.uint32("DNCTRL"))
        let commandRing = XHCIRing(dequeue: try state.uint64(), cycle: try state.bool())
        let running = try state.bool()
        let pointer = try state.uint64(), contexts = try state.uint64()
        let configure = try state.uint32("CONFIG")
        let elapsed = try state.uint64()
        let enabled = try state.flags(count: slotEnabled.count, "xHCI slots")
        try msix.restore(from: &state)
        guard try state.uint64() == UInt64(interrupters.count) else { throw .mismatch("xHCI interrupter count") }
        for interrupter in interrupters { try interrupter.restore(from: &state) }
        guard try state.uint64() == UInt64(ports.count) else { throw .mismatch("xHCI port count") }
        for port in ports { try port.restore(from: &state) }
        guard try state.uint64() == UInt64(slots.count) else { throw .mismatch("xHCI slot count") }
        var resume: [XHCIEndpoint] = []
        var isochWaitingRestored: [XHCIEndpoint] = []
        for slot in slots {
            guard let slotState = XHCISlotState(rawValue: try state.uint32("slot state")) else { throw .mismatch("slot state") }
            let portNumber = try state.int(in: 0...ports.count, "slot port")
            slot.state = slotState
            slot.port = portNumber == 0 ? nil : ports[portNumber - 1]
            slot.contextAddress = try state.uint64()
            slot.endpoints = [XHCIEndpoint?](repeating: nil, count: 32)
            for dci in 1..<32 {
                guard try state.bool() else { continue }
                guard let type = XHCIEndpointType(rawValue: try state.uint32("endpoint type")) else { throw .mismatch("endpoint type") }
                let maxPacketSize = try state.int(in: 0...65536, "max packet size")
                let ring = XHCIRing(dequeue: try state.uint64(), cycle: try state.bool())
                guard let endpointState = XHCIEndpointState(rawValue: try state.uint32("endpoint state")) else { throw .mismatch("endpoint state") }
                let held = try state.bool()
                let interval = try state.uint32("endpoint interval")
                guard interval <= 0xff else { throw .mismatch("endpoint interval \(interval)") }
                let waiting = try state.bool()
                let wait = (trb: try state.uint64(), microframe: try state.uint64())
                let next = try state.uint64()
                let streaming = try state.bool()
                // The Endpoint Context fields the endpoint keeps from Configure Endpoint (§6.2.3).
                var context = XHCIContext()
                context.words[0] = interval << 16
                context.words[1] = type.rawValue << 3
                let endpoint = XHCIEndpoint(controller: self, slot: slot, dci: dci, context: context)
                endpoint.type = type
                endpoint.maxPacketSize = maxPacketSize
                endpoint.ring = ring
                endpoint.state = endpointState
                endpoint.isochWait = waiting ? wait : nil
                endpoint.nextIsochMicroframe = next
                endpoint.isochStreaming = streaming
                if held { resume.append(endpoint) }
                if waiting { isochWaitingRestored.append(endpoint) }
                slot.endpoints[dci] = endpoint
            }
        }
        (command, status, notificationControl) = registers
        self.commandRing = commandRing
        commandRingRunning = running
        commandRingPointer = pointer
        deviceContextBaseArray = contexts
        self.configure = configure
        frameEpoch = machineNanoseconds() &- elapsed
        slotEnabled = enabled
        // Isochronous TDs waiting for their microframe (MFINDEX goes on from the saved one).
        isochWaiting = isochWaitingRestored
        // The TDs devices were holding: handed over again, as when they were first fetched.
        for endpoint in resume { runEndpoint(endpoint) }
    }
}

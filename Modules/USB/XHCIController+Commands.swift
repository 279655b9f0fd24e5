import Foundation
import PCI
import Trace

/// The command ring (xHCI 1.2 §4.6): slot and endpoint management commands, each answered with
/// a Command Completion Event on interrupter 0.
extension XHCIController {
    /// Doorbell `index` (§5.6): 0 is the host controller's (command ring), others the slots'.
    func ringDoorbell(_ index: Int, target: Int, stream: Int) {
        guard isRunning else { return }
        if index == 0 {
            guard target == 0 else { return }
            commandRingRunning = true
            runCommandRing()
            return
        }
        guard index <= maxSlots, target >= 1, target <= 31, let endpoint = slots[index].endpoints[target] else { return }
        // A doorbell restarts a Stopped endpoint; a Halted one waits for Reset Endpoint (§4.8.3).
        if endpoint.state == .stopped {
            endpoint.state = .running
            _ = writeEndpointContext(endpoint)
        }
        runEndpoint(endpoint)
    }

    /// Commands one doorbell may run. The command ring is guest memory: a No-Op and a Link TRB
    /// back to it without Toggle Cycle (§4.11.5.1) is a ring that never runs dry, which a real
    /// xHC would work through forever in the background. Here a doorbell runs synchronously, so
    /// past this many commands the controller reports Host Controller Error (§5.4.2) and halts
    /// instead of holding the host. A driver's ring is far smaller (Linux: one 256-TRB segment).
    static let commandsPerDoorbell = 4096

    /// Executes commands until the ring is empty or stopped.
    func runCommandRing() {
        var executed = 0
        while commandRingRunning, isRunning {
            switch commandRing.next(bus) {
            case .failure:
                return hostSystemError()
            case .success(nil):
                return
            case .success(let entry?):
                executed += 1
                guard executed <= XHCIController.commandsPerDoorbell else { return hostControllerError() }
                let (code, slot) = execute(entry.trb)
                if Trace.mask & TraceGroup.usb.bit != 0 {
                    Trace.emit(.usb, device: bus.name, "command", [
                        "trb-type": .number(UInt64(entry.trb.rawType)), "address": .hex(entry.address),
                        "slot": .number(UInt64(slot)), "completion": .text("\(code)"),
                    ])
                }
                guard isRunning else { return }
                post(XHCIEvent.commandCompletion(command: entry.address, code: code, slot: slot))
            }
        }
    }

    /// Runs one command; returns the completion code and the Slot ID for the event.
    func execute(_ trb: XHCITRB) -> (XHCICompletionCode, Int) {
        let slotID = trb.slotID
        switch trb.type {
        case .noOpCommand?:
            return (.success, 0)
        case .enableSlot?:
            return enableSlot()
        case .disableSlot?:
            guard let slot = enabledSlot(slotID) else { return (.slotNotEnabled, slotID) }
            for case let endpoint? in slot.endpoints { _ = endpoint.cancelTransfer() }
            slots[slotID] = XHCIDeviceSlot(id: slotID)
            slotEnabled[slotID] = false
            return (.success, slotID)
        case .addressDevice?:
            return (addressDevice(trb), slotID)
        case .configureEndpoint?:
            return (configureEndpoint(trb), slotID)
        case .evaluateContext?:
            return (evaluateContext(trb), slotID)
        case .resetEndpoint?:
            guard let slot = enabledSlot(slotID) else { return (.slotNotEnabled, slotID) }
            guard let endpoint = slot.endpoints[trb.endpointID] else { return (.endpointNotEnabled, slotID) }
            // Only a halted endpoint may be reset (§4.6.8).
            guard endpoint.state == .halted else { return (.contextStateError, slotID) }
            _ = endpoint.cancelTransfer()
            endpoint.state = .stopped
            return (writeEndpointContext(endpoint), slotID)
        case .stopEndpoint?:
            return (stopEndpoint(slotID, trb.endpointID), slotID)
        case .setTRDequeuePointer?:
            guard let slot = enabledSlot(slotID) else { return (.slotNotEnabled, slotID) }
            guard let endpoint = slot.endpoints[trb.endpointID] else { return (.endpointNotEnabled, slotID) }
            // Stopped or Error only (§4.6.10).
            guard endpoint.state == .stopped || endpoint.state == .error else { return (.contextStateError, slotID) }
            let pointer = trb.parameter & ~0xf
            guard pointer != 0 else { return (.trbError, slotID) }
            endpoint.ring = XHCIRing(dequeue: pointer, cycle: trb.parameter & 1 != 0)
            endpoint.isochWait = nil
            endpoint.isochStreaming = false
            return (writeEndpointContext(endpoint), slotID)
        case .resetDevice?:
            return (resetDevice(slotID), slotID)
        case .forceHeader?, .negotiateBandwidth?, .setLatencyTolerance?, .getPortBandwidth?, .forceEvent?,
             .getExtendedProperty?, .setExtendedProperty?:
            // Optional commands this controller does not implement (§4.6.19-§4.6.21).
            return (.trbError, slotID)
        default:
            return (.trbError, slotID)
        }
    }

    private func enabledSlot(_ id: Int) -> XHCIDeviceSlot? {
        guard id >= 1, id <= maxSlots, slotEnabled[id] else { return nil }
        return slots[id]
    }

    /// Enable Slot (§4.6.3): the lowest free slot within CONFIG.MaxSlotsEn.
    private func enableSlot() -> (XHCICompletionCode, Int) {
        let limit = min(maxSlots, Int(configure & 0xff))
        guard limit >= 1, let id = (1...limit).first(where: { !slotEnabled[$0] }) else { return (.noSlotsAvailable, 0) }
        slots[id] = XHCIDeviceSlot(id: id)
        slotEnabled[id] = true
        return (.success, id)
    }

    /// The Input Context pointer of a command (parameter bits 63:4).
    private func inputContext(_ trb: XHCITRB) -> UInt64 { trb.parameter & ~0xf }

    /// Address Device (§4.6.5): binds the slot to the root-hub port named in the input Slot
    /// Context, sets up EP0 and, unless BSR, sends SET_ADDRESS (address = slot ID).
    private func addressDevice(_ trb: XHCITRB) -> XHCICompletionCode {
        let id = trb.slotID
        guard let slot = enabledSlot(id) else { return .slotNotEnabled }
        let blockSetAddress = trb.bit9
        // Enabled, or Default when the previous Address Device had BSR (§4.6.5).
        guard slot.state == .disabledOrEnabled || (slot.state == .default && !blockSetAddress) else { return .contextStateError }
        let input = inputContext(trb)
        guard case .success(let control) = XHCIContext.read(bus, input),
              case .success(var slotContext) = XHCIContext.read(bus, input + 32),
              case .success(var ep0) = XHCIContext.read(bus, input + 64),
              case .success(let bytes) = bus.dmaRead(deviceContextBaseArray + UInt64(8 * id), count: 8) else {
            hostSystemError()
            return .trbError
        }
        // A0 and A1 must be set (§6.2.5.1).
        guard control.addFlags & 3 == 3 else { return .parameterError }
        let portNumber = slotContext.rootHubPort
        guard portNumber >= 1, portNumber <= ports.count, let device = ports[portNumber - 1].device,
              ports[portNumber - 1].isEnabled else { return .usbTransactionError }
        slot.port = ports[portNumber - 1]
        slot.contextAddress = bytes.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) } & ~0x3f
        ep0.endpointState = .running
        let endpoint = XHCIEndpoint(controller: self, slot: slot, dci: 1, context: ep0)
        if let old = slot.endpoints[1] { _ = old.cancelTransfer() }
        slot.endpoints[1] = endpoint
        if blockSetAddress {
            slot.state = .default
            slotContext.deviceAddress = 0
        } else {
            device.setAddress(UInt8(id))
            slot.state = .addressed
            slotContext.deviceAddress = UInt8(id)
        }
        slotContext.slotState = slot.state
        guard case .success = slotContext.write(bus, slot.contextAddress),
              case .success = ep0.write(bus, slot.endpointContextAddress(1)) else {
            hostSystemError()
            return .trbError
        }
        return .success
    }

    /// Configure Endpoint (§4.6.6): drops and adds endpoints 2...31 from the Input Context, or
    /// with DC deconfigures every endpoint but EP0.
    private func configureEndpoint(_ trb: XHCITRB) -> XHCICompletionCode {
        let id = trb.slotID
        guard let slot = enabledSlot(id) else { return .slotNotEnabled }
        guard slot.state == .addressed || slot.state == .configured else { return .contextStateError }
        if trb.bit9 {
            for dci in 2...31 { dropEndpoint(slot, dci) }
            slot.state = .addressed
            return updateSlotState(slot)
        }
        let input = inputContext(trb)
        guard case .success(let control) = XHCIContext.read(bus, input) else {
            hostSystemError()
            return .trbError
        }
        for dci in 2...31 where control.dropFlags & (1 << UInt32(dci)) != 0 { dropEndpoint(slot, dci) }
        for dci in 2...31 where control.addFlags & (1 << UInt32(dci)) != 0 {
            guard case .success(var context) = XHCIContext.read(bus, input + UInt64(32 * (dci + 1))) else {
                hostSystemError()
                return .trbError
            }
            guard context.endpointType != .notValid, context.maxPrimaryStreams == 0 else { return .parameterError }
            dropEndpoint(slot, dci)
            context.endpointState = .running
            slot.endpoints[dci] = XHCIEndpoint(controller: self, slot: slot, dci: dci, context: context)
            guard case .success = context.write(bus, slot.endpointContextAddress(dci)) else {
                hostSystemError()
                return .trbError
            }
        }
        slot.state = slot.endpoints[2...].contains { $0 != nil } ? .configured : .addressed
        // The slot context's Context Entries follows the input's (A0 set) (§4.6.6).
        if control.addFlags & 1 != 0, case .success(let input) = XHCIContext.read(bus, input + 32),
           case .success(var output) = XHCIContext.read(bus, slot.contextAddress) {
            output.words[0] = (output.words[0] & 0x07ff_ffff) | (input.words[0] & 0xf800_0000)
            _ = output.write(bus, slot.contextAddress)
        }
        return updateSlotState(slot)
    }

    private func dropEndpoint(_ slot: XHCIDeviceSlot, _ dci: Int) {
        guard let endpoint = slot.endpoints[dci] else { return }
        _ = endpoint.cancelTransfer()
        slot.endpoints[dci] = nil
        var context = XHCIContext()
        context.endpointState = .disabled
        _ = context.write(bus, slot.endpointContextAddress(dci))
    }

    /// Writes the slot state (and address) into the output Slot Context.
    private func updateSlotState(_ slot: XHCIDeviceSlot) -> XHCICompletionCode {
        guard case .success(var context) = XHCIContext.read(bus, slot.contextAddress) else {
            hostSystemError()
            return .trbError
        }
        context.slotState = slot.state
        guard case .success = context.write(bus, slot.contextAddress) else {
            hostSystemError()
            return .trbError
        }
        return .success
    }

    /// Evaluate Context (§4.6.7): Max Exit Latency and Interrupter Target of the slot, Max
    /// Packet Size of EP0.
    private func evaluateContext(_ trb: XHCITRB) -> XHCICompletionCode {
        let id = trb.slotID
        guard let slot = enabledSlot(id) else { return .slotNotEnabled }
        guard slot.state != .disabledOrEnabled else { return .contextStateError }
        let input = inputContext(trb)
        guard case .success(let control) = XHCIContext.read(bus, input) else {
            hostSystemError()
            return .trbError
        }
        if control.addFlags & 1 != 0, case .success(let inputSlot) = XHCIContext.read(bus, input + 32),
           case .success(var output) = XHCIContext.read(bus, slot.contextAddress) {
            output.words[1] = (output.words[1] & ~0xffff) | (inputSlot.words[1] & 0xffff)
            output.words[2] = (output.words[2] & 0x003f_ffff) | (inputSlot.words[2] & 0xffc0_0000)
            _ = output.write(bus, slot.contextAddress)
        }
        if control.addFlags & 2 != 0, let ep0 = slot.endpoints[1],
           case .success(let inputEP0) = XHCIContext.read(bus, input + 64),
           case .success(var output) = XHCIContext.read(bus, slot.endpointContextAddress(1)) {
            ep0.maxPacketSize = inputEP0.maxPacketSize
            output.maxPacketSize = inputEP0.maxPacketSize
            _ = output.write(bus, slot.endpointContextAddress(1))
        }
        return .success
    }

    /// Stop Endpoint (§4.6.9): a transfer in progress is cancelled and reported with Stopped
    /// (as QEMU does) before the command completes; the endpoint's context records where it
    /// stopped (the TD's first TRB, to be restarted or skipped by Set TR Dequeue Pointer).
    private func stopEndpoint(_ slotID: Int, _ dci: Int) -> XHCICompletionCode {
        guard let slot = enabledSlot(slotID) else { return .slotNotEnabled }
        guard let endpoint = slot.endpoints[dci] else { return .endpointNotEnabled }
        guard endpoint.state == .running else { return .contextStateError }
        if let transfer = endpoint.cancelTransfer(), let first = transfer.entries.first(where: { $0.trb.type != .setupStage }) ?? transfer.entries.first {
            post(XHCIEvent.transfer(trb: first.address, residual: first.trb.transferLength, code: .stopped, slot: slotID, endpoint: dci),
                 interrupter: first.trb.interrupterTarget)
        }
        endpoint.state = .stopped
        return writeEndpointContext(endpoint)
    }

    /// Reset Device (§4.6.11): back to Default with EP0 only, address 0.
    private func resetDevice(_ slotID: Int) -> XHCICompletionCode {
        guard let slot = enabledSlot(slotID) else { return .slotNotEnabled }
        guard slot.state == .addressed || slot.state == .configured else { return .contextStateError }
        for dci in 2...31 { dropEndpoint(slot, dci) }
        if let ep0 = slot.endpoints[1] { _ = ep0.cancelTransfer() }
        slot.state = .default
        guard case .success(var context) = XHCIContext.read(bus, slot.contextAddress) else {
            hostSystemError()
            return .trbError
        }
        context.slotState = .default
        context.deviceAddress = 0
        context.words[0] = (context.words[0] & 0x07ff_ffff) | 1 << 27
        _ = context.write(bus, slot.contextAddress)
        return .success
    }

    /// Writes an endpoint's state and TR Dequeue Pointer (with DCS) into its output context.
    func writeEndpointContext(_ endpoint: XHCIEndpoint) -> XHCICompletionCode {
        let address = endpoint.slot.endpointContextAddress(endpoint.dci)
        guard case .success(var context) = XHCIContext.read(bus, address) else {
            hostSystemError()
            return .trbError
        }
        context.endpointState = endpoint.state
        context.dequeue = endpoint.ring.dequeue | (endpoint.ring.cycle ? 1 : 0)
        guard case .success = context.write(bus, address) else {
            hostSystemError()
            return .trbError
        }
        return .success
    }
}

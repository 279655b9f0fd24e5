import Foundation
import PCI
import Trace

/// Transfer rings (xHCI 1.2 §4.10-§4.11): a doorbell makes the controller take TDs off the
/// endpoint's ring, hand each to the device as one `USBPacket`, and on completion move the data
/// and post Transfer Events for the TRBs that ask for one (IOC, or ISP on a short packet).
extension XHCIController {
    /// Where a TD's data goes or comes from: one per Normal, Data Stage or Isoch TRB.
    struct Buffer {
        var entry: XHCIRingEntry
        var length: Int
    }

    /// TRBs one doorbell (or one completion) may take off a transfer ring. A ring whose Link TRB
    /// points back without Toggle Cycle never runs dry; a real xHC would keep serving it in the
    /// background, but here the work happens inside the doorbell write. Past this many TRBs the
    /// endpoint halts with a TRB Error Transfer Event on the TD it stopped at (§4.10.2.1,
    /// §4.12.2); the driver recovers with Reset Endpoint and Set TR Dequeue Pointer, as from a
    /// stall. Four maximal TDs (`XHCIRing.tdLimit`) fit, far more than a driver queues at once.
    static let transferTRBsPerDoorbell = 4 * XHCIRing.tdLimit

    /// Runs `endpoint` until its ring is empty or the device keeps a packet.
    func runEndpoint(_ endpoint: XHCIEndpoint) {
        var consumed = 0
        while isRunning, endpoint.state == .running, endpoint.transfer == nil {
            guard let core = endpoint.slot.device else { return }
            var ring = endpoint.ring
            let entries: [XHCIRingEntry]
            switch readTransfer(&ring, control: endpoint.type == .control) {
            case .failure:
                return hostSystemError()
            case .success(nil):
                // The ring ran dry: an isochronous stream starts afresh with its next TD.
                endpoint.isochStreaming = false
                return
            case .success(let found?):
                entries = found
            }
            consumed += entries.count
            guard consumed <= XHCIController.transferTRBsPerDoorbell else {
                endpoint.state = .halted
                _ = writeEndpointContext(endpoint)
                post(XHCIEvent.transfer(trb: entries[0].address, residual: 0, code: .trbError,
                                        slot: endpoint.slot.id, endpoint: endpoint.dci), interrupter: entries[0].trb.interrupterTarget)
                return
            }
            var microframe: UInt64?
            if endpoint.isIsochronous, let first = entries.first(where: { $0.trb.type == .isoch }) {
                switch scheduleIsochronous(endpoint, first) {
                case .wait:
                    // The ring is not advanced: the TD is read again when its frame comes.
                    if !isochWaiting.contains(where: { $0 === endpoint }) { isochWaiting.append(endpoint) }
                    return
                case .missed:
                    // §4.10.3.2: the frame is gone; Missed Service Error on the TD, which never
                    // reaches the device, and the endpoint keeps running (isoch never halts).
                    endpoint.ring = ring
                    post(XHCIEvent.transfer(trb: first.address, residual: first.trb.transferLength, code: .missedService,
                                            slot: endpoint.slot.id, endpoint: endpoint.dci), interrupter: first.trb.interrupterTarget)
                    continue
                case .now(let at):
                    microframe = at
                }
            }
            guard let packet = makePacket(endpoint, entries) else {
                // A TD this controller cannot carry out (a control transfer without a Setup
                // Stage, a bad TRB type): TRB Error on its first TRB, and skip it (§4.10.2.1).
                endpoint.ring = ring
                post(XHCIEvent.transfer(trb: entries[0].address, residual: 0, code: .trbError,
                                        slot: endpoint.slot.id, endpoint: endpoint.dci), interrupter: entries[0].trb.interrupterTarget)
                continue
            }
            if let microframe { packet.microframe = UInt32(truncatingIfNeeded: microframe & 0x3fff) }
            endpoint.transfer = XHCIEndpoint.Transfer(packet: packet, entries: entries, ringAfter: ring)
            if packet.endpoint == USBPacket.noOpEndpoint {
                packet.complete()
            } else if !packet.isCompleted {
                packet.owner = endpoint
                core.submit(packet)
            }
            if packet.isCompleted {
                finishTransfer(endpoint)
            } else {
                packet.isPending = true
                return
            }
        }
    }

    /// The device finished a packet it had kept pending.
    func transferCompleted(_ endpoint: XHCIEndpoint, _ packet: USBPacket) {
        guard let transfer = endpoint.transfer, transfer.packet === packet else { return }
        if packet.status == .stall { endpoint.slot.device?.noteStall(packet.endpoint) }
        finishTransfer(endpoint)
        runEndpoint(endpoint)
    }

    /// Reads the next transfer: one TD, or on a control endpoint the Setup, optional Data and
    /// Status TDs of one control transfer (§4.11.2.2). nil while incomplete.
    private func readTransfer(_ ring: inout XHCIRing, control: Bool) -> Result<[XHCIRingEntry]?, XHCIRingError> {
        var copy = ring
        var entries: [XHCIRingEntry] = []
        switch copy.nextTD(bus) {
        case .failure(let error): return .failure(error)
        case .success(nil): return .success(nil)
        case .success(let td?): entries = td
        }
        // A control transfer continues until its Status Stage; anything else is one TD.
        if control, entries.first?.trb.type == .setupStage {
            while entries.last?.trb.type != .statusStage && entries.count < XHCIRing.tdLimit {
                switch copy.nextTD(bus) {
                case .failure(let error): return .failure(error)
                case .success(nil): return .success(nil)
                case .success(let td?): entries += td
                }
            }
        }
        ring = copy
        return .success(entries)
    }

    private func buffers(_ entries: [XHCIRingEntry]) -> [Buffer] {
        entries.compactMap { entry in
            switch entry.trb.type {
            case .normal?, .dataStage?, .isoch?: return Buffer(entry: entry, length: entry.trb.transferLength)
            default: return nil
            }
        }
    }

    /// The packet for a transfer; nil if the TRBs do not form one.
    private func makePacket(_ endpoint: XHCIEndpoint, _ entries: [XHCIRingEntry]) -> USBPacket? {
        for entry in entries {
            switch entry.trb.type {
            case .normal?, .dataStage?, .isoch?, .setupStage?, .statusStage?, .eventData?, .noOp?: continue
            default: return nil
            }
        }
        let buffers = self.buffers(entries)
        let length = buffers.reduce(0) { $0 + $1.length }
        let setup: USBSetupPacket?
        let isIn: Bool
        if endpoint.type == .control {
            guard let first = entries.first, first.trb.type == .setupStage else {
                // A lone No-Op TD is fine on any ring.
                return entries.allSatisfy({ $0.trb.type == .noOp }) ? USBPacket(endpoint: USBPacket.noOpEndpoint, length: 0) : nil
            }
            // Setup Stage data is immediate: the 8 bytes are the parameter (§6.4.1.2.1).
            let packet = USBSetupPacket(first.trb.parameter)
            setup = packet
            isIn = packet.isIn
        } else {
            if entries.allSatisfy({ $0.trb.type == .noOp }) { return USBPacket(endpoint: USBPacket.noOpEndpoint, length: 0) }
            setup = nil
            isIn = endpoint.type.isIn
        }
        var data: [UInt8] = []
        if !isIn {
            data.reserveCapacity(length)
            for buffer in buffers where buffer.length > 0 {
                if buffer.entry.trb.immediateData {
                    // Immediate Data: up to 8 bytes in the parameter (§4.11.7).
                    let count = min(8, buffer.length)
                    data += (0..<count).map { UInt8(truncatingIfNeeded: buffer.entry.trb.parameter >> (8 * UInt64($0))) }
                } else {
                    switch bus.dmaRead(buffer.entry.trb.parameter, count: buffer.length) {
                    case .success(let bytes): data += bytes
                    case .failure: return USBPacket.dataBufferError(endpoint.address)
                    }
                }
            }
        }
        let address = endpoint.type == .control ? (isIn ? 0x80 : 0x00) : endpoint.address
        return USBPacket(endpoint: address, setup: setup, length: setup.map { min(Int($0.length), length) } ?? length, data: data)
    }

    /// Moves IN data to guest memory, posts the Transfer Events and advances the ring.
    func finishTransfer(_ endpoint: XHCIEndpoint) {
        guard let transfer = endpoint.transfer else { return }
        if Trace.mask & TraceGroup.usb.bit != 0 { traceTransfer(endpoint, transfer.packet) }
        endpoint.transfer = nil
        endpoint.ring = transfer.ringAfter
        let packet = transfer.packet
        let slot = endpoint.slot.id
        let dci = endpoint.dci
        var code: XHCICompletionCode
        switch packet.status ?? .transactionError {
        case .success: code = .success
        case .stall: code = .stallError
        case .transactionError: code = .usbTransactionError
        case .babble: code = .babbleDetected
        }
        if packet.isDataBufferError { code = .dataBufferError }
        let buffers = self.buffers(transfer.entries)
        var moved = packet.isIn ? min(packet.data.count, packet.length) : buffers.reduce(0) { $0 + $1.length }
        if code == .success, packet.isIn, moved > 0 {
            var offset = 0
            for buffer in buffers where offset < moved && buffer.length > 0 {
                let count = min(buffer.length, moved - offset)
                let result = packet.data.withUnsafeBytes { bytes in
                    bus.dmaWrite(buffer.entry.trb.parameter, from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)]))
                }
                if case .failure = result {
                    code = .dataBufferError
                    moved = offset
                    break
                }
                offset += count
            }
        }
        if code != .success {
            // The error is reported on the TRB where it happened: the first data TRB (or the
            // Status Stage of a control transfer without data); the endpoint halts (§4.10.2).
            let at = buffers.first?.entry ?? transfer.entries.last!
            post(XHCIEvent.transfer(trb: at.address, residual: at.trb.transferLength, code: code, slot: slot, endpoint: dci),
                 interrupter: at.trb.interrupterTarget)
            // Isochronous endpoints report the error on the TD and go on (§4.10.2: they never halt).
            if !endpoint.isIsochronous, code == .stallError || code == .babbleDetected || code == .usbTransactionError || code == .dataBufferError {
                endpoint.state = .halted
                _ = writeEndpointContext(endpoint)
            }
            return
        }
        // Walk the TRBs: an event for each with IOC, and for the one where a short IN packet
        // ended if it has ISP; the rest of a short TD is skipped, but a control transfer's
        // Status Stage still runs (§4.10.1.1).
        var remaining = moved
        var short = false
        var shortUnreported = false
        var transferred = 0
        for entry in transfer.entries {
            let trb = entry.trb
            switch trb.type {
            case .normal?, .dataStage?, .isoch?:
                if short {
                    // A short packet on a TRB without ISP or IOC is reported on the TD's next IOC
                    // TRB instead (QEMU's xhci_xfer_report does the same).
                    if shortUnreported && trb.interruptOnCompletion {
                        shortUnreported = false
                        post(XHCIEvent.transfer(trb: entry.address, residual: trb.transferLength, code: .shortPacket, slot: slot, endpoint: dci),
                             interrupter: trb.interrupterTarget, blockInterrupt: trb.blockEventInterrupt)
                    }
                    continue
                }
                let count = min(trb.transferLength, remaining)
                remaining -= count
                transferred += count
                if packet.isIn && count < trb.transferLength {
                    short = true
                    shortUnreported = !(trb.interruptOnShortPacket || trb.interruptOnCompletion)
                    if !shortUnreported {
                        post(XHCIEvent.transfer(trb: entry.address, residual: trb.transferLength - count, code: .shortPacket, slot: slot, endpoint: dci),
                             interrupter: trb.interrupterTarget, blockInterrupt: trb.blockEventInterrupt)
                    }
                } else if trb.interruptOnCompletion {
                    post(XHCIEvent.transfer(trb: entry.address, residual: 0, code: .success, slot: slot, endpoint: dci),
                         interrupter: trb.interrupterTarget, blockInterrupt: trb.blockEventInterrupt)
                }
            case .eventData?:
                // Event Data: the parameter is returned as is, the length is the TD's so far (§4.11.5.2).
                if short && trb.chain { continue }
                if trb.interruptOnCompletion {
                    post(XHCIEvent.transfer(trb: trb.parameter, residual: transferred, code: short ? .shortPacket : .success,
                                            slot: slot, endpoint: dci, eventData: true),
                         interrupter: trb.interrupterTarget, blockInterrupt: trb.blockEventInterrupt)
                }
            case .setupStage?, .statusStage?, .noOp?:
                if trb.type == .statusStage {
                    short = false
                    shortUnreported = false
                }
                if trb.interruptOnCompletion {
                    post(XHCIEvent.transfer(trb: entry.address, residual: 0, code: .success, slot: slot, endpoint: dci),
                         interrupter: trb.interrupterTarget, blockInterrupt: trb.blockEventInterrupt)
                }
            default:
                break
            }
        }
    }
}

extension XHCIController {
    enum IsochronousSlot {
        /// Run the TD now; it is scheduled in this absolute microframe.
        case now(UInt64)
        /// Its microframe has not come yet (`isochWait`).
        case wait
        /// Its frame has passed.
        case missed
    }

    /// When the isochronous TD whose Isoch TRB is `first` runs (xHCI 1.2 §4.11.2.5, §4.14.2).
    /// Start Isoch ASAP takes the service interval (2^Interval microframes) after the previous
    /// TD's when the TD was queued behind it, else the first aligned interval at or after now
    /// (the ring had run dry: the stream starts again); a Frame ID names
    /// a 1 ms frame modulo 2048, taken as the one nearest now. A frame that has wholly passed
    /// is missed. Transfers happen synchronously, so a TD whose microframe is still ahead waits
    /// for `poll` (between instruction slices; up to the machine's idle sleep when the guest
    /// idles) rather than being served early: a device never sees a frame MFINDEX has not reached.
    func scheduleIsochronous(_ endpoint: XHCIEndpoint, _ first: XHCIRingEntry) -> IsochronousSlot {
        let now = currentMicroframe
        let target: UInt64
        if let waiting = endpoint.isochWait, waiting.trb == first.address {
            target = waiting.microframe
        } else if first.trb.startIsochASAP {
            let period = UInt64(1) << UInt64(min(endpoint.interval, 15))
            if endpoint.isochStreaming {
                // Queued behind the previous TD: the interval right after it (it may already
                // have passed if the controller got here late; the TD then runs at once).
                target = endpoint.nextIsochMicroframe
            } else {
                let earliest = max(now, endpoint.nextIsochMicroframe)
                target = (earliest + period - 1) / period * period
            }
        } else {
            // The frame's first microframe, taken in the 2048-frame window centred on now (a
            // Frame ID is MFINDEX >> 3 modulo 2048).
            var offset = Int64(first.trb.frameID * 8) - Int64(now & 0x3fff)
            if offset >= 0x2000 { offset -= 0x4000 } else if offset < -0x2000 { offset += 0x4000 }
            let candidate = Int64(now) + offset
            if candidate + 8 <= Int64(now) {
                endpoint.isochWait = nil
                return .missed
            }
            target = UInt64(max(candidate, Int64(now)))
        }
        if target > now {
            endpoint.isochWait = (first.address, target)
            // From the guest's doorbell write: the TD runs at its microframe's instruction.
            let due = frameEpoch &+ target * 125_000, current = machineNanoseconds()
            timebase?.deadlineArmed(inNanoseconds: due > current ? due - current : 0)
            return .wait
        }
        endpoint.isochWait = nil
        let period = UInt64(1) << UInt64(min(endpoint.interval, 15))
        endpoint.nextIsochMicroframe = target + period
        endpoint.isochStreaming = true
        return .now(target)
    }

    /// Nanoseconds until the earliest waiting isochronous TD's microframe (0 when one is due),
    /// nil when none waits: what the machine should sleep at most while every hart is in WFI
    /// (`DeviceLifecycle.nanosecondsUntilNextEvent`), so a TD is not served up to the idle
    /// sleep late.
    public func nanosecondsUntilNextEvent() -> UInt64? {
        guard let earliest = isochWaiting.compactMap({ $0.isochWait?.microframe }).min() else { return nil }
        let due = frameEpoch &+ earliest * 125_000
        let now = machineNanoseconds()
        return due > now ? due - now : 0
    }

    /// Runs the isochronous endpoints whose waiting TD's microframe has come (from `poll`).
    func runDueIsochronousEndpoints() {
        let now = currentMicroframe
        let due = isochWaiting.filter { ($0.isochWait?.microframe ?? 0) <= now }
        guard !due.isEmpty else { return }
        isochWaiting.removeAll { endpoint in due.contains { $0 === endpoint } }
        for endpoint in due {
            // Skip an endpoint that was stopped, dropped or whose slot went away meanwhile.
            guard endpoint.isochWait != nil, endpoint.state == .running, slots.indices.contains(endpoint.slot.id),
                  slots[endpoint.slot.id] === endpoint.slot, endpoint.slot.endpoints[endpoint.dci] === endpoint else { continue }
            runEndpoint(endpoint)
        }
    }
}

extension USBPacket {
    /// Marks the packet of a No-Op TD, which no device sees.
    static let noOpEndpoint: UInt8 = 0xff

    /// A packet whose OUT data could not be read from guest memory: it never reaches the
    /// device and completes with Data Buffer Error.
    static func dataBufferError(_ endpoint: UInt8) -> USBPacket {
        let packet = USBPacket(endpoint: endpoint, length: 0)
        packet.isDataBufferError = true
        packet.complete(.transactionError)
        return packet
    }
}

extension XHCIController {
    /// One `usb` trace event per finished transfer: slot, port, endpoint, the setup packet of a
    /// control transfer (USB 2.0 §9.3), length asked and moved, status.
    @inline(never)
    func traceTransfer(_ endpoint: XHCIEndpoint, _ packet: USBPacket) {
        var fields: KeyValuePairs<String, TraceValue> = [:]
        let port = UInt64(endpoint.slot.port?.number ?? 0)
        let status = packet.status.map { "\($0)" } ?? "none"
        if let setup = packet.setup {
            fields = ["slot": .number(UInt64(endpoint.slot.id)), "port": .number(port), "endpoint": .hex(UInt64(packet.endpoint)),
                      "request-type": .hex(UInt64(setup.requestType)), "request": .number(UInt64(setup.request)),
                      "value": .hex(UInt64(setup.value)), "index": .number(UInt64(setup.index)),
                      "length": .number(UInt64(packet.length)), "actual": .number(UInt64(packet.isIn ? min(packet.data.count, packet.length) : packet.length)),
                      "status": .text(status)]
            Trace.emit(.usb, device: bus.name, "control", fields)
        } else {
            fields = ["slot": .number(UInt64(endpoint.slot.id)), "port": .number(port), "endpoint": .hex(UInt64(packet.endpoint)),
                      "length": .number(UInt64(packet.length)), "actual": .number(UInt64(packet.isIn ? min(packet.data.count, packet.length) : packet.length)),
                      "status": .text(status)]
            Trace.emit(.usb, device: bus.name, "transfer", fields)
        }
    }
}

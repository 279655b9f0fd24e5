import Memory
/// A device slot (xHCI 1.2 §4.5): the controller's view of one addressed device, its output
/// Device Context in guest memory and its endpoints by Device Context Index (1 = EP0, 2n = EP n
/// OUT, 2n + 1 = EP n IN; §4.5.1).
public final class XHCIDeviceSlot {
    public let id: Int
    public var state: XHCISlotState = .disabledOrEnabled
    /// The root-hub port the device is on (from the Slot Context of Address Device).
    public var port: XHCIPort?
    /// Guest address of the output Device Context (DCBAA entry), read at Address Device.
    public var contextAddress: UInt64 = 0
    /// Endpoints by DCI; index 0 unused.
    public var endpoints: [XHCIEndpoint?] = [XHCIEndpoint?](repeating: nil, count: 32)

    init(id: Int) { self.id = id }

    public var device: USBDeviceCore? { port?.device }

    /// Where the Endpoint Context of `dci` lives in the output Device Context.
    func endpointContextAddress(_ dci: Int) -> UInt64 { contextAddress &+ UInt64(dci * XHCIContext.size) }
}

/// One endpoint of a slot: its transfer ring, state and the transfer the device is working on.
public final class XHCIEndpoint: USBPacketOwner {
    /// A TD (or, on a control endpoint, the Setup/Data/Status TDs of one control transfer)
    /// handed to the device and not finished yet.
    struct Transfer {
        var packet: USBPacket
        var entries: [XHCIRingEntry]
        /// The ring position after the transfer, committed when it completes.
        var ringAfter: XHCIRing
    }

    unowned let controller: XHCIController
    unowned let slot: XHCIDeviceSlot
    public let dci: Int
    public internal(set) var type: XHCIEndpointType
    public internal(set) var maxPacketSize: Int
    public internal(set) var ring: XHCIRing
    public internal(set) var state: XHCIEndpointState = .running
    var transfer: Transfer?
    /// Endpoint Context Interval: the service period is 2^interval microframes (§6.2.3.6).
    public let interval: UInt32
    /// Isochronous endpoints: the TD (its first TRB's address) waiting for the absolute
    /// microframe it is scheduled in, and the first microframe the next ASAP TD may use.
    var isochWait: (trb: UInt64, microframe: UInt64)?
    var nextIsochMicroframe: UInt64 = 0
    /// Whether the next TD was on the ring when the previous one was served: an ASAP TD then
    /// continues the stream in the following service interval, even if the controller (which
    /// serves TDs between instruction slices) got to it late; after the ring ran dry it starts
    /// afresh at the next interval after now.
    var isochStreaming = false

    public var isIsochronous: Bool { type == .isochIn || type == .isochOut }

    init(controller: XHCIController, slot: XHCIDeviceSlot, dci: Int, context: XHCIContext) {
        self.controller = controller
        self.slot = slot
        self.dci = dci
        type = context.endpointType
        maxPacketSize = context.maxPacketSize
        interval = context.interval
        ring = XHCIRing(dequeue: context.dequeue & ~0xf, cycle: context.dequeue & 1 != 0)
    }

    /// The USB endpoint address: DCI 1 is EP0; DCI 2n is EP n OUT, 2n + 1 is EP n IN.
    public var address: UInt8 {
        if dci == 1 { return 0 }
        return UInt8(dci / 2) | (dci % 2 == 1 ? 0x80 : 0)
    }

    public func packetCompleted(_ packet: USBPacket) {
        controller.transferCompleted(self, packet)
    }

    /// Drops the transfer in progress: the device forgets its packet.
    func cancelTransfer() -> Transfer? {
        // A TD waiting for its frame is dropped with the rest; the controller forgets the
        // endpoint, so dropped endpoints never pile up in its waiting list.
        if isochWait != nil {
            isochWait = nil
            controller.isochWaiting.removeAll { $0 === self }
        }
        isochStreaming = false
        guard let transfer else { return nil }
        self.transfer = nil
        let packet = transfer.packet
        packet.owner = nil
        if !packet.isCompleted {
            packet.isPending = false
            slot.device?.device.cancel(packet)
        }
        return transfer
    }
}

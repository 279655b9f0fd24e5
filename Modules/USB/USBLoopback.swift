import Memory
/// The example device of docs/usb.md: a vendor-specific function that echoes what the host sends.
///
/// - Bulk OUT 0x01: bytes are appended to a FIFO (up to `capacity`; beyond it the packet stays
///   pending until the host reads, which is how a device pushes back).
/// - Bulk IN 0x81: returns the FIFO's bytes; with nothing queued the packet stays pending and
///   completes when data arrives (asynchronous completion).
/// - Interrupt IN 0x82: a 4-byte little-endian count of queued bytes, sent whenever it changes.
/// - Vendor request 0x01 (IN): the queued byte count; 0x02 (OUT): empty the FIFO.
public final class USBLoopback: USBDevice {
    public static let vendorID: UInt16 = 0x1209
    public static let productID: UInt16 = 0x0004
    public static let productName = "Backplane USB Loopback"

    public enum VendorRequest {
        public static let queuedBytes: UInt8 = 0x01
        public static let clear: UInt8 = 0x02
    }

    public let speeds: Set<USBSpeed>
    public let descriptors: USBDescriptorSet
    public let capacity: Int
    public private(set) var fifo: [UInt8] = []
    private var pendingIn: USBPacket?
    private var pendingOut: USBPacket?
    private var pendingStatus: USBPacket?
    /// The count the interrupt endpoint last reported.
    private var reportedCount = 0

    public init(speeds: Set<USBSpeed> = [.full, .high, .superSpeed], capacity: Int = 64 * 1024) {
        self.speeds = speeds
        self.capacity = capacity
        descriptors = USBDescriptorSet(
            device: USBDeviceDescriptor(deviceClass: 0xff, vendorID: USBLoopback.vendorID, productID: USBLoopback.productID,
                                        manufacturerString: 1, productString: 2, serialNumberString: 3),
            configurations: [USBConfigurationDescriptor(interfaces: [
                USBInterfaceDescriptor(number: 0, interfaceClass: 0xff, endpoints: [
                    USBEndpointDescriptor(address: 0x01, type: .bulk, maxPacketSize: 64),
                    USBEndpointDescriptor(address: 0x81, type: .bulk, maxPacketSize: 64),
                    USBEndpointDescriptor(address: 0x82, type: .interrupt, maxPacketSize: 8, interval: 8),
                ]),
            ])],
            strings: ["Backplane", USBLoopback.productName, "LOOP0001"], speeds: speeds)
    }

    public func handleControl(_ packet: USBPacket) {
        guard let setup = packet.setup, setup.kind == .vendor else { return packet.complete(.stall) }
        switch setup.request {
        case VendorRequest.queuedBytes where setup.isIn:
            packet.complete(with: le32(UInt32(fifo.count)))
        case VendorRequest.clear where !setup.isIn:
            fifo = []
            service()
            packet.complete()
        default:
            packet.complete(.stall)
        }
    }

    public func handleData(_ packet: USBPacket) {
        switch packet.endpoint {
        case 0x01: pendingOut = packet
        case 0x81: pendingIn = packet
        case 0x82: pendingStatus = packet
        default: return packet.complete(.stall)
        }
        service()
    }

    public func cancel(_ packet: USBPacket) {
        if pendingIn === packet { pendingIn = nil }
        if pendingOut === packet { pendingOut = nil }
        if pendingStatus === packet { pendingStatus = nil }
    }

    public func reset() {
        fifo = []
        pendingIn = nil
        pendingOut = nil
        pendingStatus = nil
        reportedCount = 0
    }

    /// Moves data between the pending packets and the FIFO until nothing more can move. Each
    /// packet is taken out of its slot before `complete`, which may hand the device the next one.
    private func service() {
        var progress = true
        while progress {
            progress = false
            if let packet = pendingOut, fifo.count + packet.data.count <= capacity {
                pendingOut = nil
                fifo += packet.data
                packet.complete()
                progress = true
            }
            if let packet = pendingIn, !fifo.isEmpty {
                pendingIn = nil
                let count = min(packet.length, fifo.count)
                let chunk = Array(fifo.prefix(count))
                fifo.removeFirst(count)
                packet.complete(with: chunk)
                progress = true
            }
            if let packet = pendingStatus, fifo.count != reportedCount {
                pendingStatus = nil
                reportedCount = fifo.count
                packet.complete(with: le32(UInt32(fifo.count)))
                progress = true
            }
        }
    }
}

/// Snapshots: the FIFO's bytes and the count last reported; held packets are the controller's
/// to hand over again.
extension USBLoopback: USBDeviceSnapshot {
    public func saveDevice(to state: inout DeviceStateWriter) {
        state.put(fifo)
        state.put(reportedCount)
    }

    public func restoreDevice(from state: inout DeviceStateReader) throws(DeviceStateError) {
        let fifo = try state.data()
        guard fifo.count <= capacity else { throw .mismatch("loopback FIFO of \(fifo.count) bytes, capacity \(capacity)") }
        let reported = try state.int(in: 0...capacity, "reported count")
        self.fifo = fifo
        reportedCount = reported
        pendingIn = nil
        pendingOut = nil
        pendingStatus = nil
    }
}

import CBackplane
import Foundation
import USB

/// A USB device type a plugin registered (`usb->register_type`, usb.h): its descriptors copied
/// into a `USBDescriptorSet`, the C struct kept for its callbacks only.
public final class PluginUSBType {
    public let name: String
    public let summary: String
    public let properties: [PluginProperty]
    public let speeds: Set<USBSpeed>
    public let descriptors: USBDescriptorSet
    public unowned let plugin: LoadedPlugin
    let raw: bp_usb_device_type

    init(raw: bp_usb_device_type, name: String, summary: String, properties: [PluginProperty], speeds: Set<USBSpeed>,
         descriptors: USBDescriptorSet, plugin: LoadedPlugin) {
        var copy = raw
        copy.name = nil
        copy.summary = nil
        copy.properties = nil
        copy.device_descriptor = nil
        copy.configurations = nil
        copy.strings = nil
        copy.bos = nil
        self.raw = copy
        self.name = name
        self.summary = summary
        self.properties = properties
        self.speeds = speeds
        self.descriptors = descriptors
        self.plugin = plugin
    }

    /// BP_USB_SPEED_* bit of `speed`.
    static func bit(_ speed: USBSpeed) -> UInt32 { 1 << UInt32(speed.rawValue) }

    /// Checks a type's descriptors and copies them (usb.h `bp_usb_device_type`).
    static func descriptors(of raw: bp_usb_device_type, name: String) throws(PluginTypeValidation.TypeError) -> (Set<USBSpeed>, USBDescriptorSet) {
        typealias TypeError = PluginTypeValidation.TypeError
        let speeds = Set(USBSpeed.allCases.filter { raw.speeds & bit($0) != 0 })
        guard !speeds.isEmpty, raw.speeds & ~0xf == 0 else {
            throw TypeError.invalidDescriptor(type: name, reason: "speeds 0x\(String(raw.speeds, radix: 16)) is not a non-zero mask of BP_USB_SPEED_* bits")
        }
        guard raw.device_descriptor_length == 18, let devicePointer = raw.device_descriptor else {
            throw TypeError.invalidDescriptor(type: name, reason: "the device descriptor has \(raw.device_descriptor_length) bytes; it takes 18 (USB 2.0 §9.6.1)")
        }
        let device = Array(UnsafeBufferPointer(start: devicePointer, count: 18))
        guard device[0] == 18, device[1] == USBDescriptorType.device else {
            throw TypeError.invalidDescriptor(type: name, reason: "the device descriptor does not start with bLength 18 and bDescriptorType 1")
        }
        guard raw.configuration_count == 0 || raw.configurations != nil else {
            throw TypeError.invalidDescriptor(type: name, reason: "configuration_count is \(raw.configuration_count) but configurations is NULL")
        }
        var bySpeed: [USBSpeed: [[UInt8]]] = [:]
        for index in 0..<Int(raw.configuration_count) {
            let entry = raw.configurations![index]
            guard let bytes = entry.bytes, entry.length >= 9 else {
                throw TypeError.invalidDescriptor(type: name, reason: "configuration #\(index) has \(entry.length) bytes; it takes at least 9 (USB 2.0 §9.6.3)")
            }
            let copy = Array(UnsafeBufferPointer(start: bytes, count: Int(entry.length)))
            let total = Int(copy[2]) | Int(copy[3]) << 8
            guard copy[1] == USBDescriptorType.configuration, total == copy.count else {
                throw TypeError.invalidDescriptor(type: name, reason: "configuration #\(index) is not a configuration descriptor of wTotalLength \(entry.length) (it says type \(copy[1]), length \(total))")
            }
            for speed in speeds where entry.speeds & bit(speed) != 0 { bySpeed[speed, default: []].append(copy) }
        }
        for speed in speeds.sorted() where bySpeed[speed]?.count != Int(device[17]) {
            throw TypeError.invalidDescriptor(type: name, reason: "\(bySpeed[speed]?.count ?? 0) configurations for \(speed) speed, but the device descriptor says bNumConfigurations \(device[17])")
        }
        var strings: [String] = []
        if raw.string_count > 0 {
            guard let pointer = raw.strings else { throw TypeError.invalidDescriptor(type: name, reason: "string_count is \(raw.string_count) but strings is NULL") }
            for index in 0..<Int(raw.string_count) {
                guard let text = pointer[index] else { throw TypeError.invalidDescriptor(type: name, reason: "string \(index + 1) is NULL") }
                strings.append(String(cString: text))
            }
        }
        var bos: [UInt8]?
        if let pointer = raw.bos, raw.bos_length > 0 {
            bos = Array(UnsafeBufferPointer(start: pointer, count: Int(raw.bos_length)))
        }
        if speeds.contains(.superSpeed), bos == nil {
            throw TypeError.invalidDescriptor(type: name, reason: "super speed needs a BOS descriptor (USB 3.2 §9.6.2)")
        }
        return (speeds, USBDescriptorSet(device: device, configurations: bySpeed, strings: strings, bos: bos))
    }
}

/// A packet in the plugin's hands: the `bp_usb_packet *` is this box, retained from the handler
/// call until the plugin completes it or (when the type has `cancel`) the host cancels it. OUT
/// data is copied to C memory so its pointer stays valid that long.
final class PluginUSBPacket {
    let packet: USBPacket
    let outData: UnsafeMutablePointer<UInt8>?
    /// The device whose table lists this handle until it is completed.
    weak var owner: PluginUSBDevice?

    init(_ packet: USBPacket, owner: PluginUSBDevice) {
        self.packet = packet
        self.owner = owner
        if !packet.isIn, !packet.data.isEmpty {
            let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: packet.data.count)
            buffer.initialize(from: packet.data, count: packet.data.count)
            outData = buffer
        } else {
            outData = nil
        }
    }

    deinit { outData?.deallocate() }

    /// Hands the packet to the plugin: +1 retain that `release` undoes.
    func retainedHandle() -> OpaquePointer { OpaquePointer(Unmanaged.passRetained(self).toOpaque()) }

    static func from(_ handle: OpaquePointer?) -> PluginUSBPacket? {
        guard let handle else { return nil }
        return Unmanaged<PluginUSBPacket>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
    }

    static func release(_ handle: OpaquePointer) {
        Unmanaged<PluginUSBPacket>.fromOpaque(UnsafeRawPointer(handle)).release()
    }

    /// `usb->complete`: copies IN data, completes the packet and drops the plugin's handle.
    static func complete(_ handle: OpaquePointer?, status: Int32, data: UnsafeRawPointer?, length: UInt32) -> Int32 {
        guard let handle, let box = from(handle) else { return BP_ERR_INVALID }
        let result: USBPacketStatus
        switch status {
        case BP_USB_SUCCESS: result = .success
        case BP_USB_STALL: result = .stall
        case BP_USB_TRANSACTION_ERROR: result = .transactionError
        default: return BP_ERR_INVALID
        }
        let packet = box.packet
        if packet.isIn, result == .success {
            guard data != nil || length == 0 else { return BP_ERR_INVALID }
            // USBPacket.complete turns more than `length` bytes into a babble.
            packet.data = length == 0 ? [] : Array(UnsafeRawBufferPointer(start: data, count: Int(length)))
        }
        box.owner?.forget(packet)
        // The box may hold the last reference to the packet: release after completing.
        packet.complete(result)
        release(handle)
        return BP_OK
    }
}

/// One instance of a plugin USB type: a `USBDevice` whose handlers are the plugin's C callbacks.
/// The host's `USBDeviceCore` answers standard requests from `descriptors` as for a built-in
/// device. Packets are not on the guest's instruction hot path (one per transfer descriptor),
/// so each costs a small box and, for OUT data, one copy.
public final class PluginUSBDevice: USBDevice {
    public let name: String
    public let type: PluginUSBType
    public var speeds: Set<USBSpeed> { type.speeds }
    public var descriptors: USBDescriptorSet { type.descriptors }
    var instance: UnsafeMutableRawPointer?
    /// Packets handed to the plugin and not yet completed, by identity, so `cancel` finds the
    /// handle of a packet the host abandons.
    private var outstanding: [ObjectIdentifier: OpaquePointer] = [:]
    /// The speed its port runs it at; nil before `attached(at:)`.
    public private(set) var speed: USBSpeed?
    /// `speed` as a BP_USB_SPEED_* bit (0 before it is attached), what `usb->speed` reports.
    var speedBit: UInt32 { speed.map(PluginUSBType.bit) ?? 0 }
    let cName: UnsafeMutablePointer<CChar>

    init(name: String, type: PluginUSBType) {
        self.name = name
        self.type = type
        cName = strdup(name)!
    }

    deinit {
        for handle in outstanding.values { PluginUSBPacket.release(handle) }
        free(cName)
    }

    /// The `bp_usb_device *` handed to the plugin.
    var handle: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }

    static func from(_ handle: OpaquePointer?) -> PluginUSBDevice? {
        guard let handle else { return nil }
        return Unmanaged<PluginUSBDevice>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
    }

    /// Records the speed the port chose (what `usb->speed` reports).
    public func attached(at speed: USBSpeed) { self.speed = speed }

    /// Wraps `packet` for the plugin; the returned handle stays valid until completion or cancel.
    private func hand(_ packet: USBPacket) -> (OpaquePointer, PluginUSBPacket) {
        let box = PluginUSBPacket(packet, owner: self)
        let handle = box.retainedHandle()
        outstanding[ObjectIdentifier(packet)] = handle
        return (handle, box)
    }

    /// The plugin completed `packet`: its handle is no longer outstanding.
    func forget(_ packet: USBPacket) { outstanding[ObjectIdentifier(packet)] = nil }

    public func handleControl(_ packet: USBPacket) {
        guard let control = type.raw.control, let setup = packet.setup else { return packet.complete(.stall) }
        let (handle, box) = hand(packet)
        var raw = bp_usb_setup(request_type: setup.requestType, request: setup.request, value: setup.value,
                               index: setup.index, length: setup.length)
        control(instance, handle, &raw, box.outData)
    }

    public func handleData(_ packet: USBPacket) {
        guard let transfer = type.raw.transfer else { return packet.complete(.stall) }
        let (handle, box) = hand(packet)
        transfer(instance, handle, packet.endpoint, box.outData, UInt32(truncatingIfNeeded: packet.isIn ? packet.length : packet.data.count))
    }

    public func cancel(_ packet: USBPacket) {
        let key = ObjectIdentifier(packet)
        guard let handle = outstanding[key] else { return }
        // Without a cancel callback the plugin keeps its handle until it completes it (which
        // the packet then ignores); with one, the handle ends when the callback returns.
        guard let cancel = type.raw.cancel else { return }
        outstanding[key] = nil
        cancel(instance, handle)
        PluginUSBPacket.release(handle)
    }

    public func reset() { type.raw.reset?(instance) }

    public func configurationChanged(_ value: UInt8) { type.raw.configuration_changed?(instance, value) }

    public func interfaceChanged(_ interface: UInt8, alternateSetting: UInt8) {
        type.raw.interface_changed?(instance, interface, alternateSetting)
    }

    public func endpointReset(_ endpoint: UInt8) { type.raw.endpoint_reset?(instance, endpoint) }
}

extension HostInterface {
    /// `bp_usb_interface` (usb.h, ABI 1.1).
    static func makeUSB() -> bp_usb_interface {
        var table = bp_usb_interface()
        table.struct_size = UInt32(MemoryLayout<bp_usb_interface>.size)
        table.register_type = { handle, type in
            guard let plugin = LoadedPlugin.from(handle), let type else { return BP_ERR_INVALID }
            let copy = copyVersioned(UnsafeRawPointer(type), as: bp_usb_device_type.self, zero: bp_usb_device_type())
            return plugin.host.register(usb: copy, by: plugin)
        }
        table.complete = { handle, status, data, length in
            PluginUSBPacket.complete(handle, status: status, data: data, length: length)
        }
        table.device_name = { handle in UnsafePointer(PluginUSBDevice.from(handle)?.cName) }
        table.speed = { handle in PluginUSBDevice.from(handle)?.speedBit ?? 0 }
        return table
    }
}

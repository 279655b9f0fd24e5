import CBackplane
import Foundation
import Memory
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

    /// Checks a type's descriptors and copies them (usb.h `bp_usb_device_type`). Every
    /// problem is reported, one reason each; only a missing device descriptor or configuration
    /// framing stops the checks that depend on it.
    static func descriptors(of raw: bp_usb_device_type, name: String) throws(PluginTypeValidation.TypeError) -> (Set<USBSpeed>, USBDescriptorSet) {
        typealias TypeError = PluginTypeValidation.TypeError
        var problems = PluginTypeValidation.Problems(type: name)
        let speeds = Set(USBSpeed.allCases.filter { raw.speeds & bit($0) != 0 })
        if speeds.isEmpty || raw.speeds & ~0xf != 0 {
            problems.add("speeds 0x\(String(raw.speeds, radix: 16)) is not a non-zero mask of BP_USB_SPEED_* bits")
        }
        var device: [UInt8]?
        if raw.device_descriptor_length == 18, let devicePointer = raw.device_descriptor {
            let bytes = Array(UnsafeBufferPointer(start: devicePointer, count: 18))
            if bytes[0] == 18, bytes[1] == USBDescriptorType.device {
                device = bytes
            } else {
                problems.add("the device descriptor does not start with bLength 18 and bDescriptorType 1")
            }
        } else {
            problems.add("the device descriptor has \(raw.device_descriptor_length) bytes; it takes 18 (USB 2.0 §9.6.1)")
        }
        var bySpeed: [USBSpeed: [[UInt8]]] = [:]
        /// Configurations whose framing is sound, by index, for the deeper checks.
        var framed: [(index: Int, bytes: [UInt8], speeds: UInt32)] = []
        if raw.configuration_count != 0 && raw.configurations == nil {
            problems.add("configuration_count is \(raw.configuration_count) but configurations is NULL")
        } else {
            for index in 0..<Int(raw.configuration_count) {
                let entry = raw.configurations![index]
                guard let bytes = entry.bytes, entry.length >= 9 else {
                    problems.add("configuration #\(index) has \(entry.length) bytes; it takes at least 9 (USB 2.0 §9.6.3)")
                    continue
                }
                let copy = Array(UnsafeBufferPointer(start: bytes, count: Int(entry.length)))
                let total = Int(copy[2]) | Int(copy[3]) << 8
                guard copy[1] == USBDescriptorType.configuration, total == copy.count else {
                    problems.add("configuration #\(index) is not a configuration descriptor of wTotalLength \(entry.length) (it says type \(copy[1]), length \(total))")
                    continue
                }
                for speed in speeds where entry.speeds & bit(speed) != 0 { bySpeed[speed, default: []].append(copy) }
                framed.append((index, copy, entry.speeds))
            }
        }
        if let device {
            for speed in speeds.sorted() where bySpeed[speed]?.count != Int(device[17]) {
                problems.add("\(bySpeed[speed]?.count ?? 0) configurations for \(speed) speed, but the device descriptor says bNumConfigurations \(device[17])")
            }
        }
        checkEndpointsAndStrings(raw, device: device, configurations: framed, speeds: speeds, into: &problems)
        var strings: [String] = []
        if raw.string_count > 0 {
            if let pointer = raw.strings {
                for index in 0..<Int(raw.string_count) {
                    if let text = pointer[index] { strings.append(String(cString: text)) } else { problems.add("string \(index + 1) is NULL") }
                }
            } else {
                problems.add("string_count is \(raw.string_count) but strings is NULL")
            }
        }
        var bos: [UInt8]?
        if let pointer = raw.bos, raw.bos_length > 0 {
            bos = Array(UnsafeBufferPointer(start: pointer, count: Int(raw.bos_length)))
        }
        if speeds.contains(.superSpeed), bos == nil {
            problems.add("super speed needs a BOS descriptor (USB 3.2 §9.6.2)")
        }
        PluginTypeValidation.snapshotHooks(save: raw.save != nil, restore: raw.restore != nil, into: &problems)
        try problems.finish()
        return (speeds, USBDescriptorSet(device: device!, configurations: bySpeed, strings: strings, bos: bos))
    }
}

extension PluginUSBType {
    /// What USB 2.0 §9.6 and the packet-size rules of §5.5.3, 5.6.3, 5.7.3, 5.8.3 (and USB 3.2
    /// §9.6.6 at super speed) require of the descriptors beyond their framing: each
    /// interface's bNumEndpoints equals the endpoint descriptors that follow it, every
    /// wMaxPacketSize and bInterval is legal at every speed its configuration is given for,
    /// a default interface setting has no isochronous bandwidth, bMaxPacketSize0 suits the
    /// speeds, and every string index names a string the type has.
    static func checkEndpointsAndStrings(_ raw: bp_usb_device_type, device: [UInt8]?, configurations: [(index: Int, bytes: [UInt8], speeds: UInt32)],
                                         speeds: Set<USBSpeed>, into problems: inout PluginTypeValidation.Problems) {
        let strings = Int(raw.string_count)
        if let device {
            for (field, offset) in [("iManufacturer", 14), ("iProduct", 15), ("iSerialNumber", 16)] where Int(device[offset]) > strings {
                problems.add("device descriptor \(field) is \(device[offset]) but the type has \(strings) strings")
            }
            let packet0 = device[7]
            for speed in speeds.sorted() {
                let legal: [UInt8]
                switch speed {
                case .low: legal = [8]
                case .full: legal = [8, 16, 32, 64]
                case .high: legal = [64]
                default: legal = [] // the core sets 9 (512 bytes) at super speed
                }
                if !legal.isEmpty, !legal.contains(packet0) {
                    problems.add("device descriptor bMaxPacketSize0 \(packet0) is not \(legal.map(String.init).joined(separator: ", ")) at \(speed) speed (USB 2.0 §5.5.3)")
                }
            }
        }
        for (index, bytes, mask) in configurations {
            let where_ = "configuration #\(index)"
            if Int(bytes[6]) > strings {
                problems.add("\(where_) iConfiguration is \(bytes[6]) but the type has \(strings) strings")
            }
            let entrySpeeds = speeds.filter { mask & bit($0) != 0 }.sorted()
            var interface: (number: UInt8, alternate: UInt8, declared: Int, found: Int)?
            func close(_ problems: inout PluginTypeValidation.Problems) {
                guard let current = interface, current.declared != current.found else { return }
                problems.add("\(where_) interface \(current.number) alternate \(current.alternate): bNumEndpoints is \(current.declared) but \(current.found) endpoint descriptors follow it (USB 2.0 §9.6.5)")
            }
            var cursor = Int(bytes[0])
            while cursor + 2 <= bytes.count {
                let length = Int(bytes[cursor])
                guard length >= 2, cursor + length <= bytes.count else {
                    problems.add("\(where_): the descriptor at byte \(cursor) has bLength \(length), which runs past wTotalLength \(bytes.count)")
                    break
                }
                let kind = bytes[cursor + 1]
                if kind == USBDescriptorType.interface, length >= 9 {
                    close(&problems)
                    interface = (bytes[cursor + 2], bytes[cursor + 3], Int(bytes[cursor + 4]), 0)
                    if Int(bytes[cursor + 8]) > strings {
                        problems.add("\(where_) interface \(bytes[cursor + 2]) iInterface is \(bytes[cursor + 8]) but the type has \(strings) strings")
                    }
                } else if kind == USBDescriptorType.endpoint, length >= 7 {
                    let address = bytes[cursor + 2]
                    let endpoint = "\(where_) endpoint 0x\(String(address, radix: 16))"
                    if interface == nil {
                        problems.add("\(where_): endpoint 0x\(String(address, radix: 16)) comes before any interface descriptor")
                    } else {
                        interface!.found += 1
                    }
                    let transfer = bytes[cursor + 3] & 0x3
                    let raw = UInt16(bytes[cursor + 4]) | UInt16(bytes[cursor + 5]) << 8
                    let interval = bytes[cursor + 6]
                    for speed in entrySpeeds {
                        if let problem = packetSizeProblem(transfer: transfer, raw: raw, speed: speed) {
                            problems.add("\(endpoint) wMaxPacketSize \(raw & 0x7ff): \(problem)")
                        }
                        if let problem = intervalProblem(transfer: transfer, interval: interval, speed: speed) {
                            problems.add("\(endpoint) bInterval \(interval): \(problem)")
                        }
                    }
                    // USB 2.0 §5.6.3: "All device default interface settings must not include
                    // any isochronous endpoints with non-zero data payload sizes": bandwidth is
                    // claimed by selecting an alternate setting.
                    if transfer == 1, raw & 0x7ff != 0, let current = interface, current.alternate == 0 {
                        problems.add("\(endpoint): an isochronous endpoint in interface \(current.number)'s default setting (alternate 0) must have wMaxPacketSize 0; put the bandwidth in an alternate setting (USB 2.0 §5.6.3)")
                    }
                }
                cursor += length
            }
            close(&problems)
        }
    }

    /// Why wMaxPacketSize `raw` is not legal for a `transfer` endpoint (1 iso, 2 bulk,
    /// 3 interrupt) at `speed`, or nil.
    static func packetSizeProblem(transfer: UInt8, raw: UInt16, speed: USBSpeed) -> String? {
        let size = Int(raw & 0x7ff)
        let extra = Int(raw >> 11) & 0x3
        let kind = ["control", "isochronous", "bulk", "interrupt"][Int(transfer)]
        if raw >> 13 != 0 { return "bits 15:13 are reserved and must be zero (USB 2.0 §9.6.6)" }
        if extra != 0, !(speed == .high && (transfer == 1 || transfer == 3)) {
            return "bits 12:11 (additional transactions per microframe) are \(extra); only high-speed isochronous and interrupt endpoints have them (USB 2.0 §9.6.6)"
        }
        switch (speed, transfer) {
        case (.low, 1), (.low, 2): return "a low-speed device has no \(kind) endpoints (USB 2.0 §5.6.3, §5.8.3)"
        case (.low, 3): return size <= 8 ? nil : "a low-speed interrupt endpoint takes at most 8 bytes (USB 2.0 §5.7.3)"
        case (.full, 2): return [8, 16, 32, 64].contains(size) ? nil : "a full-speed bulk endpoint takes 8, 16, 32 or 64 bytes (USB 2.0 §5.8.3)"
        case (.full, 3): return size <= 64 ? nil : "a full-speed interrupt endpoint takes at most 64 bytes (USB 2.0 §5.7.3)"
        case (.full, 1): return size <= 1023 ? nil : "a full-speed isochronous endpoint takes at most 1023 bytes (USB 2.0 §5.6.3)"
        case (.high, 2): return size == 512 ? nil : "a high-speed bulk endpoint takes exactly 512 bytes (USB 2.0 §5.8.3)"
        case (.high, 1), (.high, 3):
            if size > 1024 { return "a high-speed \(kind) endpoint takes at most 1024 bytes (USB 2.0 §5.6.3, §5.7.3)" }
            if extra == 3 { return "bits 12:11 (additional transactions) are 3, a reserved value (USB 2.0 §9.6.6)" }
            // Table 9-14: 2 transactions per microframe take 513-1024 bytes each, 3 take 683-1024.
            if extra == 1, size < 513 { return "2 transactions per microframe (bits 12:11 = 1) take 513...1024 bytes each (USB 2.0 Table 9-14)" }
            if extra == 2, size < 683 { return "3 transactions per microframe (bits 12:11 = 2) take 683...1024 bytes each (USB 2.0 Table 9-14)" }
            return nil
        case (.superSpeed, 2): return size == 1024 ? nil : "a super-speed bulk endpoint takes exactly 1024 bytes (USB 3.2 §9.6.6)"
        case (.superSpeed, 1), (.superSpeed, 3): return size <= 1024 ? nil : "a super-speed \(kind) endpoint takes at most 1024 bytes (USB 3.2 §9.6.6)"
        default: return nil
        }
    }

    /// Why bInterval `interval` is not legal for a `transfer` endpoint at `speed` (USB 2.0
    /// §9.6.6, USB 3.2 §9.6.6), or nil. Isochronous endpoints poll every 2^(bInterval-1)
    /// (micro)frames, 1...16, at every speed; interrupt endpoints take 1...255 frames at low and
    /// full speed and 2^(bInterval-1) microframes, 1...16, at high and super speed.
    static func intervalProblem(transfer: UInt8, interval: UInt8, speed: USBSpeed) -> String? {
        switch (transfer, speed) {
        case (1, _):
            return (1...16).contains(interval) ? nil : "an isochronous endpoint takes 1...16 (a period of 2^(bInterval-1) \(speed == .full ? "frames" : "microframes"), USB 2.0 §9.6.6)"
        case (3, .low), (3, .full):
            return interval >= 1 ? nil : "a \(speed)-speed interrupt endpoint takes 1...255 frames (USB 2.0 §9.6.6)"
        case (3, _):
            return (1...16).contains(interval) ? nil : "a \(speed)-speed interrupt endpoint takes 1...16 (2^(bInterval-1) microframes, USB 2.0 §9.6.6)"
        default:
            return nil
        }
    }
}

/// A packet in the plugin's hands: the `bp_usb_packet *` is a checked token (PluginHandles)
/// for this box, which its device's `outstanding` table keeps from the handler call until the
/// plugin completes it or (when the type has `cancel`) the host cancels it. OUT data is copied
/// to C memory so its pointer stays valid that long. Completing twice, completing a cancelled
/// packet or one of a destroyed device is refused with BP_ERR_INVALID and logged.
final class PluginUSBPacket {
    let packet: USBPacket
    let outData: UnsafeMutablePointer<UInt8>?
    /// The device whose table lists this box until it is completed.
    weak var owner: PluginUSBDevice?
    private(set) var handle: OpaquePointer!

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
        handle = PluginHandles.shared.issue(self, kind: .usbPacket, owner: owner.type.plugin.identity)
    }

    deinit { outData?.deallocate() }

    /// `usb->complete`: copies IN data, completes the packet and ends the plugin's handle.
    static func complete(_ handle: OpaquePointer?, status: Int32, data: UnsafeRawPointer?, length: UInt32) -> Int32 {
        guard let box = PluginHandles.shared.resolve(handle, .usbPacket, as: PluginUSBPacket.self, in: "usb->complete"),
              let device = box.owner else { return BP_ERR_INVALID }
        let plugin = device.type.plugin
        guard MachineThread.check(plugin.host, plugin: plugin.identity, function: "usb->complete") else { return BP_ERR_WRONG_THREAD }
        let result: USBPacketStatus
        switch status {
        case BP_USB_SUCCESS: result = .success
        case BP_USB_STALL: result = .stall
        case BP_USB_TRANSACTION_ERROR: result = .transactionError
        default:
            plugin.identity.refuse("usb->complete: unknown status \(status) for a packet of device '\(device.name)'; refused with BP_ERR_INVALID")
            return BP_ERR_INVALID
        }
        let packet = box.packet
        if packet.isIn, result == .success {
            guard data != nil || length == 0 else {
                plugin.identity.refuse("usb->complete: data is NULL with length \(length); refused with BP_ERR_INVALID")
                return BP_ERR_INVALID
            }
            // USBPacket.complete turns more than `length` bytes into a babble.
            packet.data = length == 0 ? [] : Array(UnsafeRawBufferPointer(start: data, count: Int(length)))
        }
        // Retire first: a plugin completing the same packet again from a callback that this
        // completion triggers is refused, not run twice.
        PluginHandles.shared.retire(box.handle)
        device.forget(packet)
        packet.complete(result)
        withExtendedLifetime(box) {}
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
    private var outstanding: [ObjectIdentifier: PluginUSBPacket] = [:]
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
        retirePackets()
        free(cName)
    }

    /// The `bp_usb_device *` handed to the plugin: a checked token (PluginHandles), valid from
    /// `create` until `destroy` returns.
    lazy var handle: OpaquePointer = PluginHandles.shared.issue(self, kind: .usbDevice, owner: type.plugin.identity)


    /// Ends every packet handle still outstanding (the device is destroyed).
    func retirePackets() {
        for box in outstanding.values { PluginHandles.shared.retire(box.handle) }
        outstanding.removeAll()
    }

    /// Records the speed the port chose (what `usb->speed` reports).
    public func attached(at speed: USBSpeed) { self.speed = speed }

    /// The port's USB state and host side (remote wakeup, the frame clock); nil until plugged.
    public private(set) weak var core: USBDeviceCore?

    public func plugged(into core: USBDeviceCore) {
        self.core = core
        speed = core.speed
    }

    /// `usb->remote_wakeup` (ABI 1.3).
    func remoteWakeup() -> Int32 {
        guard let core else {
            type.plugin.identity.refuse("usb->remote_wakeup: device '\(name)' is not plugged into a port; refused with BP_ERR_STATE")
            return BP_ERR_STATE
        }
        switch core.signalRemoteWakeup() {
        case .resumed:
            return BP_OK
        case .notEnabled:
            let why = core.configuration == 0 ? "the device is not configured"
                : !core.configurationSupportsRemoteWakeup ? "configuration \(core.configuration) does not declare remote wakeup (bmAttributes bit 5, USB 2.0 §9.6.3)"
                : "the host has not enabled it with SET_FEATURE(DEVICE_REMOTE_WAKEUP) (USB 2.0 §9.4.9)"
            type.plugin.identity.refuse("usb->remote_wakeup: device '\(name)': \(why); refused with BP_ERR_DISABLED")
            return BP_ERR_DISABLED
        case .notSuspended:
            // A normal answer (the host resumed the port first), not misuse: not logged.
            return BP_ERR_STATE
        case .notAttached:
            type.plugin.identity.refuse("usb->remote_wakeup: device '\(name)' is not plugged into a port; refused with BP_ERR_STATE")
            return BP_ERR_STATE
        }
    }

    /// `usb->frame_number` (ABI 1.3): the controller's MFINDEX.
    var frameNumber: UInt32 { core?.hostPort?.microframeIndex ?? UInt32.max }

    /// Wraps `packet` for the plugin; the returned handle stays valid until completion or cancel.
    private func hand(_ packet: USBPacket) -> (OpaquePointer, PluginUSBPacket) {
        let box = PluginUSBPacket(packet, owner: self)
        outstanding[ObjectIdentifier(packet)] = box
        return (box.handle, box)
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
        guard let box = outstanding[key] else { return }
        // Without a cancel callback the plugin keeps its handle until it completes it (which
        // the packet then ignores); with one, the handle ends when the callback returns.
        guard let cancel = type.raw.cancel else { return }
        outstanding[key] = nil
        cancel(instance, box.handle)
        PluginHandles.shared.retire(box.handle)
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
            guard let plugin = LoadedPlugin.from(handle, in: "usb->register_type"), let type else { return BP_ERR_INVALID }
            let copy = copyVersioned(UnsafeRawPointer(type), as: bp_usb_device_type.self, zero: bp_usb_device_type())
            return plugin.host.register(usb: copy, by: plugin)
        }
        table.complete = { handle, status, data, length in
            PluginUSBPacket.complete(handle, status: status, data: data, length: length)
        }
        table.device_name = { handle in UnsafePointer(PluginUSBDevice.from(handle, in: "usb->device_name")?.cName) }
        table.speed = { handle in PluginUSBDevice.from(handle, in: "usb->speed")?.speedBit ?? 0 }
        // ABI 1.3.
        table.remote_wakeup = { handle in PluginUSBDevice.call(handle, in: "usb->remote_wakeup") { $0.remoteWakeup() } }
        table.frame_number = { handle in PluginUSBDevice.from(handle, in: "usb->frame_number")?.frameNumber ?? UInt32.max }
        table.packet_frame = { handle in
            guard let box = PluginHandles.shared.resolve(handle, .usbPacket, as: PluginUSBPacket.self, in: "usb->packet_frame"),
                  let device = box.owner,
                  MachineThread.check(device.type.plugin.host, plugin: device.type.plugin.identity, function: "usb->packet_frame") else { return UInt32.max }
            return box.packet.microframe ?? UInt32.max
        }
        return table
    }
}

/// Snapshots (docs/snapshots.md): the xHCI saves what the bus knows of the device; the plugin's
/// own state goes through its `save`/`restore` hooks (`PluginSnapshotParticipant`). Packets the
/// plugin held are handed to it again by the restored controller.
extension PluginUSBDevice: USBDeviceSnapshot {
    public func saveDevice(to state: inout DeviceStateWriter) {}
    public func restoreDevice(from state: inout DeviceStateReader) throws(DeviceStateError) {}
}

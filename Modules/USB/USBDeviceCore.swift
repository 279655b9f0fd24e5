import Memory
/// Standard request codes (USB 2.0 Table 9-4, USB 3.2 Table 9-4).
public enum USBRequest {
    public static let getStatus: UInt8 = 0
    public static let clearFeature: UInt8 = 1
    public static let setFeature: UInt8 = 3
    public static let setAddress: UInt8 = 5
    public static let getDescriptor: UInt8 = 6
    public static let setDescriptor: UInt8 = 7
    public static let getConfiguration: UInt8 = 8
    public static let setConfiguration: UInt8 = 9
    public static let getInterface: UInt8 = 10
    public static let setInterface: UInt8 = 11
    public static let synchFrame: UInt8 = 12
    public static let setSEL: UInt8 = 48
    public static let setIsochronousDelay: UInt8 = 49
}

/// Feature selectors (USB 2.0 Table 9-6, USB 3.2 Table 9-7).
public enum USBFeature {
    public static let endpointHalt: UInt16 = 0
    public static let deviceRemoteWakeup: UInt16 = 1
    public static let testMode: UInt16 = 2
    public static let functionSuspend: UInt16 = 0
    public static let u1Enable: UInt16 = 48
    public static let u2Enable: UInt16 = 49
    public static let ltmEnable: UInt16 = 50
}

/// A device on a port: the device model plus the state every USB device has (USB 2.0 §9.1,
/// §9.4): address, configuration, alternate settings, endpoint halts. It answers the standard
/// requests so device models do not, and routes everything else to the model.
public final class USBDeviceCore {
    public let device: any USBDevice
    /// The speed of the port it is attached to.
    public let speed: USBSpeed
    public private(set) var address: UInt8 = 0
    /// bConfigurationValue in use; 0: not configured.
    public private(set) var configuration: UInt8 = 0
    /// Alternate setting per interface number of the current configuration.
    private var alternateSettings: [UInt8: UInt8] = [:]
    /// Endpoint addresses that are halted (USB 2.0 §9.4.5).
    private var halted: Set<UInt8> = []
    private var remoteWakeup = false
    /// The controller port the device is plugged into; nil once unplugged.
    public weak var hostPort: (any USBHostPort)?

    public init(device: any USBDevice, speed: USBSpeed) {
        self.device = device
        self.speed = speed
    }

    /// Bus reset (a port reset): default state, address 0 (USB 2.0 §9.1.1.3).
    public func reset() {
        address = 0
        configuration = 0
        alternateSettings = [:]
        halted = []
        remoteWakeup = false
        device.reset()
    }

    /// Whether the host enabled remote wakeup with SET_FEATURE(DEVICE_REMOTE_WAKEUP) (USB 2.0
    /// §9.4.9); a bus reset or CLEAR_FEATURE disables it.
    public var isRemoteWakeupEnabled: Bool { remoteWakeup }

    /// Whether the configuration in use declares remote wakeup (bmAttributes bit 5, §9.6.3).
    public var configurationSupportsRemoteWakeup: Bool {
        configurationBytes(configuration).map { $0[7] & 0x20 != 0 } ?? false
    }

    /// The device asks to wake the host (USB 2.0 §7.1.7.7): allowed only when the host enabled
    /// remote wakeup and the configuration declares it (§9.2.5.2); then the port must be
    /// suspended for resume signalling to mean anything.
    public func signalRemoteWakeup() -> USBRemoteWakeupResult {
        guard let hostPort else { return .notAttached }
        guard remoteWakeup, configuration != 0, configurationSupportsRemoteWakeup else { return .notEnabled }
        return hostPort.remoteWakeup(from: self) ? .resumed : .notSuspended
    }

    /// The host controller assigned `address` (xHCI issues SET_ADDRESS itself, §4.6.5).
    public func setAddress(_ address: UInt8) { self.address = address }

    public func isHalted(_ endpoint: UInt8) -> Bool { halted.contains(endpoint) }

    /// Clears a halt as CLEAR_FEATURE(ENDPOINT_HALT) does.
    public func clearHalt(_ endpoint: UInt8) {
        halted.remove(endpoint)
        device.endpointReset(endpoint)
    }

    // MARK: Descriptors at this speed

    /// The device descriptor as seen at `speed`: bMaxPacketSize0 is an exponent (9) and bcdUSB
    /// at least 3.0 at SuperSpeed (USB 3.2 §9.6.1); a SuperSpeed-capable device says 2.1 below it.
    public var deviceDescriptor: [UInt8] {
        var bytes = device.descriptors.device
        guard bytes.count >= 18 else { return bytes }
        let version = UInt16(bytes[2]) | UInt16(bytes[3]) << 8
        if speed == .superSpeed {
            bytes[7] = 9
            if version < 0x0300 { bytes[2] = 0x00; bytes[3] = 0x03 }
        } else if version >= 0x0300 {
            bytes[2] = 0x10
            bytes[3] = 0x02
        }
        return bytes
    }

    /// Configuration descriptors for the current speed (or the closest the device has).
    public var configurations: [[UInt8]] {
        let sets = device.descriptors.configurations
        if let exact = sets[speed] { return exact }
        return sets.sorted { abs($0.key.rawValue - speed.rawValue) < abs($1.key.rawValue - speed.rawValue) }.first?.value ?? []
    }

    /// The configuration descriptor whose bConfigurationValue is `value`.
    private func configurationBytes(_ value: UInt8) -> [UInt8]? {
        configurations.first { $0.count >= 9 && $0[5] == value }
    }

    /// Endpoint descriptors of the current configuration, with the interface and alternate
    /// setting each belongs to.
    public func endpoints(ofConfiguration value: UInt8? = nil) -> [(interface: UInt8, alternate: UInt8, address: UInt8, attributes: UInt8, maxPacketSize: UInt16, interval: UInt8)] {
        guard let bytes = configurationBytes(value ?? configuration) else { return [] }
        var result: [(UInt8, UInt8, UInt8, UInt8, UInt16, UInt8)] = []
        var offset = 0
        var interface: UInt8 = 0
        var alternate: UInt8 = 0
        while offset + 2 <= bytes.count {
            let length = Int(bytes[offset])
            guard length >= 2, offset + length <= bytes.count else { break }
            switch bytes[offset + 1] {
            case USBDescriptorType.interface where length >= 4:
                interface = bytes[offset + 2]
                alternate = bytes[offset + 3]
            case USBDescriptorType.endpoint where length >= 7:
                result.append((interface, alternate, bytes[offset + 2], bytes[offset + 3],
                               UInt16(bytes[offset + 4]) | UInt16(bytes[offset + 5]) << 8, bytes[offset + 6]))
            default:
                break
            }
            offset += length
        }
        return result
    }

    /// Whether `endpoint` exists in the current configuration and alternate settings.
    public func hasEndpoint(_ endpoint: UInt8) -> Bool {
        endpoint & 0x0f == 0 || endpoints().contains {
            $0.address == endpoint && alternateSettings[$0.interface, default: 0] == $0.alternate
        }
    }

    // MARK: Packets

    /// Hands a packet to the device: control packets go through the standard requests first;
    /// data packets reach the model unless the endpoint is halted (then they stall, USB 2.0
    /// §9.4.5). A data packet the model stalls halts its endpoint.
    public func submit(_ packet: USBPacket) {
        if let setup = packet.setup {
            if setup.kind == .standard, answerStandard(setup, packet) { return }
            device.handleControl(packet)
            return
        }
        guard hasEndpoint(packet.endpoint), configuration != 0 else { return packet.complete(.stall) }
        if halted.contains(packet.endpoint) { return packet.complete(.stall) }
        device.handleData(packet)
        // Isochronous pipes have no handshake and never halt (USB 2.0 §5.6.4).
        if packet.status == .stall, packet.microframe == nil { halted.insert(packet.endpoint) }
    }

    /// Marks `endpoint` halted after the model stalled a packet asynchronously.
    public func noteStall(_ endpoint: UInt8) {
        if endpoint & 0x0f != 0 { halted.insert(endpoint) }
    }

    /// Answers a standard request; false when the model should see it.
    private func answerStandard(_ setup: USBSetupPacket, _ packet: USBPacket) -> Bool {
        let recipient = setup.recipient
        switch (setup.request, recipient) {
        case (USBRequest.getDescriptor, .device?):
            guard let bytes = descriptor(type: UInt8(setup.value >> 8), index: UInt8(truncatingIfNeeded: setup.value)) else {
                packet.complete(.stall)
                return true
            }
            packet.complete(with: bytes)
        case (USBRequest.setAddress, .device?):
            address = UInt8(setup.value & 0x7f)
            packet.complete()
        case (USBRequest.getConfiguration, .device?):
            packet.complete(with: [configuration])
        case (USBRequest.setConfiguration, .device?):
            let value = UInt8(truncatingIfNeeded: setup.value)
            guard value == 0 || configurationBytes(value) != nil else {
                packet.complete(.stall)
                return true
            }
            configuration = value
            alternateSettings = [:]
            halted = []
            device.configurationChanged(value)
            packet.complete()
        case (USBRequest.getInterface, .interface?):
            let interface = UInt8(truncatingIfNeeded: setup.index)
            guard configuration != 0, interfaceExists(interface, alternate: nil) else {
                packet.complete(.stall)
                return true
            }
            packet.complete(with: [alternateSettings[interface, default: 0]])
        case (USBRequest.setInterface, .interface?):
            let interface = UInt8(truncatingIfNeeded: setup.index)
            let alternate = UInt8(truncatingIfNeeded: setup.value)
            guard configuration != 0, interfaceExists(interface, alternate: alternate) else {
                packet.complete(.stall)
                return true
            }
            alternateSettings[interface] = alternate
            // Endpoints of the new setting start with their toggles reset and no halt (§9.4.10).
            for endpoint in endpoints() where endpoint.interface == interface { halted.remove(endpoint.address) }
            device.interfaceChanged(interface, alternateSetting: alternate)
            packet.complete()
        case (USBRequest.getStatus, .device?):
            let selfPowered: UInt8 = (configurationBytes(configuration).map { $0[7] & 0x40 != 0 } ?? false) ? 1 : 0
            packet.complete(with: [selfPowered | (remoteWakeup ? 2 : 0), 0])
        case (USBRequest.getStatus, .interface?):
            packet.complete(with: [0, 0])
        case (USBRequest.getStatus, .endpoint?):
            let endpoint = UInt8(truncatingIfNeeded: setup.index)
            guard hasEndpoint(endpoint) else {
                packet.complete(.stall)
                return true
            }
            packet.complete(with: [halted.contains(endpoint) ? 1 : 0, 0])
        case (USBRequest.clearFeature, .endpoint?), (USBRequest.setFeature, .endpoint?):
            let endpoint = UInt8(truncatingIfNeeded: setup.index)
            guard setup.value == USBFeature.endpointHalt, hasEndpoint(endpoint) else {
                packet.complete(.stall)
                return true
            }
            if setup.request == USBRequest.setFeature {
                if endpoint & 0x0f != 0 { halted.insert(endpoint) }
            } else {
                clearHalt(endpoint)
            }
            packet.complete()
        case (USBRequest.clearFeature, .device?), (USBRequest.setFeature, .device?):
            switch setup.value {
            case USBFeature.deviceRemoteWakeup:
                remoteWakeup = setup.request == USBRequest.setFeature
            case USBFeature.u1Enable, USBFeature.u2Enable, USBFeature.ltmEnable:
                // Link power management: accepted, the emulated link never leaves U0.
                break
            default:
                packet.complete(.stall)
                return true
            }
            packet.complete()
        case (USBRequest.clearFeature, .interface?), (USBRequest.setFeature, .interface?):
            // FUNCTION_SUSPEND (USB 3.2 §9.4.9) is the only interface feature: accepted.
            packet.complete(setup.value == USBFeature.functionSuspend ? .success : .stall)
        case (USBRequest.setSEL, .device?), (USBRequest.setIsochronousDelay, .device?):
            // Exit latencies and isochronous delay (USB 3.2 §9.4.12-§9.4.13): nothing to model.
            packet.complete()
        default:
            return false
        }
        return true
    }

    /// Whether the current configuration has `interface` (with `alternate`, if given).
    private func interfaceExists(_ interface: UInt8, alternate: UInt8?) -> Bool {
        guard let bytes = configurationBytes(configuration) else { return false }
        var offset = 0
        while offset + 4 <= bytes.count {
            let length = Int(bytes[offset])
            guard length >= 2 else { return false }
            if bytes[offset + 1] == USBDescriptorType.interface, bytes[offset + 2] == interface,
               alternate == nil || bytes[offset + 3] == alternate! { return true }
            offset += length
        }
        return false
    }

    /// GET_DESCRIPTOR for the device recipient (USB 2.0 §9.4.3).
    private func descriptor(type: UInt8, index: UInt8) -> [UInt8]? {
        let set = device.descriptors
        switch type {
        case USBDescriptorType.device:
            return deviceDescriptor
        case USBDescriptorType.configuration:
            let all = configurations
            return Int(index) < all.count ? all[Int(index)] : nil
        case USBDescriptorType.string:
            return set.stringDescriptor(index)
        case USBDescriptorType.bos:
            return set.bos
        case USBDescriptorType.deviceQualifier:
            // Only a high-speed capable device running at USB 2 speed has one (§9.6.2).
            guard speed < .superSpeed, device.speeds.contains(.high), set.device.count >= 18 else { return nil }
            let d = deviceDescriptor
            return [10, USBDescriptorType.deviceQualifier, d[2], d[3], d[4], d[5], d[6], d[7], d[17], 0]
        default:
            return nil
        }
    }
}

/// Snapshots: the standard device state the bus sees (USB 2.0 §9.1): address, configuration,
/// alternate settings, halted endpoints, remote wakeup; then the model's own state.
extension USBDeviceCore {
    func save(to state: inout DeviceStateWriter) {
        state.put(address)
        state.put(configuration)
        let alternates = alternateSettings.sorted { $0.key < $1.key }
        state.put(UInt64(alternates.count))
        for (interface, setting) in alternates { state.put(interface); state.put(setting) }
        state.put(halted.sorted().map { UInt8($0) })
        state.put(remoteWakeup)
        var own = DeviceStateWriter()
        (device as? USBDeviceSnapshot)?.saveDevice(to: &own)
        state.put(own.bytes)
    }

    func restore(from state: inout DeviceStateReader) throws(DeviceStateError) {
        let address = try state.uint8("address"), configuration = try state.uint8("configuration")
        var alternates: [UInt8: UInt8] = [:]
        let count = try state.int(in: 0...256, "alternate settings")
        for _ in 0..<count { alternates[try state.uint8("interface")] = try state.uint8("alternate setting") }
        let halted = Set(try state.data())
        let wakeup = try state.bool()
        var own = DeviceStateReader(try state.data())
        try (device as? USBDeviceSnapshot)?.restoreDevice(from: &own)
        guard own.isAtEnd else { throw .mismatch("USB device state not all read") }
        self.address = address
        self.configuration = configuration
        alternateSettings = alternates
        self.halted = halted
        remoteWakeup = wakeup
    }
}

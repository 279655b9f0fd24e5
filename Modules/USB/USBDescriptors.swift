/// USB descriptors as data (USB 2.0 §9.6, USB 3.2 §9.6). A device is described by the bytes the
/// host reads with GET_DESCRIPTOR; these builders produce them, and `USBDescriptorSet` keeps the
/// result as plain byte arrays so a device written in C (a plugin) can hand over the same bytes.

/// Descriptor types (USB 2.0 Table 9-5, USB 3.2 Table 9-6).
public enum USBDescriptorType {
    public static let device: UInt8 = 1
    public static let configuration: UInt8 = 2
    public static let string: UInt8 = 3
    public static let interface: UInt8 = 4
    public static let endpoint: UInt8 = 5
    public static let deviceQualifier: UInt8 = 6
    public static let bos: UInt8 = 15
    public static let deviceCapability: UInt8 = 16
    public static let hid: UInt8 = 0x21
    public static let hidReport: UInt8 = 0x22
    public static let superSpeedEndpointCompanion: UInt8 = 48
}

/// The four transfer types (USB 2.0 §5.4-§5.8); raw values are bmAttributes bits 1:0.
public enum USBTransferType: UInt8, Sendable {
    case control = 0, isochronous = 1, bulk = 2, interrupt = 3
}

/// The standard device descriptor (USB 2.0 §9.6.1), 18 bytes.
public struct USBDeviceDescriptor: Sendable, Equatable {
    /// 0x0200 for a USB 2 device, 0x0320 for one that also runs at SuperSpeed (needs a BOS).
    public var usbVersion: UInt16
    public var deviceClass: UInt8 = 0
    public var deviceSubClass: UInt8 = 0
    public var deviceProtocol: UInt8 = 0
    /// Bytes at low/full/high speed (8, 16, 32 or 64); at SuperSpeed the core sends 9 (2^9 = 512).
    public var maxPacketSize0: UInt8 = 64
    public var vendorID: UInt16
    public var productID: UInt16
    public var deviceVersion: UInt16 = 0x0100
    /// String descriptor indices (0: none).
    public var manufacturerString: UInt8 = 0
    public var productString: UInt8 = 0
    public var serialNumberString: UInt8 = 0
    public var configurationCount: UInt8 = 1

    public init(usbVersion: UInt16 = 0x0200, deviceClass: UInt8 = 0, deviceSubClass: UInt8 = 0, deviceProtocol: UInt8 = 0,
                maxPacketSize0: UInt8 = 64, vendorID: UInt16, productID: UInt16, deviceVersion: UInt16 = 0x0100,
                manufacturerString: UInt8 = 0, productString: UInt8 = 0, serialNumberString: UInt8 = 0,
                configurationCount: UInt8 = 1) {
        self.usbVersion = usbVersion
        self.deviceClass = deviceClass
        self.deviceSubClass = deviceSubClass
        self.deviceProtocol = deviceProtocol
        self.maxPacketSize0 = maxPacketSize0
        self.vendorID = vendorID
        self.productID = productID
        self.deviceVersion = deviceVersion
        self.manufacturerString = manufacturerString
        self.productString = productString
        self.serialNumberString = serialNumberString
        self.configurationCount = configurationCount
    }

    public var bytes: [UInt8] {
        [18, USBDescriptorType.device] + le16(usbVersion)
            + [deviceClass, deviceSubClass, deviceProtocol, maxPacketSize0]
            + le16(vendorID) + le16(productID) + le16(deviceVersion)
            + [manufacturerString, productString, serialNumberString, configurationCount]
    }
}

/// One endpoint of an interface (USB 2.0 §9.6.6), with its SuperSpeed companion (USB 3.2 §9.6.7)
/// written after it when the configuration is built for SuperSpeed.
public struct USBEndpointDescriptor: Sendable, Equatable {
    /// Endpoint number 1...15 with bit 7 set for IN (device to host).
    public var address: UInt8
    public var type: USBTransferType
    /// Bytes per packet at full/high speed; SuperSpeed bulk uses 1024, the others keep this.
    public var maxPacketSize: UInt16
    /// Polling interval as bInterval (frames at full speed, 2^(n-1) microframes at high speed).
    public var interval: UInt8
    /// SuperSpeed companion: packets per burst minus one (0...15).
    public var maxBurst: UInt8 = 0

    public init(address: UInt8, type: USBTransferType, maxPacketSize: UInt16, interval: UInt8 = 0, maxBurst: UInt8 = 0) {
        self.address = address
        self.type = type
        self.maxPacketSize = maxPacketSize
        self.interval = interval
        self.maxBurst = maxBurst
    }

    public var isIn: Bool { address & 0x80 != 0 }
    public var number: Int { Int(address & 0x0f) }
}

/// One interface alternate setting (USB 2.0 §9.6.5) with the class descriptors that follow it
/// (a HID descriptor, for instance) and its endpoints.
public struct USBInterfaceDescriptor: Sendable, Equatable {
    public var number: UInt8
    public var alternateSetting: UInt8 = 0
    public var interfaceClass: UInt8
    public var interfaceSubClass: UInt8 = 0
    public var interfaceProtocol: UInt8 = 0
    public var nameString: UInt8 = 0
    /// Raw class-specific descriptors placed between the interface and its endpoints.
    public var classDescriptors: [UInt8] = []
    public var endpoints: [USBEndpointDescriptor]

    public init(number: UInt8, alternateSetting: UInt8 = 0, interfaceClass: UInt8, interfaceSubClass: UInt8 = 0,
                interfaceProtocol: UInt8 = 0, nameString: UInt8 = 0, classDescriptors: [UInt8] = [],
                endpoints: [USBEndpointDescriptor]) {
        self.number = number
        self.alternateSetting = alternateSetting
        self.interfaceClass = interfaceClass
        self.interfaceSubClass = interfaceSubClass
        self.interfaceProtocol = interfaceProtocol
        self.nameString = nameString
        self.classDescriptors = classDescriptors
        self.endpoints = endpoints
    }
}

/// A configuration (USB 2.0 §9.6.3): its interfaces, power and attributes.
public struct USBConfigurationDescriptor: Sendable, Equatable {
    public var value: UInt8 = 1
    public var nameString: UInt8 = 0
    /// bmAttributes: bit 7 is reserved-one, bit 6 self-powered, bit 5 remote wakeup.
    public var attributes: UInt8 = 0x80
    /// bMaxPower in 2 mA units (8 mA units at SuperSpeed; the value is kept as is).
    public var maxPower: UInt8 = 50
    public var interfaces: [USBInterfaceDescriptor]

    public init(value: UInt8 = 1, nameString: UInt8 = 0, attributes: UInt8 = 0x80, maxPower: UInt8 = 50,
                interfaces: [USBInterfaceDescriptor]) {
        self.value = value
        self.nameString = nameString
        self.attributes = attributes
        self.maxPower = maxPower
        self.interfaces = interfaces
    }

    /// The whole configuration as GET_DESCRIPTOR(CONFIGURATION) returns it at `speed`: at
    /// SuperSpeed every endpoint is followed by its companion and bulk packets are 1024 bytes;
    /// at high speed bulk packets are 512 bytes (USB 2.0 §5.8.3).
    public func bytes(speed: USBSpeed) -> [UInt8] {
        var body: [UInt8] = []
        for interface in interfaces {
            body += [9, USBDescriptorType.interface, interface.number, interface.alternateSetting,
                     UInt8(interface.endpoints.count), interface.interfaceClass, interface.interfaceSubClass,
                     interface.interfaceProtocol, interface.nameString]
            body += interface.classDescriptors
            for endpoint in interface.endpoints {
                var packet = endpoint.maxPacketSize
                if endpoint.type == .bulk {
                    if speed == .high { packet = 512 } else if speed == .superSpeed { packet = 1024 }
                }
                var interval = endpoint.interval
                // High and SuperSpeed express interrupt intervals as 2^(n-1) microframes
                // (USB 2.0 §9.6.6): convert a full-speed frame count to the nearest below.
                if endpoint.type == .interrupt, speed >= .high {
                    var frames = max(1, Int(endpoint.interval))
                    var exponent = 1
                    while frames > 1 { frames >>= 1; exponent += 1 }
                    interval = UInt8(min(16, exponent + 3))
                }
                body += [7, USBDescriptorType.endpoint, endpoint.address, endpoint.type.rawValue] + le16(packet) + [interval]
                if speed == .superSpeed {
                    let bytesPerInterval: UInt16 = endpoint.type == .interrupt || endpoint.type == .isochronous
                        ? packet * UInt16(endpoint.maxBurst + 1) : 0
                    body += [6, USBDescriptorType.superSpeedEndpointCompanion, endpoint.maxBurst, 0] + le16(bytesPerInterval)
                }
            }
        }
        let total = UInt16(9 + body.count)
        return [9, USBDescriptorType.configuration] + le16(total)
            + [UInt8(interfaces.count), value, nameString, attributes, maxPower] + body
    }
}

/// Every descriptor of a device, as the bytes the host reads. Built from the typed descriptors
/// above, or given as raw bytes (a plugin's tables).
public struct USBDescriptorSet: Sendable {
    /// The 18-byte device descriptor.
    public var device: [UInt8]
    /// Full configuration descriptors (configuration, interfaces, endpoints...), index 0 first,
    /// one array per speed the device supports: the core picks the one for the port's speed.
    public var configurations: [USBSpeed: [[UInt8]]]
    /// String descriptors 1... as text (index 0, the language list, is US English, 0x0409).
    public var strings: [String]
    /// The BOS descriptor with its device capabilities (required at SuperSpeed, USB 3.2 §9.6.2).
    public var bos: [UInt8]?

    public init(device: [UInt8], configurations: [USBSpeed: [[UInt8]]], strings: [String], bos: [UInt8]? = nil) {
        self.device = device
        self.configurations = configurations
        self.strings = strings
        self.bos = bos
    }

    /// Descriptors for `speeds` from typed values. The device descriptor's bcdUSB becomes 0x0320
    /// when SuperSpeed is among the speeds (and a BOS with the USB 2.0 extension and SuperSpeed
    /// capabilities is added, USB 3.2 §9.6.2.1-§9.6.2.2), else stays as given.
    public init(device: USBDeviceDescriptor, configurations: [USBConfigurationDescriptor], strings: [String], speeds: Set<USBSpeed>) {
        var device = device
        device.configurationCount = UInt8(configurations.count)
        if speeds.contains(.superSpeed) { device.usbVersion = max(device.usbVersion, 0x0320) }
        self.device = device.bytes
        var bySpeed: [USBSpeed: [[UInt8]]] = [:]
        for speed in speeds { bySpeed[speed] = configurations.map { $0.bytes(speed: speed) } }
        self.configurations = bySpeed
        self.strings = strings
        if device.usbVersion >= 0x0210 {
            // USB 2.0 Extension (LPM not supported) and SuperSpeed USB capability: supports
            // full, high and super speed, functionality from full speed, exit latencies 10/2047 µs.
            let usb2Extension: [UInt8] = [7, USBDescriptorType.deviceCapability, 0x02, 0, 0, 0, 0]
            let speedsSupported: UInt16 = 0x000e
            let superSpeed: [UInt8] = [10, USBDescriptorType.deviceCapability, 0x03, 0] + le16(speedsSupported) + [1, 10] + le16(2047)
            let total = UInt16(5 + usb2Extension.count + superSpeed.count)
            bos = [5, USBDescriptorType.bos] + le16(total) + [2] + usb2Extension + superSpeed
        } else {
            bos = nil
        }
    }

    /// String descriptor `index` (USB 2.0 §9.6.7): index 0 lists US English; others are UTF-16LE.
    public func stringDescriptor(_ index: UInt8) -> [UInt8]? {
        if index == 0 { return [4, USBDescriptorType.string, 0x09, 0x04] }
        guard Int(index) <= strings.count else { return nil }
        let units = Array(strings[Int(index) - 1].utf16.prefix(126))
        return [UInt8(2 + 2 * units.count), USBDescriptorType.string] + units.flatMap { le16($0) }
    }
}

/// Little-endian bytes of a 16-bit value (USB fields are little endian, USB 2.0 §8.1).
@inline(__always) func le16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xff), UInt8(value >> 8)] }

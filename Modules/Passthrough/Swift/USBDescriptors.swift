/// Standard USB descriptors and requests (USB 2.0 §9.3, §9.6), parsed from and kept as the
/// bytes the device sends, so a device model can hand them to the guest unchanged.

/// Descriptor types (USB 2.0 Table 9-5).
public enum USBDescriptorType {
    public static let device: UInt8 = 1
    public static let configuration: UInt8 = 2
    public static let string: UInt8 = 3
    public static let interface: UInt8 = 4
    public static let endpoint: UInt8 = 5
}

/// The 8-byte setup packet of a control transfer (USB 2.0 §9.3).
public struct USBSetupPacket: Sendable, Equatable, Hashable {
    /// Bit 7: direction (1 = device to host); bits 6:5 type; bits 4:0 recipient.
    public var requestType: UInt8
    public var request: UInt8
    public var value: UInt16
    public var index: UInt16
    /// Bytes of the data stage.
    public var length: UInt16

    public init(requestType: UInt8, request: UInt8, value: UInt16, index: UInt16, length: UInt16) {
        self.requestType = requestType
        self.request = request
        self.value = value
        self.index = index
        self.length = length
    }

    /// From the 8 bytes on the wire (little-endian fields).
    public init?(bytes: [UInt8]) {
        guard bytes.count == 8 else { return nil }
        self.init(requestType: bytes[0], request: bytes[1], value: UInt16(bytes[2]) | UInt16(bytes[3]) << 8,
                  index: UInt16(bytes[4]) | UInt16(bytes[5]) << 8, length: UInt16(bytes[6]) | UInt16(bytes[7]) << 8)
    }

    public var bytes: [UInt8] {
        [requestType, request, UInt8(value & 0xff), UInt8(value >> 8), UInt8(index & 0xff), UInt8(index >> 8),
         UInt8(length & 0xff), UInt8(length >> 8)]
    }

    /// Data flows from the device (IN).
    public var isDeviceToHost: Bool { requestType & 0x80 != 0 }

    /// Standard request codes (USB 2.0 Table 9-4).
    public static let getStatus: UInt8 = 0
    public static let clearFeature: UInt8 = 1
    public static let setFeature: UInt8 = 3
    public static let setAddress: UInt8 = 5
    public static let getDescriptor: UInt8 = 6
    public static let getConfiguration: UInt8 = 8
    public static let setConfiguration: UInt8 = 9
    public static let setInterface: UInt8 = 11

    /// GET_DESCRIPTOR of `type`/`index` to the device, `length` bytes (USB 2.0 §9.4.3).
    public static func getDescriptor(type: UInt8, index: UInt8, language: UInt16 = 0, length: UInt16) -> USBSetupPacket {
        USBSetupPacket(requestType: 0x80, request: getDescriptor, value: UInt16(type) << 8 | UInt16(index), index: language, length: length)
    }
}

/// The 18-byte device descriptor (USB 2.0 §9.6.1).
public struct USBDeviceDescriptor: Sendable, Equatable {
    public let bytes: [UInt8]

    /// Checks length and type; nil for anything else.
    public init?(bytes: [UInt8]) {
        guard bytes.count >= 18, bytes[0] == 18, bytes[1] == USBDescriptorType.device else { return nil }
        self.bytes = Array(bytes.prefix(18))
    }

    private func word(_ offset: Int) -> UInt16 { UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8 }

    /// BCD release of the USB spec (0x0200 = 2.0).
    public var usbVersion: UInt16 { word(2) }
    public var deviceClass: UInt8 { bytes[4] }
    public var deviceSubClass: UInt8 { bytes[5] }
    public var deviceProtocol: UInt8 { bytes[6] }
    /// Max packet size of endpoint 0 (bytes; for USB 3 the exponent, §9.6.1 of USB 3.2).
    public var maxPacketSize0: UInt8 { bytes[7] }
    public var vendorID: UInt16 { word(8) }
    public var productID: UInt16 { word(10) }
    public var deviceVersion: UInt16 { word(12) }
    public var manufacturerIndex: UInt8 { bytes[14] }
    public var productIndex: UInt8 { bytes[15] }
    public var serialNumberIndex: UInt8 { bytes[16] }
    public var configurationCount: UInt8 { bytes[17] }
}

/// One endpoint descriptor (USB 2.0 §9.6.6).
public struct USBEndpointDescriptor: Sendable, Equatable {
    /// Bit 7 direction (1 = IN), bits 3:0 number.
    public let address: UInt8
    public let attributes: UInt8
    public let maxPacketSize: UInt16
    public let interval: UInt8

    public var transferType: USBTransferType { USBTransferType(rawValue: attributes & 3)! }
    public var isIn: Bool { address & 0x80 != 0 }
}

/// One interface descriptor (alternate setting) with its endpoints (USB 2.0 §9.6.5).
public struct USBInterfaceDescriptor: Sendable, Equatable {
    public let number: UInt8
    public let alternateSetting: UInt8
    public let interfaceClass: UInt8
    public let interfaceSubClass: UInt8
    public let interfaceProtocol: UInt8
    public let endpoints: [USBEndpointDescriptor]
}

/// A whole configuration as GET_DESCRIPTOR(CONFIGURATION) returns it: the 9-byte header then
/// interface, endpoint and class-specific descriptors (USB 2.0 §9.6.3). `bytes` keeps all of
/// them; the parsed fields cover the standard ones.
public struct USBConfigurationDescriptor: Sendable, Equatable {
    public let bytes: [UInt8]
    public let interfaces: [USBInterfaceDescriptor]

    /// Parses `bytes` (exactly wTotalLength bytes); nil when the header or a descriptor length
    /// is inconsistent.
    public init?(bytes: [UInt8]) {
        guard bytes.count >= 9, bytes[0] == 9, bytes[1] == USBDescriptorType.configuration,
              Int(bytes[2]) | Int(bytes[3]) << 8 == bytes.count else { return nil }
        var interfaces: [USBInterfaceDescriptor] = []
        var current: (header: [UInt8], endpoints: [USBEndpointDescriptor])?
        func finish() {
            if let current {
                let h = current.header
                interfaces.append(USBInterfaceDescriptor(number: h[2], alternateSetting: h[3], interfaceClass: h[5],
                                                         interfaceSubClass: h[6], interfaceProtocol: h[7], endpoints: current.endpoints))
            }
        }
        var offset = 9
        while offset < bytes.count {
            let length = Int(bytes[offset])
            guard length >= 2, offset + length <= bytes.count else { return nil }
            let descriptor = Array(bytes[offset..<(offset + length)])
            switch descriptor[1] {
            case USBDescriptorType.interface where length >= 9:
                finish()
                current = (descriptor, [])
            case USBDescriptorType.endpoint where length >= 7:
                current?.endpoints.append(USBEndpointDescriptor(address: descriptor[2], attributes: descriptor[3],
                                                                maxPacketSize: UInt16(descriptor[4]) | UInt16(descriptor[5]) << 8,
                                                                interval: descriptor[6]))
            default:
                break  // class-specific descriptors stay in `bytes`
            }
            offset += length
        }
        finish()
        self.bytes = bytes
        self.interfaces = interfaces
    }

    public var interfaceCount: UInt8 { bytes[4] }
    /// What SET_CONFIGURATION takes to select this configuration.
    public var configurationValue: UInt8 { bytes[5] }
    /// Bit 6 self-powered, bit 5 remote wakeup.
    public var attributes: UInt8 { bytes[7] }
    /// Units of 2 mA (high speed and below).
    public var maxPower: UInt8 { bytes[8] }
}

/// Transfer types as the endpoint attributes encode them (USB 2.0 §9.6.6, bits 1:0).
public enum USBTransferType: UInt8, Sendable {
    case control = 0
    case isochronous = 1
    case bulk = 2
    case interrupt = 3
}

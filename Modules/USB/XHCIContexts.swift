import PCI

/// Slot states (xHCI 1.2 §4.5.3, Slot Context bits 31:27 of dword 3).
public enum XHCISlotState: UInt32, Sendable {
    case disabledOrEnabled = 0, `default` = 1, addressed = 2, configured = 3
}

/// Endpoint states (§4.8.3, Endpoint Context bits 2:0 of dword 0).
public enum XHCIEndpointState: UInt32, Sendable {
    case disabled = 0, running = 1, halted = 2, stopped = 3, error = 4
}

/// Endpoint types (Endpoint Context dword 1 bits 5:3, §6.2.3 Table 6-9).
public enum XHCIEndpointType: UInt32, Sendable {
    case notValid = 0, isochOut = 1, bulkOut = 2, interruptOut = 3, control = 4, isochIn = 5, bulkIn = 6, interruptIn = 7

    public var isIn: Bool { rawValue >= 5 }
    public var transferType: USBTransferType? {
        switch self {
        case .notValid: return nil
        case .control: return .control
        case .isochOut, .isochIn: return .isochronous
        case .bulkOut, .bulkIn: return .bulk
        case .interruptOut, .interruptIn: return .interrupt
        }
    }
}

/// A 32-byte context (HCCPARAMS1.CSZ = 0): eight little-endian dwords (§6.2).
public struct XHCIContext: Sendable, Equatable {
    public static let size = 32
    public var words: [UInt32]

    public init(words: [UInt32] = [UInt32](repeating: 0, count: 8)) { self.words = words }

    public static func read(_ bus: PCIBusInterface, _ address: UInt64) -> Result<XHCIContext, PCIDMAError> {
        bus.dmaRead(address, count: size).map { bytes in
            XHCIContext(words: (0..<8).map { i in
                UInt32(bytes[4 * i]) | UInt32(bytes[4 * i + 1]) << 8 | UInt32(bytes[4 * i + 2]) << 16 | UInt32(bytes[4 * i + 3]) << 24
            })
        }
    }

    public func write(_ bus: PCIBusInterface, _ address: UInt64) -> Result<Void, PCIDMAError> {
        bus.dmaWrite(address, bytes: words.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> (8 * UInt32($0))) } })
    }

    // MARK: Slot Context (§6.2.2)

    public var speedID: UInt32 { (words[0] >> 20) & 0xf }
    public var contextEntries: Int { Int(words[0] >> 27) }
    public var rootHubPort: Int { Int((words[1] >> 16) & 0xff) }
    public var slotInterrupterTarget: Int { Int(words[2] >> 22) }
    public var deviceAddress: UInt8 {
        get { UInt8(truncatingIfNeeded: words[3]) }
        set { words[3] = (words[3] & ~0xff) | UInt32(newValue) }
    }
    public var slotState: XHCISlotState {
        get { XHCISlotState(rawValue: words[3] >> 27) ?? .disabledOrEnabled }
        set { words[3] = (words[3] & 0x07ff_ffff) | newValue.rawValue << 27 }
    }

    // MARK: Endpoint Context (§6.2.3)

    public var endpointState: XHCIEndpointState {
        get { XHCIEndpointState(rawValue: words[0] & 7) ?? .error }
        set { words[0] = (words[0] & ~7) | newValue.rawValue }
    }
    public var interval: UInt32 { (words[0] >> 16) & 0xff }
    public var endpointType: XHCIEndpointType { XHCIEndpointType(rawValue: (words[1] >> 3) & 7)! }
    public var maxPacketSize: Int {
        get { Int(words[1] >> 16) }
        set { words[1] = (words[1] & 0xffff) | UInt32(newValue & 0xffff) << 16 }
    }
    public var maxPrimaryStreams: Int { Int((words[0] >> 10) & 0x1f) }
    /// TR Dequeue Pointer with the Dequeue Cycle State in bit 0.
    public var dequeue: UInt64 {
        get { UInt64(words[2]) | UInt64(words[3]) << 32 }
        set {
            words[2] = UInt32(truncatingIfNeeded: newValue)
            words[3] = UInt32(truncatingIfNeeded: newValue >> 32)
        }
    }

    // MARK: Input Control Context (§6.2.5.1)

    public var dropFlags: UInt32 { words[0] }
    public var addFlags: UInt32 { words[1] }
}

/// The Transfer Request Block, the 16-byte unit of every xHCI ring (xHCI 1.2 §4.11, §6.4): a
/// 64-bit parameter, a 32-bit status and a 32-bit control word whose bit 0 is the cycle bit and
/// bits 15:10 the type.
public struct XHCITRB: Sendable, Equatable {
    public var parameter: UInt64
    public var status: UInt32
    public var control: UInt32

    public static let size = 16

    public init(parameter: UInt64 = 0, status: UInt32 = 0, control: UInt32 = 0) {
        self.parameter = parameter
        self.status = status
        self.control = control
    }

    /// From 16 little-endian bytes.
    public init(bytes: [UInt8]) {
        func word(_ at: Int) -> UInt32 {
            UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
        }
        parameter = UInt64(word(0)) | UInt64(word(4)) << 32
        status = word(8)
        control = word(12)
    }

    public var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: 16)
        for i in 0..<8 { out[i] = UInt8(truncatingIfNeeded: parameter >> (8 * UInt64(i))) }
        for i in 0..<4 {
            out[8 + i] = UInt8(truncatingIfNeeded: status >> (8 * UInt32(i)))
            out[12 + i] = UInt8(truncatingIfNeeded: control >> (8 * UInt32(i)))
        }
        return out
    }

    public var cycle: Bool { control & 1 != 0 }
    public var type: XHCITRBType? { XHCITRBType(rawValue: UInt8((control >> 10) & 0x3f)) }
    public var rawType: UInt8 { UInt8((control >> 10) & 0x3f) }

    // Transfer TRB fields (§6.4.1).
    /// TRB Transfer Length, bits 16:0 of status.
    public var transferLength: Int { Int(status & 0x1ffff) }
    /// Interrupter Target, bits 31:22 of status.
    public var interrupterTarget: Int { Int(status >> 22) }
    /// Evaluate Next TRB (bit 1); on a Link TRB, Toggle Cycle.
    public var toggleCycle: Bool { control & (1 << 1) != 0 }
    /// Interrupt-on Short Packet (bit 2).
    public var interruptOnShortPacket: Bool { control & (1 << 2) != 0 }
    /// Chain (bit 4): the next TRB belongs to the same TD.
    public var chain: Bool { control & (1 << 4) != 0 }
    /// Interrupt On Completion (bit 5).
    public var interruptOnCompletion: Bool { control & (1 << 5) != 0 }
    /// Immediate Data (bit 6): the parameter holds up to 8 bytes of OUT data.
    public var immediateData: Bool { control & (1 << 6) != 0 }
    /// Block Event Interrupt (bit 9).
    public var blockEventInterrupt: Bool { control & (1 << 9) != 0 }
    /// Data Stage direction (bit 16, 1 = IN).
    public var directionIn: Bool { control & (1 << 16) != 0 }
    /// Setup Stage Transfer Type (bits 17:16): 0 no data, 2 OUT, 3 IN.
    public var transferType: Int { Int((control >> 16) & 3) }

    // Command TRB fields (§6.4.3).
    /// Slot ID, bits 31:24 of control.
    public var slotID: Int { Int(control >> 24) }
    /// Endpoint ID (DCI), bits 20:16 of control.
    public var endpointID: Int { Int((control >> 16) & 0x1f) }
    /// Block Set Address Request (Address Device, bit 9) / Deconfigure (Configure Endpoint, bit 9).
    public var bit9: Bool { control & (1 << 9) != 0 }
    /// Transfer State Preserve (Reset Endpoint, bit 9).
    public var transferStatePreserve: Bool { control & (1 << 9) != 0 }
    /// Suspend (Stop Endpoint, bit 23).
    public var suspend: Bool { control & (1 << 23) != 0 }
    /// Isoch TRB Frame ID (bits 30:20): the 1 ms frame, MFINDEX >> 3 modulo 2048, the TD is for
    /// (xHCI 1.2 §6.4.1.3).
    public var frameID: Int { Int((control >> 20) & 0x7ff) }
    /// Isoch TRB Start Isoch ASAP (bit 31): schedule in the next free service interval and
    /// ignore Frame ID.
    public var startIsochASAP: Bool { control & (1 << 31) != 0 }

    /// `control` with the type field set.
    public static func control(type: XHCITRBType, cycle: Bool) -> UInt32 {
        UInt32(type.rawValue) << 10 | (cycle ? 1 : 0)
    }
}

/// TRB types (xHCI 1.2 §6.4.6 Table 6-91).
public enum XHCITRBType: UInt8, Sendable {
    // Transfer ring.
    case normal = 1, setupStage = 2, dataStage = 3, statusStage = 4, isoch = 5, link = 6, eventData = 7, noOp = 8
    // Command ring.
    case enableSlot = 9, disableSlot = 10, addressDevice = 11, configureEndpoint = 12, evaluateContext = 13
    case resetEndpoint = 14, stopEndpoint = 15, setTRDequeuePointer = 16, resetDevice = 17, forceEvent = 18
    case negotiateBandwidth = 19, setLatencyTolerance = 20, getPortBandwidth = 21, forceHeader = 22, noOpCommand = 23
    case getExtendedProperty = 24, setExtendedProperty = 25
    // Event ring.
    case transferEvent = 32, commandCompletionEvent = 33, portStatusChangeEvent = 34, bandwidthRequestEvent = 35
    case doorbellEvent = 36, hostControllerEvent = 37, deviceNotificationEvent = 38, mfindexWrapEvent = 39
}

/// Completion codes of events (xHCI 1.2 §6.4.5 Table 6-90).
public enum XHCICompletionCode: UInt8, Sendable {
    case invalid = 0
    case success = 1
    case dataBufferError = 2
    case babbleDetected = 3
    case usbTransactionError = 4
    case trbError = 5
    case stallError = 6
    case resourceError = 7
    case bandwidthError = 8
    case noSlotsAvailable = 9
    case invalidStreamType = 10
    case slotNotEnabled = 11
    case endpointNotEnabled = 12
    case shortPacket = 13
    case ringUnderrun = 14
    case ringOverrun = 15
    case vfEventRingFull = 16
    case parameterError = 17
    case bandwidthOverrun = 18
    case contextStateError = 19
    case noPingResponse = 20
    case eventRingFull = 21
    case incompatibleDevice = 22
    case missedService = 23
    case commandRingStopped = 24
    case commandAborted = 25
    case stopped = 26
    case stoppedLengthInvalid = 27
    case stoppedShortPacket = 28
    case maxExitLatencyTooLarge = 29
}

/// Builders of event TRBs (§6.4.2). The cycle bit is the event ring's to set.
public enum XHCIEvent {
    /// Transfer Event (§6.4.2.1): the TRB it reports, residual bytes, code, slot and endpoint.
    public static func transfer(trb: UInt64, residual: Int, code: XHCICompletionCode, slot: Int, endpoint: Int,
                                eventData: Bool = false) -> XHCITRB {
        XHCITRB(parameter: trb, status: UInt32(code.rawValue) << 24 | UInt32(residual & 0xffffff),
                control: XHCITRB.control(type: .transferEvent, cycle: false) | (eventData ? 1 << 2 : 0)
                    | UInt32(endpoint) << 16 | UInt32(slot) << 24)
    }

    /// Command Completion Event (§6.4.2.2): the command TRB's address, code and slot.
    public static func commandCompletion(command: UInt64, code: XHCICompletionCode, slot: Int, parameter: UInt32 = 0) -> XHCITRB {
        XHCITRB(parameter: command, status: UInt32(code.rawValue) << 24 | (parameter & 0xffffff),
                control: XHCITRB.control(type: .commandCompletionEvent, cycle: false) | UInt32(slot) << 24)
    }

    /// Port Status Change Event (§6.4.2.3): port number (1-based) in parameter bits 31:24.
    public static func portStatusChange(port: Int) -> XHCITRB {
        XHCITRB(parameter: UInt64(port) << 24, status: UInt32(XHCICompletionCode.success.rawValue) << 24,
                control: XHCITRB.control(type: .portStatusChangeEvent, cycle: false))
    }

    /// Host Controller Event (§6.4.2.6), e.g. Event Ring Full Error.
    public static func hostController(code: XHCICompletionCode) -> XHCITRB {
        XHCITRB(status: UInt32(code.rawValue) << 24, control: XHCITRB.control(type: .hostControllerEvent, cycle: false))
    }
}

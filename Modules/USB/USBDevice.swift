/// The USB device protocol: what a USB device model implements, whatever controller it sits
/// behind. A device is its descriptors (data) plus four handlers: control requests the core
/// does not answer, data on the other endpoints, cancelling a pending packet, and reset.
///
/// The contract is deliberately C-shaped so a plugin ABI maps onto it one to one: descriptors are
/// byte arrays, packets are handles with an endpoint address, a setup packet, a byte buffer and
/// a `complete(status)` call that may come later (asynchronous completion), and every handler is
/// a plain function of the device. docs/usb.md walks through writing one.

/// Bus speeds (USB 2.0 §5.3.1.1, USB 3.2 §3.1); ordered slowest first.
public enum USBSpeed: Int, Sendable, Comparable, CaseIterable, CustomStringConvertible {
    /// 1.5 Mb/s.
    case low = 0
    /// 12 Mb/s.
    case full = 1
    /// 480 Mb/s.
    case high = 2
    /// 5 Gb/s (Gen 1).
    case superSpeed = 3

    public static func < (lhs: USBSpeed, rhs: USBSpeed) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Whether a USB 2 port (low, full, high) or a USB 3 port (SuperSpeed) carries it; xHCI
    /// exposes the two halves of a USB 3 connector as separate ports (xHCI 1.2 §4.19.7).
    public var isUSB3: Bool { self == .superSpeed }

    /// Board-file spelling.
    public var description: String {
        switch self {
        case .low: return "low"
        case .full: return "full"
        case .high: return "high"
        case .superSpeed: return "super"
        }
    }

    public init?(name: String) {
        guard let speed = USBSpeed.allCases.first(where: { $0.description == name }) else { return nil }
        self = speed
    }

    /// Default control endpoint packet size at this speed (USB 2.0 §5.5.3, USB 3.2 §9.6.1).
    public var defaultMaxPacketSize0: Int {
        switch self {
        case .low: return 8
        case .full, .high: return 64
        case .superSpeed: return 512
        }
    }
}

/// The 8-byte SETUP packet of a control transfer (USB 2.0 §9.3).
public struct USBSetupPacket: Sendable, Equatable {
    /// bmRequestType: bit 7 direction (1 = IN), bits 6:5 type, bits 4:0 recipient.
    public var requestType: UInt8
    public var request: UInt8
    public var value: UInt16
    public var index: UInt16
    /// Bytes of the data stage.
    public var length: UInt16

    public init(requestType: UInt8, request: UInt8, value: UInt16 = 0, index: UInt16 = 0, length: UInt16 = 0) {
        self.requestType = requestType
        self.request = request
        self.value = value
        self.index = index
        self.length = length
    }

    /// From the 8 bytes as one little-endian value (how an xHCI Setup Stage TRB carries them).
    public init(_ raw: UInt64) {
        requestType = UInt8(truncatingIfNeeded: raw)
        request = UInt8(truncatingIfNeeded: raw >> 8)
        value = UInt16(truncatingIfNeeded: raw >> 16)
        index = UInt16(truncatingIfNeeded: raw >> 32)
        length = UInt16(truncatingIfNeeded: raw >> 48)
    }

    public var isIn: Bool { requestType & 0x80 != 0 }

    public enum Kind: UInt8, Sendable { case standard = 0, `class` = 1, vendor = 2, reserved = 3 }
    public var kind: Kind { Kind(rawValue: (requestType >> 5) & 3)! }

    public enum Recipient: UInt8, Sendable { case device = 0, interface = 1, endpoint = 2, other = 3 }
    /// nil for the reserved recipients 4...31.
    public var recipient: Recipient? { Recipient(rawValue: requestType & 0x1f) }
}

/// How a packet ended.
public enum USBPacketStatus: Int32, Sendable, Equatable {
    /// Data moved; for IN, `data.count` may be less than asked (a short packet).
    case success = 0
    /// The endpoint answered STALL (USB 2.0 §8.4.5): a request it does not support, or a halt.
    case stall = 1
    /// No valid handshake: the transaction failed (a device that vanished).
    case transactionError = 2
    /// The device sent more than the host asked for (USB 2.0 §8.7.1).
    case babble = 3
}

/// Told when a packet that went pending completes (the controller's side of a packet).
public protocol USBPacketOwner: AnyObject {
    func packetCompleted(_ packet: USBPacket)
}

/// One transfer on one endpoint: for control endpoints the setup packet with its data stage,
/// else one TD's worth of bulk, interrupt or isochronous data.
///
/// The device completes it with `complete(_:)`, either before its handler returns or later (from
/// its own timer, input or I/O); until then the endpoint is busy (the host sees NAKs).
public final class USBPacket {
    /// Endpoint address: number in bits 3:0, bit 7 set for IN. 0x00 or 0x80 for control.
    public let endpoint: UInt8
    /// The setup packet of a control transfer; nil on other endpoints.
    public let setup: USBSetupPacket?
    /// Bytes the host asked for (IN) or sends (OUT).
    public let length: Int
    /// OUT: the bytes from the host. IN: the device puts at most `length` bytes here.
    public var data: [UInt8]
    /// Set by `complete`; nil while pending.
    public private(set) var status: USBPacketStatus?
    /// The controller endpoint waiting for it; nil after a cancel.
    weak var owner: (any USBPacketOwner)?
    /// Whether the handler has returned without completing it (completion must be reported).
    var isPending = false
    /// Its OUT data could not be fetched from guest memory (xHCI Data Buffer Error).
    var isDataBufferError = false
    /// Isochronous packets: the microframe index (the controller's 14-bit MFINDEX count, 125 µs
    /// units; the frame number is the value >> 3) the packet is scheduled in, from its TD's
    /// Frame ID or Start Isoch ASAP (xHCI 1.2 §4.11.2.5, §4.14.2). The controller hands the
    /// packet over once MFINDEX has reached it. nil on other endpoints.
    public var microframe: UInt32?

    public init(endpoint: UInt8, setup: USBSetupPacket? = nil, length: Int, data: [UInt8] = []) {
        self.endpoint = endpoint
        self.setup = setup
        self.length = length
        self.data = data
    }

    /// Whether data moves device to host.
    public var isIn: Bool { setup.map(\.isIn) ?? (endpoint & 0x80 != 0) }
    public var endpointNumber: Int { Int(endpoint & 0x0f) }
    public var isCompleted: Bool { status != nil }

    /// Finishes the packet. Once only; later calls and calls after a cancel are ignored. IN data
    /// beyond `length` is a babble.
    public func complete(_ status: USBPacketStatus = .success) {
        guard self.status == nil else { return }
        if isIn, data.count > length, status == .success {
            self.status = .babble
        } else {
            self.status = status
        }
        if isPending {
            isPending = false
            let owner = self.owner
            self.owner = nil
            owner?.packetCompleted(self)
        }
    }

    /// Convenience for IN: sets the data (cut to `length`) and completes with success.
    public func complete(with bytes: [UInt8]) {
        data = bytes.count > length ? Array(bytes.prefix(length)) : bytes
        complete(.success)
    }
}

/// A USB device model, built in (Swift) or from a plugin (`PluginUSBDevice`, usb.h); the core
/// (`USBDeviceCore`) answers the standard requests and forwards the rest.
///
/// Every method runs on the machine's thread. A handler may complete its packet before returning
/// or keep it and complete it later on that same thread (from `poll`).
public protocol USBDevice: AnyObject {
    /// Speeds the device can run at; the port it is attached to picks the fastest it takes.
    var speeds: Set<USBSpeed> { get }
    /// All descriptors as bytes.
    var descriptors: USBDescriptorSet { get }
    /// A control request the core does not answer: class and vendor requests, and standard
    /// requests to an interface or endpoint other than the halt feature (a HID report
    /// descriptor, for instance). Complete with `.stall` for a request the device does not know.
    func handleControl(_ packet: USBPacket)
    /// Data on endpoint `packet.endpoint` (not 0) of the current configuration.
    func handleData(_ packet: USBPacket)
    /// The host abandoned `packet`, which the device had kept pending: forget it.
    func cancel(_ packet: USBPacket)
    /// Bus reset: back to the default state (unconfigured; pending packets were cancelled).
    func reset()
    /// SET_CONFIGURATION succeeded with `value` (0: unconfigured).
    func configurationChanged(_ value: UInt8)
    /// SET_INTERFACE succeeded.
    func interfaceChanged(_ interface: UInt8, alternateSetting: UInt8)
    /// CLEAR_FEATURE(ENDPOINT_HALT) on `endpoint`: its data toggle and halt are reset.
    func endpointReset(_ endpoint: UInt8)
    /// Called from the machine's run loop: time for scripted input or finished I/O.
    func poll()
    /// The device was plugged into a port: `core` keeps its USB state and reaches the host port
    /// (remote wakeup, the frame clock). Called before any packet.
    func plugged(into core: USBDeviceCore)
}

/// The host side of the port a device is plugged into, as the device sees it: the controller's
/// frame clock and resume signalling. `XHCIController` is one.
public protocol USBHostPort: AnyObject {
    /// The microframe index software reads (xHCI MFINDEX, §5.5.1): 125 µs units, 14 bits.
    var microframeIndex: UInt32 { get }
    /// `core`'s device signals resume (USB 2.0 §7.1.7.7): its port leaves U3 for Resume and the
    /// driver is told (xHCI 1.2 §4.15.2.1). Returns false when the port is not suspended.
    func remoteWakeup(from core: USBDeviceCore) -> Bool
}

/// What a device's remote-wakeup request came to (`USBDeviceCore.signalRemoteWakeup`).
public enum USBRemoteWakeupResult: Sendable, Equatable {
    /// The port went from U3 to Resume; the driver sees the link state change.
    case resumed
    /// The host has not enabled remote wakeup (SET_FEATURE(DEVICE_REMOTE_WAKEUP), USB 2.0
    /// §9.4.9) or the configuration in use does not declare it (bmAttributes bit 5, §9.6.3).
    case notEnabled
    /// The port is not suspended, so there is nothing to wake (§7.1.7.7).
    case notSuspended
    /// The device is not plugged into a port.
    case notAttached
}

extension USBDevice {
    public func cancel(_ packet: USBPacket) {}
    public func reset() {}
    public func configurationChanged(_ value: UInt8) {}
    public func interfaceChanged(_ interface: UInt8, alternateSetting: UInt8) {}
    public func endpointReset(_ endpoint: UInt8) {}
    public func poll() {}
    public func plugged(into core: USBDeviceCore) {}
}

/// The host side of USB passthrough: one protocol (`HostUSBBackend` opening `HostUSBDevice`s)
/// with two implementations, libusb (`LibUSBBackend`) and a recorded device
/// (`ReplayUSBBackend`). A guest-facing USB device model forwards its endpoints to a
/// `HostUSBDevice` and never knows which one is behind it (docs/passthrough.md).

/// Link speed of a device (USB 2.0 §5.3, USB 3.2 §3.2).
public enum USBSpeed: String, Sendable, Codable {
    case unknown, low, full, high, `super`, superPlus = "super-plus"

    /// "480 Mb/s" for listings.
    public var summary: String {
        switch self {
        case .unknown: return "unknown speed"
        case .low: return "1.5 Mb/s"
        case .full: return "12 Mb/s"
        case .high: return "480 Mb/s"
        case .super: return "5 Gb/s"
        case .superPlus: return "10 Gb/s"
        }
    }
}

/// Which host device a board means: vendor/product IDs (first match) or bus and port path
/// (stable across replugging into the same port).
public enum HostUSBSelector: Sendable, Equatable, CustomStringConvertible {
    case ids(vendor: UInt16, product: UInt16)
    /// Bus number and hub port chain from the root ("1-2.3": bus 1, root port 2, hub port 3).
    case location(bus: UInt8, ports: [UInt8])

    /// Parses "046d:c52b" (IDs) or "1-2.3" (bus-ports, as Linux names it in sysfs).
    public init?(_ text: String) {
        let ids = text.split(separator: ":", omittingEmptySubsequences: false)
        if ids.count == 2, ids.allSatisfy({ $0.count == 4 }), let vendor = UInt16(ids[0], radix: 16),
           let product = UInt16(ids[1], radix: 16) {
            self = .ids(vendor: vendor, product: product)
            return
        }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let bus = UInt8(parts[0]) else { return nil }
        let ports = parts[1].split(separator: ".", omittingEmptySubsequences: false).map { UInt8($0) }
        guard !ports.isEmpty, ports.count <= 7, ports.allSatisfy({ $0 != nil && $0! > 0 }) else { return nil }
        self = .location(bus: bus, ports: ports.map { $0! })
    }

    public var description: String {
        switch self {
        case let .ids(vendor, product): return "\(hex(UInt64(vendor), digits: 4)):\(hex(UInt64(product), digits: 4))"
        case let .location(bus, ports): return "\(bus)-" + ports.map(String.init).joined(separator: ".")
        }
    }

    public func matches(_ info: HostUSBDeviceInfo) -> Bool {
        switch self {
        case let .ids(vendor, product): return info.vendorID == vendor && info.productID == product
        case let .location(bus, ports): return info.bus == bus && info.ports == ports
        }
    }
}

/// One host USB device as a backend lists it.
public struct HostUSBDeviceInfo: Sendable, Equatable {
    public var bus: UInt8
    /// Hub port chain from the root port; empty for a root hub.
    public var ports: [UInt8]
    public var address: UInt8
    public var vendorID: UInt16
    public var productID: UInt16
    /// bDeviceClass (0: per interface).
    public var deviceClass: UInt8
    public var speed: USBSpeed
    /// The product string, when it could be read (needs the device opened, so permission).
    public var product: String?
    /// Host drivers bound to the device's interfaces (sysfs), empty when none.
    public var drivers: [String]
    /// nil: Backplane could open it; otherwise why not.
    public var problem: String?

    public init(bus: UInt8, ports: [UInt8], address: UInt8, vendorID: UInt16, productID: UInt16, deviceClass: UInt8,
                speed: USBSpeed = .unknown, product: String? = nil, drivers: [String] = [], problem: String? = nil) {
        self.bus = bus
        self.ports = ports
        self.address = address
        self.vendorID = vendorID
        self.productID = productID
        self.deviceClass = deviceClass
        self.speed = speed
        self.product = product
        self.drivers = drivers
        self.problem = problem
    }

    /// "1-2.3": the sysfs name of the device.
    public var location: String { "\(bus)-" + (ports.isEmpty ? "0" : ports.map(String.init).joined(separator: ".")) }

    /// usbfs node libusb opens: /dev/bus/usb/BBB/DDD.
    public var deviceNode: String {
        "/dev/bus/usb/" + String(repeating: "0", count: 3 - String(bus).count) + String(bus) + "/"
            + String(repeating: "0", count: 3 - String(address).count) + String(address)
    }

    /// The block `backplane host usb` prints.
    public var text: String {
        var lines = ["bus \(bus) port \(ports.isEmpty ? "root" : ports.map(String.init).joined(separator: ".")) address \(address)  "
                     + "\(hex(UInt64(vendorID), digits: 4)):\(hex(UInt64(productID), digits: 4))  class \(hex(UInt64(deviceClass), digits: 2))"
                     + "  \(speed.summary)" + (product.map { "  \($0)" } ?? "")]
        lines.append("    driver: \(drivers.isEmpty ? "none" : drivers.joined(separator: ", "))")
        let yes = drivers.isEmpty ? "yes" : "yes, with 'detach-driver: true' (the host driver is detached, and reattached at exit)"
        lines.append("    take (usb.host): " + (problem.map { "no: \($0)" } ?? yes))
        return lines.joined(separator: "\n")
    }
}

/// Why a host USB device cannot be listed or used; each says what to do about it.
public enum HostUSBError: Error, Equatable, CustomStringConvertible {
    /// No device matches the selector.
    case notFound(HostUSBSelector, present: Int)
    /// The usbfs node is not accessible; `rule` is the udev rule that would grant access.
    case permissionDenied(node: String, rule: String)
    /// Another program or a kernel driver that could not be detached holds an interface.
    case busy(interface: UInt8, reason: String)
    /// The device went away (unplugged).
    case noDevice
    /// The backend's library failed (libusb: its error name and text).
    case backend(String)
    /// A recording could not be read or is inconsistent.
    case recording(String)

    public var description: String {
        switch self {
        case let .notFound(selector, present):
            return "host USB device \(selector) not found (\(present) USB device\(present == 1 ? "" : "s") present; see `backplane host usb`)"
        case let .permissionDenied(node, rule):
            return "permission denied opening \(node); a udev rule would fix it: \(rule)"
        case let .busy(interface, reason):
            return "interface \(interface) is busy: \(reason)"
        case .noDevice:
            return "the host USB device was unplugged"
        case let .backend(message):
            return message
        case let .recording(message):
            return "USB recording: \(message)"
        }
    }

    /// The udev rule giving the `plugdev` group access to one vendor:product (udev(7)).
    public static func udevRule(vendor: UInt16, product: UInt16) -> String {
        "SUBSYSTEM==\"usb\", ATTR{idVendor}==\"\(hex(UInt64(vendor), digits: 4))\", ATTR{idProduct}==\"\(hex(UInt64(product), digits: 4))\", MODE=\"0660\", GROUP=\"plugdev\" "
            + "(in /etc/udev/rules.d/70-backplane.rules, then `udevadm control --reload && udevadm trigger`)"
    }
}

/// How a transfer ended (libusb's `libusb_transfer_status`, USB 2.0 §8.4.5 handshakes).
public enum USBTransferStatus: Sendable, Equatable {
    case completed
    /// The endpoint answered STALL (a control request it does not support, or a halted
    /// endpoint; USB 2.0 §8.4.5).
    case stall
    case timeout
    case cancelled
    /// The device is gone; every later transfer ends this way too.
    case noDevice
    /// The device sent more than the buffer holds.
    case overflow
    /// Anything else, with the backend's explanation.
    case error(String)
}

/// One transfer as a device model submits it.
public struct USBTransferRequest: Sendable, Equatable {
    public var type: USBTransferType
    /// Endpoint address: bit 7 set for IN; 0 for the default control pipe.
    public var endpoint: UInt8
    /// Control transfers only.
    public var setup: USBSetupPacket?
    /// OUT data (empty for IN).
    public var data: [UInt8]
    /// Bytes the guest's buffer holds for IN (for control: the setup's length).
    public var length: Int
    /// Isochronous only: the length of each packet.
    public var isochronousPackets: [Int]

    public init(type: USBTransferType, endpoint: UInt8, setup: USBSetupPacket? = nil, data: [UInt8] = [], length: Int = 0,
                isochronousPackets: [Int] = []) {
        self.type = type
        self.endpoint = endpoint
        self.setup = setup
        self.data = data
        self.length = length
        self.isochronousPackets = isochronousPackets
    }

    public var isIn: Bool { setup.map(\.isDeviceToHost) ?? (endpoint & 0x80 != 0) }

    public static func control(_ setup: USBSetupPacket, data: [UInt8] = []) -> USBTransferRequest {
        USBTransferRequest(type: .control, endpoint: 0, setup: setup, data: setup.isDeviceToHost ? [] : data, length: Int(setup.length))
    }
}

/// The outcome of one isochronous packet.
public struct USBIsochronousPacketResult: Sendable, Equatable {
    public var status: USBTransferStatus
    public var data: [UInt8]
    public init(status: USBTransferStatus, data: [UInt8]) {
        self.status = status
        self.data = data
    }
}

/// What a device model receives when a transfer ends.
public struct USBTransferCompletion: Sendable, Equatable {
    /// The identifier `submit` returned.
    public var id: UInt64
    public var status: USBTransferStatus
    /// IN data received (at most the request's length); empty for OUT.
    public var data: [UInt8]
    /// OUT: bytes the device accepted; IN: `data.count`.
    public var actualLength: Int
    public var isochronousPackets: [USBIsochronousPacketResult]

    public init(id: UInt64, status: USBTransferStatus, data: [UInt8] = [], actualLength: Int? = nil,
                isochronousPackets: [USBIsochronousPacketResult] = []) {
        self.id = id
        self.status = status
        self.data = data
        self.actualLength = actualLength ?? data.count
        self.isochronousPackets = isochronousPackets
    }
}

/// Called once per transfer, on the backend's event thread (never inside `submit`): the device
/// model queues the completion for its own thread.
public typealias USBCompletionHandler = @Sendable (USBTransferCompletion) -> Void

/// What the board asks when opening a device.
public struct HostUSBOpenOptions: Sendable, Equatable {
    /// Detach host kernel drivers from the interfaces (reattached by `close`).
    public var detachKernelDriver: Bool
    public init(detachKernelDriver: Bool = false) { self.detachKernelDriver = detachKernelDriver }
}

/// A source of host USB devices.
public protocol HostUSBBackend: AnyObject {
    /// "libusb", "replay".
    var name: String { get }
    /// Every device the backend sees (empty on a host without USB).
    func devices() throws(HostUSBError) -> [HostUSBDeviceInfo]
    /// Opens the first device `selector` matches; `.notFound` or `.permissionDenied` otherwise.
    func open(_ selector: HostUSBSelector, options: HostUSBOpenOptions) throws(HostUSBError) -> any HostUSBDevice
}

/// One opened host device. Descriptors are read at open; transfers are asynchronous.
public protocol HostUSBDevice: AnyObject {
    var info: HostUSBDeviceInfo { get }
    var deviceDescriptor: USBDeviceDescriptor { get }
    /// Configuration `index` (0-based, < configurationCount) as the device sends it.
    func configuration(index: Int) throws(HostUSBError) -> USBConfigurationDescriptor
    /// SET_CONFIGURATION through the host stack (which must know, so it is not a plain
    /// control transfer); claims the configuration's interfaces.
    func setConfiguration(_ value: UInt8) throws(HostUSBError)
    /// SET_INTERFACE, likewise.
    func setAlternateSetting(interface: UInt8, alternate: UInt8) throws(HostUSBError)
    /// Clears a halt (stall) on `endpoint` (CLEAR_FEATURE(ENDPOINT_HALT), USB 2.0 §9.4.1).
    func clearHalt(endpoint: UInt8) throws(HostUSBError)
    /// Starts a transfer; `completion` runs once when it ends. Returns its identifier.
    @discardableResult
    func submit(_ request: USBTransferRequest, completion: @escaping USBCompletionHandler) -> UInt64
    /// Cancels a transfer still in flight; it then completes with `.cancelled`.
    func cancel(_ id: UInt64)
    /// Called (on the event thread) once when the device goes away; in-flight transfers then
    /// complete with `.noDevice`.
    var onDisconnect: (@Sendable () -> Void)? { get set }
    /// Cancels what is in flight, releases interfaces, reattaches detached kernel drivers.
    func close()
}

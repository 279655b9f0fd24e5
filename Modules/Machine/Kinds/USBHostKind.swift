import Foundation
import Passthrough
import USB

/// `usb.host`: a host USB device forwarded into the guest (`USBHostPassthrough`,
/// docs/passthrough.md). What can be checked without touching the host is checked with the
/// board; the host is asked when the machine is built: a device that is missing, not accessible
/// (with the udev rule) or busy stops the run with one error naming the board line, and nothing
/// is left open or detached after a failure.
public struct USBHostKind: DeviceKind {
    public static let name = "usb.host"
    static let backends = ["libusb", "replay"]

    public let spec = DeviceTypeSpec(
        name: name,
        summary: "a host USB device forwarded into the guest (libusb, or a recorded device): its descriptors, control, bulk, interrupt and isochronous transfers; a host unplug disconnects it",
        registers: .none,
        properties: [
            DevicePropertySpec(name: "vendor", kind: .integer(0...0xffff), defaultValue: .integer(0),
                               summary: "idVendor of the host device (with product); 0: select by bus and port"),
            DevicePropertySpec(name: "product", kind: .integer(0...0xffff), defaultValue: .integer(0),
                               summary: "idProduct of the host device (with vendor)"),
            DevicePropertySpec(name: "bus", kind: .integer(0...255), defaultValue: .integer(0),
                               summary: "host USB bus number (with port); 0: select by vendor and product"),
            DevicePropertySpec(name: "port", kind: .string, defaultValue: .string(""),
                               summary: "hub port chain from the root port on that bus, \"2\" or \"2.1\" (the N-P.P of `backplane host usb`)"),
            DevicePropertySpec(name: "detach-driver", kind: .boolean, defaultValue: .boolean(false),
                               summary: "detach the host kernel driver from the device's interfaces (reattached at exit)"),
            DevicePropertySpec(name: "backend", kind: .string, defaultValue: .string("libusb"),
                               summary: "libusb (a real host device) or replay (a recorded device, for tests)"),
            DevicePropertySpec(name: "recording", kind: .string, defaultValue: .string(""),
                               summary: "backend replay: the JSON recording, relative to the board file's folder"),
            .usbSpeed,
        ],
        // The host device's speed is known only once it is opened: any port may take it here,
        // and a mismatch is reported when the machine is built.
        nodeName: "usb-host-device", compatible: [], placement: .omitted, usbSpeeds: [.low, .full, .high, .superSpeed])

    public init() {}

    /// "2.1" as a port chain; nil unless 1...7 numbers 1...255 joined by dots.
    static func ports(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map { UInt8($0) }
        guard !parts.isEmpty, parts.count <= 7, parts.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
        return parts.map { $0! }
    }

    /// Which host device it names (IDs or bus and port, not both), and that the backend and
    /// recording go together.
    public func check(_ device: BoardDevice, in board: Board, into diagnostics: BoardDiagnostics) {
        let what = "device '\(device.name)' of type '\(Self.name)'"
        let byIDs = (device.integer("vendor") ?? 0) != 0 || (device.integer("product") ?? 0) != 0
        let port = device.properties["port"]?.string ?? ""
        let byPlace = (device.integer("bus") ?? 0) != 0 || !port.isEmpty
        if byIDs && byPlace {
            diagnostics.error("\(what) selects the host device by 'vendor'/'product' or by 'bus'/'port', not both", at: device.location)
        } else if byIDs && ((device.integer("vendor") ?? 0) == 0 || (device.integer("product") ?? 0) == 0) {
            diagnostics.error("\(what) needs both 'vendor' and 'product' (0x0781 and 0x5567, as `backplane host usb` lists them)", at: device.location)
        } else if byPlace && ((device.integer("bus") ?? 0) == 0 || port.isEmpty) {
            diagnostics.error("\(what) needs both 'bus' and 'port' (bus: 1, port: \"2.1\" for host device 1-2.1)", at: device.location)
        } else if !byIDs && !byPlace {
            diagnostics.error("\(what) needs 'vendor' and 'product', or 'bus' and 'port', to say which host device it takes", at: device.location)
        }
        if !port.isEmpty, Self.ports(port) == nil {
            diagnostics.error("'port' of device '\(device.name)': '\(port)' is not a hub port chain such as \"2\" or \"2.1\"", at: device.location)
        }
        let backend = device.properties["backend"]?.string ?? "libusb"
        let recording = device.properties["recording"]?.string ?? ""
        if !Self.backends.contains(backend) {
            diagnostics.error("'backend' of device '\(device.name)': '\(backend)' is not 'libusb' or 'replay'", at: device.location)
        } else if backend == "replay" && recording.isEmpty {
            diagnostics.error("'backend: replay' of device '\(device.name)' needs 'recording: FILE' (a JSON recording, docs/passthrough.md)", at: device.location)
        } else if backend == "libusb" && !recording.isEmpty {
            diagnostics.error("'recording' of device '\(device.name)' needs 'backend: replay'", at: device.location)
        }
    }

    /// Opens the host device and plugs it into its port; a host unplug detaches that port (the
    /// guest sees a disconnect).
    public func build(_ device: BoardDevice, in machine: Machine) throws {
        let (controller, port) = try machine.usbPlace(of: device)
        // --replay: the journal plays the device; the host's is never opened (docs/passthrough.md).
        if let journal = machine.journal, journal.isReplaying {
            let usb = try USBHostPassthrough(replaying: USBHostPassthrough.replayAttach(from: journal, name: device.name))
            usb.journal(to: journal, name: device.name)
            usb.onUnplug = { [weak controller] in controller?.detach(port: port) }
            try machine.plugUSB(usb, for: device)
            return
        }
        let backend: any HostUSBBackend
        if device.properties["backend"]?.string == "replay" {
            var path = device.properties["recording"]?.string ?? ""
            if !path.hasPrefix("/") {
                path = ((machine.board.sourcePath as NSString).deletingLastPathComponent as NSString).appendingPathComponent(path)
            }
            backend = ReplayUSBBackend([try USBRecording.load(path: path)])
        } else {
            backend = try LibUSBBackend()
        }
        let selector: HostUSBSelector
        if let vendor = device.integer("vendor"), vendor != 0 {
            selector = .ids(vendor: UInt16(vendor), product: UInt16(device.integer("product") ?? 0))
        } else {
            selector = .location(bus: UInt8(device.integer("bus") ?? 0), ports: Self.ports(device.properties["port"]?.string ?? "") ?? [])
        }
        let options = HostUSBOpenOptions(detachKernelDriver: device.properties["detach-driver"]?.boolean ?? false)
        let host = try backend.open(selector, options: options)
        let usb: USBHostPassthrough
        do { usb = try USBHostPassthrough(host: host) } catch {
            host.close()
            throw error
        }
        // --record: the attach record now, then every submission and completion.
        if let journal = machine.journal { usb.journal(to: journal, name: device.name) }
        usb.onUnplug = { [weak controller] in controller?.detach(port: port) }
        let name = device.name
        usb.onHostError = { error in FileHandle.standardError.write(Data("backplane: usb.host '\(name)': \(error)\n".utf8)) }
        try machine.plugUSB(usb, for: device)
    }
}

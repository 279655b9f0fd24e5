import USB

/// Where a USB device sits: the xHCI controller's device name and a 1-based port number,
/// written `xhci0/port2`.
public struct BoardUSBPort: Equatable, Sendable, CustomStringConvertible {
    public var controller: String
    public var port: Int
    public var location: SourceLocation?

    public init(controller: String, port: Int, location: SourceLocation? = nil) {
        self.controller = controller
        self.port = port
        self.location = location
    }

    public var description: String { "\(controller)/port\(port)" }

    /// Parses `NAME/portN`; nil if `text` is not of that form (it may be a PCI address).
    public static func parse(_ text: String, location: SourceLocation? = nil) -> BoardUSBPort? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].hasPrefix("port"),
              let port = Int(parts[1].dropFirst(4)), parts[1].count > 4 else { return nil }
        return BoardUSBPort(controller: String(parts[0]), port: port, location: location)
    }
}

/// Checks of xHCI controllers and the USB devices attached to their ports with `at:`.
extension Board {
    /// The USB 2 and USB 3 port counts of an xHCI controller device.
    func usbPortCounts(of device: BoardDevice) -> (usb2: Int, usb3: Int) {
        (Int(device.integer("usb2-ports") ?? 4), Int(device.integer("usb3-ports") ?? 4))
    }

    /// "1...4", "none" for an empty range.
    private func portRange(_ first: Int, _ count: Int) -> String {
        count == 0 ? "none" : (count == 1 ? "\(first)" : "\(first)...\(first + count - 1)")
    }

    func checkUSB(into diagnostics: BoardDiagnostics, catalog: DeviceTypeCatalog) {
        let isController = { (device: BoardDevice) in catalog.spec(named: device.type)?.isUSBHostController == true }
        let controllerNames = devices.filter(isController).map(\.name)
        var taken: [String: BoardDevice] = [:]
        for device in devices {
            // Built-in and plugin USB types alike: the catalog knows their speeds.
            let usbSpeeds = catalog.spec(named: device.type)?.usbSpeeds
            let isUSBDevice = usbSpeeds != nil
            guard let place = device.usbPort else {
                if isUSBDevice, device.atLocation == nil {
                    diagnostics.error("device '\(device.name)' of type '\(device.type)' needs 'at: CONTROLLER/portN' such as 'xhci0/port1'", at: device.location)
                }
                continue
            }
            guard let speeds = usbSpeeds else {
                if catalog.spec(named: device.type) != nil {
                    diagnostics.error("device '\(device.name)' of type '\(device.type)' is not a USB device; it cannot sit on '\(place)'", at: place.location)
                }
                continue
            }
            guard let controller = self.device(named: place.controller) else {
                diagnostics.error("'at' of '\(device.name)' names unknown device '\(place.controller)'" + suggestion(place.controller, in: controllerNames), at: place.location)
                continue
            }
            guard isController(controller) else {
                diagnostics.error("'at' of '\(device.name)' names '\(controller.name)', which is not a USB host controller", at: place.location)
                continue
            }
            let (usb2, usb3) = usbPortCounts(of: controller)
            guard place.port >= 1, place.port <= usb2 + usb3 else {
                diagnostics.error("port \(place.port) of '\(controller.name)' is out of range 1...\(usb2 + usb3) (USB 2 ports \(portRange(1, usb2)), USB 3 ports \(portRange(usb2 + 1, usb3)))", at: place.location)
                continue
            }
            let key = "\(controller.name)/\(place.port)"
            if let other = taken[key] {
                let line = other.location.map { " (\($0.reference))" } ?? ""
                diagnostics.error("port \(place.port) of '\(controller.name)' is already taken by '\(other.name)'\(line)", at: place.location)
                continue
            }
            taken[key] = device
            let portIsUSB3 = place.port > usb2
            let portKind = portIsUSB3 ? "a USB 3 port (super speed only)" : "a USB 2 port (low, full and high speed)"
            let otherPorts = portIsUSB3 ? "its USB 2 ports are \(portRange(1, usb2))" : "its USB 3 ports are \(portRange(usb2 + 1, usb3))"
            let speedText = device.properties["speed"]?.string ?? ""
            if !speedText.isEmpty {
                guard let speed = USBSpeed(name: speedText) else {
                    diagnostics.error("unknown USB speed '\(speedText)' of '\(device.name)'; expected low, full, high or super", at: device.location)
                    continue
                }
                guard speeds.contains(speed) else {
                    let list = speeds.sorted().map(\.description).joined(separator: ", ")
                    diagnostics.error("speed '\(speedText)' of '\(device.name)' is not one a '\(device.type)' runs at (\(list))", at: device.location)
                    continue
                }
                if speed.isUSB3 != portIsUSB3 {
                    diagnostics.error("port \(place.port) of '\(controller.name)' is \(portKind) and cannot take '\(device.name)' at \(speed) speed; \(otherPorts)", at: place.location)
                }
            } else if !speeds.contains(where: { $0.isUSB3 == portIsUSB3 }) {
                let list = speeds.sorted().map(\.description).joined(separator: "/")
                diagnostics.error("port \(place.port) of '\(controller.name)' is \(portKind) and cannot take '\(device.name)' of type '\(device.type)' (\(list) speed); \(otherPorts)", at: place.location)
            }
        }
    }
}

import PCI
import PluginHost
import USB
import Virtio

/// Building xHCI controllers and the USB devices the board plugs into their ports (docs/usb.md).
extension Machine {
    /// Creates the xHCI controller `device` as the PCI function at `slot` of `bridge`.
    func attachXHCI(_ device: BoardDevice, bridge: PCIHostBridge, slot: PCIAddress) throws {
        let (usb2, usb3) = board.usbPortCounts(of: device)
        let controller = try bridge.attach(at: slot) { bus in XHCIController(bus: bus, usb2Ports: usb2, usb3Ports: usb3) }
        xhciControllers[device.name] = controller
        xhciPollList.append(controller)
    }

    /// Builds every USB device of the board and plugs it into its port (after the controllers).
    func attachUSBDevices() throws(MachineError) {
        for device in board.devices {
            guard let place = device.usbPort else { continue }
            let prefix = "\(board.sourcePath):\(device.sourceLine): device '\(device.name)'"
            guard let controller = xhciControllers[place.controller] else {
                throw MachineError("\(prefix): no USB host controller '\(place.controller)'")
            }
            let speedText = device.properties["speed"]?.string ?? ""
            do {
                let usb: any USBDevice
                switch device.type {
                case "usb-kbd":
                    usb = USBKeyboard(script: try script(device))
                case "usb-tablet":
                    usb = USBTablet(script: try script(device))
                case "usb-storage":
                    let image = try DiskImage(path: device.properties["file"]?.string ?? "",
                                              readOnly: device.properties["read-only"]?.boolean ?? false)
                    usb = USBMassStorage(image: image, serial: device.properties["serial"]?.string ?? "BP0001")
                case "usb-loopback":
                    usb = USBLoopback()
                case USBHostDeviceTypes.name:
                    usb = try makeHostUSB(device, controller: controller, port: place.port)
                default:
                    guard let plugin = try createPluginUSBDevice(device) else {
                        throw MachineError("\(prefix): type '\(device.type)' is not a USB device")
                    }
                    usb = plugin
                }
                let core = try controller.attach(usb, port: place.port, speed: speedText.isEmpty ? nil : USBSpeed(name: speedText))
                (usb as? PluginUSBDevice)?.attached(at: core.speed)
            } catch let error as MachineError {
                throw error
            } catch {
                throw MachineError("\(prefix): \(error)")
            }
        }
    }

    /// The device's input script, if it has one.
    private func script(_ device: BoardDevice) throws -> HIDInputScript {
        let path = device.properties["input"]?.string ?? ""
        return path.isEmpty ? HIDInputScript(commands: []) : try HIDInputScript(path: path)
    }
}

import Memory
import PCI
import USB

/// `qemu-xhci` (and its short name `xhci`): an xHCI 1.2 USB host controller on PCI
/// (`XHCIController`); USB devices name it in `at: CONTROLLER/portN`.
public struct XHCIKind: DeviceKind {
    /// QEMU's name and a short one: two kinds, one device.
    public static let names = ["qemu-xhci", "xhci"]

    public let spec: DeviceTypeSpec

    /// - Parameter name: one of `names`.
    public init(name: String) {
        spec = DeviceTypeSpec(
            name: name,
            summary: "xHCI 1.2 USB host controller on PCI (QEMU's qemu-xhci, 1b36:000d): MSI-X or INTA, USB 2 and USB 3 root ports",
            registers: .pciFunction(bars: XHCIController.bars),
            properties: [
                DevicePropertySpec(name: "usb2-ports", kind: .integer(0...15), defaultValue: .integer(4),
                                   summary: "USB 2 ports (low/full/high speed), numbered from 1"),
                DevicePropertySpec(name: "usb3-ports", kind: .integer(0...15), defaultValue: .integer(4),
                                   summary: "USB 3 ports (SuperSpeed), numbered after the USB 2 ports"),
            ],
            nodeName: "usb", compatible: [], placement: .omitted, isUSBHostController: true)
    }

    /// A controller needs a port.
    public func check(_ device: BoardDevice, in board: Board, into diagnostics: BoardDiagnostics) {
        let (usb2, usb3) = board.usbPortCounts(of: device)
        if usb2 + usb3 == 0 {
            diagnostics.error("xHCI controller '\(device.name)' needs at least one port (usb2-ports and usb3-ports are both 0)", at: device.location)
        }
    }

    public func build(_ device: BoardDevice, in machine: Machine) throws {
        let (usb2, usb3) = machine.board.usbPortCounts(of: device)
        let controller = try machine.attachPCI(device) { bus in XHCIController(bus: bus, usb2Ports: usb2, usb3Ports: usb3) }
        controller.timebase = machine.timebase
        machine.addUSBController(controller, for: device)
        // Its host bridge resets it (a PCI function); the lifecycle only polls it.
        machine.manage(XHCIPoller(controller: controller))
    }
}

/// Polls an xHCI controller between slices (host-side transfer completions, scripted input).
final class XHCIPoller: DeviceLifecycle {
    let controller: XHCIController
    init(controller: XHCIController) { self.controller = controller }
    func poll() { controller.poll() }
    /// A waiting isochronous TD's microframe: the machine does not idle past it.
    func nanosecondsUntilNextEvent() -> UInt64? { controller.nanosecondsUntilNextEvent() }
}

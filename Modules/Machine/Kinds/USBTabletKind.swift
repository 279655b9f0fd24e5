import USB

/// `usb-tablet`: a USB HID absolute pointer (`USBTablet`), moving from an input script.
public struct USBTabletKind: DeviceKind {
    public static let name = "usb-tablet"

    public let spec = DeviceTypeSpec(
        name: name,
        summary: "USB HID absolute pointer (full speed), input scripted from a file",
        registers: .none,
        properties: [
            DevicePropertySpec(name: "input", kind: .string, defaultValue: .string(""),
                               summary: "input script: lines 'move X Y', 'click', 'wait MS' (docs/usb.md)"),
            .usbSpeed,
        ],
        nodeName: "tablet", compatible: [], placement: .omitted, usbSpeeds: [.full])

    public init() {}

    public func build(_ device: BoardDevice, in machine: Machine) throws {
        try machine.plugHID(USBTablet(script: try HIDInputScript(device)), for: device)
    }
}

import USB

/// `usb-kbd`: a USB HID boot keyboard (`USBKeyboard`), typing from an input script.
public struct USBKeyboardKind: DeviceKind {
    public static let name = "usb-kbd"

    public let spec = DeviceTypeSpec(
        name: name,
        summary: "USB HID boot keyboard (full speed), input scripted from a file",
        registers: .none,
        properties: [
            DevicePropertySpec(name: "input", kind: .string, defaultValue: .string(""),
                               summary: "input script: lines 'type TEXT', 'key NAME', 'wait MS' (docs/usb.md)"),
            .usbSpeed,
        ],
        nodeName: "keyboard", compatible: [], placement: .omitted, usbSpeeds: [.full])

    public init() {}

    public func build(_ device: BoardDevice, in machine: Machine) throws {
        try machine.plugUSB(USBKeyboard(script: try HIDInputScript(device)), for: device)
    }
}

extension HIDInputScript {
    /// The input script a HID device's `input` property names (none: no input).
    init(_ device: BoardDevice) throws {
        let path = device.properties["input"]?.string ?? ""
        self = path.isEmpty ? HIDInputScript(commands: []) : try HIDInputScript(path: path)
    }
}

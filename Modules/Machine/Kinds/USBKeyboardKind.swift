import Memory
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
        try machine.plugHID(USBKeyboard(script: try HIDInputScript(device)), for: device)
    }
}

extension Machine {
    /// Plugs a scripted HID device in: its pauses count in the machine's clock, and the machine
    /// waits no longer than a running pause while the guest idles.
    func plugHID(_ hid: HIDDevice, for device: BoardDevice) throws {
        hid.timebase = timebase
        try plugUSB(hid, for: device)
        manage(HIDScriptClock(hid))
    }
}

/// The lifecycle's view of a scripted HID device: when its current pause ends (the xHCI
/// controller polls the device itself).
final class HIDScriptClock: DeviceLifecycle {
    let device: HIDDevice
    init(_ device: HIDDevice) { self.device = device }
    func nanosecondsUntilNextEvent() -> UInt64? { device.nanosecondsUntilDue }
}

extension HIDInputScript {
    /// The input script a HID device's `input` property names (none: no input).
    init(_ device: BoardDevice) throws {
        let path = device.properties["input"]?.string ?? ""
        self = path.isEmpty ? HIDInputScript(commands: []) : try HIDInputScript(path: path)
    }
}

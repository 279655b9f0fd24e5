import USB

/// `usb-loopback`: the vendor-specific loopback device of docs/usb.md (`USBLoopback`).
public struct USBLoopbackKind: DeviceKind {
    public static let name = "usb-loopback"

    public let spec = DeviceTypeSpec(
        name: name,
        summary: "vendor-specific USB loopback (the docs/usb.md example): bulk OUT/IN echo, interrupt IN byte count",
        registers: .none,
        properties: [.usbSpeed],
        nodeName: "loopback", compatible: [], placement: .omitted, usbSpeeds: [.full, .high, .superSpeed])

    public init() {}

    public func build(_ device: BoardDevice, in machine: Machine) throws {
        try machine.plugUSB(USBLoopback(), for: device)
    }
}

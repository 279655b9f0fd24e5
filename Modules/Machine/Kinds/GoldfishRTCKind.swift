import Devices

/// `goldfish_rtc`: the Goldfish real-time clock (`GoldfishRTC`) Linux reads the date from.
public struct GoldfishRTCKind: DeviceKind {
    public static let name = "goldfish_rtc"

    public let spec = DeviceTypeSpec(
        name: name,
        summary: "Goldfish real-time clock (Android emulator), nanoseconds since the epoch",
        registers: .required(minimumSize: 0x20, pageAligned: true),
        irqCount: 0...1,
        nodeName: "rtc", compatible: ["google,goldfish-rtc"])

    public init() {}

    public func build(_ device: BoardDevice, in machine: Machine) throws {
        let rtc = GoldfishRTC(irq: try machine.irqLines(of: device).first)
        try machine.map(device, rtc)
        machine.manage(rtc)
    }
}

import Devices

/// `goldfish_rtc`: the Goldfish real-time clock (`GoldfishRTC`) Linux reads the date from.
public struct GoldfishRTCKind: DeviceKind {
    public static let name = "goldfish_rtc"

    public let spec = DeviceTypeSpec(
        name: name,
        summary: "Goldfish real-time clock (Android emulator), nanoseconds since the epoch",
        registers: .required(minimumSize: 0x20, pageAligned: true),
        irqCount: 0...1,
        properties: [
            DevicePropertySpec(name: "epoch", kind: .integer(0...(1 << 34)), defaultValue: .integer(GoldfishRTCKind.defaultEpoch),
                               summary: "under the virtual clock: the date at power-on, in seconds since 1970-01-01 UTC (default 2026-01-01); the host clock reads the host's date"),
        ],
        nodeName: "rtc", compatible: ["google,goldfish-rtc"])

    /// 2026-01-01T00:00:00Z: a fixed date, so that virtual-clock runs are identical.
    public static let defaultEpoch: UInt64 = 1_767_225_600

    public init() {}

    public func build(_ device: BoardDevice, in machine: Machine) throws {
        let irq = try machine.irqLines(of: device).first
        let rtc: GoldfishRTC
        if machine.timebase.isVirtual {
            // The date moves with the machine's clock from a fixed start: no host time read.
            let epoch = (device.properties["epoch"]?.integer ?? GoldfishRTCKind.defaultEpoch) &* 1_000_000_000
            let timebase = machine.timebase
            rtc = GoldfishRTC(irq: irq, clock: { epoch &+ timebase.nanoseconds() }, timebase: timebase)
        } else {
            rtc = GoldfishRTC(irq: irq)
        }
        try machine.map(device, rtc)
        machine.manage(rtc)
    }
}

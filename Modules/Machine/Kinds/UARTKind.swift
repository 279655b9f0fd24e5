import DeviceTree
import Devices

/// `ns16550a`: a 16550A UART (`UART16550`); the board's `boot.stdout` one is the console.
public struct UARTKind: DeviceKind {
    public static let name = "ns16550a"

    public let spec = DeviceTypeSpec(
        name: name,
        summary: "16550A UART",
        registers: .required(minimumSize: 0x8, pageAligned: false),
        irqCount: 0...1,
        isConsole: true,
        properties: [
            DevicePropertySpec(name: "clock-frequency", kind: .integer(1...0xffff_ffff), defaultValue: .integer(3_686_400),
                               deviceTreeName: "clock-frequency",
                               summary: "input clock in Hz; the divisor latch counts from it"),
            DevicePropertySpec(name: "reg-shift", kind: .integer(0...2), defaultValue: .integer(0),
                               summary: "registers are 1 << reg-shift bytes apart"),
        ],
        nodeName: "serial", compatible: ["ns16550a"])

    public init() {}

    public func build(_ device: BoardDevice, in machine: Machine) throws {
        let uart = UART16550(backend: machine.serialBackend(for: device), regShift: Int(device.integer("reg-shift") ?? 0),
                             irq: try machine.irqLines(of: device).first)
        try machine.map(device, uart)
        machine.manage(uart)
    }

    public func completeNode(_ node: inout DeviceTreeNode, for device: BoardDevice, board: Board, context: DeviceTreeContext) {
        if let shift = device.integer("reg-shift"), shift != 0 {
            node.properties.append(.u32("reg-shift", UInt32(shift)))
        }
    }
}

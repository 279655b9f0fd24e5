import DeviceTree
import IRQ

/// `plic`: the RISC-V platform-level interrupt controller (`PLIC`), an M and an S context per hart.
public struct PLICKind: DeviceKind {
    public static let name = "plic"

    public let spec = DeviceTypeSpec(
        name: name,
        summary: "platform-level interrupt controller (RISC-V PLIC spec 1.0.0), an M and an S context per hart",
        // Priorities, pending and enables fit in 0x200000; each context then takes 0x1000
        // (PLIC spec §3). Two contexts per hart for 64 harts end at 0x280000.
        registers: .required(minimumSize: 0x200000, pageAligned: true),
        interruptSourcesProperty: "sources",
        properties: [
            DevicePropertySpec(name: "sources", kind: .integer(1...1023), defaultValue: .integer(96),
                               deviceTreeName: "riscv,ndev",
                               summary: "number of interrupt sources; devices use sources 1...sources"),
        ],
        nodeName: "plic", compatible: ["sifive,plic-1.0.0", "riscv,plic0"])

    public init() {}

    public func buildStage(of device: BoardDevice, in board: Board) -> DeviceBuildStage { .interruptControllers }

    public func build(_ device: BoardDevice, in machine: Machine) throws {
        let plic = try PLIC(harts: machine.harts, sourceCount: Int(device.integer("sources") ?? 96))
        plic.traceName = device.name
        try machine.map(device, plic)
        machine.addInterruptController(plic, for: device)
        machine.manage(plic)
    }

    public func completeNode(_ node: inout DeviceTreeNode, for device: BoardDevice, board: Board, context: DeviceTreeContext) {
        node.properties += [
            .u32("#address-cells", 0),
            .u32("#interrupt-cells", 1),
            .empty("interrupt-controller"),
            // Context 2h is hart h's M mode, 2h+1 its S mode, as QEMU's virt wires them.
            .cells("interrupts-extended", context.hartInterruptControllers.flatMap {
                [$0, DeviceTreeGenerator.LocalInterrupt.machineExternal, $0, DeviceTreeGenerator.LocalInterrupt.supervisorExternal]
            }),
        ]
    }
}

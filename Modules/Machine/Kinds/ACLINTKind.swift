import DeviceTree
import IRQ

/// `aclint`: the machine timer and software interrupts in the SiFive CLINT layout QEMU's `virt`
/// maps (`CLINT`: ACLINT MSWI at 0x0, MTIMER at 0x4000).
public struct ACLINTKind: DeviceKind {
    public static let name = "aclint"

    public let spec = DeviceTypeSpec(
        name: name,
        summary: "machine timer and software interrupts in the SiFive CLINT layout (msip at 0x0, mtimecmp at 0x4000, mtime at 0xbff8)",
        // The CLINT layout ends at mtime (0xbff8 + 8); QEMU and SiFive map 0x10000.
        registers: .required(minimumSize: 0xc000, pageAligned: true),
        nodeName: "clint", compatible: ["sifive,clint0", "riscv,clint0"])

    public init() {}

    public func build(_ device: BoardDevice, in machine: Machine) throws {
        let clint = CLINT(harts: machine.harts, timebase: machine.timebase)
        try machine.map(device, clint)
        machine.manage(clint)
    }

    /// Each hart's MSIP and MTIP (QEMU `create_fdt_socket_clint`).
    public func completeNode(_ node: inout DeviceTreeNode, for device: BoardDevice, board: Board, context: DeviceTreeContext) {
        node.properties.append(.cells("interrupts-extended", context.hartInterruptControllers.flatMap {
            [$0, DeviceTreeGenerator.LocalInterrupt.machineSoftware, $0, DeviceTreeGenerator.LocalInterrupt.machineTimer]
        }))
    }
}

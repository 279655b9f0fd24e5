import DeviceTree
import IRQ

/// Device-tree nodes of the AIA devices, as Linux 6.12's `riscv,imsics` and `riscv,aplic`
/// bindings and OpenSBI 1.1 read them, laid out like QEMU `virt,aia=aplic-imsic`.
extension DeviceTreeGenerator {
    /// `IRQ_TYPE_LEVEL_HIGH` of `dt-bindings/interrupt-controller/irq.h`: every wired device
    /// here drives a level-high line.
    public static let levelHigh: UInt32 = 4

    /// The multi-letter extensions an IMSIC gives the harts (AIA §2): `smaia` with a
    /// machine-level IMSIC, `ssaia` with a supervisor-level one, unless the ISA names them.
    static func aiaExtensions(_ board: Board) -> [String] {
        var extensions: [String] = []
        if board.imsic(level: .machine) != nil && !board.harts.has("smaia") { extensions.append("smaia") }
        if board.imsic(level: .supervisor) != nil && !board.harts.has("ssaia") { extensions.append("ssaia") }
        return extensions
    }

    /// `riscv,isa` with the AIA extensions appended (QEMU names them there too).
    static func aiaISA(_ board: Board) -> String {
        board.harts.isa + aiaExtensions(board).map { "_" + $0 }.joined()
    }

    /// Completes the node of an `imsic` or `aplic` device.
    static func aiaProperties(_ node: inout DeviceTreeNode, device: BoardDevice, board: Board, context: DeviceTreeContext) {
        let intc = context.hartInterruptControllers
        // Every interrupt provider carries #address-cells, or dtc warns (as it does on QEMU's tree).
        node.properties += [.u32("#address-cells", 0), .empty("interrupt-controller")]
        switch device.type {
        case "imsic":
            let level = board.imsicLevel(device) ?? .machine
            // The pages of the harts that exist, not the whole reserved window (as QEMU).
            replace(&node, .cells("reg", cells(device.base ?? 0) + cells(board.imsicRegionSize)))
            node.properties += [
                .u32("#interrupt-cells", 0),
                .empty("msi-controller"),
                .cells("interrupts-extended", intc.flatMap { [$0, UInt32(level.externalInterruptBit)] }),
            ]
        case "aplic":
            node.properties.append(.u32("#interrupt-cells", 2))
            let level = board.aplicLevel(device)
            if board.aplicDelivery(device) == .msi, let msiParent = device.properties["msi-parent"]?.string,
               let phandle = context.devicePhandles[msiParent] {
                node.properties.append(.u32("msi-parent", phandle))
            } else {
                // Direct mode: IDC h drives hart h's MEIP or SEIP (§4.8).
                node.properties.append(.cells("interrupts-extended", intc.flatMap { [$0, UInt32(level.externalInterruptBit)] }))
            }
            let children = board.aplicChildren(device).compactMap { child in
                context.devicePhandles[child.name].map { (phandle: $0, sources: UInt32(child.integer("sources") ?? 0)) }
            }
            if !children.isEmpty {
                // Every source of each child is delegated to it, as QEMU's virt does; OpenSBI
                // programs the D bits from this. Linux 6.12's binding names it
                // `riscv,delegation`; OpenSBI 1.1 reads the older `riscv,delegate` (QEMU ≥ 9.1
                // writes both).
                let delegation: [UInt32] = children.flatMap { child -> [UInt32] in [child.phandle, 1, child.sources] }
                node.properties += [
                    .cells("riscv,children", children.map(\.phandle)),
                    .cells("riscv,delegation", delegation),
                    .cells("riscv,delegate", delegation),
                ]
            }
        default:
            break
        }
    }

    private static func replace(_ node: inout DeviceTreeNode, _ property: DeviceTreeProperty) {
        if let index = node.properties.firstIndex(where: { $0.name == property.name }) {
            node.properties[index] = property
        } else {
            node.properties.append(property)
        }
    }

    private static func cells(_ value: UInt64) -> [UInt32] {
        [UInt32(truncatingIfNeeded: value >> 32), UInt32(truncatingIfNeeded: value)]
    }
}

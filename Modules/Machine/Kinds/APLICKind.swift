import DeviceTree
import IRQ

/// `aplic`: a domain of the RISC-V AIA advanced platform-level interrupt controller (`APLIC`),
/// delivering directly to the harts or as MSIs to an IMSIC. A root domain is machine level; a
/// domain with a `parent` is a supervisor-level child the parent delegates sources to.
public struct APLICKind: DeviceKind {
    public static let name = "aplic"

    public let spec = DeviceTypeSpec(
        name: name,
        summary: "advanced platform-level interrupt controller domain (RISC-V AIA 1.0 §4), direct or MSI delivery",
        // Registers up to genmsi/target fit in 0x4000; direct mode adds 32 bytes per hart (§4.5).
        registers: .required(minimumSize: 0x4000, pageAligned: true),
        interruptSourcesProperty: "sources",
        properties: [
            DevicePropertySpec(name: "sources", kind: .integer(1...1023), defaultValue: .integer(96),
                               deviceTreeName: "riscv,num-sources",
                               summary: "number of interrupt sources; devices use sources 1...sources"),
            DevicePropertySpec(name: "delivery", kind: .string, defaultValue: .string("direct"),
                               summary: "'direct' (an IDC per hart drives MEIP/SEIP) or 'msi' (writes to the msi-parent IMSIC)"),
            DevicePropertySpec(name: "parent", kind: .string, defaultValue: .string(""),
                               summary: "the aplic that delegates its sources to this supervisor-level domain; empty for the machine-level root"),
            DevicePropertySpec(name: "msi-parent", kind: .string, defaultValue: .string(""),
                               summary: "the imsic an MSI-mode domain writes to, at the domain's level"),
        ],
        // Its specifier is <source trigger-type> (the riscv,aplic binding).
        interruptCells: 2,
        nodeName: "aplic", compatible: ["riscv,aplic"])

    public init() {}

    /// Root domains first, then the domains they delegate to.
    public func buildStage(of device: BoardDevice, in board: Board) -> DeviceBuildStage {
        board.aplicParent(device) == nil ? .interruptControllers : .delegatedInterruptControllers
    }

    /// What the property kinds cannot say: the domain's place in the tree, its delivery mode
    /// and MSI parent, and room for the IDCs of every hart.
    public func check(_ device: BoardDevice, in board: Board, into diagnostics: BoardDiagnostics) {
        let location = device.location
        let level = board.aplicLevel(device)
        if let parentName = device.properties["parent"]?.string, !parentName.isEmpty {
            if let parent = board.device(named: parentName) {
                if parent.type != APLICKind.name {
                    diagnostics.error("parent '\(parentName)' of aplic '\(device.name)' is a '\(parent.type)', not an aplic", at: location)
                } else if board.aplicParent(parent) != nil {
                    diagnostics.error("parent '\(parentName)' of aplic '\(device.name)' is itself a child domain; only a machine-level root with supervisor-level children is supported", at: location)
                } else if let sources = device.integer("sources"), let parentSources = parent.integer("sources"), sources > parentSources {
                    diagnostics.error("aplic '\(device.name)' has \(sources) sources, more than the \(parentSources) of its parent '\(parentName)'", at: location)
                }
            } else {
                diagnostics.error("parent of aplic '\(device.name)' names unknown device '\(parentName)'" + suggestion(parentName, in: board.devices.map(\.name)), at: location)
            }
        }
        guard let delivery = board.aplicDelivery(device) else {
            if let value = device.properties["delivery"] {
                diagnostics.error("property 'delivery' of aplic '\(device.name)' must be 'direct' or 'msi', got \(value)", at: location)
            }
            return
        }
        let msiParentName = device.properties["msi-parent"]?.string ?? ""
        switch delivery {
        case .msi:
            guard !msiParentName.isEmpty else {
                diagnostics.error("aplic '\(device.name)' delivers by MSI but names no 'msi-parent' imsic", at: location)
                return
            }
            guard let imsic = board.device(named: msiParentName) else {
                diagnostics.error("msi-parent of aplic '\(device.name)' names unknown device '\(msiParentName)'" + suggestion(msiParentName, in: board.devices.map(\.name)), at: location)
                return
            }
            guard imsic.type == IMSICKind.name else {
                diagnostics.error("msi-parent '\(msiParentName)' of aplic '\(device.name)' is a '\(imsic.type)', not an imsic", at: location)
                return
            }
            if let imsicLevel = board.imsicLevel(imsic), imsicLevel != level {
                diagnostics.error("msi-parent '\(msiParentName)' of \(level)-level aplic '\(device.name)' is a \(imsicLevel)-level imsic", at: location)
            }
        case .direct:
            if !msiParentName.isEmpty {
                diagnostics.error("aplic '\(device.name)' delivers directly but names msi-parent '\(msiParentName)'; set 'delivery: msi'", at: location)
            }
            let needed = APLIC.Layout.regionSize(harts: board.harts.count)
            if let size = device.size, size < needed, size >= 0x4000 {
                diagnostics.error("size \(hex(size)) of direct-mode aplic '\(device.name)' has no room for the interrupt delivery controls of \(board.harts.count) harts (needs \(hex(needed)))",
                                  at: device.regLocation ?? location)
            }
        }
    }

    public func build(_ device: BoardDevice, in machine: Machine) throws {
        let board = machine.board
        let aplic = try APLIC(level: board.aplicLevel(device), deliveryMode: board.aplicDelivery(device) ?? .direct,
                              sourceCount: Int(device.integer("sources") ?? 96), harts: machine.harts, bus: machine.space)
        aplic.traceName = device.name
        if let parent = board.aplicParent(device), let parentDomain = machine.aplics[parent.name] {
            try parentDomain.addChild(aplic)
        }
        machine.aplics[device.name] = aplic
        try machine.map(device, aplic)
        machine.addInterruptController(aplic, for: device)
        machine.manage(aplic)
    }

    /// Linux 6.12's `riscv,aplic` binding and OpenSBI 1.1, laid out like QEMU `virt,aia=aplic-imsic`.
    public func completeNode(_ node: inout DeviceTreeNode, for device: BoardDevice, board: Board, context: DeviceTreeContext) {
        // Every interrupt provider carries #address-cells, or dtc warns (as it does on QEMU's tree).
        node.properties += [.u32("#address-cells", 0), .empty("interrupt-controller")]
        node.properties.append(.u32("#interrupt-cells", 2))
        let level = board.aplicLevel(device)
        if board.aplicDelivery(device) == .msi, let msiParent = device.properties["msi-parent"]?.string,
           let phandle = context.devicePhandles[msiParent] {
            node.properties.append(.u32("msi-parent", phandle))
        } else {
            // Direct mode: IDC h drives hart h's MEIP or SEIP (§4.8).
            node.properties.append(.cells("interrupts-extended", context.hartInterruptControllers.flatMap { [$0, UInt32(level.externalInterruptBit)] }))
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
    }
}

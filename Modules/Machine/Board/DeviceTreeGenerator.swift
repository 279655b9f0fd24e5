import DeviceTree

/// Phandles and helpers handed to node builders, including the ones for run-time device types.
public struct DeviceTreeContext: Sendable {
    /// `phandle` of each hart's `riscv,cpu-intc` node, by hart number.
    public let hartInterruptControllers: [UInt32]
    /// `phandle` of each device that has one (interrupt controllers, syscon targets), by name.
    public let devicePhandles: [String: UInt32]
    /// Path of each device's node, by name.
    public let devicePaths: [String: String]
    /// `#interrupt-cells` of each wired interrupt controller whose specifier is not one cell, by
    /// name: 2 for an `aplic` (source, trigger type).
    public var interruptCells: [String: UInt32] = [:]

    /// The interrupt specifier of `source` on `controller`: `<source>` for a PLIC, `<source 4>`
    /// (IRQ_TYPE_LEVEL_HIGH) for an APLIC, whose binding takes the trigger type.
    public func interruptSpecifier(controller: String, source: UInt32) -> [UInt32] {
        interruptCells[controller] == 2 ? [source, DeviceTreeGenerator.levelHigh] : [source]
    }

    /// `interrupts` + `interrupt-parent`, or `interrupts-extended` when the device's IRQs go to
    /// more than one controller (Devicetree Spec v0.4 §2.4.1).
    public func interruptProperties(for device: BoardDevice) -> [DeviceTreeProperty] {
        guard let first = device.irqs.first else { return [] }
        if device.irqs.allSatisfy({ $0.controller == first.controller }) {
            return [.cells("interrupts", device.irqs.flatMap { interruptSpecifier(controller: $0.controller, source: $0.source) }),
                    .u32("interrupt-parent", devicePhandles[first.controller] ?? 0)]
        }
        return [.cells("interrupts-extended", device.irqs.flatMap {
            [devicePhandles[$0.controller] ?? 0] + interruptSpecifier(controller: $0.controller, source: $0.source)
        })]
    }
}

/// Builds the device tree the firmware and kernel read, from the same `Board` the machine is
/// built from. The layout follows what QEMU's `virt` generates (hw/riscv/virt.c
/// `create_fdt_*`), so OpenSBI, U-Boot and Linux find what they expect there.
public enum DeviceTreeGenerator {
    /// Builds a node for a device whose type is not in the catalog (a run-time registered type);
    /// nil leaves the device out of the tree.
    public typealias NodeBuilder = @Sendable (BoardDevice, DeviceTreeContext) -> DeviceTreeNode?

    /// Interrupt numbers a hart's local interrupt controller takes (RISC-V privileged 1.12
    /// §3.1.9, `mip` bits): the CLINT drives MSIP/MTIP, the PLIC's contexts MEIP and SEIP.
    public enum LocalInterrupt {
        public static let machineSoftware: UInt32 = 3
        public static let machineTimer: UInt32 = 7
        public static let supervisorExternal: UInt32 = 9
        public static let machineExternal: UInt32 = 11
    }


    /// The DTB for `board`.
    /// - Parameters:
    ///   - bootArgs: kernel command line for `/chosen/bootargs` (omitted when empty).
    ///   - initrd: guest physical [start, end) of a loaded initrd, for `linux,initrd-start/-end`.
    ///   - extraNodes: nodes to add under a parent path ("/" or "/soc") after the board's own.
    ///   - nodeBuilder: builds nodes for device types outside the catalog.
    public static func generate(board: Board, bootArgs: String, initrd: (start: UInt64, end: UInt64)? = nil,
                                catalog: DeviceTypeCatalog = .builtIn,
                                extraNodes: [(parent: String, node: DeviceTreeNode)] = [],
                                nodeBuilder: NodeBuilder? = nil) throws(DeviceTreeError) -> [UInt8] {
        var root = tree(board: board, bootArgs: bootArgs, initrd: initrd, catalog: catalog, nodeBuilder: nodeBuilder)
        for (parent, node) in extraNodes { root.insert(node, at: parent) }
        return try root.flatten(bootCPU: 0)
    }

    /// The tree as a value, for callers that edit it before flattening.
    public static func tree(board: Board, bootArgs: String, initrd: (start: UInt64, end: UInt64)? = nil,
                            catalog: DeviceTypeCatalog = .builtIn, nodeBuilder: NodeBuilder? = nil) -> DeviceTreeNode {
        let context = makeContext(board: board, catalog: catalog)
        var root = DeviceTreeNode("", properties: [
            .u32("#address-cells", 2),
            .u32("#size-cells", 2),
            .strings("compatible", board.compatible),
            .string("model", board.model),
        ])
        root.children.append(chosen(board: board, bootArgs: bootArgs, initrd: initrd, context: context))
        if let aliases = aliases(board: board, catalog: catalog, context: context) { root.children.append(aliases) }
        for region in board.memory {
            root.children.append(DeviceTreeNode("memory@\(unitAddress(region.base))", properties: [
                .string("device_type", "memory"),
                .cells("reg", cells64(region.base) + cells64(region.size)),
            ]))
        }
        root.children.append(cpus(board: board, context: context))

        var soc = DeviceTreeNode("soc", properties: [
            .u32("#address-cells", 2),
            .u32("#size-cells", 2),
            .strings("compatible", ["simple-bus"]),
            .empty("ranges"),
        ])
        for device in board.devices {
            guard let kind = catalog.kind(named: device.type) else {
                if let node = nodeBuilder?(device, context) {
                    if device.base != nil { soc.children.append(node) } else { root.children.append(node) }
                }
                continue
            }
            switch kind.spec.placement {
            case .omitted: continue
            case .root: root.children.append(node(for: device, kind: kind, board: board, context: context))
            case .soc: soc.children.append(node(for: device, kind: kind, board: board, context: context))
            }
            root.children += kind.extraNodes(for: device, context: context)
        }
        root.children.append(soc)
        return root
    }

    /// `dtc -I dtb -O dts` of a blob (for `backplane dtb --dts`).
    public static func toDTS(_ blob: [UInt8]) throws -> String {
        try DTC.decompile(blob).dts
    }

    // MARK: Parts

    static func makeContext(board: Board, catalog: DeviceTypeCatalog) -> DeviceTreeContext {
        // Like QEMU: each cpu node, then its interrupt controller (cpu0 = 1, its intc = 2, …),
        // then devices other nodes point at, in file order.
        let intc = (0..<board.harts.count).map { UInt32(2 * $0 + 2) }
        var next = UInt32(2 * board.harts.count + 1)
        var phandles: [String: UInt32] = [:]
        var paths: [String: String] = [:]
        for device in board.devices {
            let spec = catalog.spec(named: device.type)
            if spec == nil || spec!.isInterruptController || spec!.needsPhandle {
                phandles[device.name] = next
                next += 1
            }
            if let spec {
                switch spec.placement {
                case .soc: paths[device.name] = "/soc/\(spec.nodeName)@\(unitAddress(device.base ?? 0))"
                case .root: paths[device.name] = "/\(spec.nodeName)"
                case .omitted: break
                }
            }
        }
        var context = DeviceTreeContext(hartInterruptControllers: intc, devicePhandles: phandles, devicePaths: paths)
        for device in board.devices {
            if let cells = catalog.spec(named: device.type)?.interruptCells, cells != 1 { context.interruptCells[device.name] = cells }
        }
        return context
    }

    private static func cpuPhandle(_ hart: Int) -> UInt32 { UInt32(2 * hart + 1) }

    private static func chosen(board: Board, bootArgs: String, initrd: (start: UInt64, end: UInt64)?, context: DeviceTreeContext) -> DeviceTreeNode {
        var node = DeviceTreeNode("chosen")
        if !bootArgs.isEmpty { node.properties.append(.string("bootargs", bootArgs)) }
        if let stdout = board.boot.stdout, let path = context.devicePaths[stdout] {
            node.properties.append(.string("stdout-path", path))
        }
        if let initrd {
            node.properties.append(.u64("linux,initrd-start", initrd.start))
            node.properties.append(.u64("linux,initrd-end", initrd.end))
        }
        return node
    }

    /// `serialN` for each console, the stdout device first so it is serial0 (Linux's ttyS0).
    private static func aliases(board: Board, catalog: DeviceTypeCatalog, context: DeviceTreeContext) -> DeviceTreeNode? {
        var consoles = board.devices.filter { catalog.spec(named: $0.type)?.isConsole == true && context.devicePaths[$0.name] != nil }
        if let stdout = board.boot.stdout, let index = consoles.firstIndex(where: { $0.name == stdout }) {
            consoles.insert(consoles.remove(at: index), at: 0)
        }
        guard !consoles.isEmpty else { return nil }
        return DeviceTreeNode("aliases", properties: consoles.enumerated().map { index, device in
            .string("serial\(index)", context.devicePaths[device.name]!)
        })
    }

    private static func cpus(board: Board, context: DeviceTreeContext) -> DeviceTreeNode {
        var cpus = DeviceTreeNode("cpus", properties: [
            .u32("#address-cells", 1),
            .u32("#size-cells", 0),
            .u32("timebase-frequency", UInt32(truncatingIfNeeded: board.harts.timebaseFrequency)),
        ])
        for hart in 0..<board.harts.count {
            cpus.children.append(DeviceTreeNode("cpu@\(String(hart, radix: 16))", properties: [
                .u32("phandle", cpuPhandle(hart)),
                .string("device_type", "cpu"),
                .u32("reg", UInt32(hart)),
                .string("status", "okay"),
                .strings("compatible", ["riscv"]),
                .string("riscv,isa", aiaISA(board)),
                .string("riscv,isa-base", board.harts.isaBase),
                .strings("riscv,isa-extensions", board.harts.extensions + aiaExtensions(board)),
                .string("mmu-type", board.harts.mmu.deviceTreeName),
            ], children: [
                DeviceTreeNode("interrupt-controller", properties: [
                    .u32("#interrupt-cells", 1),
                    // Not in QEMU's tree; without it dtc warns "Missing #address-cells in
                    // interrupt provider" (an interrupt-map parent needs it).
                    .u32("#address-cells", 0),
                    .empty("interrupt-controller"),
                    .strings("compatible", ["riscv,cpu-intc"]),
                    .u32("phandle", context.hartInterruptControllers[hart]),
                ]),
            ]))
        }
        let cores = (0..<board.harts.count).map { hart in
            DeviceTreeNode("core\(hart)", properties: [.u32("cpu", cpuPhandle(hart))])
        }
        cpus.children.append(DeviceTreeNode("cpu-map", children: [DeviceTreeNode("cluster0", children: cores)]))
        return cpus
    }

    /// The node every device gets (phandle, compatible, reg, one-cell properties, interrupts),
    /// completed by its kind.
    private static func node(for device: BoardDevice, kind: any DeviceKind, board: Board, context: DeviceTreeContext) -> DeviceTreeNode {
        let spec = kind.spec
        let name = spec.placement == .soc ? "\(spec.nodeName)@\(unitAddress(device.base ?? 0))" : spec.nodeName
        var node = DeviceTreeNode(name)
        if let phandle = context.devicePhandles[device.name] { node.properties.append(.u32("phandle", phandle)) }
        node.properties.append(.strings("compatible", spec.compatible))
        if let base = device.base, let size = device.size {
            node.properties.append(.cells("reg", cells64(base) + cells64(size)))
        }
        for property in spec.properties {
            if let deviceTreeName = property.deviceTreeName, let value = device.integer(property.name) {
                node.properties.append(.u32(deviceTreeName, UInt32(truncatingIfNeeded: value)))
            }
        }
        // A host bridge's irqs are its INTx lines: its kind puts them into interrupt-map.
        if !spec.isPCIHostBridge {
            node.properties += context.interruptProperties(for: device)
        }
        kind.completeNode(&node, for: device, board: board, context: context)
        return node
    }

    /// Replaces the property of the same name, or appends it.
    static func replace(_ node: inout DeviceTreeNode, _ property: DeviceTreeProperty) {
        if let index = node.properties.firstIndex(where: { $0.name == property.name }) {
            node.properties[index] = property
        } else {
            node.properties.append(property)
        }
    }

    /// Unit address as the Devicetree Spec wants it: lower-case hex, no leading zeros, no 0x.
    static func unitAddress(_ address: UInt64) -> String { String(address, radix: 16) }
}

import CPU
import DeviceTree
import IRQ

/// `imsic`: the incoming MSI controller of the RISC-V AIA (`IMSIC`): an interrupt file per hart
/// at one privilege level, reached by the hart's Smaia/Ssaia CSRs and by MSIs on the bus.
public struct IMSICKind: DeviceKind {
    public static let name = "imsic"

    public let spec = DeviceTypeSpec(
        name: name,
        summary: "incoming MSI controller (RISC-V AIA 1.0 §3): an interrupt file per hart at one privilege level, one 4 KiB page each",
        // The window reserves room for every hart; the device tree and the mapping cover
        // harts × 4 KiB of it, as QEMU's virt does with VIRT_IMSIC_MAX_SIZE.
        registers: .required(minimumSize: 0x1000, pageAligned: true),
        properties: [
            DevicePropertySpec(name: "level", kind: .string, defaultValue: nil,
                               summary: "'machine' or 'supervisor': the privilege level of the interrupt files (MEIP or SEIP)"),
            DevicePropertySpec(name: "num-ids", kind: .integer(63...2047), defaultValue: .integer(255),
                               deviceTreeName: "riscv,num-ids",
                               summary: "interrupt identities per file, one less than a multiple of 64"),
        ],
        // MSI-mode APLICs and PCI host bridges name it in msi-parent.
        needsPhandle: true,
        nodeName: "imsics", compatible: ["riscv,imsics"])

    public init() {}

    public func buildStage(of device: BoardDevice, in board: Board) -> DeviceBuildStage { .interruptFiles }

    /// What the property kinds cannot say: the level, that it is the only imsic of its level,
    /// the identity count, and a window for every hart.
    public func check(_ device: BoardDevice, in board: Board, into diagnostics: BoardDiagnostics) {
        let location = device.location
        guard let level = board.imsicLevel(device) else {
            if let value = device.properties["level"] {
                diagnostics.error("property 'level' of imsic '\(device.name)' must be 'machine' or 'supervisor', got \(value)", at: location)
            }
            return
        }
        let earlier = board.devices.prefix { $0.name != device.name || $0.location != device.location }
        if let first = earlier.first(where: { $0.type == IMSICKind.name && board.imsicLevel($0) == level }) {
            diagnostics.error("imsic '\(device.name)' is a second \(level)-level imsic ('\(first.name)' is the first)", at: location)
        }
        if let ids = device.integer("num-ids"), ids & 63 != 63 {
            diagnostics.error("property 'num-ids' of imsic '\(device.name)' must be one less than a multiple of 64 (63, 127, 255, …), got \(ids)", at: location)
        }
        if let size = device.size, size < board.imsicRegionSize, size >= Board.imsicPageSize {
            diagnostics.error("size \(hex(size)) of imsic '\(device.name)' holds \(size / Board.imsicPageSize) interrupt file(s) but the board has \(board.harts.count) harts (needs \(hex(board.imsicRegionSize)))",
                              at: device.regLocation ?? location)
        }
    }

    public func build(_ device: BoardDevice, in machine: Machine) throws {
        let level = machine.board.imsicLevel(device) ?? .machine
        let imsic = try IMSIC(harts: machine.harts, level: level, identityCount: Int(device.integer("num-ids") ?? 255))
        imsic.traceName = device.name
        machine.imsics[device.name] = imsic
        // Only the pages of the harts that exist; the rest of the window stays unmapped.
        try machine.map(device, imsic, size: imsic.regionSize)
        machine.manage(imsic)
        // Each hart's CSRs reach its files of both levels, whichever IMSIC is built first.
        let files = { (level: InterruptLevel) in machine.imsics.values.first { $0.level == level }?.files }
        let machineFiles = files(.machine), supervisorFiles = files(.supervisor)
        for (index, hart) in machine.harts.enumerated() {
            hart.interruptFile = IMSICHart(machine: machineFiles?[index], supervisor: supervisorFiles?[index])
        }
    }

    /// Linux 6.12's `riscv,imsics` binding and OpenSBI 1.1, laid out like QEMU `virt,aia=aplic-imsic`.
    public func completeNode(_ node: inout DeviceTreeNode, for device: BoardDevice, board: Board, context: DeviceTreeContext) {
        let level = board.imsicLevel(device) ?? .machine
        // Every interrupt provider carries #address-cells, or dtc warns (as it does on QEMU's tree).
        node.properties += [.u32("#address-cells", 0), .empty("interrupt-controller")]
        // The pages of the harts that exist, not the whole reserved window (as QEMU).
        DeviceTreeGenerator.replace(&node, .cells("reg", DeviceTreeGenerator.cells64(device.base ?? 0) + DeviceTreeGenerator.cells64(board.imsicRegionSize)))
        node.properties += [
            .u32("#interrupt-cells", 0),
            .empty("msi-controller"),
            .cells("interrupts-extended", context.hartInterruptControllers.flatMap { [$0, UInt32(level.externalInterruptBit)] }),
        ]
    }
}

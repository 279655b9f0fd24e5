import DeviceTree
import IRQ
import PCI

/// `pci-host-ecam-generic`: a PCIe host bridge reached through ECAM (`PCIHostBridge`); PCI
/// functions name it in `at:`, and its irqs are the INTA…INTD lines.
public struct PCIHostBridgeKind: DeviceKind {
    public static let name = "pci-host-ecam-generic"

    /// Window properties of a host bridge: (space, base property, size property).
    static let windows: [(space: PCIWindow.Space, base: String, size: String, what: String)] = [
        (.io, "pio-base", "pio-size", "I/O window"),
        (.memory32, "mmio32-base", "mmio32-size", "32-bit memory window"),
        (.memory64, "mmio64-base", "mmio64-size", "64-bit memory window"),
    ]

    public let spec = DeviceTypeSpec(
        name: name,
        summary: "PCIe host bridge reached through ECAM (1 MiB of reg per bus), with I/O, 32-bit and 64-bit memory windows; irqs are INTA…INTD",
        registers: .required(minimumSize: PCIHostBridge.bytesPerBus, pageAligned: true),
        irqCount: 0...4,
        properties: windows.flatMap { window in [
            DevicePropertySpec(name: window.base, kind: .integer(0...UInt64.max), defaultValue: .integer(0),
                               summary: "CPU address of the \(window.what); the bus address is the same (0 for I/O)"),
            DevicePropertySpec(name: window.size, kind: .integer(0...UInt64.max), defaultValue: .integer(0),
                               summary: "bytes of the \(window.what); 0: none"),
        ] } + [
            DevicePropertySpec(name: "domain", kind: .integer(0...0xffff), defaultValue: .integer(0),
                               deviceTreeName: "linux,pci-domain", summary: "PCI domain (segment) number"),
        ],
        nodeName: "pci", compatible: ["pci-host-ecam-generic"], isPCIHostBridge: true)

    public init() {}

    public func build(_ device: BoardDevice, in machine: Machine) throws {
        guard let size = device.size else { return }
        let windows = machine.board.pciWindows(of: device).filter { $0.size > 0 }.map { window in
            PCIWindow(space: window.space, cpuBase: window.base, pciBase: window.space == .io ? 0 : window.base, size: window.size)
        }
        let bridge = PCIHostBridge(name: device.name, space: machine.space, busCount: Int(size / PCIHostBridge.bytesPerBus),
                                   windows: windows, intx: try machine.irqLines(of: device))
        try machine.map(device, bridge)
        machine.addPCIBus(bridge, for: device)
        // A machine reset is a conventional reset of the bus (PCIe Base 6.0 §6.6.1): every
        // function back to power-on, BARs unmapped.
        machine.manage(bridge)
    }

    public func completeNode(_ node: inout DeviceTreeNode, for device: BoardDevice, board: Board, context: DeviceTreeContext) {
        node.properties += DeviceTreeGenerator.pciHostProperties(for: device, board: board, context: context)
    }
}

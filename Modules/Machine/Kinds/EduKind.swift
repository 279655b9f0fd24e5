import PCI

/// `edu`: QEMU's edu teaching device (`EduFunction`).
public struct EduKind: DeviceKind {
    public static let name = "edu"

    public let spec = DeviceTypeSpec(
        name: name,
        summary: "QEMU's edu teaching device (1234:11e8): ID, factorial, DMA engine, MSI-X or INTA",
        registers: .pciFunction(bars: EduFunction.bars),
        nodeName: "edu", compatible: [], placement: .omitted)

    public init() {}

    public func build(_ device: BoardDevice, in machine: Machine) throws {
        try machine.attachPCI(device) { bus in EduFunction(bus: bus) }
    }
}

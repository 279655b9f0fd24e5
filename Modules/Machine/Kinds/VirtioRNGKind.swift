import Virtio

/// `virtio-rng-pci`: a virtio entropy device on PCI (`VirtioRNG` behind `VirtioPCIFunction`).
public struct VirtioRNGKind: DeviceKind {
    public static let name = "virtio-rng-pci"

    public let spec = DeviceTypeSpec(
        name: name,
        summary: "virtio entropy device on PCI: the guest's hwrng, fed from the host's system generator",
        registers: .pciFunction(bars: VirtioPCIFunction.bars),
        nodeName: "rng", compatible: [], placement: .omitted)

    public init() {}

    public func build(_ device: BoardDevice, in machine: Machine) throws {
        try machine.attachPCI(device) { bus in VirtioPCIFunction(bus: bus, device: VirtioRNG()) }
    }
}

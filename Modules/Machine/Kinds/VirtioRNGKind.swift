import Virtio

/// `virtio-rng-pci`: a virtio entropy device on PCI (`VirtioRNG` behind `VirtioPCIFunction`).
public struct VirtioRNGKind: DeviceKind {
    public static let name = "virtio-rng-pci"

    public let spec = DeviceTypeSpec(
        name: name,
        summary: "virtio entropy device on PCI: the guest's hwrng, fed from the host's system generator (under the virtual clock: a seeded generator, so runs repeat)",
        registers: .pciFunction(bars: VirtioPCIFunction.bars),
        properties: [
            DevicePropertySpec(name: "seed", kind: .integer(0...UInt64.max), defaultValue: .integer(0),
                               summary: "under the virtual clock: the seed of the reproducible generator that feeds the guest (SplitMix64); the host clock uses the host's generator"),
        ],
        nodeName: "rng", compatible: [], placement: .omitted)

    public init() {}

    public func build(_ device: BoardDevice, in machine: Machine) throws {
        // Entropy from the host is an input from outside: a virtual-clock run takes it from a
        // seeded generator instead, so two runs with the same inputs stay identical.
        let rng = machine.timebase.isVirtual
            ? VirtioRNG(entropy: SeededEntropy(seed: device.properties["seed"]?.integer ?? 0))
            : VirtioRNG()
        try machine.attachPCI(device) { bus in VirtioPCIFunction(bus: bus, device: rng) }
    }
}

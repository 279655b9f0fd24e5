import PCI
import Virtio

/// Catalog entries of the PCI host bridge and the built-in PCI functions (docs/pci.md).
enum PCIDeviceTypes {
    static let hostBridge = "pci-host-ecam-generic"

    /// Window properties of a host bridge: (space, base property, size property).
    static let windows: [(space: PCIWindow.Space, base: String, size: String, what: String)] = [
        (.io, "pio-base", "pio-size", "I/O window"),
        (.memory32, "mmio32-base", "mmio32-size", "32-bit memory window"),
        (.memory64, "mmio64-base", "mmio64-size", "64-bit memory window"),
    ]

    static let all: [DeviceTypeSpec] = [
        DeviceTypeSpec(
            name: hostBridge,
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
            nodeName: "pci", compatible: ["pci-host-ecam-generic"], isPCIHostBridge: true),
        DeviceTypeSpec(
            name: "virtio-blk-pci",
            summary: "virtio 1.x block device on PCI (modern transport, MSI-X) backed by a raw image file",
            registers: .pciFunction(bars: VirtioPCIFunction.bars),
            properties: [
                DevicePropertySpec(name: "file", kind: .string, defaultValue: nil, summary: "raw disk image; its size is the disk's"),
                DevicePropertySpec(name: "read-only", kind: .boolean, defaultValue: .boolean(false),
                                   summary: "open the image read-only and offer VIRTIO_BLK_F_RO"),
                DevicePropertySpec(name: "serial", kind: .string, defaultValue: .string(""),
                                   summary: "what GET_ID returns (at most 20 bytes)"),
            ],
            nodeName: "disk", compatible: [], placement: .omitted),
        DeviceTypeSpec(
            name: "edu",
            summary: "QEMU's edu teaching device (1234:11e8): ID, factorial, DMA engine, MSI-X or INTA",
            registers: .pciFunction(bars: EduFunction.bars),
            nodeName: "edu", compatible: [], placement: .omitted),
    ]
}

import Storage
import Virtio

/// `virtio-blk-pci`: a virtio 1.x block device on PCI (`VirtioBlock` behind `VirtioPCIFunction`).
public struct VirtioBlockKind: DeviceKind {
    public static let name = "virtio-blk-pci"

    public let spec = DeviceTypeSpec(
        name: name,
        summary: "virtio 1.x block device on PCI (modern transport, MSI-X) backed by a raw image file",
        registers: .pciFunction(bars: VirtioPCIFunction.bars),
        properties: [
            DevicePropertySpec(name: "file", kind: .string, defaultValue: nil, summary: "raw disk image; its size is the disk's"),
            DevicePropertySpec(name: "read-only", kind: .boolean, defaultValue: .boolean(false),
                               summary: "open the image read-only and offer VIRTIO_BLK_F_RO"),
            DevicePropertySpec(name: "serial", kind: .string, defaultValue: .string(""),
                               summary: "what GET_ID returns (at most 20 bytes)"),
        ],
        nodeName: "disk", compatible: [], placement: .omitted)

    public init() {}

    public func build(_ device: BoardDevice, in machine: Machine) throws {
        let image = try DiskImage(path: device.properties["file"]?.string ?? "",
                                  readOnly: device.properties["read-only"]?.boolean ?? false)
        let block = VirtioBlock(image: image, serial: device.properties["serial"]?.string ?? "")
        try machine.attachPCI(device) { bus in VirtioPCIFunction(bus: bus, device: block) }
    }
}

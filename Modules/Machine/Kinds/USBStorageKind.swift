import Storage
import USB

/// `usb-storage`: USB mass storage, Bulk-Only Transport with SCSI (`USBMassStorage`).
public struct USBStorageKind: DeviceKind {
    public static let name = "usb-storage"

    public let spec = DeviceTypeSpec(
        name: name,
        summary: "USB mass storage (Bulk-Only Transport, SCSI) backed by a raw image file; high or super speed",
        registers: .none,
        properties: [
            DevicePropertySpec(name: "file", kind: .string, defaultValue: nil, summary: "raw disk image; its size is the disk's"),
            DevicePropertySpec(name: "read-only", kind: .boolean, defaultValue: .boolean(false),
                               summary: "open the image read-only; writes fail with DATA PROTECT"),
            DevicePropertySpec(name: "serial", kind: .string, defaultValue: .string("BP0001"),
                               summary: "serial number string and SCSI unit serial number"),
            .usbSpeed,
        ],
        nodeName: "storage", compatible: [], placement: .omitted, usbSpeeds: [.high, .superSpeed])

    public init() {}

    public func build(_ device: BoardDevice, in machine: Machine) throws {
        let image = try DiskImage(path: device.properties["file"]?.string ?? "",
                                  readOnly: device.properties["read-only"]?.boolean ?? false)
        try machine.plugUSB(USBMassStorage(image: image, serial: device.properties["serial"]?.string ?? "BP0001"), for: device)
    }
}

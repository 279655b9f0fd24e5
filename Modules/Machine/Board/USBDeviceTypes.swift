import PCI
import USB

/// Catalog entries of the xHCI controller and the built-in USB devices (docs/usb.md).
enum USBDeviceTypes {
    /// Type names of the xHCI controller (QEMU's name and a short one).
    static let controllers = ["qemu-xhci", "xhci"]

    /// Speeds each built-in device type can run at; the port picks among them.
    static let speeds: [String: Set<USBSpeed>] = [
        "usb-kbd": [.full],
        "usb-tablet": [.full],
        "usb-storage": [.high, .superSpeed],
        "usb-loopback": [.full, .high, .superSpeed],
        USBHostDeviceTypes.name: USBHostDeviceTypes.speeds,
    ]

    static let speedProperty = DevicePropertySpec(
        name: "speed", kind: .string, defaultValue: .string(""),
        summary: "low, full, high or super; empty: the fastest the device and its port both take")

    private static let controllerProperties = [
        DevicePropertySpec(name: "usb2-ports", kind: .integer(0...15), defaultValue: .integer(4),
                           summary: "USB 2 ports (low/full/high speed), numbered from 1"),
        DevicePropertySpec(name: "usb3-ports", kind: .integer(0...15), defaultValue: .integer(4),
                           summary: "USB 3 ports (SuperSpeed), numbered after the USB 2 ports"),
    ]

    static let all: [DeviceTypeSpec] = controllers.map { name in
        DeviceTypeSpec(
            name: name,
            summary: "xHCI 1.2 USB host controller on PCI (QEMU's qemu-xhci, 1b36:000d): MSI-X or INTA, USB 2 and USB 3 root ports",
            registers: .pciFunction(bars: XHCIController.bars),
            properties: controllerProperties,
            nodeName: "usb", compatible: [], placement: .omitted)
    } + [
        DeviceTypeSpec(
            name: "usb-kbd",
            summary: "USB HID boot keyboard (full speed), input scripted from a file",
            registers: .none,
            properties: [
                DevicePropertySpec(name: "input", kind: .string, defaultValue: .string(""),
                                   summary: "input script: lines 'type TEXT', 'key NAME', 'wait MS' (docs/usb.md)"),
                speedProperty,
            ],
            nodeName: "keyboard", compatible: [], placement: .omitted, usbSpeeds: speeds["usb-kbd"]),
        DeviceTypeSpec(
            name: "usb-tablet",
            summary: "USB HID absolute pointer (full speed), input scripted from a file",
            registers: .none,
            properties: [
                DevicePropertySpec(name: "input", kind: .string, defaultValue: .string(""),
                                   summary: "input script: lines 'move X Y', 'click', 'wait MS' (docs/usb.md)"),
                speedProperty,
            ],
            nodeName: "tablet", compatible: [], placement: .omitted, usbSpeeds: speeds["usb-tablet"]),
        DeviceTypeSpec(
            name: "usb-storage",
            summary: "USB mass storage (Bulk-Only Transport, SCSI) backed by a raw image file; high or super speed",
            registers: .none,
            properties: [
                DevicePropertySpec(name: "file", kind: .string, defaultValue: nil, summary: "raw disk image; its size is the disk's"),
                DevicePropertySpec(name: "read-only", kind: .boolean, defaultValue: .boolean(false),
                                   summary: "open the image read-only; writes fail with DATA PROTECT"),
                DevicePropertySpec(name: "serial", kind: .string, defaultValue: .string("BP0001"),
                                   summary: "serial number string and SCSI unit serial number"),
                speedProperty,
            ],
            nodeName: "storage", compatible: [], placement: .omitted, usbSpeeds: speeds["usb-storage"]),
        DeviceTypeSpec(
            name: "usb-loopback",
            summary: "vendor-specific USB loopback (the docs/usb.md example): bulk OUT/IN echo, interrupt IN byte count",
            registers: .none,
            properties: [speedProperty],
            nodeName: "loopback", compatible: [], placement: .omitted, usbSpeeds: speeds["usb-loopback"]),
    ]
}

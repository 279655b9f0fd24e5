import DeviceTree
import PCI

/// The node of a PCI host bridge, as QEMU's `virt` writes it (hw/riscv/virt.c
/// `create_fdt_pcie`) and the binding `pci-host-ecam-generic` (Linux
/// Documentation/devicetree/bindings/pci/host-generic-pci.yaml) asks for.
extension DeviceTreeGenerator {
    /// `ranges` space codes (IEEE 1275 PCI bus binding §2.2.1.1, phys.hi bits 25:24).
    private static func spaceCode(_ space: PCIWindow.Space) -> UInt32 {
        switch space {
        case .io: return 0x0100_0000
        case .memory32: return 0x0200_0000
        case .memory64: return 0x0300_0000
        }
    }

    static func pciHostProperties(for device: BoardDevice, board: Board, context: DeviceTreeContext) -> [DeviceTreeProperty] {
        let buses = UInt32(max(1, (device.size ?? 0) / PCIHostBridge.bytesPerBus))
        var ranges: [UInt32] = []
        for window in board.pciWindows(of: device) where window.size > 0 {
            let busAddress = window.space == .io ? 0 : window.base
            ranges += [spaceCode(window.space)] + cells64(busAddress) + cells64(window.base) + cells64(window.size)
        }
        var properties: [DeviceTreeProperty] = [
            .string("device_type", "pci"),
            .u32("#address-cells", 3),
            .u32("#size-cells", 2),
            .u32("#interrupt-cells", 1),
            .cells("bus-range", [0, buses - 1]),
            .cells("ranges", ranges),
            .empty("dma-coherent"),
        ]
        if device.irqs.count == 4 {
            // The standard swizzle: INTx pin p of slot s reaches line (s + p - 1) mod 4. The
            // mask keeps the low two bits of the device number (phys.hi bits 12:11) and the pin.
            var map: [UInt32] = []
            for slot in UInt32(0)..<4 {
                for pin in UInt32(1)...4 {
                    let line = device.irqs[Int((slot + pin - 1) % 4)]
                    // The PLIC and APLIC nodes have #address-cells = 0: no parent unit address.
                    map += [slot << 11, 0, 0, pin, context.devicePhandles[line.controller] ?? 0]
                        + context.interruptSpecifier(controller: line.controller, source: line.source)
                }
            }
            properties += [.cells("interrupt-map-mask", [0x1800, 0, 0, 7]), .cells("interrupt-map", map)]
        }
        // MSIs go to the supervisor-level IMSIC when the board has one (Linux's PCI MSI domain).
        if let imsic = board.imsic(level: .supervisor), let phandle = context.devicePhandles[imsic.name] {
            properties.append(.u32("msi-parent", phandle))
        }
        return properties
    }

    static func cells64(_ value: UInt64) -> [UInt32] {
        [UInt32(truncatingIfNeeded: value >> 32), UInt32(truncatingIfNeeded: value)]
    }
}

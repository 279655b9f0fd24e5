import IRQ
import Memory
import PCI
import Virtio

/// Building PCI host bridges and the functions the board places on them (docs/pci.md).
extension Machine {
    /// Creates the host bridge `device` and maps its ECAM window.
    func instantiatePCIHost(_ device: BoardDevice) throws(MachineError) {
        guard let size = device.size else { return }
        var intx: [IRQLine] = []
        for irq in device.irqs {
            guard let controller = interruptController(named: irq.controller) else {
                throw MachineError("\(board.sourcePath):\(device.sourceLine): device '\(device.name)': INTx controller '\(irq.controller)' cannot take PCI interrupts")
            }
            intx.append(IRQLine(controller: controller, source: Int(irq.source)))
        }
        let windows = board.pciWindows(of: device).filter { $0.size > 0 }.map { window in
            PCIWindow(space: window.space, cpuBase: window.base, pciBase: window.space == .io ? 0 : window.base, size: window.size)
        }
        let bridge = PCIHostBridge(name: device.name, space: space, busCount: Int(size / PCIHostBridge.bytesPerBus),
                                   windows: windows, intx: intx)
        pciHosts[device.name] = bridge
        try map(device, bridge)
    }

    /// Builds every PCI function of the board and attaches it at its `at:` address (after all
    /// host bridges exist, whatever the file order).
    func attachPCIFunctions() throws(MachineError) {
        for device in board.devices {
            guard let address = device.pciAddress else { continue }
            let prefix = "\(board.sourcePath):\(device.sourceLine): device '\(device.name)'"
            guard let bridge = pciHosts[address.bus] else {
                throw MachineError("\(prefix): no PCI host bridge '\(address.bus)'")
            }
            let slot = PCIAddress(device: UInt8(address.device), function: UInt8(address.function))
            do {
                switch device.type {
                case "virtio-blk-pci":
                    let image = try DiskImage(path: device.properties["file"]?.string ?? "",
                                              readOnly: device.properties["read-only"]?.boolean ?? false)
                    let block = VirtioBlock(image: image, serial: device.properties["serial"]?.string ?? "")
                    try bridge.attach(at: slot) { bus in VirtioPCIFunction(bus: bus, device: block) }
                case "edu":
                    try bridge.attach(at: slot) { bus in EduFunction(bus: bus) }
                case "pci.host":
                    try attachHostPCI(device, on: bridge, at: slot)
                case "qemu-xhci", "xhci":
                    try attachXHCI(device, bridge: bridge, slot: slot)
                default:
                    if try attachPluginFunction(device, bridge: bridge, slot: slot) { break }
                    throw MachineError("\(prefix): type '\(device.type)' is not a PCI function")
                }
            } catch let error as MachineError {
                throw error
            } catch {
                throw MachineError("\(prefix): \(error)")
            }
        }
    }

    /// A guest-requested reset: every function back to power-on, BARs unmapped.
    func resetPCI() {
        for bridge in pciHosts.values { bridge.reset() }
    }
}

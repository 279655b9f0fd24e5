import PCI
import Passthrough

/// Building `pci.host` functions (docs/passthrough.md). Everything the host is asked happens
/// here, when the machine is built: a refusal is one error naming the board line, and leaves
/// the host device as it was (nothing is written before every check passed).
extension Machine {
    func attachHostPCI(_ device: BoardDevice, on bridge: PCIHostBridge, at slot: PCIAddress) throws {
        let text = device.properties["host"]?.string ?? ""
        guard let address = HostPCIAddress(text) else { throw HostPCIError.badAddress(text) }
        let sysfs = HostPCISysfs()
        let snapshot = try sysfs.snapshot(of: address)
        let options = HostPCIOptions(bars: device.properties["bars"]?.boolean ?? false,
                                     force: device.properties["force"]?.boolean ?? false,
                                     writable: device.properties["writable"]?.boolean ?? false)
        // The board could not check the BARs against the windows (their sizes come from the
        // host): do it now, so a BAR firmware cannot place is an error and not a silent gap.
        if let hostDevice = board.device(named: device.pciAddress?.bus ?? "") {
            let windows = board.pciWindows(of: hostDevice)
            for (index, bar) in try HostConfigMirror.bars(of: snapshot) {
                let fits = windows.contains { window in
                    switch bar.kind {
                    case .io: return window.space == .io && window.size >= bar.size
                    case .memory32: return window.space == .memory32 && window.size >= bar.size
                    case .memory64: return window.space != .io && window.size >= bar.size
                    }
                }
                if !fits {
                    throw HostPCIError.unsupportedBAR(address, bar: index, size: bar.size,
                                                      reason: "\(bar.summary) fits no window of '\(hostDevice.name)'")
                }
            }
        }
        try bridge.attach(at: slot) { bus in try HostPCIFunction(bus: bus, snapshot: snapshot, options: options, sysfs: sysfs) }
    }
}

import PCI
import Passthrough

/// `pci.host`: a host PCI function mirrored into the guest (`HostPCIFunction`,
/// docs/passthrough.md). Everything the host is asked happens when the machine is built: a
/// refusal is one error naming the board line, and leaves the host device as it was (nothing is
/// written before every check passed).
public struct HostPCIKind: DeviceKind {
    public static let name = "pci.host"

    public let spec = DeviceTypeSpec(
        name: name,
        summary: "a host PCI function mirrored into the guest: config space and capabilities from the host, BARs, command and MSI/MSI-X emulated; BAR access to the device only with bars: true",
        // The BARs are the host function's, known only when the machine is built.
        registers: .pciFunction(bars: []),
        properties: [
            DevicePropertySpec(name: "host", kind: .string, defaultValue: nil,
                               summary: "the host function, DOMAIN:BUS:DEVICE.FUNCTION as `backplane host pci` lists it (0000:00:03.0)"),
            DevicePropertySpec(name: "bars", kind: .boolean, defaultValue: .boolean(false),
                               summary: "forward BAR accesses to the device through sysfs resourceN (refused for a driver-bound function unless force); false: BAR reads return 0, writes are dropped"),
            DevicePropertySpec(name: "force", kind: .boolean, defaultValue: .boolean(false),
                               summary: "allow bars: true on a function bound to a host driver"),
            DevicePropertySpec(name: "writable", kind: .boolean, defaultValue: .boolean(false),
                               summary: "open the resourceN files for writing so BAR writes reach the device; nothing is written to the host otherwise"),
        ],
        nodeName: "pci-host-function", compatible: [], placement: .omitted)

    public init() {}

    /// What can be checked without touching the host: the address syntax, and `force` and
    /// `writable` only meaning something with `bars: true`.
    public func check(_ device: BoardDevice, in board: Board, into diagnostics: BoardDiagnostics) {
        if let host = device.properties["host"]?.string, HostPCIAddress(host) == nil {
            diagnostics.error("'host' of device '\(device.name)': '\(host)' is not DOMAIN:BUS:DEVICE.FUNCTION such as '0000:00:03.0'",
                              at: device.location)
        }
        let bars = device.properties["bars"]?.boolean ?? false
        for property in ["force", "writable"] where !bars && device.properties[property]?.boolean == true {
            diagnostics.error("'\(property): true' of device '\(device.name)' needs 'bars: true' (without it nothing on the host is opened for BAR access)",
                              at: device.location)
        }
    }

    public func build(_ device: BoardDevice, in machine: Machine) throws {
        let text = device.properties["host"]?.string ?? ""
        guard let address = HostPCIAddress(text) else { throw HostPCIError.badAddress(text) }
        let sysfs = HostPCISysfs()
        let snapshot = try sysfs.snapshot(of: address)
        let options = HostPCIOptions(bars: device.properties["bars"]?.boolean ?? false,
                                     force: device.properties["force"]?.boolean ?? false,
                                     writable: device.properties["writable"]?.boolean ?? false)
        // The board could not check the BARs against the windows (their sizes come from the
        // host): do it now, so a BAR firmware cannot place is an error and not a silent gap.
        if let hostDevice = machine.board.device(named: device.pciAddress?.bus ?? "") {
            let windows = machine.board.pciWindows(of: hostDevice)
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
        try machine.attachPCI(device) { bus in try HostPCIFunction(bus: bus, snapshot: snapshot, options: options, sysfs: sysfs) }
    }
}

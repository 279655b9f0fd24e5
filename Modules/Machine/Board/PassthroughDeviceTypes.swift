import Passthrough

/// Catalog entry and board checks of `pci.host`: a host PCI function mirrored into the guest
/// (docs/passthrough.md).
enum PassthroughDeviceTypes {
    static let hostPCI = "pci.host"

    static let all: [DeviceTypeSpec] = [
        DeviceTypeSpec(
            name: hostPCI,
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
            nodeName: "pci-host-function", compatible: [], placement: .omitted),
    ]
}

extension Board {
    /// What can be checked without touching the host: the address syntax, and `force` and
    /// `writable` only meaning something with `bars: true`.
    func checkPassthrough(into diagnostics: BoardDiagnostics) {
        for device in devices where device.type == PassthroughDeviceTypes.hostPCI {
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
    }
}

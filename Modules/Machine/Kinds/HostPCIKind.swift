import PCI
import Passthrough

/// `pci.host`: a host PCI function mirrored into the guest (`HostPCIFunction`), or with
/// `vfio: true` passed through with VFIO (`VFIOPCIFunction`: the device DMAs into guest RAM and
/// interrupts the guest), docs/passthrough.md. Everything the host is asked happens when the machine is built: a
/// refusal is one error naming the board line, and leaves the host device as it was (nothing is
/// written before every check passed).
public struct HostPCIKind: DeviceKind {
    public static let name = "pci.host"

    public let spec = DeviceTypeSpec(
        name: name,
        summary: "a host PCI function mirrored into the guest: config space and capabilities from the host, BARs, command and MSI/MSI-X emulated; BAR access to the device only with bars: true; with vfio: true passed through with VFIO (DMA into guest RAM, interrupts)",
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
            DevicePropertySpec(name: "vfio", kind: .boolean, defaultValue: .boolean(false),
                               summary: "pass the function through with VFIO (bound to vfio-pci, IOMMU on): BARs, DMA into guest RAM at guest physical addresses, MSI-X/MSI/INTx, reset"),
        ],
        nodeName: "pci-host-function", compatible: [], placement: .omitted)

    public init() {}

    /// What can be checked without touching the host: the address syntax, `force` and
    /// `writable` only meaning something with `bars: true`, and `vfio` excluding `bars` (VFIO
    /// reaches the BARs itself).
    public func check(_ device: BoardDevice, in board: Board, into diagnostics: BoardDiagnostics) {
        if let host = device.properties["host"]?.string, HostPCIAddress(host) == nil {
            diagnostics.error("'host' of device '\(device.name)': '\(host)' is not DOMAIN:BUS:DEVICE.FUNCTION such as '0000:00:03.0'",
                              at: device.location)
        }
        let bars = device.properties["bars"]?.boolean ?? false
        if device.properties["vfio"]?.boolean == true && bars {
            diagnostics.error("'bars: true' of device '\(device.name)' cannot go with 'vfio: true' (VFIO reaches the BARs itself; drop 'bars')",
                              at: device.location)
        }
        for property in ["force", "writable"] where !bars && device.properties[property]?.boolean == true {
            diagnostics.error("'\(property): true' of device '\(device.name)' needs 'bars: true' (without it nothing on the host is opened for BAR access)",
                              at: device.location)
        }
    }

    public func build(_ device: BoardDevice, in machine: Machine) throws {
        let text = device.properties["host"]?.string ?? ""
        guard let address = HostPCIAddress(text) else { throw HostPCIError.badAddress(text) }
        let sysfs = HostPCISysfs()
        let snapshot: HostPCISnapshot
        if let journal = machine.journal, journal.isReplaying {
            // --replay: the function as the recording found it; sysfs is not read.
            guard let (source, bytes) = journal.replayInput(prefix: "pci:\(device.name)/"), source == "pci:\(device.name)/host",
                  let recorded = HostPCISnapshot(journalBytes: bytes), recorded.address == address else {
                throw MachineError("the journal has no readable description of host function \(address) for '\(device.name)' at time 0 (recorded on another board?)")
            }
            snapshot = recorded
        } else {
            snapshot = try sysfs.snapshot(of: address)
            machine.journal?.recordInput(source: "pci:\(device.name)/host", bytes: snapshot.journalBytes)
        }
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
        if device.properties["vfio"]?.boolean == true {
            // One container for every VFIO function of the machine; guest RAM mapped at IOVA =
            // guest physical address (RAM is mapped before any device is built).
            let container: VFIOContainer
            if let journal = machine.journal {
                // --record/--replay: the function's own journaled kernel (VFIOJournal.swift);
                // replaying, nothing under /dev/vfio is opened.
                let kernel = journal.isReplaying
                    ? JournaledVFIOKernel(replaying: journal, name: device.name, function: address.description)
                    : JournaledVFIOKernel(recording: LinuxVFIOKernel.shared, journal: journal, name: device.name, function: address.description)
                container = try VFIOContainer(kernel: kernel, vfioPath: sysfs.vfioPath, for: address)
            } else {
                container = try VFIOContainer.shared(vfioPath: sysfs.vfioPath, for: address)
            }
            let function: VFIOPCIFunction
            do {
                function = try machine.attachPCI(device) { bus in
                    try VFIOPCIFunction(bus: bus, snapshot: snapshot, container: container, memory: machine.space)
                }
            } catch {
                // Replaying, a journal that does not describe this function fails the build with
                // an errno the journal made up: say where the replay left the recording instead.
                if let divergence = machine.journal?.divergence { throw MachineError(divergence) }
                throw error
            }
            // Its interrupts arrive on eventfds, drained by the machine's poll loop; reset comes
            // through the host bridge like every function's.
            machine.manage(VFIOInterruptPoller(function))
            return
        }
        try machine.attachPCI(device) { bus in try HostPCIFunction(bus: bus, snapshot: snapshot, options: options, sysfs: sysfs) }
    }
}

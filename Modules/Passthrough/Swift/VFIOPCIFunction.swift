#if canImport(Glibc)
import Glibc
#endif
import Memory
import PCI

/// A host PCI function given to the guest through VFIO (`pci.host` with `vfio: true`,
/// docs/passthrough.md): the device itself answers BAR accesses, DMAs into guest RAM and
/// interrupts the guest, as with QEMU's vfio-pci.
///
/// - Configuration space is read once through the VFIO config region and mirrored
///   (`HostConfigMirror`): identity, BAR types and sizes, the capability list. The command
///   register, BAR addresses and the MSI/MSI-X capabilities are emulated; the command
///   register's enables (memory, I/O, bus master, interrupt disable) are written through to the
///   device so it decodes and DMAs, and the emulated MSI/MSI-X state decides which VFIO
///   interrupt index is routed (`VFIOInterrupts`).
/// - BARs: the MSI-X table and PBA are always emulated (the vectors the guest programs are not
///   the host's; the kernel programs the device's own table, §6.8.2). Everything else reaches
///   the device. The pages of a region VFIO lets us mmap, except those holding the MSI-X table
///   or PBA, are direct windows (`directWindows(bar:)`): the bus maps them as device memory, so
///   guest loads and stores (the JIT's inline TLB path included) reach the device with no trap.
///   The rest is trapped: one access through the mmap, or pread/pwrite where there is none.
/// - DMA: every RAM region of the machine is mapped in the container with IOVA = guest
///   physical address, so bus addresses the guest programs are guest physical addresses.
/// - Interrupts: `poll()` (machine thread) drains the vectors' eventfds; an MSI-X or MSI vector
///   becomes the message the guest programmed (masking and pending bits as emulated), INTx
///   raises the function's pin until the guest's next BAR access, when the line is lowered and
///   unmasked in VFIO (QEMU's `vfio_intx_eoi`): a device still asserting fires again.
/// - Reset: `VFIO_DEVICE_RESET` and every interrupt index disabled.
public final class VFIOPCIFunction: PCIFunction {
    public let bus: PCIBusInterface
    public var config: PCIConfigSpace { bus.config }
    public let device: VFIODevice
    public let container: VFIOContainer
    public let msi: MSICapability?
    public let msix: MSIXCapability?
    /// Host capabilities the mirror left out.
    public let droppedCapabilities: [String]
    private let bars: [VFIORegionAccess?]
    /// Direct windows per BAR (page-aligned parts of the mmaps, the MSI-X pages left out).
    private let direct: [[PCIDirectWindow]]
    /// Whether the direct windows hold the device (true) or scratch memory (parked while the
    /// device's memory decoding is off; see `VFIOKernel.park`).
    private var directArmed = true
    /// Whether the direct windows are withdrawn so every BAR access traps: from an INTx until
    /// the poll after its end of interrupt (QEMU's `vfio_intx_interrupt` disables its mmaps the
    /// same way). The end of an INTx is the guest's next BAR access, which must reach us.
    private var directSuspended = false
    /// Guest accesses that reached `readBAR`/`writeBAR` per BAR: trapped ones, MSI-X table and
    /// PBA included. Accesses through direct windows never count.
    public private(set) var trappedAccesses = [UInt64](repeating: 0, count: 6)
    private let interrupts: VFIOInterrupts
    private var intxAsserted = false
    /// Where interrupt set-up failures go (one line each); stderr by default.
    public var report: (String) -> Void = { line in
        var text = line + "\n"
        text.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }

    /// Command register bits that reach the device (PCI 3.0 §6.2.2): I/O space, memory space,
    /// bus master, interrupt disable.
    static let forwardedCommandBits: UInt16 = 0x0001 | 0x0002 | 0x0004 | 0x0400

    /// Opens the function through VFIO in `container`, maps `memory`'s RAM for its DMA, and
    /// mirrors its configuration into `bus.config`. On any error everything opened is closed and
    /// the device is left as it was.
    public init(bus: PCIBusInterface, snapshot: HostPCISnapshot, container: VFIOContainer, memory: AddressSpace) throws(VFIOError) {
        let address = snapshot.address
        let device = try VFIODevice(container: container, snapshot: snapshot)
        // Put the device in a known state before the guest sees it (QEMU resets at realize too).
        _ = device.reset()
        let config = device.readConfig()
        var resources: [HostPCIResource] = []
        for index in 0..<6 {
            let region = device.regions[index]
            guard region.size > 0 else { resources.append(HostPCIResource(start: 0, end: 0, flags: 0)); continue }
            let low = config.count >= 0x14 + 4 * index ? config[0x10 + 4 * index] : 0
            let flags = low & 1 != 0 ? HostPCIResource.ioFlag : HostPCIResource.memoryFlag
            resources.append(HostPCIResource(start: 0x1000, end: 0x1000 + region.size - 1, flags: flags))
        }
        let mirrored = HostPCISnapshot(address: address, config: config, resources: resources,
                                       driver: snapshot.driver, iommuGroup: snapshot.iommuGroup)
        let declared: [(index: Int, bar: PCIBAR)]
        do throws(HostPCIError) {
            declared = try HostConfigMirror.bars(of: mirrored)
        } catch {
            if case let .unsupportedBAR(_, bar, _, reason) = error { throw .bar(address, bar: bar, reason: reason) }
            throw .bar(address, bar: 0, reason: error.description)
        }
        for range in memory.regions where range.kind == .ram {
            guard let host = range.host else { continue }
            try container.map(iova: range.base, host: host, size: range.size, for: address)
        }
        var bars = [VFIORegionAccess?](repeating: nil, count: 6)
        for (index, _) in declared { bars[index] = VFIORegionAccess(device: device, region: device.regions[index]) }
        let result: HostConfigMirror.Result
        do throws(HostPCIError) {
            result = try HostConfigMirror.mirror(mirrored, into: bus)
        } catch {
            throw .bar(address, bar: 0, reason: error.description)
        }
        // The MSI-X table and PBA stay trapped, at page granularity (host pages, and never less
        // than the guest's 4 KiB: a hart TLB entry covers a guest page).
        var excluded = [[Range<UInt64>]](repeating: [], count: 6)
        if let msix = result.msix {
            if msix.tableBAR < 6 { excluded[msix.tableBAR].append(msix.tableOffset..<(msix.tableOffset + msix.tableSize)) }
            if msix.pbaBAR < 6 { excluded[msix.pbaBAR].append(msix.pbaOffset..<(msix.pbaOffset + msix.pbaSize)) }
        }
        let page = UInt64(max(4096, sysconf(Int32(_SC_PAGESIZE))))
        direct = (0..<6).map { index in bars[index]?.directWindows(excluding: excluded[index], page: page) ?? [] }
        self.bus = bus
        self.device = device
        self.container = container
        self.bars = bars
        msi = result.msi
        msix = result.msix
        droppedCapabilities = result.dropped
        interrupts = VFIOInterrupts(device: device)
        // The device must not decode or master until the guest enables it; INTx is routed from
        // the start, as on real hardware (and QEMU's vfio-pci at realize).
        forwardCommand()
        updateInterruptMode()
    }

    /// Bytes of BAR `bar` reached through an mmap (the rest goes through pread/pwrite).
    public func mappedBytes(bar: Int) -> UInt64 { bar < bars.count ? bars[bar]?.mappedBytes ?? 0 : 0 }

    /// The parts of BAR `bar` the bus maps as device memory (`PCIFunction.directWindows`).
    public func directWindows(bar: Int) -> [PCIDirectWindow] { bar < direct.count && !directSuspended ? direct[bar] : [] }

    /// Whether VFIO routes any interrupt index to eventfds now (the machine then polls often).
    public var interruptsRouted: Bool { interrupts.mode != .none }

    /// The interrupt mode VFIO routes now (for tests and `--trace`-style reports).
    public var interruptMode: String {
        switch interrupts.mode {
        case .none: return "none"
        case .intx: return "INTx"
        case let .msi(vectors): return "MSI (\(vectors) vectors)"
        case let .msix(vectors): return "MSI-X (\(vectors) vectors)"
        }
    }

    // MARK: BARs

    public func readBAR(_ bar: Int, offset: UInt64, size: Int) -> UInt64 {
        if bar < 6 { trappedAccesses[bar] &+= 1 }
        if let msix, let value = msix.readBAR(bar, offset: offset, size: size) { return value }
        if intxAsserted { endOfINTx() }
        guard bar < bars.count, let access = bars[bar] else { return 0 }
        return access.read(offset: offset, size: size)
    }

    public func writeBAR(_ bar: Int, offset: UInt64, size: Int, value: UInt64) {
        if bar < 6 { trappedAccesses[bar] &+= 1 }
        if let msix, msix.writeBAR(bar, offset: offset, size: size, value: value) { return }
        guard bar < bars.count, let access = bars[bar] else { return }
        access.write(offset: offset, size: size, value: value)
        if intxAsserted { endOfINTx() }
    }

    // MARK: Configuration

    public func configWritten(offset: Int, size: Int) {
        if offset < 0x06 && offset + size > 0x04 {
            forwardCommand()
            bus.commandChanged()
        }
        updateInterruptMode()
    }

    /// Writes the guest's enables to the device. The direct windows are parked before the device
    /// stops decoding memory and armed again once it decodes (vfio-pci zaps its mappings and
    /// raises SIGBUS for a touch while memory decoding is off; a hart's stale TLB entry must not
    /// reach them before the machine flushes it).
    private func forwardCommand() {
        let host = UInt16(truncatingIfNeeded: device.readConfig(offset: 0x04, size: 2))
        let wanted = (host & ~VFIOPCIFunction.forwardedCommandBits) | (config.command.rawValue & VFIOPCIFunction.forwardedCommandBits)
        let decodes = wanted & 0x0002 != 0
        if !decodes && directArmed {
            directArmed = false
            for (index, windows) in direct.enumerated() where !windows.isEmpty {
                if let problem = bars[index]?.park(windows) {
                    report("backplane: host PCI function \(device.address): cannot park the direct mapping of BAR \(index): \(problem)")
                }
            }
        }
        if wanted != host { device.writeConfig(offset: 0x04, size: 2, value: UInt32(wanted)) }
        if decodes && !directArmed {
            directArmed = true
            for (index, windows) in direct.enumerated() where !windows.isEmpty {
                if let problem = bars[index]?.arm(windows) {
                    report("backplane: host PCI function \(device.address): cannot map BAR \(index) for direct access again (\(problem)): the guest reads zeros there")
                }
            }
        }
    }

    /// Routes the VFIO interrupt index the guest's capability state asks for (MSI-X over MSI
    /// over INTx, PCI 3.0 §6.8.2.3).
    private func updateInterruptMode() {
        let wanted: VFIOInterrupts.Mode
        if let msix, msix.isEnabled {
            wanted = .msix(vectors: msix.vectors)
        } else if let msi, msi.isEnabled {
            wanted = .msi(vectors: msi.enabledVectors)
        } else if config.interruptPin != nil && (device.irqCounts[.intx] ?? 0) > 0 {
            wanted = .intx
        } else {
            wanted = .none
        }
        guard wanted != interrupts.mode else { return }
        if intxAsserted {
            intxAsserted = false
            bus.setINTx(false)
        }
        if let problem = interrupts.set(wanted) { report("backplane: host PCI function \(device.address): \(problem)") }
    }

    // MARK: Interrupts

    /// Delivers what the device signalled since the last poll. Runs on the machine thread.
    public func poll() {
        switch interrupts.mode {
        case .none:
            break
        case .intx:
            interrupts.poll { _ in
                if !intxAsserted {
                    intxAsserted = true
                    bus.setINTx(true)
                }
            }
            if intxAsserted && !directSuspended && direct.contains(where: { !$0.isEmpty }) {
                // Unmapping device memory bumps `ramUnmaps`: the machine flushes the harts'
                // TLBs at the end of this same poll, before any hart runs.
                directSuspended = true
                bus.remapBARs()
            }
        case .msi:
            interrupts.poll { msi?.signal(vector: $0) }
        case .msix:
            interrupts.poll { msix?.notify(vector: $0) }
        }
        if directSuspended && !intxAsserted {
            directSuspended = false
            bus.remapBARs()
        }
    }

    /// The guest touched the device after an INTx: lower the line and let VFIO unmask it.
    private func endOfINTx() {
        intxAsserted = false
        bus.setINTx(false)
        device.unmaskINTx()
    }

    public func reset() {
        // The bridge has unmapped the BARs already; they are mapped with the windows next time.
        directSuspended = false
        _ = interrupts.set(.none)
        if intxAsserted {
            intxAsserted = false
            bus.setINTx(false)
        }
        msix?.reset()
        if let reason = device.reset(), reason.code != ENOTTY {
            report("backplane: host PCI function \(device.address): VFIO_DEVICE_RESET failed: \(reason)")
        }
        forwardCommand()
        updateInterruptMode()
    }
}

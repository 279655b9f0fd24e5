import CBackplane
import Foundation
import Memory
import PCI

/// One instance of a plugin PCI type, seen by the host bridge as any other `PCIFunction`:
/// the PCI core (PCIConfigSpace, MSICapability, MSIXCapability) does all standard
/// configuration-space work, and BAR accesses outside the MSI-X structures go straight to
/// the plugin's C callbacks. A guest MMIO access costs what a built-in function's does plus
/// one indirect C call: no existential, closure, dictionary or allocation on the way.
public final class PluginPCIFunction: PCIFunction {
    public let bus: PCIBusInterface
    public let config: PCIConfigSpace
    public let name: String
    public let type: PluginPCIType
    /// MSI-X and MSI, made when the shape is fixed (`fixShape`), right after `create` or at
    /// the first host call that needs them.
    public private(set) var msix: MSIXCapability?
    public private(set) var msi: MSICapability?
    /// The plugin's instance pointer (what its `create` stored).
    var instance: UnsafeMutableRawPointer?
    private let readFunction: @convention(c) (UnsafeMutableRawPointer?, UInt32, UInt64, UInt32) -> UInt64
    private let writeFunction: @convention(c) (UnsafeMutableRawPointer?, UInt32, UInt64, UInt32, UInt64) -> Void
    /// Host storage of RAM-backed BARs by index (nil for callback BARs).
    private let ramStorage: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    /// [start + 3, start + length) of the vendor-specific capability, if the type has one.
    private var vendorRegisters: Range<Int>?
    let cName: UnsafeMutablePointer<CChar>
    /// This instance's BARs and MSI-X vector count: the type's, unless `create` changed them
    /// (`pci->set_bar_size`, `set_msix_vectors`, ABI 1.2) before `fixShape`.
    public private(set) var bars: [PCIBAR?]
    private var shape: bp_pci_device_type
    private(set) var isShapeFixed = false
    /// What the config-change notification last reported (BP_PCI_CHANGED_*, ABI 1.2).
    private var lastCommand: UInt16 = 0
    private var lastMSIState: UInt64 = 0
    private var lastMSIXState: UInt64 = 0

    init(bus: PCIBusInterface, name: String, type: PluginPCIType) {
        self.bus = bus
        config = bus.config
        self.name = name
        self.type = type
        let raw = type.raw
        shape = raw
        bars = type.bars
        readFunction = raw.bar_read ?? { _, _, _, _ in 0 }
        writeFunction = raw.bar_write ?? { _, _, _, _, _ in }
        ramStorage = .allocate(capacity: 6)
        ramStorage.initialize(repeating: nil, count: 6)
        cName = strdup(name)!
    }

    /// `pci->set_bar_size` during `create`: checked as `register_type` checks the type.
    func setBARSize(_ bar: UInt32, _ size: UInt64) -> Int32 {
        reshape("set_bar_size") { raw in
            guard bar < 6 else { return "bar \(bar) is not 0...5" }
            withUnsafeMutableBytes(of: &raw.bars) { bytes in
                let specs = bytes.bindMemory(to: bp_pci_bar_spec.self)
                if specs[Int(bar)].kind != UInt32(BP_PCI_BAR_NONE) { specs[Int(bar)].size = size }
            }
            return type.bars[Int(bar)] == nil ? "BAR \(bar) is not declared by the type" : nil
        }
    }

    /// `pci->set_msix_vectors` during `create`.
    func setMSIXVectors(_ vectors: UInt32) -> Int32 {
        reshape("set_msix_vectors") { raw in
            guard raw.msix_vectors != 0 else { return "the type has no MSI-X capability" }
            guard vectors >= 1 else { return "msix_vectors 0: an instance of a type with MSI-X has at least 1" }
            raw.msix_vectors = vectors
            return nil
        }
    }

    private func reshape(_ function: String, _ change: (inout bp_pci_device_type) -> String?) -> Int32 {
        guard !isShapeFixed else {
            type.plugin.identity.refuse("pci->\(function): device '\(name)': only during create, before other calls for the device; refused with BP_ERR_STATE")
            return BP_ERR_STATE
        }
        var raw = shape
        if let problem = change(&raw) {
            type.plugin.identity.refuse("pci->\(function): device '\(name)' of type '\(type.name)': \(problem); refused with BP_ERR_INVALID")
            return BP_ERR_INVALID
        }
        do throws(PluginTypeValidation.TypeError) {
            let (newBARs, _) = try PluginTypeValidation.bars(of: raw, name: type.name)
            try PluginTypeValidation.capabilities(of: raw, bars: newBARs, name: type.name)
            shape = raw
            bars = newBARs
            return BP_OK
        } catch {
            type.plugin.identity.refuse("pci->\(function): device '\(name)': \(error.description); refused with BP_ERR_INVALID")
            return BP_ERR_INVALID
        }
    }

    /// Declares BARs and capabilities from the (possibly per-instance) shape; after this the
    /// shape cannot change. Idempotent.
    func fixShape() {
        guard !isShapeFixed else { return }
        isShapeFixed = true
        let raw = shape
        config.setIdentity(type.identity)
        for (index, bar) in bars.enumerated() { if let bar { config.declareBAR(index, bar) } }
        config.interruptPin = PCIInterruptPin(rawValue: raw.interrupt_pin)
        // A root-complex integrated endpoint, as the built-in edu and QEMU's devices on virt.
        config.addPCIExpressCapability(portType: .rootComplexIntegratedEndpoint)
        msi = raw.msi_vectors == 0 ? nil : MSICapability(bus: bus, vectors: Int(raw.msi_vectors))
        msix = raw.msix_vectors == 0 ? nil : MSIXCapability(bus: bus, vectors: Int(raw.msix_vectors),
                                                             tableBAR: Int(raw.msix_table_bar), tableOffset: raw.msix_table_offset,
                                                             pbaBAR: Int(raw.msix_pba_bar), pbaOffset: raw.msix_pba_offset)
        if raw.vendor_capability_length != 0 {
            let length = Int(raw.vendor_capability_length)
            let start = config.addVendorCapability(length: length)
            // Writable so a guest write lands in config space, where configWritten reads it
            // back for the plugin; reads are answered by the plugin.
            config.setWritable(start + 3, size: 1, mask: 0xff)
            for byte in (start + 4)..<(start + length) { config.setWritable(byte, size: 1, mask: 0xff) }
            vendorRegisters = (start + 3)..<(start + length)
        }
        for index in 0..<6 {
            if type.ramBars[index], let bar = bars[index] { ramStorage[index] = calloc(1, Int(bar.size)) }
        }
        (lastCommand, lastMSIState, lastMSIXState) = observedState()
    }

    deinit {
        for index in 0..<6 { free(ramStorage[index]) }
        ramStorage.deallocate()
        free(cName)
    }

    /// The `bp_pci_device *` handed to the plugin: a checked token (PluginHandles), valid
    /// from `create` until `destroy` returns.
    lazy var handle: OpaquePointer = PluginHandles.shared.issue(self, kind: .pciDevice, owner: type.plugin.identity)


    /// Storage of RAM-backed BAR `bar`, nil otherwise.
    func barMemory(_ bar: Int) -> UnsafeMutableRawPointer? {
        fixShape()
        return (0..<6).contains(bar) ? ramStorage[bar] : nil
    }

    /// A RAM-backed BAR (`BP_PCI_BAR_RAM`) is mapped as RAM, as pci.h promises, unless the
    /// MSI-X table or PBA sits in it (those registers need the MSI-X emulation).
    public func memoryBacking(bar: Int) -> UnsafeMutableRawPointer? {
        if let msix, msix.tableBAR == bar || msix.pbaBAR == bar { return nil }
        return (0..<6).contains(bar) ? ramStorage[bar] : nil
    }

    // MARK: PCIFunction

    /// Command register, MSI (enable, MME, mask bits) and MSI-X (enable, function mask, and the
    /// vectors' mask bits hashed) as compared by the config-change notification.
    private func observedState() -> (UInt16, UInt64, UInt64) {
        let command = config.command.rawValue
        var msiState: UInt64 = 0
        if let msi {
            msiState = UInt64(msi.isEnabled ? 1 : 0) | UInt64(msi.enabledVectors) << 1
            for vector in 0..<msi.vectors where msi.isMasked(vector) { msiState |= 1 << UInt64(8 + vector) }
        }
        var msixState: UInt64 = 0
        if let msix {
            msixState = UInt64(msix.isEnabled ? 1 : 0) | UInt64(msix.isFunctionMasked ? 2 : 0)
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for vector in 0..<msix.vectors {
                hash = (hash ^ (msix.isMasked(vector) ? 1 : 0)) &* 0x100_0000_01b3
            }
            msixState |= hash << 2
        }
        return (command, msiState, msixState)
    }

    /// Tells a 1.2 plugin what the guest changed (BP_PCI_CHANGED_*), if it asked to hear it.
    private func notifyConfigChanges() {
        guard let changed = type.raw.config_changed, type.raw.config_events != 0 else { return }
        let (command, msiState, msixState) = observedState()
        var changes: UInt32 = 0
        if command != lastCommand { changes |= UInt32(BP_PCI_CHANGED_COMMAND) }
        if msiState != lastMSIState { changes |= UInt32(BP_PCI_CHANGED_MSI) }
        if msixState != lastMSIXState { changes |= UInt32(BP_PCI_CHANGED_MSIX) }
        (lastCommand, lastMSIState, lastMSIXState) = (command, msiState, msixState)
        changes &= type.raw.config_events
        if changes != 0 { changed(instance, changes) }
    }

    public func readBAR(_ bar: Int, offset: UInt64, size: Int) -> UInt64 {
        if let msix, let value = msix.readBAR(bar, offset: offset, size: size) { return value }
        if let storage = ramStorage[bar] {
            // SAFETY: the bus only forwards offsets inside the BAR, which the storage spans.
            switch size {
            case 1: return UInt64(storage.load(fromByteOffset: Int(offset), as: UInt8.self))
            case 2: return UInt64(storage.loadUnaligned(fromByteOffset: Int(offset), as: UInt16.self))
            case 4: return UInt64(storage.loadUnaligned(fromByteOffset: Int(offset), as: UInt32.self))
            default: return storage.loadUnaligned(fromByteOffset: Int(offset), as: UInt64.self)
            }
        }
        return readFunction(instance, UInt32(truncatingIfNeeded: bar), offset, UInt32(truncatingIfNeeded: size))
    }

    public func writeBAR(_ bar: Int, offset: UInt64, size: Int, value: UInt64) {
        if let msix, msix.writeBAR(bar, offset: offset, size: size, value: value) {
            // A vector's mask bit lives in the table (PCI 3.0 §6.8.2.9).
            if type.raw.config_events & UInt32(BP_PCI_CHANGED_MSIX) != 0 { notifyConfigChanges() }
            return
        }
        if let storage = ramStorage[bar] {
            // SAFETY: as in readBAR.
            switch size {
            case 1: storage.storeBytes(of: UInt8(truncatingIfNeeded: value), toByteOffset: Int(offset), as: UInt8.self)
            case 2: storage.storeBytes(of: UInt16(truncatingIfNeeded: value), toByteOffset: Int(offset), as: UInt16.self)
            case 4: storage.storeBytes(of: UInt32(truncatingIfNeeded: value), toByteOffset: Int(offset), as: UInt32.self)
            default: storage.storeBytes(of: value, toByteOffset: Int(offset), as: UInt64.self)
            }
            return
        }
        writeFunction(instance, UInt32(truncatingIfNeeded: bar), offset, UInt32(truncatingIfNeeded: size), value)
    }

    public func readConfig(offset: Int, size: Int) -> UInt32 {
        if let vendorRegisters, vendorRegisters.contains(offset), offset + size <= vendorRegisters.upperBound {
            let start = vendorRegisters.lowerBound - 3
            return type.raw.vendor_config_read?(instance, UInt32(offset - start), UInt32(size)) ?? 0
        }
        return config.read(offset: offset, size: size)
    }

    public func configWritten(offset: Int, size: Int) {
        if type.raw.config_events != 0 { notifyConfigChanges() }
        guard let vendorRegisters, vendorRegisters.contains(offset), offset + size <= vendorRegisters.upperBound else { return }
        let start = vendorRegisters.lowerBound - 3
        type.raw.vendor_config_write?(instance, UInt32(offset - start), UInt32(size), config.read(offset: offset, size: size))
    }

    public func reset() {
        msix?.reset()
        for index in 0..<6 {
            if let storage = ramStorage[index], let bar = bars[index] { memset(storage, 0, Int(bar.size)) }
        }
        (lastCommand, lastMSIState, lastMSIXState) = observedState()
        type.raw.reset?(instance)
    }

    // MARK: Services for the plugin

    /// `pci->dma_readv` / `dma_writev`: the segments in order, stopping at the first refusal.
    func dma(segments: UnsafePointer<bp_dma_segment>?, count: UInt32, buffer: UnsafeMutableRawPointer?, write: Bool,
             transferred: UnsafeMutablePointer<Int>?) -> Int32 {
        transferred?.pointee = 0
        guard count <= 1024, count == 0 || (segments != nil && buffer != nil) else {
            type.plugin.identity.refuse("pci->dma_\(write ? "writev" : "readv"): device '\(name)': \(count) segments, segments or buffer NULL; refused with BP_ERR_INVALID")
            return BP_ERR_INVALID
        }
        var done = 0
        for index in 0..<Int(count) {
            let segment = segments![index]
            guard segment.length <= UInt64(Int.max - done) else { return BP_ERR_INVALID }
            let pointer = buffer! + done
            let status = write ? dma(write: segment.address, from: UnsafeRawPointer(pointer), length: Int(segment.length))
                               : dma(read: segment.address, into: pointer, length: Int(segment.length))
            guard status == BP_OK else { return status }
            done += Int(segment.length)
            transferred?.pointee = done
        }
        return BP_OK
    }

    func dma(read address: UInt64, into buffer: UnsafeMutableRawPointer?, length: Int) -> Int32 {
        guard length >= 0, buffer != nil || length == 0 else { return BP_ERR_INVALID }
        return code(bus.dmaRead(address, into: UnsafeMutableRawBufferPointer(start: buffer, count: length)))
    }

    func dma(write address: UInt64, from buffer: UnsafeRawPointer?, length: Int) -> Int32 {
        guard length >= 0, buffer != nil || length == 0 else { return BP_ERR_INVALID }
        return code(bus.dmaWrite(address, from: UnsafeRawBufferPointer(start: buffer, count: length)))
    }

    /// `pci->msix_notify`: a 1.2 plugin learns what became of the message (sent, pending
    /// while masked, dropped while disabled or without bus mastering, PCI 3.0 §6.8.3.5 and
    /// §6.2.2 bit 2); older plugins get BP_OK for all of these, as their headers promised.
    func msixNotify(vector: UInt32) -> Int32 {
        fixShape()
        guard let msix else {
            type.plugin.identity.refuse("pci->msix_notify: device '\(name)' of type '\(type.name)' has no MSI-X capability; refused with BP_ERR_INVALID")
            return BP_ERR_INVALID
        }
        guard Int(vector) < msix.vectors else {
            type.plugin.identity.refuse("pci->msix_notify: vector \(vector) of device '\(name)' is out of range (it has \(msix.vectors)); refused with BP_ERR_INVALID")
            return BP_ERR_INVALID
        }
        let outcome: Int32
        if !msix.isEnabled { outcome = BP_ERR_DISABLED }
        else if msix.isFunctionMasked || msix.isMasked(Int(vector)) { outcome = BP_ERR_MASKED }
        else if !config.command.contains(.busMaster) { outcome = BP_ERR_BUS_MASTER_DISABLED }
        else { outcome = BP_OK }
        msix.notify(vector: Int(vector))
        return type.plugin.abiMinor >= 2 ? outcome : BP_OK
    }

    /// `pci->msi_notify`, with the same outcomes as `msixNotify`.
    func msiNotify(vector: UInt32) -> Int32 {
        fixShape()
        guard let msi else {
            type.plugin.identity.refuse("pci->msi_notify: device '\(name)' of type '\(type.name)' has no MSI capability; refused with BP_ERR_INVALID")
            return BP_ERR_INVALID
        }
        guard Int(vector) < msi.vectors else {
            type.plugin.identity.refuse("pci->msi_notify: vector \(vector) of device '\(name)' is out of range (it has \(msi.vectors)); refused with BP_ERR_INVALID")
            return BP_ERR_INVALID
        }
        let outcome: Int32
        if !msi.isEnabled || Int(vector) >= msi.enabledVectors { outcome = BP_ERR_DISABLED }
        else if msi.isMasked(Int(vector)) { outcome = BP_ERR_MASKED }
        else if !config.command.contains(.busMaster) { outcome = BP_ERR_BUS_MASTER_DISABLED }
        else { outcome = BP_OK }
        msi.signal(vector: Int(vector))
        return type.plugin.abiMinor >= 2 ? outcome : BP_OK
    }

    private func code(_ result: Result<Void, PCIDMAError>) -> Int32 {
        switch result {
        case .success: return BP_OK
        case .failure(.busMasterDisabled): return BP_ERR_BUS_MASTER_DISABLED
        case .failure(.masterAbort): return BP_ERR_MASTER_ABORT
        }
    }
}

/// Snapshots (docs/snapshots.md): the host bridge saves the configuration space and INTx level,
/// the plugin's own state goes through its `save`/`restore` hooks (`PluginSnapshotParticipant`);
/// this adds the MSI-X table the host keeps for the plugin and takes the restored command and
/// MSI state as the last seen, so the plugin is not told of changes that are not.
extension PluginPCIFunction: PCIFunctionSnapshot {
    public func saveFunction(to state: inout DeviceStateWriter) {
        msix?.save(to: &state)
    }

    public func restoreFunction(from state: inout DeviceStateReader) throws(DeviceStateError) {
        try msix?.restore(from: &state)
        (lastCommand, lastMSIState, lastMSIXState) = observedState()
    }
}

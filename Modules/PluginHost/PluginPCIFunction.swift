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
    public let msix: MSIXCapability?
    public let msi: MSICapability?
    /// The plugin's instance pointer (what its `create` stored).
    var instance: UnsafeMutableRawPointer?
    private let readFunction: @convention(c) (UnsafeMutableRawPointer?, UInt32, UInt64, UInt32) -> UInt64
    private let writeFunction: @convention(c) (UnsafeMutableRawPointer?, UInt32, UInt64, UInt32, UInt64) -> Void
    /// Host storage of RAM-backed BARs by index (nil for callback BARs).
    private let ramStorage: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    /// [start + 3, start + length) of the vendor-specific capability, if the type has one.
    private let vendorRegisters: Range<Int>?
    let cName: UnsafeMutablePointer<CChar>

    init(bus: PCIBusInterface, name: String, type: PluginPCIType) {
        self.bus = bus
        config = bus.config
        self.name = name
        self.type = type
        let raw = type.raw
        config.setIdentity(type.identity)
        for (index, bar) in type.bars.enumerated() { if let bar { config.declareBAR(index, bar) } }
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
        } else {
            vendorRegisters = nil
        }
        readFunction = raw.bar_read ?? { _, _, _, _ in 0 }
        writeFunction = raw.bar_write ?? { _, _, _, _, _ in }
        ramStorage = .allocate(capacity: 6)
        for index in 0..<6 {
            if type.ramBars[index], let bar = type.bars[index] {
                ramStorage[index] = calloc(1, Int(bar.size))
            } else {
                ramStorage[index] = nil
            }
        }
        cName = strdup(name)!
    }

    deinit {
        for index in 0..<6 { free(ramStorage[index]) }
        ramStorage.deallocate()
        free(cName)
    }

    /// The `bp_pci_device *` handed to the plugin.
    var handle: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }

    static func from(_ handle: OpaquePointer?) -> PluginPCIFunction? {
        guard let handle else { return nil }
        return Unmanaged<PluginPCIFunction>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
    }

    /// Storage of RAM-backed BAR `bar`, nil otherwise.
    func barMemory(_ bar: Int) -> UnsafeMutableRawPointer? {
        (0..<6).contains(bar) ? ramStorage[bar] : nil
    }

    /// A RAM-backed BAR (`BP_PCI_BAR_RAM`) is mapped as RAM, as pci.h promises, unless the
    /// MSI-X table or PBA sits in it (those registers need the MSI-X emulation).
    public func memoryBacking(bar: Int) -> UnsafeMutableRawPointer? {
        if let msix, msix.tableBAR == bar || msix.pbaBAR == bar { return nil }
        return barMemory(bar)
    }

    // MARK: PCIFunction

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
        if let msix, msix.writeBAR(bar, offset: offset, size: size, value: value) { return }
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
        guard let vendorRegisters, vendorRegisters.contains(offset), offset + size <= vendorRegisters.upperBound else { return }
        let start = vendorRegisters.lowerBound - 3
        type.raw.vendor_config_write?(instance, UInt32(offset - start), UInt32(size), config.read(offset: offset, size: size))
    }

    public func reset() {
        msix?.reset()
        for index in 0..<6 {
            if let storage = ramStorage[index], let bar = type.bars[index] { memset(storage, 0, Int(bar.size)) }
        }
        type.raw.reset?(instance)
    }

    // MARK: Services for the plugin

    func dma(read address: UInt64, into buffer: UnsafeMutableRawPointer?, length: Int) -> Int32 {
        guard length >= 0, buffer != nil || length == 0 else { return BP_ERR_INVALID }
        return code(bus.dmaRead(address, into: UnsafeMutableRawBufferPointer(start: buffer, count: length)))
    }

    func dma(write address: UInt64, from buffer: UnsafeRawPointer?, length: Int) -> Int32 {
        guard length >= 0, buffer != nil || length == 0 else { return BP_ERR_INVALID }
        return code(bus.dmaWrite(address, from: UnsafeRawBufferPointer(start: buffer, count: length)))
    }

    private func code(_ result: Result<Void, PCIDMAError>) -> Int32 {
        switch result {
        case .success: return BP_OK
        case .failure(.busMasterDisabled): return BP_ERR_BUS_MASTER_DISABLED
        case .failure(.masterAbort): return BP_ERR_MASTER_ABORT
        }
    }
}

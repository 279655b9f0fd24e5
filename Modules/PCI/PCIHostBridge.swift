import IRQ
import Memory
import Trace

/// One address window of a host bridge: CPU addresses `[cpuBase, cpuBase + size)` reach PCI
/// addresses `[pciBase, pciBase + size)` of one space (the device tree's `ranges` entries).
public struct PCIWindow: Sendable, Equatable {
    public enum Space: Sendable, Equatable {
        /// I/O space (`ranges` space code 01).
        case io
        /// Memory below 4 GiB (space code 10).
        case memory32
        /// Memory above 4 GiB (space code 11).
        case memory64
    }

    public let space: Space
    public let cpuBase: UInt64
    public let pciBase: UInt64
    public let size: UInt64

    public init(space: Space, cpuBase: UInt64, pciBase: UInt64, size: UInt64) {
        self.space = space
        self.cpuBase = cpuBase
        self.pciBase = pciBase
        self.size = size
    }

    /// The CPU address of PCI range `[address, address + length)`, if it lies inside the window.
    func cpuAddress(pci address: UInt64, length: UInt64) -> UInt64? {
        guard address >= pciBase, address - pciBase <= size, length <= size - (address - pciBase) else { return nil }
        return cpuBase + (address - pciBase)
    }
}

/// Why a function could not be attached (a board or programming error, never a guest one).
public struct PCIAttachError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// A PCIe host bridge reached through ECAM, the `pci-host-ecam-generic` binding (PCIe Base 4.0
/// §7.2.2: bus << 20 | device << 15 | function << 12 | register), with its own function at
/// 00.0 and the functions attached to bus 0.
///
/// It maps each function's BARs into the machine's address space while they are programmed
/// inside one of its windows and the function's command register enables their decoding, and
/// unmaps them when the guest moves or disables them.
public final class PCIHostBridge: MMIODevice {
    /// A function on bus 0 and its current BAR mappings.
    final class Slot {
        let function: any PCIFunction
        let bus: PCIBusInterface
        /// Mapped regions per BAR index (empty when not decoded): one, or for a BAR with direct
        /// windows its direct and trapped parts in address order.
        var regions: [[MemoryRegion]]
        init(function: any PCIFunction, bus: PCIBusInterface) {
            self.function = function
            self.bus = bus
            regions = [[MemoryRegion]](repeating: [], count: function.config.bars.count)
        }
    }

    /// Bytes of ECAM space per bus (32 devices × 8 functions × 4 KiB).
    public static let bytesPerBus: UInt64 = 1 << 20

    public let name: String
    /// Bus numbers 0..<busCount have configuration space; only bus 0 holds functions.
    public let busCount: Int
    public let windows: [PCIWindow]
    public var implementedSizes: AccessSizes { [.byte, .halfword, .word] }

    private unowned let space: AddressSpace
    private let intx: PCIINTxRouter
    /// 256 entries: device × 8 + function on bus 0.
    var slots: [Slot?] = [Slot?](repeating: nil, count: 256)

    /// The host bridge function itself (00.0): Red Hat's QEMU PCIe host bridge IDs, so guests
    /// that know QEMU's `virt` recognise it.
    public static let hostBridgeIdentity = PCIIdentity(vendorID: 0x1b36, deviceID: 0x0008, classCode: 0x060000,
                                                        subsystemVendorID: 0x1af4, subsystemID: 0x1100)

    /// - Parameters:
    ///   - busCount: buses decoded by the ECAM window (its size / 1 MiB), 1...256.
    ///   - intx: controller inputs for INTA…INTD of slot 0 (empty: INTx not wired).
    public init(name: String, space: AddressSpace, busCount: Int, windows: [PCIWindow], intx: [IRQLine]) {
        precondition((1...256).contains(busCount), "ECAM decodes 1...256 buses")
        self.name = name
        self.space = space
        self.busCount = busCount
        self.windows = windows
        self.intx = PCIINTxRouter(lines: intx)
        try! attach(at: PCIAddress(device: 0)) { bus in HostBridgeFunction(bus: bus) }
    }

    /// Builds a function at `address` on bus 0 and attaches it: `build` receives the function's
    /// bus interface (with an empty configuration space of `headerType` to fill in).
    @discardableResult
    public func attach<F: PCIFunction>(at address: PCIAddress, headerType: PCIConfigSpace.HeaderType = .endpoint,
                                       _ build: (PCIBusInterface) throws -> F) throws -> F {
        guard address.bus == 0 else {
            throw PCIAttachError(message: "\(name): functions can only sit on bus 0, not at \(address)")
        }
        let index = Int(address.device) * 8 + Int(address.function)
        if slots[index] != nil {
            throw PCIAttachError(message: "\(name): \(address) is already taken")
        }
        let config = PCIConfigSpace(headerType: headerType)
        let bus = PCIBusInterface(address: address, config: config, memory: space, intx: intx)
        let function = try build(bus)
        precondition(function.config === config, "a function must use the configuration space of its bus interface")
        let slot = Slot(function: function, bus: bus)
        slots[index] = slot
        bus.remapBARsHandler = { [unowned self, unowned slot] in self.remap(slot) }
        // Software scans functions 1-7 only when function 0 says it has siblings (PCI 3.0 §6.2.1).
        if address.function != 0 {
            slots[Int(address.device) * 8]?.function.config.isMultiFunction = true
        } else if (1..<8).contains(where: { slots[index + $0] != nil }) {
            config.isMultiFunction = true
        }
        config.captureResetState()
        return function
    }

    /// The function at `address`, if any.
    public func function(at address: PCIAddress) -> (any PCIFunction)? {
        address.bus == 0 ? slots[Int(address.device) * 8 + Int(address.function)]?.function : nil
    }

    /// Where BAR `bar` of the function at `address` is mapped in the CPU's address space (the
    /// region at its first byte, for a BAR split around direct windows).
    public func mappedRegion(of address: PCIAddress, bar: Int) -> MemoryRegion? {
        mappedRegions(of: address, bar: bar).first
    }

    /// Every region BAR `bar` of the function at `address` is mapped as, in address order.
    public func mappedRegions(of address: PCIAddress, bar: Int) -> [MemoryRegion] {
        guard address.bus == 0, let slot = slots[Int(address.device) * 8 + Int(address.function)],
              bar < slot.regions.count else { return [] }
        return slot.regions[bar]
    }

    /// Resets every function (a guest-requested machine reset): BARs unmapped, registers and
    /// internal state back to power-on.
    public func reset() {
        for case let slot? in slots {
            for (bar, regions) in slot.regions.enumerated() {
                for region in regions { space.unmap(region) }
                slot.regions[bar] = []
            }
            slot.bus.config.reset()
            slot.function.reset()
            slot.bus.setINTx(false)
        }
    }

    // MARK: ECAM

    public func read(offset: UInt64, size: Int) -> UInt64 {
        let allOnes: UInt64 = size >= 4 ? 0xffff_ffff : (1 << UInt64(8 * size)) - 1
        // Nothing answers on other buses or empty slots: the root complex completes the read
        // with all ones (PCIe Base 4.0 §2.3.2), which software takes as "no function".
        guard let slot = decode(offset) else { return allOnes }
        let value = UInt64(slot.function.readConfig(offset: Int(offset & 0xfff), size: size))
        if Trace.mask & TraceGroup.pci.bit != 0 { traceConfig(slot, "config-read", Int(offset & 0xfff), size, value) }
        return value
    }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        guard let slot = decode(offset) else { return }
        let register = Int(offset & 0xfff)
        let config = slot.function.config
        config.write(offset: register, size: size, value: UInt32(truncatingIfNeeded: value))
        let traced = Trace.mask & TraceGroup.pci.bit != 0
        if traced { traceConfig(slot, "config-write", register, size, value) }
        let touched = register..<(register + size)
        if touched.overlaps(PCIConfigRegister.command..<(PCIConfigRegister.command + 2)) {
            if traced {
                let command = config.command
                Trace.emit(.pci, device: slot.bus.name, "command", [
                    "memory": .flag(command.contains(.memorySpace)), "io": .flag(command.contains(.ioSpace)),
                    "bus-master": .flag(command.contains(.busMaster)), "intx-disable": .flag(command.contains(.interruptDisable)),
                ])
            }
            slot.bus.commandChanged()
            updateMappings(slot)
        } else if config.isBARRegister(register) {
            updateMappings(slot)
        }
        slot.function.configWritten(offset: register, size: size)
    }

    private func traceConfig(_ slot: Slot, _ what: String, _ register: Int, _ size: Int, _ value: UInt64) {
        Trace.emit(.pci, device: slot.bus.name, what, [
            "register": .text(PCIConfigRegister.name(of: register, in: slot.function.config)), "offset": .hex(UInt64(register)),
            "size": .number(UInt64(size)), "value": .hex(value),
        ])
    }

    private func decode(_ offset: UInt64) -> Slot? {
        guard offset >> 20 == 0 else { return nil }
        return slots[Int((offset >> 12) & 0xff)]
    }

    // MARK: BAR mapping

    /// Maps, moves or unmaps each BAR of `slot` to match its registers and command bits.
    func updateMappings(_ slot: Slot) {
        let config = slot.function.config
        let command = config.command
        for (index, declared) in config.bars.enumerated() {
            guard let bar = declared else { continue }
            var target: UInt64?
            let decodes = bar.kind == .io ? command.contains(.ioSpace) : command.contains(.memorySpace)
            if decodes, let address = config.barAddress(index) {
                target = cpuAddress(of: bar, at: address)
            }
            if let first = slot.regions[index].first {
                if first.base == target { continue }
                // Unmapping device memory counts in `space.ramUnmaps`: the machine flushes the
                // harts' TLBs before they run again.
                for region in slot.regions[index] { space.unmap(region) }
                slot.regions[index] = []
                if Trace.mask & TraceGroup.pci.bit != 0 {
                    Trace.emit(.pci, device: slot.bus.name, "bar-unmap", ["bar": .number(UInt64(index)), "address": .hex(first.base)])
                }
            }
            guard let target else { continue }
            let regionName = "\(name) \(slot.bus.address) BAR\(index)"
            // Two BARs programmed over each other (or over another device) cannot both decode;
            // the later one stays unmapped, as the overlap is the guest's mistake.
            if bar.kind != .io, let storage = slot.function.memoryBacking(bar: index) {
                if let region = try? space.mapRAM(name: regionName, base: target, size: bar.size, storage: storage, owner: slot.function) {
                    slot.regions[index] = [region]
                }
            } else if bar.kind != .io, case let windows = slot.function.directWindows(bar: index), !windows.isEmpty {
                slot.regions[index] = mapSplit(slot, bar: index, declared: bar, at: target, name: regionName, windows: windows)
            } else {
                let window = PCIBARWindow(function: slot.function, bar: index, sizes: bar.accessSizes)
                if let region = try? space.mapMMIO(name: regionName, base: target, size: bar.size, device: window) {
                    slot.regions[index] = [region]
                }
            }
            for region in slot.regions[index] { region.traceName = slot.bus.name }
            if Trace.mask & TraceGroup.pci.bit != 0 {
                let direct = slot.regions[index].reduce(0) { $0 + ($1.kind == .deviceMemory ? $1.size : 0) }
                Trace.emit(.pci, device: slot.bus.name, slot.regions[index].isEmpty ? "bar-map-refused" : "bar-map",
                           ["bar": .number(UInt64(index)), "address": .hex(target), "size": .hex(bar.size), "direct": .hex(direct)])
            }
        }
    }

    /// Unmaps every BAR of `slot` and maps them again as their registers and the function say.
    private func remap(_ slot: Slot) {
        for (index, regions) in slot.regions.enumerated() {
            for region in regions { space.unmap(region) }
            slot.regions[index] = []
        }
        updateMappings(slot)
    }

    /// Maps a BAR whose function has direct windows as device memory for the windows and trapped
    /// MMIO (`PCIBARWindow`) for the gaps between them, as QEMU's vfio-pci overlays its mmap
    /// subregions on the BAR. Windows that are not whole 4 KiB pages at a page-aligned address
    /// (a BAR smaller than a page, placed off a page boundary) stay trapped: a TLB entry covers
    /// a page. All or nothing: if one part cannot be mapped (an overlap), none is.
    private func mapSplit(_ slot: Slot, bar index: Int, declared bar: PCIBAR, at target: UInt64, name: String,
                          windows: [PCIDirectWindow]) -> [MemoryRegion] {
        var regions: [MemoryRegion] = []
        var cursor: UInt64 = 0
        func trap(upTo end: UInt64) throws {
            guard end > cursor else { return }
            let window = PCIBARWindow(function: slot.function, bar: index, sizes: bar.accessSizes, offset: cursor)
            let region = try space.mapMMIO(name: cursor == 0 ? name : "\(name)+0x\(String(cursor, radix: 16))",
                                           base: target + cursor, size: end - cursor, device: window)
            region.traceOffset = cursor
            regions.append(region)
            cursor = end
        }
        do {
            for window in windows.sorted(by: { $0.offset < $1.offset })
            where window.offset >= cursor && window.size > 0 && window.offset &+ window.size <= bar.size
                && (target &+ window.offset) & 0xFFF == 0 && window.size & 0xFFF == 0 && UInt(bitPattern: window.host) & 0xFFF == 0 {
                try trap(upTo: window.offset)
                regions.append(try space.mapDeviceMemory(name: "\(name)+0x\(String(window.offset, radix: 16)) direct",
                                                         base: target + window.offset, size: window.size,
                                                         storage: window.host, owner: slot.function))
                cursor = window.offset + window.size
            }
            try trap(upTo: bar.size)
        } catch {
            for region in regions { space.unmap(region) }
            return []
        }
        return regions
    }

    /// The CPU address of a BAR at PCI address `address`, if a window of its space covers it.
    private func cpuAddress(of bar: PCIBAR, at address: UInt64) -> UInt64? {
        for window in windows {
            let matches = bar.kind == .io ? window.space == .io : window.space != .io
            if matches, let cpu = window.cpuAddress(pci: address, length: bar.size) { return cpu }
        }
        return nil
    }
}

/// Forwards guest accesses to a mapped BAR to its function.
/// A window onto part of a BAR (`offset` is where it starts, for a BAR split around direct
/// windows) adds that offset, so the function always sees BAR offsets.
final class PCIBARWindow: MMIODevice {
    unowned let function: any PCIFunction
    let bar: Int
    let implementedSizes: AccessSizes
    let offset: UInt64

    init(function: any PCIFunction, bar: Int, sizes: AccessSizes, offset: UInt64 = 0) {
        self.function = function
        self.bar = bar
        implementedSizes = sizes
        self.offset = offset
    }

    func read(offset: UInt64, size: Int) -> UInt64 { function.readBAR(bar, offset: self.offset &+ offset, size: size) }
    func write(offset: UInt64, size: Int, value: UInt64) { function.writeBAR(bar, offset: self.offset &+ offset, size: size, value: value) }
}

/// The host bridge's own function at 00.0: identity only, no BARs (QEMU `gpex` host).
final class HostBridgeFunction: PCIFunction {
    let config: PCIConfigSpace

    init(bus: PCIBusInterface) {
        config = bus.config
        config.setIdentity(PCIHostBridge.hostBridgeIdentity)
    }

    func readBAR(_ bar: Int, offset: UInt64, size: Int) -> UInt64 { 0 }
    func writeBAR(_ bar: Int, offset: UInt64, size: Int, value: UInt64) {}
}

/// A machine reset resets the bus (`reset()`).
extension PCIHostBridge: DeviceLifecycle {}

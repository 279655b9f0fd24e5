import PCI

/// Builds an emulated configuration space that looks like a host function's: identity, BAR
/// sizes and the capability list are copied; the command register, BAR addresses and MSI/MSI-X
/// state are Backplane's own (`PCIConfigSpace`, `MSICapability`, `MSIXCapability`), so the guest
/// programs them without anything reaching the host (docs/passthrough.md).
public enum HostConfigMirror {
    /// The BARs a snapshot declares: index and emulated BAR. Types come from the BAR registers
    /// (PCI 3.0 §6.2.5.1: bit 0 I/O, bits 2:1 = 2 for 64-bit, bit 3 prefetchable), sizes from
    /// the sysfs resources (the kernel sized them at boot; re-sizing would write the device).
    public static func bars(of snapshot: HostPCISnapshot) throws(HostPCIError) -> [(index: Int, bar: PCIBAR)] {
        var result: [(index: Int, bar: PCIBAR)] = []
        var index = 0
        while index < 6 {
            defer { index += 1 }
            guard index < snapshot.resources.count else { break }
            let resource = snapshot.resources[index]
            let size = resource.size
            guard size > 0 else { continue }
            let register = 0x10 + 4 * index
            let low: UInt32 = register + 4 <= snapshot.config.count
                ? snapshot.config[register..<(register + 4)].enumerated().reduce(0) { $0 | UInt32($1.element) << (8 * $1.offset) }
                : UInt32(resource.isIO ? 1 : (resource.flags & HostPCIResource.memory64Flag != 0 ? 4 : 0))
            let isIO = low & 1 != 0
            let is64 = !isIO && (low >> 1) & 3 == 2
            let prefetchable = !isIO && low & 8 != 0
            guard size.nonzeroBitCount == 1 else {
                throw .unsupportedBAR(snapshot.address, bar: index, size: size, reason: "not a power of two")
            }
            if isIO {
                guard (4...256).contains(size) else {
                    throw .unsupportedBAR(snapshot.address, bar: index, size: size, reason: "I/O BARs must be 4 to 256 bytes")
                }
                result.append((index, .io(size: size)))
            } else if is64 {
                guard index < 5 else {
                    throw .unsupportedBAR(snapshot.address, bar: index, size: size, reason: "a 64-bit BAR cannot start at BAR 5")
                }
                result.append((index, .memory64(size: max(size, 16), prefetchable: prefetchable)))
                index += 1
            } else {
                guard size <= 1 << 31 else {
                    throw .unsupportedBAR(snapshot.address, bar: index, size: size, reason: "a 32-bit BAR is at most 2 GiB")
                }
                result.append((index, .memory32(size: max(size, 16), prefetchable: prefetchable)))
            }
        }
        return result
    }

    /// Known lengths of standard capabilities (PCI 3.0 §6.7, §6.8; PCI PM 1.2 §3.2); others
    /// take the gap to the next capability.
    static func knownLength(id: UInt8, at offset: Int, in config: [UInt8]) -> Int? {
        switch id {
        case PCICapabilityID.powerManagement: return 8
        case PCICapabilityID.msix: return 12
        case PCICapabilityID.vendorSpecific: return offset + 2 < config.count ? max(Int(config[offset + 2]), 3) : nil
        case PCICapabilityID.pciExpress: return 0x3c
        default: return nil
        }
    }

    /// The host's capability list in list order: (ID, offset). Stops at a loop, a pointer below
    /// 0x40 or past what was read (PCI 3.0 §6.7).
    public static func hostCapabilities(_ config: [UInt8]) -> [(id: UInt8, offset: Int)] {
        guard config.count >= 256, config[0x06] & 0x10 != 0 else { return [] }
        var result: [(id: UInt8, offset: Int)] = []
        var seen = Set<Int>()
        var offset = Int(config[0x34] & 0xfc)
        while offset >= 0x40, offset + 1 < 256, !seen.contains(offset) {
            seen.insert(offset)
            result.append((config[offset], offset))
            offset = Int(config[offset + 1] & 0xfc)
        }
        return result
    }

    /// What `mirror` built besides the plain copy.
    public struct Result {
        public var msi: MSICapability?
        public var msix: MSIXCapability?
        /// Capabilities left out, one line each ("capability 0x.. at 0x..: no room").
        public var dropped: [String] = []
    }

    /// Fills `bus.config` (a fresh type 0 space) from `snapshot`.
    public static func mirror(_ snapshot: HostPCISnapshot, into bus: PCIBusInterface) throws(HostPCIError) -> Result {
        let host = snapshot.config
        guard host.count >= 64 else {
            throw .unreadable(path: "config of \(snapshot.address)", reason: "only \(host.count) bytes")
        }
        guard snapshot.headerType == 0 else { throw .notAnEndpoint(snapshot.address, headerType: snapshot.headerType) }
        let config = bus.config
        func load16(_ offset: Int) -> UInt16 { UInt16(host[offset]) | UInt16(host[offset + 1]) << 8 }
        config.setIdentity(PCIIdentity(vendorID: snapshot.vendorID, deviceID: snapshot.deviceID, revision: host[0x08],
                                       classCode: snapshot.classCode,
                                       subsystemVendorID: load16(0x2c), subsystemID: load16(0x2e)))
        config.interruptPin = PCIInterruptPin(rawValue: host[0x3d])
        config.store8(0x3e, host[0x3e])   // Min_Gnt, Max_Lat: informational, read-only
        config.store8(0x3f, host[0x3f])
        for (index, bar) in try bars(of: snapshot) { config.declareBAR(index, bar) }

        var result = Result()
        let capabilities = hostCapabilities(host)
        let starts = capabilities.map(\.offset).sorted()
        // Where PCIConfigSpace.addCapability puts the next one (dword aligned after the last).
        var cursor = 0x40
        for (id, offset) in capabilities {
            let gap = (starts.first { $0 > offset } ?? 0x100) - offset
            let length: Int
            switch id {
            case PCICapabilityID.msi:
                let control = load16(offset + 2)
                length = ((control & 0x80) != 0 ? 0x0e : 0x0a) + ((control & 0x100) != 0 ? 0x0a : 0)
            default:
                length = min(knownLength(id: id, at: offset, in: host) ?? gap, 0x100 - offset)
            }
            let at = (cursor + 3) & ~3
            guard length >= 2, at + length <= 0x100 else {
                result.dropped.append("capability 0x\(hex(UInt64(id), digits: 2)) at 0x\(hex(UInt64(offset), digits: 2)): no room")
                continue
            }
            cursor = at + length
            switch id {
            case PCICapabilityID.msi where result.msi == nil:
                // Same vector count, address width and masking as the host (§6.8.1.3); the
                // state starts disabled and lives here.
                let control = load16(offset + 2)
                result.msi = MSICapability(bus: bus, vectors: 1 << min(5, Int((control >> 1) & 7)),
                                           is64Bit: control & 0x80 != 0, perVectorMasking: control & 0x100 != 0)
            case PCICapabilityID.msix where result.msix == nil:
                // Table and PBA stay where the host has them (BAR and offset, §6.8.2.4-5); the
                // guest's accesses there are answered by the emulated table, never the device.
                let control = load16(offset + 2)
                let table = UInt32(load16(offset + 4)) | UInt32(load16(offset + 6)) << 16
                let pba = UInt32(load16(offset + 8)) | UInt32(load16(offset + 10)) << 16
                let vectors = Int(control & 0x7ff) + 1
                let tableBAR = Int(table & 7), pbaBAR = Int(pba & 7)
                guard tableBAR < 6, pbaBAR < 6, config.bars[tableBAR] != nil, config.bars[pbaBAR] != nil else {
                    result.dropped.append("capability 0x11 at 0x\(hex(UInt64(offset), digits: 2)): table or PBA in a missing BAR")
                    cursor = at
                    continue
                }
                result.msix = MSIXCapability(bus: bus, vectors: vectors, tableBAR: tableBAR, tableOffset: UInt64(table & ~7),
                                             pbaBAR: pbaBAR, pbaOffset: UInt64(pba & ~7))
            default:
                let placed = config.addCapability(id: id, length: length)
                for byte in 2..<length { config.store8(placed + byte, host[offset + byte]) }
                makeControlsWritable(id: id, at: placed, in: config)
            }
        }
        return result
    }

    /// Control registers software expects to write in the mirrored standard capabilities. The
    /// values stay here; nothing is forwarded to the host.
    private static func makeControlsWritable(id: UInt8, at offset: Int, in config: PCIConfigSpace) {
        switch id {
        case PCICapabilityID.powerManagement:
            // PMCSR power state (PCI PM 1.2 §3.2.4).
            config.setWritable(offset + 4, size: 2, mask: 0x0003)
        case PCICapabilityID.pciExpress:
            // Device control, device status (RW1C), link control, device control 2
            // (PCIe Base 4.0 §7.5.3.4, .5, .7, .16).
            config.setWritable(offset + 0x08, size: 2, mask: 0x7fff)
            config.setClearOnWrite(offset + 0x0a, size: 2, mask: 0x000f)
            config.setWritable(offset + 0x10, size: 2, mask: 0x01c3)
            config.setWritable(offset + 0x28, size: 2, mask: 0x041f)
        default:
            break
        }
    }
}

/// Offsets of the configuration-space header registers (PCI Local Bus 3.0 §6.1; PCI-to-PCI
/// Bridge 1.2 §3.2 for type 1). Offsets are bytes from the start of the function's 4 KiB space.
public enum PCIConfigRegister {
    public static let vendorID = 0x00
    public static let deviceID = 0x02
    public static let command = 0x04
    public static let status = 0x06
    public static let revisionID = 0x08
    /// Programming interface, then sub-class at 0x0a and base class at 0x0b.
    public static let classCode = 0x09
    public static let cacheLineSize = 0x0c
    public static let latencyTimer = 0x0d
    /// Bit 7: multi-function device; bits 6:0: layout (0 endpoint, 1 PCI-to-PCI bridge).
    public static let headerType = 0x0e
    public static let bist = 0x0f
    /// BAR n is at `bar0 + 4 * n` (six on type 0, two on type 1).
    public static let bar0 = 0x10
    public static let subsystemVendorID = 0x2c
    public static let subsystemID = 0x2e
    /// Expansion ROM BAR of a type 0 header.
    public static let expansionROM = 0x30
    public static let capabilitiesPointer = 0x34
    public static let interruptLine = 0x3c
    public static let interruptPin = 0x3d

    // Type 1 (PCI-to-PCI bridge, PCIe root port) header.
    public static let primaryBus = 0x18
    public static let secondaryBus = 0x19
    public static let subordinateBus = 0x1a
    public static let ioBase = 0x1c
    public static let ioLimit = 0x1d
    public static let secondaryStatus = 0x1e
    public static let memoryBase = 0x20
    public static let memoryLimit = 0x22
    public static let prefetchableBase = 0x24
    public static let prefetchableLimit = 0x26
    public static let prefetchableBaseUpper = 0x28
    public static let prefetchableLimitUpper = 0x2c
    public static let ioBaseUpper = 0x30
    public static let ioLimitUpper = 0x32
    public static let bridgeExpansionROM = 0x38
    public static let bridgeControl = 0x3e

    /// First byte after the header: capabilities live in [0x40, 0x100).
    public static let headerEnd = 0x40
    /// Start of PCIe extended configuration space (PCIe Base 4.0 §7.6).
    public static let extendedStart = 0x100
}

/// The command register (PCI Local Bus 3.0 §6.2.2).
public struct PCICommand: OptionSet, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// The function answers I/O-space accesses to its I/O BARs.
    public static let ioSpace = PCICommand(rawValue: 1 << 0)
    /// The function answers memory accesses to its memory BARs.
    public static let memorySpace = PCICommand(rawValue: 1 << 1)
    /// The function may issue memory requests: DMA and MSI/MSI-X writes.
    public static let busMaster = PCICommand(rawValue: 1 << 2)
    public static let parityErrorResponse = PCICommand(rawValue: 1 << 6)
    public static let serrEnable = PCICommand(rawValue: 1 << 8)
    /// Stops the function from asserting INTx (PCI 3.0 §6.2.2, bit 10).
    public static let interruptDisable = PCICommand(rawValue: 1 << 10)

    /// The bits software may change; the others are read-only zero.
    public static let writable: PCICommand = [.ioSpace, .memorySpace, .busMaster, .parityErrorResponse, .serrEnable, .interruptDisable]
}

/// The status register (PCI Local Bus 3.0 §6.2.3). Error bits are write-1-to-clear.
public struct PCIStatus: OptionSet, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// The function's INTx is asserted internally (whether or not Interrupt Disable hides it).
    public static let interruptStatus = PCIStatus(rawValue: 1 << 3)
    /// The capabilities pointer at 0x34 is valid.
    public static let capabilitiesList = PCIStatus(rawValue: 1 << 4)
    public static let masterDataParityError = PCIStatus(rawValue: 1 << 8)
    public static let signaledTargetAbort = PCIStatus(rawValue: 1 << 11)
    public static let receivedTargetAbort = PCIStatus(rawValue: 1 << 12)
    /// A request this function issued as bus master got no answer (an unmapped DMA address).
    public static let receivedMasterAbort = PCIStatus(rawValue: 1 << 13)
    public static let signaledSystemError = PCIStatus(rawValue: 1 << 14)
    public static let detectedParityError = PCIStatus(rawValue: 1 << 15)

    /// The write-1-to-clear bits.
    public static let errorBits: PCIStatus = [.masterDataParityError, .signaledTargetAbort, .receivedTargetAbort,
                                              .receivedMasterAbort, .signaledSystemError, .detectedParityError]
}

/// Capability IDs (PCI Code and ID Assignment 1.11 §2).
public enum PCICapabilityID {
    public static let powerManagement: UInt8 = 0x01
    public static let msi: UInt8 = 0x05
    public static let vendorSpecific: UInt8 = 0x09
    public static let pciExpress: UInt8 = 0x10
    public static let msix: UInt8 = 0x11
}

/// The INTx pin a function uses (interrupt pin register, PCI 3.0 §6.2.4).
public enum PCIInterruptPin: UInt8, Sendable {
    case intA = 1, intB = 2, intC = 3, intD = 4
}

/// Bus, device and function number of a function (PCIe Base 4.0 §2.2.6.2 "Requester ID").
public struct PCIAddress: Hashable, Sendable, CustomStringConvertible {
    public let bus: UInt8
    /// 0...31.
    public let device: UInt8
    /// 0...7.
    public let function: UInt8

    public init(bus: UInt8 = 0, device: UInt8, function: UInt8 = 0) {
        precondition(device < 32 && function < 8, "PCI device \(device) function \(function) out of range")
        self.bus = bus
        self.device = device
        self.function = function
    }

    /// lspci style: "00:02.0".
    public var description: String {
        func hex2(_ value: UInt8) -> String { value < 16 ? "0" + String(value, radix: 16) : String(value, radix: 16) }
        return "\(hex2(bus)):\(hex2(device)).\(function)"
    }
}

/// The identity registers of a function (PCI 3.0 §6.2.1).
public struct PCIIdentity: Sendable, Equatable {
    public var vendorID: UInt16
    public var deviceID: UInt16
    public var revision: UInt8
    /// Base class, sub-class and programming interface as one 24-bit number (0x010000 = SCSI storage).
    public var classCode: UInt32
    public var subsystemVendorID: UInt16
    public var subsystemID: UInt16

    public init(vendorID: UInt16, deviceID: UInt16, revision: UInt8 = 0, classCode: UInt32,
                subsystemVendorID: UInt16 = 0, subsystemID: UInt16 = 0) {
        self.vendorID = vendorID
        self.deviceID = deviceID
        self.revision = revision
        self.classCode = classCode
        self.subsystemVendorID = subsystemVendorID
        self.subsystemID = subsystemID
    }
}

extension PCIConfigRegister {
    /// A readable name for config-space offset `offset` of `config`, for traces: the header
    /// register it falls in (PCI 3.0 §6.1, type 0 or 1 as the header says), or the capability
    /// it belongs to with the offset inside it ("msix+2"), or the bare offset ("0x1a4").
    public static func name(of offset: Int, in config: PCIConfigSpace) -> String {
        if offset < headerEnd {
            let common: [(Int, Int, String)] = [
                (vendorID, 2, "vendor-id"), (deviceID, 2, "device-id"), (command, 2, "command"), (status, 2, "status"),
                (revisionID, 1, "revision"), (classCode, 3, "class"), (cacheLineSize, 1, "cache-line-size"),
                (latencyTimer, 1, "latency-timer"), (headerType, 1, "header-type"), (bist, 1, "bist"),
                (capabilitiesPointer, 1, "capabilities-pointer"), (interruptLine, 1, "interrupt-line"),
                (interruptPin, 1, "interrupt-pin"),
            ]
            let endpoint: [(Int, Int, String)] = (0..<6).map { (bar0 + 4 * $0, 4, "bar\($0)") } + [
                (0x28, 4, "cardbus-cis"), (subsystemVendorID, 2, "subsystem-vendor-id"), (subsystemID, 2, "subsystem-id"),
                (expansionROM, 4, "expansion-rom"), (0x3e, 1, "min-grant"), (0x3f, 1, "max-latency"),
            ]
            let bridge: [(Int, Int, String)] = [
                (bar0, 4, "bar0"), (bar0 + 4, 4, "bar1"), (primaryBus, 1, "primary-bus"), (secondaryBus, 1, "secondary-bus"),
                (subordinateBus, 1, "subordinate-bus"), (0x1b, 1, "secondary-latency-timer"), (ioBase, 1, "io-base"),
                (ioLimit, 1, "io-limit"), (secondaryStatus, 2, "secondary-status"), (memoryBase, 2, "memory-base"),
                (memoryLimit, 2, "memory-limit"), (prefetchableBase, 2, "prefetchable-base"),
                (prefetchableLimit, 2, "prefetchable-limit"), (prefetchableBaseUpper, 4, "prefetchable-base-upper"),
                (prefetchableLimitUpper, 4, "prefetchable-limit-upper"), (ioBaseUpper, 2, "io-base-upper"),
                (ioLimitUpper, 2, "io-limit-upper"), (0x38, 4, "expansion-rom"), (0x3e, 2, "bridge-control"),
            ]
            let table = common + (config.headerType == .endpoint ? endpoint : bridge)
            for (start, length, name) in table where offset >= start && offset < start + length {
                return offset == start ? name : "\(name)+\(offset - start)"
            }
        } else {
            // Capability IDs (PCI Code and ID Assignment Specification 1.11 §2).
            let names: [UInt8: String] = [0x01: "power-management", 0x05: "msi", 0x09: "vendor", 0x10: "pcie", 0x11: "msix"]
            let capabilities = config.capabilities()
            for (index, capability) in capabilities.enumerated() {
                let end = capabilities.dropFirst(index + 1).map(\.offset).filter { $0 > capability.offset }.min() ?? 0x100
                if offset >= capability.offset && offset < end {
                    let name = names[capability.id] ?? "capability-\(String(capability.id, radix: 16))"
                    return offset == capability.offset ? name : "\(name)+\(offset - capability.offset)"
                }
            }
        }
        return "0x" + String(offset, radix: 16)
    }
}

import CBackplane
import Memory
import PCI

/// A property a plugin device type accepts, as the board loader checks it.
public struct PluginProperty: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case integer
        case string
        case boolean
    }

    public let name: String
    public let kind: Kind
    /// nil: required.
    public let defaultValue: String?
    public let summary: String
}

/// A PCI device type a plugin registered (`pci->register_type`), copied into Swift values;
/// the C struct is kept for its numbers and callbacks only (its strings belong to the plugin).
public final class PluginPCIType {
    public let name: String
    public let summary: String
    public let properties: [PluginProperty]
    public unowned let plugin: LoadedPlugin
    /// By BAR index (6 entries); nil where the type has none.
    public let bars: [PCIBAR?]
    public let identity: PCIIdentity
    let raw: bp_pci_device_type
    let ramBars: [Bool]

    init(raw: bp_pci_device_type, name: String, summary: String, properties: [PluginProperty],
         bars: [PCIBAR?], ramBars: [Bool], plugin: LoadedPlugin) {
        var copy = raw
        copy.name = nil
        copy.summary = nil
        copy.properties = nil
        self.raw = copy
        self.name = name
        self.summary = summary
        self.properties = properties
        self.bars = bars
        self.ramBars = ramBars
        self.plugin = plugin
        identity = PCIIdentity(vendorID: raw.vendor_id, deviceID: raw.device_id, revision: raw.revision,
                               classCode: raw.class_code & 0xff_ffff,
                               subsystemVendorID: raw.subsystem_vendor_id, subsystemID: raw.subsystem_id)
    }

    /// The declared BARs in index order, for the board's window checks.
    public var declaredBARs: [PCIBAR] { bars.compactMap { $0 } }
}

/// A platform (MMIO) device type a plugin registered (`platform->register_type`).
public final class PluginPlatformType {
    public let name: String
    public let summary: String
    public let properties: [PluginProperty]
    public let nodeName: String
    public let compatible: String
    public let minimumSize: UInt64
    public let accessSizes: AccessSizes
    public let irqCount: ClosedRange<Int>
    public unowned let plugin: LoadedPlugin
    let raw: bp_platform_device_type

    init(raw: bp_platform_device_type, name: String, summary: String, properties: [PluginProperty], nodeName: String,
         compatible: String, plugin: LoadedPlugin) {
        var copy = raw
        copy.name = nil
        copy.summary = nil
        copy.properties = nil
        copy.node_name = nil
        copy.compatible = nil
        self.raw = copy
        self.name = name
        self.summary = summary
        self.properties = properties
        self.nodeName = nodeName
        self.compatible = compatible
        minimumSize = raw.minimum_size
        let sizes = AccessSizes(rawValue: UInt8(truncatingIfNeeded: raw.access_sizes & 0xf))
        accessSizes = sizes.rawValue == 0 ? .all : sizes
        irqCount = Int(raw.irq_count_min)...Int(max(raw.irq_count_min, raw.irq_count_max))
        self.plugin = plugin
    }
}

/// Checks of what a plugin registers, so a bad type is refused with a message instead of
/// tripping a precondition in the PCI core.
enum PluginTypeValidation {
    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
        }
    }

    /// The refusals of one `register_type` call, gathered so an install reports every bad field
    /// of a type at once (one line each) instead of only the first.
    struct Problems {
        let type: String
        private(set) var reasons: [String] = []

        init(type: String) { self.type = type }

        mutating func add(_ reason: String) {
            if !reasons.contains(reason) { reasons.append(reason) }
        }

        /// Runs a check that throws; its refusal (one reason or several) is kept and nil returned.
        mutating func collect<T>(_ body: () throws(TypeError) -> T) -> T? {
            do throws(TypeError) { return try body() } catch {
                switch error {
                case .invalidDescriptor(_, let reason): add(reason)
                case .invalidDescriptors(_, let reasons): for reason in reasons { add(reason) }
                default: add(error.description)
                }
                return nil
            }
        }

        /// Throws every reason gathered, if any.
        func finish() throws(TypeError) {
            if reasons.count == 1 { throw TypeError.invalidDescriptor(type: type, reason: reasons[0]) }
            if reasons.count > 1 { throw TypeError.invalidDescriptors(type: type, reasons: reasons) }
        }
    }

    static func properties(_ pointer: UnsafePointer<bp_property_spec>?, count: UInt32, type: String) throws(TypeError) -> [PluginProperty] {
        guard count > 0 else { return [] }
        guard let pointer else { throw TypeError.invalidDescriptor(type: type, reason: "property_count is \(count) but properties is NULL") }
        var problems = Problems(type: type)
        var result: [PluginProperty] = []
        for index in 0..<Int(count) {
            let spec = pointer[index]
            guard let cName = spec.name else {
                problems.add("property #\(index) has no name")
                continue
            }
            let name = String(cString: cName)
            let kind: PluginProperty.Kind
            switch Int32(spec.kind) {
            case BP_PROPERTY_INTEGER: kind = .integer
            case BP_PROPERTY_STRING: kind = .string
            case BP_PROPERTY_BOOLEAN: kind = .boolean
            default:
                problems.add("property '\(name)' has unknown kind \(spec.kind)")
                continue
            }
            result.append(PluginProperty(name: name, kind: kind, defaultValue: spec.default_value.map { String(cString: $0) },
                                         summary: spec.summary.map { String(cString: $0) } ?? ""))
        }
        try problems.finish()
        return result
    }

    /// The BARs of a PCI type, or every reason they are invalid.
    static func bars(of type: bp_pci_device_type, name: String) throws(TypeError) -> (bars: [PCIBAR?], ram: [Bool]) {
        var problems = Problems(type: name)
        let result = bars(of: type, into: &problems)
        try problems.finish()
        return result
    }

    /// The valid BARs of a PCI type (nil for a bad one), each problem added to `problems`.
    static func bars(of type: bp_pci_device_type, into problems: inout Problems) -> (bars: [PCIBAR?], ram: [Bool]) {
        let specs = withUnsafeBytes(of: type.bars) { Array($0.bindMemory(to: bp_pci_bar_spec.self)) }
        var bars = [PCIBAR?](repeating: nil, count: 6)
        var ram = [Bool](repeating: false, count: 6)
        var index = 0
        while index < 6 {
            let spec = specs[index]
            defer { index += 1 }
            let kind: PCIBAR.Kind
            switch Int32(spec.kind) {
            case BP_PCI_BAR_NONE: continue
            case BP_PCI_BAR_MEM32: kind = .memory32
            case BP_PCI_BAR_MEM64: kind = .memory64
            case BP_PCI_BAR_IO: kind = .io
            default:
                problems.add("BAR \(index) has unknown kind \(spec.kind)")
                continue
            }
            let size = spec.size
            let what = "BAR \(index) of 0x\(String(size, radix: 16)) bytes"
            var good = true
            if size.nonzeroBitCount != 1 {
                problems.add("\(what): the size is not a power of two")
                good = false
            }
            switch kind {
            case .io where !(4...256).contains(size): problems.add("\(what): an I/O BAR takes 4...256 bytes"); good = false
            case .memory32 where size < 16, .memory64 where size < 16: problems.add("\(what): a memory BAR takes at least 16 bytes"); good = false
            case .memory32 where size > 1 << 31: problems.add("\(what): a 32-bit BAR takes at most 2 GiB"); good = false
            default: break
            }
            if kind == .memory64, !(index < 5 && specs[index + 1].kind == UInt32(BP_PCI_BAR_NONE)) {
                problems.add("64-bit BAR \(index) needs BAR \(index + 1) left empty")
                good = false
            }
            if good {
                let sizes = AccessSizes(rawValue: UInt8(truncatingIfNeeded: spec.access_sizes & 0xf))
                bars[index] = PCIBAR(kind: kind, size: size, prefetchable: spec.flags & UInt32(BP_PCI_BAR_PREFETCHABLE) != 0,
                                     accessSizes: sizes.rawValue == 0 ? .all : sizes)
                ram[index] = spec.flags & UInt32(BP_PCI_BAR_RAM) != 0
            }
            if kind == .memory64 { index += 1 }
        }
        return (bars, ram)
    }

    /// Every reason the MSI, MSI-X, vendor capability and interrupt pin of a PCI type are invalid.
    static func capabilities(of type: bp_pci_device_type, bars: [PCIBAR?], name: String) throws(TypeError) {
        var problems = Problems(type: name)
        capabilities(of: type, bars: bars, into: &problems)
        try problems.finish()
    }

    static func capabilities(of type: bp_pci_device_type, bars: [PCIBAR?], into problems: inout Problems) {
        let msi = type.msi_vectors
        if msi != 0, msi.nonzeroBitCount != 1 || msi > 32 {
            problems.add("msi_vectors \(msi) is not 0, 1, 2, 4, 8, 16 or 32")
        }
        if type.msix_vectors > 2048 {
            problems.add("msix_vectors \(type.msix_vectors) exceeds 2048")
        } else if type.msix_vectors != 0 {
            // PCI 3.0 §6.8.2.4-5: the table is 16 bytes per vector, the PBA one bit per vector
            // in QWORDs; both offsets are QWORD aligned (their low 3 bits hold the BIR).
            let vectors = type.msix_vectors
            let tableBytes = UInt64(vectors) * 16
            let pbaBytes = UInt64((vectors + 63) / 64) * 8
            func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
            var placed = 0
            for (what, field, bar, offset, bytes) in [("table", "msix_table_offset", type.msix_table_bar, type.msix_table_offset, tableBytes),
                                                      ("PBA", "msix_pba_offset", type.msix_pba_bar, type.msix_pba_offset, pbaBytes)] {
                guard bar < 6, let declared = bars[Int(bar)], declared.kind != .io else {
                    problems.add("msix_\(what == "table" ? "table" : "pba")_bar: the MSI-X \(what) is in BAR \(bar), which is not a memory BAR of the type")
                    continue
                }
                guard offset & 7 == 0 else {
                    problems.add("\(field): the MSI-X \(what) at \(hex(offset)) is not 8-byte aligned (PCI 3.0 §6.8.2.4)")
                    continue
                }
                // The Table/PBA Offset registers hold bits 31:3 (PCI 3.0 §6.8.2.4, §6.8.2.5): the
                // structure must start in the BAR's first 4 GiB, even in a larger 64-bit BAR.
                guard offset < 1 << 32 else {
                    problems.add("\(field): the MSI-X \(what) at \(hex(offset)) is past the 4 GiB its offset register can express (PCI 3.0 §6.8.2.4)")
                    continue
                }
                guard offset <= declared.size, bytes <= declared.size - offset else {
                    let room = offset < declared.size ? declared.size - offset : 0
                    let fit = what == "table" ? "; \(room / 16) vectors fit there" : ""
                    problems.add("msix_vectors \(vectors): the MSI-X \(what) (\(hex(bytes)) bytes at \(hex(offset))) does not fit in BAR \(bar) of \(hex(declared.size)) bytes\(fit)")
                    continue
                }
                placed += 1
            }
            if placed == 2, type.msix_table_bar == type.msix_pba_bar,
               type.msix_table_offset < type.msix_pba_offset + pbaBytes, type.msix_pba_offset < type.msix_table_offset + tableBytes {
                problems.add("msix_pba_offset: the MSI-X PBA [\(hex(type.msix_pba_offset)), \(hex(type.msix_pba_offset + pbaBytes))) overlaps the table [\(hex(type.msix_table_offset)), \(hex(type.msix_table_offset + tableBytes))) in BAR \(type.msix_table_bar) (PCI 3.0 §6.8.2)")
            }
        }
        let vendor = type.vendor_capability_length
        if vendor != 0, !(4...64).contains(vendor) {
            problems.add("vendor_capability_length \(vendor) is not 0 or 4...64")
        }
        if type.interrupt_pin > 4 {
            problems.add("interrupt_pin \(type.interrupt_pin) is not 0...4")
        }
    }

    /// Snapshot hooks (ABI 1.3): both or neither.
    static func snapshotHooks(save: Bool, restore: Bool, into problems: inout Problems) {
        if save != restore {
            problems.add("\(save ? "save" : "restore") is set but \(save ? "restore" : "save") is NULL; give both snapshot hooks or neither")
        }
    }

    /// Why a `register_type` call is refused: each case is one `BP_ERR_*` code (plugin.h).
    enum TypeError: Error, Equatable, CustomStringConvertible {
        /// The descriptor has no name.
        case unnamed(bus: String)
        /// The name is not `[a-z0-9_.-]+`.
        case invalidName(String)
        /// Another type (built-in types are checked when the catalog is made) has the name.
        case alreadyRegistered(type: String, owner: String)
        /// A field of the descriptor is out of range or inconsistent with another.
        case invalidDescriptor(type: String, reason: String)
        /// Several fields are: one reason each, all reported.
        case invalidDescriptors(type: String, reasons: [String])

        /// The C status `register_type` returns.
        var code: Int32 {
            switch self {
            case .alreadyRegistered: return BP_ERR_EXISTS
            case .unnamed, .invalidName, .invalidDescriptor, .invalidDescriptors: return BP_ERR_INVALID
            }
        }

        var description: String {
            switch self {
            case .unnamed(let bus): return "a \(bus) device type has no name"
            case .invalidName(let name): return "invalid device type name '\(name)'; use lower-case letters, digits, '_', '.' and '-'"
            case .alreadyRegistered(let type, let owner): return "device type '\(type)' of plugin '\(owner)' is already registered"
            case .invalidDescriptor(let type, let reason): return "device type '\(type)': \(reason)"
            case .invalidDescriptors(let type, let reasons): return reasons.map { "device type '\(type)': \($0)" }.joined(separator: "\n")
            }
        }
    }
}

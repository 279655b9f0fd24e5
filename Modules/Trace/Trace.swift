#if canImport(Glibc)
import Glibc
#endif

/// Device-level tracing (`--trace mmio,pci,dma,irq,usb,plugin[:DEVICE]`, docs/debugging.md).
///
/// Off costs one load and one branch at each trace point: `Trace.mask` is a plain global word
/// that call sites test before building an event, `if Trace.mask & TraceGroup.mmio.bit != 0`.
/// Events carry when (the machine's clock), which hart and pc caused them (the hart the run loop
/// is running, its pc as last written), and one line of detail; they are written as text lines
/// or JSON lines to stderr or `--trace-file`.
public enum TraceGroup: Int, CaseIterable, Sendable {
    /// Guest accesses to device registers: device, offset, size, value, read/write.
    case mmio
    /// Config-space accesses by register name, BAR map/unmap, bus master and MSI/MSI-X changes.
    case pci
    /// Device DMA: device, guest address, length, direction, result.
    case dma
    /// IRQ line levels, MSI writes, claims and completions.
    case irq
    /// Setup packets, transfers (endpoint, length, status), port events.
    case usb
    /// Plugin loads, QPP calls and callbacks.
    case plugin

    public var bit: UInt32 { 1 << UInt32(rawValue) }
    public var name: String { "\(self)" }
}

/// One field of an event's detail, kept typed so the JSON form has numbers as numbers.
public enum TraceValue: Sendable, Equatable {
    case text(String)
    case number(UInt64)
    /// A number shown in hex in the text form (addresses, register values).
    case hex(UInt64)
    case flag(Bool)
}

public enum TraceFormat: String, Sendable { case text, json }

/// Where a run's trace goes and what it keeps.
public struct TraceConfiguration: Equatable, Sendable {
    public var groups: UInt32 = 0
    /// Only events of these devices (empty: every device).
    public var devices: Set<String> = []
    public var format: TraceFormat = .text

    public init() {}

    /// Parses `--trace`'s device groups: `mmio,pci`, `pci,dma:nic0`, `all:uart0,virtio0`. The
    /// JIT's own items (`in_asm`, `out_asm`) are returned in `others` for the JIT to take.
    public static func parse(_ text: String) throws(TraceError) -> (TraceConfiguration, others: [String]) {
        var configuration = TraceConfiguration()
        var others: [String] = []
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        for item in parts[0].split(separator: ",") {
            if item == "all" {
                for group in TraceGroup.allCases { configuration.groups |= group.bit }
            } else if let group = TraceGroup.allCases.first(where: { $0.name == item }) {
                configuration.groups |= group.bit
            } else if item == "in_asm" || item == "out_asm" {
                others.append(String(item))
            } else {
                throw .unknownGroup(String(item))
            }
        }
        if parts.count == 2 {
            guard configuration.groups != 0 else { throw .devicesWithoutGroups }
            configuration.devices = Set(parts[1].split(separator: ",").map(String.init))
            if configuration.devices.isEmpty { throw .emptyDeviceList }
        }
        return (configuration, others)
    }
}

public enum TraceError: Error, Equatable, CustomStringConvertible {
    case unknownGroup(String)
    case devicesWithoutGroups
    case emptyDeviceList

    public var description: String {
        switch self {
        case .unknownGroup(let name):
            let names = TraceGroup.allCases.map(\.name) + ["all", "in_asm", "out_asm"]
            return "--trace: '\(name)' is not one of \(names.joined(separator: ", "))"
        case .devicesWithoutGroups: return "--trace: a device filter (':NAME') needs event groups before it"
        case .emptyDeviceList: return "--trace: ':' must be followed by device names"
        }
    }
}

/// The tracer: global by nature (trace points sit in every module), configured once per run
/// before the machine starts and read-only afterwards except for the run loop's context.
public enum Trace {
    /// The enabled groups as bits; 0 when tracing is off. Trace points test it first.
    nonisolated(unsafe) public static var mask: UInt32 = 0
    nonisolated(unsafe) private static var devices: Set<String> = []
    nonisolated(unsafe) private static var format: TraceFormat = .text
    nonisolated(unsafe) private static var output: Int32 = 2
    /// The hart being run (set by the run loop), -1 outside any hart's slice.
    nonisolated(unsafe) public static var hart: Int = -1
    /// That hart's pc field, read when an event is written.
    nonisolated(unsafe) public static var pc: UnsafePointer<UInt64>?
    /// The machine's clock in its ticks (mtime), read when an event is written.
    nonisolated(unsafe) public static var clock: (() -> UInt64)?
    /// Events written since `configure`, for tests and the closing summary.
    nonisolated(unsafe) public private(set) static var written = 0

    /// Turns tracing on for `configuration`, writing to file descriptor `fd` (not closed here).
    public static func configure(_ configuration: TraceConfiguration, fd: Int32 = 2) {
        devices = configuration.devices
        format = configuration.format
        output = fd
        written = 0
        mask = configuration.groups
    }

    /// Turns tracing off.
    public static func disable() {
        mask = 0
        hart = -1
        pc = nil
        clock = nil
    }

    /// Whether `group` is traced for `device`: the check a trace point makes before building
    /// an event's fields.
    @inline(__always)
    public static func wants(_ group: TraceGroup, device: String) -> Bool {
        mask & group.bit != 0 && (devices.isEmpty || devices.contains(device))
    }

    /// Writes one event of `group` about `device`: `what` names it (`write`, `config-write`,
    /// `msi`…), `fields` are its details in order.
    public static func emit(_ group: TraceGroup, device: String, _ what: String, _ fields: KeyValuePairs<String, TraceValue> = [:]) {
        guard wants(group, device: device) else { return }
        let time = clock?() ?? 0
        let pcValue = pc?.pointee
        var line: String
        switch format {
        case .text:
            line = "[\(time)"
            if hart >= 0 { line += " hart\(hart)" }
            if let pcValue { line += " pc=0x\(String(pcValue, radix: 16))" }
            line += "] \(group.name) \(device) \(what)"
            for (key, value) in fields { line += " \(key)=\(text(value))" }
        case .json:
            line = "{\"t\":\(time),\"group\":\"\(group.name)\",\"device\":\(quoted(device)),\"event\":\(quoted(what))"
            if hart >= 0 { line += ",\"hart\":\(hart)" }
            if let pcValue { line += ",\"pc\":\(pcValue)" }
            for (key, value) in fields { line += ",\(quoted(key)):\(json(value))" }
            line += "}"
        }
        line += "\n"
        write(line)
        written += 1
    }

    private static func text(_ value: TraceValue) -> String {
        switch value {
        case .text(let string): return string.contains(" ") ? quoted(string) : string
        case .number(let number): return String(number)
        case .hex(let number): return "0x" + String(number, radix: 16)
        case .flag(let flag): return flag ? "1" : "0"
        }
    }

    private static func json(_ value: TraceValue) -> String {
        switch value {
        case .text(let string): return quoted(string)
        case .number(let number), .hex(let number): return String(number)
        case .flag(let flag): return flag ? "true" : "false"
        }
    }

    /// A JSON string literal (RFC 8259 §7).
    static func quoted(_ string: String) -> String {
        var out = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    private static func write(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { raw in
            var offset = 0
            while offset < raw.count {
                let count = Glibc.write(output, raw.baseAddress! + offset, raw.count - offset)
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { return }  // A full disk or closed pipe loses trace lines, never the run.
                offset += count
            }
        }
    }
}

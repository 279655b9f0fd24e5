import Foundation

/// A machine described by a board file (Boards/NAME.yaml, format in docs/boards.md): its harts,
/// memory map, devices and boot defaults. The machine and its device tree are both built from
/// this one value, so the memory map is written once.
public struct Board: Sendable {
    /// Short name ("virt").
    public var name: String
    /// One line for `backplane boards`.
    public var description: String
    /// Root `model` of the device tree.
    public var model: String
    /// Root `compatible` of the device tree, most specific first.
    public var compatible: [String]
    /// The file it was loaded from ("Boards/virt.yaml"); error messages begin with it.
    public var sourcePath: String
    public var harts: BoardHarts
    /// RAM regions in file order.
    public var memory: [BoardMemoryRegion]
    /// Devices in file order.
    public var devices: [BoardDevice]
    public var boot: BoardBoot
    /// Plugins to load before the devices are built (`plugins:`; docs/plugins.md).
    public var plugins: [BoardPlugin] = []

    public init(name: String, description: String = "", model: String? = nil, compatible: [String]? = nil,
                sourcePath: String = "<memory>", harts: BoardHarts, memory: [BoardMemoryRegion],
                devices: [BoardDevice] = [], boot: BoardBoot = BoardBoot()) {
        self.name = name
        self.description = description
        self.model = model ?? "backplane,\(name)"
        self.compatible = compatible ?? ["backplane,\(name)"]
        self.sourcePath = sourcePath
        self.harts = harts
        self.memory = memory
        self.devices = devices
        self.boot = boot
    }

    /// The device called `name`, if any.
    public func device(named name: String) -> BoardDevice? {
        devices.first { $0.name == name }
    }

    /// A copy with `count` harts (`--smp`). Call `validate()` afterwards: the count is checked there.
    public func withHarts(count: Int) -> Board {
        var board = self
        board.harts.count = count
        board.harts.countLocation = nil
        return board
    }

    /// A copy whose first RAM region is `size` bytes (`--memory`). Call `validate()` afterwards:
    /// the new size may overlap a device or not be page aligned.
    public func withMemory(size: UInt64) -> Board {
        var board = self
        if !board.memory.isEmpty {
            board.memory[0].size = size
            board.memory[0].sizeLocation = nil
        }
        return board
    }
}

/// A position in the board file; lines and columns count from 1 (libyaml's marks).
public struct SourceLocation: Equatable, Hashable, Sendable, Comparable, CustomStringConvertible {
    public let line: Int
    public let column: Int
    /// For a device added with `--device`: which option it came from (1-based, in command-line
    /// order); `column` is then a column in that option's text and `line` is 0.
    public let option: Int?

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
        self.option = nil
    }

    /// Column `column` (1-based) of the text of the `option`th `--device`.
    public init(option: Int, column: Int) {
        self.line = 0
        self.column = column
        self.option = option
    }

    public var description: String { option.map { "--device #\($0), column \(column)" } ?? "\(line):\(column)" }

    /// How another diagnostic refers to this place: "line 12" or "--device #2".
    public var reference: String { option.map { "--device #\($0)" } ?? "line \(line)" }

    /// File positions first, then command-line options in order.
    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        (lhs.option ?? 0, lhs.line, lhs.column) < (rhs.option ?? 0, rhs.line, rhs.column)
    }
}

/// The harts: all identical, numbered 0..<count (their `mhartid` and device-tree `reg`).
public struct BoardHarts: Equatable, Sendable {
    /// Number of harts, 1...64 (`--smp` overrides it).
    public var count: Int
    /// The ISA string in canonical form ("rv64imafdc_zicsr_zifencei"), written to `riscv,isa`.
    public var isa: String
    /// Every extension the ISA string names, in order, "g" expanded ("i", "m", …, "zicsr"):
    /// the device tree's `riscv,isa-extensions`.
    public var extensions: [String]
    public var mmu: MMUMode
    /// Ticks of `mtime` per second (device tree `timebase-frequency`), in Hz.
    public var timebaseFrequency: UInt64
    /// Instructions per second of the virtual clock (`ips`, default 1e9): how many retired
    /// instructions make one second of machine time under `--clock virtual`.
    public var instructionsPerSecond: UInt64 = BoardHarts.defaultInstructionsPerSecond
    /// Where `count` was given; nil when defaulted or overridden.
    public var countLocation: SourceLocation?

    public init(count: Int, isa: String, extensions: [String], mmu: MMUMode, timebaseFrequency: UInt64,
                countLocation: SourceLocation? = nil) {
        self.count = count
        self.isa = isa
        self.extensions = extensions
        self.mmu = mmu
        self.timebaseFrequency = timebaseFrequency
        self.countLocation = countLocation
    }

    /// One instruction per nanosecond: a 1 GHz hart that retires one instruction per cycle.
    public static let defaultInstructionsPerSecond: UInt64 = 1_000_000_000

    /// `riscv,isa-base`: the base integer ISA ("rv64i").
    public var isaBase: String { "rv64i" }

    /// Whether the ISA names `ext` ("c", "zicsr").
    public func has(_ ext: String) -> Bool { extensions.contains(ext) }
}

/// Virtual-memory schemes a hart offers (RISC-V privileged 1.12 §4.4, §4.5).
public enum MMUMode: String, Sendable, CaseIterable {
    case sv39
    case sv48

    /// Device-tree `mmu-type`.
    public var deviceTreeName: String { "riscv,\(rawValue)" }
}

/// One RAM region.
public struct BoardMemoryRegion: Equatable, Sendable {
    public var name: String
    /// Guest physical address; 4 KiB aligned.
    public var base: UInt64
    /// Bytes; non-zero, a multiple of 4 KiB.
    public var size: UInt64
    /// Where the region's `name` was given.
    public var location: SourceLocation?
    /// Where its `size` was given; nil when defaulted or overridden.
    public var sizeLocation: SourceLocation?

    public init(name: String, base: UInt64, size: UInt64, location: SourceLocation? = nil, sizeLocation: SourceLocation? = nil) {
        self.name = name
        self.base = base
        self.size = size
        self.location = location
        self.sizeLocation = sizeLocation
    }
}

/// One interrupt line: source `source` of the interrupt controller device `controller`
/// (written `plic0@10` in a board file).
public struct IRQReference: Equatable, Sendable, CustomStringConvertible {
    public var controller: String
    public var source: UInt32
    public var location: SourceLocation?

    public init(controller: String, source: UInt32, location: SourceLocation? = nil) {
        self.controller = controller
        self.source = source
        self.location = location
    }

    public var description: String { "\(controller)@\(source)" }
}

/// A property value of a device, typed by its device type's catalog entry.
public enum BoardValue: Equatable, Sendable, CustomStringConvertible {
    case integer(UInt64)
    case string(String)
    case boolean(Bool)

    public var integer: UInt64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    public var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var boolean: Bool? {
        if case .boolean(let value) = self { return value }
        return nil
    }

    public var description: String {
        switch self {
        case .integer(let value): return String(value)
        case .string(let value): return "'\(value)'"
        case .boolean(let value): return String(value)
        }
    }
}

/// One device of the board.
public struct BoardDevice: Equatable, Sendable {
    /// Unique name; IRQ references and `boot.stdout` use it.
    public var name: String
    /// A type of the device catalog (`DeviceTypeCatalog`) or a run-time registered type.
    public var type: String
    /// MMIO base and size; nil for devices without registers at fixed addresses (`htif`).
    public var base: UInt64?
    public var size: UInt64?
    /// Interrupt lines in file order.
    public var irqs: [IRQReference]
    /// Every property of the type, defaults filled in.
    public var properties: [String: BoardValue]
    /// Where the device's entry begins (its `- name:` line).
    public var location: SourceLocation?
    /// Where its `type` was given.
    public var typeLocation: SourceLocation?
    /// Where its `reg` was given.
    public var regLocation: SourceLocation?
    /// For a PCI function: where it sits (`at: pcie0/02.0`); nil for platform devices.
    public var pciAddress: BoardPCIAddress?
    /// Where `at` was given (also when its value did not parse).
    public var atLocation: SourceLocation?
    /// For a USB device: the controller and port (`at: xhci0/port2`, Board+USBValidation.swift).
    public var usbPort: BoardUSBPort?

    public init(name: String, type: String, base: UInt64? = nil, size: UInt64? = nil, irqs: [IRQReference] = [],
                properties: [String: BoardValue] = [:], location: SourceLocation? = nil, regLocation: SourceLocation? = nil) {
        self.name = name
        self.type = type
        self.base = base
        self.size = size
        self.irqs = irqs
        self.properties = properties
        self.location = location
        self.regLocation = regLocation
    }

    /// The source line of the device's entry (0 when built in code).
    public var sourceLine: Int { location?.line ?? 0 }

    /// An integer property (defaults already applied by the loader).
    public func integer(_ name: String) -> UInt64? { properties[name]?.integer }
}

/// Where a PCI function sits: host bridge device `bus`, device (slot) and function number,
/// written `pcie0/02.0` (device in hex, as lspci prints it).
public struct BoardPCIAddress: Equatable, Sendable, CustomStringConvertible {
    /// Name of the host bridge device.
    public var bus: String
    /// 0...31 when valid; larger values are kept so validation can name them.
    public var device: UInt32
    /// 0...7 when valid.
    public var function: UInt32
    /// Where the `at` value was given.
    public var location: SourceLocation?

    public init(bus: String, device: UInt32, function: UInt32, location: SourceLocation? = nil) {
        self.bus = bus
        self.device = device
        self.function = function
        self.location = location
    }

    public var description: String {
        let slot = String(device, radix: 16)
        return "\(bus)/\(slot.count < 2 ? "0" + slot : slot).\(function)"
    }

    /// Parses `BUS/DD.F` (DD one or two hex digits, F one decimal digit); nil if malformed.
    public static func parse(_ text: String, location: SourceLocation? = nil) -> BoardPCIAddress? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty else { return nil }
        let slot = parts[1].split(separator: ".", omittingEmptySubsequences: false)
        guard slot.count == 2, (1...2).contains(slot[0].count), slot[1].count == 1,
              let device = UInt32(slot[0], radix: 16), let function = UInt32(slot[1], radix: 10) else { return nil }
        return BoardPCIAddress(bus: String(parts[0]), device: device, function: function, location: location)
    }
}

/// What to load and how to start, unless the command line says otherwise.
public struct BoardBoot: Equatable, Sendable {
    /// Machine-mode firmware (OpenSBI) path; nil for `firmware: none` (the kernel or test
    /// program runs in M-mode itself).
    public var firmware: String?
    /// Kernel (or S-mode payload such as U-Boot) path.
    public var kernel: String?
    public var initrd: String?
    /// Kernel command line (device tree `/chosen/bootargs`).
    public var append: String
    /// Device name of the console (device tree `/chosen/stdout-path`).
    public var stdout: String?
    public var stdoutLocation: SourceLocation?

    public init(firmware: String? = nil, kernel: String? = nil, initrd: String? = nil, append: String = "",
                stdout: String? = nil, stdoutLocation: SourceLocation? = nil) {
        self.firmware = firmware
        self.kernel = kernel
        self.initrd = initrd
        self.append = append
        self.stdout = stdout
        self.stdoutLocation = stdoutLocation
    }
}

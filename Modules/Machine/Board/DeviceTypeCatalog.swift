import PCI
import USB

/// What a device type accepts in a board file and how it appears in the device tree. The
/// built-in types are data in `DeviceTypeCatalog.builtIn`; more are added with `registering(_:)`
/// (PCI hosts, virtio, plugins), and bare names with the loader's `extraDeviceTypes`.
public struct DeviceTypeSpec: Sendable {
    /// Whether a device of this type has an MMIO window.
    public enum Registers: Sendable, Equatable {
        /// `reg: [BASE, SIZE]` is required; SIZE at least `minimumSize`, BASE page aligned if asked.
        case required(minimumSize: UInt64, pageAligned: Bool)
        /// No `reg`: the addresses come from elsewhere (HTIF: the ELF's tohost/fromhost symbols).
        case none
        /// A PCI function: no `reg`, placed with `at: BUS/DEVICE.FUNCTION`; the guest assigns
        /// its BARs (declared here so the board can check they fit the host's windows).
        case pciFunction(bars: [PCIBAR])
    }

    /// Where the generator puts the device's node.
    public enum Placement: Sendable, Equatable {
        /// `/soc/NODENAME@BASE`.
        case soc
        /// `/NODENAME` (no unit address).
        case root
        /// No node.
        case omitted
    }

    /// Type name as written in `type:` ("ns16550a").
    public let name: String
    /// One line for docs and `backplane boards --types`.
    public let summary: String
    public let registers: Registers
    /// How many `irq:` lines the device may take.
    public let irqCount: ClosedRange<Int>
    /// Set when other devices may send their IRQs here: the property giving the number of
    /// sources; valid sources are 1...that value (source 0 means "no interrupt", PLIC spec §1.4).
    public let interruptSourcesProperty: String?
    /// Whether `boot.stdout` may name it.
    public let isConsole: Bool
    public let properties: [DevicePropertySpec]
    /// Device-tree node name (before the @) and `compatible`, most specific first.
    public let nodeName: String
    public let compatible: [String]
    public let placement: Placement
    /// A PCI host bridge: functions name it in `at:`, its irqs are INTA…INTD.
    public let isPCIHostBridge: Bool
    /// A USB device (placed with `at: CONTROLLER/portN`): the speeds it runs at; nil otherwise.
    public let usbSpeeds: Set<USBSpeed>?

    public init(name: String, summary: String, registers: Registers, irqCount: ClosedRange<Int> = 0...0,
                interruptSourcesProperty: String? = nil, isConsole: Bool = false, properties: [DevicePropertySpec] = [],
                nodeName: String, compatible: [String], placement: Placement = .soc, isPCIHostBridge: Bool = false,
                usbSpeeds: Set<USBSpeed>? = nil) {
        self.name = name
        self.summary = summary
        self.registers = registers
        self.irqCount = irqCount
        self.interruptSourcesProperty = interruptSourcesProperty
        self.isConsole = isConsole
        self.properties = properties
        self.nodeName = nodeName
        self.compatible = compatible
        self.placement = placement
        self.isPCIHostBridge = isPCIHostBridge
        self.usbSpeeds = usbSpeeds
    }

    /// The BARs of a PCI function type; nil for other types.
    public var pciBARs: [PCIBAR]? {
        if case .pciFunction(let bars) = registers { return bars }
        return nil
    }

    public var isInterruptController: Bool { interruptSourcesProperty != nil }

    public func property(named name: String) -> DevicePropertySpec? {
        properties.first { $0.name == name }
    }
}

/// One key a device type accepts under `properties:`.
public struct DevicePropertySpec: Sendable {
    public enum Kind: Sendable, Equatable {
        /// An integer (decimal or 0x hex) within the range.
        case integer(ClosedRange<UInt64>)
        case string
        case boolean
    }

    public let name: String
    public let kind: Kind
    /// Used when the board file leaves the property out; nil makes it required.
    public let defaultValue: BoardValue?
    /// Device-tree property that receives the value as one cell, if any.
    public let deviceTreeName: String?
    public let summary: String

    public init(name: String, kind: Kind, defaultValue: BoardValue?, deviceTreeName: String? = nil, summary: String) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.deviceTreeName = deviceTreeName
        self.summary = summary
    }
}

/// The device types a board may use.
public struct DeviceTypeCatalog: Sendable {
    /// Types in registration order.
    public private(set) var types: [DeviceTypeSpec]

    public init(_ types: [DeviceTypeSpec]) {
        self.types = types
    }

    public func spec(named name: String) -> DeviceTypeSpec? {
        types.first { $0.name == name }
    }

    public var names: [String] { types.map(\.name) }

    /// A catalog with `spec` added (replacing a type of the same name).
    public func registering(_ spec: DeviceTypeSpec) -> DeviceTypeCatalog {
        var catalog = self
        catalog.types.removeAll { $0.name == spec.name }
        catalog.types.append(spec)
        return catalog
    }

    /// The types QEMU's `virt` and Spike boards need.
    public static let builtIn = DeviceTypeCatalog([
        DeviceTypeSpec(
            name: "aclint",
            summary: "machine timer and software interrupts in the SiFive CLINT layout (msip at 0x0, mtimecmp at 0x4000, mtime at 0xbff8)",
            // The CLINT layout ends at mtime (0xbff8 + 8); QEMU and SiFive map 0x10000.
            registers: .required(minimumSize: 0xc000, pageAligned: true),
            nodeName: "clint", compatible: ["sifive,clint0", "riscv,clint0"]),
        DeviceTypeSpec(
            name: "plic",
            summary: "platform-level interrupt controller (RISC-V PLIC spec 1.0.0), an M and an S context per hart",
            // Priorities, pending and enables fit in 0x200000; each context then takes 0x1000
            // (PLIC spec §3). Two contexts per hart for 64 harts end at 0x280000.
            registers: .required(minimumSize: 0x200000, pageAligned: true),
            interruptSourcesProperty: "sources",
            properties: [
                DevicePropertySpec(name: "sources", kind: .integer(1...1023), defaultValue: .integer(96),
                                   deviceTreeName: "riscv,ndev",
                                   summary: "number of interrupt sources; devices use sources 1...sources"),
            ],
            nodeName: "plic", compatible: ["sifive,plic-1.0.0", "riscv,plic0"]),
        DeviceTypeSpec(
            name: "ns16550a",
            summary: "16550A UART",
            registers: .required(minimumSize: 0x8, pageAligned: false),
            irqCount: 0...1,
            isConsole: true,
            properties: [
                DevicePropertySpec(name: "clock-frequency", kind: .integer(1...0xffff_ffff), defaultValue: .integer(3_686_400),
                                   deviceTreeName: "clock-frequency",
                                   summary: "input clock in Hz; the divisor latch counts from it"),
                DevicePropertySpec(name: "reg-shift", kind: .integer(0...2), defaultValue: .integer(0),
                                   summary: "registers are 1 << reg-shift bytes apart"),
            ],
            nodeName: "serial", compatible: ["ns16550a"]),
        DeviceTypeSpec(
            name: "goldfish_rtc",
            summary: "Goldfish real-time clock (Android emulator), nanoseconds since the epoch",
            registers: .required(minimumSize: 0x20, pageAligned: true),
            irqCount: 0...1,
            nodeName: "rtc", compatible: ["google,goldfish-rtc"]),
        DeviceTypeSpec(
            name: "sifive_test",
            summary: "SiFive test finisher: write 0x5555 to power off, 0x7777 to reboot, (code << 16) | 0x3333 to fail",
            registers: .required(minimumSize: 0x4, pageAligned: true),
            nodeName: "test", compatible: ["sifive,test1", "sifive,test0", "syscon"]),
        DeviceTypeSpec(
            name: "htif",
            summary: "Berkeley host-target interface (Spike): console and exit through the ELF's tohost/fromhost symbols",
            registers: .none,
            isConsole: true,
            nodeName: "htif", compatible: ["ucb,htif0"], placement: .root),
    ] + aiaTypes + PCIDeviceTypes.all + PassthroughDeviceTypes.all + USBDeviceTypes.all + USBHostDeviceTypes.all)
}

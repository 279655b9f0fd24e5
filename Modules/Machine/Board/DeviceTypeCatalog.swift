import PCI
import USB

/// What a device type accepts in a board file and how it appears in the device tree: the data
/// part of a `DeviceKind`, which the board loader checks entries against.
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
    /// A USB host controller: USB devices name it in `at:`, its `usb2-ports`/`usb3-ports` count them.
    public let isUSBHostController: Bool
    /// Whether its node gets a `phandle` although it is no interrupt controller (other nodes
    /// point at it: an IMSIC from `msi-parent`, sifive_test from `syscon-*`).
    public let needsPhandle: Bool
    /// `#interrupt-cells` of an interrupt controller's specifier: 1 (the source) or 2 (source
    /// and trigger type, an APLIC).
    public let interruptCells: UInt32

    public init(name: String, summary: String, registers: Registers, irqCount: ClosedRange<Int> = 0...0,
                interruptSourcesProperty: String? = nil, isConsole: Bool = false, properties: [DevicePropertySpec] = [],
                needsPhandle: Bool = false, interruptCells: UInt32 = 1,
                nodeName: String, compatible: [String], placement: Placement = .soc, isPCIHostBridge: Bool = false,
                usbSpeeds: Set<USBSpeed>? = nil, isUSBHostController: Bool = false) {
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
        self.isUSBHostController = isUSBHostController
        self.needsPhandle = needsPhandle
        self.interruptCells = interruptCells
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
    /// `speed`, which every USB device type takes (the port's speed is its business).
    public static let usbSpeed = DevicePropertySpec(
        name: "speed", kind: .string, defaultValue: .string(""),
        summary: "low, full, high or super; empty: the fastest the device and its port both take")

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

/// The device kinds a board may use, in registration order: the catalog is the list of kinds.
public struct DeviceTypeCatalog: Sendable {
    public private(set) var kinds: [any DeviceKind]

    public init(_ kinds: [any DeviceKind]) {
        self.kinds = kinds
    }

    /// The specs of the kinds, in order.
    public var types: [DeviceTypeSpec] { kinds.map(\.spec) }

    public func kind(named name: String) -> (any DeviceKind)? {
        kinds.first { $0.spec.name == name }
    }

    public func spec(named name: String) -> DeviceTypeSpec? {
        kind(named: name)?.spec
    }

    public var names: [String] { kinds.map(\.spec.name) }

    /// A catalog with `kind` added (replacing a kind of the same name).
    public func registering(_ kind: any DeviceKind) -> DeviceTypeCatalog {
        var catalog = self
        catalog.kinds.removeAll { $0.spec.name == kind.spec.name }
        catalog.kinds.append(kind)
        return catalog
    }

    /// The built-in kinds: what QEMU's `virt` and Spike boards need, PCI and USB devices, host
    /// passthrough. One line per kind; each kind is one file in `Modules/Machine/Kinds`.
    public static let builtIn = DeviceTypeCatalog([
        ACLINTKind(),
        PLICKind(),
        UARTKind(),
        GoldfishRTCKind(),
        SifiveTestKind(),
        HTIFKind(),
        IMSICKind(),
        APLICKind(),
        PCIHostBridgeKind(),
        VirtioBlockKind(),
        VirtioNetKind(),
        Virtio9PKind(),
        VirtioRNGKind(),
        VirtioConsoleKind(),
        EduKind(),
        HostPCIKind(),
    ] + XHCIKind.names.map { XHCIKind(name: $0) } + [
        USBKeyboardKind(),
        USBTabletKind(),
        USBStorageKind(),
        USBLoopbackKind(),
        USBHostKind(),
    ])
}

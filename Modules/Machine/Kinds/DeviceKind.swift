import DeviceTree

/// Everything about one device type, in one value: what a board file may say about it (`spec`,
/// which the loader checks), how the machine builds an instance from a checked entry (`build`),
/// and its device-tree node (`completeNode`, `extraNodes`). Spike's `device_factory_t` is the
/// model (STYLE.md point 7).
///
/// Built-in types are one value each in `Modules/Machine/Kinds/` (`PLICKind`, `UARTKind`, …);
/// plugin types are the same kind of value made from the C descriptors (`PluginPlatformKind`,
/// `PluginPCIKind`, `PluginUSBKind`); a program or a test adds its own with
/// `DeviceTypeCatalog.registering(_:)`. The `Machine` asks each board entry's kind and never
/// which type it has: adding a type is adding a file and a line in `DeviceTypeCatalog.builtIn`.
///
/// Where an instance attaches follows from the spec: `reg:` makes it a platform device mapped
/// on the system bus, `.pciFunction` a function at `at: BUS/DD.F`, `usbSpeeds` a device at
/// `at: CONTROLLER/portN`. The machine builds in `DeviceBuildStage` order, so an instance finds
/// what it attaches to (its interrupt controller, host bridge or xHCI) already built.
public protocol DeviceKind: Sendable {
    /// What a board entry of this type may say; the loader checks entries against it.
    var spec: DeviceTypeSpec { get }

    /// When instances of `device` are built (the default follows from where it attaches).
    func buildStage(of device: BoardDevice, in board: Board) -> DeviceBuildStage

    /// Builds the instance `device` describes and attaches it to `machine`: maps it
    /// (`machine.map`), places it on its bus (`machine.attachPCI`, `machine.plugUSB`), names what
    /// others attach to (`machine.addInterruptController`, …) and enrolls what needs the machine
    /// lifecycle (`machine.manage`).
    /// - Throws: anything; the machine reports it as a `MachineError` at the entry's location.
    func build(_ device: BoardDevice, in machine: Machine) throws

    /// Checks of an entry that its spec cannot express (a host address's syntax, properties
    /// that only mean something together), reported with the board's other errors.
    func check(_ device: BoardDevice, in board: Board, into diagnostics: BoardDiagnostics)

    /// Adds the type's own properties to the node the generator made for `device` (which
    /// already has `phandle`, `compatible`, `reg`, one-cell properties and `interrupts`).
    func completeNode(_ node: inout DeviceTreeNode, for device: BoardDevice, board: Board, context: DeviceTreeContext)

    /// Nodes besides its own, added under the root (sifive_test's `syscon-poweroff`).
    func extraNodes(for device: BoardDevice, context: DeviceTreeContext) -> [DeviceTreeNode]
}

extension DeviceKind {
    public func buildStage(of device: BoardDevice, in board: Board) -> DeviceBuildStage {
        if spec.usbSpeeds != nil { return .usbDevices }
        if spec.pciBARs != nil { return .pciFunctions }
        return .platform
    }

    public func check(_ device: BoardDevice, in board: Board, into diagnostics: BoardDiagnostics) {}

    public func completeNode(_ node: inout DeviceTreeNode, for device: BoardDevice, board: Board, context: DeviceTreeContext) {}

    public func extraNodes(for device: BoardDevice, context: DeviceTreeContext) -> [DeviceTreeNode] { [] }
}

/// The order in which the machine builds a board's devices; file order within a stage.
public enum DeviceBuildStage: Int, Comparable, Sendable, CaseIterable {
    /// IMSIC interrupt files: the harts' AIA CSRs and MSI-mode APLICs point at them.
    case interruptFiles
    /// Wired interrupt controllers (PLIC, root APLIC domains): devices take IRQ lines into them.
    case interruptControllers
    /// APLIC domains a parent delegates to (AIA §4.5.2), after their parent.
    case delegatedInterruptControllers
    /// Other platform devices, PCI host bridges among them.
    case platform
    /// PCI functions, after every host bridge whatever the file order.
    case pciFunctions
    /// USB devices, after every xHCI controller.
    case usbDevices

    public static func < (lhs: DeviceBuildStage, rhs: DeviceBuildStage) -> Bool { lhs.rawValue < rhs.rawValue }
}

import Control
import CPU
import Devices
import Foundation
import IRQ
import Memory
import PCI
import PluginHost
import USB

/// Why a machine could not be built or booted: one line naming the file and, for a board entry,
/// its line, column and device, as board-file errors do (`t.yaml:12:5: device 'disk0':
/// disk image 'disk.img': No such file or directory`).
public struct MachineError: Error, CustomStringConvertible {
    /// The board file or image at fault; nil for an error that names none (a plugin's).
    public let file: String?
    /// Where in `file` (the device's entry).
    public let location: SourceLocation?
    /// The board device at fault.
    public let device: String?
    /// What went wrong, without the place.
    public let reason: String
    /// The error that caused it, when it came from a lower layer (a `DiskImageError`, a
    /// `PCIAttachError`, a `PluginError`, …).
    public let underlying: (any Error)?

    /// An error that is its own message (it names whatever it concerns).
    public init(_ message: String) {
        self.init(file: nil, location: nil, device: nil, reason: message)
    }

    public init(file: String?, location: SourceLocation? = nil, device: String? = nil, reason: String, underlying: (any Error)? = nil) {
        self.file = file
        self.location = location
        self.device = device
        self.reason = reason
        self.underlying = underlying
    }

    /// `error` while building board entry `device` of `board`.
    public init(_ error: any Error, building device: BoardDevice, of board: Board) {
        self.init(file: board.sourcePath, location: device.location, device: device.name, reason: "\(error)", underlying: error)
    }

    public var description: String {
        let what = device.map { "device '\($0)': \(reason)" } ?? reason
        guard let file else { return what }
        guard let location else { return "\(file): \(what)" }
        return "\(file):\(location.line):\(location.column): \(what)"
    }
}

/// A running instance of a board: harts, the physical address space and the devices on it,
/// all built from one `Board` value.
///
/// The machine never asks which type a device has: it asks the device's kind in the catalog
/// to build it (`DeviceKind.build`), in `DeviceBuildStage` order, and keeps one list of the
/// devices that take part in the machine lifecycle (`DeviceLifecycle`), over which boot, reset,
/// poll, sleep and snapshots each run one loop (`Machine+Lifecycle.swift`).
public final class Machine {
    public let board: Board
    public let space = AddressSpace()
    public let timebase: Timebase
    public let power = PowerControl()
    public private(set) var harts: [Hart] = []
    /// The console backend (`--serial`); the board's `boot.stdout` device writes to it.
    public let serial: any SerialBackend
    /// Loaded plugins whose device types the board may use; nil for none.
    public let plugins: PluginHost?
    /// The device kinds the board was built from: built-in ones plus the plugins' ones, plus
    /// any a caller registered. The device tree is generated from it.
    public let catalog: DeviceTypeCatalog
    /// The GDB stub, when `--gdb` asked for one (Machine+Debug.swift).
    var debugger: Debugger?
    /// `--record` / `--replay`: the console's input journal (InputJournal.swift).
    public var journal: InputJournal?
    /// `--snapshot-save FILE --snapshot-at TIME`: the snapshot to take at the first round
    /// boundary where the virtual clock has reached `units` (Machine+Run.swift); nil once taken.
    public var scheduledSnapshot: ScheduledSnapshot?
    /// The round the machine stopped in the middle of (a GDB stop), or the one a snapshot
    /// saved there resumes (Machine+Run.swift); nil between rounds.
    var unfinishedRound: UnfinishedRound?
    /// The control socket, when `--control` asked for one (Machine+Control.swift).
    var control: ControlServer?
    var controlState = ControlState()
    /// USB devices plugged in through the control socket: name → place.
    var hotplugged: [String: String] = [:]

    /// The devices that take part in the machine lifecycle, in build order.
    public private(set) var lifecycle: [any DeviceLifecycle] = []
    /// The board device each participant belongs to ("plugin timers" for the plugins' queue),
    /// for messages.
    private(set) var lifecycleNames: [String] = []
    /// The entry being built, while a kind builds it.
    private var building: BoardDevice?

    // What devices attach to, by device name: filled by the kinds as they build.
    /// Wired interrupt controllers (PLIC, APLIC domains), for `IRQLine`s.
    public private(set) var interruptControllers: [String: any InterruptController] = [:]
    /// PCI host bridges, for the functions placed on them.
    public private(set) var pciBuses: [String: PCIHostBridge] = [:]
    /// xHCI controllers, for the USB devices plugged into them.
    public private(set) var xhciControllers: [String: XHCIController] = [:]
    /// IMSICs and APLIC domains (AIA): the harts' interrupt files, MSI targets, delegation.
    public internal(set) var imsics: [String: IMSIC] = [:]
    public internal(set) var aplics: [String: APLIC] = [:]
    /// What `boot` loaded, kept for a guest-requested reset.
    var bootLayout = BootLayout()
    /// `space.ramUnmaps` when the harts' translations were last flushed for it.
    var flushedRAMUnmaps: UInt64 = 0

    /// Builds the machine described by `board` (already validated against `catalog`).
    /// - Parameters:
    ///   - plugins: loaded plugins; their device types join the built-in catalog.
    ///   - catalog: the device kinds to build from; nil: the built-in ones plus `plugins`' ones.
    ///   - clock: the machine's clock; nil: the virtual clock at the board's `ips`.
    ///   - journal: `--record` / `--replay`, given before the devices are built so those that
    ///     take host input (usb.host) journal it from the start.
    public init(board: Board, serial: any SerialBackend, plugins: PluginHost? = nil,
                catalog: DeviceTypeCatalog? = nil, clock: Timebase.Clock? = nil, journal: InputJournal? = nil) throws(MachineError) {
        self.board = board
        self.serial = serial
        self.plugins = plugins
        if let catalog {
            self.catalog = catalog
        } else if let plugins {
            self.catalog = try DeviceTypeCatalog.builtIn.registering(pluginTypes: plugins)
        } else {
            self.catalog = .builtIn
        }
        timebase = Timebase(frequency: board.harts.timebaseFrequency,
                            clock: clock ?? .virtual(instructionsPerSecond: board.harts.instructionsPerSecond))
        plugins?.attach(timebase: timebase)
        self.journal = journal
        journal?.attach(timebase)

        for region in board.memory {
            do { try space.mapRAM(name: region.name, base: region.base, size: region.size) }
            catch { throw MachineError(file: board.sourcePath, location: region.location, reason: "\(error)", underlying: error) }
        }
        for id in 0..<board.harts.count {
            harts.append(Hart(hartID: UInt64(id), bus: space, timebase: timebase))
        }
        // Sstc when the board's ISA names it: each hart's `stimecmp` is a deadline of the
        // machine's clock, like an ACLINT `mtimecmp` (docs/architecture.md, "Virtual time").
        if board.harts.extensions.contains("sstc") {
            for hart in harts { hart.implementsSstc = true }
            manage(SupervisorTimers(harts: harts), name: "sstc")
        }
        // Instrumentation plugins observe the harts (nothing runs until one registers).
        plugins?.attach(harts: harts)

        var entries: [(stage: DeviceBuildStage, index: Int, kind: any DeviceKind)] = []
        for (index, device) in board.devices.enumerated() {
            guard let kind = self.catalog.kind(named: device.type) else {
                throw MachineError(file: board.sourcePath, location: device.location, device: device.name,
                                   reason: "type '\(device.type)' cannot be instantiated")
            }
            entries.append((kind.buildStage(of: device, in: board), index, kind))
        }
        for entry in entries.sorted(by: { ($0.stage, $0.index) < ($1.stage, $1.index) }) {
            let device = board.devices[entry.index]
            building = device
            defer { building = nil }
            do { try entry.kind.build(device, in: self) }
            catch let error as MachineError { throw error }
            catch { throw MachineError(error, building: device, of: board) }
        }
        // Plugin timers fire between slices and bound the idle sleep like any device timer.
        if let plugins { manage(plugins.timers, name: "plugin timers") }
    }
}

// MARK: Building: what device kinds call

extension Machine {
    /// Maps `mmio` at `device`'s `reg` (or its first `size` bytes when the device needs less than
    /// the window the board reserves, as an IMSIC for fewer harts than the window holds).
    public func map(_ device: BoardDevice, _ mmio: any MMIODevice, size: UInt64? = nil) throws(MachineError) {
        guard let base = device.base, let size = size ?? device.size else { return }
        do { try space.mapMMIO(name: device.name, base: base, size: size, device: mmio) }
        catch { throw MachineError(file: board.sourcePath, location: device.regLocation ?? device.location, reason: "\(error)", underlying: error) }
    }

    /// Enrolls `participant` in the machine lifecycle (after everything built before it), as
    /// part of the device being built (or `name`).
    public func manage(_ participant: any DeviceLifecycle, name: String? = nil) {
        lifecycle.append(participant)
        lifecycleNames.append(name ?? building?.name ?? "?")
    }

    /// The interrupt lines of `device`, in `irq:` order.
    /// - Throws: when a line names a device that cannot take interrupts.
    public func irqLines(of device: BoardDevice) throws(MachineError) -> [IRQLine] {
        var lines: [IRQLine] = []
        for irq in device.irqs {
            guard let controller = interruptControllers[irq.controller] else {
                throw MachineError(file: board.sourcePath, location: irq.location ?? device.location, device: device.name,
                                   reason: "'\(irq.controller)' cannot take interrupts")
            }
            lines.append(IRQLine(controller: controller, source: Int(irq.source)))
        }
        return lines
    }

    /// The wired interrupt controller called `name` (a PLIC or an APLIC domain).
    public func interruptController(named name: String) -> (any InterruptController)? {
        interruptControllers[name]
    }

    /// Makes `controller` the target of `irq:` lines that name `device`.
    public func addInterruptController(_ controller: any InterruptController, for device: BoardDevice) {
        interruptControllers[device.name] = controller
    }

    /// Makes `bridge` the bus of PCI functions placed `at: DEVICE/…`.
    public func addPCIBus(_ bridge: PCIHostBridge, for device: BoardDevice) {
        pciBuses[device.name] = bridge
    }

    /// Makes `controller` the host of USB devices placed `at: DEVICE/portN`.
    public func addUSBController(_ controller: XHCIController, for device: BoardDevice) {
        xhciControllers[device.name] = controller
    }

    /// Builds a PCI function with `make` and attaches it where `device` says (`at: BUS/DD.F`).
    @discardableResult
    public func attachPCI<Function: PCIFunction>(_ device: BoardDevice,
                                                 _ make: (PCIBusInterface) throws -> Function) throws -> Function {
        guard let address = device.pciAddress, let bridge = pciBuses[address.bus] else {
            throw MachineError(file: board.sourcePath, location: device.atLocation ?? device.location, device: device.name,
                               reason: "no PCI host bridge '\(device.pciAddress?.bus ?? "")'")
        }
        return try bridge.attach(at: PCIAddress(device: UInt8(address.device), function: UInt8(address.function))) { bus in
            bus.name = device.name  // Traces name the function as the board does.
            return try make(bus)
        }
    }

    /// The xHCI controller and port `device` is placed at (`at: CONTROLLER/portN`).
    public func usbPlace(of device: BoardDevice) throws(MachineError) -> (controller: XHCIController, port: Int) {
        guard let place = device.usbPort, let controller = xhciControllers[place.controller] else {
            throw MachineError(file: board.sourcePath, location: device.atLocation ?? device.location, device: device.name,
                               reason: "no USB host controller '\(device.usbPort?.controller ?? "")'")
        }
        return (controller, place.port)
    }

    /// Plugs `usb` into the port `device` names, at the speed its `speed` property asks for
    /// (empty: the fastest the device and the port both take).
    @discardableResult
    public func plugUSB(_ usb: any USBDevice, for device: BoardDevice) throws -> USBDeviceCore {
        let (controller, port) = try usbPlace(of: device)
        let speedText = device.properties["speed"]?.string ?? ""
        return try controller.attach(usb, port: port, speed: speedText.isEmpty ? nil : USBSpeed(name: speedText))
    }

    /// The serial backend of a UART: the console device talks to the user's terminal; other
    /// UARTs are unconnected.
    public func serialBackend(for device: BoardDevice) -> any SerialBackend {
        board.boot.stdout == nil || board.boot.stdout == device.name ? serial : NullSerialBackend()
    }
}

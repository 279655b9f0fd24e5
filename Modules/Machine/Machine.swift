import CPU
import Devices
import Foundation
import IRQ
import Memory
import PCI
import PluginHost
import USB

/// Why a machine could not be built or booted. One line, naming the file or device at fault.
public struct MachineError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A running instance of a board: harts, the physical address space and the devices on it,
/// all built from one `Board` value.
///
/// Devices are kept in arrays of their concrete types so the run loop polls them without
/// existentials; the address space dispatches guest accesses to them.
public final class Machine {
    public let board: Board
    public let space = AddressSpace()
    public let timebase: Timebase
    public let power = PowerControl()
    public private(set) var harts: [Hart] = []
    /// The console backend (`--serial`); the board's `boot.stdout` device writes to it.
    public let serial: any SerialBackend

    private(set) var clints: [CLINT] = []
    private(set) var plics: [String: PLIC] = [:]
    /// AIA interrupt controllers by device name (`Machine+AIA.swift`).
    var imsics: [String: IMSIC] = [:]
    var aplics: [String: APLIC] = [:]
    private(set) var uarts: [UART16550] = []
    private(set) var rtcs: [GoldfishRTC] = []
    /// PCI host bridges by device name (Machine+PCI.swift).
    var pciHosts: [String: PCIHostBridge] = [:]
    /// xHCI controllers by device name and in board order for polling (Machine+USB.swift).
    var xhciControllers: [String: XHCIController] = [:]
    var xhciPollList: [XHCIController] = []
    /// Created at boot: its addresses come from the loaded ELF's `tohost`/`fromhost` symbols.
    private(set) var htif: HTIF?
    private var wantsHTIF = false
    /// What `boot` loaded, kept for a guest-requested reset.
    var bootLayout = BootLayout()
    /// Loaded plugins whose device types the board may use (Machine+Plugins.swift); nil for none.
    public let plugins: PluginHost?
    /// Built-in device types plus the plugins' ones: the device tree is generated from it.
    public let catalog: DeviceTypeCatalog
    /// The GDB stub, when `--gdb` asked for one (Machine+Debug.swift).
    var debugger: Debugger?

    /// Builds the machine described by `board` (already validated against a catalog that
    /// includes the device types of `plugins`, if any).
    public init(board: Board, serial: any SerialBackend, plugins: PluginHost? = nil) throws(MachineError) {
        self.board = board
        self.serial = serial
        self.plugins = plugins
        catalog = try plugins.map { host throws(MachineError) in try DeviceTypeCatalog.builtIn.registering(pluginTypes: host) } ?? .builtIn
        timebase = Timebase(frequency: board.harts.timebaseFrequency)
        plugins?.attach(timebase: timebase)

        for region in board.memory {
            do { try space.mapRAM(name: region.name, base: region.base, size: region.size) }
            catch { throw MachineError("\(board.sourcePath): \(error)") }
        }
        for id in 0..<board.harts.count {
            harts.append(Hart(hartID: UInt64(id), bus: space, timebase: timebase))
        }
        // Instrumentation plugins observe the harts (nothing runs until one registers).
        plugins?.attach(harts: harts)

        // Interrupt controllers first: other devices take IRQ lines into them.
        for device in board.devices where device.type == "plic" {
            let sources = Int(device.integer("sources") ?? 96)
            let plic: PLIC
            do { plic = try PLIC(harts: harts, sourceCount: sources) }
            catch { throw MachineError("\(board.sourcePath): device '\(device.name)': \(error)") }
            plics[device.name] = plic
            try map(device, plic)
        }
        try instantiateAIA()
        for device in board.devices where device.type != "plic" && !Machine.aiaTypes.contains(device.type) && device.pciAddress == nil && device.usbPort == nil {
            try instantiate(device)
        }
        try attachPCIFunctions()
        try attachUSBDevices()
    }

    private func irqLine(_ device: BoardDevice, _ index: Int = 0) -> IRQLine? {
        guard index < device.irqs.count, let controller = interruptController(named: device.irqs[index].controller) else { return nil }
        return IRQLine(controller: controller, source: Int(device.irqs[index].source))
    }

    private func backend(for device: BoardDevice) -> any SerialBackend {
        // Only the console device talks to the user's terminal; other UARTs are unconnected.
        board.boot.stdout == nil || board.boot.stdout == device.name ? serial : NullSerialBackend()
    }

    private func instantiate(_ device: BoardDevice) throws(MachineError) {
        switch device.type {
        case "aclint":
            let clint = CLINT(harts: harts, timebase: timebase)
            clints.append(clint)
            try map(device, clint)
        case "ns16550a":
            let shift = Int(device.integer("reg-shift") ?? 0)
            let uart = UART16550(backend: backend(for: device), regShift: shift, irq: irqLine(device))
            uarts.append(uart)
            try map(device, uart)
        case "goldfish_rtc":
            let rtc = GoldfishRTC(irq: irqLine(device))
            rtcs.append(rtc)
            try map(device, rtc)
        case "sifive_test":
            try map(device, SifiveTest(power: power))
        case "htif":
            wantsHTIF = true
        case "pci-host-ecam-generic":
            try instantiatePCIHost(device)
        default:
            if try instantiatePluginDevice(device) { return }
            throw MachineError("\(board.sourcePath):\(device.sourceLine): device '\(device.name)': type '\(device.type)' cannot be instantiated")
        }
    }

    func map(_ device: BoardDevice, _ mmio: any MMIODevice) throws(MachineError) {
        guard let base = device.base, let size = device.size else { return }
        do { try space.mapMMIO(name: device.name, base: base, size: size, device: mmio) }
        catch { throw MachineError("\(board.sourcePath):\(device.sourceLine): \(error)") }
    }

    /// Connects the HTIF to the loaded program's mailboxes. Spike keeps `tohost` in RAM and polls
    /// it, and so do we: programs place it in their own data section.
    func attachHTIF(symbols: [String: UInt64]) throws(MachineError) {
        guard wantsHTIF else { return }
        guard let tohost = symbols["tohost"] else {
            throw MachineError("the board has an HTIF but the program has no 'tohost' symbol")
        }
        htif = HTIF(tohost: tohost, fromhost: symbols["fromhost"], console: serial, power: power,
                    dma: space.dma, placement: .memory)
    }
}

import CBackplane
import Instrumentation
import Foundation
import IRQ
import Memory
import PCI
import QPP
import USB
import Trace

/// Loads plugins (shared libraries exporting `backplane_plugin_descriptor`, see
/// Plugins/include/backplane/plugin.h), installs them in dependency order, builds instances of
/// the device types they register and shuts them down in reverse order.
///
/// Lifecycle: `load` (open, check, order, install) happens before the board file is read,
/// since a board names plugin device types; the machine then calls `createPCIFunction` /
/// `createPlatformDevice` per board device, `attach(timebase:)`, fires `timers` from its run
/// loop, and `shutdown()` runs at the end. Everything runs on the machine thread except QPP.
public final class PluginHost {
    /// The ABI this host provides (plugin.h BP_ABI_MAJOR.BP_ABI_MINOR).
    public static let abiMajor = Int(BP_ABI_MAJOR)
    public static let abiMinor = Int(BP_ABI_MINOR)

    /// Installed plugins in install (dependency) order.
    public private(set) var plugins: [LoadedPlugin] = []
    public private(set) var pciTypes: [PluginPCIType] = []
    public private(set) var platformTypes: [PluginPlatformType] = []
    public private(set) var usbTypes: [PluginUSBType] = []
    public let qpp = QPPRegistry()
    public let timers = PluginTimerQueue()
    /// Input plugins take from outside (`host->external`, ABI 1.4), delivered with the timers.
    public var externalInputs: PluginExternalInputs { timers.externals }
    /// How the run treats input from outside (`external->mode`): set before `load`, since
    /// plugins ask in install whether to open their sources.
    public var externalMode: ExternalInputMode {
        get { externalInputs.mode }
        set { externalInputs.mode = newValue }
    }
    /// `host->wake` calls queued by plugins' own threads, run on the machine thread (ABI 1.2).
    public var wakes: PluginWakeQueue { timers.wakes }
    /// Instrumentation callbacks and the harts they observe (instrument.h).
    public let instrumentation = PluginInstrumentation()
    /// Instances in creation order (destroyed in reverse).
    public private(set) var pciFunctions: [PluginPCIFunction] = []
    public private(set) var platformDevices: [PluginPlatformDevice] = []
    public private(set) var usbDevices: [PluginUSBDevice] = []
    /// The plugin whose install is running: only it may register device types.
    var installing: LoadedPlugin?
    let interface: HostInterface
    private var isShutDown = false
    /// The machine thread, where plugin.h runs every callback and where host functions other
    /// than logging, QPP and `wake` must be called: the thread that made the host (plugins
    /// install and devices are created there), then the thread that runs the machine
    /// (`startHarts`). A word written before any plugin thread can look, so reads do not tear.
    private(set) var machineThread: pthread_t

    public init() {
        interface = HostInterface()
        machineThread = pthread_self()
    }

    deinit { shutdown() }

    /// Opens, checks, orders and installs `requests`. On any error nothing stays installed
    /// (plugins installed before the failing one have exited) and the error says why.
    public func load(_ requests: [PluginRequest]) throws(PluginError) {
        var opened: [LoadedPlugin] = []
        for request in PluginHost.merged(requests) {
            let plugin = try open(request)
            if let first = opened.first(where: { $0.name == plugin.name }) {
                throw .duplicateName(name: plugin.name, firstPath: first.path, secondPath: plugin.path)
            }
            opened.append(plugin)
        }
        let order: [Int]
        do { order = try LoadOrder.resolve(opened.map { LoadOrder.Node(name: $0.name, uses: $0.uses) }) }
        catch { throw .dependency(error) }
        for index in order {
            do { try install(opened[index]) } catch {
                shutdown()
                throw error
            }
        }
    }

    /// `requests` with repeats of one library (the same file, however its path is spelled: a
    /// board file's `plugins:` and `--plugin`) made one request: the first with arguments, or
    /// the first. Two different sets of arguments for one library stay two requests, which
    /// `load` then refuses as two plugins of one name.
    static func merged(_ requests: [PluginRequest]) -> [PluginRequest] {
        func identity(_ path: String) -> String {
            guard let real = realpath(path, nil) else { return URL(fileURLWithPath: path).standardizedFileURL.path }
            defer { free(real) }
            return String(cString: real)
        }
        var result: [PluginRequest] = []
        var seen: [String: Int] = [:]
        for request in requests {
            let key = identity(request.path)
            guard let index = seen[key] else {
                seen[key] = result.count
                result.append(request)
                continue
            }
            let first = result[index]
            let same = first.arguments.map { "\($0.key)=\($0.value)" } == request.arguments.map { "\($0.key)=\($0.value)" }
            if same || request.arguments.isEmpty { continue }
            if first.arguments.isEmpty { result[index] = request; continue }
            result.append(request)
        }
        return result
    }

    /// The type called `name`, if a plugin registered one.
    public func pciType(named name: String) -> PluginPCIType? { pciTypes.first { $0.name == name } }
    public func platformType(named name: String) -> PluginPlatformType? { platformTypes.first { $0.name == name } }
    public func usbType(named name: String) -> PluginUSBType? { usbTypes.first { $0.name == name } }

    // MARK: Opening

    private func open(_ request: PluginRequest) throws(PluginError) -> LoadedPlugin {
        let path = request.path
        guard FileManager.default.fileExists(atPath: path) else { throw .missingFile(path: path) }
        // dlopen searches the library path for a name without a slash: make it explicit.
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        guard let library = dlopen(absolute, RTLD_NOW | RTLD_LOCAL) else {
            throw .notLoadable(path: path, reason: dlerror().map { String(cString: $0) } ?? "unknown dlopen error")
        }
        guard let symbol = dlsym(library, BP_PLUGIN_ENTRY_SYMBOL) else {
            dlclose(library)
            throw .notAPlugin(path: path)
        }
        let entry = unsafeBitCast(symbol, to: (@convention(c) () -> UnsafePointer<bp_plugin_descriptor>?).self)
        // The magic word and size come first in every version of the descriptor; a 1.0
        // descriptor must at least reach `exit`.
        let minimum = MemoryLayout<bp_plugin_descriptor>.offset(of: \bp_plugin_descriptor.exit)! + MemoryLayout<UnsafeRawPointer>.size
        guard let pointer = entry(), pointer.pointee.magic == BP_PLUGIN_MAGIC, Int(pointer.pointee.struct_size) >= minimum,
              let cName = pointer.pointee.name else {
            // Not closed: the library's code may still be referenced by static initialisers.
            throw .badDescriptor(path: path)
        }
        let descriptor = copyVersioned(UnsafeRawPointer(pointer), as: bp_plugin_descriptor.self, zero: bp_plugin_descriptor())
        let name = String(cString: cName)
        let major = Int(descriptor.abi_major)
        let minor = Int(descriptor.abi_minor)
        if major != PluginHost.abiMajor || minor > PluginHost.abiMinor {
            throw .abiMismatch(name: name, path: path, major: major, minor: minor,
                               hostMajor: PluginHost.abiMajor, hostMinor: PluginHost.abiMinor)
        }
        guard PluginTypeValidation.isValidName(name) else { throw .invalidName(path: path, name: name) }
        return LoadedPlugin(name: name, path: path, descriptor: descriptor, arguments: request.arguments, host: self)
    }

    private func install(_ plugin: LoadedPlugin) throws(PluginError) {
        qpp.declare(plugin: plugin.name, uses: plugin.uses)
        plugins.append(plugin)
        guard let installEntry = plugin.descriptor.install else {
            plugin.isInstalled = true
            return
        }
        installing = plugin
        let status = withCArguments(plugin.arguments) { args in installEntry(interface.host(forMinor: plugin.abiMinor), plugin.handle, args) }
        installing = nil
        plugin.isInstalled = true
        if Trace.mask & TraceGroup.plugin.bit != 0 {
            Trace.emit(.plugin, device: plugin.name, "install", ["path": .text(plugin.path), "abi-minor": .number(UInt64(plugin.abiMinor)),
                                                                  "status": .number(UInt64(bitPattern: Int64(status)))])
        }
        if let error = plugin.qppError { throw .dependency(error) }
        if status != 0 || plugin.installError != nil {
            throw .installFailed(name: plugin.name, reason: plugin.installError ?? "install returned \(status)")
        }
    }

    // MARK: Instances

    /// The C signature every bus's `create` callback shares (pci.h, platform.h, usb.h): type
    /// opaque, the host's device handle, the properties, the instance out-parameter.
    typealias CreateCallback = @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?, UnsafePointer<bp_args>?,
                                               UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32

    /// The one way a plugin instance is made, whatever its bus: the host-side wrapper exists
    /// first (its handle is what `create` receives), then the plugin's `create` runs with the
    /// properties as C arguments; a non-zero status is `createFailed` naming the device, and
    /// only an instance that was created is kept for `destroy`.
    private func instantiate(handle: OpaquePointer, device: String, type: String, opaque: UnsafeMutableRawPointer?,
                             create: CreateCallback?, properties: [(key: String, value: String)]) throws(PluginError) -> UnsafeMutableRawPointer? {
        var instance: UnsafeMutableRawPointer?
        guard let create else { return nil }
        let status = withCArguments(properties) { args in create(opaque, handle, args, &instance) }
        if status != 0 { throw .createFailed(device: device, type: type, reason: "create returned \(status)") }
        return instance
    }

    /// Builds an instance of PCI type `type` on `bus` (call inside `PCIHostBridge.attach`).
    public func createPCIFunction(type: PluginPCIType, device: String, properties: [(key: String, value: String)],
                                  bus: PCIBusInterface) throws(PluginError) -> PluginPCIFunction {
        let function = PluginPCIFunction(bus: bus, name: device, type: type)
        function.instance = try instantiate(handle: function.handle, device: device, type: type.name, opaque: type.raw.type_opaque,
                                            create: type.raw.create, properties: properties)
        function.fixShape()
        pciFunctions.append(function)
        return function
    }

    /// Builds an instance of platform type `type` with its window and wired IRQ lines.
    /// `memory` is what the device reaches with DMA (ABI 1.2; nil: every DMA is a master abort).
    public func createPlatformDevice(type: PluginPlatformType, device: String, properties: [(key: String, value: String)],
                                     base: UInt64, size: UInt64, irqs: [IRQLine], memory: AddressSpace? = nil) throws(PluginError) -> PluginPlatformDevice {
        let platform = PluginPlatformDevice(name: device, type: type, base: base, size: size, irqs: irqs, memory: memory)
        platform.instance = try instantiate(handle: platform.handle, device: device, type: type.name, opaque: type.raw.type_opaque,
                                            create: type.raw.create, properties: properties)
        platformDevices.append(platform)
        return platform
    }

    /// Builds an instance of USB type `type`; the caller plugs it into a port
    /// (`XHCIController.attach`) and reports the chosen speed with `attached(at:)`.
    public func createUSBDevice(type: PluginUSBType, device: String, properties: [(key: String, value: String)]) throws(PluginError) -> PluginUSBDevice {
        let usb = PluginUSBDevice(name: device, type: type)
        usb.instance = try instantiate(handle: usb.handle, device: device, type: type.name, opaque: type.raw.type_opaque,
                                       create: type.raw.create, properties: properties)
        usbDevices.append(usb)
        return usb
    }

    /// Gives plugins the machine's clock: virtual time starts counting.
    public func attach(timebase: Timebase) { timers.attach(timebase: timebase) }

    /// Lets instrumentation observe the machine's harts (costs nothing while no plugin
    /// registers an instrumentation callback).
    public func attach(harts: [any InstrumentedHart]) { instrumentation.attach(harts: harts) }

    /// The machine starts running: hart-start callbacks fire (once per hart).
    public func startHarts() {
        machineThread = pthread_self()
        instrumentation.startHarts()
    }

    /// Destroys every instance (newest first), then exits plugins in reverse install order.
    /// Idempotent.
    public func shutdown() {
        guard !isShutDown else { return }
        isShutDown = true
        instrumentation.stopHarts()
        externalInputs.closeAll(plugins)
        // A handle ends when the callback that ends it returns (plugin.h): a plugin that keeps
        // one and uses it later is refused, not crashed.
        for function in pciFunctions.reversed() {
            function.type.raw.destroy?(function.instance)
            PluginHandles.shared.retire(function.handle)
        }
        for device in platformDevices.reversed() {
            device.type.raw.destroy?(device.instance)
            PluginHandles.shared.retire(device.handle)
        }
        for device in usbDevices.reversed() {
            device.type.raw.destroy?(device.instance)
            device.retirePackets()
            PluginHandles.shared.retire(device.handle)
        }
        for plugin in plugins.reversed() where plugin.isInstalled {
            wakes.close(plugin.identity)
            plugin.descriptor.exit?(plugin.handle)
            instrumentation.removeAll(of: plugin)
        }
        timers.removeAll()
        externalInputs.removeAll()
        for plugin in plugins { PluginHandles.shared.retire(plugin.handle) }
    }

    // MARK: Registration (called from HostInterface)

    func register(pci raw: bp_pci_device_type, by plugin: LoadedPlugin) -> Int32 {
        registerType(by: plugin) { () throws(PluginTypeValidation.TypeError) in
            guard let cName = raw.name else { throw PluginTypeValidation.TypeError.unnamed(bus: "PCI") }
            let name = String(cString: cName)
            try checkNewTypeName(name, by: plugin)
            // Every check runs, so an install reports each bad field (capabilities need BARs).
            var problems = PluginTypeValidation.Problems(type: name)
            let properties = problems.collect { () throws(PluginTypeValidation.TypeError) in
                try PluginTypeValidation.properties(raw.properties, count: raw.property_count, type: name)
            }
            // Capabilities are checked against the BARs that are valid, so an MSI-X table in a
            // bad BAR is one more line, not a hidden one.
            let shape = PluginTypeValidation.bars(of: raw, into: &problems)
            PluginTypeValidation.capabilities(of: raw, bars: shape.bars, into: &problems)
            PluginTypeValidation.snapshotHooks(save: raw.save != nil, restore: raw.restore != nil, into: &problems)
            try problems.finish()
            pciTypes.append(PluginPCIType(raw: raw, name: name, summary: raw.summary.map { String(cString: $0) } ?? "",
                                          properties: properties!, bars: shape.bars, ramBars: shape.ram, plugin: plugin))
        }
    }

    func register(platform raw: bp_platform_device_type, by plugin: LoadedPlugin) -> Int32 {
        registerType(by: plugin) { () throws(PluginTypeValidation.TypeError) in
            guard let cName = raw.name else { throw PluginTypeValidation.TypeError.unnamed(bus: "platform") }
            let name = String(cString: cName)
            try checkNewTypeName(name, by: plugin)
            var problems = PluginTypeValidation.Problems(type: name)
            let properties = problems.collect { () throws(PluginTypeValidation.TypeError) in
                try PluginTypeValidation.properties(raw.properties, count: raw.property_count, type: name)
            }
            if raw.minimum_size == 0 { problems.add("minimum_size is 0") }
            let compatible = raw.compatible.map { String(cString: $0) } ?? ""
            if compatible.isEmpty { problems.add("no compatible string") }
            if raw.irq_count_max != 0, raw.irq_count_max < raw.irq_count_min {
                problems.add("irq_count_max \(raw.irq_count_max) is below irq_count_min \(raw.irq_count_min)")
            }
            PluginTypeValidation.snapshotHooks(save: raw.save != nil, restore: raw.restore != nil, into: &problems)
            try problems.finish()
            let nodeName = raw.node_name.map { String(cString: $0) } ?? ""
            platformTypes.append(PluginPlatformType(raw: raw, name: name, summary: raw.summary.map { String(cString: $0) } ?? "",
                                                    properties: properties!, nodeName: nodeName.isEmpty ? "device" : nodeName,
                                                    compatible: compatible, plugin: plugin))
        }
    }

    func register(usb raw: bp_usb_device_type, by plugin: LoadedPlugin) -> Int32 {
        registerType(by: plugin) { () throws(PluginTypeValidation.TypeError) in
            guard let cName = raw.name else { throw PluginTypeValidation.TypeError.unnamed(bus: "USB") }
            let name = String(cString: cName)
            try checkNewTypeName(name, by: plugin)
            var problems = PluginTypeValidation.Problems(type: name)
            let properties = problems.collect { () throws(PluginTypeValidation.TypeError) in
                try PluginTypeValidation.properties(raw.properties, count: raw.property_count, type: name)
            }
            let checked = problems.collect { () throws(PluginTypeValidation.TypeError) in try PluginUSBType.descriptors(of: raw, name: name) }
            try problems.finish()
            usbTypes.append(PluginUSBType(raw: raw, name: name, summary: raw.summary.map { String(cString: $0) } ?? "",
                                          properties: properties!, speeds: checked!.0, descriptors: checked!.1, plugin: plugin))
        }
    }

    /// Runs one `register_type` call of `plugin`: allowed only while it installs; a type the
    /// checks refuse is recorded as the plugin's error and answered with the C error code.
    private func registerType(by plugin: LoadedPlugin, _ body: () throws(PluginTypeValidation.TypeError) -> Void) -> Int32 {
        guard installing === plugin else {
            plugin.log(BP_LOG_ERROR, "register_type outside install")
            return BP_ERR_STATE
        }
        do {
            try body()
            return BP_OK
        } catch {
            // One line per bad field: the install reports each.
            for line in error.description.split(separator: "\n") { plugin.record(String(line)) }
            return error.code
        }
    }

    private func checkNewTypeName(_ name: String, by plugin: LoadedPlugin) throws(PluginTypeValidation.TypeError) {
        guard PluginTypeValidation.isValidName(name) else {
            throw PluginTypeValidation.TypeError.invalidName(name)
        }
        if let owner = pciTypes.first(where: { $0.name == name })?.plugin ?? platformTypes.first(where: { $0.name == name })?.plugin
            ?? usbTypes.first(where: { $0.name == name })?.plugin {
            throw PluginTypeValidation.TypeError.alreadyRegistered(type: name, owner: owner.name)
        }
    }
}

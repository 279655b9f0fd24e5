import CBackplane
import Instrumentation
import Foundation

/// The plugins' instrumentation callbacks (instrument.h, ABI 1.1) and the harts they observe.
///
/// One instance per host, attached to every hart of the machine (`PluginHost.attach(harts:)`).
/// Registrations live in one array per kind; dispatch iterates a copy, so a callback may
/// register or unregister. A hart reads `events` at the start of each slice, which is when a
/// change takes effect. Machine thread only.
public final class PluginInstrumentation: HartInstrumentation {
    struct Registration<Function> {
        let id: Int32
        let plugin: ObjectIdentifier
        let function: Function
        let udata: UnsafeMutableRawPointer?
    }

    var translated: [Registration<bp_block_translated_fn>] = []
    var executed: [Registration<bp_block_executed_fn>] = []
    var instructions: [Registration<bp_instruction_fn>] = []
    var memory: [Registration<bp_memory_fn>] = []
    var traps: [Registration<bp_trap_fn>] = []
    var starts: [Registration<bp_hart_fn>] = []
    var stops: [Registration<bp_hart_fn>] = []
    private var nextID: Int32 = 1
    /// The machine's harts (empty before the machine is built).
    public private(set) var harts: [any InstrumentedHart] = []
    private var started: [any InstrumentedHart] = []

    public private(set) var events: InstrumentationEvents = []

    init() {}

    // MARK: Harts

    /// Observes `harts` (the machine calls it once its harts exist).
    func attach(harts: [any InstrumentedHart]) {
        self.harts = harts
        for hart in harts { hart.attach(instrumentation: self) }
    }

    /// Fires hart-start callbacks for harts not yet started.
    func startHarts() {
        for hart in harts where !started.contains(where: { $0 === hart }) {
            started.append(hart)
            for registration in starts { registration.function(registration.udata, hart.hartNumber) }
        }
    }

    /// Fires hart-stop callbacks for started harts (once) and detaches from every hart.
    func stopHarts() {
        for hart in started {
            for registration in stops { registration.function(registration.udata, hart.hartNumber) }
        }
        started = []
        for hart in harts { hart.attach(instrumentation: nil) }
        harts = []
    }

    func hart(_ id: UInt32) -> (any InstrumentedHart)? { harts.first { $0.hartNumber == id } }

    // MARK: Registration

    func add<Function>(_ function: Function, _ udata: UnsafeMutableRawPointer?, by plugin: LoadedPlugin,
                       to list: ReferenceWritableKeyPath<PluginInstrumentation, [Registration<Function>]>) -> Int32 {
        let id = nextID
        nextID += 1
        self[keyPath: list].append(Registration(id: id, plugin: ObjectIdentifier(plugin), function: function, udata: udata))
        updateEvents()
        return id
    }

    /// Removes registration `id` of `plugin`; whether it existed.
    func remove(_ id: Int32, by plugin: LoadedPlugin) -> Bool {
        let owner = ObjectIdentifier(plugin)
        func drop<F>(_ list: inout [Registration<F>]) -> Bool {
            guard let index = list.firstIndex(where: { $0.id == id && $0.plugin == owner }) else { return false }
            list.remove(at: index)
            return true
        }
        let found = drop(&translated) || drop(&executed) || drop(&instructions) || drop(&memory) || drop(&traps)
            || drop(&starts) || drop(&stops)
        updateEvents()
        return found
    }

    /// Forgets every registration of `plugin` (its exit ran).
    func removeAll(of plugin: LoadedPlugin) {
        let owner = ObjectIdentifier(plugin)
        translated.removeAll { $0.plugin == owner }
        executed.removeAll { $0.plugin == owner }
        instructions.removeAll { $0.plugin == owner }
        memory.removeAll { $0.plugin == owner }
        traps.removeAll { $0.plugin == owner }
        starts.removeAll { $0.plugin == owner }
        stops.removeAll { $0.plugin == owner }
        updateEvents()
    }

    private func updateEvents() {
        var kinds: InstrumentationEvents = []
        if !translated.isEmpty { kinds.insert(.blockTranslated) }
        if !executed.isEmpty { kinds.insert(.blockExecuted) }
        if !instructions.isEmpty { kinds.insert(.instruction) }
        if !memory.isEmpty { kinds.insert(.memory) }
        if !traps.isEmpty { kinds.insert(.trap) }
        events = kinds
    }

    // MARK: HartInstrumentation

    public func blockTranslated(hart id: UInt32, pc: UInt64, instructions count: Int, bytes: Int) {
        for r in translated { r.function(r.udata, id, pc, UInt32(count), UInt32(bytes)) }
    }

    public func blockExecuted(hart id: UInt32, pc: UInt64, instructions count: Int) {
        for r in executed { r.function(r.udata, id, pc, UInt32(count)) }
    }

    public func instruction(hart id: UInt32, pc: UInt64, encoding: UInt32) {
        for r in instructions { r.function(r.udata, id, pc, encoding) }
    }

    public func memoryAccess(hart id: UInt32, address: UInt64, size: Int, isStore: Bool, value: UInt64) {
        let kind = UInt32(isStore ? BP_MEM_STORE : BP_MEM_LOAD)
        for r in memory { r.function(r.udata, id, address, UInt32(size), kind, value) }
    }

    public func trap(hart id: UInt32, cause: UInt64, value: UInt64, pc: UInt64, privilege: UInt64) {
        for r in traps { r.function(r.udata, id, cause, value, pc, UInt32(truncatingIfNeeded: privilege)) }
    }
}

extension HostInterface {
    static func makeInstrument() -> bp_instrument_interface {
        var table = bp_instrument_interface()
        table.struct_size = UInt32(MemoryLayout<bp_instrument_interface>.size)
        table.register_block_translated = { handle, function, udata in
            guard let plugin = LoadedPlugin.from(handle, in: "instrument"), let function else { return BP_ERR_INVALID }
            return plugin.host.instrumentation.add(function, udata, by: plugin, to: \.translated)
        }
        table.register_block_executed = { handle, function, udata in
            guard let plugin = LoadedPlugin.from(handle, in: "instrument"), let function else { return BP_ERR_INVALID }
            return plugin.host.instrumentation.add(function, udata, by: plugin, to: \.executed)
        }
        table.register_instruction = { handle, function, udata in
            guard let plugin = LoadedPlugin.from(handle, in: "instrument"), let function else { return BP_ERR_INVALID }
            return plugin.host.instrumentation.add(function, udata, by: plugin, to: \.instructions)
        }
        table.register_memory = { handle, function, udata in
            guard let plugin = LoadedPlugin.from(handle, in: "instrument"), let function else { return BP_ERR_INVALID }
            return plugin.host.instrumentation.add(function, udata, by: plugin, to: \.memory)
        }
        table.register_trap = { handle, function, udata in
            guard let plugin = LoadedPlugin.from(handle, in: "instrument"), let function else { return BP_ERR_INVALID }
            return plugin.host.instrumentation.add(function, udata, by: plugin, to: \.traps)
        }
        table.register_hart_start = { handle, function, udata in
            guard let plugin = LoadedPlugin.from(handle, in: "instrument"), let function else { return BP_ERR_INVALID }
            return plugin.host.instrumentation.add(function, udata, by: plugin, to: \.starts)
        }
        table.register_hart_stop = { handle, function, udata in
            guard let plugin = LoadedPlugin.from(handle, in: "instrument"), let function else { return BP_ERR_INVALID }
            return plugin.host.instrumentation.add(function, udata, by: plugin, to: \.stops)
        }
        table.unregister = { handle, id in
            guard let plugin = LoadedPlugin.from(handle, in: "instrument") else { return BP_ERR_INVALID }
            return plugin.host.instrumentation.remove(id, by: plugin) ? BP_OK : BP_ERR_NOT_FOUND
        }
        table.hart_count = { handle in UInt32(LoadedPlugin.from(handle, in: "instrument")?.host.instrumentation.harts.count ?? 0) }
        table.read_register = { handle, hartID, name, value in
            guard let plugin = LoadedPlugin.from(handle, in: "instrument->read_register"), let name, let value,
                  let hart = plugin.host.instrumentation.hart(hartID) else { return BP_ERR_INVALID }
            // Hart state changes under the machine thread's feet everywhere else.
            guard MachineThread.check(plugin.host, plugin: plugin.identity, function: "instrument->read_register") else { return BP_ERR_WRONG_THREAD }
            guard let read = hart.readRegister(named: String(cString: name)) else { return BP_ERR_NOT_FOUND }
            value.pointee = read
            return BP_OK
        }
        return table
    }
}

extension PluginInstrumentation {
    /// The one block-executed C callback, for the JIT to call directly (its C signature is
    /// the one `DirectBlockCallback` describes).
    public var directBlockExecuted: DirectBlockCallback? {
        guard executed.count == 1, let only = executed.first else { return nil }
        return DirectBlockCallback(function: UInt(bitPattern: unsafeBitCast(only.function, to: UnsafeRawPointer.self)),
                                   udata: UInt(bitPattern: only.udata))
    }
}

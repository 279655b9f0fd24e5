import CBackplane
import Foundation

/// Every opaque handle the host gives a plugin (`bp_plugin *`, `bp_pci_device *`,
/// `bp_platform_device *`, `bp_usb_device *`, `bp_usb_packet *`, `bp_timer *`): a token, not a
/// pointer, so a handle the plugin passes back is looked up, never dereferenced. plugin.h
/// promises that host functions never abort the process; a stale handle (a completed packet,
/// a freed timer, a destroyed device), one of another kind, or one the host never issued is
/// refused with `BP_ERR_INVALID` and one log line naming the plugin.
///
/// A token is `generation << 28 | slot << 4 | kind`: slots are reused, but each reuse bumps the
/// slot's 36-bit generation, so a stale handle never aliases a newer object (a freed pointer
/// could); the kind bits tell a timer passed as a packet from garbage. The table holds objects
/// weakly (their owners are the host's arrays and a USB device's outstanding-packet table); a
/// handle whose object died reads as stale.
///
/// Cost: one uncontended mutex and an array index per host call that takes a handle. Those
/// calls are per device operation (a DMA, an interrupt, a packet), never per guest instruction;
/// the MMIO callbacks the host makes pass the plugin's own instance pointer.
final class PluginHandles: @unchecked Sendable {
    enum Kind: UInt, CustomStringConvertible {
        case plugin = 1, pciDevice, platformDevice, usbDevice, usbPacket, timer, snapshot, external

        var description: String {
            switch self {
            case .plugin: return "bp_plugin"
            case .pciDevice: return "bp_pci_device"
            case .platformDevice: return "bp_platform_device"
            case .usbDevice: return "bp_usb_device"
            case .usbPacket: return "bp_usb_packet"
            case .timer: return "bp_timer"
            case .snapshot: return "bp_snapshot"
            case .external: return "bp_external"
            }
        }
    }

    private struct Slot {
        /// The generation of the live occupant, or of the next one while free.
        var generation: UInt = 0
        var live = false
        weak var object: AnyObject?
        var kind: Kind = .plugin
        /// The plugin the handle was given to (named in refusals).
        var owner: PluginIdentity?
        /// The previous occupant, so "completed twice" names its plugin after the slot is reused.
        var previousKind: Kind?
        var previousOwner: PluginIdentity?
    }

    static let shared = PluginHandles()

    private static let slotBits: UInt = 24
    private static let slotMask: UInt = (1 << slotBits) - 1
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var slots: [Slot] = []
    private var free: [Int] = []
    /// Refusals of handles no plugin owns (made-up pointers, NULL).
    private let unknown = PluginIdentity(name: "(unknown plugin)")
    /// Refusals logged per plugin: one that misuses a handle in a loop must not flood the
    /// host's standard error.
    static let maximumLoggedRefusals = 32

    private init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    @inline(__always) private func lock() { pthread_mutex_lock(mutex) }
    @inline(__always) private func unlock() { pthread_mutex_unlock(mutex) }

    /// Issues a new handle for `object`, handed to plugin `owner`.
    func issue(_ object: AnyObject, kind: Kind, owner: PluginIdentity) -> OpaquePointer {
        lock()
        defer { unlock() }
        let index: Int
        if let reused = free.popLast() {
            index = reused
        } else {
            index = slots.count
            slots.append(Slot())
        }
        slots[index].live = true
        slots[index].object = object
        slots[index].kind = kind
        slots[index].owner = owner
        let token = slots[index].generation << (Self.slotBits + 4) | UInt(index) << 4 | kind.rawValue
        // SAFETY: never dereferenced by either side; non-zero since kind >= 1.
        return OpaquePointer(bitPattern: token)!
    }

    /// Ends `handle`: later uses are refused as stale.
    func retire(_ handle: OpaquePointer) {
        let token = UInt(bitPattern: handle)
        let index = Int((token >> 4) & Self.slotMask)
        lock()
        defer { unlock() }
        guard index < slots.count, slots[index].live, slots[index].generation == token >> (Self.slotBits + 4) else { return }
        slots[index].previousKind = slots[index].kind
        slots[index].previousOwner = slots[index].owner
        slots[index].live = false
        slots[index].object = nil
        slots[index].owner = nil
        slots[index].generation = (slots[index].generation + 1) & ((1 << (64 - Self.slotBits - 4)) - 1)
        free.append(index)
    }

    /// Why a handle was refused, or the object it names.
    enum Lookup<T> {
        case found(T, owner: PluginIdentity)
        case refused(plugin: PluginIdentity?, reason: String)
    }

    private static func gone(_ kind: Kind) -> String {
        kind == .usbPacket ? "was already completed or cancelled" : "is no longer valid (freed or destroyed)"
    }

    /// `T` must be the class `kind` is issued for (PluginHandled and the issue sites keep that).
    func lookup<T: AnyObject>(_ handle: OpaquePointer?, _ kind: Kind, as: T.Type) -> Lookup<T> {
        guard let handle else { return .refused(plugin: nil, reason: "the \(kind) handle is NULL") }
        let token = UInt(bitPattern: handle)
        let index = Int((token >> 4) & Self.slotMask)
        let generation = token >> (Self.slotBits + 4)
        let tokenKind = Kind(rawValue: token & 0xf)
        lock()
        if index < slots.count, slots[index].live, slots[index].generation == generation, slots[index].kind == tokenKind {
            let slot = slots[index]
            unlock()
            guard slot.kind == kind else { return .refused(plugin: slot.owner, reason: "\(Self.text(token)) is a \(slot.kind) handle, not a \(kind)") }
            guard let object = slot.object else { return .refused(plugin: slot.owner, reason: "\(kind) \(Self.text(token)) \(Self.gone(kind))") }
            // SAFETY: a slot of kind `kind` only ever holds the class issued for that kind.
            return .found(unsafeDowncast(object, to: T.self), owner: slot.owner!)
        }
        defer { unlock() }
        guard index < slots.count, let tokenKind, generation <= slots[index].generation else {
            return .refused(plugin: nil, reason: "\(Self.text(token)) is not a \(kind) handle the host gave out")
        }
        // A handle of an earlier occupant of the slot: stale.
        let previous = generation + 1 == slots[index].generation && slots[index].previousKind == tokenKind
        let owner = previous ? slots[index].previousOwner : nil
        if tokenKind == kind { return .refused(plugin: owner, reason: "\(kind) \(Self.text(token)) \(Self.gone(kind))") }
        return .refused(plugin: owner, reason: "\(Self.text(token)) is a stale \(tokenKind) handle, not a \(kind)")
    }

    private static func text(_ token: UInt) -> String { "0x" + String(token, radix: 16) }

    /// The fast path: the live object `handle` names if it is of `kind`, else nil (no detail).
    @inline(__always)
    private func find<T: AnyObject>(_ handle: OpaquePointer?, _ kind: Kind, as: T.Type) -> T? {
        let token = UInt(bitPattern: handle)
        let index = Int((token >> 4) & Self.slotMask)
        lock()
        defer { unlock() }
        guard token & 0xf == kind.rawValue, index < slots.count else { return nil }
        return slots.withUnsafeBufferPointer { buffer -> T? in
            guard buffer[index].live, buffer[index].generation == token >> (Self.slotBits + 4), let object = buffer[index].object else { return nil }
            // SAFETY: a slot of kind `kind` only ever holds the class issued for that kind.
            return unsafeDowncast(object, to: T.self)
        }
    }

    /// Looks `handle` up; a refusal is logged ("backplane: plugin NAME: error: FUNCTION: WHY")
    /// and answered with nil.
    @inline(__always)
    func resolve<T: AnyObject>(_ handle: OpaquePointer?, _ kind: Kind, as type: T.Type, in function: @autoclosure () -> String) -> T? {
        if let object = find(handle, kind, as: type) { return object }
        switch lookup(handle, kind, as: type) {
        case let .found(object, _): return object
        case let .refused(plugin, reason):
            refuse(plugin: plugin, "\(function()): \(reason); refused with BP_ERR_INVALID")
            return nil
        }
    }

    /// Logs one refusal of `plugin` (nil when no plugin owns the handle).
    func refuse(plugin: PluginIdentity?, _ text: String) {
        let identity = plugin ?? unknown
        lock()
        let count = identity.refusals
        identity.refusals += 1
        unlock()
        guard count <= PluginHandles.maximumLoggedRefusals else { return }
        let line = count == PluginHandles.maximumLoggedRefusals
            ? "backplane: plugin \(identity.name): error: more refused calls; not logging them\n"
            : "backplane: plugin \(identity.name): error: \(text)\n"
        FileHandle.standardError.write(Data(line.utf8))
    }

    /// Live handles (for tests).
    var liveCount: Int {
        lock()
        defer { unlock() }
        return slots.count - free.count
    }
}

/// A plugin as refusals name it; counts them so a misbehaving plugin is logged a bounded
/// number of times (guarded by the PluginHandles lock).
final class PluginIdentity: @unchecked Sendable {
    let name: String
    var refusals = 0
    init(name: String) { self.name = name }

    /// Logs one refused call (bounded, like handle refusals).
    func refuse(_ text: String) { PluginHandles.shared.refuse(plugin: self, text) }
}

/// The thread the machine runs on: functions plugin.h reserves for the machine thread refuse
/// a call from another thread (a plugin's own worker) instead of racing the harts.
enum MachineThread {
    /// Whether the caller is on `host`'s machine thread; logs a refusal naming `plugin` if not.
    static func check(_ host: PluginHost, plugin: PluginIdentity, function: String) -> Bool {
        if pthread_equal(pthread_self(), host.machineThread) != 0 { return true }
        PluginHandles.shared.refuse(plugin: plugin, "\(function) called from a thread other than the machine thread; refused with BP_ERR_WRONG_THREAD (use host->wake from other threads)")
        return false
    }
}

/// A host object a plugin holds a handle to, on the machine thread: `from` and `call` check the
/// handle (PluginHandles) and the calling thread.
protocol PluginHandled: AnyObject {
    static var handleKind: PluginHandles.Kind { get }
    /// The plugin the object belongs to.
    var owningPlugin: LoadedPlugin { get }
}

extension PluginHandled {
    /// The object `handle` names, on the machine thread; nil (and one log line) otherwise.
    static func from(_ handle: OpaquePointer?, in function: String) -> Self? {
        guard let object = PluginHandles.shared.resolve(handle, handleKind, as: Self.self, in: function) else { return nil }
        let plugin = object.owningPlugin
        return MachineThread.check(plugin.host, plugin: plugin.identity, function: function) ? object : nil
    }

    /// Runs `body` with the object `handle` names; BP_ERR_INVALID for a bad handle,
    /// BP_ERR_WRONG_THREAD off the machine thread (each logged once).
    static func call(_ handle: OpaquePointer?, in function: String, _ body: (Self) -> Int32) -> Int32 {
        guard let object = PluginHandles.shared.resolve(handle, handleKind, as: Self.self, in: function) else { return BP_ERR_INVALID }
        let plugin = object.owningPlugin
        guard MachineThread.check(plugin.host, plugin: plugin.identity, function: function) else { return BP_ERR_WRONG_THREAD }
        return body(object)
    }
}

extension PluginPCIFunction: PluginHandled {
    static var handleKind: PluginHandles.Kind { .pciDevice }
    var owningPlugin: LoadedPlugin { type.plugin }
}

extension PluginPlatformDevice: PluginHandled {
    static var handleKind: PluginHandles.Kind { .platformDevice }
    var owningPlugin: LoadedPlugin { type.plugin }
}

extension PluginUSBDevice: PluginHandled {
    static var handleKind: PluginHandles.Kind { .usbDevice }
    var owningPlugin: LoadedPlugin { type.plugin }
}

extension PluginSnapshotStream: PluginHandled {
    static var handleKind: PluginHandles.Kind { .snapshot }
    var owningPlugin: LoadedPlugin { plugin }
}

extension PluginTimer: PluginHandled {
    static var handleKind: PluginHandles.Kind { .timer }
    var owningPlugin: LoadedPlugin { plugin }
}

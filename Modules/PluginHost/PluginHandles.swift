import CBackplane
import Foundation

/// Every opaque handle the host gives a plugin (`bp_plugin *`, `bp_pci_device *`,
/// `bp_platform_device *`, `bp_usb_device *`, `bp_usb_packet *`, `bp_timer *`): a token, not a
/// pointer, so a handle the plugin passes back is looked up, never dereferenced. plugin.h
/// promises that host functions never abort the process; a stale handle (a completed packet,
/// a freed timer, a destroyed device), one of another kind, or one the host never issued is
/// refused with `BP_ERR_INVALID` and one log line naming the plugin.
///
/// A token is `id << 4 | kind`: ids are never reused, so a stale handle cannot alias a newer
/// object (a freed pointer could), and the kind bits tell a timer passed as a packet from
/// garbage. The table holds objects weakly (their owners are the host's arrays and a USB
/// device's outstanding-packet table); a handle whose object died reads as stale.
///
/// Cost: one uncontended lock and one dictionary lookup per host call that takes a handle.
/// Those calls are per device operation (a DMA, an interrupt, a packet), never per guest
/// instruction; the MMIO callbacks the host makes pass the plugin's own instance pointer.
final class PluginHandles: @unchecked Sendable {
    enum Kind: UInt64, CustomStringConvertible {
        case plugin = 1, pciDevice, platformDevice, usbDevice, usbPacket, timer

        var description: String {
            switch self {
            case .plugin: return "bp_plugin"
            case .pciDevice: return "bp_pci_device"
            case .platformDevice: return "bp_platform_device"
            case .usbDevice: return "bp_usb_device"
            case .usbPacket: return "bp_usb_packet"
            case .timer: return "bp_timer"
            }
        }
    }

    private struct Entry {
        weak var object: AnyObject?
        let kind: Kind
        /// The plugin the handle was given to (named in refusals).
        let owner: PluginIdentity
    }

    static let shared = PluginHandles()

    private let lock = NSLock()
    private var live: [UInt64: Entry] = [:]
    /// Owners of the most recently retired handles, so "completed twice" names the plugin.
    private var retired: [UInt64: (kind: Kind, owner: PluginIdentity)] = [:]
    private var retiredOrder: [UInt64] = []
    private static let retiredMemory = 4096
    private var nextID: UInt64 = 1
    /// Refusals of handles no plugin owns (made-up pointers, NULL).
    private let unknown = PluginIdentity(name: "(unknown plugin)")
    /// Refusals logged per plugin: one that misuses a handle in a loop must not flood the
    /// host's standard error.
    static let maximumLoggedRefusals = 32

    /// Issues a new handle for `object`, handed to plugin `owner`.
    func issue(_ object: AnyObject, kind: Kind, owner: PluginIdentity) -> OpaquePointer {
        lock.lock()
        defer { lock.unlock() }
        let id = nextID
        nextID += 1
        live[id] = Entry(object: object, kind: kind, owner: owner)
        // SAFETY: never dereferenced by either side; non-zero since id >= 1.
        return OpaquePointer(bitPattern: UInt(id << 4 | kind.rawValue))!
    }

    /// Ends `handle`: later uses are refused as stale.
    func retire(_ handle: OpaquePointer) {
        let token = UInt64(UInt(bitPattern: handle))
        let id = token >> 4
        lock.lock()
        defer { lock.unlock() }
        guard let entry = live.removeValue(forKey: id) else { return }
        retired[id] = (entry.kind, entry.owner)
        retiredOrder.append(id)
        if retiredOrder.count > PluginHandles.retiredMemory {
            let drop = retiredOrder.count - PluginHandles.retiredMemory / 2
            for old in retiredOrder.prefix(drop) { retired[old] = nil }
            retiredOrder.removeFirst(drop)
        }
    }

    /// Why a handle was refused, or the object it names.
    enum Lookup<T> {
        case found(T, owner: PluginIdentity)
        case refused(plugin: PluginIdentity?, reason: String)
    }

    func lookup<T: AnyObject>(_ handle: OpaquePointer?, _ kind: Kind, as: T.Type) -> Lookup<T> {
        guard let handle else { return .refused(plugin: nil, reason: "the \(kind) handle is NULL") }
        let token = UInt64(UInt(bitPattern: handle))
        let id = token >> 4
        let tokenKind = Kind(rawValue: token & 0xf)
        let text = "0x\(String(token, radix: 16))"
        lock.lock()
        defer { lock.unlock() }
        if let entry = live[id], entry.kind.rawValue == token & 0xf {
            guard entry.kind == kind else { return .refused(plugin: entry.owner, reason: "\(text) is a \(entry.kind) handle, not a \(kind)") }
            guard let object = entry.object as? T else { return .refused(plugin: entry.owner, reason: "\(kind) \(text) \(Self.gone(kind))") }
            return .found(object, owner: entry.owner)
        }
        if let old = retired[id], old.kind.rawValue == token & 0xf {
            if old.kind == kind { return .refused(plugin: old.owner, reason: "\(kind) \(text) \(Self.gone(kind))") }
            return .refused(plugin: old.owner, reason: "\(text) is a stale \(old.kind) handle, not a \(kind)")
        }
        if id < nextID, let tokenKind, tokenKind != kind {
            return .refused(plugin: nil, reason: "\(text) is a stale \(tokenKind) handle, not a \(kind)")
        }
        if id < nextID, tokenKind == kind { return .refused(plugin: nil, reason: "\(kind) \(text) is no longer valid") }
        return .refused(plugin: nil, reason: "\(text) is not a \(kind) handle the host gave out")
    }

    private static func gone(_ kind: Kind) -> String {
        kind == .usbPacket ? "was already completed or cancelled" : "is no longer valid (freed or destroyed)"
    }

    /// Looks `handle` up; a refusal is logged ("backplane: plugin NAME: error: FUNCTION: WHY")
    /// and answered with nil.
    func resolve<T: AnyObject>(_ handle: OpaquePointer?, _ kind: Kind, as type: T.Type, in function: String) -> T? {
        switch lookup(handle, kind, as: type) {
        case let .found(object, _): return object
        case let .refused(plugin, reason):
            refuse(plugin: plugin, "\(function): \(reason); refused with BP_ERR_INVALID")
            return nil
        }
    }

    /// Logs one refusal of `plugin` (nil when no plugin owns the handle).
    func refuse(plugin: PluginIdentity?, _ text: String) {
        let identity = plugin ?? unknown
        let name = identity.name
        lock.lock()
        let count = identity.refusals
        identity.refusals += 1
        lock.unlock()
        guard count <= PluginHandles.maximumLoggedRefusals else { return }
        let line = count == PluginHandles.maximumLoggedRefusals
            ? "backplane: plugin \(name): error: more refused calls; not logging them\n"
            : "backplane: plugin \(name): error: \(text)\n"
        FileHandle.standardError.write(Data(line.utf8))
    }

    /// Live handles (for tests: a host that shut down leaves none of its own).
    var liveCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return live.count
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

extension PluginTimer: PluginHandled {
    static var handleKind: PluginHandles.Kind { .timer }
    var owningPlugin: LoadedPlugin { plugin }
}

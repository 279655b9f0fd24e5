import CBackplane
import Foundation
import Memory

/// How a run treats input from outside (plugin.h `external->mode`, ABI 1.4).
public enum ExternalInputMode: Int32, Sendable {
    /// `backplane run`: input is delivered as it arrives.
    case live = 0
    /// `--record`: delivered as it arrives and journaled with its time.
    case record = 1
    /// `--replay`: the journal delivers the recorded input; plugins leave their sources closed.
    case replay = 2
}

/// One channel a plugin opened with `external->channel_new` (ABI 1.4).
final class PluginExternalChannel {
    let deliver: @convention(c) (UnsafeMutableRawPointer?, UnsafeRawPointer?, Int, UInt64) -> Void
    let opaque: UnsafeMutableRawPointer?
    unowned let plugin: LoadedPlugin
    /// The journal's name for it: "plugin:PLUGIN/CHANNEL".
    let source: String
    var isOpen = true

    init(deliver: @escaping @convention(c) (UnsafeMutableRawPointer?, UnsafeRawPointer?, Int, UInt64) -> Void,
         opaque: UnsafeMutableRawPointer?, plugin: LoadedPlugin, name: String) {
        self.deliver = deliver
        self.opaque = opaque
        self.plugin = plugin
        source = PluginExternalInputs.sourcePrefix + plugin.name + "/" + name
    }

    /// The `bp_external *` handed to the plugin: a checked token, valid until `channel_free`
    /// or the plugin's exit.
    lazy var handle: OpaquePointer = PluginHandles.shared.issue(self, kind: .external, owner: plugin.identity)
}

extension PluginExternalChannel: PluginHandled {
    static var handleKind: PluginHandles.Kind { .external }
    var owningPlugin: LoadedPlugin { plugin }
}

/// Input plugins take from outside (ABI 1.4), delivered on the machine thread between slices:
/// live and recording, in the order plugins' threads submitted it (and journaled at the time it
/// is delivered); replaying, from the journal at the recorded times. Polled with the plugin
/// timers (after `host->wake` calls, before timers), so it needs no place of its own in the
/// machine. The queue is the one structure plugin threads touch, so it has its own lock.
public final class PluginExternalInputs: @unchecked Sendable {
    static let sourcePrefix = "plugin:"
    /// Largest input one `submit` takes (1 MiB): a runaway plugin cannot fill host memory in
    /// one call, and a journal line stays a line.
    static let largestInput = 1 << 20
    /// Inputs queued but not yet delivered, across channels, beyond which `submit` refuses
    /// (64 MiB): the machine delivers them at its next slice boundary, so only a stalled
    /// machine reaches it.
    static let largestQueue = 64 << 20

    /// Fixed before plugins install (`PluginHost.externalMode`).
    var mode: ExternalInputMode = .live
    /// The run's journal under `--record` / `--replay`.
    public var journal: (any ExternalInputJournal)?
    private(set) var channels: [PluginExternalChannel] = []
    private let lock = NSLock()
    private var queued: [(channel: PluginExternalChannel, bytes: [UInt8])] = []
    private var queuedBytes = 0
    /// Plugins whose exit started: their input is refused and dropped.
    private var closed: Set<ObjectIdentifier> = []
    /// How many inputs are queued, read without the lock by `isEmpty`.
    private let count = UnsafeMutablePointer<Int>.allocate(capacity: 1)

    init() { count.initialize(to: 0) }

    deinit { count.deallocate() }

    /// `channel_new`: nil (and the reason) for a malformed or taken name.
    func open(name: String, plugin: LoadedPlugin,
              deliver: @escaping @convention(c) (UnsafeMutableRawPointer?, UnsafeRawPointer?, Int, UInt64) -> Void,
              opaque: UnsafeMutableRawPointer?) -> Result<PluginExternalChannel, PluginExternalError> {
        guard !name.isEmpty, name.utf8.count <= 64,
              name.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5f || $0 == 0x2e || $0 == 0x2d }) else {
            return .failure(PluginExternalError(message: "channel name '\(name)' is not 1-64 of [a-z0-9_.-]"))
        }
        let channel = PluginExternalChannel(deliver: deliver, opaque: opaque, plugin: plugin, name: name)
        guard !channels.contains(where: { $0.isOpen && $0.source == channel.source }) else {
            return .failure(PluginExternalError(message: "channel '\(name)' is already open"))
        }
        channels.append(channel)
        return .success(channel)
    }

    /// `channel_free`: later input for the channel is dropped.
    func close(_ channel: PluginExternalChannel) {
        channel.isOpen = false
        PluginHandles.shared.retire(channel.handle)
        channels.removeAll { $0 === channel }
        lock.lock()
        queued.removeAll { $0.channel === channel }
        count.pointee = queued.count
        lock.unlock()
    }

    /// `submit`, from any thread.
    func submit(_ channel: PluginExternalChannel, bytes: [UInt8]) -> Int32 {
        lock.lock()
        defer { lock.unlock() }
        guard !closed.contains(ObjectIdentifier(channel.plugin.identity)) else { return BP_ERR_STATE }
        // Replaying, the journal is the source: what the plugin still submits is not used.
        guard mode != .replay else { return BP_OK }
        guard queuedBytes + bytes.count <= PluginExternalInputs.largestQueue else {
            channel.plugin.identity.refuse("external->submit: \(queuedBytes) bytes are already queued (at most \(PluginExternalInputs.largestQueue)); refused with BP_ERR_STATE")
            return BP_ERR_STATE
        }
        queued.append((channel, bytes))
        queuedBytes += bytes.count
        count.pointee = queued.count
        return BP_OK
    }

    /// The machine is shutting down: every plugin's queued input is dropped and later
    /// submissions are refused (channels stay valid for `channel_free` in destroy and exit).
    func closeAll(_ plugins: [LoadedPlugin]) {
        lock.lock()
        for plugin in plugins { closed.insert(ObjectIdentifier(plugin.identity)) }
        queued.removeAll()
        queuedBytes = 0
        count.pointee = 0
        lock.unlock()
    }

    /// Whether nothing waits to be delivered (live and recording).
    var isEmpty: Bool { count.pointee == 0 }

    /// On the machine thread, between slices: delivers what arrived (journaling it when
    /// recording), or what the journal has for now (replaying).
    func deliverDue(now: UInt64) {
        if mode == .replay {
            guard let journal else { return }
            while let (source, bytes) = journal.replayInput(prefix: PluginExternalInputs.sourcePrefix) {
                guard let channel = channels.first(where: { $0.source == source }) else {
                    journal.diverge("the recording gives \(source) input at this time, but no plugin opened that channel (open ones: \(channels.isEmpty ? "none" : channels.map(\.source).joined(separator: ", ")))")
                    return
                }
                Self.deliver(bytes, to: channel, now: now)
            }
            return
        }
        guard count.pointee != 0 else { return }
        lock.lock()
        let batch = queued
        queued.removeAll()
        queuedBytes = 0
        count.pointee = 0
        lock.unlock()
        for (channel, bytes) in batch where channel.isOpen {
            journal?.recordInput(source: channel.source, bytes: bytes)
            Self.deliver(bytes, to: channel, now: now)
        }
    }

    private static func deliver(_ bytes: [UInt8], to channel: PluginExternalChannel, now: UInt64) {
        bytes.withUnsafeBytes { buffer in
            channel.deliver(channel.opaque, bytes.isEmpty ? nil : buffer.baseAddress, bytes.count, now)
        }
    }

    func removeAll() {
        for channel in channels { PluginHandles.shared.retire(channel.handle) }
        channels.removeAll()
        lock.lock()
        queued.removeAll()
        count.pointee = 0
        lock.unlock()
    }
}

/// Why `channel_new` refused.
struct PluginExternalError: Error {
    let message: String
}

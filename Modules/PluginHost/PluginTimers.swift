import CBackplane
import Foundation
import IRQ
import Memory

/// A timer a plugin created (`time->timer_new`), firing in virtual time.
final class PluginTimer {
    let fire: @convention(c) (UnsafeMutableRawPointer?, UInt64) -> Void
    let opaque: UnsafeMutableRawPointer?
    unowned let queue: PluginTimerQueue
    unowned let plugin: LoadedPlugin
    var deadline: UInt64 = 0
    var period: UInt64 = 0
    var active = false
    /// Start order: breaks ties between equal deadlines, so firing order is deterministic.
    var sequence: UInt64 = 0

    init(fire: @escaping @convention(c) (UnsafeMutableRawPointer?, UInt64) -> Void, opaque: UnsafeMutableRawPointer?,
         queue: PluginTimerQueue, plugin: LoadedPlugin) {
        self.fire = fire
        self.opaque = opaque
        self.queue = queue
        self.plugin = plugin
    }

    /// The `bp_timer *` handed to the plugin: a checked token, valid until `timer_free` or the
    /// plugin's exit.
    lazy var handle: OpaquePointer = PluginHandles.shared.issue(self, kind: .timer, owner: plugin.identity)

}

/// Every plugin timer, fired by the machine loop between instruction slices: earliest
/// deadline first, equal deadlines in start order. Virtual time is the machine's timebase in
/// nanoseconds; before a machine is attached it reads 0 and nothing fires.
public final class PluginTimerQueue {
    /// Every live timer; the queue's reference is the one that keeps a timer alive.
    private var timers: [PluginTimer] = []
    private var nextSequence: UInt64 = 0
    /// `host->wake` calls queued by plugins' own threads (ABI 1.2).
    public let wakes = PluginWakeQueue()
    /// Input from outside (ABI 1.4), delivered at the same poll.
    public let externals = PluginExternalInputs()
    /// The machine's clock, set by `attach(timebase:)`.
    private(set) var timebase: Timebase?

    /// Most expiries handled per `fireDue` call, so a tiny period cannot stall the machine.
    static let maximumFiringsPerPoll = 1024

    public init() {}

    public func attach(timebase: Timebase) { self.timebase = timebase }

    /// Machine nanoseconds since the timebase started (virtual or host clock; a guest write to
    /// `mtime` does not move them).
    public func now() -> UInt64 { timebase?.nanoseconds() ?? 0 }

    func add(_ timer: PluginTimer) { timers.append(timer) }

    func remove(_ timer: PluginTimer) {
        timer.active = false
        PluginHandles.shared.retire(timer.handle)
        timers.removeAll { $0 === timer }
    }

    func start(_ timer: PluginTimer, delay: UInt64, period: UInt64) {
        let (deadline, overflow) = now().addingReportingOverflow(delay)
        timer.deadline = overflow ? UInt64.max : deadline
        timer.period = period
        timer.active = true
        timer.sequence = nextSequence
        nextSequence += 1
        // Started from a device access (usually): it fires at its instruction.
        timebase?.deadlineArmed(inNanoseconds: delay)
    }

    /// Fires every timer whose deadline has passed; returns how many fired.
    @discardableResult
    public func fireDue() -> Int {
        guard timebase != nil, !timers.isEmpty else { return 0 }
        let current = now()
        var fired = 0
        while fired < PluginTimerQueue.maximumFiringsPerPoll, let timer = earliest(), timer.deadline <= current {
            if timer.period > 0 {
                // Periodic: next expiry one period later; if the machine fell behind by more
                // than a period, skip the missed ones rather than firing a burst.
                let next = timer.deadline &+ timer.period
                timer.deadline = next <= current ? current &+ timer.period : next
                timer.sequence = nextSequence
                nextSequence += 1
            } else {
                timer.active = false
            }
            fired += 1
            timer.fire(timer.opaque, current)
        }
        return fired
    }

    /// Virtual nanoseconds until the earliest active timer expires (0 if overdue), nil if none.
    public func nanosecondsUntilNext() -> UInt64? {
        guard let timer = earliest() else { return nil }
        let current = now()
        return timer.deadline > current ? timer.deadline - current : 0
    }

    private func earliest() -> PluginTimer? {
        var best: PluginTimer?
        for timer in timers where timer.active {
            if let chosen = best, (chosen.deadline, chosen.sequence) <= (timer.deadline, timer.sequence) { continue }
            best = timer
        }
        return best
    }

    func removeAll() {
        for timer in timers {
            timer.active = false
            PluginHandles.shared.retire(timer.handle)
        }
        timers.removeAll()
    }
}

/// Plugin timers fire between slices and bound the machine's idle sleep like any device timer.
/// `host->wake` calls ride the same poll: queued wakes run first, and a queued wake ends the
/// machine's idle sleep at once. Input from outside (ABI 1.4) is delivered between the two,
/// and queued input ends the idle sleep like a wake.
extension PluginTimerQueue: DeviceLifecycle {
    public func poll() {
        wakes.runQueued()
        externals.deliverDue(now: now())
        _ = fireDue()
    }
    public func nanosecondsUntilNextEvent() -> UInt64? {
        // Under --record, queued input waits for the next poll the machine makes anyway: ending
        // the slice at once would put it where host timing says, which a replay cannot repeat
        // (it takes the input at the same poll, and slices end by the same rules).
        let inputWaits = !externals.isEmpty && externals.mode != .record
        return wakes.isEmpty && !inputWaits ? nanosecondsUntilNext() : 0
    }
}

/// `host->wake` (ABI 1.2): callbacks a plugin's own thread queued, run once each on the machine
/// thread at the next poll, in queue order. The one plugin-facing structure touched from
/// other threads, so it has its own lock. Between polls the machine sleeps at most its longest
/// idle sleep, which bounds how late a wake runs while every hart waits for an interrupt.
public final class PluginWakeQueue: @unchecked Sendable {
    private struct Wake {
        let fire: @convention(c) (UnsafeMutableRawPointer?) -> Void
        let opaque: UnsafeMutableRawPointer?
        let plugin: PluginIdentity
    }

    private let lock = NSLock()
    private var queued: [Wake] = []
    /// Plugins whose exit started: their wakes are refused and dropped.
    private var closed: Set<ObjectIdentifier> = []
    /// How many are queued, read without the lock by `nanosecondsUntilNextEvent`.
    private let count = UnsafeMutablePointer<Int>.allocate(capacity: 1)

    public init() { count.initialize(to: 0) }

    deinit { count.deallocate() }

    func enqueue(_ fire: @escaping @convention(c) (UnsafeMutableRawPointer?) -> Void, _ opaque: UnsafeMutableRawPointer?,
                 plugin: PluginIdentity) -> Int32 {
        lock.lock()
        defer { lock.unlock() }
        guard !closed.contains(ObjectIdentifier(plugin)) else { return BP_ERR_STATE }
        queued.append(Wake(fire: fire, opaque: opaque, plugin: plugin))
        count.pointee = queued.count
        return BP_OK
    }

    /// Drops `plugin`'s queued wakes and refuses new ones (its exit is about to run).
    func close(_ plugin: PluginIdentity) {
        lock.lock()
        closed.insert(ObjectIdentifier(plugin))
        queued.removeAll { $0.plugin === plugin }
        count.pointee = queued.count
        lock.unlock()
    }

    /// Runs every queued wake (on the machine thread); returns how many ran.
    @discardableResult
    public func runQueued() -> Int {
        guard count.pointee != 0 else { return 0 }
        lock.lock()
        let batch = queued
        queued.removeAll()
        count.pointee = 0
        lock.unlock()
        for wake in batch { wake.fire(wake.opaque) }
        return batch.count
    }

    var isEmpty: Bool { count.pointee == 0 }
}


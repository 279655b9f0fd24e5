import CBackplane
import IRQ
import Memory

/// A timer a plugin created (`time->timer_new`), firing in virtual time.
final class PluginTimer {
    let fire: @convention(c) (UnsafeMutableRawPointer?, UInt64) -> Void
    let opaque: UnsafeMutableRawPointer?
    unowned let queue: PluginTimerQueue
    var deadline: UInt64 = 0
    var period: UInt64 = 0
    var active = false
    /// Start order: breaks ties between equal deadlines, so firing order is deterministic.
    var sequence: UInt64 = 0

    init(fire: @escaping @convention(c) (UnsafeMutableRawPointer?, UInt64) -> Void, opaque: UnsafeMutableRawPointer?, queue: PluginTimerQueue) {
        self.fire = fire
        self.opaque = opaque
        self.queue = queue
    }

    var handle: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }

    static func from(_ handle: OpaquePointer?) -> PluginTimer? {
        guard let handle else { return nil }
        return Unmanaged<PluginTimer>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
    }
}

/// Every plugin timer, fired by the machine loop between instruction slices: earliest
/// deadline first, equal deadlines in start order. Virtual time is the machine's timebase in
/// nanoseconds; before a machine is attached it reads 0 and nothing fires.
public final class PluginTimerQueue {
    /// Every live timer; the queue's reference is the one that keeps a timer alive.
    private var timers: [PluginTimer] = []
    private var nextSequence: UInt64 = 0
    /// The machine's clock, set by `attach(timebase:)`.
    private(set) var timebase: Timebase?

    /// Most expiries handled per `fireDue` call, so a tiny period cannot stall the machine.
    static let maximumFiringsPerPoll = 1024

    public init() {}

    public func attach(timebase: Timebase) { self.timebase = timebase }

    /// Virtual nanoseconds since the timebase started.
    public func now() -> UInt64 {
        guard let timebase else { return 0 }
        let ticks = timebase.now()
        let product = ticks.multipliedFullWidth(by: 1_000_000_000)
        return timebase.frequency.dividingFullWidth((product.high, product.low)).quotient
    }

    func add(_ timer: PluginTimer) { timers.append(timer) }

    func remove(_ timer: PluginTimer) {
        timer.active = false
        timers.removeAll { $0 === timer }
    }

    func start(_ timer: PluginTimer, delay: UInt64, period: UInt64) {
        let (deadline, overflow) = now().addingReportingOverflow(delay)
        timer.deadline = overflow ? UInt64.max : deadline
        timer.period = period
        timer.active = true
        timer.sequence = nextSequence
        nextSequence += 1
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
        for timer in timers { timer.active = false }
        timers.removeAll()
    }
}

/// Plugin timers fire between slices and bound the machine's idle sleep like any device timer.
extension PluginTimerQueue: DeviceLifecycle {
    public func poll() { _ = fireDue() }
    public func nanosecondsUntilNextEvent() -> UInt64? { nanosecondsUntilNext() }
}

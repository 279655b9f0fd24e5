import Foundation
import Memory

/// Anything that takes numbered wired interrupt sources: a PLIC, an APLIC.
public protocol InterruptController: AnyObject {
    /// Number of valid sources; source 0 is reserved ("no interrupt") on RISC-V controllers.
    var sourceCount: Int { get }
    /// Drives source `source` to `level` (true = asserted). Level-triggered.
    func setLevel(source: Int, level: Bool)
}

/// One wired interrupt output, held by a device. The device never learns what is behind it.
public struct IRQLine {
    private unowned let controller: any InterruptController
    public let source: Int

    public init(controller: any InterruptController, source: Int) {
        self.controller = controller
        self.source = source
    }

    /// Asserts (`true`) or deasserts the line.
    @inline(__always) public func set(_ level: Bool) { controller.setLevel(source: source, level: level) }
    public func raise() { set(true) }
}

/// Interrupt bit numbers in mip/mie (RISC-V privileged spec §3.1.9).
public enum InterruptBit {
    public static let supervisorSoftware = 1
    public static let machineSoftware = 3
    public static let supervisorTimer = 5
    public static let machineTimer = 7
    public static let supervisorExternal = 9
    public static let machineExternal = 11
}

/// A hart's interrupt input pins, driven by the PLIC/APLIC (external) and the ACLINT (timer,
/// software). Implemented by the CPU's hart; controllers hold one per hart.
public protocol HartInterruptInputs: AnyObject {
    /// Sets or clears the externally driven `mip` bit `bit` (an `InterruptBit`).
    func setInterruptPending(bit: Int, _ level: Bool)

}

/// The machine's clock: `mtime`, the `time` CSR and every device or plugin timer count in it.
///
/// Two clocks (docs/architecture.md, "Virtual time"):
/// - **virtual** (`--clock virtual`, the default): time is instructions. Every instruction a
///   hart retires (and every trap it takes) advances the clock by one *unit*, and
///   `instructionsPerSecond` units make a second. Inside a slice the running hart's own
///   progress counts (`HartState.clockBudget`), so time moves instruction by instruction, the
///   same under the interpreter and the JIT. When every hart waits for an interrupt the machine
///   jumps the clock to the next deadline (`advance(units:)`) instead of sleeping. Harts run
///   one after another on one thread, so the units of all harts add up: with two busy harts
///   each sees time pass twice as fast as its own instructions.
/// - **host**: the host's monotonic clock (as QEMU's `virt` does), so guest timeouts take real
///   time and the machine sleeps for the next deadline.
///
/// Nothing in a virtual-clock run reads the host's clock: identical inputs give identical runs.
public final class Timebase {
    /// Which clock drives the machine.
    public enum Clock: Equatable, Sendable, CustomStringConvertible {
        case host
        /// Time advances by one unit per retired instruction; `instructionsPerSecond` units per second.
        case virtual(instructionsPerSecond: UInt64)

        public var description: String {
            switch self {
            case .host: return "host"
            case .virtual(let rate): return "virtual (\(rate) instructions per second)"
            }
        }
    }

    /// Ticks per second; 10 MHz as on QEMU's `virt` and in its device tree.
    public let frequency: UInt64
    public let clock: Clock
    /// Whether the clock is virtual (checked on hot-ish paths without a switch).
    public let isVirtual: Bool
    /// Host clock: the host's monotonic nanoseconds when the timebase was made.
    private let start: UInt64
    /// Added to the ticks when the guest writes `mtime`.
    private var offset: UInt64 = 0
    /// Virtual clock: units per second.
    private let rate: UInt64
    /// Virtual clock: units that passed up to the start of the current slice (or now, between
    /// slices): every hart's retired instructions and traps, plus idle time skipped.
    public private(set) var elapsedUnits: UInt64 = 0
    /// Virtual clock: the running hart's `clockBudget` and the budget its slice started with.
    private var runningBudget: UnsafePointer<Int64>?
    private var sliceBudget: Int64 = 0
    /// Virtual clock: the running hart's `exitRequest`, which `deadlineArmed` sets.
    private var runningExitRequest: UnsafeMutablePointer<UInt64>?

    public init(frequency: UInt64 = 10_000_000, clock: Clock = .host) {
        self.frequency = frequency
        self.clock = clock
        switch clock {
        case .host: rate = 0; isVirtual = false
        case .virtual(let instructionsPerSecond): rate = max(1, instructionsPerSecond); isVirtual = true
        }
        start = isVirtual ? 0 : Timebase.hostNanoseconds()
    }

    /// Current time in ticks.
    @inline(__always) public func now() -> UInt64 {
        if isVirtual { return scale(units, to: frequency) &+ offset }
        return scale(Timebase.hostNanoseconds() &- start, from: 1_000_000_000, to: frequency) &+ offset
    }

    /// Makes `now()` read `value` from this moment on (a guest write to `mtime`).
    public func set(_ value: UInt64) {
        offset = offset &+ (value &- now())
    }

    /// Nanoseconds of machine time since the machine was made, not moved by guest writes to
    /// `mtime`: what plugin timers, the RTC and traces count in.
    public func nanoseconds() -> UInt64 {
        if isVirtual { return scale(units, to: 1_000_000_000) }
        return Timebase.hostNanoseconds() &- start
    }

    /// Saves the clock for a snapshot (docs/snapshots.md): its frequency and kind, then under
    /// the virtual clock the units elapsed and the `mtime` offset (so the restored machine's
    /// time, `mtime` and machine nanoseconds all go on from the saved point); under the host
    /// clock the ticks `mtime` reads now. Call between slices.
    public func save(to state: inout DeviceStateWriter) {
        state.put(frequency)
        state.put(isVirtual)
        state.put(rate)
        if isVirtual {
            state.put(units)
            state.put(offset)
        } else {
            state.put(now())
        }
    }

    /// Restores what `save(to:)` wrote.
    /// - Throws: `mismatch` when the snapshot's clock ran at another frequency, under the other
    ///   clock, or at another instruction rate.
    public func restore(from state: inout DeviceStateReader) throws(DeviceStateError) {
        let savedFrequency = try state.uint64()
        guard savedFrequency == frequency else {
            throw .mismatch("the clock ran at \(savedFrequency) Hz, this machine's runs at \(frequency) Hz")
        }
        let savedVirtual = try state.bool()
        let savedRate = try state.uint64()
        guard savedVirtual == isVirtual, savedRate == rate else {
            let saved = savedVirtual ? "--clock virtual (\(savedRate) instructions per second)" : "--clock host"
            throw .mismatch("the snapshot was saved under \(saved); this machine runs \(isVirtual ? "--clock virtual (\(rate) instructions per second)" : "--clock host")")
        }
        if isVirtual {
            let units = try state.uint64()
            let offset = try state.uint64()
            restart(atUnits: units)
            self.offset = offset
        } else {
            set(try state.uint64())
        }
    }

    /// Nanoseconds of machine time until the timebase reaches `deadline` ticks (0 if already
    /// past), rounded up so that waiting this long always reaches it.
    public func nanoseconds(until deadline: UInt64) -> UInt64 {
        let current = now()
        guard deadline > current else { return 0 }
        if isVirtual {
            // From the current unit, not the current tick: a tick is many units (100 at the
            // defaults), and counting from the truncated tick would put the deadline up to a
            // tick late. The first unit whose tick reaches `deadline`:
            // ceil((deadline - offset) × rate / frequency).
            let ticks = (deadline &- offset).multipliedFullWidth(by: rate)
            guard ticks.high < frequency else { return .max }
            let (whole, part) = frequency.dividingFullWidth((ticks.high, ticks.low))
            let target = part == 0 ? whole : whole &+ 1
            let current = units
            guard target > current else { return 0 }
            // Rounded so that `units(forNanoseconds:)` (which rounds up) gives the distance back
            // exactly while a unit lasts at least a nanosecond (rate <= 10^9: round down). At
            // faster rates a nanosecond spans several units; rounding up there keeps the
            // deadline from ever being reached early, at most a nanosecond's units late.
            let product = (target - current).multipliedFullWidth(by: 1_000_000_000)
            guard product.high < rate else { return .max }
            let (quotient, remainder) = rate.dividingFullWidth((product.high, product.low))
            return remainder != 0 && rate > 1_000_000_000 ? quotient &+ 1 : quotient
        }
        let product = (deadline - current).multipliedFullWidth(by: 1_000_000_000)
        let (quotient, remainder) = frequency.dividingFullWidth((product.high, product.low))
        return remainder == 0 ? quotient : quotient &+ 1
    }

    /// Virtual clock: nanoseconds until `now()` has moved `ticksAhead` ticks on, counted from
    /// the unit at which that happens, not from the current tick's start. A tick spans several
    /// units (100 at the defaults), and the current unit may lie anywhere in its tick; counting
    /// whole ticks from here would overshoot by up to a tick, so a compare value would be met
    /// up to 99 instructions late, by an amount that depends on where earlier slices ended
    /// (with two harts, on the other hart's instructions). The unit is the first `u` with
    /// `floor(u × frequency / rate) ≥ floor(units × frequency / rate) + ticksAhead`, that is
    /// `ceil(ticks × rate / frequency)`; the nanoseconds are rounded up, and the machine's
    /// `units(forNanoseconds:)` turns them back into exactly that many units when `rate` is 10^9
    /// (the default; other rates may land one unit later, never earlier).
    private func virtualNanoseconds(ticksAhead: UInt64) -> UInt64 {
        let current = units
        let (ticks, overflow) = scale(current, to: frequency).addingReportingOverflow(ticksAhead)
        guard !overflow else { return .max }
        let product = ticks.multipliedFullWidth(by: rate)
        guard product.high < frequency else { return .max }
        let (quotient, remainder) = frequency.dividingFullWidth((product.high, product.low))
        let target = remainder == 0 ? quotient : quotient &+ 1
        guard target > current else { return 0 }
        let nanoseconds = (target - current).multipliedFullWidth(by: 1_000_000_000)
        guard nanoseconds.high < rate else { return .max }
        let (whole, rest) = rate.dividingFullWidth((nanoseconds.high, nanoseconds.low))
        return rest == 0 ? whole : whole &+ 1
    }

    // MARK: Driving the virtual clock (the machine loop)

    /// Virtual clock: units now, counting the running hart's progress in its slice.
    @inline(__always) public var units: UInt64 {
        guard let runningBudget else { return elapsedUnits }
        let used = min(max(0, sliceBudget &- runningBudget.pointee), sliceBudget)
        return elapsedUnits &+ UInt64(used)
    }

    /// Units (instructions) until `nanoseconds` of machine time have passed, rounded up.
    public func units(forNanoseconds nanoseconds: UInt64) -> UInt64 {
        let product = nanoseconds.multipliedFullWidth(by: rate)
        guard product.high < 1_000_000_000 else { return .max }
        let (quotient, remainder) = UInt64(1_000_000_000).dividingFullWidth((product.high, product.low))
        return remainder == 0 ? quotient : quotient &+ 1
    }

    /// A hart starts a slice of `budget` instructions; `clockBudget` is its
    /// `HartState.clockBudget`, which it keeps at its budget left while it runs, and
    /// `exitRequest` its `HartState.exitRequest`.
    @inline(__always) public func beginSlice(budget: Int, clockBudget: UnsafeMutablePointer<Int64>,
                                             exitRequest: UnsafeMutablePointer<UInt64>) {
        guard isVirtual else { return }
        clockBudget.pointee = Int64(budget)
        sliceBudget = Int64(budget)
        runningBudget = UnsafePointer(clockBudget)
        runningExitRequest = exitRequest
    }

    /// The slice ended having used `used` units of its budget.
    @inline(__always) public func endSlice(used: Int) {
        guard isVirtual else { return }
        runningBudget = nil
        runningExitRequest = nil
        elapsedUnits &+= UInt64(max(0, used))
    }

    /// A device armed or moved a timer to `nanoseconds` of machine time from now, usually in a
    /// guest's register access (its `nanosecondsUntilNextEvent` reports it from now on). A
    /// slice's budget is cut at the earliest deadline only when the slice starts, so a deadline
    /// that falls before the running slice's end stops the running hart right after the access
    /// (both engines leave after a device access that sets `exitRequest`): the machine then
    /// starts the next slice with a budget that ends exactly at the deadline, and the timer
    /// fires at the instruction it names instead of at the slice's end. Between slices, and
    /// under the host clock, there is nothing to do.
    public func deadlineArmed(inNanoseconds nanoseconds: UInt64) {
        guard isVirtual, let runningBudget, let runningExitRequest else { return }
        // The budget left before the accessing instruction; it retires, then the slice ends.
        if units(forNanoseconds: nanoseconds) < UInt64(max(0, runningBudget.pointee)) {
            runningExitRequest.pointee = 1
        }
    }

    /// `deadlineArmed(inNanoseconds:)` for a deadline in timebase ticks (an `mtimecmp`).
    public func deadlineArmed(atTicks deadline: UInt64) {
        guard isVirtual, runningBudget != nil else { return }
        deadlineArmed(inNanoseconds: nanoseconds(until: deadline))
    }

    /// Jumps the virtual clock `units` ahead (every hart waits; nothing happens until then).
    public func advance(units: UInt64) {
        guard isVirtual else { return }
        elapsedUnits &+= units
    }

    /// Virtual clock: puts the clock at `units` (a snapshot or a replay starting point).
    public func restart(atUnits units: UInt64) {
        elapsedUnits = units
        runningBudget = nil
        runningExitRequest = nil
    }

    /// `value` (units or host nanoseconds) in another rate: value × `to` / the clock's rate.
    @inline(__always) private func scale(_ value: UInt64, from: UInt64? = nil, to: UInt64) -> UInt64 {
        let divisor = from ?? rate
        // The defaults (10 MHz timebase, 1e9 instructions or nanoseconds per second) divide.
        if divisor == 1_000_000_000 && to == 10_000_000 { return value / 100 }
        if divisor == to { return value }
        let product = value.multipliedFullWidth(by: to)
        guard product.high < divisor else { return .max }
        return divisor.dividingFullWidth((product.high, product.low)).quotient
    }

    @inline(__always) static func hostNanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
    }
}

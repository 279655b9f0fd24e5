/// What the GDB stub needs from a machine. The session calls these only while the machine is
/// stopped (all-stop mode, GDB manual E.4): the machine's run loop is parked, so implementations
/// read and write hart state without locks.
///
/// Threads are GDB's: 1-based hart indices (hart index 0 is thread 1), because GDB reserves
/// thread id 0 for "any thread" and -1 for "all threads".
public protocol GDBTarget: AnyObject {
    /// Every register the target description names, in register-number order.
    var registers: [GDBRegister] { get }
    /// How many harts (threads) there are; never 0.
    var threadCount: Int { get }

    /// The register's value, nil if this thread cannot read it now.
    func readRegister(_ number: Int, thread: Int) -> UInt64?
    /// Writes the register; false if it is read-only or the value is refused.
    func writeRegister(_ number: Int, value: UInt64, thread: Int) -> Bool
    /// Up to `length` bytes at the thread's virtual address `address` (through its current address
    /// translation); shorter when a byte is unreadable (GDB then reads that part again and reports
    /// the error there). No side effects: reading MMIO through the stub is refused.
    func readMemory(address: UInt64, length: Int, thread: Int) -> [UInt8]
    /// Writes `bytes` at the thread's virtual address; false if any byte cannot be written.
    func writeMemory(address: UInt64, bytes: [UInt8], thread: Int) -> Bool

    /// Inserts a breakpoint or watchpoint (`Z` packets); false if the target cannot.
    func insertBreakpoint(_ kind: GDBBreakpointKind, address: UInt64, length: UInt64) -> Bool
    /// Removes one; false if there was none.
    func removeBreakpoint(_ kind: GDBBreakpointKind, address: UInt64, length: UInt64) -> Bool

    /// A line for `info threads` (`qThreadExtraInfo`), e.g. "hart 0, S-mode".
    func threadDescription(_ thread: Int) -> String
    /// Runs a `monitor` command and returns its output (one or more lines, newline-terminated).
    func monitor(_ command: String) -> String
}

/// `Z`/`z` packet types (GDB manual E.2 "Z type,addr,kind").
public enum GDBBreakpointKind: Int, Sendable, CaseIterable {
    case software = 0
    case hardware = 1
    case writeWatchpoint = 2
    case readWatchpoint = 3
    case accessWatchpoint = 4
}

/// Why the machine stopped, for the stop reply (GDB manual E.3 "Stop Reply Packets").
public enum GDBStopReason: Equatable, Sendable {
    /// A breakpoint instruction or address was reached on `thread`.
    case breakpoint(thread: Int, hardware: Bool)
    /// A watched access of `kind` (2, 3 or 4) at `address` by `thread`.
    case watchpoint(thread: Int, kind: GDBBreakpointKind, address: UInt64)
    /// A single step finished on `thread`.
    case stepped(thread: Int)
    /// The client's interrupt (Ctrl-C) stopped the machine; `thread` is the one to report.
    case interrupted(thread: Int)
    /// The machine powered off with this exit status.
    case exited(status: UInt8)
}

/// How the client asked the machine to run on (`c`, `s`, `vCont`).
public struct GDBResume: Equatable, Sendable {
    /// The thread that executes exactly one instruction, if any.
    public var stepThread: Int?
    /// Whether the other threads run freely meanwhile (GDB's `vCont;s:N;c`); with a step and no
    /// `c` action they stay stopped (scheduler locking).
    public var othersRun: Bool

    public init(stepThread: Int?, othersRun: Bool) {
        self.stepThread = stepThread
        self.othersRun = othersRun
    }

    public static let continueAll = GDBResume(stepThread: nil, othersRun: true)
}

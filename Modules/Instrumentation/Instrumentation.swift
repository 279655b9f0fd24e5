// Instrumentation (plugin ABI 1.1, Plugins/include/backplane/instrument.h, docs/plugins.md):
// what an observer of a hart sees and what it may ask of the hart. Its own target, between the CPU
// (which reports the events: Hart+Instrument.swift) and the plugin host (which forwards them to
// plugins), so the plugin host does not link the CPU.

/// The kinds of events an observer wants.
public struct InstrumentationEvents: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let blockTranslated = InstrumentationEvents(rawValue: 1 << 0)
    public static let blockExecuted = InstrumentationEvents(rawValue: 1 << 1)
    public static let instruction = InstrumentationEvents(rawValue: 1 << 2)
    public static let memory = InstrumentationEvents(rawValue: 1 << 3)
    public static let trap = InstrumentationEvents(rawValue: 1 << 4)
}

/// Receives a hart's instrumentation events (the plugin host implements it). Called on the
/// thread running the hart, in the middle of its execution.
public protocol HartInstrumentation: AnyObject {
    /// The kinds wanted now; read by each hart at the start of every slice.
    var events: InstrumentationEvents { get }
    /// A block was decoded (interpreter) or translated (JIT): its first pc, length and bytes.
    func blockTranslated(hart: UInt32, pc: UInt64, instructions: Int, bytes: Int)
    /// A block is about to run `instructions` instructions (state.pc is `pc`).
    func blockExecuted(hart: UInt32, pc: UInt64, instructions: Int)
    /// An instruction is about to execute; `encoding` is its bits as in memory.
    func instruction(hart: UInt32, pc: UInt64, encoding: UInt32)
    /// A data access completed; `value` is zero-extended to `size` bytes.
    func memoryAccess(hart: UInt32, address: UInt64, size: Int, isStore: Bool, value: UInt64)
    /// `cause` as mcause encodes it; `privilege` the one the trap was taken from.
    func trap(hart: UInt32, cause: UInt64, value: UInt64, pc: UInt64, privilege: UInt64)
    /// When the only block-executed work is one C function
    /// `void f(void *udata, uint32_t hart, uint64_t pc, uint32_t instructions)`, that function:
    /// the JIT then calls it straight from translated code (no Swift on the path).
    var directBlockExecuted: DirectBlockCallback? { get }
}

/// A C block-executed callback and its `udata`, as addresses.
public struct DirectBlockCallback: Equatable, Sendable {
    public let function: UInt
    public let udata: UInt
    public init(function: UInt, udata: UInt) {
        self.function = function
        self.udata = udata
    }
}

/// A hart as its observers see it: its number, the observer it reports to, and its registers
/// by name. `Hart` conforms.
public protocol InstrumentedHart: AnyObject {
    /// `mhartid`: the `hart` argument of every event.
    var hartNumber: UInt32 { get }
    /// Attaches (or with nil, detaches) the observer; it takes effect at the next slice.
    func attach(instrumentation observer: (any HartInstrumentation)?)
    /// A register by its ABI or architectural name ("a0", "x10", "pc", a CSR name); nil for an
    /// unknown name.
    func readRegister(named name: String) -> UInt64?
}

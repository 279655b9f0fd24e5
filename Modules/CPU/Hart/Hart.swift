import CHartState
import IRQ
import Memory
import Instrumentation

/// One RV64GC hart: the interpreter that is Backplane's reference CPU.
///
/// CONTRACT (other files and modules rely on these names; keep them):
/// - `state`: the C-layout `HartState`, preallocated, reached only through this pointer.
/// - `loadData(_:size:)` / `storeData(_:size:value:)`: a data access at a guest *virtual*
///   address with translation, PMP and alignment rules applied; they throw `Trap`.
/// - `run(budget:)`: executes up to `budget` instructions and says why it stopped.
/// - `HartInterruptInputs`: how the PLIC/ACLINT drive `mip`.
///
/// How it runs: instructions are decoded once into blocks (`BlockCache`, keyed by the host
/// address of the first instruction, i.e. by physical address) and executed by a `switch` over
/// `Operation` (`Hart+Execute.swift`). Loads, stores and fetches go through the direct-mapped
/// software TLBs in `HartState` and fall back to the page walk (`Hart+MMU.swift`) and PMP
/// (`Hart+PMP.swift`) on a miss (`Hart+Memory.swift`).
///
/// Harts sharing a bus share one `HartGroup` as the bus's `codeWriteObserver`, so a write to a
/// code page by any hart or device drops the decoded blocks of all of them. Harts of one group
/// must run on one thread (the machine interleaves them); nothing here is thread-safe.
public final class Hart {
    public let state: UnsafeMutablePointer<HartState>
    public let bus: AddressSpace
    public let timebase: Timebase

    /// Decoded code.
    let blocks = BlockCache()
    // SAFETY: these point into `*state`, which lives as long as the hart.
    /// `state.x` as an array of 32 registers.
    let registers: UnsafeMutablePointer<UInt64>
    let tlbLoad: UnsafeMutablePointer<BPTLBEntry>
    let tlbStore: UnsafeMutablePointer<BPTLBEntry>
    let tlbFetch: UnsafeMutablePointer<BPTLBEntry>
    /// What the TLB entries were filled under (privilege, MPRV/MPP/SUM/MXR, satp); a change
    /// flushes them (see `noteTranslationContextChange`).
    var translationContext: (UInt64, UInt64, UInt64) = (~0, 0, 0)
    /// All harts on this bus (the bus's code-write observer).
    let group: HartGroup
    /// The hart's IMSIC interrupt files (Smaia/Ssaia, `Hart+AIA.swift`); nil on a board without
    /// an IMSIC, where the AIA CSRs do not exist. Used on AIA CSR accesses only.
    public var interruptFile: (any HartInterruptFile)?
    /// Whether the hart implements Sstc (`stimecmp`, menvcfg.STCE; Hart+Sstc.swift): set by
    /// the machine when the board's ISA names `sstc`, before anything runs. Without it
    /// `stimecmp` is not a CSR and menvcfg.STCE is read-only zero.
    public var implementsSstc = false
    /// Which engine `run(budget:)` uses. The JIT exists on x86-64 hosts only; elsewhere `.jit`
    /// runs the interpreter.
    public var accelerator: Accelerator = .interpreter
    /// Instrumentation observer (plugins, `Hart+Instrument.swift`); nil costs one test per slice.
    public internal(set) var instrumentation: (any HartInstrumentation)?
    /// The kinds in force since the last slice start (the observer's `events` then).
    var instrumentedEvents: InstrumentationEvents = []
    /// How many times the JIT's probe slots were invalidated (`invalidateLoopProbes`): the JIT
    /// gives sites slots of their own only while this stays rare (`JITEngine.siteSlotsPay`).
    var probeSlotInvalidations: UInt64 = 0
#if arch(x86_64)
    /// The translation cache, created on first use of the JIT (it keeps receiving invalidations
    /// even while the hart runs the interpreter, so switching engines back and forth is safe).
    private var jitStorage: JITEngine?
    var jitEngine: JITEngine {
        if let jitStorage { return jitStorage }
        let engine = JITEngine()
        jitStorage = engine
        return engine
    }
    var jitIfCreated: JITEngine? { jitStorage }
#endif

    public init(hartID: UInt64, bus: AddressSpace, timebase: Timebase) {
        state = .allocate(capacity: 1)
        state.initialize(to: HartState())
        self.bus = bus
        self.timebase = timebase
        let raw = UnsafeMutableRawPointer(state)
        registers = raw.advanced(by: MemoryLayout<HartState>.offset(of: \HartState.x)!)
            .assumingMemoryBound(to: UInt64.self)
        tlbLoad = raw.advanced(by: MemoryLayout<HartState>.offset(of: \HartState.tlbLoad)!)
            .assumingMemoryBound(to: BPTLBEntry.self)
        tlbStore = raw.advanced(by: MemoryLayout<HartState>.offset(of: \HartState.tlbStore)!)
            .assumingMemoryBound(to: BPTLBEntry.self)
        tlbFetch = raw.advanced(by: MemoryLayout<HartState>.offset(of: \HartState.tlbFetch)!)
            .assumingMemoryBound(to: BPTLBEntry.self)
        state.pointee.hartid = hartID
        if let existing = bus.codeWriteObserver as? HartGroup {
            group = existing
        } else {
            group = HartGroup()
            bus.codeWriteObserver = group
        }
        group.add(self)
        reset(pc: 0, a0: 0, a1: 0)
    }

    deinit { state.deallocate() }
}

/// The CPU engine of a hart.
public enum Accelerator: String, Sendable, CaseIterable {
    /// The reference interpreter.
    case interpreter = "interp"
    /// The dynamic binary translator to x86-64 (on other hosts, the interpreter).
    case jit

    /// The JIT on x86-64 hosts, where it exists; the interpreter elsewhere.
    public static var hostDefault: Accelerator {
#if arch(x86_64)
        return .jit
#else
        return .interpreter
#endif
    }
}

/// Why `Hart.run(budget:)` returned.
public enum HartStop: Equatable, Sendable {
    /// The budget of instructions was used up.
    case budgetExhausted
    /// The hart executed WFI with no interrupt pending and enabled; it sleeps until
    /// `pendingAndEnabledInterrupts` becomes non-zero.
    case waitingForInterrupt
    /// `state.exitRequest` was set (by the machine or an interrupt controller).
    case exitRequested
}

/// The harts on one bus, registered as its `codeWriteObserver` (the bus holds it weakly; each
/// hart holds it strongly).
final class HartGroup: CodeWriteObserver {
    private struct WeakHart { weak var hart: Hart? }
    private var members: [WeakHart] = []

    func add(_ hart: Hart) {
        members.removeAll { $0.hart == nil }
        members.append(WeakHart(hart: hart))
    }

    /// A write reached a page holding decoded code: every hart drops its blocks there (the bus
    /// already unmarked the page).
    func codeWritten(physicalPage: UInt64) {
        for member in members { member.hart?.dropBlocks(physicalPage: physicalPage) }
    }

    /// A page became code: no hart may keep it in its store TLB, or its stores would bypass the bus.
    func pageBecameCode(hostPage: UInt) {
        for member in members {
            member.hart?.dropStoreTranslations(hostPage: hostPage)
#if arch(x86_64)
            member.hart?.jitIfCreated?.victimStoreGeneration &+= 1
#endif
        }
    }
}

extension Hart {
    func dropBlocks(physicalPage: UInt64) {
        guard let host = bus.hostPointer(physicalPage << 12, length: 1, forWrite: false) else { return }
        blocks.invalidate(hostPage: UInt(bitPattern: host) & ~0xFFF)
#if arch(x86_64)
        jitIfCreated?.invalidate(hostPage: UInt(bitPattern: host) & ~0xFFF)
#endif
    }
}

extension Hart: HartInterruptInputs {
    /// Drives one of the controller-owned mip bits (MEIP, SEIP, MTIP, MSIP) and asks the run
    /// loop to look at interrupts again.
    public func setInterruptPending(bit: Int, _ level: Bool) {
        let mask: UInt64 = 1 << UInt64(bit)
        if level { state.pointee.mipExternal |= mask } else { state.pointee.mipExternal &= ~mask }
        state.pointee.exitRequest = 1
    }
}

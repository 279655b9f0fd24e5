import CHartState
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Instrumentation

/// Debug output of the JIT, set once by the command line before the machine runs.
public struct JITDebugOptions: Sendable {
    /// Print each guest block as it is translated (`--trace in_asm`).
    public var traceGuest = false
    /// Print the host code of each block (`--trace out_asm`; Capstone disassembly when available).
    public var traceHost = false
    /// Append every block to `/tmp/perf-<pid>.map` so `perf report` names guest blocks.
    public var perfMap = false

    public init(traceGuest: Bool = false, traceHost: Bool = false, perfMap: Bool = false) {
        self.traceGuest = traceGuest
        self.traceHost = traceHost
        self.perfMap = perfMap
    }

    nonisolated(unsafe) public static var current = JITDebugOptions()
}

#if arch(x86_64)
/// A second-level data-TLB entry: a copy of a first-level entry (`HartState.tlbLoad/tlbStore`)
/// that is valid while `generation` equals the engine's.
struct VictimTLBEntry {
    var tag: UInt64
    var addend: Int64
    var generation: UInt64
}

/// A translated block.
struct TranslatedBlock {
    var pc: UInt64
    var host: UInt
    /// Entry point; its first 5 bytes are overwritten with a jump to `exitStub` on invalidation.
    var entry: UInt
    /// Stores the block's pc and returns to the run loop.
    var exitStub: UInt
    /// Host page of the block's second page, for a block that runs across a page end (0: none).
    var secondPage: UInt
    var valid: Bool
}

/// The translation cache of one hart: an executable code buffer, the blocks in it keyed by
/// (guest pc, host address of the first instruction) in the dispatch table that the run loop and
/// generated code both probe, and per-page block lists for invalidation.
///
/// Everything is reserved, not touched, at creation (the code buffer, the dispatch table, the
/// second-level TLB and the instruction pool are anonymous mappings whose pages are zero until
/// used), so a short run pays only for what it translates.
final class JITEngine {
    static let codeSize = 64 << 20
    /// Translation starts over (everything flushed) when less than this is free.
    static let reserve = 256 << 10
    /// log2 of the dispatch-table slots (8 MiB reserved; at most half are used before a flush).
    static let dispatchBits = 18
    static let instructionPoolSize = 1 << 18
    /// Longest block, in guest instructions.
    static let maxBlockLength = 64

    let code: UnsafeMutablePointer<UInt8>
    /// Offset of the first free byte.
    var used = 0
    /// Incremented by every flush: a pending chain patch from before a flush is dropped.
    private(set) var flushGeneration = 0
    /// Set by `flush`: `HartState.jitReturnStack` may point into dropped code and must be
    /// cleared before generated code runs again (`Hart.runJIT`).
    var returnStackStale = false

    /// (pc, host) → code, probed by the run loop and inline by generated code (its base is an
    /// immediate there: the table never moves).
    var table: DispatchTable
    /// The jump cache: a direct-mapped (guest pc → code) cache that indirect jumps probe before
    /// the fetch TLB and the dispatch table, `jumpCacheEntries` slots of 32 bytes (pc + 1, fetch
    /// generation, code, unused), indexed by pc bits 1–12. A hit needs only the pc to find the
    /// host target (two ALU operations and a load), so a mispredicted indirect jump (a switch on
    /// data) resolves ~10 cycles sooner than through the TLB probe, the multiplicative hash and
    /// the table slot. An entry is filled from a dispatch-table hit (`fillJumpCache`), so it
    /// holds what the TLB probe and the table gave under the fetch generation it records: while
    /// `state.jitFetchGeneration` is unchanged (every fetch-TLB flush bumps it: SFENCE.VMA, satp,
    /// privilege, PMP, reset) the mapping it was found under stands, as for cross-page chains.
    /// pc + 1 so that a zeroed slot never matches an (even) target. An invalidated block's slot is
    /// cleared (its patched entry would still be correct, but would leave for the run loop at
    /// every visit); `flush` hands the pages back.
    let jumpCache: UnsafeMutablePointer<UInt64>
    static let jumpCacheEntries = 1 << 12
    /// Stores (pc + 1, generation, code) in pc's jump-cache slot and jumps to the code: rax = pc,
    /// rcx = table, rdx = byte offset of the matching dispatch-table slot.
    private(set) var fillJumpCache: UInt = 0

    /// Decoded instructions that generated code hands to `jitInterpret` (by address).
    let instructionPool: UnsafeMutablePointer<DecodedInstruction>
    var instructionPoolUsed = 0
    /// Blocks translated now report their execution at entry (JITInstrumentation.swift).
    var instrumentBlocks = false
    /// An instrumentation plugin observes this hart: blocks that branch to themselves are not
    /// turned into in-place loops, so translations and executions are seen as the interpreter
    /// shows them.
    var observed = false
    /// ... by calling this C function directly instead of the helper.
    var directBlockCall: DirectBlockCallback?

    /// A larger direct-mapped second level behind the 256-entry data TLBs, consulted by the
    /// load/store helpers before the page walk (TLB-miss-heavy guests walk far less). It holds only
    /// copies of first-level entries, so it must be forgotten whenever the first level is flushed:
    /// when the translation context changes (`Hart.translationContext`: privilege, satp,
    /// MPRV/MPP/SUM/MXR — after traps, interrupts, xRET, CSR writes), on SFENCE.VMA and PMP
    /// writes, and on reset; each bumps `victimGeneration`. A page becoming code bumps
    /// `victimStoreGeneration` (stores to code pages must reach the bus).
    static let victimEntries = 1 << 14
    let victimLoad: UnsafeMutablePointer<VictimTLBEntry>
    let victimStore: UnsafeMutablePointer<VictimTLBEntry>
    var victimGeneration: UInt64 = 1
    var victimStoreGeneration: UInt64 = 1

    /// The per-site target tables of switches (`JITTranslator.findSwitchKey`), in the code
    /// buffer: `switchSlots` host code words, then as many guest targets, then as many fetch
    /// generations. Generated code fills them; any invalidation empties them all (a slot may
    /// point at an invalidated block, whose patched entry would leave for the run loop at every
    /// visit), `flush` forgets them with the code.
    static let switchSlots = 16
    private(set) var switchTables: [UnsafeMutablePointer<UInt64>] = []

    func addSwitchTables(_ tables: [UInt]) {
        for table in tables { switchTables.append(UnsafeMutablePointer(bitPattern: table)!) }
    }

    /// Empties every switch table's slots (their targets become 1, which no target equals).
    private func emptySwitchTables() {
        for table in switchTables {
            (table + Self.switchSlots).update(repeating: 1, count: Self.switchSlots)
        }
    }

    /// Every block since the last flush and the blocks of each host page: used only when
    /// translating and invalidating, never on the path from one block to the next.
    var blocks: [TranslatedBlock] = []
    var blocksByPage: [UInt: [Int]] = [:]

    // Shared routines at the start of the buffer (see `emitRuntime`).
    typealias Enter = @convention(c) (UnsafeMutablePointer<HartState>, UInt) -> UInt
    private(set) var enter: Enter!
    /// Returns 0 to the run loop (pc already stored).
    private(set) var exitToLoop: UInt = 0
    /// The rest of an inline dispatch-table probe whose first slot missed: rax = pc, rsi = host,
    /// rdx = byte offset of the slot, rcx = the table. Follows the probe sequence to the block or to an empty slot
    /// (then returns 0 to the run loop).
    private(set) var probeRest: UInt = 0
    /// Returns `JITEngine.interpretBlock` to the run loop (pc already stored): a block that runs
    /// across a page end found its second page mapped elsewhere.
    private(set) var exitToInterpreter: UInt = 0
    /// Returns `JITEngine.interpretOnce` to the run loop (pc already stored): a self-loop found a
    /// register it keeps a W-form result in without a sign-extended value at entry
    /// (`JITTranslator.deferSignExtensions`).
    private(set) var exitToInterpretOnce: UInt = 0
    /// Returns `JITEngine.retranslatePlain` to the run loop (pc already stored): a block found a
    /// register it assumed sign-extended at entry not to be (`JITTranslator.findSignAssumptions`).
    private(set) var exitToRetranslate: UInt = 0
    /// Blocks (by guest pc) translated again without sign assumptions after one failed at
    /// entry (`exitToRetranslate`), or without page runs after their loop missed too often
    /// (`exitToPageRunMiss`): read only when translating; forgotten at a flush.
    var plainBlocks: Set<UInt64> = []
    /// Returns `JITEngine.pageRunMiss` to the run loop (pc already stored): a self-loop in page
    /// runs found the next access of one of its loads or stores not in the TLB, or misaligned
    /// (`JITTranslator.findPageRuns`).
    private(set) var exitToPageRunMiss: UInt = 0
    /// Misses (`exitToPageRunMiss`) in a row per loop, by guest pc, and minstret at the last:
    /// a loop that keeps missing right after its interpreted iteration (a device register,
    /// misaligned data, a page it may not store to) is translated again without page runs;
    /// one that misses only now and then (walking into pages not yet in the TLB) is not.
    var pageRunMisses: [UInt64: (inRow: Int, instret: UInt64)] = [:]
    static let pageRunMissLimit = 8
    /// The next per-site probe slot to hand out, per kind (`HartState.jitSiteSlots`).
    private var nextSiteSlot = (load: 0, store: 0)
    /// Whether new translations give their loads and stores site slots: while TLB entries are
    /// removed rarely. A guest that removes them every few thousand instructions (a Linux boot
    /// retires the probe slots about once per 2,000, nearly always for an LR taking its
    /// reservation's pages out of the store TLB) would find its slots retired before they pay
    /// for their refill, and a boot ran 12% slower with them. Measured over windows of `siteSlotWindow` instructions
    /// (`noteSiteSlotRate`).
    private(set) var siteSlotsPay = true
    private var siteSlotWindow = (instret: UInt64(0), invalidations: UInt64(0))
    static let siteSlotWindowLength: UInt64 = 4_000_000
    /// Slots pay while invalidations are at least this many instructions apart on average.
    static let siteSlotSpacing: UInt64 = 65_536

    /// Called by the run loop: at the end of each window, whether site slots paid in it.
    func noteSiteSlotRate(instret: UInt64, invalidations: UInt64) {
        let elapsed = instret &- siteSlotWindow.instret
        guard elapsed >= Self.siteSlotWindowLength else { return }
        let removed = invalidations &- siteSlotWindow.invalidations
        siteSlotsPay = removed <= elapsed / Self.siteSlotSpacing
        siteSlotWindow = (instret, invalidations)
    }

    /// A per-site probe slot for a load or store outside a self-loop (byte offset from rbx):
    /// in turn, round the slots of its kind.
    func siteSlot(store: Bool) -> Int32 {
        let n = Int(BP_SITE_SLOTS)
        let index: Int
        if store {
            index = n + nextSiteSlot.store
            nextSiteSlot.store = (nextSiteSlot.store + 1) % n
        } else {
            index = nextSiteSlot.load
            nextSiteSlot.load = (nextSiteSlot.load + 1) % n
        }
        return StateOffset.siteSlots + Int32(16 * index)
    }
    /// Misses further apart than this many instructions are not in a row.
    static let pageRunMissSpacing: UInt64 = 1024
    /// Common return path: rax is the value the run loop gets.
    private(set) var epilogue: UInt = 0
    /// Folds the host MXCSR exception flags that inline FP code accumulated into `state.fflags`
    /// and clears them (clobbers rcx, rdx; preserves rax). Inline FP instructions leave their
    /// IEEE flags sticky in MXCSR — fflags is itself an accrued set, so OR-ing later is exact —
    /// and this runs wherever fflags can be observed: before interpreter helpers (CSR reads) and
    /// on every return to the run loop.
    private(set) var foldFlags: UInt = 0
    private var runtimeEnd = 0

    private var perfMap: UnsafeMutablePointer<FILE>?
    /// FMA3 usable: CPUID.1:ECX FMA (bit 12), AVX (28) and OSXSAVE (27), and the OS saves the
    /// SSE and AVX state (XGETBV(0) bits 1 and 2).
    private(set) var hostHasFMA = false

    /// Guest registers kept in host registers across all generated code (guest, host): loaded by
    /// `enter`, stored by the epilogue on every way back to the run loop, and around helpers
    /// that read or write guest registers, so a chained jump or a return between blocks neither
    /// stores nor reloads them. a0–a5 and sp: the most used registers of RV64 code compiled by
    /// GCC (static counts over the bench workloads: x15, x10, x14, x2, x13, x11, x12 lead, then
    /// x1, x8, x9), and s0, s1, which non-leaf functions keep their loop state in (the host's
    /// r12 and rdi: the dispatch table's base is an immediate in the lookups instead).
    /// Callee-saved host registers hold the five most used, so helper calls need not save them.
    static let pinned: [(guest: UInt8, host: X86Register)] = [
        (15, .rbp), (10, .r13), (14, .r14), (2, .r15), (13, .r9), (11, .r10), (12, .r11), (8, .r12), (9, .rdi),
    ]
    /// Holds `state.jitBudget` in all generated code (see `JITTranslator.budgetInRegister`).
    static let budgetRegister = X86Register.r8

    /// `pinned` as a guest-register-indexed table.
    static let pinnedMap: [X86Register?] = {
        var map = [X86Register?](repeating: nil, count: 32)
        for (guest, host) in pinned { map[Int(guest)] = host }
        return map
    }()

    /// What `enter` returns when the run loop must interpret the block at `state.pc` (see
    /// `exitToInterpreter`); any other non-zero value is a chain site to patch.
    static let interpretBlock: UInt = 1
    /// What `enter` returns when the run loop must interpret the block at `state.pc` once and
    /// keep its translation (see `exitToInterpretOnce`).
    static let interpretOnce: UInt = 2
    /// What `enter` returns when the block at `state.pc` must be dropped, translated again
    /// without sign assumptions and interpreted this once (see `exitToRetranslate`).
    static let retranslatePlain: UInt = 3
    /// What `enter` returns when a self-loop's page run could not go on (see
    /// `exitToPageRunMiss`): the run loop interprets one iteration, which fills the TLB.
    static let pageRunMiss: UInt = 4

    /// Reserves `bytes` of zero-filled anonymous memory; its pages are materialised on first touch.
    private static func reserve(_ bytes: Int, executable: Bool = false) -> UnsafeMutableRawPointer {
        let protection = PROT_READ | PROT_WRITE | (executable ? PROT_EXEC : 0)
        let memory = mmap(nil, bytes, protection, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let memory, memory != MAP_FAILED else {
            fatalError("JIT: cannot map \(bytes) bytes (errno \(errno))")
        }
        return memory
    }

    init() {
        code = Self.reserve(Self.codeSize, executable: true).assumingMemoryBound(to: UInt8.self)
        table = DispatchTable(bits: Self.dispatchBits)
        // Zero pages are invalid entries: generation 0 never equals `victimGeneration` (from 1).
        victimLoad = Self.reserve(Self.victimEntries * MemoryLayout<VictimTLBEntry>.stride)
            .bindMemory(to: VictimTLBEntry.self, capacity: Self.victimEntries)
        victimStore = Self.reserve(Self.victimEntries * MemoryLayout<VictimTLBEntry>.stride)
            .bindMemory(to: VictimTLBEntry.self, capacity: Self.victimEntries)
        jumpCache = Self.reserve(Self.jumpCacheEntries * 32).bindMemory(to: UInt64.self, capacity: Self.jumpCacheEntries * 4)
        // DecodedInstruction is a trivial type: slots are assigned before generated code uses them.
        instructionPool = Self.reserve(Self.instructionPoolSize * MemoryLayout<DecodedInstruction>.stride)
            .bindMemory(to: DecodedInstruction.self, capacity: Self.instructionPoolSize)
        emitRuntime()
        if JITDebugOptions.current.perfMap {
            perfMap = fopen("/tmp/perf-\(getpid()).map", "a")
        }
    }

    deinit {
        munmap(code, Self.codeSize)
        table.deallocate()
        munmap(victimLoad, Self.victimEntries * MemoryLayout<VictimTLBEntry>.stride)
        munmap(victimStore, Self.victimEntries * MemoryLayout<VictimTLBEntry>.stride)
        munmap(instructionPool, Self.instructionPoolSize * MemoryLayout<DecodedInstruction>.stride)
        munmap(jumpCache, Self.jumpCacheEntries * 32)
        if let perfMap { fclose(perfMap) }
    }

    // MARK: Runtime routines

    /// Emits the entry trampoline, the epilogue, the exit path and the lookup routine.
    private func emitRuntime() {
        let a = X86Assembler(base: code, capacity: 8192)
        // enter(state, code): System V saves rbx, rbp, r12–r15; rsp is 16-byte aligned after
        // the six pushes and the sub, so helper calls from blocks see an aligned stack.
        // MXCSR flags → fflags bits: IE→NV, ZE→DZ, OE→OF, UE→UF, PE→NX; DE (bit 1) has no
        // IEEE meaning and is dropped (Intel SDM vol. 1 §10.2.3; RISC-V unprivileged §11.2).
        let table = a.address
        for flags in 0..<64 {
            var bits: UInt8 = 0
            if flags & 0x01 != 0 { bits |= 0x10 }
            if flags & 0x04 != 0 { bits |= 0x08 }
            if flags & 0x08 != 0 { bits |= 0x04 }
            if flags & 0x10 != 0 { bits |= 0x02 }
            if flags & 0x20 != 0 { bits |= 0x01 }
            a.byte(bits)
        }
        a.align(16)
        foldFlags = a.address
        let clean = a.newLabel()
        a.alu(.sub, .rsp, immediate: 8)
        a.storeMXCSR(X86Memory(.rsp))
        a.load(.rcx, X86Memory(.rsp), width: .bits32)
        a.testByte(.rcx, immediate: 0x3D)
        a.jump(if: .equal, clean)
        a.alu(.and, .rcx, immediate: 0x3F, width: .bits32)
        a.mov(.rdx, immediate: UInt64(table))
        a.movzx(.rcx, .memory(X86Memory(.rdx, 0, index: .rcx)), from: .bits8)
        a.alu(.or, X86Memory(.rbx, StateOffset.fflags), .rcx, width: .bits32)
        a.alu(.and, .memory(X86Memory(.rsp)), immediate: ~0x3F, width: .bits32)
        a.loadMXCSR(X86Memory(.rsp))
        a.bind(clean)
        a.alu(.add, .rsp, immediate: 8)
        a.ret()

        a.align(16)
        let enterAddress = a.address
        for r in [X86Register.rbx, .rbp, .r12, .r13, .r14, .r15] { a.push(r) }
        a.alu(.sub, .rsp, immediate: 8)
        // Host code between runs may have left MXCSR flags that are not the guest's.
        a.storeMXCSR(X86Memory(.rsp))
        a.alu(.and, .memory(X86Memory(.rsp)), immediate: ~0x3F, width: .bits32)
        a.loadMXCSR(X86Memory(.rsp))
        a.mov(.rbx, .rdi)
        JITTranslator.reloadPinned(a)
        JITTranslator.loadBudget(a)
        a.jump(.register(.rsi))

        a.align(16)
        epilogue = a.address
        JITTranslator.storePinned(a)
        JITTranslator.storeBudget(a)
        a.call(toAddress: foldFlags)
        a.alu(.add, .rsp, immediate: 8)
        for r in [X86Register.r15, .r14, .r13, .r12, .rbp, .rbx] { a.pop(r) }
        a.ret()

        a.align(16)
        exitToLoop = a.address
        a.alu(.xor, .rax, .rax, width: .bits32)
        a.jump(toAddress: epilogue)

        // The exits that return a code to the run loop (pc already stored).
        func exitReturning(_ code: UInt) -> UInt {
            a.align(16)
            let address = a.address
            a.mov(.rax, immediate: UInt64(code))
            a.jump(toAddress: epilogue)
            return address
        }
        exitToInterpreter = exitReturning(Self.interpretBlock)
        exitToInterpretOnce = exitReturning(Self.interpretOnce)
        exitToRetranslate = exitReturning(Self.retranslatePlain)
        exitToPageRunMiss = exitReturning(Self.pageRunMiss)

        // probeRest: rax = pc, rsi = host, rdx = slot offset of a slot that did not match, rcx = table.
        a.align(16)
        probeRest = a.address
        let probeNext = a.newLabel(), probeCompare = a.newLabel()
        a.bind(probeNext)
        a.alu(.add, .rdx, immediate: Int32(MemoryLayout<DispatchEntry>.stride), width: .bits32)
        a.alu(.and, .rdx, immediate: Int32((self.table.capacity - 1) * MemoryLayout<DispatchEntry>.stride), width: .bits32)
        a.bind(probeCompare)
        a.alu(.cmp, .rsi, X86Memory(.rcx, 8, index: .rdx))
        let hostMatches = a.newLabel()
        a.jump(if: .equal, hostMatches)
        a.alu(.cmp, .memory(X86Memory(.rcx, 8, index: .rdx)), immediate: 0)
        a.jump(if: .notEqual, probeNext)
        a.jump(toAddress: exitToLoop)
        a.bind(hostMatches)
        a.alu(.cmp, .rax, X86Memory(.rcx, 0, index: .rdx))
        a.jump(if: .notEqual, probeNext)
        // Falls through into fillJumpCache.
        fillJumpCache = a.address
        a.load(.rsi, X86Memory(.rcx, 16, index: .rdx))
        Self.emitJumpCacheSlot(a, pc: .rax, into: .rdx)
        a.mov(.rcx, immediate: UInt64(UInt(bitPattern: jumpCache)))
        a.store(X86Memory(.rcx, 16, index: .rdx), .rsi)
        a.lea(.rax, X86Memory(.rax, 1))
        a.store(X86Memory(.rcx, 0, index: .rdx), .rax)
        a.load(.rax, X86Memory(.rbx, StateOffset.fetchGeneration))
        a.store(X86Memory(.rcx, 8, index: .rdx), .rax)
        a.jump(.register(.rsi))
        a.align(16)
        let cpuidAddress = a.address
        a.push(.rbx)
        a.mov(.rax, immediate: 1)
        a.alu(.xor, .rcx, .rcx, width: .bits32)
        a.bytes([0x0F, 0xA2]) // cpuid
        a.mov(.rax, .rcx, width: .bits32)
        a.pop(.rbx)
        a.ret()
        let xgetbvAddress = a.address
        a.alu(.xor, .rcx, .rcx, width: .bits32)
        a.bytes([0x0F, 0x01, 0xD0]) // xgetbv
        a.ret()
        a.align(64)
        precondition(!a.overflowed && a.allLabelsBound)
        typealias Query = @convention(c) () -> UInt32
        let features = unsafeBitCast(UnsafeRawPointer(bitPattern: cpuidAddress)!, to: Query.self)()
        let needed: UInt32 = 1 << 12 | 1 << 27 | 1 << 28
        if features & needed == needed {
            let xcr0 = unsafeBitCast(UnsafeRawPointer(bitPattern: xgetbvAddress)!, to: Query.self)()
            hostHasFMA = xcr0 & 6 == 6
        }
        runtimeEnd = a.position
        used = runtimeEnd
        enter = unsafeBitCast(UnsafeRawPointer(bitPattern: enterAddress)!, to: Enter.self)
    }

    /// Jumps to the block for the guest pc in rax when the jump cache, or the fetch TLB and the
    /// dispatch table, hold its block; otherwise returns 0 to the run loop with the pc stored to
    /// `state.pc`. Emitted at every indirect jump so each gets its own host branch-prediction
    /// slot; the first table slot is compared inline, the rest of the probe sequence is `probeRest`.
    /// `index` holds the pc or the pc with bit 0 still set (the jump-cache index ignores it): a
    /// `jalr` through a register's host register indexes from it without waiting for the `and`.
    func emitLookup(_ a: X86Assembler, index: X86Register = .rax) {
        // The jump cache first: the target's address depends on the pc through two ALU
        // operations and one load; the compares are predicted and off that path. A hit stores
        // no pc: blocks entered through a chain never read it (their exits store their own).
        let miss = a.newLabel()
        Self.emitJumpCacheSlot(a, pc: index, into: .rdx)
        a.mov(.rcx, immediate: UInt64(UInt(bitPattern: jumpCache)))
        a.lea(.rsi, X86Memory(.rax, 1))
        a.alu(.cmp, .rsi, X86Memory(.rcx, 0, index: .rdx))
        a.jump(if: .notEqual, miss)
        a.load(.rsi, X86Memory(.rbx, StateOffset.fetchGeneration))
        a.alu(.cmp, .rsi, X86Memory(.rcx, 8, index: .rdx))
        a.jump(if: .notEqual, miss)
        a.jump(.memory(X86Memory(.rcx, 16, index: .rdx)))
        a.bind(miss)
        a.store(X86Memory(.rbx, StateOffset.pc), .rax)
        a.mov(.rcx, .rax)
        a.shift(.shr, .rcx, immediate: 12)
        a.mov(.rdx, .rax, width: .bits32)
        a.shift(.shr, .rdx, immediate: 8, width: .bits32)
        a.alu(.and, .rdx, immediate: Int32((BP_TLB_ENTRIES - 1) << 4), width: .bits32)
        a.alu(.cmp, .rcx, X86Memory(.rbx, StateOffset.tlbFetch, index: .rdx))
        a.jump(if: .notEqual, toAddress: exitToLoop)
        a.load(.rsi, X86Memory(.rbx, StateOffset.tlbFetch + 8, index: .rdx))
        a.alu(.add, .rsi, .rax)
        emitTableSlot(a, host: .rsi, into: .rdx)
        a.mov(.rcx, immediate: UInt64(UInt(bitPattern: table.entries)))
        a.alu(.cmp, .rsi, X86Memory(.rcx, 8, index: .rdx))
        a.jump(if: .notEqual, toAddress: probeRest)
        a.alu(.cmp, .rax, X86Memory(.rcx, 0, index: .rdx))
        a.jump(if: .notEqual, toAddress: probeRest)
        a.jump(toAddress: fillJumpCache)
    }

    /// `into` = byte offset of `pc`'s jump-cache slot: ((pc >> 1) mod entries) × 32.
    static func emitJumpCacheSlot(_ a: X86Assembler, pc: X86Register, into: X86Register) {
        a.mov(into, pc, width: .bits32)
        a.alu(.and, into, immediate: Int32((jumpCacheEntries - 1) << 1), width: .bits32)
        a.shift(.shl, into, immediate: 4, width: .bits32)
    }

    /// The jump-cache slot of `pc` (four words: pc + 1, generation, code, unused).
    @inline(__always) func jumpCacheSlot(_ pc: UInt64) -> UnsafeMutablePointer<UInt64> {
        jumpCache + Int((pc >> 1) & UInt64(Self.jumpCacheEntries - 1)) * 4
    }

    /// Emits `into = table.slot(host) * 32`, matching `DispatchTable.slot(host:)`.
    func emitTableSlot(_ a: X86Assembler, host: X86Register, into: X86Register) {
        a.mov(into, immediate: DispatchTable.multiplier)
        a.imul(into, .register(host))
        a.shift(.shr, into, immediate: UInt8(64 - table.bits))
        a.shift(.shl, into, immediate: 5, width: .bits32)
    }

    // MARK: Cache

    /// The dispatch entry of (pc, host), if translated.
    @inline(__always)
    func find(pc: UInt64, host: UInt) -> UnsafeMutablePointer<DispatchEntry>? {
        table.lookup(pc: pc, host: host)
    }

    /// Records a block; nil when the dispatch table is too full (flush and translate again).
    func add(_ block: TranslatedBlock, count: Int, flags: UInt32) -> UnsafeMutablePointer<DispatchEntry>? {
        guard let entry = table.insert(DispatchEntry(pc: block.pc, host: block.host, code: block.entry,
                                                     count: UInt32(count), flags: flags)) else { return nil }
        let index = blocks.count
        blocks.append(block)
        blocksByPage[block.host & ~0xFFF, default: []].append(index)
        if block.secondPage != 0 { blocksByPage[block.secondPage, default: []].append(index) }
        return entry
    }

    /// Invalidates every block with an instruction in the 4 KiB host page `hostPage`: its entry
    /// now jumps to its exit stub, so chained jumps into it leave to the run loop, and it leaves
    /// the dispatch table.
    func invalidate(hostPage: UInt) {
        guard let indices = blocksByPage.removeValue(forKey: hostPage) else { return }
        for index in indices { invalidate(block: index) }
        emptySwitchTables()
    }

    /// Invalidates the block (pc, host) if translated (its second page is mapped elsewhere now).
    func invalidate(pc: UInt64, host: UInt) {
        guard let indices = blocksByPage[host & ~0xFFF] else { return }
        for index in indices where blocks[index].pc == pc && blocks[index].host == host { invalidate(block: index) }
        emptySwitchTables()
    }

    private func invalidate(block index: Int) {
        guard blocks[index].valid else { return }
        let block = blocks[index]
        blocks[index].valid = false
        table.remove(pc: block.pc, host: block.host)
        let slot = jumpCacheSlot(block.pc)
        if slot[2] == UInt64(block.entry) { slot[0] = 0 }
        // SAFETY: entry and exitStub lie in the code buffer; the 5 bytes at entry were the
        // start of the block's first (8-byte) instruction.
        let entry = UnsafeMutablePointer<UInt8>(bitPattern: block.entry)!
        entry[0] = 0xE9
        X86Assembler.patchRel32(field: entry + 1, target: block.exitStub)
    }

    /// Drops every translation and starts the buffer over.
    func flush() {
        blocks.removeAll(keepingCapacity: true)
        blocksByPage.removeAll(keepingCapacity: true)
        switchTables.removeAll(keepingCapacity: true)
        // What failed assumptions taught holds for translations, which are all gone: the
        // next ones try again (and these sets stay bounded by what one buffer translates).
        plainBlocks.removeAll()
        pageRunMisses.removeAll()
        table.removeAll()
        // The jump cache points into the code just dropped.
        if madvise(jumpCache, Self.jumpCacheEntries * 32, MADV_DONTNEED) != 0 {
            UnsafeMutableRawPointer(jumpCache).initializeMemory(as: UInt8.self, repeating: 0, count: Self.jumpCacheEntries * 32)
        }
        used = runtimeEnd
        instructionPoolUsed = 0
        flushGeneration &+= 1
        // The return-address stack holds landings in the code just dropped: the run loop
        // clears it before it next enters generated code.
        returnStackStale = true
        invalidateVictims()
    }

    /// Forgets the second-level TLB (see `victimLoad`).
    @inline(__always) func invalidateVictims() {
        victimGeneration &+= 1
        victimStoreGeneration &+= 1
    }

    /// Set in a chain site (bit 63, never set in a user-space address) whose jump leaves the
    /// block's pages: it is guarded by a fetch generation, `generationFieldDistance` bytes before.
    static let crossPageChain: UInt64 = 1 << 63
    /// From the imm64 of the guard's movabs to the chain jump: the rest of the movabs (8), cmp
    /// rax, [rbx + disp32] (7), jne rel32 (6).
    static let generationFieldDistance: UInt = 8 + 7 + 6

    /// Points the jmp rel32 or jcc rel32 at `site` (a chain stub's jump) to `target`; for a
    /// cross-page site, also records the fetch generation the target was found under.
    func chain(site: UInt, to target: UInt, fetchGeneration: UInt64) {
        let address = site & ~UInt(Self.crossPageChain)
        // SAFETY: `address` is a jmp rel32 (E9) or jcc rel32 (0F 8x) emitted by the translator
        // in this buffer since the last flush, and a cross-page one (always a jmp) follows its
        // guard's imm64 at the fixed distance.
        let opcode = UnsafePointer<UInt8>(bitPattern: address)!.pointee
        let field = address + (opcode == 0x0F ? 2 : 1)
        X86Assembler.patchRel32(field: UnsafeMutablePointer<UInt8>(bitPattern: field)!, target: target)
        if site & UInt(Self.crossPageChain) != 0 {
            UnsafeMutableRawPointer(bitPattern: address - Self.generationFieldDistance)!
                .storeBytes(of: fetchGeneration, as: UInt64.self)
        }
    }

    func notePerfMap(start: UInt, size: Int, pc: UInt64) {
        guard let perfMap else { return }
        let line = "\(String(start, radix: 16)) \(String(size, radix: 16)) guest_0x\(String(pc, radix: 16))\n"
        fputs(line, perfMap)
        fflush(perfMap)
    }
}

/// Offsets of `HartState` fields used by generated code.
enum StateOffset {
    private static func offset(_ path: PartialKeyPath<HartState>) -> Int32 {
        Int32(MemoryLayout<HartState>.offset(of: path)!)
    }
    static let x = offset(\HartState.x)
    static let f = offset(\HartState.f)
    static let fflags = offset(\HartState.fflags)
    static let frm = offset(\HartState.frm)
    static let mstatus = offset(\HartState.mstatus)
    static let pc = offset(\HartState.pc)
    static let instret = offset(\HartState.instret)
    static let cycle = offset(\HartState.cycle)
    static let exitRequest = offset(\HartState.exitRequest)
    static let jitBudget = offset(\HartState.jitBudget)
    static let jitBudgetBase = offset(\HartState.jitBudgetBase)
    static let tlbLoad = offset(\HartState.tlbLoad)
    static let tlbStore = offset(\HartState.tlbStore)
    static let tlbFetch = offset(\HartState.tlbFetch)
    static let fetchGeneration = offset(\HartState.jitFetchGeneration)
    static let returnStack = offset(\HartState.jitReturnStack)
    static let returnTop = offset(\HartState.jitReturnTop)
    static let loopProbe = offset(\HartState.jitLoopProbe)
    static let probeGroup = offset(\HartState.jitProbeGroup)
    static let budgetHeld = offset(\HartState.jitBudgetHeld)
    static let siteSlotGeneration = offset(\HartState.jitSiteSlotGeneration)
    static let siteSlots = offset(\HartState.jitSiteSlots)

    static func register(_ r: Int) -> Int32 { x + Int32(8 * r) }
    static func floatRegister(_ r: Int) -> Int32 { f + Int32(8 * r) }
}
#endif

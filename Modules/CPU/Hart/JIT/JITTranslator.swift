#if arch(x86_64)
import CHartState

// Guest block → host code. Register conventions inside generated code:
//   rbx  the HartState pointer (pinned for the whole run),
//   rbp, r13, r14, r15, r9, r10, r11, r12, rdi  guest a5, a0, a4, sp, a3, a1, a2, s0, s1
//        (`JITEngine.pinned`), in every block: loaded by `enter`, stored by the shared epilogue
//        on every way back to the run loop (so each exit and trap leaves exact architectural
//        registers in `state.x`), and around helpers that read or write guest registers;
//        r9–r11 and rdi are caller-saved and pushed around the load/store helpers,
//   rax, rcx, rdx, rsi, r8  scratch (clobbered by helper calls); r8 holds the budget in
//        self-loops (`budgetRegister`) and the dispatch table's base in lookups.
// Other guest registers are read and written in `state.x` per instruction.
//
// Instruction counting mirrors the interpreter (Hart+Execute): `counted` is how many of the
// block's instructions are already in minstret/mcycle and charged to `state.jitBudget`; a helper
// that can trap receives the number retired before its instruction, and each exit adds what the
// path retired. A trap costs one unit of budget, as in the interpreter.

/// How a helper call's packed argument describes the instruction (bits 0–7: operation code for
/// loads / size for stores, 8–15: instruction length, 16–31: instructions retired before it).
@inline(__always) func packHelperArgument(_ low: UInt64, length: UInt8, retired: Int) -> UInt64 {
    low | UInt64(length) << 8 | UInt64(retired) << 16
}

struct JITTranslator {
    let engine: JITEngine
    let a: X86Assembler
    let pc0: UInt64
    let instructions: [DecodedInstruction]
    /// Host page the block runs on into (the virtual page after `pc0`'s), or 0.
    let secondPage: UInt
    /// The guest pc of each instruction: consecutive, except after a `jal` before the last
    /// instruction, which `translate` followed (the block goes on at its target).
    let pcs: [UInt64]

    /// Instructions already added to the counters on the current path.
    private var counted = 0
    /// mstatus.FS is known to be Dirty from here to the block end (checked by an earlier inline
    /// FP instruction whose fallback leaves it Dirty or leaves the block).
    private var floatingPointDirty = false
    /// Host register holding each guest register: the pinned ones (`JITEngine.pinned`), the
    /// same in every block, so chained blocks pass them in host registers.
    /// In a self-loop (`allocateLoopRegisters`) some entries differ: unpinned guest registers
    /// the loop uses, held in the host registers of pinned ones it does not use.
    private var cache: [X86Register?] = JITEngine.pinnedMap
    /// The self-loop's register swaps: `guest` (unpinned) lives in `host`, whose pinned guest
    /// `evicted` waits in `state.x` until the block is left (`restoreLoopRegisters`).
    private var loopSwaps: [(guest: UInt8, host: X86Register, evicted: UInt8)] = []
    /// Restores the swapped registers, then returns to the run loop (helpers that leave).
    private var loopExit: X86Label?
    /// Where the back edge of a self-loop jumps (after the entry checks).
    private var loopHead: X86Label?
    /// A self-loop of integer instructions, loads and stores (`allocateLoopRegisters`): its
    /// helpers are the load/store slow paths only, and it leaves only through `goTo`, the back
    /// edge's budget exit and `loopExit`.
    private var integerLoop = false
    /// In such a loop the budget register holds the budget minus one iteration (the block's
    /// length, n) from the loop head on, so the back edge's retire is also its budget check:
    /// `sub r8, n; jge head` (one fused host operation) instead of `sub r8, n` and
    /// `cmp r8, n; jge head`. Every way out of the loop adds n back (`restoreLoopRegisters`),
    /// and the slow paths add it back around their helper calls; the budget itself, and so
    /// where slices end, is unchanged. 0 elsewhere.
    private var budgetBias: Int32 = 0
    /// Deferred sign extension (`deferSignExtensions`): in a straight integer self-loop, per
    /// instruction index, whether its W-form result stays a bare low word in its host register.
    private var deferred: [Bool] = []
    /// Guest registers (bit r for x[r]) whose host register holds, at the point being emitted,
    /// a deferred W-form result: only the low word is defined, the architectural value is that
    /// word sign-extended. Every way out of the loop sign-extends them first (`materialize`).
    private var lazyWords: UInt32 = 0
    /// `state.jitBudget` lives in `budgetRegister` in all generated code (`enter` loads it, the
    /// epilogue stores it): a memory read-modify-write of the budget in every block, then
    /// compared at the next block's entry, made the budget the longest dependency chain of
    /// branchy code (store-forwarding latency at each block). It is stored before every helper
    /// call and reloaded after it (a trapping helper charges it, a device load may bias it).
    private let budgetInRegister = true
    static let budgetRegister = JITEngine.budgetRegister
    /// The pinned host registers a helper call clobbers (System V caller-saved): the load and
    /// store slow paths save them around their helper calls; helpers that read or write guest
    /// registers get them all stored before the call and reloaded after it.
    static let callerSavedCacheRegisters: [X86Register] = JITEngine.pinned.map(\.host).filter { [.rdi, .r8, .r9, .r10, .r11].contains($0) }
    /// Instructions that a forward branch earlier in the block jumps to (index → label): the
    /// taken path goes there inside the block instead of leaving it.
    private var mergeLabels: [Int: X86Label] = [:]
    /// Instructions before this index were emitted already (an if-converted region, see
    /// `ifConvertedRegion`): the emit loop skips them.
    private var emittedUpTo = 0
    /// The `state.jitLoopProbe` slot (byte offset from rbx) of each load/store instruction (by
    /// index) that probes a copy of a TLB entry instead of the TLB (`loopProbe`): in a self-loop
    /// of integer instructions, loads and stores one slot per base register and kind
    /// (`allocateLoopProbes`), and a switch's jump-table load (`findJumpTableLoads`).
    private var probeSlots: [Int: Int32] = [:]
    /// The distinct slots a self-loop's sites use (`allocateLoopProbes`).
    private var loopProbeTags: [Int32] = []
    /// Probe slots (by tag offset) whose addend lives in a lent host register instead of
    /// `state.jitLoopProbe` (a pinned register the loop does not name).
    private var slotAddend: [Int32: X86Register] = [:]
    /// `loopSwaps`' guest for a host register lent to a probe slot's addend.
    static let addendSwap: UInt8 = 0xFF
    static let loopProbeSlots = 8
    /// Slots 0..<loadProbeSlots copy load-TLB entries, the rest store-TLB entries.
    static let loadProbeSlots = 5
    /// Out-of-line code emitted after the block body.
    private var slowPaths: [() -> Void] = []
    /// Loads (or stores) through one unchanged base register on a straight stretch of the
    /// block share one TLB probe (`findProbeGroups`): per member index, its group's addend
    /// word in `state.jitLoopProbe` and, for the first member (the leader), the byte range
    /// [low, end) relative to the base that the whole group touches.
    private var probeGroup: [Int: (scratch: Int32, leader: (low: Int32, end: Int32)?)] = [:]
    static let probeGroupScratchWords = 16
    /// Bitwise instructions (by index) whose result may stay a bare low word
    /// (`findSignAssumptions`).
    private var bitwiseBare: Set<Int> = []
    /// A switch's dispatch through a per-site target table (`findSwitchKey`): the jump-table
    /// load's index register `register`, copied into rdx right before the `slli` at `shift`
    /// that scales it, keys the table at the final `jalr`; the jump-table load at `load`
    /// copies it again on its slow path (its helper call clobbers rdx).
    private var switchKey: (shift: Int, register: UInt8, load: Int)?
    /// Where the site's target table's address goes once the table is placed (after the
    /// block's code), and the tables this block placed, for `JITEngine.addSwitchTables`.
    private var switchTableFields: [UInt] = []
    private(set) var switchTables: [UInt] = []

    /// A self-loop's loads and stores in page runs (`findPageRuns`), in block order: each
    /// site's base register, its address at the loop head relative to the base (`offset`: the
    /// base's steps before it plus its immediate), the base's step per iteration, its size and
    /// its probe slot. Empty when the loop checks its slots at every access.
    private var pageRunSites: [PageRunSite] = []
    private struct PageRunSite {
        let index: Int
        let base: UInt8
        /// Its address at the loop head is base + offset + the registers in `before` (the
        /// base's steps before it, and its immediate).
        let offset: Int64
        let before: [UInt8]
        /// The base's step per iteration: `stride` plus the registers in `strideRegisters`
        /// (loop-invariant; their sum is checked at run time).
        let stride: Int64
        let strideRegisters: [UInt8]
        let size: Int
        let slot: Int32
        let store: Bool
        var steps: Bool { stride != 0 || !strideRegisters.isEmpty }
    }
    /// Where the back edge goes when the budget register runs out in a page run: the held
    /// budget added back, either the loop stops or the slots are checked again.
    private var pageRunCheck: X86Label?

    /// The integer registers when the block is translated (the values it is first entered with),
    /// for value guesses that are checked where used (`emitDivide`); empty if unknown.
    let entryRegisters: [UInt64]

    init(engine: JITEngine, assembler: X86Assembler, pc: UInt64, instructions: [DecodedInstruction],
         secondPage: UInt = 0, entryRegisters: [UInt64] = []) {
        self.entryRegisters = entryRegisters
        self.engine = engine
        self.a = assembler
        self.pc0 = pc
        self.instructions = instructions
        self.secondPage = secondPage
        var pcs: [UInt64] = []
        pcs.reserveCapacity(instructions.count + 1)
        var address = pc
        for (index, inst) in instructions.enumerated() {
            pcs.append(address)
            address = Self.follows(inst, index: index, count: instructions.count) ? address &+ inst.imm : address &+ UInt64(inst.length)
        }
        pcs.append(address)
        self.pcs = pcs
    }

    /// Whether the instruction is a `jal` that `translate` followed (one before the last).
    private static func follows(_ inst: DecodedInstruction, index: Int, count: Int) -> Bool {
        inst.op == .jal && index < count - 1
    }

    // MARK: Guest registers

    private func reg(_ r: UInt8) -> X86Memory { X86Memory(.rbx, StateOffset.register(Int(r))) }

    /// host ← x[r].
    private func read(_ host: X86Register, _ r: UInt8) {
        if r == 0 { a.alu(.xor, host, host, width: .bits32) }
        else if let cached = cache[Int(r)] { a.mov(host, cached) }
        else { a.load(host, reg(r)) }
    }

    /// dst ← dst op x[r] (r ≠ 0).
    private func alu(_ op: X86ALU, _ dst: X86Register, _ r: UInt8) {
        if let cached = cache[Int(r)] { a.alu(op, dst, cached) } else { a.alu(op, dst, reg(r)) }
    }

    /// x[rd] ← host (nothing for x0).
    private mutating func write(_ rd: UInt8, _ host: X86Register) {
        guard rd != 0 else { return }
        if let cached = cache[Int(rd)] {
            a.mov(cached, host)
        } else {
            a.store(reg(rd), host)
        }
    }

    /// x[rd] ← sign-extended 32-bit result in eax.
    private mutating func writeWord(_ rd: UInt8, _ host: X86Register) {
        guard rd != 0 else { return }
        if let cached = cache[Int(rd)] {
            if upperHalfDead {
                // Nothing reads bits 63..32 before rd is written again (`upperHalfDead(after:)`):
                // a 32-bit move, which the host renames away, instead of a movsxd.
                a.mov(cached, host, width: .bits32)
                return
            }
            // Sign-extend straight into rd's host register.
            a.movsx(cached, .register(host), from: .bits32)
            return
        }
        a.movsx(host, .register(host), from: .bits32)
        write(rd, host)
    }

    /// dst ← dst op x[r] at `width` (r ≠ 0), from r's host register or `state.x`.
    private func alu(_ op: X86ALU, _ dst: X86Register, _ r: UInt8, width: X86Width) {
        if let cached = cache[Int(r)] { a.alu(op, dst, cached, width: width) } else { a.alu(op, dst, reg(r), width: width) }
    }

    /// The operand for x[r] (r ≠ 0): its host register or its `state.x` slot.
    private func operand(_ r: UInt8) -> X86Operand {
        if let cached = cache[Int(r)] { return .register(cached) }
        return .memory(reg(r))
    }

    /// The caller-saved host registers holding guest registers.
    private var liveCallerSaved: [X86Register] { Self.callerSavedCacheRegisters }

    /// Pushes `saved` (caller-saved cache registers; rdi is one, so the arguments are set only
    /// after the pushes), sets the arguments and rax (the helper), calls it and pops them, with
    /// rsp kept 16-byte aligned.
    private static func callPreserving(_ a: X86Assembler, _ saved: [X86Register], arguments: () -> Void) {
        for r in saved { a.push(r) }
        if saved.count % 2 == 1 { a.alu(.sub, .rsp, immediate: 8) }
        arguments()
        a.call(.rax)
        if saved.count % 2 == 1 { a.alu(.add, .rsp, immediate: 8) }
        for r in saved.reversed() { a.pop(r) }
    }

    /// Marks the loop head of a self-loop (right after the entry checks: the pinned registers
    /// are live in host registers on every path, so nothing is loaded at entry).
    private mutating func allocateRegisters() {
        if isSelfLoop {
            allocateLoopRegisters()
            if integerLoop {
                budgetBias = Int32(instructions.count)
                a.alu(.sub, Self.budgetRegister, immediate: budgetBias)
                // Nothing held yet: every way out adds it back (`restoreLoopRegisters`).
                if !pageRunSites.isEmpty { a.store(X86Memory(.rbx, StateOffset.budgetHeld), immediate: 0) }
                deferSignExtensions()
            }
            let head = a.newLabel()
            if !pageRunSites.isEmpty { emitPageRunCheck() }
            a.bind(head)
            loopHead = head
        }
    }

    /// A self-loop that uses unpinned guest registers (t0–t6, s2–s11, ra, a6, a7) and leaves
    /// some pinned ones alone keeps the former in the host registers of the latter while it
    /// loops: at entry each evicted pinned register is stored to `state.x` and the unpinned one
    /// loaded into its host register; every way out of the block (chains, the back edge's budget
    /// exit, helpers that leave) stores it back and reloads the evicted one first, so chained
    /// blocks and the epilogue find the pinned map again. An iteration then reads and writes
    /// them in registers, not in memory (a loop counter or an accumulator in `state.x` is a
    /// store-forwarding chain through every iteration). Only loops of integer instructions,
    /// loads and stores: their helpers read no guest register, and they leave through the exits
    /// above only.
    private mutating func allocateLoopRegisters() {
        guard !engine.instrumentBlocks else { return }
        // `named`: every field counts (an I-type's rs2 field is immediate bits), so a pinned
        // register is lent out only if no field names it. `uses`: the registers the instruction
        // really reads or writes, which decide what is worth a host register.
        var named = [Int](repeating: 0, count: 32)
        var uses = [Int](repeating: 0, count: 32)
        for inst in instructions {
            let fields: (rd: Bool, rs1: Bool, rs2: Bool)
            switch inst.op {
            case .lui, .auipc, .jal:
                fields = (true, false, false)
            case .beq, .bne, .blt, .bge, .bltu, .bgeu, .sb, .sh, .sw, .sd:
                fields = (false, true, true)
            case .lb, .lh, .lw, .ld, .lbu, .lhu, .lwu,
                 .addi, .slti, .sltiu, .xori, .ori, .andi, .slli, .srli, .srai,
                 .addiw, .slliw, .srliw, .sraiw:
                fields = (true, true, false)
            case .add, .sub, .sll, .slt, .sltu, .xor, .srl, .sra, .or, .and,
                 .addw, .subw, .sllw, .srlw, .sraw,
                 .mul, .mulh, .mulhsu, .mulhu, .div, .divu, .rem, .remu,
                 .mulw, .divw, .divuw, .remw, .remuw:
                fields = (true, true, true)
            case .fence, .nop:
                fields = (false, false, false)
            default:
                return
            }
            named[Int(inst.rd)] += 1
            named[Int(inst.rs1)] += 1
            named[Int(inst.rs2)] += 1
            if fields.rd { uses[Int(inst.rd)] += 1 }
            if fields.rs1 { uses[Int(inst.rs1)] += 1 }
            if fields.rs2 { uses[Int(inst.rs2)] += 1 }
        }
        uses[0] = 0
        integerLoop = true
        allocateLoopProbes()
        findPageRuns()
        let free = JITEngine.pinned.filter { named[Int($0.guest)] == 0 }
        let wanted = (1..<32).filter { JITEngine.pinnedMap[$0] == nil && uses[$0] > 0 }.sorted { uses[$0] > uses[$1] }
        for (guest, lent) in zip(wanted, free) {
            loopSwaps.append((UInt8(guest), lent.host, lent.guest))
            cache[guest] = lent.host
            cache[Int(lent.guest)] = nil
        }
        // Pinned registers left over hold probe slots' addends (`loopProbe`): a swap with no
        // guest register (`Self.addendSwap`), so every way out reloads the evicted one.
        for (slot, lent) in zip(loopProbeTags, free.dropFirst(min(wanted.count, free.count))) {
            loopSwaps.append((Self.addendSwap, lent.host, lent.guest))
            cache[Int(lent.guest)] = nil
            slotAddend[slot] = lent.host
        }
        for swap in loopSwaps {
            a.store(reg(swap.evicted), swap.host)
            if swap.guest != Self.addendSwap { a.load(swap.host, reg(swap.guest)) }
        }
        // A slot may still hold a mapping from an earlier loop: its addend register starts
        // as the slot's addend (used only after the slot's tag compares equal). In slot order:
        // a dictionary's order changes from run to run, and so would the translation.
        for slot in slotAddend.keys.sorted() { a.load(slotAddend[slot]!, X86Memory(.rbx, slot + 8)) }
        let exit = a.newLabel()
        loopExit = exit
        let swaps = loopSwaps, bias = Int32(instructions.count), held = !pageRunSites.isEmpty
        slowPaths.append { [a, engine] in
            a.bind(exit)
            JITTranslator.restoreLoopRegisters(a, swaps, budgetBias: bias, held: held)
            a.jump(toAddress: engine.exitToLoop)
        }
    }

    /// Gives the loads and stores of a self-loop (whose instructions `allocateLoopRegisters`
    /// has checked: integer ALU, branches, loads and stores, so its only helpers are the
    /// load/store slow paths, and nothing inside it can change a translation) a slot of
    /// `state.jitLoopProbe` per base register and kind (load or store; at most
    /// `loopProbeSlots`; slots 0..<loadProbeSlots for loads, the rest for stores). A slot copies
    /// one TLB entry (`loopProbe`), so the sites of one base (a stack frame's saves, a node's
    /// fields) share one refill. Slots outlive the loop: whatever removes a TLB entry
    /// invalidates all of them (`Hart.invalidateLoopProbes`), so a slot never holds a mapping
    /// the TLB would not give, and a loop entered again may find its slots still valid.
    ///
    /// Only bases the loop leaves alone, steps (`addi r, r, imm`), moves (`mv`) or loads (a
    /// list walk's `p = p->next`, whose nodes mostly share a page): a base computed from data (a hashed
    /// index) changes page nearly every time, and its slot would only add the refill to the
    /// TLB probe (`tlb`, whose loop touches a random page per access: 1499 → 1551 ms with
    /// every base given a slot).
    private mutating func allocateLoopProbes() {
        var walks = [Bool](repeating: true, count: 32)
        for inst in instructions {
            switch inst.op {
            case .beq, .bne, .blt, .bge, .bltu, .bgeu, .sb, .sh, .sw, .sd, .fence, .nop,
                 .lb, .lh, .lw, .ld, .lbu, .lhu, .lwu:
                continue
            case .addi where inst.rs1 == inst.rd || inst.imm == 0:
                continue
            case .add where inst.rs1 == 0 || inst.rs2 == 0:
                continue
            case .add where inst.rd == inst.rs1 || inst.rd == inst.rs2:
                continue  // a step by a register (a row of a runtime width, a sieve's stride)
            default:
                walks[Int(inst.rd)] = false
            }
        }
        var slotOf: [Int: Int32] = [:]
        for (index, inst) in instructions.enumerated() {
            let store: Bool
            switch inst.op {
            case .lb, .lh, .lw, .ld, .lbu, .lhu, .lwu: store = false
            case .sb, .sh, .sw, .sd: store = true
            default: continue
            }
            guard walks[Int(inst.rs1)] else { continue }
            let key = Int(inst.rs1) * 2 + (store ? 1 : 0)
            if slotOf[key] == nil {
                // A slot's kind is fixed for good (slots outlive loops): a store must never
                // find a copy of a load-TLB entry.
                let first = store ? Self.loadProbeSlots : 0
                let count = slotOf.keys.filter { $0 % 2 == (store ? 1 : 0) }.count
                guard count < (store ? Self.loopProbeSlots - Self.loadProbeSlots : Self.loadProbeSlots) else { continue }
                slotOf[key] = StateOffset.loopProbe + Int32(16 * (first + count))
            }
            probeSlots[index] = slotOf[key]
        }
        loopProbeTags = slotOf.values.sorted()
    }

    /// Page runs: a self-loop whose loads and stores all step through memory by a constant
    /// (`addi b, b, imm`, or `add b, b, r` with r unwritten in the loop, being the only writes
    /// to their base registers: array walks, a sieve's stride) needs no probe per access.
    /// Before an iteration (at entry, and where the budget register runs out)
    /// `emitPageRunCheck` checks each site's next address against its probe slot (refilling
    /// it from the TLB), works out how many iterations every site stays in its slot's page,
    /// and holds back the budget beyond them (`state.jitBudgetHeld`), so the back edge's own
    /// budget test ends the run where a site could leave its page. The accesses then go
    /// straight through the slot's addend: `[base + addend + imm]`.
    ///
    /// Only straight loops (no branch inside the block; side exits leave it) whose every
    /// memory site has a slot and a step of under 2 KiB that keeps its alignment (a register
    /// step is checked by the page-run check, `emitRuntimeStride`), and never a
    /// helper call inside the run: nothing can change the TLB while it lasts. A next access
    /// that is misaligned or not in the TLB leaves for one interpreted iteration
    /// (`JITEngine.pageRunMiss`); a loop that keeps missing is translated again without page
    /// runs (`JITEngine.plainBlocks`).
    private mutating func findPageRuns() {
        guard !engine.plainBlocks.contains(pc0) else { return }
        let inside = Set(pcs.dropLast())
        // Steps: `addi b, b, imm` (by), `add b, b, r` or `add b, r, b` (by register r, which
        // nothing in the loop may write).
        var steps: [(index: Int, base: Int, by: Int64, register: UInt8?)] = []
        var otherwiseWritten = [Bool](repeating: false, count: 32)
        var written = [Bool](repeating: false, count: 32)
        for (index, inst) in instructions.enumerated() {
            if let rd = Self.written(inst) { written[Int(rd)] = true }
            switch inst.op {
            case .beq, .bne, .blt, .bge, .bltu, .bgeu:
                let target = pcs[index] &+ inst.imm
                if index < instructions.count - 1 && inside.contains(target) { return }
            case .jal:
                if index < instructions.count - 1 && !Self.follows(inst, index: index, count: instructions.count) { return }
            case .addi where inst.rd == inst.rs1 && inst.rd != 0:
                steps.append((index, Int(inst.rd), Int64(bitPattern: inst.imm), nil))
            case .add where inst.rd != 0 && inst.rs1 != inst.rs2 && (inst.rd == inst.rs1 || inst.rd == inst.rs2)
                && inst.rs1 != 0 && inst.rs2 != 0:
                steps.append((index, Int(inst.rd), 0, inst.rd == inst.rs1 ? inst.rs2 : inst.rs1))
            default:
                if let rd = Self.written(inst) { otherwiseWritten[Int(rd)] = true }
            }
        }
        var sites: [PageRunSite] = []
        for (index, inst) in instructions.enumerated() {
            let store: Bool
            switch inst.op {
            case .lb, .lh, .lw, .ld, .lbu, .lhu, .lwu: store = false
            case .sb, .sh, .sw, .sd: store = true
            default: continue
            }
            let base = Int(inst.rs1), size = Self.accessSize(inst)
            let own = steps.filter { $0.base == base }
            let step = own.reduce(Int64(0)) { $0 &+ $1.by }
            guard base != 0, !otherwiseWritten[base], let slot = probeSlots[index],
                  own.allSatisfy({ $0.register.map { !written[Int($0)] } ?? true }),
                  step > -2048, step < 2048, step % Int64(size) == 0 else { return }
            let before = own.filter { $0.index < index }
            sites.append(PageRunSite(index: index, base: UInt8(base),
                                     offset: before.reduce(Int64(bitPattern: inst.imm)) { $0 &+ $1.by },
                                     before: before.compactMap(\.register), stride: step,
                                     strideRegisters: own.compactMap(\.register), size: size, slot: slot, store: store))
        }
        pageRunSites = sites
    }

    /// The page-run check (`findPageRuns`), inline before the loop head, where the entry falls
    /// into it; the back edge comes back to it (`pageRunCheck`) with the budget register exact
    /// and covering the next iteration. Scratch: rax, rcx, rdx, rsi.
    private mutating func emitPageRunCheck() {
        let check = a.newLabel(), miss = a.newLabel()
        a.bind(check)
        pageRunCheck = check
        let unbounded: Int32 = 1 << 20  // every site's step 0: the budget is not held back
        a.mov(.rdx, immediate: UInt64(unbounded))
        var refilled: Set<Int32> = []
        for site in pageRunSites {
            let tlbOffset = site.store ? StateOffset.tlbStore : StateOffset.tlbLoad
            read(.rsi, site.base)
            if site.offset != 0 { a.lea(.rsi, X86Memory(.rsi, Int32(truncatingIfNeeded: site.offset))) }
            for r in site.before { alu(.add, .rsi, r) }
            if site.size > 1 {
                a.testByte(.rsi, immediate: UInt8(site.size - 1))
                a.jump(if: .notEqual, miss)
            }
            a.mov(.rax, .rsi)
            a.alu(.and, .rax, immediate: -4096)
            a.alu(.cmp, .rax, X86Memory(.rbx, site.slot))
            if refilled.insert(site.slot).inserted {
                // The first site of a slot may refill it; the others must find its page.
                let refill = a.newLabel(), back = a.newLabel()
                a.jump(if: .notEqual, refill)
                a.bind(back)
                let slot = site.slot, size = site.size, addend = slotAddend[site.slot]
                slowPaths.append { [a] in
                    a.bind(refill)
                    JITTranslator.probe(a, tlbOffset, size: size, miss: miss)
                    JITTranslator.refillSlot(a, slot, tlbOffset: tlbOffset, addend: addend)
                    a.jump(back)
                }
            } else {
                a.jump(if: .notEqual, miss)
            }
            if !site.strideRegisters.isEmpty {
                emitRuntimeStride(site, miss: miss)
                continue
            }
            guard site.stride != 0 else { continue }
            // Iterations left in the page after this one: distance / |step|, the distance being
            // from the access's last byte to the page's end (up) or from its first byte to the
            // page's start (down), under 4096. Up, (4095 - offset) / step gives the same
            // quotient as (4096 - size - offset) / step (offset and step are multiples of
            // size). The quotient is (distance * ceil(2^24 / |step|)) >> 24, exact for
            // distances under 2^12 and steps under 2^11. rdx keeps the least.
            a.mov(.rcx, .rsi, width: .bits32)
            if site.stride > 0 { a.group3(.not, .register(.rcx), width: .bits32) }
            a.alu(.and, .rcx, immediate: 4095, width: .bits32)
            let step = site.stride.magnitude
            let reciprocal = ((UInt64(1) << 24) + step - 1) / step
            a.imul(.rcx, .register(.rcx), immediate: Int32(reciprocal))
            a.shift(.shr, .rcx, immediate: 24)
            a.alu(.cmp, .rdx, .rcx)
            a.cmov(.above, .rdx, .register(.rcx))
        }
        if pageRunSites.contains(where: \.steps) {
            // The back edge goes round again while the budget register stays non-negative
            // after taking one iteration's length: at most q more times if it is below
            // (q + 1) * length. What lies beyond is held back.
            let head = a.newLabel()
            a.imul(.rax, .register(.rdx), immediate: budgetBias)
            a.alu(.add, .rax, immediate: budgetBias - 1)
            a.alu(.cmp, Self.budgetRegister, .rax)
            a.jump(if: .lessOrEqual, head)
            a.mov(.rcx, Self.budgetRegister)
            a.alu(.sub, .rcx, .rax)
            a.store(X86Memory(.rbx, StateOffset.budgetHeld), .rcx)
            a.mov(Self.budgetRegister, .rax)
            a.bind(head)
        }
        let swaps = loopSwaps, bias = budgetBias, pc = pc0, lazy = lazyHosts(lazyWords)
        slowPaths.append { [a, engine] in
            a.bind(miss)
            JITTranslator.materialize(a, lazy)
            JITTranslator.restoreLoopRegisters(a, swaps, budgetBias: bias, held: true)
            a.mov(.rax, immediate: pc)
            a.store(X86Memory(.rbx, StateOffset.pc), .rax)
            a.jump(toAddress: engine.exitToPageRunMiss)
        }
    }

    /// The page-run check's part for a site whose base steps by registers (rsi its next
    /// address, rdx the fewest further iterations so far): the step must keep the access
    /// aligned and be under 2 KiB, or the check misses; a step of 0 bounds nothing. The
    /// quotient is taken by the power of two at or above the step (`bsr`): at most the exact
    /// one, so a run ends no later than it must, and often a little earlier.
    private mutating func emitRuntimeStride(_ site: PageRunSite, miss: X86Label) {
        let skip = a.newLabel(), down = a.newLabel(), common = a.newLabel()
        a.mov(.rcx, immediate: UInt64(bitPattern: site.stride))
        for r in site.strideRegisters { alu(.add, .rcx, r) }
        if site.size > 1 {
            a.testByte(.rcx, immediate: UInt8(site.size - 1))
            a.jump(if: .notEqual, miss)
        }
        a.lea(.rax, X86Memory(.rcx, 2047))
        a.alu(.cmp, .rax, immediate: 4094)
        a.jump(if: .above, miss)
        a.test(.rcx, .rcx)
        a.jump(if: .equal, skip)
        a.jump(if: .sign, down)
        a.mov(.rax, .rsi, width: .bits32)
        a.group3(.not, .register(.rax), width: .bits32)
        a.jump(common)
        a.bind(down)
        a.group3(.neg, .register(.rcx))
        a.mov(.rax, .rsi, width: .bits32)
        a.bind(common)
        a.alu(.and, .rax, immediate: 4095, width: .bits32)
        // ceil(log2 |step|) = bsr(2|step| - 1), for |step| >= 1.
        a.lea(.rcx, X86Memory(.rcx, -1, index: .rcx))
        a.bsr(.rcx, .register(.rcx))
        a.shiftByCL(.shr, .rax, width: .bits32)
        a.alu(.cmp, .rdx, .rax)
        a.cmov(.above, .rdx, .register(.rax))
        a.bind(skip)
    }

    /// A page-run site's operand (`findPageRuns`): its access through the slot's addend with
    /// no probe, or nil (nothing emitted) for a site not in a page run.
    private func pageRunOperand(_ inst: DecodedInstruction, index: Int) -> X86Memory? {
        guard let site = pageRunSites.first(where: { $0.index == index }) else { return nil }
        let immediate = Int32(truncatingIfNeeded: Int64(bitPattern: inst.imm))
        let addend = slotAddend[site.slot]
        if let base = cache[Int(inst.rs1)] {
            if let addend { return X86Memory(base, immediate, index: addend) }
            a.load(.rsi, X86Memory(.rbx, site.slot + 8))
            return X86Memory(base, immediate, index: .rsi)
        }
        read(.rsi, inst.rs1)
        if let addend { a.alu(.add, .rsi, addend) } else { a.alu(.add, .rsi, X86Memory(.rbx, site.slot + 8)) }
        return X86Memory(.rsi, immediate)
    }

    /// Undoes a self-loop's swaps and budget bias (before leaving the block): the pinned map
    /// and the budget again.
    private static func restoreLoopRegisters(_ a: X86Assembler, _ swaps: [(guest: UInt8, host: X86Register, evicted: UInt8)],
                                             budgetBias: Int32, held: Bool) {
        if budgetBias != 0 { a.alu(.add, budgetRegister, immediate: budgetBias) }
        // A page run's held budget (`findPageRuns`).
        if held { a.alu(.add, budgetRegister, X86Memory(.rbx, StateOffset.budgetHeld)) }
        for swap in swaps {
            if swap.guest != addendSwap {
                a.store(X86Memory(.rbx, StateOffset.register(Int(swap.guest))), swap.host)
            }
            a.load(swap.host, X86Memory(.rbx, StateOffset.register(Int(swap.evicted))))
        }
    }


    /// Whether the block ends with a jump or branch back to its own start (a hot loop). Not
    /// while a plugin observes the hart: every iteration must pass the block entry, where the
    /// block-executed callback is called and an invalidated block is retranslated.
    private var isSelfLoop: Bool {
        guard !engine.observed, let last = instructions.last else { return false }
        let lastPC = pcs[instructions.count - 1]
        switch last.op {
        case .jal, .beq, .bne, .blt, .bge, .bltu, .bgeu: return lastPC &+ last.imm == pc0
        default: return false
        }
    }

    /// In an integer self-loop with no branch before its back edge (each iteration runs every
    /// instruction), a W-form result whose register is read only through its low word — by
    /// W-forms, small-mask `andi`, and `sw`/`sh`/`sb` data, around the back edge — until it is
    /// written again keeps no sign extension (a movsxd on the loop-carried chain of an
    /// accumulator, and an operation per iteration). Loads and stores in between may leave
    /// the block from their helpers (a fault): each such way out, and the loop's own exits,
    /// sign-extend the registers that are bare low words at that point (`materialize`), so
    /// every exit leaves exact architectural registers.
    ///
    /// At the loop head a register whose last write in the body is deferred is a bare low
    /// word after the back edge, but on entry it holds whatever came before; so the entry
    /// checks that each such register is already sign-extended (a W-form result from the
    /// instructions before the loop, or a small constant, nearly always) and otherwise leaves
    /// to the interpreter for one iteration (`JITEngine.interpretOnce`), which makes it so.
    private mutating func deferSignExtensions() {
        let count = instructions.count
        guard let last = instructions.last, last.op != .jal || last.rd == 0 else { return }
        for inst in instructions.dropLast() {
            switch inst.op {
            case .beq, .bne, .blt, .bge, .bltu, .bgeu, .jal, .jalr: return
            default: break
            }
        }
        deferred = instructions.indices.map { index in
            let inst = instructions[index]
            switch inst.op {
            case .addiw, .slliw, .srliw, .sraiw, .addw, .subw, .mulw, .sllw, .srlw, .sraw:
                return inst.rd != 0 && cache[Int(inst.rd)] != nil && lowWordOnly(inst.rd, after: index)
            default:
                return false
            }
        }
        var atHead: UInt32 = 0
        for r in 1..<32 {
            if let lastWrite = (0..<count).last(where: { Self.written(instructions[$0]) == UInt8(r) }), deferred[lastWrite] {
                atHead |= 1 << UInt32(r)
            }
        }
        guard atHead != 0 else {
            lazyWords = 0
            return
        }
        let fail = a.newLabel()
        for host in lazyHosts(atHead) {
            a.movsx(.rax, .register(host), from: .bits32)
            a.alu(.cmp, .rax, host)
            a.jump(if: .notEqual, fail)
        }
        lazyWords = atHead
        let swaps = loopSwaps, bias = budgetBias, pc = pc0, held = !pageRunSites.isEmpty
        slowPaths.append { [a, engine] in
            a.bind(fail)
            JITTranslator.restoreLoopRegisters(a, swaps, budgetBias: bias, held: held)
            a.mov(.rax, immediate: pc)
            a.store(X86Memory(.rbx, StateOffset.pc), .rax)
            a.jump(toAddress: engine.exitToInterpretOnce)
        }
    }

    /// Whether, going round the loop from instruction `index`, x[rd] is read only through its
    /// low word until an instruction writes it again (see `deferSignExtensions`).
    private func lowWordOnly(_ rd: UInt8, after index: Int) -> Bool {
        let count = instructions.count
        for step in 1...count {
            let inst = instructions[(index + step) % count]
            // Which sources the instruction reads in full; the others it reads only through
            // their low word (W-forms, `andi` with a mask of bits 10..0, the data of a word,
            // halfword or byte store) or not at all.
            let full: (rs1: Bool, rs2: Bool)
            switch inst.op {
            case .addiw, .slliw, .srliw, .sraiw, .addw, .subw, .mulw, .sllw, .srlw, .sraw, .lui, .auipc, .fence, .nop:
                full = (false, false)
            case .andi where inst.imm < 0x800:
                full = (false, false)
            case .sb, .sh, .sw,
                 .lb, .lh, .lw, .ld, .lbu, .lhu, .lwu,
                 .addi, .xori, .ori, .andi, .slti, .sltiu, .slli, .srli, .srai:
                full = (true, false)
            case .sd, .beq, .bne, .blt, .bge, .bltu, .bgeu,
                 .add, .sub, .sll, .slt, .sltu, .xor, .srl, .sra, .or, .and,
                 .mul, .mulh, .mulhsu, .mulhu, .div, .divu, .rem, .remu, .divw, .divuw, .remw, .remuw:
                full = (true, true)
            default:
                return false
            }
            if (full.rs1 && inst.rs1 == rd) || (full.rs2 && inst.rs2 == rd) { return false }
            if Self.written(inst) == rd { return true }
        }
        return false
    }

    /// The register an instruction of an integer loop writes (nil for x0, stores, branches).
    private static func written(_ inst: DecodedInstruction) -> UInt8? {
        switch inst.op {
        case .sb, .sh, .sw, .sd, .beq, .bne, .blt, .bge, .bltu, .bgeu, .fence, .nop: return nil
        default: return inst.rd == 0 ? nil : inst.rd
        }
    }

    /// The host registers of the guest registers in `mask` (bit r for x[r]).
    private func lazyHosts(_ mask: UInt32) -> [X86Register] {
        (1..<32).filter { mask & (1 << UInt32($0)) != 0 }.map { cache[$0]! }
    }

    /// Sign-extends the bare low words among `hosts` in place (before a way out of the loop).
    private static func materialize(_ a: X86Assembler, _ hosts: [X86Register]) {
        for host in hosts { a.movsx(host, .register(host), from: .bits32) }
    }

    /// The back edge of a self-loop, retiring the iteration up to `index`: the entry check
    /// again, taken straight to the loop head (one taken jump per iteration); a failed check
    /// falls through and leaves (the epilogue stores the pinned registers and the budget).
    /// With a budget bias the retire is the check (`budgetBias`); otherwise the caller retired.
    private mutating func emitBackEdge(upTo index: Int) {
        if budgetBias != 0 {
            a.alu(.sub, Self.budgetRegister, immediate: Int32(index - counted))
            counted = index
            a.jump(if: .greaterOrEqual, loopHead!)
            if let check = pageRunCheck {
                // The run's end or the budget's: with the held budget back, the slots are
                // checked again if the budget still covers the next iteration.
                a.alu(.add, Self.budgetRegister, X86Memory(.rbx, StateOffset.budgetHeld))
                a.store(X86Memory(.rbx, StateOffset.budgetHeld), immediate: 0)
                a.jump(if: .greaterOrEqual, check)
            }
        } else {
            a.alu(.cmp, Self.budgetRegister, immediate: Int32(instructions.count))
            a.jump(if: .greaterOrEqual, loopHead!)
        }
        Self.materialize(a, lazyHosts(lazyWords))
        Self.restoreLoopRegisters(a, loopSwaps, budgetBias: budgetBias, held: !pageRunSites.isEmpty)
        a.mov(.rax, immediate: pc0)
        a.store(X86Memory(.rbx, StateOffset.pc), .rax)
        a.jump(toAddress: engine.exitToLoop)
    }

    /// Before an exit or a jump to another block: nothing to do, the pinned registers stay in
    /// host registers across chained blocks and the shared epilogue stores them on the way
    /// out to the run loop (`JITEngine.emitRuntime`).
    private mutating func writeBackAll() {}

    /// `state.jitBudget` ← the budget register (before an exit or a helper call), without the
    /// loop's `bias` (`budgetBias`).
    static func storeBudget(_ a: X86Assembler, bias: Int32 = 0) {
        if bias != 0 { a.alu(.add, budgetRegister, immediate: bias) }
        a.store(X86Memory(.rbx, StateOffset.jitBudget), budgetRegister)
    }

    /// The budget register ← `state.jitBudget` (after a helper call), with the loop's `bias`.
    static func loadBudget(_ a: X86Assembler, bias: Int32 = 0) {
        a.load(budgetRegister, X86Memory(.rbx, StateOffset.jitBudget))
        if bias != 0 { a.alu(.sub, budgetRegister, immediate: bias) }
    }

    /// Stores the pinned ones of `registers` to `state.x`: before a helper that runs one
    /// instruction, which reads only its rs1/rs2 and writes only its rd among the integer
    /// registers (rd is stored too, so that reloading it after a trap, when the helper did not
    /// write it, reloads its current value).
    static func storePinned(_ a: X86Assembler, _ registers: [UInt8]) {
        for r in Set(registers).sorted() where r != 0 {  // sorted: a Set's order changes from run to run
            if let host = JITEngine.pinnedMap[Int(r)] { a.store(X86Memory(.rbx, StateOffset.register(Int(r))), host) }
        }
    }

    /// Reloads `r` if it is pinned (after a helper that may have written it).
    static func reloadPinned(_ a: X86Assembler, _ r: UInt8) {
        guard r != 0, let host = JITEngine.pinnedMap[Int(r)] else { return }
        a.load(host, X86Memory(.rbx, StateOffset.register(Int(r))))
    }

    /// Stores every pinned register to `state.x` (before a helper that reads guest registers).
    static func storePinned(_ a: X86Assembler) {
        for (guest, host) in JITEngine.pinned { a.store(X86Memory(.rbx, StateOffset.register(Int(guest))), host) }
    }

    /// Reloads every pinned register (after a helper that may have written guest registers).
    static func reloadPinned(_ a: X86Assembler) {
        for (guest, host) in JITEngine.pinned { a.load(host, X86Memory(.rbx, StateOffset.register(Int(guest)))) }
    }

    private func immediate32(_ value: UInt64) -> Int32? {
        let signed = Int64(bitPattern: value)
        return signed >= Int64(Int32.min) && signed <= Int64(Int32.max) ? Int32(signed) : nil
    }

    // MARK: Counters and exits

    /// Charges the instructions up to `index` as retired: one subtraction from the budget;
    /// minstret and mcycle are derived from it when the run loop or a helper next runs
    /// (`Hart.syncJITCounters`). While a plugin observes the hart (its direct block callback
    /// may read them without a helper) the counters are kept exact here too.
    private mutating func retire(upTo index: Int) {
        let n = index - counted
        guard n > 0 else { return }
        if engine.observed || engine.instrumentBlocks {
            a.alu(.add, .memory(X86Memory(.rbx, StateOffset.instret)), immediate: Int32(n))
            a.alu(.add, .memory(X86Memory(.rbx, StateOffset.cycle)), immediate: Int32(n))
            a.alu(.sub, .memory(X86Memory(.rbx, StateOffset.jitBudgetBase)), immediate: Int32(n))
        }
        if budgetInRegister {
            a.alu(.sub, Self.budgetRegister, immediate: Int32(n))
        } else {
            a.alu(.sub, .memory(X86Memory(.rbx, StateOffset.jitBudget)), immediate: Int32(n))
        }
        counted = index
    }

    /// Leaves the block for guest `target` (retired counters already updated) through a chain
    /// stub: a jump the run loop patches to the target block once it has found it.
    ///
    /// Within the pages this block was translated for (checked at its entry) the target's
    /// mapping is the block's own, so the jump is unconditional. Into another page it is taken
    /// only while `state.jitFetchGeneration` equals the value it was linked under (every fetch-TLB
    /// flush — SFENCE.VMA, satp, privilege, PMP — bumps it); otherwise it goes to the stub, and the
    /// run loop finds the target afresh and links it again under the new generation.
    /// A write to the target's page unlinks it by patching the target's entry (`invalidate`).
    private mutating func goTo(_ target: UInt64) {
        Self.restoreLoopRegisters(a, loopSwaps, budgetBias: budgetBias, held: !pageRunSites.isEmpty)
        let samePage = target >> 12 == pc0 >> 12 || (secondPage != 0 && target >> 12 == (pc0 >> 12) &+ 1)
        var flag: UInt64 = 0
        let stub = a.newLabel()
        if !samePage {
            // movabs rax, generation (patched by `JITEngine.chain`; ~0 never matches before);
            // cmp rax, [generation]; jne stub.
            let generationField = a.address + 2
            a.byte(0x48)
            a.byte(0xB8)
            a.int64(~0)
            a.alu(.cmp, .rax, X86Memory(.rbx, StateOffset.fetchGeneration))
            a.jump(if: .notEqual, stub)
            precondition(a.address - generationField == JITEngine.generationFieldDistance)
            flag = JITEngine.crossPageChain
        }
        let site = a.address
        a.jump(stub)
        let chainSite = UInt64(site) | flag
        slowPaths.append { [a, engine] in
            a.bind(stub)
            JITTranslator.emitChainRequest(a, engine, target: target, site: chainSite)
        }
    }

    /// Leaves the block for guest `target` if `condition` holds, through a chain whose patchable
    /// jump is the conditional jump itself (`jcc rel32`, which `JITEngine.chain` patches as it
    /// does a `jmp rel32`): once linked, the taken path takes one host jump straight to the
    /// target's entry and the other path falls through without any. Only within the block's own
    /// pages (no generation guard) and while no self-loop swap needs undoing on the way out;
    /// returns false (nothing emitted) otherwise, and the caller emits a branch around `goTo`.
    private mutating func goTo(_ target: UInt64, if condition: X86Condition) -> Bool {
        let samePage = target >> 12 == pc0 >> 12 || (secondPage != 0 && target >> 12 == (pc0 >> 12) &+ 1)
        guard samePage && loopSwaps.isEmpty && budgetBias == 0 else { return false }
        let stub = a.newLabel()
        let site = a.address
        a.jump(if: condition, stub)
        slowPaths.append { [a, engine] in
            a.bind(stub)
            JITTranslator.emitChainRequest(a, engine, target: target, site: UInt64(site))
        }
        return true
    }

    // MARK: Return-address prediction

    /// x1 and x5 are the link registers of the unprivileged spec's return-address stack hints
    /// (§2.5.1): jal/jalr writing one is a call, jalr x0 through one is a return.
    private static func isLink(_ r: UInt8) -> Bool { r == 1 || r == 5 }

    /// A call: pushes (`returnAddress` + 1, landing) on `state.jitReturnStack`, where the
    /// landing (out of line) is a chain to `returnAddress` that is always guarded by the fetch
    /// generation: the return may come after a remap, when the block's own pages no longer vouch
    /// for the target. Registers are written back and the call counted already.
    private mutating func pushReturn(_ returnAddress: UInt64) {
        let top = X86Memory(.rbx, StateOffset.returnTop)
        a.load(.rcx, top, width: .bits32)
        a.alu(.add, .rcx, immediate: 16, width: .bits32)
        a.alu(.and, .rcx, immediate: 0xF0, width: .bits32)
        a.store(top, .rcx, width: .bits32)
        a.mov(.rdx, immediate: returnAddress &+ 1)
        a.store(X86Memory(.rbx, StateOffset.returnStack, index: .rcx), .rdx)
        // movabs rdx, landing (patched below once the landing is placed).
        a.byte(0x48)
        a.byte(0xBA)
        let landingField = a.address
        a.int64(0)
        a.store(X86Memory(.rbx, StateOffset.returnStack + 8, index: .rcx), .rdx)
        slowPaths.append { [a, engine] in
            guard !a.overflowed else { return }
            // SAFETY: the 8-byte field was emitted in this buffer (no overflow so far).
            UnsafeMutableRawPointer(bitPattern: landingField)!.storeBytes(of: UInt64(a.address), as: UInt64.self)
            JITTranslator.emitGuardedChain(a, engine, to: returnAddress)
        }
    }

    /// A return with its target in rax (registers written back, the return counted): if the
    /// target is the top of the return-address stack, pop it and jump to its landing; otherwise
    /// fall through to the table lookup that follows.
    private mutating func popReturn() {
        let miss = a.newLabel()
        let top = X86Memory(.rbx, StateOffset.returnTop)
        a.load(.rcx, top, width: .bits32)
        a.lea(.rdx, X86Memory(.rax, 1))
        a.alu(.cmp, .rdx, X86Memory(.rbx, StateOffset.returnStack, index: .rcx))
        a.jump(if: .notEqual, miss)
        a.load(.rdx, X86Memory(.rbx, StateOffset.returnStack + 8, index: .rcx))
        a.alu(.sub, .rcx, immediate: 16, width: .bits32)
        a.alu(.and, .rcx, immediate: 0xF0, width: .bits32)
        a.store(top, .rcx, width: .bits32)
        a.jump(.register(.rdx))
        a.bind(miss)
    }

    /// A chain to `target` guarded by the fetch generation (as `goTo` emits for another page),
    /// with its stub right after it; emitted in place (for out-of-line code).
    private static func emitGuardedChain(_ a: X86Assembler, _ engine: JITEngine, to target: UInt64) {
        let stub = a.newLabel()
        let generationField = a.address + 2
        a.byte(0x48)
        a.byte(0xB8)
        a.int64(~0)
        a.alu(.cmp, .rax, X86Memory(.rbx, StateOffset.fetchGeneration))
        a.jump(if: .notEqual, stub)
        precondition(a.overflowed || a.address - generationField == JITEngine.generationFieldDistance)
        let site = a.address
        a.jump(stub)
        a.bind(stub)
        emitChainRequest(a, engine, target: target, site: UInt64(site) | JITEngine.crossPageChain)
    }

    /// A chain stub's body: stores `target` as the pc and returns `site` (the jump to patch, with
    /// `JITEngine.crossPageChain` for a guarded one) to the run loop, which links it once it has
    /// the target's code.
    private static func emitChainRequest(_ a: X86Assembler, _ engine: JITEngine, target: UInt64, site: UInt64) {
        a.mov(.rax, immediate: target)
        a.store(X86Memory(.rbx, StateOffset.pc), .rax)
        a.mov(.rax, immediate: site)
        a.jump(toAddress: engine.epilogue)
    }

    // MARK: Block

    /// Emits the whole block. Returns (entry, exit stub), or nil when the buffer overflowed.
    mutating func emit() -> (entry: UInt, exitStub: UInt)? {
        let entry = a.address
        let entryExit = a.newLabel()
        // The budget is charged as instructions retire (exactly as the interpreter charges it), so
        // a block runs only if the whole of it fits; otherwise the run loop interprets the rest of
        // the slice and slices end at the same instruction under both engines. This is the only
        // check: an exit request leaves right after the helper whose access or instruction raised
        // it (loads, stores, F/D, interpreted instructions), or at the end of the slice (a request
        // from another thread).
        // Patchable: invalidation overwrites the first 5 bytes of this compare and jump (see
        // JITEngine.invalidate); nothing jumps between them.
        a.alu(.cmp, Self.budgetRegister, immediate: Int32(instructions.count))
        a.jump(if: .less, entryExit)
        precondition(a.overflowed || a.address - entry >= 5, "block entry too short to patch")
        if engine.instrumentBlocks {
            // A block-executed callback may ask for an exit: seen at the next block, as before.
            a.alu(.cmp, .memory(X86Memory(.rbx, StateOffset.exitRequest)), immediate: 0)
            a.jump(if: .notEqual, entryExit)
        }
        if secondPage != 0 { emitSecondPageCheck() }
        if engine.instrumentBlocks { emitBlockExecutedCall() }
        allocateRegisters()

        findMergePoints()
        findJumpTableLoads()
        findSwitchKey()
        findProbeGroups()
        findSiteSlots()
        findSignAssumptions()
        var ended = false
        var folded = false
        // Outside straight integer self-loops (`deferred`), `lazyWords` follows the W-form
        // results left bare by `upperHalfDead(after:)` up to the instruction that writes their
        // register again.
        let trackBareWords = !isSelfLoop
        func written(_ inst: DecodedInstruction, bare: Bool) {
            guard trackBareWords, deferred.isEmpty, let rd = Self.written(inst) else { return }
            if bare { lazyWords |= 1 << UInt32(rd) } else { lazyWords &= ~(1 << UInt32(rd)) }
        }
        for (index, inst) in instructions.enumerated() {
            let pc = pcs[index]
            if index < emittedUpTo {
                written(inst, bare: false)  // in an if-converted region: written exactly
                continue
            }
            if folded {
                // The addi/addiw that `foldedConstant` merged into the previous instruction.
                folded = false
                written(inst, bare: false)
                continue
            }
            if let label = mergeLabels[index] {
                // Both paths arrive having charged exactly what they ran up to here, and with
                // every register exact (the jumping path's branch ended all bare words).
                if trackBareWords && deferred.isEmpty {
                    Self.materialize(a, lazyHosts(lazyWords))
                    lazyWords = 0
                }
                retire(upTo: index)
                a.bind(label)
                floatingPointDirty = false
            }
            var bare = false
            if let value = foldedConstant(index, pc: pc) {
                a.mov(.rax, immediate: value)
                write(inst.rd, .rax)
                folded = true
            } else if Self.follows(inst, index: index, count: instructions.count) {
                // A followed `j` (rd = x0, see `translate`): the block goes on at its target,
                // the next instruction; it retires with them.
                precondition(inst.rd == 0)
            } else {
                if let key = switchKey, key.shift == index { read(.rdx, key.register) }
                // Only W-forms may leave a bare word (`writeWord`), and `lazyWords` follows them.
                upperHalfDead = deferred.isEmpty ? Self.isWordOperation(inst.op) && upperHalfDead(after: index)
                    : deferred[index]
                bare = upperHalfDead || bitwiseBare.contains(index)
                ended = emit(inst, index: index, pc: pc)
                upperHalfDead = false
            }
            written(inst, bare: bare)
            if !deferred.isEmpty, let rd = Self.written(inst) {
                // A folded pair writes its register exactly.
                if deferred[index] { lazyWords |= 1 << UInt32(rd) } else { lazyWords &= ~(1 << UInt32(rd)) }
            }
        }
        if !ended {
            if deferred.isEmpty { Self.materialize(a, lazyHosts(lazyWords)) }
            writeBackAll()
            retire(upTo: instructions.count)
            goTo(pcs[instructions.count])
        }
        for path in slowPaths { path() }
        let exitStub = a.address
        a.bind(entryExit)
        a.mov(.rax, immediate: pc0)
        a.store(X86Memory(.rbx, StateOffset.pc), .rax)
        a.jump(toAddress: engine.exitToLoop)
        placeSwitchTables()
        guard !a.overflowed, a.allLabelsBound else { return nil }
        return (entry, exitStub)
    }

    /// A block that runs on into the next virtual page is keyed by its first page only, so at
    /// entry it checks that the fetch TLB still maps the next page to the host page it was
    /// translated from; if not (remapped, or not in the TLB) it leaves with
    /// `JITEngine.interpretBlock` and the run loop drops it and interprets this visit.
    private mutating func emitSecondPageCheck() {
        let page = (pc0 >> 12) &+ 1
        let slot = StateOffset.tlbFetch + Int32((Int(page) & (Int(BP_TLB_ENTRIES) - 1)) * 16)
        let addend = UInt64(secondPage) &- (page << 12)
        let fail = a.newLabel()
        a.mov(.rax, immediate: page)
        a.alu(.cmp, .rax, X86Memory(.rbx, slot))
        a.jump(if: .notEqual, fail)
        a.mov(.rax, immediate: addend)
        a.alu(.cmp, .rax, X86Memory(.rbx, slot + 8))
        a.jump(if: .notEqual, fail)
        leaveAtEntry(from: fail, through: engine.exitToInterpreter)
    }

    /// Out of line at `label` (before the block has done anything): stores the block's pc and
    /// returns to the run loop through `exit` (one of `JITEngine`'s exits with a code).
    private mutating func leaveAtEntry(from label: X86Label, through exit: UInt) {
        let pc = pc0
        slowPaths.append { [a] in
            a.bind(label)
            a.mov(.rax, immediate: pc)
            a.store(X86Memory(.rbx, StateOffset.pc), .rax)
            a.jump(toAddress: exit)
        }
    }

    /// For a forward branch at `index` to the merge point `target`: the region it skips, if
    /// that is one to three integer ALU instructions (no loads, stores or traps) that all write
    /// the same register, held in a host register, and no other branch lands inside it. Their
    /// emitters, with that register mapped to rdx, use rax as their only other scratch.
    private func ifConvertedRegion(after index: Int, target: UInt64) -> (rd: UInt8, merge: Int)? {
        guard !engine.observed, !engine.instrumentBlocks, budgetInRegister,
              let merge = mergeIndex(target, after: index, pc: pcs[index]),
              merge - index - 1 >= 1, merge - index - 1 <= 3 else { return nil }
        let rd = instructions[index + 1].rd
        guard rd != 0, cache[Int(rd)] != nil else { return nil }
        for k in (index + 1)..<merge {
            let inst = instructions[k]
            guard inst.rd == rd, mergeLabels[k] == nil else { return nil }
            switch inst.op {
            case .lui, .addi, .xori, .ori, .andi, .slli, .srli, .srai, .add, .sub, .xor, .or, .and:
                break
            default:
                return nil
            }
        }
        return (rd, merge)
    }

    /// The index of the instruction at `target` if it is a merge point after `index` (at `pc`).
    private func mergeIndex(_ target: UInt64, after index: Int, pc: UInt64) -> Int? {
        for i in index..<instructions.count where pcs[i] == target {
            return mergeLabels[i] != nil && i > index ? i : nil
        }
        return nil
    }

    /// Finds the forward branches whose target is a later instruction of this block (an `if`
    /// that skips a few instructions: `translate` goes on past forward branches, so the skipped
    /// code and the target are both here). Their taken path jumps to the target inside the
    /// block: the pinned registers are in the same host registers on both paths, and the
    /// fall-through path charges the budget up to the target before the paths meet, so both
    /// have charged what they ran. Not while a plugin observes the hart (the blocks it sees
    /// are the interpreter's, which end at every branch).
    private mutating func findMergePoints() {
        guard !engine.observed else { return }
        var indexOf: [UInt64: Int] = [:]
        for index in instructions.indices { indexOf[pcs[index]] = index }
        for (index, inst) in instructions.enumerated() {
            if inst.isForwardBranch, index < instructions.count - 1,
               let target = indexOf[pcs[index] &+ inst.imm], target > index, mergeLabels[target] == nil {
                mergeLabels[target] = a.newLabel()
            }
        }
    }

    /// Groups the loads and stores of a straight stretch that go through one base register held
    /// in a host register (a stack frame's saves and restores, a structure's fields): while the
    /// base is unchanged and nothing between can change a translation — only integer ALU
    /// instructions, loads, stores and forward branches (whose taken paths leave), no merge point
    /// (a path that skipped the leader) — the first access of each kind probes the TLB once for
    /// the group's whole byte range, which must lie in one page, and keeps the entry's addend;
    /// the others use it after one compare (`groupProbe`). Load and store helpers on the way
    /// may refill or evict TLB entries but never end a mapping (only CSR writes, SFENCE.VMA,
    /// LR/SC, AMOs and traps do, all outside the stretch), so a copied addend stays what the
    /// TLB would give. Not in self-loops with probe slots (they share `state.jitLoopProbe`) and
    /// not while a plugin observes the hart.
    /// A load whose value the block's final `jalr` jumps through (a switch's jump-table
    /// entry: `lw a4, 0(a3); add a4, a4, s1; jr a4`) probes the last load slot, which keeps a
    /// copy of the table page's TLB entry across visits (slots outlive loops, see
    /// `allocateLoopProbes`). The slot's compare and addend load do not wait for the address,
    /// so the jump's target, which a random switch's host branch predictor cannot guess, is
    /// known a TLB lookup sooner. Only when the base is in a host register (`fusedSlotProbe`).
    private mutating func findJumpTableLoads() {
        guard !engine.observed, let last = instructions.last, last.op == .jalr, last.rs1 != 0 else { return }
        let target = last.rs1
        for index in stride(from: instructions.count - 2, through: 0, by: -1) {
            let inst = instructions[index]
            switch inst.op {
            case .add where inst.rd == target && (inst.rs1 == target) != (inst.rs2 == target):
                continue  // the table holds offsets from a base
            case .lw, .lwu, .ld:
                // (Not `where`: it would bind to `.ld` alone, and any `lw` on the way took the slot.)
                guard inst.rd == target else { continue }
                if probeSlots[index] == nil, inst.rs1 != 0, cache[Int(inst.rs1)] != nil {
                    probeSlots[index] = StateOffset.loopProbe + Int32(16 * (Self.loadProbeSlots - 1))
                }
                return
            default:
                if inst.rd == target { return }
                if inst.op == .jalr || inst.isForwardBranch { return }
            }
        }
    }

    /// Bitwise operations on W-form results (a xorshift: `slliw a5, a3, 13; xor a5, a5, a3;
    /// srliw a4, a5, 17; xor a5, a5, a4; ...`): when every source of `xor`/`or`/`and` (or the
    /// source of `xori`/`ori`/`andi`) is a sign-extended word, so is the result, and its low word
    /// depends on their low words only. Such an operation may then leave its result a bare low
    /// word too (when nothing reads its upper half before it is written again, as for W-forms,
    /// `upperHalfDead(after:)`), and count as a low-word reader of its sources, so the W-forms
    /// feeding it keep no `movsxd` either. Every way out sign-extends them (`lazyWords`).
    /// A source written earlier in the block is known sign-extended by what wrote it (a W-form,
    /// `lw`/`lh`/`lb`/`lbu`/`lhu`, `lui`, `li`, a small `andi`, a compare, or such a bitwise
    /// operation); a live-in one held in a host register is assumed so, and the block's entry
    /// checks it: if it is not, the block returns `JITEngine.retranslatePlain` and is translated
    /// again without assumptions. Outside self-loops, without merge points (one path), not while
    /// a plugin observes.
    private mutating func findSignAssumptions() {
        guard !isSelfLoop, !engine.observed, !engine.instrumentBlocks, mergeLabels.isEmpty,
              !engine.plainBlocks.contains(pc0) else { return }
        let count = instructions.count
        // Whether x[r] just before instruction k is a sign-extended word; `needs` collects the
        // live-in registers that takes assuming, `bare` whether it may be a bare word.
        func signed(_ r: UInt8, before k: Int, _ needs: inout UInt32, _ bare: inout Bool, depth: Int) -> Bool {
            if r == 0 { return true }
            guard depth < 8 else { return false }
            var j = k - 1
            while j >= 0 {
                let inst = instructions[j]
                switch inst.op {
                case .lui, .auipc, .addi, .xori, .ori, .andi, .slti, .sltiu, .slli, .srli, .srai,
                     .add, .sub, .xor, .or, .and, .sll, .srl, .sra, .slt, .sltu, .mul, .mulh, .mulhsu, .mulhu,
                     .div, .divu, .rem, .remu, .addiw, .slliw, .srliw, .sraiw, .addw, .subw, .mulw,
                     .sllw, .srlw, .sraw, .divw, .divuw, .remw, .remuw,
                     .lb, .lh, .lw, .ld, .lbu, .lhu, .lwu, .sb, .sh, .sw, .sd,
                     .beq, .bne, .blt, .bge, .bltu, .bgeu, .fence, .nop:
                    break
                default:
                    return false  // it may write integer registers in ways not followed here
                }
                if Self.written(inst) == r { break }
                j -= 1
            }
            guard j >= 0 else {
                // Live in: assumed, and checked at entry, if it is in a host register.
                guard cache[Int(r)] != nil else { return false }
                needs |= 1 << UInt32(r)
                return true
            }
            let inst = instructions[j]
            if Self.isWordOperation(inst.op) {
                bare = true
                return true
            }
            switch inst.op {
            case .lb, .lh, .lw, .lbu, .lhu, .lui, .slti, .sltiu, .slt, .sltu:
                return true
            case .addi where inst.rs1 == 0:
                return true
            case .xor, .or, .and:
                if bitwiseBare.contains(j) { bare = true }
                return signed(inst.rs1, before: j, &needs, &bare, depth: depth + 1)
                    && signed(inst.rs2, before: j, &needs, &bare, depth: depth + 1)
            case .xori, .ori, .andi:
                if inst.op == .andi && Int64(bitPattern: inst.imm) >= 0 { return true }
                if bitwiseBare.contains(j) { bare = true }
                return signed(inst.rs1, before: j, &needs, &bare, depth: depth + 1)
            default:
                return false
            }
        }
        var assumed: UInt32 = 0
        // From the end, so that each operation's `upperHalfDead(after:)` knows the later ones.
        for k in stride(from: count - 2, through: 0, by: -1) {
            let inst = instructions[k]
            let sources: [UInt8]
            switch inst.op {
            case .xor, .or, .and: sources = [inst.rs1, inst.rs2]
            case .xori, .ori, .andi: sources = [inst.rs1]
            default: continue
            }
            guard inst.rd != 0, cache[Int(inst.rd)] != nil else { continue }
            var needs: UInt32 = 0
            var bare = false
            guard sources.allSatisfy({ signed($0, before: k, &needs, &bare, depth: 0) }), bare,
                  upperHalfDead(after: k) else { continue }
            bitwiseBare.insert(k)
            assumed |= needs
        }
        guard assumed != 0 else { return }
        let fail = a.newLabel()
        for r in 1..<32 where assumed & (1 << UInt32(r)) != 0 {
            let host = cache[r]!
            a.movsx(.rax, .register(host), from: .bits32)
            a.alu(.cmp, .rax, host)
            a.jump(if: .notEqual, fail)
        }
        leaveAtEntry(from: fail, through: engine.exitToRetranslate)
    }

    /// A switch whose block ends `slli t, i, 2; add t, t, base; lw t, 0(t); add t, t, base;
    /// jr t` (or `ld` with a shift of 3): the target is a function of the case index `i`, which
    /// is known long before the table entry is loaded and added. The final `jalr` then jumps
    /// through a small table of its own, indexed by `i` (`emitSwitchDispatch`): slot `i` holds
    /// the guest target last seen with that index, the fetch generation it was found under and
    /// its host code. The slot's compares are predicted and off the path; the host's indirect
    /// jump waits only for `i` and one load, not for the guest's table load, its add and the
    /// jump cache's index and load: on a switch on random data, which the host mispredicts,
    /// the mispredicted jump resolves that much sooner. The table is a cache: a slot is used
    /// only when the guest's own computed target matches it, so nothing is assumed about the
    /// guest's table or base. Only when nothing between the `slli` and the `jalr` but the
    /// table load and plain ALU instructions (whose emitters leave rdx alone) runs, `i` is not
    /// written there and no branch lands there.
    private mutating func findSwitchKey() {
        guard !engine.observed, let last = instructions.last, last.op == .jalr, last.rd == 0, last.imm == 0,
              last.rs1 != 0, !Self.isLink(last.rs1) else { return }
        let count = instructions.count
        let target = last.rs1
        var index = count - 2
        // The base added to the table entry.
        if index >= 0, instructions[index].op == .add, instructions[index].rd == target { index -= 1 }
        guard index >= 0 else { return }
        let load = instructions[index]
        guard load.op == .lw || load.op == .lwu || load.op == .ld, load.rd == target, load.imm == 0,
              load.rs1 != 0 else { return }
        let loadIndex = index
        let shiftAmount: UInt64 = load.op == .ld ? 3 : 2
        // The entry's address: an add of the scaled index and the table's base.
        index -= 1
        guard index >= 0 else { return }
        let sum = instructions[index]
        guard sum.op == .add, sum.rd == load.rs1, sum.rs1 != 0, sum.rs2 != 0 else { return }
        var shiftIndex: Int?
        for k in stride(from: index - 1, through: 0, by: -1) {
            let inst = instructions[k]
            guard let written = Self.written(inst) else { continue }
            if written == sum.rs1 || written == sum.rs2 {
                if inst.op == .slli, inst.imm == shiftAmount { shiftIndex = k }
                break
            }
        }
        guard let shift = shiftIndex else { return }
        let key = instructions[shift].rs1
        guard key != 0 else { return }
        for k in shift..<(count - 1) {
            let inst = instructions[k]
            if k > shift && mergeLabels[k] != nil { return }
            if Self.written(inst) == key { return }
            if k == loadIndex { continue }
            switch inst.op {
            case .add, .sub, .xor, .or, .and, .addi, .xori, .ori, .andi, .slli, .srli, .srai, .lui, .auipc:
                continue
            default:
                return
            }
        }
        // Not inside an if-converted region (which maps its register to rdx).
        for k in 0..<shift where instructions[k].isForwardBranch {
            if let region = ifConvertedRegion(after: k, target: pcs[k] &+ instructions[k].imm), region.merge > shift { return }
        }
        switchKey = (shift, key, loadIndex)
    }

    /// The end of a switch found by `findSwitchKey`, with the target in rax (bit 0 cleared,
    /// retired) and the case index in rdx: jumps through the site's table when its slot for
    /// the index holds this target under the current fetch generation; otherwise looks the
    /// target up in the jump cache, and on a hit fills the slot and jumps; otherwise takes the
    /// usual lookup. The table (`JITEngine.switchSlots` host code words, then as many targets,
    /// initially 1, which no target equals, then as many generations) is placed after the
    /// block's code, its address patched into the `movabs` here.
    private mutating func emitSwitchDispatch() {
        let slots = Int32(JITEngine.switchSlots)
        let generic = a.newLabel(), fill = a.newLabel()
        a.alu(.cmp, .rdx, immediate: slots)
        a.jump(if: .aboveOrEqual, generic)
        // movabs rcx, table (patched once the table is placed).
        a.byte(0x48)
        a.byte(0xB9)
        switchTableFields.append(a.address)
        a.int64(0)
        a.alu(.cmp, .rax, X86Memory(.rcx, 8 * slots, index: .rdx, scale: 8))
        a.jump(if: .notEqual, fill)
        a.load(.rsi, X86Memory(.rbx, StateOffset.fetchGeneration))
        a.alu(.cmp, .rsi, X86Memory(.rcx, 16 * slots, index: .rdx, scale: 8))
        a.jump(if: .notEqual, fill)
        a.jump(.memory(X86Memory(.rcx, 0, index: .rdx, scale: 8)))
        slowPaths.append { [a, engine] in
            // rcx = table, rdx = index (< slots), rax = target.
            a.bind(fill)
            a.lea(.rcx, X86Memory(.rcx, 0, index: .rdx, scale: 8))
            JITEngine.emitJumpCacheSlot(a, pc: .rax, into: .rdx)
            a.mov(.rsi, immediate: UInt64(UInt(bitPattern: engine.jumpCache)))
            a.alu(.add, .rdx, .rsi)
            a.lea(.rsi, X86Memory(.rax, 1))
            a.alu(.cmp, .rsi, X86Memory(.rdx))
            a.jump(if: .notEqual, generic)
            a.load(.rsi, X86Memory(.rbx, StateOffset.fetchGeneration))
            a.alu(.cmp, .rsi, X86Memory(.rdx, 8))
            a.jump(if: .notEqual, generic)
            a.store(X86Memory(.rcx, 16 * slots), .rsi)
            a.load(.rsi, X86Memory(.rdx, 16))
            a.store(X86Memory(.rcx), .rsi)
            a.store(X86Memory(.rcx, 8 * slots), .rax)
            a.jump(.register(.rsi))
            a.bind(generic)
            engine.emitLookup(a)
        }
    }

    /// Places the target tables of `emitSwitchDispatch` (after all code, each on its own cache
    /// lines: their fills are stores into the code buffer) and patches their addresses in.
    private mutating func placeSwitchTables() {
        for field in switchTableFields {
            a.align(64)
            let table = a.address
            for _ in 0..<JITEngine.switchSlots { a.int64(0) }
            for _ in 0..<JITEngine.switchSlots { a.int64(1) }
            for _ in 0..<JITEngine.switchSlots { a.int64(0) }
            a.align(64)
            guard !a.overflowed else { return }
            // SAFETY: the 8-byte field was emitted in this buffer (no overflow so far).
            UnsafeMutableRawPointer(bitPattern: field)!.storeBytes(of: UInt64(table), as: UInt64.self)
            switchTables.append(table)
        }
    }

    private mutating func findProbeGroups() {
        guard !engine.observed else { return }
        var open: [Int: [Int]] = [:]  // base * 2 + kind → member indices
        var scratch = 0
        func close(_ key: Int) {
            guard let members = open.removeValue(forKey: key) else { return }
            guard members.count >= 2, scratch < Self.probeGroupScratchWords else { return }
            let word = StateOffset.probeGroup + Int32(8 * scratch)
            scratch += 1
            var low = Int32.max, end = Int32.min
            for index in members {
                let inst = instructions[index]
                let offset = Int32(truncatingIfNeeded: Int64(bitPattern: inst.imm))
                low = min(low, offset)
                end = max(end, offset + Int32(Self.accessSize(inst)))
            }
            for index in members { probeGroup[index] = (word, index == members[0] ? (low, end) : nil) }
        }
        func closeAll() { for key in Array(open.keys).sorted() { close(key) } }
        for (index, inst) in instructions.enumerated() {
            if mergeLabels[index] != nil { closeAll() }
            switch inst.op {
            case .lb, .lh, .lw, .ld, .lbu, .lhu, .lwu, .sb, .sh, .sw, .sd:
                if inst.rs1 != 0, cache[Int(inst.rs1)] != nil, probeSlots[index] == nil {
                    let store = inst.op.rawValue >= Operation.sb.rawValue && inst.op.rawValue <= Operation.sd.rawValue
                    open[Int(inst.rs1) * 2 + (store ? 1 : 0), default: []].append(index)
                }
            case .lui, .auipc, .addi, .xori, .ori, .andi, .slti, .sltiu, .slli, .srli, .srai,
                 .add, .sub, .xor, .or, .and, .sll, .srl, .sra, .slt, .sltu,
                 .addiw, .slliw, .srliw, .sraiw, .addw, .subw, .sllw, .srlw, .sraw,
                 .mul, .mulw, .mulh, .mulhu, .mulhsu, .div, .divu, .rem, .remu, .divw, .divuw, .remw, .remuw,
                 .beq, .bne, .blt, .bge, .bltu, .bgeu, .nop:
                break
            case .jal where Self.follows(inst, index: index, count: instructions.count):
                break
            default:
                closeAll()
                continue
            }
            let writes: Bool
            switch inst.op {
            case .sb, .sh, .sw, .sd, .beq, .bne, .blt, .bge, .bltu, .bgeu, .nop, .jal: writes = false
            default: writes = inst.rd != 0
            }
            if writes {
                close(Int(inst.rd) * 2)
                close(Int(inst.rd) * 2 + 1)
            }
        }
        closeAll()
    }

    private static func accessSize(_ inst: DecodedInstruction) -> Int {
        switch inst.op {
        case .lb, .lbu, .sb: return 1
        case .lh, .lhu, .sh: return 2
        case .lw, .lwu, .sw: return 4
        default: return 8
        }
    }

    /// `lui`/`auipc rd` followed by `addi rd, rd, k` (or `lui` + `addiw`), the way compilers
    /// build 32-bit constants and pc-relative addresses (`li`, `la`): the value rd ends with,
    /// written once. Neither instruction can trap, so counting them both at the next retire
    /// point is exact; not when the second is a merge point (another path reaches it alone).
    private func foldedConstant(_ index: Int, pc: UInt64) -> UInt64? {
        let first = instructions[index]
        guard first.op == .lui || first.op == .auipc, first.rd != 0, index + 1 < instructions.count,
              mergeLabels[index + 1] == nil else { return nil }
        let second = instructions[index + 1]
        guard second.rd == first.rd, second.rs1 == first.rd else { return nil }
        let base = first.op == .lui ? first.imm : pc &+ first.imm
        switch second.op {
        case .addi: return base &+ second.imm
        case .addiw where first.op == .lui:
            return UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: base &+ second.imm)))
        default: return nil
        }
    }

    /// Whether the instruction being emitted may leave the upper half of its rd's host register
    /// undefined (set per instruction; only `writeWord` looks at it).
    private var upperHalfDead = false

    /// Whether the register that instruction `index` writes is, on the straight path after it,
    /// read only through its low 32 bits (W-form operations, whose sources are their low words,
    /// unprivileged spec §4.2; `andi` with a mask of bits 10..0) until an instruction writes it
    /// again — with nothing between that could observe the full register: no branch, jump,
    /// load, store or helper (a trap or a leave there makes every register architectural).
    /// A W-form result then needs no sign extension. Only for registers held in host registers
    /// (an unpinned one in `state.x` may be read by anything) and not while a plugin observes.
    private func upperHalfDead(after index: Int) -> Bool {
        let rd = instructions[index].rd
        guard rd != 0, !engine.observed, cache[Int(rd)] != nil else { return false }
        // Outside self-loops the search goes on past loads, stores and side exits (conditional
        // branches that leave the block): each of their ways out sign-extends the bare words
        // first (`lazyWords`: the load/store slow paths, `emitSideExit`), so only their reads
        // count. A branch to a later instruction of the block stops it (two paths meet there).
        let pastExits = !isSelfLoop
        let count = instructions.count
        for k in (index + 1)..<count {
            let inst = instructions[k]
            let lowWordSources: Bool
            switch inst.op {
            case .addiw, .slliw, .srliw, .sraiw, .addw, .subw, .mulw, .sllw, .srlw, .sraw:
                lowWordSources = true
            case .xor, .or, .and, .xori, .ori, .andi:
                // A bitwise result that stays bare itself (`findSignAssumptions`) reads only
                // low words; so does `andi` with a mask of bits 10..0 (rs2 is not a source).
                if bitwiseBare.contains(k) {
                    lowWordSources = true
                } else {
                    lowWordSources = inst.op == .andi && inst.imm < 0x800 && inst.rs1 == rd
                }
            case .lui, .auipc, .addi, .slti, .sltiu, .slli, .srli, .srai,
                 .add, .sub, .sll, .srl, .sra, .slt, .sltu, .mul:
                lowWordSources = false
            // (A `where` clause binds to the last pattern of a case only: each case checks
            // its condition itself.)
            case .lb, .lh, .lw, .ld, .lbu, .lhu, .lwu:
                guard pastExits, inst.rs1 != rd else { return false }
                if inst.rd == rd { return true }
                continue
            case .sb, .sh, .sw:
                guard pastExits, inst.rs1 != rd else { return false }
                continue
            case .sd:
                guard pastExits, inst.rs1 != rd, inst.rs2 != rd else { return false }
                continue
            case .beq, .bne, .blt, .bge, .bltu, .bgeu:
                guard pastExits, k < count - 1, mergeIndex(pcs[k] &+ inst.imm, after: k, pc: pcs[k]) == nil,
                      inst.rs1 != rd, inst.rs2 != rd else { return false }
                continue
            default:
                return false
            }
            let reads: Bool
            switch inst.op {
            case .lui, .auipc: reads = false
            case .addi, .xori, .ori, .andi, .slti, .sltiu, .slli, .srli, .srai, .addiw, .slliw, .srliw, .sraiw:
                reads = inst.rs1 == rd
            default: reads = inst.rs1 == rd || inst.rs2 == rd
            }
            if reads && !lowWordSources { return false }
            if inst.rd == rd { return true }
        }
        return false
    }

    /// Whether an instruction's result is a sign-extended word (unprivileged spec §4.2), which
    /// a bare low word in its host register stands for exactly.
    private static func isWordOperation(_ op: Operation) -> Bool {
        switch op {
        case .addiw, .slliw, .srliw, .sraiw, .addw, .subw, .mulw, .sllw, .srlw, .sraw,
             .divw, .divuw, .remw, .remuw: return true
        default: return false
        }
    }

    /// A side exit (a conditional branch out of the middle of the block) while some registers
    /// hold bare words: the taken path sign-extends them out of line, then chains to `target`.
    private mutating func emitSideExit(to target: UInt64, if condition: X86Condition) {
        let exit = a.newLabel()
        a.jump(if: condition, exit)
        let hosts = lazyHosts(lazyWords)
        let samePage = target >> 12 == pc0 >> 12 || (secondPage != 0 && target >> 12 == (pc0 >> 12) &+ 1)
        slowPaths.append { [a, engine] in
            a.bind(exit)
            JITTranslator.materialize(a, hosts)
            if samePage {
                let stub = a.newLabel()
                let site = a.address
                a.jump(stub)
                a.bind(stub)
                JITTranslator.emitChainRequest(a, engine, target: target, site: UInt64(site))
            } else {
                JITTranslator.emitGuardedChain(a, engine, to: target)
            }
        }
    }

    /// Emits one instruction; returns whether it ended the block.
    private mutating func emit(_ inst: DecodedInstruction, index: Int, pc: UInt64) -> Bool {
        let rd = inst.rd, rs1 = inst.rs1, rs2 = inst.rs2, imm = inst.imm
        let next = pc &+ UInt64(inst.length)
        switch inst.op {
        case .lui:
            if rd != 0 { a.mov(.rax, immediate: imm); write(rd, .rax) }
        case .auipc:
            if rd != 0 { a.mov(.rax, immediate: pc &+ imm); write(rd, .rax) }
        case .jal:
            if rd != 0 { a.mov(.rax, immediate: next); write(rd, .rax) }
            if loopHead != nil && pc &+ imm == pc0 {
                if budgetBias == 0 { retire(upTo: index + 1) }
                emitBackEdge(upTo: index + 1)
                return true
            }
            writeBackAll()
            retire(upTo: index + 1)
            if Self.isLink(rd) { pushReturn(next) }
            goTo(pc &+ imm)
            return true
        case .jalr:
            read(.rax, rs1)
            if let i = immediate32(imm), i != 0 { a.alu(.add, .rax, immediate: i) }
            a.alu(.and, .rax, immediate: -2)
            if rd != 0 { a.mov(.rcx, immediate: next); write(rd, .rcx) }
            writeBackAll()
            retire(upTo: index + 1)
            if Self.isLink(rd) {
                pushReturn(next)
            } else if rd == 0 && Self.isLink(rs1) {
                popReturn()
            }
            // The jump-cache index from rs1's host register itself when it still holds the
            // target (bit 0 aside): one operation sooner on a mispredicted switch's path.
            if switchKey != nil {
                emitSwitchDispatch()
                return true
            }
            let index = imm == 0 && rs1 != 0 && rs1 != rd ? cache[Int(rs1)] ?? .rax : .rax
            engine.emitLookup(a, index: index)
            return true
        case .beq, .bne, .blt, .bge, .bltu, .bgeu:
            let loops = loopHead != nil && pc &+ imm == pc0
            if !loops { writeBackAll() }
            // A biased loop's back edge retires after the compare (`emitBackEdge`).
            let unretired = Int32(index + 1 - counted)
            if !(loops && budgetBias != 0) { retire(upTo: index + 1) }
            // An if over one to three ALU instructions that all write one register held in a
            // host register: computed into rdx first (the branch still compares the old values),
            // then moved into place and charged with cmov when the branch is not taken.
            let region = index < instructions.count - 1 && imm < (1 << 63)
                ? ifConvertedRegion(after: index, target: pc &+ imm) : nil
            if let region {
                let d = cache[Int(region.rd)]!
                a.mov(.rdx, d)
                cache[Int(region.rd)] = .rdx
                for k in (index + 1)..<region.merge { _ = emit(instructions[k], index: k, pc: pcs[k]) }
                cache[Int(region.rd)] = d
            }
            // Compare straight from rs1's host register when it has one (no copy to rax).
            if rs1 != 0, let left = cache[Int(rs1)] {
                if rs2 == 0 { a.test(left, left) } else { alu(.cmp, left, rs2) }
            } else {
                read(.rax, rs1)
                if rs2 == 0 { a.test(.rax, .rax) } else { alu(.cmp, .rax, rs2) }
            }
            let condition: X86Condition
            switch inst.op {
            case .beq: condition = .equal
            case .bne: condition = .notEqual
            case .blt: condition = .less
            case .bge: condition = .greaterOrEqual
            case .bltu: condition = .below
            default: condition = .aboveOrEqual
            }
            if let region {
                let notTaken = X86Condition(rawValue: condition.rawValue ^ 1)!
                a.cmov(notTaken, cache[Int(region.rd)]!, .register(.rdx))
                a.lea(.rax, X86Memory(Self.budgetRegister, -Int32(region.merge - index - 1)))
                a.cmov(notTaken, Self.budgetRegister, .register(.rax))
                counted = region.merge
                emittedUpTo = region.merge
                return false
            }
            if index < instructions.count - 1, imm < (1 << 63), let merge = mergeIndex(pc &+ imm, after: index, pc: pc) {
                // A forward branch to a later instruction of this block (`findMergePoints`).
                a.jump(if: condition, mergeLabels[merge]!)
                return false
            }
            if index < instructions.count - 1 {
                // A forward branch inside a superblock (see `translate`): the taken path leaves
                // through a chain; the fall-through goes on (registers already written back and
                // the branch counted, as on a block end).
                if lazyWords != 0 && deferred.isEmpty {
                    emitSideExit(to: pc &+ imm, if: condition)
                    return false
                }
                if goTo(pc &+ imm, if: condition) { return false }
                let fallThrough = a.newLabel()
                a.jump(if: X86Condition(rawValue: condition.rawValue ^ 1)!, fallThrough)
                goTo(pc &+ imm)
                a.bind(fallThrough)
                return false
            }
            if loops {
                // The loop's exit out of the way: an iteration takes only the back edge's jump.
                let exit = a.newLabel()
                a.jump(if: X86Condition(rawValue: condition.rawValue ^ 1)!, exit)
                emitBackEdge(upTo: index + 1)
                a.bind(exit)
                if budgetBias != 0 {
                    // Retire this iteration's rest and take the bias off in one.
                    if budgetBias != unretired { a.alu(.add, Self.budgetRegister, immediate: budgetBias - unretired) }
                    budgetBias = 0
                }
                Self.materialize(a, lazyHosts(lazyWords))
                goTo(next)
                return true
            }
            // The block's last instruction: one of its two chains is a patchable jcc.
            if goTo(pc &+ imm, if: condition) {
                goTo(next)
                return true
            }
            if goTo(next, if: X86Condition(rawValue: condition.rawValue ^ 1)!) {
                goTo(pc &+ imm)
                return true
            }
            let taken = a.newLabel()
            a.jump(if: condition, taken)
            goTo(next)
            a.bind(taken)
            goTo(pc &+ imm)
            return true

        case .lb, .lh, .lw, .ld, .lbu, .lhu, .lwu:
            emitLoad(inst, index: index, pc: pc)
        case .sb, .sh, .sw, .sd:
            emitStore(inst, index: index, pc: pc)

        case .addi, .xori, .ori, .andi:
            guard rd != 0 else { break }
            let op: X86ALU = inst.op == .addi ? .add : inst.op == .xori ? .xor : inst.op == .ori ? .or : .and
            let i = Int32(truncatingIfNeeded: Int64(bitPattern: imm))
            if rs1 == 0 {
                // li: one move of the (sign-extended) immediate; andi from x0 is 0.
                let value = op == .and ? 0 : UInt64(bitPattern: Int64(i))
                if let d = cache[Int(rd)] { a.mov(d, immediate: value) } else { a.mov(.rax, immediate: value); write(rd, .rax) }
                break
            }
            if let d = cache[Int(rd)] {
                // Straight into rd's host register (mv: a plain register move, which the host
                // renames away; a lea would cost an ALU operation).
                if i == 0 && op != .and && rs1 != rd {
                    read(d, rs1)
                } else if op == .add && rs1 != rd, let source = cache[Int(rs1)] {
                    a.lea(d, X86Memory(source, i))
                } else {
                    if rs1 != rd { read(d, rs1) }
                    if !(i == 0 && op != .and) { a.alu(op, d, immediate: i) }
                }
                break
            }
            read(.rax, rs1)
            if !(i == 0 && op != .and) { a.alu(op, .rax, immediate: i) }
            write(rd, .rax)
        case .slti, .sltiu:
            guard rd != 0 else { break }
            read(.rcx, rs1)
            a.alu(.xor, .rax, .rax, width: .bits32)
            a.alu(.cmp, .rcx, immediate: Int32(truncatingIfNeeded: Int64(bitPattern: imm)))
            a.set(inst.op == .slti ? .less : .below, .rax)
            write(rd, .rax)
        case .slli, .srli, .srai:
            guard rd != 0 else { break }
            let target = cache[Int(rd)] ?? .rax
            if !(target != .rax && rs1 == rd) { read(target, rs1) }
            a.shift(inst.op == .slli ? .shl : inst.op == .srli ? .shr : .sar, target, immediate: UInt8(imm & 63))
            if target == .rax { write(rd, .rax) }
        case .add, .sub, .xor, .or, .and:
            guard rd != 0 else { break }
            let op: X86ALU
            switch inst.op {
            case .add: op = .add
            case .sub: op = .sub
            case .xor: op = .xor
            case .or: op = .or
            default: op = .and
            }
            if rs1 == 0 && (op == .add || op == .or || op == .xor) {
                // mv (the compressed form is add rd, x0, rs2): a plain move.
                if let d = cache[Int(rd)] { read(d, rs2) } else { read(.rax, rs2); write(rd, .rax) }
                break
            }
            if let d = cache[Int(rd)], rs2 != rd || rs1 == rd {
                // Straight into rd's host register (rd = rs2 ≠ rs1 would clobber rs2 first).
                if rs1 != rd { read(d, rs1) }
                if rs2 != 0 { alu(op, d, rs2) } else if op == .and { a.alu(.xor, d, d, width: .bits32) }
                break
            }
            read(.rax, rs1)
            if rs2 != 0 { alu(op, .rax, rs2) } else if op == .and { a.alu(.xor, .rax, .rax, width: .bits32) }
            write(rd, .rax)
        case .sll, .srl, .sra:
            guard rd != 0 else { break }
            read(.rax, rs1)
            read(.rcx, rs2)
            a.shiftByCL(inst.op == .sll ? .shl : inst.op == .srl ? .shr : .sar, .rax)
            write(rd, .rax)
        case .slt, .sltu:
            guard rd != 0 else { break }
            read(.rcx, rs1)
            read(.rdx, rs2)
            a.alu(.xor, .rax, .rax, width: .bits32)
            a.alu(.cmp, .rcx, .rdx)
            a.set(inst.op == .slt ? .less : .below, .rax)
            write(rd, .rax)
        case .addiw:
            guard rd != 0 else { break }
            let i = Int32(truncatingIfNeeded: Int64(bitPattern: imm))
            if rs1 != 0, let source = cache[Int(rs1)] {
                // sext.w is one movsxd; otherwise a lea (its low 32 bits are addw's) and movsxd.
                if i == 0 {
                    if let d = cache[Int(rd)], upperHalfDead {
                        if d != source { a.mov(d, source, width: .bits32) }  // the low word is all
                    } else if let d = cache[Int(rd)] { a.movsx(d, .register(source), from: .bits32) } else {
                        a.movsx(.rax, .register(source), from: .bits32)
                        write(rd, .rax)
                    }
                } else if upperHalfDead, let d = cache[Int(rd)] {
                    a.lea(d, X86Memory(source, i))  // its low word is addiw's
                } else {
                    a.lea(.rax, X86Memory(source, i))
                    writeWord(rd, .rax)
                }
                break
            }
            read(.rax, rs1)
            if i != 0 { a.alu(.add, .rax, immediate: i, width: .bits32) }
            writeWord(rd, .rax)
        case .slliw, .srliw, .sraiw:
            guard rd != 0 else { break }
            // A logical right shift by 1-31 clears bit 31: the 32-bit shift's zero extension is
            // then the sign extension already.
            let extended = inst.op == .srliw && imm & 31 != 0
            if let d = cache[Int(rd)], rs1 != 0, rs1 == rd || cache[Int(rs1)] != nil {
                // In rd's host register: the word shift, then the sign extension unless dead.
                if rs1 != rd { a.mov(d, cache[Int(rs1)]!, width: .bits32) }
                a.shift(inst.op == .slliw ? .shl : inst.op == .srliw ? .shr : .sar, d,
                        immediate: UInt8(imm & 31), width: .bits32)
                if !upperHalfDead && !extended { a.movsx(d, .register(d), from: .bits32) }
                break
            }
            read(.rax, rs1)
            a.shift(inst.op == .slliw ? .shl : inst.op == .srliw ? .shr : .sar, .rax,
                    immediate: UInt8(imm & 31), width: .bits32)
            if extended { write(rd, .rax) } else { writeWord(rd, .rax) }
        case .addw, .subw:
            guard rd != 0 else { break }
            if inst.op == .addw, upperHalfDead, rs1 == rd, rs2 != 0, let d = cache[Int(rd)] {
                alu(.add, d, rs2, width: .bits32)  // an accumulator's bare low word
                break
            }
            if inst.op == .addw, rs1 != 0, rs2 != 0, let left = cache[Int(rs1)], let right = cache[Int(rs2)] {
                a.lea(.rax, X86Memory(left, index: right))
                writeWord(rd, .rax)
                break
            }
            if inst.op == .subw, rs1 == rd, rs2 != 0, let d = cache[Int(rd)] {
                alu(.sub, d, rs2, width: .bits32)
                if !upperHalfDead { a.movsx(d, .register(d), from: .bits32) }
                break
            }
            read(.rax, rs1)
            if rs2 != 0 { alu(inst.op == .addw ? .add : .sub, .rax, rs2, width: .bits32) }
            writeWord(rd, .rax)
        case .sllw, .srlw, .sraw:
            guard rd != 0 else { break }
            read(.rax, rs1)
            read(.rcx, rs2)
            a.shiftByCL(inst.op == .sllw ? .shl : inst.op == .srlw ? .shr : .sar, .rax, width: .bits32)
            writeWord(rd, .rax)

        case .mul, .mulw:
            guard rd != 0 else { break }
            if inst.op == .mulw, rs1 != 0, rs2 != 0, let d = cache[Int(rd)],
               rd == rs1 || rd == rs2 || cache[Int(rs1)] != nil {
                // In rd's host register (multiplication commutes, so rd may be either source).
                let other = rd == rs1 ? rs2 : rd == rs2 ? rs1 : rs2
                if rd != rs1 && rd != rs2 { a.mov(d, cache[Int(rs1)]!, width: .bits32) }
                a.imul(d, operand(other), width: .bits32)
                if !upperHalfDead { a.movsx(d, .register(d), from: .bits32) }
                break
            }
            read(.rax, rs1)
            let source: X86Operand
            if rs2 == 0 { a.alu(.xor, .rcx, .rcx, width: .bits32); source = .register(.rcx) } else { source = operand(rs2) }
            if inst.op == .mul {
                a.imul(.rax, source)
                write(rd, .rax)
            } else {
                a.imul(.rax, source, width: .bits32)
                writeWord(rd, .rax)
            }
        case .mulh, .mulhu, .mulhsu:
            guard rd != 0 else { break }
            read(.rax, rs1)
            read(.rcx, rs2)
            if inst.op == .mulhsu {
                // signed × unsigned: the unsigned high word minus rs2 when rs1 is negative.
                a.mov(.rsi, .rax)
                a.group3(.mul, .register(.rcx))
                a.shift(.sar, .rsi, immediate: 63)
                a.alu(.and, .rsi, .rcx)
                a.alu(.sub, .rdx, .rsi)
            } else {
                a.group3(inst.op == .mulh ? .imul : .mul, .register(.rcx))
            }
            write(rd, .rdx)
        case .div, .divu, .rem, .remu, .divw, .divuw, .remw, .remuw:
            guard rd != 0 else { break }
            emitDivide(inst, index: index)

        case .fence, .nop:
            break

        case .floatingPoint:
            emitFloatingPoint(inst, index: index, pc: pc)

        default:
            // Everything rare or complex runs in the interpreter, one instruction at a time.
            return emitInterpreted(inst, index: index, pc: pc)
        }
        return false
    }

    /// The value of a `divuw`/`remuw`'s divisor register when the block was translated, if that
    /// register is live into the block (nothing before the instruction writes it) and the value is
    /// a 32-bit divisor worth a reciprocal: 3 ≤ d < 2^31 and not a power of two.
    private func guessedDivisor(_ inst: DecodedInstruction, index: Int) -> UInt64? {
        guard entryRegisters.count == 32, inst.rs2 != 0, !engine.observed else { return nil }
        for k in 0..<index {
            let other = instructions[k]
            // Any instruction whose rd field names the register (conservative for stores,
            // branches and FP instructions, whose rd may be something else).
            if other.rd == inst.rs2 { return nil }
        }
        let d = entryRegisters[Int(inst.rs2)] & 0xFFFF_FFFF
        guard d >= 3, d < 1 << 31, d & (d - 1) != 0 else { return nil }
        return d
    }

    /// Division with RISC-V's results for a zero divisor and for overflow (unprivileged spec
    /// §7.2 table 7.1); x86 div/idiv would fault on both.
    private mutating func emitDivide(_ inst: DecodedInstruction, index: Int) {
        let word = inst.op == .divw || inst.op == .divuw || inst.op == .remw || inst.op == .remuw
        let signed = inst.op == .div || inst.op == .rem || inst.op == .divw || inst.op == .remw
        let remainder = inst.op == .rem || inst.op == .remu || inst.op == .remw || inst.op == .remuw
        let width: X86Width = word ? .bits32 : .bits64
        read(.rax, inst.rs1)
        read(.rcx, inst.rs2)
        let zero = a.newLabel(), done = a.newLabel(), normal = a.newLabel()
        if word && !signed, let d = guessedDivisor(inst, index: index) {
            // The divisor the block was first entered with (a loop-invariant constant kept in a
            // register, as compilers do for `x % 7` when division is cheap on the target):
            // while it holds, a multiply by its reciprocal instead of a 32-bit `div` (which
            // takes 10-30 cycles on the host). With m = ceil(2^64 / d), the high half of x · m
            // is floor(x / d) for every 32-bit x (the error, x · (m - 2^64/d) / 2^64, stays
            // below 1/d). Checked at every use: another divisor takes the division below.
            let general = a.newLabel()
            a.alu(.cmp, .rcx, immediate: Int32(d), width: .bits32)
            a.jump(if: .notEqual, general)
            a.mov(.rax, .rax, width: .bits32)  // x, zero-extended
            let m = UInt64.max / d + 1  // ceil(2^64 / d) for d not a power of two
            a.mov(.rsi, immediate: m)
            if remainder { a.mov(.rcx, .rax) }
            a.group3(.mul, .register(.rsi))  // rdx = floor(x / d)
            if remainder {
                a.imul(.rdx, .register(.rdx), immediate: Int32(d))
                a.alu(.sub, .rcx, .rdx)
                a.mov(.rax, .rcx)
            } else {
                a.mov(.rax, .rdx)
            }
            a.jump(done)
            a.bind(general)
        }
        a.test(.rcx, .rcx, width: width)
        a.jump(if: .equal, zero)
        if signed {
            // x / -1 = -x (wraps for the most negative x, as RISC-V wants); x % -1 = 0.
            a.alu(.cmp, .rcx, immediate: -1, width: width)
            a.jump(if: .notEqual, normal)
            if remainder { a.alu(.xor, .rax, .rax, width: .bits32) } else { a.group3(.neg, .register(.rax), width: width) }
            a.jump(done)
            a.bind(normal)
            a.signExtendAccumulator(width: width)
            a.group3(.idiv, .register(.rcx), width: width)
        } else {
            a.bind(normal)
            a.alu(.xor, .rdx, .rdx, width: .bits32)
            a.group3(.div, .register(.rcx), width: width)
        }
        if remainder { a.mov(.rax, .rdx) }
        a.jump(done)
        a.bind(zero)
        // x / 0 = all ones; x % 0 = x (rax already holds x).
        if !remainder { a.mov(.rax, immediate: ~0) }
        a.bind(done)
        if word { writeWord(inst.rd, .rax) } else { write(inst.rd, .rax) }
    }

    // MARK: Memory

    /// rsi ← x[rs1] + imm.
    private func address(_ inst: DecodedInstruction) {
        address(inst, immediate: Int32(truncatingIfNeeded: Int64(bitPattern: inst.imm)))
    }

    private func address(_ inst: DecodedInstruction, immediate: Int32) {
        let rs1 = inst.op == .floatingPoint ? UInt8((inst.raw >> 15) & 31) : inst.rs1
        if rs1 != 0, let base = cache[Int(rs1)] {
            // One instruction from a pinned base.
            if immediate != 0 { a.lea(.rsi, X86Memory(base, immediate)) } else { a.mov(.rsi, base) }
            return
        }
        read(.rsi, rs1)
        if immediate != 0 { a.lea(.rsi, X86Memory(.rsi, immediate)) }
    }

    /// The inline TLB probe (the interpreter's `loadData`/`storeData` fast path): jumps to
    /// `miss` unless the page of the last byte is in the entry of the first byte's page — which
    /// also sends page-crossing accesses to the slow path. Leaves the host address in rsi.
    private func probe(_ tlbOffset: Int32, size: Int, miss: X86Label) {
        Self.probe(a, tlbOffset, size: size, miss: miss)
    }

    static func probe(_ a: X86Assembler, _ tlbOffset: Int32, size: Int, miss: X86Label) {
        if size > 1 { a.lea(.rax, X86Memory(.rsi, Int32(size - 1))) } else { a.mov(.rax, .rsi) }
        a.shift(.shr, .rax, immediate: 12)
        a.mov(.rcx, .rsi, width: .bits32)
        a.shift(.shr, .rcx, immediate: 8, width: .bits32)
        a.alu(.and, .rcx, immediate: Int32((BP_TLB_ENTRIES - 1) << 4), width: .bits32)
        a.alu(.cmp, .rax, X86Memory(.rbx, tlbOffset, index: .rcx))
        a.jump(if: .notEqual, miss)
        a.alu(.add, .rsi, X86Memory(.rbx, tlbOffset + 8, index: .rcx))
    }

    /// A self-loop site's probe of its slot `slot` of `state.jitLoopProbe` (5 instructions
    /// instead of 8, and no index arithmetic before the compare): the address with its page
    /// offset cleared except the bits that must be zero in an aligned access, compared with the
    /// slot's page address, so an access that is misaligned (and so might cross into the next
    /// page) or on another page goes out of line to the TLB probe, which refills the slot
    /// (`refillSlot`). Leaves the host address in rsi. (`fusedSlotProbe` is the form for a
    /// base held in a host register.)
    private mutating func loopProbe(slot: Int32, tlbOffset: Int32, size: Int, miss: X86Label) {
        let refill = a.newLabel(), hit = a.newLabel()
        a.mov(.rax, .rsi)
        a.alu(.and, .rax, immediate: Int32(-4096) | Int32(size - 1))
        if Self.isSiteSlot(slot) { a.alu(.or, .rax, X86Memory(.rbx, StateOffset.siteSlotGeneration)) }
        a.alu(.cmp, .rax, X86Memory(.rbx, slot))
        a.jump(if: .notEqual, refill)
        let addend = slotAddend[slot]
        if let addend { a.alu(.add, .rsi, addend) } else { a.alu(.add, .rsi, X86Memory(.rbx, slot + 8)) }
        a.bind(hit)
        slowPaths.append { [a] in
            // The TLB probe; on a hit (first and last byte on one page) the slot copies the
            // entry: its page address and addend (rcx still indexes it).
            a.bind(refill)
            JITTranslator.probe(a, tlbOffset, size: size, miss: miss)
            JITTranslator.refillSlot(a, slot, tlbOffset: tlbOffset, addend: addend)
            a.jump(hit)
        }
    }

    /// After a TLB probe hit (rcx indexing the entry): the slot copies the entry, its page
    /// address and addend, and a lent addend register takes the addend too.
    private static func refillSlot(_ a: X86Assembler, _ slot: Int32, tlbOffset: Int32, addend: X86Register?) {
        a.load(.rax, X86Memory(.rbx, tlbOffset, index: .rcx))
        a.shift(.shl, .rax, immediate: 12)
        if isSiteSlot(slot) { a.alu(.or, .rax, X86Memory(.rbx, StateOffset.siteSlotGeneration)) }
        a.store(X86Memory(.rbx, slot), .rax)
        a.load(.rax, X86Memory(.rbx, tlbOffset + 8, index: .rcx))
        a.store(X86Memory(.rbx, slot + 8), .rax)
        if let addend { a.mov(addend, .rax) }
    }

    /// A self-loop site's slot probe when its base is in a host register: the compare as in
    /// `loopProbe`, but the access on a hit addresses `[base + addend + imm]` itself (no copy
    /// of the base into rsi, no add: 5 instructions and the access instead of 7). Returns that
    /// operand, or nil (nothing emitted) when the site has no slot or its base is in memory.
    /// Out of line, the refill path forms the guest address in rsi (what `miss` expects), runs
    /// the TLB probe, copies the entry into the slot and does the access through rsi (`access`)
    /// before jumping to `back`: a misaligned access within one page hits the TLB but never the
    /// slot, so it must not go round again.
    private mutating func fusedSlotProbe(_ inst: DecodedInstruction, index: Int, tlbOffset: Int32, size: Int,
                                         miss: X86Label, back: X86Label,
                                         access: @escaping (X86Assembler, X86Memory) -> Void) -> X86Memory? {
        guard let slot = probeSlots[index], inst.rs1 != 0, let base = cache[Int(inst.rs1)] else { return nil }
        let immediate = Int32(truncatingIfNeeded: Int64(bitPattern: inst.imm))
        let refill = a.newLabel()
        if immediate != 0 { a.lea(.rax, X86Memory(base, immediate)) } else { a.mov(.rax, base) }
        a.alu(.and, .rax, immediate: Int32(-4096) | Int32(size - 1))
        if Self.isSiteSlot(slot) { a.alu(.or, .rax, X86Memory(.rbx, StateOffset.siteSlotGeneration)) }
        a.alu(.cmp, .rax, X86Memory(.rbx, slot))
        a.jump(if: .notEqual, refill)
        let addend = slotAddend[slot]
        if addend == nil { a.load(.rsi, X86Memory(.rbx, slot + 8)) }
        slowPaths.append { [a] in
            a.bind(refill)
            if immediate != 0 { a.lea(.rsi, X86Memory(base, immediate)) } else { a.mov(.rsi, base) }
            JITTranslator.probe(a, tlbOffset, size: size, miss: miss)
            JITTranslator.refillSlot(a, slot, tlbOffset: tlbOffset, addend: addend)
            access(a, X86Memory(.rsi))
            a.jump(back)
        }
        return X86Memory(base, immediate, index: addend ?? .rsi)
    }

    /// Site slots: outside self-loops, a load or store with neither a loop slot nor a probe
    /// group probes a slot of its own (`HartState.jitSiteSlots`, handed out by
    /// `JITEngine.siteSlot`) as a self-loop's sites do: the compare and the addend's load come
    /// from fixed addresses, so the access waits only for its base register (a pointer
    /// chase's next load one TLB probe sooner), and the probe is 5 instructions, not 8. A
    /// site's page rarely changes between visits (stack frames, fields, globals); when it
    /// does the TLB probe refills the slot. Slots outlive their blocks; a generation in their
    /// tags retires them all whenever a TLB entry is removed. Not while that happens often
    /// (`JITEngine.siteSlotsPay`).
    private mutating func findSiteSlots() {
        guard !isSelfLoop, !engine.observed, engine.siteSlotsPay else { return }
        for (index, inst) in instructions.enumerated() where probeSlots[index] == nil && probeGroup[index] == nil {
            switch inst.op {
            case .lb, .lh, .lw, .ld, .lbu, .lhu, .lwu: probeSlots[index] = engine.siteSlot(store: false)
            case .sb, .sh, .sw, .sd: probeSlots[index] = engine.siteSlot(store: true)
            default: break
            }
        }
    }

    /// Whether a probe slot is a site slot (its tag carries the slot generation).
    private static func isSiteSlot(_ slot: Int32) -> Bool { slot >= StateOffset.siteSlots }

    /// A member of a probe group (`findProbeGroups`): returns the operand of its access on the
    /// fast path, `[base + addend + imm]`, or nil (nothing emitted) when it has no group.
    /// The leader probes the TLB for the group's whole range (the entry of its first byte's
    /// page, tagged with its last byte's page) and stores the addend in its scratch word; when
    /// the range is not in one mapped page it stores 1 (never an addend: both pages are
    /// 4 KiB-aligned) and probes for itself out of line. The others load the word and go out of
    /// line to their own probe when it is 1. Out of line, each forms its guest address in rsi,
    /// runs the TLB probe (on a miss `miss`, which expects that) and accesses through rsi.
    private mutating func groupProbe(_ inst: DecodedInstruction, index: Int, tlbOffset: Int32, size: Int,
                                     miss: X86Label, back: X86Label,
                                     access: @escaping (X86Assembler, X86Memory) -> Void) -> X86Memory? {
        guard let group = probeGroup[index], let base = cache[Int(inst.rs1)] else { return nil }
        let immediate = Int32(truncatingIfNeeded: Int64(bitPattern: inst.imm))
        let own = a.newLabel()
        if let range = group.leader {
            let missed = a.newLabel()
            a.lea(.rsi, X86Memory(base, range.low))
            a.lea(.rax, X86Memory(base, range.end - 1))
            a.shift(.shr, .rax, immediate: 12)
            a.mov(.rcx, .rsi, width: .bits32)
            a.shift(.shr, .rcx, immediate: 8, width: .bits32)
            a.alu(.and, .rcx, immediate: Int32((BP_TLB_ENTRIES - 1) << 4), width: .bits32)
            a.alu(.cmp, .rax, X86Memory(.rbx, tlbOffset, index: .rcx))
            a.jump(if: .notEqual, missed)
            a.load(.rsi, X86Memory(.rbx, tlbOffset + 8, index: .rcx))
            a.store(X86Memory(.rbx, group.scratch), .rsi)
            slowPaths.append { [a] in
                a.bind(missed)
                a.store(X86Memory(.rbx, group.scratch), immediate: 1)
                a.jump(own)
            }
        } else {
            a.load(.rsi, X86Memory(.rbx, group.scratch))
            a.alu(.cmp, .rsi, immediate: 1)
            a.jump(if: .equal, own)
        }
        slowPaths.append { [a] in
            a.bind(own)
            if immediate != 0 { a.lea(.rsi, X86Memory(base, immediate)) } else { a.mov(.rsi, base) }
            JITTranslator.probe(a, tlbOffset, size: size, miss: miss)
            access(a, X86Memory(.rsi))
            a.jump(back)
        }
        return X86Memory(base, immediate, index: .rsi)
    }

    /// `probe`, or a self-loop site's `loopProbe` when it has a slot.
    private mutating func probe(_ tlbOffset: Int32, size: Int, miss: X86Label, index: Int) {
        if let slot = probeSlots[index] {
            loopProbe(slot: slot, tlbOffset: tlbOffset, size: size, miss: miss)
        } else {
            probe(tlbOffset, size: size, miss: miss)
        }
    }

    private mutating func emitLoad(_ inst: DecodedInstruction, index: Int, pc: UInt64) {
        let size: Int
        switch inst.op {
        case .lb, .lbu: size = 1
        case .lh, .lhu: size = 2
        case .lw, .lwu: size = 4
        default: size = 8
        }
        let miss = a.newLabel(), back = a.newLabel()
        // Straight into rd's host register when it is pinned (the slow path moves its result
        // there); a load to x0 still accesses memory (traps, device reads).
        let target = inst.rd == 0 ? X86Register.rax : cache[Int(inst.rd)] ?? .rax
        let op = inst.op
        let access = { (a: X86Assembler, source: X86Memory) in
            switch op {
            case .lb: a.movsx(target, .memory(source), from: .bits8)
            case .lbu: a.movzx(target, .memory(source), from: .bits8)
            case .lh: a.movsx(target, .memory(source), from: .bits16)
            case .lhu: a.movzx(target, .memory(source), from: .bits16)
            case .lw: a.movsx(target, .memory(source), from: .bits32)
            case .lwu: a.load(target, source, width: .bits32)
            default: a.load(target, source)
            }
        }
        if let source = pageRunOperand(inst, index: index)
            ?? fusedSlotProbe(inst, index: index, tlbOffset: StateOffset.tlbLoad, size: size, miss: miss,
                                       back: back, access: access)
            ?? groupProbe(inst, index: index, tlbOffset: StateOffset.tlbLoad, size: size, miss: miss,
                          back: back, access: access) {
            access(a, source)
        } else {
            address(inst)
            probe(StateOffset.tlbLoad, size: size, miss: miss, index: index)
            access(a, X86Memory(.rsi))
        }
        a.bind(back)
        if target == .rax { write(inst.rd, .rax) }
        let argument = packHelperArgument(UInt64(inst.op.rawValue), length: inst.length, retired: index - counted)
        let helper = JITHelpers.load
        let saved = liveCallerSaved
        let rdInMemory = target == .rax && inst.rd != 0 ? reg(inst.rd) : nil
        let observed = engine.observed
        let inRegister = budgetInRegister
        let loopExit = loopExit
        let bias = budgetBias
        let lazy = lazyHosts(lazyWords)
        // The switch's case index, which the helper call clobbers in rdx (`findSwitchKey`).
        let key: X86Operand? = switchKey.flatMap { $0.load == index ? operand($0.register) : nil }
        slowPaths.append { [a, engine] in
            a.bind(miss)
            // A plugin's memory callback may read the guest registers.
            if observed { JITTranslator.storePinned(a) }
            if inRegister { JITTranslator.storeBudget(a, bias: bias) }
            // rsi still holds the guest address (the probe only adds the addend after a hit).
            JITTranslator.callPreserving(a, saved) {
                a.mov(.rdi, .rbx)
                a.mov(.rdx, immediate: pc)
                a.mov(.rcx, immediate: argument)
                a.mov(.rax, immediate: UInt64(helper))
            }
            if inRegister { JITTranslator.loadBudget(a, bias: bias) }
            let leave = a.newLabel()
            a.test(.rdx, .rdx)
            a.jump(if: .notEqual, leave)
            // After the pops: a caller-saved rd is restored by them, then overwritten here.
            if target != .rax { a.mov(target, .rax) }
            switch key {
            case .register(let host)?: a.mov(.rdx, host)
            case .memory(let slot)?: a.load(.rdx, slot)
            case nil: break
            }
            a.jump(back)
            // 1: trapped (the trap is entered); 2: loaded, then leave (JITHelpers.load).
            a.bind(leave)
            JITTranslator.materialize(a, lazy)  // before rd is written
            a.alu(.cmp, .rdx, immediate: 1)
            if let loopExit { a.jump(if: .equal, loopExit) } else { a.jump(if: .equal, toAddress: engine.exitToLoop) }
            if target != .rax { a.mov(target, .rax) } else if let rdInMemory { a.store(rdInMemory, .rax) }
            if let loopExit { a.jump(loopExit) } else { a.jump(toAddress: engine.exitToLoop) }
        }
    }

    private mutating func emitStore(_ inst: DecodedInstruction, index: Int, pc: UInt64) {
        let size = 1 << Int(inst.op.rawValue - Operation.sb.rawValue)
        let miss = a.newLabel(), back = a.newLabel()
        let width: X86Width = size == 1 ? .bits8 : size == 2 ? .bits16 : size == 4 ? .bits32 : .bits64
        // No reservation check: while an LR reservation is held its pages are kept out of the
        // store TLB (Hart+Memory `holdReservation`), so a store that could break it misses.
        read(.rdx, inst.rs2)
        let access = { (a: X86Assembler, target: X86Memory) in a.store(target, .rdx, width: width) }
        if let target = pageRunOperand(inst, index: index)
            ?? fusedSlotProbe(inst, index: index, tlbOffset: StateOffset.tlbStore, size: size, miss: miss,
                                       back: back, access: access)
            ?? groupProbe(inst, index: index, tlbOffset: StateOffset.tlbStore, size: size, miss: miss,
                          back: back, access: access) {
            a.store(target, .rdx, width: width)
        } else {
            address(inst)
            probe(StateOffset.tlbStore, size: size, miss: miss, index: index)
            a.store(X86Memory(.rsi), .rdx, width: width)
        }
        a.bind(back)
        let argument = packHelperArgument(UInt64(size), length: inst.length, retired: index - counted)
        let helper = JITHelpers.store
        let saved = liveCallerSaved
        let observed = engine.observed
        let inRegister = budgetInRegister
        let loopExit = loopExit
        let bias = budgetBias
        let lazy = lazyHosts(lazyWords)
        slowPaths.append { [a, engine] in
            a.bind(miss)
            if observed { JITTranslator.storePinned(a) }
            if inRegister { JITTranslator.storeBudget(a, bias: bias) } // before r8 becomes the argument
            JITTranslator.callPreserving(a, saved) {
                a.mov(.rdi, .rbx)
                a.mov(.rcx, immediate: pc)
                a.mov(.r8, immediate: argument)
                a.mov(.rax, immediate: UInt64(helper))
            }
            if inRegister { JITTranslator.loadBudget(a, bias: bias) }
            a.test(.rax, .rax)
            a.jump(if: .equal, back)
            JITTranslator.materialize(a, lazy)
            if let loopExit { a.jump(loopExit) } else { a.jump(toAddress: engine.exitToLoop) }
        }
    }

    // MARK: Floating point (unprivileged spec §11, §12)

    private func freg(_ r: UInt32) -> X86Memory { X86Memory(.rbx, StateOffset.floatRegister(Int(r))) }

    /// Inline forms of the common F/D instructions: loads and stores with the TLB probe; add,
    /// sub, mul, div, sqrt and the fused multiply-adds on SSE/FMA3 in round-to-nearest-even (the
    /// host MXCSR mode), their flags left sticky in MXCSR (see `JITEngine.foldFlags`), NaN results
    /// replaced by the canonical NaN (§11.3); compares; moves; double sign injection. Anything
    /// else, another rounding mode, a single operand that is not NaN-boxed, FS not Dirty, or a
    /// TLB miss runs the interpreter's `executeFloatingPoint` out of line.
    private mutating func emitFloatingPoint(_ inst: DecodedInstruction, index: Int, pc: UInt64) {
        let raw = inst.raw
        let opcode = raw & 0x7F, rd = (raw >> 7) & 31, funct3 = (raw >> 12) & 7
        let rs1 = (raw >> 15) & 31, rs2 = (raw >> 20) & 31, funct7 = raw >> 25
        enum Form { case load, store, arithmetic(X86Assembler.SSEArithmetic), fused(X86Assembler.FusedMultiplyAdd),
                    compare, moveToInteger, moveFromInteger, signInjection, none }
        var form = Form.none
        var double = true
        switch opcode {
        case 0x07 where funct3 == 2 || funct3 == 3: form = .load; double = funct3 == 3
        case 0x27 where funct3 == 2 || funct3 == 3: form = .store; double = funct3 == 3
        case 0x43, 0x47, 0x4B, 0x4F:
            // fmt 2 (H) and 3 (Q) are not implemented: the interpreter raises illegal-instruction
            // and leaves fcsr alone. (A `where` clause here would guard only the last pattern.)
            guard (raw >> 25) & 3 <= 1 && engine.hostHasFMA else { break }
            double = (raw >> 25) & 3 == 1
            // RISC-V FNMSUB (0x4B) is -(a×b) + c, x86's fnmadd; FNMADD (0x4F) is -(a×b) - c, fnmsub.
            form = .fused(opcode == 0x43 ? .fmadd : opcode == 0x47 ? .fmsub : opcode == 0x4B ? .fnmadd : .fnmsub)
        case 0x53:
            double = funct7 & 1 == 1
            switch funct7 & ~1 {
            case 0x00: form = .arithmetic(.add)
            case 0x04: form = .arithmetic(.sub)
            case 0x08: form = .arithmetic(.mul)
            case 0x0C: form = .arithmetic(.div)
            case 0x2C where rs2 == 0: form = .arithmetic(.sqrt)
            case 0x10 where double && funct3 <= 2: form = .signInjection
            case 0x50 where funct3 <= 2: form = .compare
            case 0x70 where rs2 == 0 && funct3 == 0: form = .moveToInteger
            case 0x78 where rs2 == 0 && funct3 == 0: form = .moveFromInteger
            default: break
            }
        default: break
        }
        let slow = a.newLabel(), back = a.newLabel()
        var inline = true
        switch form {
        case .none: inline = false
        case .arithmetic, .fused:
            // Only round-to-nearest-even: static RNE, or DYN while frm is RNE.
            if funct3 == 7 {
                a.alu(.cmp, .memory(X86Memory(.rbx, StateOffset.frm)), immediate: 0, width: .bits32)
                a.jump(if: .notEqual, slow)
            } else if funct3 != 0 {
                inline = false
            }
        default: break
        }
        if inline {
            if !floatingPointDirty {
                a.load(.rax, X86Memory(.rbx, StateOffset.mstatus), width: .bits32)
                a.alu(.and, .rax, immediate: 0x6000, width: .bits32)
                a.alu(.cmp, .rax, immediate: 0x6000, width: .bits32)
                a.jump(if: .notEqual, slow)
            }
            switch form {
            case .load:
                address(inst, immediate: Int32(Int32(bitPattern: raw) >> 20))
                probe(StateOffset.tlbLoad, size: double ? 8 : 4, miss: slow)
                if double {
                    a.load(.rax, X86Memory(.rsi))
                    a.store(freg(rd), .rax)
                } else {
                    a.load(.rax, X86Memory(.rsi), width: .bits32)
                    storeBoxedSingle(rd)
                }
                floatingPointDirty = true
            case .store:
                let offset = (Int32(bitPattern: raw) >> 25) << 5 | Int32((raw >> 7) & 31)
                address(inst, immediate: offset)
                a.load(.rdx, freg(rs2))
                probe(StateOffset.tlbStore, size: double ? 8 : 4, miss: slow)
                a.store(X86Memory(.rsi), .rdx, width: double ? .bits64 : .bits32)
            case .arithmetic(let op):
                checkBoxed(double, [rs1] + (op == .sqrt ? [] : [rs2]), slow: slow)
                a.sseLoad(double: double, 0, freg(rs1))
                if op == .sqrt { a.sse(.sqrt, double: double, 0, .register(.rax)) }
                else { a.sse(op, double: double, 0, .memory(freg(rs2))) }
                storeCanonical(double, rd)
                floatingPointDirty = true
            case .fused(let op):
                let rs3 = raw >> 27
                checkBoxed(double, [rs1, rs2, rs3], slow: slow)
                a.sseLoad(double: double, 0, freg(rs3))
                // ∞ × 0 + qNaN must raise NV (§11.6); x86 FMA does not: NaN addends go out of line.
                a.sseCompare(double: double, signaling: false, 0, .register(.rax))
                a.jump(if: .parity, slow)
                a.sseLoad(double: double, 1, freg(rs1))
                a.sseLoad(double: double, 2, freg(rs2))
                a.fma231(op, double: double, 0, 1, 2)
                storeCanonical(double, rd)
                floatingPointDirty = true
            case .compare:
                checkBoxed(double, [rs1, rs2], slow: slow)
                a.sseLoad(double: double, 0, freg(rs1))
                a.sseLoad(double: double, 1, freg(rs2))
                a.alu(.xor, .rax, .rax, width: .bits32)
                switch funct3 {
                case 2: // feq: quiet; equal and ordered
                    a.sseCompare(double: double, signaling: false, 0, .register(.rcx))
                    a.set(.equal, .rax)
                    a.set(.noParity, .rcx)
                    a.alu(.and, .rax, .rcx, width: .bits32)
                case 1: // flt: signaling; b > a is false when unordered
                    a.sseCompare(double: double, signaling: true, 1, .register(.rax))
                    a.set(.above, .rax)
                default: // fle
                    a.sseCompare(double: double, signaling: true, 1, .register(.rax))
                    a.set(.aboveOrEqual, .rax)
                }
                a.movzx(.rax, .register(.rax), from: .bits8)
                write(UInt8(rd), .rax)
            case .moveToInteger:
                if double { a.load(.rax, freg(rs1)) } else { a.movsx(.rax, .memory(freg(rs1)), from: .bits32) }
                write(UInt8(rd), .rax)
            case .moveFromInteger:
                read(.rax, UInt8(rs1))
                if double { a.store(freg(rd), .rax) } else { storeBoxedSingle(rd) }
                floatingPointDirty = true
            case .signInjection:
                a.load(.rax, freg(rs1))
                a.load(.rcx, freg(rs2))
                if funct3 == 1 { a.group3(.not, .register(.rcx)) }
                a.shift(.shr, .rcx, immediate: 63)
                a.shift(.shl, .rcx, immediate: 63)
                if funct3 != 2 {
                    a.shift(.shl, .rax, immediate: 1)
                    a.shift(.shr, .rax, immediate: 1)
                    a.alu(.or, .rax, .rcx)
                } else {
                    a.alu(.xor, .rax, .rcx)
                }
                a.store(freg(rd), .rax)
                floatingPointDirty = true
            case .none:
                break
            }
            a.bind(back)
        } else {
            a.jump(slow)
            a.bind(back)
        }
        let helper = JITHelpers.floatingPoint
        let argument = UInt64(index - counted) | UInt64(inst.length) << 32
        let integerRS1 = UInt8(rs1), integerRD = UInt8(rd), observed = engine.observed
        let inRegister = budgetInRegister
        slowPaths.append { [a, engine] in
            a.bind(slow)
            // Integer registers an F/D instruction touches: rs1 (address, fmv/fcvt source), rd
            // (fmv/fcvt/compare/fclass destination).
            // A plugin's trap callback may read (or write) any guest register: all of them then.
            if observed { JITTranslator.storePinned(a) } else { JITTranslator.storePinned(a, [integerRS1, integerRD]) }
            if inRegister { JITTranslator.storeBudget(a) }
            JITTranslator.callPreserving(a, JITTranslator.callerSavedCacheRegisters) {
                a.mov(.rdi, .rbx)
                a.mov(.rsi, immediate: UInt64(raw))
                a.mov(.rdx, immediate: pc)
                a.mov(.rcx, immediate: argument)
                a.mov(.rax, immediate: UInt64(helper))
            }
            // The helper may have written rd (moves, compares, conversions), after the pops;
            // reloading leaves rax (the helper's answer) alone.
            if observed { JITTranslator.reloadPinned(a) } else { JITTranslator.reloadPinned(a, integerRD) }
            if inRegister { JITTranslator.loadBudget(a) }
            a.test(.rax, .rax)
            a.jump(if: .notEqual, toAddress: engine.exitToLoop)
            a.jump(back)
        }
    }

    /// Jumps to `slow` unless every single-precision source is NaN-boxed (§12.2).
    private func checkBoxed(_ double: Bool, _ sources: [UInt32], slow: X86Label) {
        guard !double else { return }
        for r in Set(sources).sorted() {  // sorted: the same code every run
            a.load(.rax, X86Memory(.rbx, StateOffset.floatRegister(Int(r)) + 4), width: .bits32)
            a.alu(.cmp, .rax, immediate: -1, width: .bits32)
            a.jump(if: .notEqual, slow)
        }
    }

    /// f[rd] ← the low 32 bits of eax, NaN-boxed.
    private func storeBoxedSingle(_ rd: UInt32) {
        a.store(freg(rd), .rax, width: .bits32)
        a.store(X86Memory(.rbx, StateOffset.floatRegister(Int(rd)) + 4), immediate: -1, width: .bits32)
    }

    /// f[rd] ← xmm0, with a NaN result replaced by the canonical NaN.
    private func storeCanonical(_ double: Bool, _ rd: UInt32) {
        let ordered = a.newLabel()
        a.sseCompare(double: double, signaling: false, 0, .register(.rax))
        a.jump(if: .noParity, ordered)
        a.mov(.rax, immediate: double ? 0x7FF8_0000_0000_0000 : 0x7FC0_0000)
        a.movq(xmm: 0, .rax)
        a.bind(ordered)
        if double {
            a.sseStore(double: true, freg(rd), 0)
        } else {
            a.sseStore(double: false, freg(rd), 0)
            a.store(X86Memory(.rbx, StateOffset.floatRegister(Int(rd)) + 4), immediate: -1, width: .bits32)
        }
    }

    // MARK: Interpreter fallback

    /// Calls `jitInterpret` for one instruction. Block-ending instructions continue through the
    /// lookup routine at the pc the interpreter left (or return to the run loop when the helper
    /// says so); others continue inline unless the helper reports a trap or exit request.
    private mutating func emitInterpreted(_ inst: DecodedInstruction, index: Int, pc: UInt64) -> Bool {
        // `translate` flushes first when the pool cannot hold the whole block.
        precondition(engine.instructionPoolUsed < JITEngine.instructionPoolSize, "JIT instruction pool overflow")
        let slot = engine.instructionPool + engine.instructionPoolUsed
        slot.pointee = inst
        engine.instructionPoolUsed += 1
        // A plugin's trap callback (ECALL, a faulting AMO) may read or write any guest register.
        if engine.observed { Self.storePinned(a) } else { Self.storePinned(a, [inst.rs1, inst.rs2, inst.rd]) }
        if budgetInRegister { Self.storeBudget(a) }
        a.call(toAddress: engine.foldFlags) // a CSR instruction may read fflags
        Self.callPreserving(a, Self.callerSavedCacheRegisters) {
            a.mov(.rdi, .rbx)
            a.mov(.rsi, immediate: UInt64(UInt(bitPattern: slot)))
            a.mov(.rdx, immediate: pc)
            a.mov(.rcx, immediate: UInt64(index - counted))
            a.mov(.rax, immediate: UInt64(JITHelpers.interpret))
        }
        counted = index + 1
        // The instruction may have written its rd (after the pops; the epilogue stores the
        // pinned registers again on the way out). Reloading leaves rax alone.
        if engine.observed { Self.reloadPinned(a) } else { Self.reloadPinned(a, inst.rd) }
        if budgetInRegister { Self.loadBudget(a) }
        a.test(.rax, .rax)
        a.jump(if: .notEqual, toAddress: engine.exitToLoop)
        if inst.endsBlock && !inst.continuesBlockInJIT {
            a.load(.rax, X86Memory(.rbx, StateOffset.pc))
            engine.emitLookup(a)
            return true
        }
        return false
    }
}
#endif

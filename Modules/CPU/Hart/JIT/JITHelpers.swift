#if arch(x86_64)
import CHartState
import Memory
import Trace

extension DecodedInstruction {
    /// A CSR instruction the JIT runs in the middle of a block (the interpreter ends its blocks
    /// at every CSR instruction): one on a CSR that cannot change translation, privilege, FP
    /// state tracking, interrupt enables or counters' running — the scratch and trap-value
    /// registers, the FP CSRs, mhartid and the read-only user counters. A trap or a takeable
    /// interrupt still leaves the block (`jitInterpret` returns non-zero).
    var continuesBlockInJIT: Bool {
        switch op {
        case .csrrw, .csrrs, .csrrc, .csrrwi, .csrrsi, .csrrci:
            switch imm & 0xFFF {
            case 0x001, 0x002, 0x003, 0x140, 0x141, 0x142, 0x143, 0x340, 0x341, 0x342, 0x343,
                 0xC00, 0xC01, 0xC02, 0xF14:
                return true
            default: return false
            }
        default: return false
        }
    }

    /// A conditional branch to a later address: the JIT continues its block past it.
    var isForwardBranch: Bool {
        switch op {
        case .beq, .bne, .blt, .bge, .bltu, .bgeu: return Int64(bitPattern: imm) > 0
        default: return false
        }
    }

    /// Whether running this instruction may flush the data TLBs without changing the
    /// translation context (privilege, satp, MPRV/MPP/SUM/MXR), which `Hart.translationContext`
    /// shows: SFENCE.VMA and writes to the PMP CSRs (pmpcfg*, pmpaddr*, mseccfg).
    var flushesTLBsInPlace: Bool {
        switch op {
        case .sfenceVMA: return true
        case .csrrw, .csrrs, .csrrc, .csrrwi, .csrrsi, .csrrci:
            let csr = imm & 0xFFF
            return (csr >= 0x3A0 && csr <= 0x3EF) || csr == 0x747
        default: return false
        }
    }
}

enum JITHelpers {
    /// `load(state, address, pc, argument) -> (value, leave)`: a load that missed the inline
    /// TLB probe (TLB miss, MMIO, page-crossing). `argument` packs the `Operation` (bits 0–7),
    /// the instruction length (8–15) and the block instructions retired before it (16–31).
    /// `leave` 0: continue; 1: the access trapped and the trap is entered; 2: the load is done
    /// (generated code still writes `value` to rd) and a device asked for an exit, so the block
    /// leaves after it with pc and counters set, as the interpreter does.
    static let load: UInt = {
        let function: @convention(c) (UnsafeMutablePointer<HartState>, UInt64, UInt64, UInt64) -> BPJITLoadResult = {
            state, address, pc, argument in
            Hart.withJIT(state) { $0.jitLoad(address, pc: pc, argument: argument) }
        }
        return unsafeBitCast(function, to: UInt.self)
    }()

    /// `store(state, address, value, pc, argument) -> exit`: a store that missed the probe, or
    /// ran while an LR reservation is held. `argument` packs the size (bits 0–7), length and
    /// retired count as for loads. Non-zero: leave to the run loop (trap taken, or a device
    /// asked for an exit; pc and counters are set either way).
    static let store: UInt = {
        let function: @convention(c) (UnsafeMutablePointer<HartState>, UInt64, UInt64, UInt64, UInt64) -> UInt64 = {
            state, address, value, pc, argument in
            Hart.withJIT(state) { $0.jitStore(address, value: value, pc: pc, argument: argument) }
        }
        return unsafeBitCast(function, to: UInt.self)
    }()

    /// `interpret(state, instruction, pc, retired) -> exit`: runs one decoded instruction in the
    /// interpreter after adding `retired` earlier block instructions to the counters. Non-zero:
    /// leave to the run loop (trap, WFI, exit request, a takeable interrupt, or counters
    /// inhibited); zero: continue (inline, or at `state.pc` for a block-ending instruction).
    static let interpret: UInt = {
        let function: @convention(c) (UnsafeMutablePointer<HartState>, UnsafeMutableRawPointer,
                                      UInt64, UInt64) -> UInt64 = {
            state, instruction, pc, retired in
            Hart.withJIT(state) {
                $0.jitInterpret(instruction.assumingMemoryBound(to: DecodedInstruction.self), pc: pc, retired: retired)
            }
        }
        return unsafeBitCast(function, to: UInt.self)
    }()

    /// `floatingPoint(state, raw, pc, argument) -> exit`: one F/D instruction (32-bit form) through
    /// the interpreter's `executeFloatingPoint`; `argument` packs the block instructions retired
    /// before it (bits 0–31) and its length (32–39). On a trap it retires the earlier block
    /// instructions, enters the trap and returns non-zero; when a device it reached asked for an
    /// exit it retires them and itself, moves pc past it and returns non-zero; otherwise the
    /// block counts it.
    static let floatingPoint: UInt = {
        let function: @convention(c) (UnsafeMutablePointer<HartState>, UInt64, UInt64, UInt64) -> UInt64 = {
            state, raw, pc, argument in
            Hart.withJIT(state) { $0.jitFloatingPoint(UInt32(truncatingIfNeeded: raw), pc: pc, argument: argument) }
        }
        return unsafeBitCast(function, to: UInt.self)
    }()
}

extension Hart {
    func jitFloatingPoint(_ raw: UInt32, pc: UInt64, argument: UInt64) -> UInt64 {
        let retired = argument & 0xFFFF_FFFF
        state.pointee.pc = pc
        state.pointee.clockBudget = state.pointee.jitBudget &- Int64(truncatingIfNeeded: retired)
        do throws(Trap) {
            try executeFloatingPoint(raw)
            // An FP load or store may have reached a device that asked for an exit.
            if state.pointee.exitRequest != 0 {
                leaveAfter(retired: Int(truncatingIfNeeded: retired), next: pc &+ (argument >> 32))
                return 1
            }
            return 0
        } catch {
            retire(Int(truncatingIfNeeded: retired))
            state.pointee.jitBudget -= Int64(truncatingIfNeeded: retired) + 1
            enterTrapForJIT(error)
            return 1
        }
    }

    /// `enterTrap`, then forgets the second-level TLB if the trap changed the translation context
    /// (so the first level was flushed).
    func enterTrapForJIT(_ trap: Trap) {
        let context = translationContext
        enterTrap(trap)
        if context != translationContext { jitEngine.invalidateVictims() }
    }

    /// `loadData` with the second-level TLB in front of the slow path.
    @inline(__always)
    private func victimLoad(_ address: UInt64, size: Int) throws(Trap) -> UInt64 {
        let jit = jitEngine
        let page = address >> 12
        guard (address & 0xFFF) &+ UInt64(size) <= 0x1000 else { return try loadData(address, size: size) }
        let slot = Int(truncatingIfNeeded: page & UInt64(JITEngine.victimEntries - 1))
        let victim = jit.victimLoad[slot]
        if victim.tag == page && victim.generation == jit.victimGeneration {
            let entry = BPTLBEntry(tag: page, addend: victim.addend)
            tlbLoad[Self.tlbIndex(address)] = entry
            return loadLittleEndian(Self.hostAddress(address, entry), size: size)
        }
        let value = try loadData(address, size: size)
        let filled = tlbLoad[Self.tlbIndex(address)]
        if filled.tag == page {
            jit.victimLoad[slot] = VictimTLBEntry(tag: page, addend: filled.addend, generation: jit.victimGeneration)
        }
        return value
    }

    /// `storeData` with the second-level TLB in front of the slow path (never while an LR
    /// reservation is held: the slow path breaks it).
    @inline(__always)
    private func victimStore(_ address: UInt64, size: Int, value: UInt64) throws(Trap) {
        let jit = jitEngine
        let page = address >> 12
        guard state.pointee.reservationValid == 0, (address & 0xFFF) &+ UInt64(size) <= 0x1000 else {
            return try storeData(address, size: size, value: value)
        }
        let slot = Int(truncatingIfNeeded: page & UInt64(JITEngine.victimEntries - 1))
        let victim = jit.victimStore[slot]
        if victim.tag == page && victim.generation == jit.victimStoreGeneration {
            let entry = BPTLBEntry(tag: page, addend: victim.addend)
            tlbStore[Self.tlbIndex(address)] = entry
            storeLittleEndian(Self.hostAddress(address, entry), size: size, value: value)
            return
        }
        try storeData(address, size: size, value: value)
        let filled = tlbStore[Self.tlbIndex(address)]
        if filled.tag == page {
            jit.victimStore[slot] = VictimTLBEntry(tag: page, addend: filled.addend, generation: jit.victimStoreGeneration)
        }
    }

    /// Calls `body` with the hart that owns `state`, without retaining it: harts are weakly
    /// referenced (HartGroup), so their counts live in a side table and a retain/release pair
    /// would cost more than a TLB refill.
    @inline(__always)
    static func withJIT<R>(_ state: UnsafeMutablePointer<HartState>, _ body: (Hart) -> R) -> R {
        // Counters are exact inside helpers: generated code has only charged the budget.
        syncJITCounters(state)
        // SAFETY: the run loop sets jitContext to this hart before entering generated code,
        // and the hart outlives every call it makes.
        let result = Unmanaged<Hart>.fromOpaque(state.pointee.jitContext!)._withUnsafeGuaranteedRef(body)
        // What the helper charged itself (retire + budget) is already in the counters.
        state.pointee.jitBudgetBase = state.pointee.jitBudget
        return result
    }

    /// Adds the instructions generated code retired since the last sync (it charges only
    /// `jitBudget`) to minstret and mcycle. The JIT runs only while mcountinhibit is 0, so both
    /// count every retired instruction; traps, which use budget without retiring, are charged
    /// by helpers after a sync and then the base is moved past them.
    @inline(__always)
    static func syncJITCounters(_ state: UnsafeMutablePointer<HartState>) {
        let retired = state.pointee.jitBudgetBase &- state.pointee.jitBudget
        if retired != 0 {
            state.pointee.instret &+= UInt64(bitPattern: retired)
            state.pointee.cycle &+= UInt64(bitPattern: retired)
            state.pointee.jitBudgetBase = state.pointee.jitBudget
        }
    }

    func jitLoad(_ address: UInt64, pc: UInt64, argument: UInt64) -> BPJITLoadResult {
        // Device traces name the instruction's pc (Trace.swift); translated code has not stored it.
        if Trace.mask != 0 { state.pointee.pc = pc }
        // Where the virtual clock is: the block's earlier instructions are not charged yet.
        state.pointee.clockBudget = state.pointee.jitBudget &- Int64(truncatingIfNeeded: argument >> 16)
        let op = Operation(rawValue: UInt8(truncatingIfNeeded: argument))!
        let size: Int
        switch op {
        case .lb, .lbu: size = 1
        case .lh, .lhu: size = 2
        case .lw, .lwu: size = 4
        default: size = 8
        }
        do throws(Trap) {
            let raw = try victimLoad(address, size: size)
            let value: UInt64
            switch op {
            case .lb: value = signExtend(raw, width: 8)
            case .lh: value = signExtend(raw, width: 16)
            case .lw: value = signExtend(raw, width: 32)
            default: value = raw
            }
            // A device read may have raised an interrupt, armed a timer due before the slice
            // ends or asked for a stop: leave right after it, as the interpreter does.
            if state.pointee.exitRequest != 0 {
                leaveAfter(retired: Int(truncatingIfNeeded: argument >> 16), next: pc &+ ((argument >> 8) & 0xFF))
                return BPJITLoadResult(value: value, leave: 2)
            }
            return BPJITLoadResult(value: value, leave: 0)
        } catch {
            let retired = Int(truncatingIfNeeded: argument >> 16)
            retire(retired)
            state.pointee.jitBudget -= Int64(retired + 1)
            state.pointee.pc = pc
            enterTrapForJIT(error)
            return BPJITLoadResult(value: 0, leave: 1)
        }
    }

    /// A device access that completed set `exitRequest`: the block leaves right after the
    /// instruction (generated code jumps to the exit when the helper says so), having retired
    /// the `retired` instructions before it and itself, with pc at `next`.
    func leaveAfter(retired: Int, next: UInt64) {
        retire(retired + 1)
        state.pointee.jitBudget -= Int64(retired + 1)
        state.pointee.pc = next
    }

    func jitStore(_ address: UInt64, value: UInt64, pc: UInt64, argument: UInt64) -> UInt64 {
        if Trace.mask != 0 { state.pointee.pc = pc }
        state.pointee.clockBudget = state.pointee.jitBudget &- Int64(truncatingIfNeeded: argument >> 16)
        let size = Int(truncatingIfNeeded: argument & 0xFF)
        let retired = Int(truncatingIfNeeded: argument >> 16)
        do throws(Trap) {
            try victimStore(address, size: size, value: value)
        } catch {
            retire(retired)
            state.pointee.jitBudget -= Int64(retired + 1)
            state.pointee.pc = pc
            enterTrapForJIT(error)
            return 1
        }
        // As in `execute`: a device write may have raised an interrupt or a stop request.
        guard state.pointee.exitRequest == 0 else {
            leaveAfter(retired: retired, next: pc &+ ((argument >> 8) & 0xFF))
            return 1
        }
        return 0
    }

    /// `execute(instruction, count: 1)` with the frequent system instructions (CSR access, ECALL,
    /// MRET, SRET) dispatched straight to their interpreter functions, in the same order of
    /// effects as `execute` (counters, then pc; a trap retires nothing). Returns the budget used.
    @inline(__always)
    private func interpretOne(_ instruction: UnsafeMutablePointer<DecodedInstruction>, pc: UInt64) -> Int {
        let inst = instruction.pointee
        let next = pc &+ UInt64(inst.length)
        do throws(Trap) {
            switch inst.op {
            case .csrrw, .csrrs, .csrrc, .csrrwi, .csrrsi, .csrrci:
                try executeCSR(inst)
                retire(1)
                state.pointee.pc = next
            case .ecall:
                throw Trap.environmentCall(from: state.pointee.privilege)
            case .mret:
                let target = try executeMRET(inst.raw)
                retire(1)
                state.pointee.pc = target
            case .sret:
                let target = try executeSRET(inst.raw)
                retire(1)
                state.pointee.pc = target
            default:
                return execute(instruction, count: 1)
            }
        } catch {
            enterTrap(error)
        }
        return 1
    }

    func jitInterpret(_ instruction: UnsafeMutablePointer<DecodedInstruction>, pc: UInt64, retired: UInt64) -> UInt64 {
        let s = state
        retire(Int(truncatingIfNeeded: retired))
        state.pointee.pc = pc
        state.pointee.clockBudget = state.pointee.jitBudget &- Int64(truncatingIfNeeded: retired)
        let context = translationContext
        let used = interpretOne(instruction, pc: pc)
        if instruction.pointee.flushesTLBsInPlace || context != translationContext { jitEngine.invalidateVictims() }
        state.pointee.jitBudget -= Int64(truncatingIfNeeded: retired) + Int64(used)
        if s.pointee.exitRequest != 0 || s.pointee.waitingForInterrupt != 0 || s.pointee.mcountinhibit != 0 {
            return 1
        }
        if (s.pointee.mip | s.pointee.mipExternal) & s.pointee.mie != 0 && interruptToTake() != nil { return 1 }
        // A trap from an instruction that does not end the block: continue at the handler
        // through the run loop (the block's later instructions must not run).
        let inline = !instruction.pointee.endsBlock || instruction.pointee.continuesBlockInJIT
        if inline && s.pointee.pc != pc &+ UInt64(instruction.pointee.length) { return 1 }
        return 0
    }
}
#endif

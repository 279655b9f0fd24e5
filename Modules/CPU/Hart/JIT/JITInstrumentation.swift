#if arch(x86_64)
import CHartState
import Instrumentation

// Instrumentation in translated code (Hart+Instrument.swift, docs/plugins.md): while a
// block-executed callback is registered, every block is translated with a helper call at its
// entry, after the exit-request and budget checks (so it fires exactly when the block is about
// to run, as in the interpreter). Other kinds need nothing here: memory callbacks work through
// the empty TLBs and the load/store helpers, traps through `enterTrap`, and per-instruction
// callbacks make the hart use the interpreter.

extension JITHelpers {
    /// `blockExecuted(state, pc, count)`: reports block entry to the observer.
    static let blockExecuted: UInt = {
        let function: @convention(c) (UnsafeMutablePointer<HartState>, UInt64, UInt64) -> Void = { state, pc, count in
            Hart.withJIT(state) { hart in
                hart.instrumentation?.blockExecuted(hart: hart.hartNumber, pc: pc, instructions: Int(truncatingIfNeeded: count))
            }
        }
        return unsafeBitCast(function, to: UInt.self)
    }()
}

extension JITTranslator {
    /// The entry call: state.pc <- the block's pc (so `read_register("pc")` sees it; generated
    /// code otherwise writes it only at exits), then the plugin's C function directly when it
    /// is the only one, else the helper. The pinned registers are stored first (the callback may
    /// read guest registers) and reloaded after (the caller-saved ones do not survive it); rbx
    /// and r12 are callee-saved.
    ///
    /// MXCSR: inline FP code keeps the guest's IEEE flags sticky in MXCSR until a fold
    /// (`JITEngine.foldFlags`), so host FP in the callback must not add to them: MXCSR is saved
    /// before the call and reloaded after it only if the callback changed it (ldmxcsr is slow;
    /// folding on every block made FP-heavy guests 8x slower).
    func emitBlockExecutedCall() {
        // 16 bytes keep rsp 16-aligned for the call: [rsp] MXCSR before, [rsp+4] after.
        a.alu(.sub, .rsp, immediate: 16)
        JITTranslator.storePinned(a)
        JITTranslator.storeBudget(a)
        a.storeMXCSR(X86Memory(.rsp))
        a.mov(.rax, immediate: pc0)
        a.store(X86Memory(.rbx, StateOffset.pc), .rax)
        if let direct = engine.directBlockCall {
            a.mov(.rdi, immediate: UInt64(direct.udata))
            a.load(.rsi, X86Memory(.rbx, Int32(MemoryLayout<HartState>.offset(of: \HartState.hartid)!)))
            a.mov(.rdx, .rax)
            a.mov(.rcx, immediate: UInt64(instructions.count))
            a.mov(.rax, immediate: UInt64(direct.function))
        } else {
            a.mov(.rdi, .rbx)
            a.mov(.rsi, .rax)
            a.mov(.rdx, immediate: UInt64(instructions.count))
            a.mov(.rax, immediate: UInt64(JITHelpers.blockExecuted))
        }
        a.call(.rax)
        let same = a.newLabel()
        a.storeMXCSR(X86Memory(.rsp, 4))
        a.load(.rcx, X86Memory(.rsp), width: .bits32)
        a.alu(.cmp, .rcx, X86Memory(.rsp, 4), width: .bits32)
        a.jump(if: .equal, same)
        a.loadMXCSR(X86Memory(.rsp))
        a.bind(same)
        a.alu(.add, .rsp, immediate: 16)
        JITTranslator.reloadPinned(a)
        JITTranslator.loadBudget(a)
    }
}
#endif

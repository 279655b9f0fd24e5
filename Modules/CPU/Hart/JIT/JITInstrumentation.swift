#if arch(x86_64)
import CHartState

// Instrumentation in translated code (Hart+Instrument.swift, docs/plugins.md): while a
// block-executed callback is registered, every block is translated with a helper call at its
// entry, after the exit-request and budget checks (so it fires exactly when the block is about
// to run, as in the interpreter). Other kinds need nothing here: memory callbacks work through
// the empty TLBs and the load/store helpers, traps through `enterTrap`, and per-instruction
// callbacks make the hart use the interpreter.

extension JITHelpers {
    /// `blockExecuted(state, pc, count)`: reports block entry; sets `state.pc` first so the
    /// observer reads the block's pc (generated code only writes it at exits).
    static let blockExecuted: UInt = {
        let function: @convention(c) (UnsafeMutablePointer<HartState>, UInt64, UInt64) -> Void = { state, pc, count in
            Hart.withJIT(state) { hart in
                state.pointee.pc = pc
                hart.instrumentation?.blockExecuted(hart: hart, pc: pc, instructions: Int(truncatingIfNeeded: count))
            }
        }
        return unsafeBitCast(function, to: UInt.self)
    }()
}

extension JITTranslator {
    /// The entry call. Nothing is cached in host registers yet, so no write-back is needed;
    /// rbx and r12 are callee-saved.
    func emitBlockExecutedCall() {
        a.mov(.rdi, .rbx)
        a.mov(.rsi, immediate: pc0)
        a.mov(.rdx, immediate: UInt64(instructions.count))
        a.mov(.rax, immediate: UInt64(JITHelpers.blockExecuted))
        a.call(.rax)
    }
}

extension Hart {
    /// Translations must match `instrumentBlocks`: retranslate everything when it changes.
    func syncInstrumentation(_ jit: JITEngine) {
        jit.instrumentBlocks = instrumentedEvents.contains(.blockExecuted)
        jit.flush()
    }
}
#endif

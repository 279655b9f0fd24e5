import CHartState
import Instrumentation

// Instrumentation (plugin ABI 1.1, Plugins/include/backplane/instrument.h, docs/plugins.md).
//
// Zero cost when unused: `run(budget:)` tests `instrumentation` once per slice; without it
// nothing else below runs. With an observer attached, the hart reads its `events` once per
// slice and, when they changed, flushes decoded blocks, translated code and TLBs, so each kind
// is honoured from a clean state:
// - block translated: reported where a block is decoded (`runInstrumentedBlock`) or
//   translated (`Hart+JIT.translate`);
// - block executed: reported by `runInstrumentedBlock` (interpreter) and by a call emitted at
//   the entry of every translated block (`JITInstrumentation.swift`) while the kind is on;
// - instruction: the interpreter steps one instruction at a time (also under `--accel jit`);
// - memory: `fillTLB` stops filling the load/store TLBs, so every access of both engines takes
//   `loadSlow`/`storeSlow` (or the AMO path), which report it;
// - trap: reported at the top of `enterTrap`.

extension Hart {
    /// Attaches (or with nil, detaches) the observer; it takes effect at the next slice.
    public func attach(instrumentation observer: (any HartInstrumentation)?) {
        instrumentation = observer
        if observer == nil { applyInstrumentation([]) }
    }

    /// `run(budget:)` with an observer attached.
    @inline(never)
    func runInstrumented(budget: Int, _ observer: any HartInstrumentation) -> HartStop {
        let events = observer.events
        if events != instrumentedEvents { applyInstrumentation(events) }
#if arch(x86_64)
        if accelerator == .jit && !events.contains(.instruction) {
            let jit = jitEngine
            let blocks = events.contains(.blockExecuted)
            let direct = blocks ? observer.directBlockExecuted : nil
            let observed = !events.isEmpty
            if jit.instrumentBlocks != blocks || jit.directBlockCall != direct || jit.observed != observed {
                // Translations must match: retranslate everything.
                jit.instrumentBlocks = blocks
                jit.directBlockCall = direct
                jit.observed = observed
                jit.flush()
            }
            return runJIT(budget: budget)
        }
#endif
        if events.isEmpty { return runUninstrumented(budget: budget) }
        return runInterpreter(budget: budget, instrumented: true)
    }

    /// Drops everything decoded, translated or cached under the previous set of kinds.
    private func applyInstrumentation(_ events: InstrumentationEvents) {
        instrumentedEvents = events
        flushTranslations()
#if arch(x86_64)
        if let jit = jitIfCreated {
            jit.instrumentBlocks = false
            jit.directBlockCall = nil
            jit.observed = false
            jit.flush()
        }
#endif
    }

    /// `runBlock(limit:)` reporting translation, execution and (when wanted) each instruction.
    func runInstrumentedBlock(limit: Int) -> Int {
        guard let observer = instrumentation else { return runBlock(limit: limit) }
        let pc = state.pointee.pc
        let slot: Int
        do throws(Trap) {
            slot = try instrumentedSlot(pc, observer)
        } catch {
            enterTrap(error)
            return 1
        }
        let code = blocks.instructions(ofSlot: slot)
        let count = min(Int(blocks.headers[slot].count), limit)
        // Encodings come from guest memory: decoded `raw` is the expanded form for some RVC.
        let host = blocks.headers[slot].host
        if instrumentedEvents.contains(.blockExecuted) { observer.blockExecuted(hart: hartNumber, pc: pc, instructions: count) }
        guard instrumentedEvents.contains(.instruction) else { return execute(code, count: count) }
        // One at a time, as the JIT's `jitInterpret` does: stop where execute would have.
        var used = 0
        for index in 0..<count {
            let instruction = code + index
            let at = state.pointee.pc
            let length = instruction.pointee.length
            var encoding = instruction.pointee.raw
            if host != 0 {
                // SAFETY: the block's bytes lie in one RAM/ROM page (`decodeBlock`).
                let bytes = UnsafeRawPointer(bitPattern: host &+ UInt(truncatingIfNeeded: at &- pc))!
                encoding = length == 2 ? UInt32(bytes.loadUnaligned(as: UInt16.self)) : bytes.loadUnaligned(as: UInt32.self)
            }
            observer.instruction(hart: hartNumber, pc: at, encoding: length == 2 ? encoding & 0xFFFF : encoding)
            state.pointee.clockBudget = Int64(limit - used)
            used += execute(instruction, count: 1)
            let s = state
            if s.pointee.exitRequest != 0 || s.pointee.waitingForInterrupt != 0
                || s.pointee.pc != at &+ UInt64(instruction.pointee.length) { break }
        }
        return used
    }

    /// The block at `pc`, decoded if needed (reporting the translation).
    private func instrumentedSlot(_ pc: UInt64, _ observer: any HartInstrumentation) throws(Trap) -> Int {
        let entry = tlbFetch[Self.tlbIndex(pc)]
        if entry.tag == pc >> 12, let block = blocks.lookup(host: UInt(bitPattern: Self.hostAddress(pc, entry))) {
            return block.slot
        }
        let (slot, decoded) = try slot(at: pc)
        if decoded && instrumentedEvents.contains(.blockTranslated) {
            let code = blocks.instructions(ofSlot: slot)
            let count = Int(blocks.headers[slot].count)
            var bytes = 0
            for index in 0..<count { bytes += Int(code[index].length) }
            observer.blockTranslated(hart: hartNumber, pc: pc, instructions: count, bytes: bytes)
        }
        return slot
    }

    /// Reports a translated JIT block (called by `Hart+JIT.translate`).
    func noteBlockTranslated(pc: UInt64, instructions: Int, bytes: Int) {
        guard instrumentedEvents.contains(.blockTranslated), let observer = instrumentation else { return }
        observer.blockTranslated(hart: hartNumber, pc: pc, instructions: instructions, bytes: bytes)
    }

    /// Reports a completed data access (memory kind on).
    @inline(never)
    func noteMemoryAccess(_ address: UInt64, size: Int, isStore: Bool, value: UInt64) {
        guard let observer = instrumentation else { return }
        let mask: UInt64 = size >= 8 ? ~0 : (1 << UInt64(size * 8)) - 1
        observer.memoryAccess(hart: hartNumber, address: address, size: size, isStore: isStore, value: value & mask)
    }

    /// Reports a trap about to be entered (trap kind on).
    @inline(never)
    func noteTrap(cause: UInt64, value: UInt64) {
        instrumentation?.trap(hart: hartNumber, cause: cause, value: value, pc: state.pointee.pc, privilege: state.pointee.privilege)
    }
}

// MARK: Registers by name (instrument.h `read_register`)

/// The registers' ABI names in register order (unprivileged spec §25, table 25.1): one list for
/// `readRegister(named:)` and the GDB target description.
public enum ABIRegisterNames {
    public static let integer = ["zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1",
                                 "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7",
                                 "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6"]
    public static let float = ["ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7", "fs0", "fs1",
                               "fa0", "fa1", "fa2", "fa3", "fa4", "fa5", "fa6", "fa7",
                               "fs2", "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9", "fs10", "fs11",
                               "ft8", "ft9", "ft10", "ft11"]
}

extension Hart {
    /// The value of guest register `name` ("pc", "x5"/"t0", "f1"/"ft1", a CSR's lower-case
    /// name such as "mstatus"), read without side effects; nil for an unknown name.
    public func readRegister(named name: String) -> UInt64? {
        if name == "pc" { return state.pointee.pc }
        if name == "fp" { return registers[8] }
        if let index = ABIRegisterNames.integer.firstIndex(of: name) { return registers[index] }
        if let index = Self.numbered(name, prefix: "x") { return registers[index] }
        let float = ABIRegisterNames.float.firstIndex(of: name) ?? Self.numbered(name, prefix: "f")
        if let float {
            return withUnsafeBytes(of: state.pointee.f) { $0.load(fromByteOffset: float * 8, as: UInt64.self) }
        }
        guard let csr = CSRNumber.byName[name] else { return nil }
        return try? readCSR(csr, raw: 0)
    }

    /// 0...31 for "<prefix><n>".
    private static func numbered(_ name: String, prefix: Character) -> Int? {
        guard name.first == prefix, name.count > 1, name.count <= 3,
              let number = Int(name.dropFirst()), number >= 0, number < 32,
              String(number) == String(name.dropFirst()) else { return nil }
        return number
    }
}

extension Hart: InstrumentedHart {
    /// `mhartid` as the instrumentation ABI numbers harts.
    @inline(__always) public var hartNumber: UInt32 { UInt32(truncatingIfNeeded: state.pointee.hartid) }
}

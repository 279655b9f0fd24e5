#if arch(x86_64)
import CHartState
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The JIT's run loop: the interpreter's loop (Hart+Run) with translated blocks instead of
// decoded ones. Between blocks it takes interrupts and honours exit requests exactly where the
// interpreter does; generated code chains blocks of one page directly and follows other jumps
// through the jump cache, returning here only for exits, misses and chain requests.

extension Hart {
    /// The JIT version of `run(budget:)` (same contract).
    func runJIT(budget: Int) -> HartStop {
        defer {
            state.pointee.exitRequest = 0
            state.pointee.reservationValid = 0
        }
        if state.pointee.waitingForInterrupt != 0 {
            guard pendingAndEnabledInterrupts != 0 else { return .waitingForInterrupt }
            state.pointee.waitingForInterrupt = 0
        }
        let jit = jitEngine
        state.pointee.jitContext = Unmanaged.passUnretained(self).toOpaque()
        var remaining = budget
        // A chain stub's jump to patch once the block it asked for is known (0: none).
        var chainSite: UInt = 0
        var chainGeneration = 0
        while remaining > 0 {
            if state.pointee.exitRequest != 0 { return .exitRequested }
            let context = translationContext
            if (state.pointee.mip | state.pointee.mipExternal) & state.pointee.mie != 0 && takePendingInterrupt() {
                if context != translationContext { jit.invalidateVictims() }
                remaining -= 1
                chainSite = 0
                continue
            }
            let block: Int
            do throws(Trap) {
                block = state.pointee.mcountinhibit == 0 ? try jitBlock(jit) : -1
            } catch {
                enterTrapForJIT(error)
                remaining -= 1
                chainSite = 0
                continue
            }
            guard block >= 0, jit.blocks[block].count <= remaining else {
                // Not translatable here (an instruction straddling a page, mixed PMP, counters
                // inhibited), or the slice ends inside the block: the interpreter runs it, so
                // slices end at the same instruction as under the interpreter.
                remaining -= instrumentedEvents.isEmpty ? runBlock(limit: remaining) : runInstrumentedBlock(limit: remaining)
                // Whatever the interpreter ran may have flushed the first-level TLBs.
                if block < 0 || jit.blocks[block].flushesTLBsInPlace || context != translationContext {
                    jit.invalidateVictims()
                }
                chainSite = 0
                if state.pointee.waitingForInterrupt != 0 { return .waitingForInterrupt }
                continue
            }
            let entry = jit.blocks[block].entry
            if chainSite != 0 && chainGeneration == jit.flushGeneration {
                jit.chain(site: chainSite, to: entry)
            }
            state.pointee.jitBudget = Int64(remaining)
            chainSite = jit.enter(state, entry)
            chainGeneration = jit.flushGeneration
            remaining = Int(truncatingIfNeeded: state.pointee.jitBudget)
            if state.pointee.waitingForInterrupt != 0 { return .waitingForInterrupt }
        }
        return .budgetExhausted
    }

    /// The index of the translated block at the PC, translating it if needed; -1 when the
    /// interpreter must run it. Throws the fetch fault of the PC.
    @inline(__always)
    private func jitBlock(_ jit: JITEngine) throws(Trap) -> Int {
        let pc = state.pointee.pc
        let fetch = tlbFetch[Self.tlbIndex(pc)]
        if fetch.tag == pc >> 12 {
            let host = UInt(bitPattern: Self.hostAddress(pc, fetch))
            if let index = jit.find(pc: pc, host: host) { return index }
        }
        guard let host = try fetchTranslation(pc) else { return -1 }
        if let index = jit.find(pc: pc, host: host) { return index }
        return translate(jit, pc: pc, host: host)
    }

    /// Decodes and translates the block at guest `pc` (host address `host`); returns its index,
    /// or -1 if its first instruction straddles the page end.
    private func translate(_ jit: JITEngine, pc: UInt64, host: UInt) -> Int {
        // SAFETY: `host` lies in a RAM/ROM page wholly inside its region (`fetchTranslation`).
        let pageEnd = (host | 0xFFF) &+ 1
        var instructions: [DecodedInstruction] = []
        var address = host
        while instructions.count < JITEngine.maxBlockLength && address < pageEnd {
            let low = UnsafeRawPointer(bitPattern: address)!.loadUnaligned(as: UInt16.self)
            let length: UInt = low & 3 == 3 ? 4 : 2
            if address &+ length > pageEnd { break }
            let high = length == 4 ? UnsafeRawPointer(bitPattern: address &+ 2)!.loadUnaligned(as: UInt16.self) : 0
            let instruction = decodeInstruction(low: UInt16(littleEndian: low), high: UInt16(littleEndian: high))
            instructions.append(instruction)
            address &+= length
            if instruction.endsBlock && !instruction.continuesBlockInJIT { break }
        }
        guard !instructions.isEmpty else { return -1 }
        for attempt in 0..<2 {
            if JITEngine.codeSize - jit.used < JITEngine.reserve
                || jit.instructionPoolUsed + instructions.count > JITEngine.instructionPoolSize || attempt == 1 {
                jit.flush()
            }
            let start = jit.code + jit.used
            let assembler = X86Assembler(base: start, capacity: JITEngine.codeSize - jit.used)
            var translator = JITTranslator(engine: jit, assembler: assembler, pc: pc, instructions: instructions)
            guard let emitted = translator.emit() else { continue }
            assembler.align(16)
            jit.used += assembler.position
            let index = jit.add(TranslatedBlock(pc: pc, host: host, entry: emitted.entry, exitStub: emitted.exitStub,
                                                count: instructions.count,
                                                flushesTLBsInPlace: instructions.contains { $0.flushesTLBsInPlace },
                                                valid: true))
            if instrumentedEvents.contains(.blockTranslated) {
                noteBlockTranslated(pc: pc, instructions: instructions.count, bytes: Int(address &- host))
            }
            let options = JITDebugOptions.current
            if options.perfMap { jit.notePerfMap(start: emitted.entry, size: assembler.position, pc: pc) }
            if options.traceGuest || options.traceHost {
                traceBlock(pc: pc, instructions: instructions, code: start, size: assembler.position, options: options)
            }
            return index
        }
        return -1
    }

    private func traceBlock(pc: UInt64, instructions: [DecodedInstruction], code: UnsafePointer<UInt8>, size: Int,
                            options: JITDebugOptions) {
        var text = ""
        if options.traceGuest {
            text += "IN: 0x\(String(pc, radix: 16)) (\(instructions.count) instructions)\n"
            var address = pc
            for inst in instructions {
                let raw = inst.length == 2 ? String(format4: UInt64(inst.raw & 0xFFFF), digits: 4)
                    : String(format4: UInt64(inst.raw), digits: 8)
                text += "  0x\(String(address, radix: 16)):  \(raw)  \(inst.op) rd=x\(inst.rd) rs1=x\(inst.rs1) "
                    + "rs2=x\(inst.rs2) imm=\(Int64(bitPattern: inst.imm))\n"
                address &+= UInt64(inst.length)
            }
        }
        if options.traceHost {
            text += "OUT: [size=\(size)]\n"
            if let disassembler = HostDisassembler.shared {
                for line in disassembler.disassemble(code, count: size, address: UInt64(UInt(bitPattern: code))) {
                    text += "  0x\(String(line.address, radix: 16)):  \(line.text)\n"
                }
            } else {
                for offset in stride(from: 0, to: size, by: 16) {
                    let bytes = (offset..<min(size, offset + 16)).map { String(format4: UInt64(code[$0]), digits: 2) }
                    text += "  0x\(String(UInt(bitPattern: code) + UInt(offset), radix: 16)):  \(bytes.joined(separator: " "))\n"
                }
            }
        }
        var bytes = Array((text + "\n").utf8)
        _ = write(2, &bytes, bytes.count)
    }
}

private extension String {
    /// Zero-padded lower-case hex.
    init(format4 value: UInt64, digits: Int) {
        let hex = String(value, radix: 16)
        self = String(repeating: "0", count: Swift.max(0, digits - hex.count)) + hex
    }
}
#endif

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
        var remaining = budget
        defer {
            state.pointee.exitRequest = 0
            state.pointee.reservationValid = 0
            state.pointee.budgetLeft = Int64(remaining)
        }
        if state.pointee.waitingForInterrupt != 0 {
            guard pendingAndEnabledInterrupts != 0 else { return .waitingForInterrupt }
            state.pointee.waitingForInterrupt = 0
        }
        let jit = jitEngine
        jit.noteSiteSlotRate(instret: state.pointee.instret, invalidations: probeSlotInvalidations)
        let enter = jit.enter!
        state.pointee.jitContext = Unmanaged.passUnretained(self).toOpaque()
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
            let found: UnsafeMutablePointer<DispatchEntry>?
            do throws(Trap) {
                found = state.pointee.mcountinhibit == 0 ? try jitBlock(jit) : nil
            } catch {
                enterTrapForJIT(error)
                remaining -= 1
                chainSite = 0
                continue
            }
            guard let entry = found, Int(entry.pointee.count) <= remaining else {
                // Not translatable here (an instruction fetched uncached, mixed PMP, counters
                // inhibited), or the slice ends inside the block: the interpreter runs it, so
                // slices end at the same instruction as under the interpreter.
                let flushes = found.map { $0.pointee.flags & DispatchTable.flushesTLBsInPlace != 0 } ?? true
                interpretBlock(jit, remaining: &remaining, flushes: flushes, context: context)
                chainSite = 0
                if state.pointee.waitingForInterrupt != 0 { return .waitingForInterrupt }
                continue
            }
            let code = entry.pointee.code
            if chainSite != 0 && chainGeneration == jit.flushGeneration {
                jit.chain(site: chainSite, to: code, fetchGeneration: state.pointee.jitFetchGeneration)
            }
            if jit.returnStackStale {
                // Landings of the dropped code: zeroed entries never match (see HartState.h).
                _ = withUnsafeMutableBytes(of: &state.pointee.jitReturnStack) { $0.initializeMemory(as: UInt8.self, repeating: 0) }
                jit.returnStackStale = false
            }
            state.pointee.jitBudget = Int64(remaining)
            state.pointee.jitBudgetBase = Int64(remaining)
            chainSite = enter(state, code)
            Self.syncJITCounters(state)
            chainGeneration = jit.flushGeneration
            remaining = Int(truncatingIfNeeded: state.pointee.jitBudget)
            if chainSite == JITEngine.pageRunMiss {
                // A loop's next load or store was not in the TLB (or misaligned): one iteration
                // in the interpreter fills it. A loop that keeps missing (device registers) is
                // translated again without page runs.
                let pc = state.pointee.pc, now = state.pointee.instret
                var misses = jit.pageRunMisses[pc] ?? (0, now)
                misses.inRow = now &- misses.instret < JITEngine.pageRunMissSpacing ? misses.inRow + 1 : 1
                misses.instret = now
                if misses.inRow < JITEngine.pageRunMissLimit {
                    jit.pageRunMisses[pc] = misses
                    chainSite = JITEngine.interpretOnce
                } else {
                    jit.pageRunMisses[pc] = nil
                    chainSite = JITEngine.retranslatePlain
                }
            }
            if chainSite == JITEngine.interpretBlock || chainSite == JITEngine.retranslatePlain {
                // A block across a page end found its second page mapped elsewhere, or a block
                // found a register it assumed sign-extended not to be: drop it (the next visit
                // translates it for the new mapping, or without the assumption) and interpret
                // this once.
                if chainSite == JITEngine.retranslatePlain { jit.plainBlocks.insert(state.pointee.pc) }
                chainSite = 0
                let pc = state.pointee.pc
                let fetch = tlbFetch[Self.tlbIndex(pc)]
                if fetch.tag == pc >> 12 { jit.invalidate(pc: pc, host: UInt(bitPattern: Self.hostAddress(pc, fetch))) }
                interpretBlock(jit, remaining: &remaining, flushes: false, context: translationContext)
            } else if chainSite == JITEngine.interpretOnce {
                // A self-loop's entry found a register not sign-extended that it keeps only the
                // low word of: one iteration in the interpreter makes it so.
                chainSite = 0
                interpretBlock(jit, remaining: &remaining, flushes: false, context: translationContext)
            }
            if state.pointee.waitingForInterrupt != 0 { return .waitingForInterrupt }
        }
        return .budgetExhausted
    }

    /// Runs the block at the pc in the interpreter (at most `remaining` instructions).
    @inline(never)
    private func interpretBlock(_ jit: JITEngine, remaining: inout Int, flushes: Bool, context: (UInt64, UInt64, UInt64)) {
        state.pointee.clockBudget = Int64(remaining)
        remaining -= instrumentedEvents.isEmpty ? runBlock(limit: remaining) : runInstrumentedBlock(limit: remaining)
        // Whatever the interpreter ran may have flushed the first-level TLBs.
        if flushes || context != translationContext { jit.invalidateVictims() }
    }

    /// The dispatch entry of the translated block at the PC, translating it if needed; nil when
    /// the interpreter must run it. Throws the fetch fault of the PC.
    @inline(__always)
    private func jitBlock(_ jit: JITEngine) throws(Trap) -> UnsafeMutablePointer<DispatchEntry>? {
        let pc = state.pointee.pc
        let fetch = tlbFetch[Self.tlbIndex(pc)]
        if fetch.tag == pc >> 12 {
            let host = UInt(bitPattern: Self.hostAddress(pc, fetch))
            if let entry = jit.find(pc: pc, host: host) { return entry }
        }
        return try jitBlockSlow(jit)
    }

    @inline(never)
    private func jitBlockSlow(_ jit: JITEngine) throws(Trap) -> UnsafeMutablePointer<DispatchEntry>? {
        let pc = state.pointee.pc
        guard let host = try fetchTranslation(pc) else { return nil }
        if let entry = jit.find(pc: pc, host: host) { return entry }
        return translate(jit, pc: pc, host: host)
    }

    /// The host address of the next virtual page after `pc`'s when a block may run on into it:
    /// fetchable, cacheable RAM/ROM now (no trap is taken here: a fault is the interpreter's to
    /// raise when execution gets there). Not while a plugin observes the hart, whose block
    /// shapes must be the interpreter's.
    private func nextPageForBlock(_ jit: JITEngine, pc: UInt64) -> UInt? {
        guard !jit.observed else { return nil }
        let next = (pc | 0xFFF) &+ 1
        guard let host = try? fetchTranslation(next) else { return nil }
        return host
    }

    /// Decodes and translates the block at guest `pc` (host address `host`); returns its
    /// dispatch entry, or nil if its first instruction cannot be fetched from cached pages.
    /// A block goes on past a conditional branch that jumps forward (a side exit for the taken
    /// path): if/else code then runs as one block on its fall-through path. It still ends at
    /// backward branches, so a loop's back edge closes its block (and may loop in place).
    /// A block may run on into the next virtual page (also through a 32-bit instruction split
    /// across the two); it then checks at entry that the page is still mapped where it was.
    /// A conditional branch back to code before the block's start (and not followed into the
    /// block): a rotated loop's early exit (`ld a0, 0(a0); beqz a0, out; ...; bne ..., head`,
    /// where `out` precedes the loop). Like a forward branch, its taken path leaves through a
    /// chain and the block goes on, so the loop can close on its own start and loop in place.
    /// A branch back into the block (an inner loop) still ends it.
    private func isExitBefore(_ instruction: DecodedInstruction, at address: UInt64, start: UInt64,
                              visited: Set<UInt64>) -> Bool {
        switch instruction.op {
        case .beq, .bne, .blt, .bge, .bltu, .bgeu:
            let target = address &+ instruction.imm
            return Int64(bitPattern: instruction.imm) < 0 && target < start && !visited.contains(target)
        default:
            return false
        }
    }

    private func translate(_ jit: JITEngine, pc: UInt64, host: UInt) -> UnsafeMutablePointer<DispatchEntry>? {
        // SAFETY: `host` lies in a RAM/ROM page wholly inside its region (`fetchTranslation`),
        // and so does `secondPage` (`nextPageForBlock`).
        var pageEnd = (host | 0xFFF) &+ 1
        var secondPage: UInt = 0
        var instructions: [DecodedInstruction] = []
        var address = host
        var guestAddress = pc
        var bytes = 0
        // Guest pcs already in the block (only kept once a `jal x0` has been followed).
        var visited: Set<UInt64> = []
        while instructions.count < JITEngine.maxBlockLength {
            if !visited.isEmpty {
                // Code reached again through a followed jump: end here (chained like a block end).
                guard visited.insert(guestAddress).inserted else { break }
            }
            if address == pageEnd {
                // At the end of the first page: go on in the next one if it is fetchable.
                guard secondPage == 0, let next = nextPageForBlock(jit, pc: pc) else { break }
                secondPage = next
                address = next
                pageEnd = next &+ 0x1000
            }
            let low = UInt16(littleEndian: UnsafeRawPointer(bitPattern: address)!.loadUnaligned(as: UInt16.self))
            var high: UInt16 = 0
            var length: UInt = 2
            if low & 3 == 3 {
                length = 4
                if address &+ 2 < pageEnd {
                    high = UInt16(littleEndian: UnsafeRawPointer(bitPattern: address &+ 2)!.loadUnaligned(as: UInt16.self))
                } else {
                    // Split across the page end: the high half starts the next page.
                    guard secondPage == 0, let next = nextPageForBlock(jit, pc: pc) else { break }
                    secondPage = next
                    high = UInt16(littleEndian: UnsafeRawPointer(bitPattern: next)!.loadUnaligned(as: UInt16.self))
                    address = next &- 2
                    pageEnd = next &+ 0x1000
                }
            }
            let instruction = decodeInstruction(low: low, high: high)
            instructions.append(instruction)
            address &+= length
            guestAddress &+= UInt64(length)
            bytes += Int(length)
            if instruction.op == .jal && instruction.rd == 0 && !jit.observed && secondPage == 0
                && instructions.count < JITEngine.maxBlockLength {
                // `j target` to another place in the block's first page: the block goes on there
                // (JITTranslator follows it), so a case of a switch or the tail of an if/else
                // runs on into the code after the join. Only within the first page, whose host
                // page the block is already invalidated with; never back to code it holds (the
                // block's own start is a self-loop's back edge instead).
                let jumpPC = guestAddress &- UInt64(length)
                let target = jumpPC &+ instruction.imm
                if target >> 12 == pc >> 12 && target != pc {
                    if visited.isEmpty {
                        var walk = pc
                        for inst in instructions { visited.insert(walk); walk &+= UInt64(inst.length) }
                    }
                    if !visited.contains(target) {
                        guestAddress = target
                        address = (host & ~0xFFF) | UInt(target & 0xFFF)
                        continue
                    }
                }
            }
            if instruction.endsBlock && !instruction.continuesBlockInJIT
                && !((instruction.isForwardBranch || isExitBefore(instruction, at: guestAddress &- UInt64(length), start: pc,
                                                                  visited: visited)) && !jit.observed) { break }
        }
        // A followed jump is never the last instruction: `JITTranslator` takes every jal before
        // the last as followed.
        guard !instructions.isEmpty else { return nil }
        var flags: UInt32 = instructions.contains { $0.flushesTLBsInPlace } ? DispatchTable.flushesTLBsInPlace : 0
        if secondPage != 0 { flags |= DispatchTable.crossesPage }
        for attempt in 0..<2 {
            if JITEngine.codeSize - jit.used < JITEngine.reserve || jit.table.isNearlyFull
                || jit.instructionPoolUsed + instructions.count > JITEngine.instructionPoolSize || attempt == 1 {
                jit.flush()
            }
            let start = jit.code + jit.used
            let assembler = X86Assembler(base: start, capacity: JITEngine.codeSize - jit.used)
            let registers = withUnsafeBytes(of: &state.pointee.x) { Array($0.bindMemory(to: UInt64.self)) }
            var translator = JITTranslator(engine: jit, assembler: assembler, pc: pc, instructions: instructions,
                                           secondPage: secondPage, entryRegisters: registers)
            guard let emitted = translator.emit() else { continue }
            assembler.align(16)
            jit.used += assembler.position
            guard let entry = jit.add(TranslatedBlock(pc: pc, host: host, entry: emitted.entry, exitStub: emitted.exitStub,
                                                      secondPage: secondPage, valid: true),
                                      count: instructions.count, flags: flags) else { continue }
            jit.addSwitchTables(translator.switchTables)
            if instrumentedEvents.contains(.blockTranslated) {
                noteBlockTranslated(pc: pc, instructions: instructions.count, bytes: bytes)
            }
            let options = JITDebugOptions.current
            if options.perfMap { jit.notePerfMap(start: emitted.entry, size: assembler.position, pc: pc) }
            if options.traceGuest || options.traceHost {
                traceBlock(pc: pc, instructions: instructions, code: start, size: assembler.position, options: options)
            }
            return entry
        }
        return nil
    }

    private func traceBlock(pc: UInt64, instructions: [DecodedInstruction], code: UnsafePointer<UInt8>, size: Int,
                            options: JITDebugOptions) {
        var text = ""
        if options.traceGuest {
            text += "IN: 0x\(String(pc, radix: 16)) (\(instructions.count) instructions)\n"
            var address = pc
            for (index, inst) in instructions.enumerated() {
                let raw = inst.length == 2 ? String(format4: UInt64(inst.raw & 0xFFFF), digits: 4)
                    : String(format4: UInt64(inst.raw), digits: 8)
                text += "  0x\(String(address, radix: 16)):  \(raw)  \(inst.op) rd=x\(inst.rd) rs1=x\(inst.rs1) "
                    + "rs2=x\(inst.rs2) imm=\(Int64(bitPattern: inst.imm))\n"
                address = index < instructions.count - 1 && inst.op == .jal ? address &+ inst.imm : address &+ UInt64(inst.length)
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

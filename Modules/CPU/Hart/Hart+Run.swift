import CHartState
import Memory

// The run loop: between blocks it looks at exit requests and interrupts, finds (or decodes) the
// block at the PC through the fetch TLB and the block cache, and executes it.

extension Hart {
    /// Resets the hart to M-mode at `pc` with all registers zero except a0/a1 (the boot
    /// protocol: hart ID and device-tree address), CSRs at their reset values, and every
    /// translation and decoded block dropped.
    public func reset(pc: UInt64, a0: UInt64, a1: UInt64) {
        let hartID = state.pointee.hartid
        // Interrupt lines are driven by devices, which a hart reset does not reset.
        let lines = state.pointee.mipExternal
        // Never goes back: chains linked under an old value must not match again.
        let fetchGeneration = state.pointee.jitFetchGeneration
        state.pointee = HartState()
        state.pointee.hartid = hartID
        state.pointee.mipExternal = lines
        state.pointee.jitFetchGeneration = fetchGeneration
        state.pointee.pc = pc
        state.pointee.privilege = privilegeMachine
        state.pointee.misa = CSRMask.misa
        state.pointee.mstatus = MStatus.xlFields
        registers[10] = a0
        registers[11] = a1
        dropAllTranslations()
    }

    /// Forgets every cached translation, decoded block and translated block: after a reset or a
    /// snapshot restore nothing cached under the previous state may be used.
    func dropAllTranslations() {
        translationContext = (~0, 0, 0)
        flushTranslations()
        noteTranslationContextChange()
#if arch(x86_64)
        jitIfCreated?.flush()
#endif
    }

    /// Executes up to `budget` instructions (a trap counts as one) and says why it stopped;
    /// what it left of the budget is in `state.budgetLeft`. Clears `state.exitRequest` when it returns. Also drops the LR reservation on return: the
    /// machine may run another hart next, whose stores this hart would not see, and an SC may
    /// always fail spuriously (unprivileged spec §8.2).
    public func run(budget: Int) -> HartStop {
        if let observer = instrumentation { return runInstrumented(budget: budget, observer) }
        return runUninstrumented(budget: budget)
    }

    /// `run(budget:)` without instrumentation.
    @inline(__always)
    func runUninstrumented(budget: Int) -> HartStop {
#if arch(x86_64)
        if accelerator == .jit { return runJIT(budget: budget) }
#endif
        return runInterpreter(budget: budget, instrumented: false)
    }

    /// The interpreter's run loop, for both `run` paths: between blocks it takes pending
    /// interrupts and honours exit requests; `instrumented` (a constant at each call, so each
    /// path gets its own copy) reports blocks and instructions to the attached observer.
    @inline(__always)
    func runInterpreter(budget: Int, instrumented: Bool) -> HartStop {
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
        while remaining > 0 {
            if state.pointee.exitRequest != 0 { return .exitRequested }
            if (state.pointee.mip | state.pointee.mipExternal) & state.pointee.mie != 0 && takePendingInterrupt() {
                remaining -= 1
                continue
            }
            state.pointee.clockBudget = Int64(remaining)
            remaining -= instrumented ? runInstrumentedBlock(limit: remaining) : runBlock(limit: remaining)
            if state.pointee.waitingForInterrupt != 0 { return .waitingForInterrupt }
        }
        return .budgetExhausted
    }

    /// Finds the block at the PC and executes at most `limit` of its instructions. Returns how
    /// much of the budget was used (retired instructions, plus one for a trap).
    @inline(__always)
    func runBlock(limit: Int) -> Int {
        let pc = state.pointee.pc
        let entry = tlbFetch[Self.tlbIndex(pc)]
        if entry.tag == pc >> 12 {
            let host = UInt(bitPattern: Self.hostAddress(pc, entry))
            if let block = blocks.lookup(host: host) {
                return execute(blocks.instructions(ofSlot: block.slot), count: min(block.count, limit))
            }
        }
        return runBlockSlow(limit: limit)
    }

    /// Fetch-TLB or block-cache miss: translate the PC, decode a block if needed, execute.
    @inline(never)
    private func runBlockSlow(limit: Int) -> Int {
        do throws(Trap) {
            let (slot, _) = try slot(at: state.pointee.pc)
            return execute(blocks.instructions(ofSlot: slot), count: min(Int(blocks.headers[slot].count), limit))
        } catch {
            enterTrap(error)
            return 1
        }
    }

    /// The block-cache slot holding the block at `pc` after a fetch-TLB miss: translated, looked
    /// up, and decoded if not cached (`decoded` true) into its slot, or as one uncached
    /// instruction into the scratch slot. Throws the fetch fault of `pc`.
    func slot(at pc: UInt64) throws(Trap) -> (slot: Int, decoded: Bool) {
        guard let host = try fetchTranslation(pc) else { return (try decodeSingle(pc), true) }
        if let block = blocks.lookup(host: host) { return (block.slot, false) }
        let candidate = BlockCache.slot(forHost: host)
        return (decodeBlock(host: host, into: candidate) ? candidate : try decodeSingle(pc), true)
    }

    /// Translates the PC for execution. Returns the host address when the page can be cached
    /// (RAM/ROM, one PMP outcome for the whole page), after entering it in the fetch TLB;
    /// nil when the instruction must be fetched uncached (`decodeSingle`).
    func fetchTranslation(_ pc: UInt64) throws(Trap) -> UInt? {
        let privilege = state.pointee.privilege
        let physical = try translate(pc, kind: .fetch, privilege: privilege)
        // Device memory (an mmapped VFIO BAR) is never executed: no PMA of an I/O region
        // allows it here, and translating it would read the device (privileged spec §3.6.1).
        guard let region = bus.region(containing: physical), region.kind != .deviceMemory, let host = region.host else {
            throw .instructionAccessFault(pc)
        }
        let page = physical & ~0xFFF
        guard page >= region.base, page &+ 0x1000 <= region.end,
              pmpAllows(page, size: 0x1000, kind: .fetch, privilege: privilege) else {
            guard pmpAllows(physical, size: 2, kind: .fetch, privilege: privilege) else {
                throw .instructionAccessFault(pc)
            }
            return nil
        }
        let hostPage = UInt64(UInt(bitPattern: host + Int(page &- region.base)))
        tlbFetch[Self.tlbIndex(pc)] = BPTLBEntry(tag: pc >> 12, addend: Int64(bitPattern: hostPage &- (pc & ~0xFFF)))
        if !bus.isCodePage(physical) {
            bus.markCodePage(physical)
            group.pageBecameCode(hostPage: UInt(hostPage))
        }
        return UInt(hostPage) | UInt(pc & 0xFFF)
    }

    /// Decodes the block starting at `host` into `slot`: up to `BlockCache.maxLength`
    /// instructions, ending after a block-ending instruction or before the page end. Returns
    /// false when the first instruction straddles the page end (it needs `decodeSingle`).
    func decodeBlock(host: UInt, into slot: Int) -> Bool {
        // SAFETY: `host` lies in a RAM/ROM page wholly inside its region (`fetchTranslation`).
        let pageEnd = (host | 0xFFF) &+ 1
        let code = blocks.instructions(ofSlot: slot)
        var address = host
        var count = 0
        while count < BlockCache.maxLength && address < pageEnd {
            let low = UnsafeRawPointer(bitPattern: address)!.loadUnaligned(as: UInt16.self)
            let length: UInt = low & 3 == 3 ? 4 : 2
            if address &+ length > pageEnd { break }
            let high = length == 4 ? UnsafeRawPointer(bitPattern: address &+ 2)!.loadUnaligned(as: UInt16.self) : 0
            let instruction = decodeInstruction(low: UInt16(littleEndian: low), high: UInt16(littleEndian: high))
            code[count] = instruction
            count += 1
            address &+= length
            if instruction.endsBlock { break }
        }
        guard count > 0 else { return false }
        blocks.headers[slot] = BlockCache.Header(host: host, count: Int32(count),
                                                 generation: blocks.generation(forHost: host).pointee)
        return true
    }

    /// Fetches and decodes the one instruction at `pc` without caching it (it straddles a page,
    /// or its page has mixed PMP permissions) into the scratch slot. For a fault on the second
    /// half, tval is the address of that half (privileged spec §3.1.16).
    func decodeSingle(_ pc: UInt64) throws(Trap) -> Int {
        let low = try fetchHalfword(pc, faultAddress: pc)
        var high: UInt16 = 0
        if low & 3 == 3 { high = try fetchHalfword(pc &+ 2, faultAddress: pc &+ 2) }
        let slot = BlockCache.scratchSlot
        blocks.instructions(ofSlot: slot)[0] = decodeInstruction(low: low, high: high)
        blocks.headers[slot] = BlockCache.Header(host: 0, count: 1, generation: 0)
        return slot
    }

    private func fetchHalfword(_ address: UInt64, faultAddress: UInt64) throws(Trap) -> UInt16 {
        let privilege = state.pointee.privilege
        let physical: UInt64
        do throws(Trap) {
            physical = try translate(address, kind: .fetch, privilege: privilege)
        } catch {
            throw Trap(cause: error.cause, value: faultAddress)
        }
        guard pmpAllows(physical, size: 2, kind: .fetch, privilege: privilege),
              let region = bus.region(containing: physical), region.kind != .mmio,
              let value = bus.read(physical, size: 2) else {
            throw .instructionAccessFault(faultAddress)
        }
        return UInt16(truncatingIfNeeded: value)
    }
}

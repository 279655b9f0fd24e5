import CHartState

/// Page-table entry bits (RISC-V privileged spec 1.12 §4.3.1, figure 4.18).
enum PTE {
    static let valid: UInt64 = 1 << 0
    static let read: UInt64 = 1 << 1
    static let write: UInt64 = 1 << 2
    static let execute: UInt64 = 1 << 3
    static let user: UInt64 = 1 << 4
    static let global: UInt64 = 1 << 5
    static let accessed: UInt64 = 1 << 6
    static let dirty: UInt64 = 1 << 7
    static let ppnMask: UInt64 = (1 << 44) - 1
}

extension Hart {
    /// The privilege loads and stores are checked at: mstatus.MPP when M-mode sets MPRV
    /// (§3.1.6.3); instruction fetches always use the current privilege.
    @inline(__always) var dataPrivilege: UInt64 {
        let privilege = state.pointee.privilege
        let status = state.pointee.mstatus
        if privilege == privilegeMachine && status & MStatus.mprv != 0 {
            return (status & MStatus.mpp) >> MStatus.mppShift
        }
        return privilege
    }

    func pageFault(_ kind: AccessKind, _ address: UInt64) -> Trap {
        switch kind {
        case .load: return .loadPageFault(address)
        case .store: return .storePageFault(address)
        case .fetch: return .instructionPageFault(address)
        }
    }

    func accessFault(_ kind: AccessKind, _ address: UInt64) -> Trap {
        switch kind {
        case .load: return .loadAccessFault(address)
        case .store: return .storeAccessFault(address)
        case .fetch: return .instructionAccessFault(address)
        }
    }

    /// Translates virtual address `address` for an access of `kind` at `privilege`, walking the
    /// Sv39/Sv48 tables (§4.3.2, §4.4, §4.5) and setting A (and D for stores) in the leaf PTE
    /// as hardware does (the Svadu behaviour; the update is atomic because the walk and the
    /// write-back happen with nothing else running on this hart and no other hart interleaved
    /// within one instruction). `inspecting` (a debugger's look) skips the permission checks and
    /// the A/D update: only whether and where the address is mapped matters.
    func translate(_ address: UInt64, kind: AccessKind, privilege: UInt64, inspecting: Bool = false) throws(Trap) -> UInt64 {
        let satp = state.pointee.satp
        let mode = satp >> 60
        if privilege == privilegeMachine || mode == 0 { return address }
        let levels = mode == 8 ? 3 : 4
        // Bits above the virtual-address width must equal its top bit (§4.4.1, §4.5.1).
        let vaBits = UInt64(12 + 9 * levels)
        let upper = Int64(bitPattern: address) >> Int64(vaBits - 1)
        guard upper == 0 || upper == -1 else { throw pageFault(kind, address) }

        var table = (satp & PTE.ppnMask) << 12
        var level = levels - 1
        while true {
            let index = (address >> UInt64(12 + 9 * level)) & 0x1FF
            let entryAddress = table &+ index &* 8
            // The walk's own accesses are checked by PMP as S-mode accesses (§3.7.1); failing
            // ones raise the access fault of the original access (§4.3.2 step 2).
            guard pmpAllows(entryAddress, size: 8, kind: .load, privilege: privilegeSupervisor),
                  let entry = bus.read(entryAddress, size: 8) else {
                throw accessFault(kind, address)
            }
            // Invalid, W without R, or reserved bits 63:54 set (no Svpbmt, Svnapot).
            if entry & PTE.valid == 0 || (entry & PTE.read == 0 && entry & PTE.write != 0) || entry >> 54 != 0 {
                throw pageFault(kind, address)
            }
            if entry & (PTE.read | PTE.execute) == 0 {
                // Pointer to the next level; D, A and U are reserved in non-leaf PTEs.
                guard level > 0, entry & (PTE.dirty | PTE.accessed | PTE.user) == 0 else {
                    throw pageFault(kind, address)
                }
                level -= 1
                table = ((entry >> 10) & PTE.ppnMask) << 12
                continue
            }
            if !inspecting { try checkLeafPermissions(entry, kind: kind, privilege: privilege, address: address) }
            let ppn = (entry >> 10) & PTE.ppnMask
            let offsetBits = UInt64(12 + 9 * level)
            // A superpage's PPN must be aligned to its size (§4.3.2 step 6).
            if level > 0 && ppn & ((1 << UInt64(9 * level)) - 1) != 0 { throw pageFault(kind, address) }
            var updated = entry | PTE.accessed
            if kind == .store { updated |= PTE.dirty }
            if updated != entry && !inspecting {
                guard pmpAllows(entryAddress, size: 8, kind: .store, privilege: privilegeSupervisor),
                      bus.write(entryAddress, size: 8, value: updated) else {
                    throw accessFault(kind, address)
                }
            }
            let offsetMask: UInt64 = (1 << offsetBits) - 1
            return (ppn << 12) & ~offsetMask | address & offsetMask
        }
    }

    /// Leaf PTE permission checks (§4.3.2 step 5, §4.3.1 for U/SUM/MXR).
    private func checkLeafPermissions(_ entry: UInt64, kind: AccessKind, privilege: UInt64, address: UInt64) throws(Trap) {
        let status = state.pointee.mstatus
        if entry & PTE.user != 0 {
            // S-mode never executes user pages and reads/writes them only with SUM.
            if privilege == privilegeSupervisor && (kind == .fetch || status & MStatus.sum == 0) {
                throw pageFault(kind, address)
            }
        } else if privilege == privilegeUser {
            throw pageFault(kind, address)
        }
        let allowed: Bool
        switch kind {
        case .fetch: allowed = entry & PTE.execute != 0
        case .load: allowed = entry & PTE.read != 0 || (status & MStatus.mxr != 0 && entry & PTE.execute != 0)
        case .store: allowed = entry & PTE.write != 0
        }
        if !allowed { throw pageFault(kind, address) }
    }

    // MARK: Translation caches

    /// Empties the three software TLBs.
    func flushTLBs() {
        // Cross-page chains in generated code check this (docs/jit.md).
        state.pointee.jitFetchGeneration &+= 1
        for index in 0..<Int(BP_TLB_ENTRIES) {
            tlbLoad[index] = BPTLBEntry(tag: ~0, addend: 0)
            tlbStore[index] = BPTLBEntry(tag: ~0, addend: 0)
            tlbFetch[index] = BPTLBEntry(tag: ~0, addend: 0)
        }
        invalidateLoopProbes()
    }

    /// Sets every JIT loop probe slot (`HartState.jitLoopProbe`) and site slot
    /// (`HartState.jitSiteSlots`) invalid: they are copies of TLB entries that outlive their
    /// loops and blocks, so whatever removes a TLB entry calls this.
    func invalidateLoopProbes() {
        withUnsafeMutablePointer(to: &state.pointee.jitLoopProbe) { slots in
            slots.withMemoryRebound(to: UInt64.self, capacity: 16) { words in
                for slot in 0..<8 { words[2 * slot] = ~0 }
            }
        }
        probeSlotInvalidations &+= 1
        // The site slots (thousands) are dropped by a new generation instead; every 256th
        // wraps the generation bits, and only then are they zeroed.
        let generation = (state.pointee.jitSiteSlotGeneration &+ 16) & 0xFF0
        if generation == 0 {
            let slots = UnsafeMutableRawPointer(state) + MemoryLayout<HartState>.offset(of: \HartState.jitSiteSlots)!
            slots.initializeMemory(as: UInt8.self, repeating: 0, count: 32 * Int(BP_SITE_SLOTS))
        }
        state.pointee.jitSiteSlotGeneration = generation | 8
    }

    /// Flushes the TLBs when what their entries depend on changed: privilege, satp, or the
    /// mstatus bits that affect data translation (MPRV, MPP while MPRV is set, SUM, MXR).
    func noteTranslationContextChange() {
        let status = state.pointee.mstatus
        var relevant = status & (MStatus.mprv | MStatus.sum | MStatus.mxr)
        if status & MStatus.mprv != 0 { relevant |= status & MStatus.mpp }
        let context = (state.pointee.privilege, relevant, state.pointee.satp)
        guard context != translationContext else { return }
        let old = translationContext
        translationContext = context
        // Setting SUM or MXR only grants more: entries filled without them stay correct. Linux
        // sets and clears SUM around every user copy, so this halves its flushes.
        let permissive = MStatus.sum | MStatus.mxr
        if old.0 == context.0 && old.2 == context.2 && old.1 & ~permissive == context.1 & ~permissive
            && old.1 & permissive & ~context.1 == 0 {
            return
        }
        flushTLBs()
    }

    /// Removes store-TLB entries that map the page at host address `hostPage`, so stores to a
    /// page that now holds decoded code take the slow path (which tells `codeWritten`).
    func dropStoreTranslations(hostPage: UInt) {
        for index in 0..<Int(BP_TLB_ENTRIES) {
            let entry = tlbStore[index]
            guard entry.tag != ~0 else { continue }
            let host = UInt(truncatingIfNeeded: (entry.tag << 12) &+ UInt64(bitPattern: entry.addend))
            if host == hostPage { tlbStore[index] = BPTLBEntry(tag: ~0, addend: 0) }
        }
        invalidateLoopProbes()
    }

    /// Flushes translations and decoded blocks (SFENCE.VMA is narrower: see `Hart+Execute`).
    /// Code-page marks stay: other harts on the bus may still hold blocks from those pages.
    public func flushTranslations() {
        flushTLBs()
        // The JIT's second-level TLB copies first-level entries: a region that went away (an
        // unmapped RAM or device-memory BAR) must not be reached through it either.
#if arch(x86_64)
        jitIfCreated?.invalidateVictims()
#endif
        blocks.invalidateAll()
    }
}

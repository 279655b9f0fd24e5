import CHartState
import Memory

// Data accesses: the TLB fast path inline, translation + PMP + bus on a miss.
//
// Misaligned loads and stores are emulated (the privileged spec 1.12 §3.6.3.3 allows either
// emulation or a misaligned trap): within a page the TLB host pointer handles them directly;
// across a page both translations (and PMP checks) are done before any byte is written, so a
// fault leaves memory unchanged. Misaligned MMIO accesses raise an access fault instead (devices
// expect naturally aligned registers; §3.6.3.3 permits an access fault here). LR/SC and AMOs are
// never emulated: a misaligned one raises address-misaligned (load for LR, store/AMO otherwise),
// because an emulated AMO could not be atomic.

extension Hart {
    @inline(__always) static func tlbIndex(_ address: UInt64) -> Int {
        Int(truncatingIfNeeded: (address >> 12) & UInt64(BP_TLB_ENTRIES - 1))
    }

    @inline(__always) static func hostAddress(_ address: UInt64, _ entry: BPTLBEntry) -> UnsafeMutableRawPointer {
        // SAFETY: entries are only filled for RAM/ROM pages, whose host memory lives as long as the bus.
        UnsafeMutableRawPointer(bitPattern: UInt(truncatingIfNeeded: address &+ UInt64(bitPattern: entry.addend)))!
    }

    /// Loads `size` (1, 2, 4, 8) bytes, zero-extended, from virtual `address` with translation,
    /// PMP and the MPRV rules. Throws the load fault the access raises.
    @inline(__always)
    func loadData(_ address: UInt64, size: Int) throws(Trap) -> UInt64 {
        let entry = tlbLoad[Self.tlbIndex(address)]
        if entry.tag == address >> 12 && (address & 0xFFF) &+ UInt64(size) <= 0x1000 {
            return loadLittleEndian(Self.hostAddress(address, entry), size: size)
        }
        return try loadSlow(address, size: size)
    }

    /// Stores the low `size` bytes of `value` at virtual `address`. Throws the store fault.
    @inline(__always)
    func storeData(_ address: UInt64, size: Int, value: UInt64) throws(Trap) {
        if state.pointee.reservationValid != 0 { breakReservation(address, size: size) }
        let entry = tlbStore[Self.tlbIndex(address)]
        if entry.tag == address >> 12 && (address & 0xFFF) &+ UInt64(size) <= 0x1000 {
            storeLittleEndian(Self.hostAddress(address, entry), size: size, value: value)
            return
        }
        try storeSlow(address, size: size, value: value)
    }

    /// A store by this hart that overlaps the reservation invalidates it.
    private func breakReservation(_ address: UInt64, size: Int) {
        let reserved = state.pointee.reservationAddress
        if address < reserved &+ 8 && reserved < address &+ UInt64(size) { state.pointee.reservationValid = 0 }
    }

    // MARK: Slow paths

    @inline(never)
    func loadSlow(_ address: UInt64, size: Int) throws(Trap) -> UInt64 {
        let value = try loadTranslated(address, size: size)
        // Memory instrumentation keeps the TLBs empty, so every access reports here.
        if instrumentedEvents.contains(.memory) { noteMemoryAccess(address, size: size, isStore: false, value: value) }
        return value
    }

    private func loadTranslated(_ address: UInt64, size: Int) throws(Trap) -> UInt64 {
        let privilege = dataPrivilege
        let inPage = 0x1000 - (address & 0xFFF)
        if UInt64(size) > inPage {
            // Crosses a page: translate both parts first, then read byte by byte.
            let first = try translate(address, kind: .load, privilege: privilege)
            let second = try translate(address &+ inPage, kind: .load, privilege: privilege)
            var value: UInt64 = 0
            for byte in 0..<UInt64(size) {
                let physical = byte < inPage ? first &+ byte : second &+ (byte - inPage)
                let part = try physicalLoad(physical, size: 1, virtual: address, privilege: privilege, fill: false)
                value |= part << (byte * 8)
            }
            return value
        }
        let physical = try translate(address, kind: .load, privilege: privilege)
        return try physicalLoad(physical, size: size, virtual: address, privilege: privilege, fill: true)
    }

    private func physicalLoad(_ physical: UInt64, size: Int, virtual: UInt64, privilege: UInt64, fill: Bool) throws(Trap) -> UInt64 {
        guard pmpAllows(physical, size: UInt64(size), kind: .load, privilege: privilege),
              let region = bus.region(containing: physical) else {
            throw .loadAccessFault(virtual)
        }
        if let host = region.host {
            let offset = physical &- region.base
            guard offset &+ UInt64(size) <= region.size else { throw .loadAccessFault(virtual) }
            if fill { fillTLB(tlbLoad, virtual: virtual, physical: physical, region: region, kind: .load, privilege: privilege) }
            return loadLittleEndian(host + Int(offset), size: size)
        }
        guard physical & UInt64(size - 1) == 0, let value = bus.read(in: region, offset: physical &- region.base, size: size) else {
            throw .loadAccessFault(virtual)
        }
        return value
    }

    @inline(never)
    func storeSlow(_ address: UInt64, size: Int, value: UInt64) throws(Trap) {
        try storeTranslated(address, size: size, value: value)
        if instrumentedEvents.contains(.memory) { noteMemoryAccess(address, size: size, isStore: true, value: value) }
    }

    private func storeTranslated(_ address: UInt64, size: Int, value: UInt64) throws(Trap) {
        let privilege = dataPrivilege
        let inPage = 0x1000 - (address & 0xFFF)
        if UInt64(size) > inPage {
            let first = try translate(address, kind: .store, privilege: privilege)
            let second = try translate(address &+ inPage, kind: .store, privilege: privilege)
            // Check both parts before writing anything.
            guard pmpAllows(first, size: inPage, kind: .store, privilege: privilege),
                  pmpAllows(second, size: UInt64(size) - inPage, kind: .store, privilege: privilege),
                  isWritable(first, length: inPage), isWritable(second, length: UInt64(size) - inPage) else {
                throw .storeAccessFault(address)
            }
            for byte in 0..<UInt64(size) {
                let physical = byte < inPage ? first &+ byte : second &+ (byte - inPage)
                bus.write(physical, size: 1, value: value >> (byte * 8))
            }
            return
        }
        let physical = try translate(address, kind: .store, privilege: privilege)
        guard pmpAllows(physical, size: UInt64(size), kind: .store, privilege: privilege),
              let region = bus.region(containing: physical) else {
            throw .storeAccessFault(address)
        }
        if region.kind == .mmio {
            guard physical & UInt64(size - 1) == 0, bus.write(in: region, offset: physical &- region.base, size: size, value: value) else {
                throw .storeAccessFault(address)
            }
            return
        }
        guard physical &- region.base &+ UInt64(size) <= region.size else { throw .storeAccessFault(address) }
        // Through the bus, so a write to a code page notifies `codeWritten`; ROM ignores it.
        bus.write(in: region, offset: physical &- region.base, size: size, value: value)
        if region.kind != .rom && !bus.isCodePage(physical) {
            fillTLB(tlbStore, virtual: address, physical: physical, region: region, kind: .store, privilege: privilege)
        }
    }

    /// Whether `[physical, physical + length)` lies in RAM, ROM or an MMIO region (something answers).
    private func isWritable(_ physical: UInt64, length: UInt64) -> Bool {
        guard let region = bus.region(containing: physical) else { return false }
        return physical &- region.base &+ length <= region.size
    }

    /// Enters the page of `virtual` into `tlb` when the whole page is host memory of one region
    /// and has one PMP outcome, so later hits need no checks.
    private func fillTLB(_ tlb: UnsafeMutablePointer<BPTLBEntry>, virtual: UInt64, physical: UInt64,
                         region: MemoryRegion, kind: AccessKind, privilege: UInt64) {
        // Memory instrumentation needs every access on the slow path (Hart+Instrument.swift).
        if instrumentedEvents.contains(.memory) { return }
        // While an LR reservation is held, stores to its pages stay on the slow path, which
        // breaks it (`storeData`): the JIT's inline stores do not check it (`holdReservation`).
        if kind == .store && state.pointee.reservationValid != 0 && isReservedPage(virtual) { return }
        let page = physical & ~0xFFF
        guard let host = region.host, page >= region.base, page &+ 0x1000 <= region.end,
              pmpAllows(page, size: 0x1000, kind: kind, privilege: privilege) else { return }
        let hostPage = UInt64(UInt(bitPattern: host + Int(page &- region.base)))
        tlb[Self.tlbIndex(virtual)] = BPTLBEntry(tag: virtual >> 12,
                                                 addend: Int64(bitPattern: hostPage &- (virtual & ~0xFFF)))
    }

    // MARK: Atomics (unprivileged spec §8)

    /// The host address for an aligned atomic access of `size` bytes at virtual `address`
    /// needing read and write permission (faults are store/AMO faults, §8.4), or nil with
    /// `physical` set for MMIO.
    func atomicLocation(_ address: UInt64, size: Int) throws(Trap) -> (host: UnsafeMutableRawPointer?, physical: UInt64) {
        guard address & UInt64(size - 1) == 0 else { throw .storeAddressMisaligned(address) }
        if state.pointee.reservationValid != 0 { breakReservation(address, size: size) }
        let entry = tlbStore[Self.tlbIndex(address)]
        if entry.tag == address >> 12 { return (Self.hostAddress(address, entry), 0) }
        let privilege = dataPrivilege
        let physical = try translate(address, kind: .store, privilege: privilege)
        guard pmpAllows(physical, size: UInt64(size), kind: .store, privilege: privilege),
              pmpAllows(physical, size: UInt64(size), kind: .load, privilege: privilege),
              let region = bus.region(containing: physical) else {
            throw .storeAccessFault(address)
        }
        if region.kind == .ram {
            if bus.isCodePage(physical) {
                // Let the bus notify the code observer; the atomic itself then uses host memory.
                bus.write(physical, size: size, value: bus.read(physical, size: size) ?? 0)
            } else {
                fillTLB(tlbStore, virtual: address, physical: physical, region: region, kind: .store, privilege: privilege)
            }
            return (region.host! + Int(physical &- region.base), physical)
        }
        // ROM is not writable; MMIO and device memory take a read and a write through the bus.
        guard region.kind != .rom else { throw .storeAccessFault(address) }
        return (nil, physical)
    }

    /// Performs an AMO: reads the old value, writes `combine(old)`, returns old (not sign-extended).
    @inline(__always)
    func atomicMemoryOperation(_ address: UInt64, size: Int, _ combine: (UInt64) -> UInt64) throws(Trap) -> UInt64 {
        let location = try atomicLocation(address, size: size)
        let old: UInt64, new: UInt64
        if let host = location.host {
            old = loadLittleEndian(host, size: size)
            new = combine(old)
            storeLittleEndian(host, size: size, value: new)
        } else {
            guard let value = bus.read(location.physical, size: size) else { throw .storeAccessFault(address) }
            old = value
            new = combine(old)
            guard bus.write(location.physical, size: size, value: new) else { throw .storeAccessFault(address) }
        }
        if instrumentedEvents.contains(.memory) {
            noteMemoryAccess(address, size: size, isStore: false, value: old)
            noteMemoryAccess(address, size: size, isStore: true, value: new)
        }
        return old
    }

    /// LR: an aligned load that registers a reservation on its address.
    func loadReserved(_ address: UInt64, size: Int) throws(Trap) -> UInt64 {
        guard address & UInt64(size - 1) == 0 else { throw .loadAddressMisaligned(address) }
        let value = try loadData(address, size: size)
        state.pointee.reservationAddress = address
        state.pointee.reservationValid = 1
        holdReservation()
        return value
    }

    /// Whether virtual `address` is in a page that the reservation's 8 bytes (from
    /// `reservationAddress`, the span `breakReservation` compares) touch: one page, or two
    /// when an LR.W sits in a page's last 4 bytes.
    @inline(__always)
    private func isReservedPage(_ address: UInt64) -> Bool {
        let reserved = state.pointee.reservationAddress
        return address >> 12 == reserved >> 12 || address >> 12 == (reserved &+ 7) >> 12
    }

    /// Takes the reservation's pages out of the store TLB (`fillTLB` keeps them out while it is
    /// held), so every store that could overlap it goes through `storeData`, which breaks it.
    /// Generated code then needs no reservation check on its inline store path: a held
    /// reservation was a compare of `reservationValid` in front of every store.
    private func holdReservation() {
        let reserved = state.pointee.reservationAddress
        dropStoreEntry(reserved)
        dropStoreEntry(reserved &+ 7)
        invalidateLoopProbes()
    }

    /// Empties the store-TLB entry that maps virtual `address`'s page, if one does.
    @inline(__always)
    private func dropStoreEntry(_ address: UInt64) {
        let index = Self.tlbIndex(address)
        if tlbStore[index].tag == address >> 12 { tlbStore[index] = BPTLBEntry(tag: ~0, addend: 0) }
    }

    /// SC: stores and returns 0 if the reservation is still held for `address`, else returns 1
    /// without storing. Either way the reservation is gone afterwards.
    func storeConditional(_ address: UInt64, size: Int, value: UInt64) throws(Trap) -> UInt64 {
        guard address & UInt64(size - 1) == 0 else { throw .storeAddressMisaligned(address) }
        let held = state.pointee.reservationValid != 0 && state.pointee.reservationAddress == address
        state.pointee.reservationValid = 0
        guard held else { return 1 }
        try storeData(address, size: size, value: value)
        return 0
    }
}

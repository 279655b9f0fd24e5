import CHartState

/// Physical memory protection (RISC-V privileged spec 1.12 §3.7): 16 entries, grain 4 bytes.
///
/// Checked on the slow path only: a TLB entry is filled only when the whole 4 KiB page has one
/// PMP outcome (`pmpAllows` over the page), so fast-path hits need no check; any pmpcfg/pmpaddr
/// write flushes the TLBs.
enum PMPConfig {
    static let read: UInt8 = 1 << 0
    static let write: UInt8 = 1 << 1
    static let execute: UInt8 = 1 << 2
    static let addressMatchShift: UInt8 = 3
    static let locked: UInt8 = 1 << 7
    // Address-matching modes (field A).
    static let off: UInt8 = 0, tor: UInt8 = 1, na4: UInt8 = 2, napot: UInt8 = 3
}

/// The kind of memory access, for translation, PMP and fault causes.
enum AccessKind {
    case load, store, fetch
}

extension Hart {
    /// Configuration byte of entry `index` (0...15).
    @inline(__always) func pmpConfiguration(_ index: Int) -> UInt8 {
        let register = index < 8 ? state.pointee.pmpcfg.0 : state.pointee.pmpcfg.1
        return UInt8(truncatingIfNeeded: register >> UInt64((index & 7) * 8))
    }

    @inline(__always) func pmpAddress(_ index: Int) -> UInt64 {
        // SAFETY: pmpaddr is 16 consecutive UInt64s inside *state (a copy of the tuple per call
        // made PMP checks dominate MMIO and TLB-miss paths).
        UnsafeRawPointer(state).load(fromByteOffset: Self.pmpAddressOffset + index * 8, as: UInt64.self)
    }

    /// Whether the accesses to all bytes of `[address, address + size)` are permitted at
    /// `privilege` (§3.7.1): the lowest-numbered entry matching any byte decides, and must match
    /// all of them; M-mode passes unlocked entries; with no match, only M-mode succeeds (16
    /// entries are implemented).
    static let pmpAddressOffset = MemoryLayout<HartState>.offset(of: \HartState.pmpaddr)!

    func pmpAllows(_ address: UInt64, size: UInt64, kind: AccessKind, privilege: UInt64) -> Bool {
        // Every entry OFF (the common case outside firmware): only M-mode may access.
        if state.pointee.pmpcfg.0 == 0 && state.pointee.pmpcfg.1 == 0 { return privilege == privilegeMachine }
        let last = address &+ size &- 1
        var previousTop: UInt64 = 0
        for index in 0..<16 {
            let config = pmpConfiguration(index)
            let raw = pmpAddress(index)
            let mode = (config >> PMPConfig.addressMatchShift) & 3
            let low: UInt64, high: UInt64 // inclusive range
            switch mode {
            case PMPConfig.off:
                previousTop = raw << 2
                continue
            case PMPConfig.tor:
                low = previousTop
                let top = raw << 2
                previousTop = top
                guard top > low else { continue } // empty range matches nothing
                high = top &- 1
            case PMPConfig.na4:
                low = raw << 2
                high = low &+ 3
                previousTop = raw << 2
            default: // NAPOT: trailing ones of pmpaddr encode the size 2^(ones+3)
                let ones = UInt64((~raw).trailingZeroBitCount)
                let sizeMask: UInt64 = ones >= 61 ? ~0 : (1 << (ones + 3)) &- 1
                low = (raw << 2) & ~sizeMask
                high = low | sizeMask
                previousTop = raw << 2
            }
            guard address <= high && last >= low else { continue }
            // Partial match fails the access (§3.7.1.3).
            guard address >= low && last <= high else { return false }
            if privilege == privilegeMachine && config & PMPConfig.locked == 0 { return true }
            switch kind {
            case .load: return config & PMPConfig.read != 0
            case .store: return config & PMPConfig.write != 0
            case .fetch: return config & PMPConfig.execute != 0
            }
        }
        return privilege == privilegeMachine
    }

    /// Writes pmpcfg0 (`register` 0) or pmpcfg2 (1). Locked entries keep their byte; the WPRI
    /// bits 5–6 read as zero; the reserved R=0,W=1 combination is stored as R=0,W=0.
    func writePMPConfiguration(register: Int, _ value: UInt64) {
        var result: UInt64 = 0
        for byte in 0..<8 {
            let index = register * 8 + byte
            let old = pmpConfiguration(index)
            var new = UInt8(truncatingIfNeeded: value >> UInt64(byte * 8)) & 0x9F
            if new & PMPConfig.read == 0 { new &= ~PMPConfig.write }
            let kept = old & PMPConfig.locked != 0 ? old : new
            result |= UInt64(kept) << UInt64(byte * 8)
        }
        if register == 0 { state.pointee.pmpcfg.0 = result } else { state.pointee.pmpcfg.1 = result }
        flushTLBs()
    }

    /// Writes pmpaddr`index` (54 bits on RV64), unless entry `index` is locked, or entry
    /// `index + 1` is a locked TOR entry using it as its bottom (§3.7.1.4).
    func writePMPAddress(_ index: Int, _ value: UInt64) {
        if pmpConfiguration(index) & PMPConfig.locked != 0 { return }
        if index < 15 {
            let next = pmpConfiguration(index + 1)
            if next & PMPConfig.locked != 0 && (next >> PMPConfig.addressMatchShift) & 3 == PMPConfig.tor { return }
        }
        withUnsafeMutableBytes(of: &state.pointee.pmpaddr) {
            $0.storeBytes(of: value & ((1 << 54) - 1), toByteOffset: index * 8, as: UInt64.self)
        }
        flushTLBs()
    }
}

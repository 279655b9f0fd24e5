#if arch(x86_64)
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One dispatch-table slot, read by generated code at fixed offsets (0 pc, 8 host, 16 code,
/// 24 count, 28 flags): 32 bytes, so a slot index scales by a shift.
struct DispatchEntry {
    /// Guest virtual pc of the block's first instruction.
    var pc: UInt64
    /// Host address of that instruction (= its physical address); `DispatchTable.empty` or
    /// `DispatchTable.deleted` for a free slot.
    var host: UInt
    /// Entry point of the translated block.
    var code: UInt
    /// Guest instructions in the block (the budget it needs).
    var count: UInt32
    /// `DispatchTable.flushesTLBsInPlace`, `DispatchTable.crossesPage`.
    var flags: UInt32
}

/// The map from (guest pc, host address) to translated code that both the run loop and
/// generated code probe: a flat open-addressing table (linear probing, multiplicative hash of
/// the host address) in one anonymous mapping, so a probe is a few loads with no Swift runtime
/// call, no retain/release and no allocation.
///
/// Why (pc, host): the host address is the physical address, and generated code bakes in
/// virtual pcs (auipc, link values), so one physical page mapped at two virtual addresses needs
/// two translations. The hash uses the host address only, so those share a probe sequence.
///
/// The mapping is reserved, not touched: untouched pages read as zero (= empty slots) and cost
/// nothing until a block lands there, and `removeAll` hands the pages back (`MADV_DONTNEED`).
/// Removal leaves a tombstone (`deleted`) so later probe sequences stay intact; tombstones count
/// toward the load, and `insert` refuses (the caller flushes everything) past half full, so every
/// probe sequence reaches an empty slot.
struct DispatchTable {
    static let empty: UInt = 0
    static let deleted: UInt = 1
    static let flushesTLBsInPlace: UInt32 = 1
    static let crossesPage: UInt32 = 2
    /// The multiplier of the Fibonacci hash (2^64 / golden ratio, odd): the top `bits` bits of
    /// host × multiplier spread neighbouring block addresses over the table. (A 32-bit
    /// multiplier, which fits an imm32, does not: blocks a few bytes apart then differ only
    /// below the bits taken and pile up in long probe runs.)
    static let multiplier: UInt64 = 0x9E37_79B9_7F4A_7C15

    let bits: Int
    let capacity: Int
    let entries: UnsafeMutablePointer<DispatchEntry>
    /// Live entries plus tombstones.
    private(set) var used = 0
    private(set) var live = 0

    init(bits: Int) {
        precondition(bits >= 4 && bits <= 24)
        self.bits = bits
        capacity = 1 << bits
        let bytes = capacity * MemoryLayout<DispatchEntry>.stride
        let memory = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let memory, memory != MAP_FAILED else {
            fatalError("JIT: cannot reserve \(bytes) bytes for the dispatch table (errno \(errno))")
        }
        entries = memory.bindMemory(to: DispatchEntry.self, capacity: capacity)
    }

    func deallocate() {
        munmap(entries, capacity * MemoryLayout<DispatchEntry>.stride)
    }

    /// The first slot probed for host address `host` (generated code: movabs, imul, shr, shl 5).
    @inline(__always) func slot(host: UInt) -> Int {
        let product = UInt64(truncatingIfNeeded: host) &* Self.multiplier
        return Int(truncatingIfNeeded: product >> UInt64(64 - bits))
    }

    /// The entry for (pc, host), if present.
    @inline(__always) func lookup(pc: UInt64, host: UInt) -> UnsafeMutablePointer<DispatchEntry>? {
        var index = slot(host: host)
        let mask = capacity - 1
        while true {
            let entry = entries + index
            let h = entry.pointee.host
            if h == host && entry.pointee.pc == pc { return entry }
            if h == Self.empty { return nil }
            index = (index &+ 1) & mask
        }
    }

    /// Adds an entry (which must not be present); nil when the table is too full (flush, retry).
    mutating func insert(_ value: DispatchEntry) -> UnsafeMutablePointer<DispatchEntry>? {
        precondition(value.host > Self.deleted)
        var index = slot(host: value.host)
        let mask = capacity - 1
        while true {
            let entry = entries + index
            let h = entry.pointee.host
            if h == Self.deleted {
                entry.pointee = value
                live += 1
                return entry
            }
            if h == Self.empty {
                guard (used + 1) * 2 <= capacity else { return nil }
                entry.pointee = value
                used += 1
                live += 1
                return entry
            }
            index = (index &+ 1) & mask
        }
    }

    /// Removes (pc, host); returns whether it was present.
    @discardableResult
    mutating func remove(pc: UInt64, host: UInt) -> Bool {
        guard let entry = lookup(pc: pc, host: host) else { return false }
        entry.pointee = DispatchEntry(pc: ~0, host: Self.deleted, code: 0, count: 0, flags: 0)
        live -= 1
        return true
    }

    /// Empties the table and returns its pages to the system (they read as zero again).
    mutating func removeAll() {
        guard used > 0 else { return }
        let bytes = capacity * MemoryLayout<DispatchEntry>.stride
        if madvise(entries, bytes, MADV_DONTNEED) != 0 {
            UnsafeMutableRawPointer(entries).initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        }
        used = 0
        live = 0
    }

    /// Whether one more insertion may need a flush first.
    var isNearlyFull: Bool { (used + 1) * 2 > capacity }
}
#endif

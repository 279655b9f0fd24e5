#if arch(x86_64)
import CHartState
import XCTest
@testable import CPU

/// The per-site probe slots of loads and stores outside self-loops (`HartState.jitSiteSlots`,
/// docs/jit.md "Tenth round"): how they are handed out and how they are retired.
final class JITSiteSlotTests: XCTestCase {
    /// Loads and stores draw from their own halves, in turn, and wrap within them: a store
    /// site must never share a slot a load site filled from the load TLB (stores to a
    /// read-only or code page would go through).
    func testLoadAndStoreSitesDrawFromTheirOwnSlotsAndWrapWithinThem() {
        let engine = JITEngine()
        let n = Int(BP_SITE_SLOTS)
        let loads = (0..<(2 * n + 3)).map { _ in engine.siteSlot(store: false) }
        let stores = (0..<(2 * n + 3)).map { _ in engine.siteSlot(store: true) }
        let first = StateOffset.siteSlots
        XCTAssertTrue(loads.allSatisfy { $0 >= first && $0 < first + Int32(16 * n) })
        XCTAssertTrue(stores.allSatisfy { $0 >= first + Int32(16 * n) && $0 < first + Int32(32 * n) })
        XCTAssertEqual(Set(loads.prefix(n)).count, n, "every load slot once before any is shared")
        XCTAssertEqual(Set(stores.prefix(n)).count, n, "every store slot once before any is shared")
        XCTAssertEqual(loads[n], loads[0], "then in the same turn again")
        XCTAssertTrue(loads.allSatisfy { ($0 - first) % 16 == 0 })
        XCTAssertLessThanOrEqual(Int(first) + 32 * n, MemoryLayout<HartState>.size, "inside the hart's state")
    }

    /// Site slots only while TLB entries are removed rarely: judged at the end of each window
    /// of instructions, from the invalidations in it (a Linux boot retires the slots about once
    /// per 2,000 instructions, before they pay).
    func testSiteSlotsAreGivenOnlyWhileTLBEntriesAreRemovedRarely() {
        let engine = JITEngine()
        let window = JITEngine.siteSlotWindowLength, spacing = JITEngine.siteSlotSpacing
        XCTAssertTrue(engine.siteSlotsPay)
        engine.noteSiteSlotRate(instret: window / 2, invalidations: 10_000)
        XCTAssertTrue(engine.siteSlotsPay, "judged only at the end of a window")
        engine.noteSiteSlotRate(instret: window, invalidations: 10_000)
        XCTAssertFalse(engine.siteSlotsPay, "one per 400 instructions")
        engine.noteSiteSlotRate(instret: 2 * window, invalidations: 10_000 + window / spacing)
        XCTAssertTrue(engine.siteSlotsPay, "one per \(spacing) instructions")
        engine.noteSiteSlotRate(instret: 3 * window, invalidations: 10_000 + window / spacing + window / 4096)
        XCTAssertFalse(engine.siteSlotsPay, "one per 4096")
    }

    /// Every removal of a TLB entry retires every site slot: a new generation in the bits
    /// generated code ORs into the compared address (bit 3 always set, so a zeroed slot never
    /// matches), and when the 8 generation bits wrap the slots themselves are zeroed, so a
    /// slot filled 256 generations ago cannot match again.
    func testRemovingATLBEntryRetiresTheSiteSlots() throws {
        let m = try TestMachine("wfi")
        let slot0 = MemoryLayout<HartState>.offset(of: \HartState.jitSiteSlots)!
        let raw = UnsafeMutableRawPointer(m.hart.state)
        var seen: Set<UInt64> = []
        let start = m.s.jitSiteSlotGeneration
        XCTAssertEqual(start & 0xF, 8, "bit 3 set from reset on")
        raw.storeBytes(of: 0x8000_1000 | start, toByteOffset: slot0, as: UInt64.self)
        for step in 1...256 {
            m.hart.invalidateLoopProbes()
            let generation = m.s.jitSiteSlotGeneration
            XCTAssertEqual(generation & ~0xFF0, 8)
            if step < 256 { XCTAssertNotEqual(generation, start, "a new generation at step \(step)") }
            seen.insert(generation)
            if step < 256 - Int((start >> 4) & 0xFF) {
                XCTAssertEqual(raw.load(fromByteOffset: slot0, as: UInt64.self), 0x8000_1000 | start,
                               "slots stay until the generation wraps")
            }
        }
        XCTAssertEqual(seen.count, 256, "256 generations, then the first again")
        XCTAssertEqual(m.s.jitSiteSlotGeneration, start)
        XCTAssertEqual(raw.load(fromByteOffset: slot0, as: UInt64.self), 0, "zeroed at the wrap")
    }
}
#endif

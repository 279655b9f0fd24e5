#if arch(x86_64)
import XCTest
@testable import CPU

/// The JIT's flat (pc, host) → code table: probe sequences, removal and a full flush.
final class JITDispatchTableTests: XCTestCase {
    private func entry(pc: UInt64, host: UInt, code: UInt = 0x1000, count: UInt32 = 1) -> DispatchEntry {
        DispatchEntry(pc: pc, host: host, code: code, count: count, flags: 0)
    }

    func testEntriesSharingAHostAddressAreFoundThroughOneProbeSequence() {
        // One physical block mapped at three virtual pcs: same host, so the same first slot.
        var table = DispatchTable(bits: 6)
        defer { table.deallocate() }
        let host: UInt = 0x7F00_1234_5678
        for (i, pc) in [0x8000_0000, 0x4000_0000, 0x1000].enumerated() {
            XCTAssertNotNil(table.insert(entry(pc: UInt64(pc), host: host, code: UInt(0x100 * (i + 1)))))
        }
        XCTAssertEqual(table.lookup(pc: 0x8000_0000, host: host)?.pointee.code, 0x100)
        XCTAssertEqual(table.lookup(pc: 0x4000_0000, host: host)?.pointee.code, 0x200)
        XCTAssertEqual(table.lookup(pc: 0x1000, host: host)?.pointee.code, 0x300)
        XCTAssertNil(table.lookup(pc: 0x2000, host: host))
        XCTAssertEqual(table.live, 3)
    }

    func testDistinctHostsCollidingOnOneSlotAreAllFound() {
        var table = DispatchTable(bits: 6)
        defer { table.deallocate() }
        // Find hosts whose first slot is the same as the first one's.
        let first: UInt = 0x7F00_0000_0000
        var colliding = [first]
        var candidate = first
        while colliding.count < 4 {
            candidate &+= 2
            if table.slot(host: candidate) == table.slot(host: first) { colliding.append(candidate) }
        }
        for (i, host) in colliding.enumerated() {
            XCTAssertNotNil(table.insert(entry(pc: UInt64(i), host: host, code: UInt(i + 1))))
        }
        for (i, host) in colliding.enumerated() {
            XCTAssertEqual(table.lookup(pc: UInt64(i), host: host)?.pointee.code, UInt(i + 1))
        }
    }

    func testRemovingAnEntryKeepsTheOnesProbedPastItAndItsSlotIsReused() {
        var table = DispatchTable(bits: 6)
        defer { table.deallocate() }
        let host: UInt = 0x7F00_0000_4000
        for pc in 0..<3 { XCTAssertNotNil(table.insert(entry(pc: UInt64(pc), host: host, code: UInt(pc + 10)))) }
        XCTAssertTrue(table.remove(pc: 1, host: host))
        XCTAssertFalse(table.remove(pc: 1, host: host))
        XCTAssertNil(table.lookup(pc: 1, host: host))
        XCTAssertEqual(table.lookup(pc: 2, host: host)?.pointee.code, 12, "found past the tombstone")
        XCTAssertEqual(table.live, 2)
        let used = table.used
        XCTAssertNotNil(table.insert(entry(pc: 7, host: host, code: 17)))
        XCTAssertEqual(table.used, used, "the tombstone's slot was taken again")
        XCTAssertEqual(table.lookup(pc: 7, host: host)?.pointee.code, 17)
        XCTAssertEqual(table.lookup(pc: 2, host: host)?.pointee.code, 12)
    }

    func testInsertRefusesPastHalfFullAndAFullFlushEmptiesTheTable() {
        var table = DispatchTable(bits: 4)   // 16 slots: at most 8 used
        defer { table.deallocate() }
        for i in 0..<8 {
            XCTAssertNotNil(table.insert(entry(pc: UInt64(i), host: 0x7F00_0000_0000 + UInt(i) * 0x40)), "entry \(i)")
        }
        XCTAssertTrue(table.isNearlyFull)
        XCTAssertNil(table.insert(entry(pc: 99, host: 0x7F00_0001_0000)))
        table.removeAll()
        XCTAssertEqual(table.used, 0)
        XCTAssertEqual(table.live, 0)
        XCTAssertFalse(table.isNearlyFull)
        for i in 0..<8 { XCTAssertNil(table.lookup(pc: UInt64(i), host: 0x7F00_0000_0000 + UInt(i) * 0x40)) }
        XCTAssertNotNil(table.insert(entry(pc: 99, host: 0x7F00_0001_0000)))
        XCTAssertEqual(table.lookup(pc: 99, host: 0x7F00_0001_0000)?.pointee.pc, 99)
    }

    func testTranslatedBlocksOfAWrittenPageLeaveTheTable() throws {
        // The engine's invalidation path: after a code write to the page, the run loop no longer
        // finds its blocks, and a full flush drops every entry.
        let machine = try TestMachine("""
            li a0, 1
            loop:
            addi a0, a0, 1
            j loop
            """, compressed: true)
        machine.hart.accelerator = .jit
        XCTAssertEqual(machine.hart.run(budget: 1000), .budgetExhausted)
        let jit = machine.hart.jitEngine
        XCTAssertGreaterThan(jit.table.live, 0)
        let host = UInt(bitPattern: machine.bus.hostPointer(ramBase, length: 1, forWrite: false)!)
        jit.invalidate(hostPage: host & ~0xFFF)
        XCTAssertEqual(jit.table.live, 0)
        XCTAssertEqual(machine.hart.run(budget: 1000), .budgetExhausted)
        XCTAssertGreaterThan(jit.table.live, 0, "retranslated")
        jit.flush()
        XCTAssertEqual(jit.table.live, 0)
        XCTAssertEqual(jit.table.used, 0)
    }
}
#endif

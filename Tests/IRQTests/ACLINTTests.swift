import IRQ
import Memory
import XCTest

final class ACLINTTests: XCTestCase {
    let base: UInt64 = 0x200_0000
    var harts: [FakeHart] = []
    var timebase: Timebase!
    var clint: CLINT!
    var space: AddressSpace!

    override func setUpWithError() throws {
        harts = [FakeHart(), FakeHart()]
        timebase = Timebase()
        clint = CLINT(harts: harts, timebase: timebase)
        space = AddressSpace()
        try space.mapMMIO(name: "clint", base: base, size: CLINT.Layout.regionSize, device: clint)
    }

    /// Ten seconds of 10 MHz ticks: far more than a test takes, so comparisons cannot race.
    let margin: UInt64 = 100_000_000

    func testMsipSetsAndClearsMachineSoftwarePinOfOneHart() {
        space.write(base + 4, size: 4, value: 1)
        XCTAssertTrue(harts[1].isSet(InterruptBit.machineSoftware))
        XCTAssertFalse(harts[0].isSet(InterruptBit.machineSoftware))
        XCTAssertEqual(space.read(base + 4, size: 4), 1)
        space.write(base + 4, size: 4, value: 0)
        XCTAssertFalse(harts[1].isSet(InterruptBit.machineSoftware))
    }

    func testMsipKeepsOnlyBitZero() {
        space.write(base, size: 4, value: 0xffff_fffe)
        XCTAssertEqual(space.read(base, size: 4), 0)
        XCTAssertFalse(harts[0].isSet(InterruptBit.machineSoftware))
    }

    func testMsipOfMissingHartReadsZero() {
        space.write(base + 8, size: 4, value: 1)
        XCTAssertEqual(space.read(base + 8, size: 4), 0)
    }

    func testMtimecmpResetsToAllOnesWithTimerPinLow() {
        XCTAssertEqual(space.read(base + 0x4000, size: 8), UInt64.max)
        XCTAssertFalse(harts[0].isSet(InterruptBit.machineTimer))
    }

    func testMtimecmpHalvesAreWrittenSeparately() {
        space.write(base + 0x4008, size: 4, value: 0x1234_5678)
        XCTAssertEqual(space.read(base + 0x4008, size: 8), 0xffff_ffff_1234_5678)
        space.write(base + 0x400c, size: 4, value: 0x9)
        XCTAssertEqual(space.read(base + 0x4008, size: 8), 0x9_1234_5678)
        XCTAssertEqual(space.read(base + 0x400c, size: 4), 0x9)
        XCTAssertEqual(space.read(base + 0x4008, size: 4), 0x1234_5678)
        XCTAssertEqual(clint.timer.timeCompare(hart: 1), 0x9_1234_5678)
    }

    /// A new compare value may fall inside the running slice, which was budgeted before it
    /// existed: the running hart is asked to leave after the access (so the next slice ends at
    /// the deadline) when, and only when, the deadline comes before the slice's end.
    func testMtimecmpWriteInsideTheRunningSliceEndsIt() {
        let clock = Timebase(clock: .virtual(instructionsPerSecond: 1_000_000_000))
        let timer = CLINT(harts: harts, timebase: clock)
        let mmio = AddressSpace()
        XCTAssertNoThrow(try mmio.mapMMIO(name: "clint", base: base, size: CLINT.Layout.regionSize, device: timer))
        // The hart's HartState fields, which the clock keeps pointers to while the slice runs.
        let budget = UnsafeMutablePointer<Int64>.allocate(capacity: 1)
        let exitRequest = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
        defer { budget.deallocate(); exitRequest.deallocate() }
        exitRequest.pointee = 0
        clock.beginSlice(budget: 50_000, clockBudget: budget, exitRequest: exitRequest)
        budget.pointee = 40_000  // 10,000 instructions into the slice: 100 ticks at 10 MHz.
        mmio.write(base + 0x4008, size: 8, value: clock.now() + 1_000)  // 100,000 units on: past the slice
        XCTAssertEqual(exitRequest.pointee, 0)
        mmio.write(base + 0x4008, size: 8, value: clock.now() + 37)  // 3,700 units on: inside it
        XCTAssertEqual(exitRequest.pointee, 1)
        XCTAssertFalse(harts[1].isSet(InterruptBit.machineTimer))
        clock.endSlice(used: 10_000)
    }

    func testMtimeWriteMovesTimebase() {
        space.write(base + 0xbff8, size: 8, value: 0x5_0000_0000)
        let read = space.read(base + 0xbff8, size: 8)!
        XCTAssertGreaterThanOrEqual(read, 0x5_0000_0000)
        XCTAssertLessThan(read, 0x5_0000_0000 + margin)
        XCTAssertEqual(space.read(base + 0xbffc, size: 4), 5)
    }

    func testMtimeHighHalfWriteKeepsLowHalf() {
        space.write(base + 0xbff8, size: 8, value: 1000)
        space.write(base + 0xbffc, size: 4, value: 7)
        let read = timebase.now()
        XCTAssertEqual(read >> 32, 7)
        XCTAssertGreaterThanOrEqual(read & 0xffff_ffff, 1000)
        XCTAssertLessThan(read & 0xffff_ffff, 1000 + margin)
    }

    func testTimerPinFollowsComparison() {
        timebase.set(margin)
        space.write(base + 0x4000, size: 8, value: 3 * margin)
        XCTAssertFalse(harts[0].isSet(InterruptBit.machineTimer))
        space.write(base + 0x4000, size: 8, value: margin / 2)
        XCTAssertTrue(harts[0].isSet(InterruptBit.machineTimer))
        XCTAssertFalse(harts[1].isSet(InterruptBit.machineTimer))
        space.write(base + 0x4000, size: 8, value: 3 * margin)
        XCTAssertFalse(harts[0].isSet(InterruptBit.machineTimer))
    }

    func testUpdateTimersRaisesPinOnceTimeReachesCompare() {
        timebase.set(margin)
        space.write(base + 0x4008, size: 8, value: 2 * margin)
        XCTAssertFalse(harts[1].isSet(InterruptBit.machineTimer))
        timebase.set(2 * margin)
        XCTAssertFalse(harts[1].isSet(InterruptBit.machineTimer)) // nothing re-evaluated yet
        clint.updateTimers()
        XCTAssertTrue(harts[1].isSet(InterruptBit.machineTimer))
    }

    func testMtimeWriteReevaluatesTimers() {
        timebase.set(margin)
        space.write(base + 0x4000, size: 8, value: 2 * margin)
        space.write(base + 0xbff8, size: 8, value: 3 * margin)
        XCTAssertTrue(harts[0].isSet(InterruptBit.machineTimer))
    }

    func testNextDeadlineIsEarliestUnreachedCompare() {
        timebase.set(10 * margin)
        XCTAssertNil(clint.nextDeadline())
        space.write(base + 0x4000, size: 8, value: 30 * margin)
        space.write(base + 0x4008, size: 8, value: 20 * margin)
        XCTAssertEqual(clint.nextDeadline(), 20 * margin)
        space.write(base + 0x4008, size: 8, value: margin) // already reached
        XCTAssertEqual(clint.nextDeadline(), 30 * margin)
    }

    func testMisalignedAndUnmappedTimerOffsetsReadZero() {
        XCTAssertEqual(space.read(base + 0x4010, size: 8), 0) // hart 2 does not exist
        XCTAssertEqual(space.read(base + 0x4004, size: 8), 0)
    }
}

/// A machine reset of the CLINT (ACLINT 1.0 §2.1, §3.2): mtime from zero, every msip clear,
/// every mtimecmp back to all ones, MSIP and MTIP low.
final class ACLINTResetTests: XCTestCase {
    func testResetClearsMtimeMsipAndMtimecmp() {
        let harts = [FakeHart(), FakeHart()]
        let timebase = Timebase()
        let clint = CLINT(harts: harts, timebase: timebase)
        clint.write(offset: 0x4, size: 4, value: 1)
        clint.write(offset: 0xbff8, size: 8, value: 1 << 40)
        clint.write(offset: 0x4008, size: 8, value: 5)
        XCTAssertTrue(harts[1].isSet(InterruptBit.machineSoftware) && harts[1].isSet(InterruptBit.machineTimer))

        clint.reset()

        XCTAssertLessThan(clint.read(offset: 0xbff8, size: 8), 100_000_000, "mtime counts from 0 again (10 s margin)")
        XCTAssertEqual(clint.read(offset: 0x4, size: 4), 0)
        XCTAssertEqual(clint.read(offset: 0x4008, size: 8), UInt64.max)
        XCTAssertFalse(harts[1].isSet(InterruptBit.machineSoftware))
        XCTAssertFalse(harts[1].isSet(InterruptBit.machineTimer))
    }
}

import IRQ
import XCTest

/// The virtual clock's arithmetic (`Timebase`, docs/architecture.md "Virtual time"): units are
/// instructions, a slice's progress counts from the running hart's budget, idle skips land
/// exactly on a deadline, and nothing reads the host clock.
final class VirtualClockTests: XCTestCase {
    private func clock(ips: UInt64 = 1_000_000_000, frequency: UInt64 = 10_000_000) -> Timebase {
        Timebase(frequency: frequency, clock: .virtual(instructionsPerSecond: ips))
    }

    func testTimeIsRetiredInstructionsAtTheRate() {
        let timebase = clock()
        XCTAssertEqual(timebase.now(), 0)
        let exitRequest = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
        defer { exitRequest.deallocate() }
        var budget: Int64 = 0
        withUnsafeMutablePointer(to: &budget) { left in
            timebase.beginSlice(budget: 50_000, clockBudget: left, exitRequest: exitRequest)
            XCTAssertEqual(left.pointee, 50_000, "a slice starts with its whole budget left")
            left.pointee = 50_000 - 1_234  // the hart is 1,234 instructions in
            XCTAssertEqual(timebase.units, 1_234)
            XCTAssertEqual(timebase.now(), 12, "100 instructions per 10 MHz tick at 1e9 per second")
            XCTAssertEqual(timebase.nanoseconds(), 1_234)
            timebase.endSlice(used: 2_000)
        }
        XCTAssertEqual(timebase.units, 2_000, "between slices only what slices used counts")
        XCTAssertEqual(timebase.now(), 20)
    }

    /// A timer armed in the middle of a slice before the slice's end stops the running hart
    /// after the access (the next slice then ends at the deadline); one at or after the end,
    /// or armed between slices or under the host clock, does not.
    func testATimerArmedBeforeTheSliceEndsStopsTheRunningHart() {
        let timebase = clock()
        let exitRequest = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
        defer { exitRequest.deallocate() }
        exitRequest.pointee = 0
        var budget: Int64 = 0
        withUnsafeMutablePointer(to: &budget) { left in
            timebase.beginSlice(budget: 50_000, clockBudget: left, exitRequest: exitRequest)
            left.pointee = 10_000  // 40,000 in: 10,000 left before the accessing instruction
            timebase.deadlineArmed(inNanoseconds: 10_000)
            XCTAssertEqual(exitRequest.pointee, 0, "due exactly at the slice's end: the slice ends there anyway")
            timebase.deadlineArmed(inNanoseconds: 20_000)
            XCTAssertEqual(exitRequest.pointee, 0, "after the slice's end: the next slice's budget is cut")
            timebase.deadlineArmed(inNanoseconds: 9_999)
            XCTAssertEqual(exitRequest.pointee, 1, "before the slice's end: the hart stops after the access")
            exitRequest.pointee = 0
            // 10 MHz ticks: mtimecmp = now + 99 ticks is 9,900 instructions away.
            timebase.deadlineArmed(atTicks: timebase.now() + 99)
            XCTAssertEqual(exitRequest.pointee, 1)
            exitRequest.pointee = 0
            timebase.endSlice(used: 40_000)
        }
        timebase.deadlineArmed(inNanoseconds: 1)
        XCTAssertEqual(exitRequest.pointee, 0, "between slices nothing runs")
        let host = Timebase(frequency: 10_000_000, clock: .host)
        withUnsafeMutablePointer(to: &budget) { left in
            host.beginSlice(budget: 50_000, clockBudget: left, exitRequest: exitRequest)
            host.deadlineArmed(inNanoseconds: 1)
            host.endSlice(used: 1)
        }
        XCTAssertEqual(exitRequest.pointee, 0, "the host clock's slices are not cut")
    }

    /// The time until a tick deadline counts from the current unit, not from the current tick
    /// (which truncates up to 99 units at the defaults): 23 units in, tick 37 is 3,677 units away.
    func testTheTimeUntilATickDeadlineCountsFromTheCurrentInstruction() {
        let timebase = clock()
        timebase.advance(units: 23)
        XCTAssertEqual(timebase.now(), 0)
        XCTAssertEqual(timebase.nanoseconds(until: 37), 3_677)
        XCTAssertEqual(timebase.units(forNanoseconds: timebase.nanoseconds(until: 37)), 3_677)
        // A guest write to mtime sets the count, not the phase of the next tick (as a counter
        // written between its clock edges): tick 1,001 still comes at unit 100.
        timebase.set(1_000)
        XCTAssertEqual(timebase.nanoseconds(until: 1_037), 3_677)
        XCTAssertEqual(timebase.nanoseconds(until: 999), 0, "already past")
        // 3 units per tick (3 MHz of instructions, 1 MHz timebase): tick 5 is unit 15.
        let slow = clock(ips: 3_000_000, frequency: 1_000_000)
        slow.advance(units: 7)
        XCTAssertEqual(slow.units(forNanoseconds: slow.nanoseconds(until: 5)), 8)
        // 3 units a nanosecond: rounding may be a unit late, never early.
        let fast = clock(ips: 3_000_000_000, frequency: 10_000_000)
        fast.advance(units: 1)
        let away = fast.units(forNanoseconds: fast.nanoseconds(until: 1))
        XCTAssertTrue((299...301).contains(away), "\(away) units to tick 1 from unit 1")
    }

    func testOtherRatesScaleExactly() {
        let timebase = clock(ips: 3_000_000, frequency: 1_000_000)
        timebase.advance(units: 3_000_000)
        XCTAssertEqual(timebase.now(), 1_000_000, "one second")
        XCTAssertEqual(timebase.nanoseconds(), 1_000_000_000)
        XCTAssertEqual(timebase.units(forNanoseconds: 1), 1, "rounded up: waiting that long reaches the time")
        XCTAssertEqual(timebase.units(forNanoseconds: 1_000), 3)
    }

    func testAnIdleSkipToADeadlineReadsExactlyTheDeadline() {
        let timebase = clock()
        timebase.advance(units: 1_234_567)
        let deadline = timebase.now() + 10 * 10_000_000  // 10 s of mtime
        let nanoseconds = timebase.nanoseconds(until: deadline)
        timebase.advance(units: timebase.units(forNanoseconds: nanoseconds))
        XCTAssertEqual(timebase.now(), deadline)
        XCTAssertEqual(timebase.nanoseconds(until: deadline), 0)
    }

    func testMtimeWritesMoveTheTicksButNotMachineNanoseconds() {
        let timebase = clock()
        timebase.advance(units: 500)
        timebase.set(1_000_000)
        XCTAssertEqual(timebase.now(), 1_000_000)
        XCTAssertEqual(timebase.nanoseconds(), 500, "plugin timers and the RTC do not jump with mtime")
        timebase.advance(units: 100)
        XCTAssertEqual(timebase.now(), 1_000_001)
    }

    func testAVirtualClockStandsStillWithoutInstructions() {
        let timebase = clock()
        let before = timebase.now()
        usleep(20_000)
        XCTAssertEqual(timebase.now(), before, "host time passing must not move a virtual clock")
        XCTAssertEqual(timebase.nanoseconds(), 0)
    }

    func testTheHostClockFollowsTheHost() {
        let timebase = Timebase(frequency: 10_000_000, clock: .host)
        let before = timebase.now()
        usleep(20_000)
        XCTAssertGreaterThanOrEqual(timebase.now() - before, 150_000, "20 ms is 200,000 ticks at 10 MHz")
    }
}

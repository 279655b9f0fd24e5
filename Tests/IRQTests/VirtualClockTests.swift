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
        var budget: Int64 = 0
        withUnsafeMutablePointer(to: &budget) { left in
            timebase.beginSlice(budget: 50_000, clockBudget: left)
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

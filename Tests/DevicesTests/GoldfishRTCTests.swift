import Devices
import IRQ
import TestSupport
import Memory
import XCTest

/// A settable clock shared between a test and the RTC.
final class FakeClock {
    var nanoseconds: UInt64 = 0
}

final class GoldfishRTCTests: XCTestCase {
    let base: UInt64 = 0x10_1000
    var clock: FakeClock!
    var controller: RecordingController!
    var rtc: GoldfishRTC!
    var space: AddressSpace!

    override func setUpWithError() throws {
        clock = FakeClock()
        controller = RecordingController()
        let clock = self.clock!
        rtc = GoldfishRTC(irq: controller.line(11), clock: { clock.nanoseconds })
        space = AddressSpace()
        try space.mapMMIO(name: "rtc", base: base, size: GoldfishRTC.regionSize, device: rtc)
    }

    func testTimeLowReadLatchesHigh() {
        clock.nanoseconds = 0x1_2345_6789_abcd
        XCTAssertEqual(space.read(base, size: 4), 0x6789_abcd)
        clock.nanoseconds = 0x9_0000_0000_0000
        XCTAssertEqual(space.read(base + 4, size: 4), 0x1_2345)
    }

    func testWritingTimeMovesTheClock() {
        clock.nanoseconds = 1_000
        space.write(base + 4, size: 4, value: 2)
        space.write(base, size: 4, value: 500)
        XCTAssertEqual(rtc.now, 0x2_0000_01f4)
        clock.nanoseconds = 1_100
        XCTAssertEqual(rtc.now, 0x2_0000_0258)
    }

    /// A machine reset (QEMU `goldfish_rtc_reset`): the time back on the wall clock, no alarm
    /// armed, the interrupt disabled and the line low.
    func testMachineResetDisarmsTheAlarmAndDropsTheGuestsTime() {
        clock.nanoseconds = 5_000
        space.write(base + 0x04, size: 4, value: 7)                      // TIME_HIGH: the guest moves the clock
        space.write(base + 0x10, size: 4, value: 1)                      // IRQ_ENABLED
        space.write(base + 0x0c, size: 4, value: 0); space.write(base + 0x08, size: 4, value: 1)  // alarm in the past: fires
        XCTAssertTrue(controller.level(11))

        rtc.reset()

        XCTAssertEqual(space.read(base + 0x00, size: 4), 5_000, "the wall clock again")
        XCTAssertEqual(space.read(base + 0x04, size: 4), 0)
        XCTAssertEqual([space.read(base + 0x10, size: 4), space.read(base + 0x18, size: 4), space.read(base + 0x08, size: 4)], [0, 0, 0])
        XCTAssertFalse(controller.level(11))
    }

    func testAlarmFiresOnPollWhenDue() {
        clock.nanoseconds = 1_000
        space.write(base + 0x10, size: 4, value: 1)
        space.write(base + 0x0c, size: 4, value: 0)
        space.write(base + 0x08, size: 4, value: 5_000)
        XCTAssertEqual(space.read(base + 0x18, size: 4), 1)
        XCTAssertEqual(rtc.nanosecondsUntilAlarm(), 4_000)
        rtc.poll()
        XCTAssertFalse(controller.level(11))
        clock.nanoseconds = 5_000
        rtc.poll()
        XCTAssertTrue(controller.level(11))
        XCTAssertEqual(space.read(base + 0x18, size: 4), 0)
        space.write(base + 0x1c, size: 4, value: 1)
        XCTAssertFalse(controller.level(11))
    }

    func testAlarmInThePastFiresImmediately() {
        clock.nanoseconds = 10_000
        space.write(base + 0x10, size: 4, value: 1)
        space.write(base + 0x08, size: 4, value: 9_000)
        XCTAssertTrue(controller.level(11))
    }

    func testDisabledInterruptHoldsLineLowUntilEnabled() {
        clock.nanoseconds = 10_000
        space.write(base + 0x08, size: 4, value: 9_000)
        XCTAssertFalse(controller.level(11))
        space.write(base + 0x10, size: 4, value: 1)
        XCTAssertTrue(controller.level(11))
        XCTAssertEqual(space.read(base + 0x10, size: 4), 1)
    }

    func testClearAlarmDisarms() {
        clock.nanoseconds = 1_000
        space.write(base + 0x10, size: 4, value: 1)
        space.write(base + 0x08, size: 4, value: 2_000)
        space.write(base + 0x14, size: 4, value: 1)
        clock.nanoseconds = 3_000
        rtc.poll()
        XCTAssertFalse(controller.level(11))
        XCTAssertNil(rtc.nanosecondsUntilAlarm())
    }

    func testAlarmRegistersReadBack() {
        space.write(base + 0x0c, size: 4, value: 0x7)
        space.write(base + 0x08, size: 4, value: 0x1234)
        XCTAssertEqual(space.read(base + 0x08, size: 4), 0x1234)
        XCTAssertEqual(space.read(base + 0x0c, size: 4), 0x7)
    }
}

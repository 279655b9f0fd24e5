import Devices
import Memory
import XCTest

final class SifiveTestTests: XCTestCase {
    var power: PowerControl!
    var space: AddressSpace!

    override func setUpWithError() throws {
        power = PowerControl()
        space = AddressSpace()
        try space.mapMMIO(name: "test", base: 0x10_0000, size: SifiveTest.regionSize, device: SifiveTest(power: power))
    }

    func testPassPowersOffWithZero() {
        space.write(0x10_0000, size: 4, value: 0x5555)
        XCTAssertEqual(power.event, .poweroff(exitCode: 0))
    }

    func testFailCarriesCodeFromHighHalf() {
        space.write(0x10_0000, size: 4, value: 0x2a_3333)
        XCTAssertEqual(power.event, .poweroff(exitCode: 42))
    }

    func testFailWithCodeZeroExitsOne() {
        space.write(0x10_0000, size: 4, value: 0x3333)
        XCTAssertEqual(power.event, .poweroff(exitCode: 1))
    }

    func testResetRequestsReset() {
        space.write(0x10_0000, size: 4, value: 0x7777)
        XCTAssertEqual(power.take(), .reset)
        XCTAssertNil(power.event)
    }

    func testHalfwordPassWorks() {
        space.write(0x10_0000, size: 2, value: 0x5555)
        XCTAssertEqual(power.event, .poweroff(exitCode: 0))
    }

    func testOtherValuesAndOffsetsDoNothing() {
        space.write(0x10_0000, size: 4, value: 0x1234)
        space.write(0x10_0004, size: 4, value: 0x5555)
        XCTAssertNil(power.event)
        XCTAssertEqual(space.read(0x10_0000, size: 4), 0)
    }

    func testFirstVerdictWins() {
        space.write(0x10_0000, size: 4, value: 0x3_3333)
        space.write(0x10_0000, size: 4, value: 0x5555)
        XCTAssertEqual(power.event, .poweroff(exitCode: 3))
    }
}

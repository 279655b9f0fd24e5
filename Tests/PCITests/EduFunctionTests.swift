import XCTest
import Memory
@testable import PCI

/// The edu example function (docs/pci.md) driven through its BARs on a host bridge.
final class EduFunctionTests: XCTestCase {
    private let bar0: UInt64 = 0x4000_0000
    private let bar1: UInt64 = 0x4010_0000

    private func edu(command: UInt64 = 0x6) throws -> (PCIFixture, EduFunction) {
        let fixture = PCIFixture()
        let edu = try fixture.bridge.attach(at: PCIAddress(device: 3)) { EduFunction(bus: $0) }
        fixture.configWrite(device: 3, register: 0x10, value: bar0)
        fixture.configWrite(device: 3, register: 0x14, value: bar1)
        fixture.configWrite(device: 3, register: 0x04, size: 2, value: command)
        return (fixture, edu)
    }

    func testIdentificationAndLiveness() throws {
        let (fixture, _) = try edu()

        fixture.space.write(bar0 + 4, size: 4, value: 0x1234_5678)

        XCTAssertEqual(fixture.space.read(bar0, size: 4), 0x0100_00ed)
        XCTAssertEqual(fixture.space.read(bar0 + 4, size: 4), 0xedcb_a987)
        XCTAssertEqual(fixture.configRead(device: 3, register: 0), 0x11e8_1234)
    }

    func testAByteStoreToTheBufferLeavesItsNeighboursIntact() throws {
        let (fixture, _) = try edu()
        fixture.space.write(bar0 + 0x40000, size: 8, value: 0x8877_6655_4433_2211)

        fixture.space.write(bar0 + 0x40002, size: 1, value: 0xaa)
        fixture.space.write(bar0 + 0x40004, size: 2, value: 0xccbb)

        XCTAssertEqual(fixture.space.read(bar0 + 0x40000, size: 8), 0x8877_ccbb_44aa_2211)
        XCTAssertEqual(fixture.space.read(bar0 + 0x40005, size: 1), 0xcc)
    }

    func testANarrowAccessToARegisterIsIgnored() throws {
        let (fixture, _) = try edu()
        fixture.space.write(bar0 + 4, size: 4, value: 0x1234_5678)

        fixture.space.write(bar0 + 4, size: 1, value: 0xff)

        XCTAssertEqual(fixture.space.read(bar0 + 4, size: 4), 0xedcb_a987)
        XCTAssertEqual(fixture.space.read(bar0, size: 2), 0)
    }

    func testFactorial() throws {
        let (fixture, _) = try edu()

        fixture.space.write(bar0 + 8, size: 4, value: 10)

        XCTAssertEqual(fixture.space.read(bar0 + 8, size: 4), 3_628_800)
    }

    func testFactorialOfALargeNumberWrapsToZero() throws {
        let (fixture, _) = try edu()

        fixture.space.write(bar0 + 8, size: 4, value: 0xffff_ffff)

        XCTAssertEqual(fixture.space.read(bar0 + 8, size: 4), 0)
    }

    func testFactorialWrapsAt32Bits() throws {
        let (fixture, _) = try edu()

        fixture.space.write(bar0 + 8, size: 4, value: 13)

        XCTAssertEqual(fixture.space.read(bar0 + 8, size: 4), 6_227_020_800 & 0xffff_ffff)
    }

    func testDMAFromRAMToBufferAndBack() throws {
        let (fixture, _) = try edu()
        _ = fixture.space.dma.write(PCIFixture.ram, bytes: [0xde, 0xad, 0xbe, 0xef])
        fixture.space.write(bar0 + 0x80, size: 8, value: PCIFixture.ram)
        fixture.space.write(bar0 + 0x88, size: 8, value: 0x40000)
        fixture.space.write(bar0 + 0x90, size: 8, value: 4)
        fixture.space.write(bar0 + 0x98, size: 8, value: 1)
        fixture.space.write(bar0 + 0x80, size: 8, value: 0x40000)
        fixture.space.write(bar0 + 0x88, size: 8, value: PCIFixture.ram + 0x100)

        fixture.space.write(bar0 + 0x98, size: 8, value: 3)

        XCTAssertEqual(fixture.space.read(bar0 + 0x40000, size: 4), 0xefbe_adde)
        XCTAssertEqual(try fixture.space.dma.read(PCIFixture.ram + 0x100, count: 4).get(), [0xde, 0xad, 0xbe, 0xef])
        XCTAssertEqual(fixture.space.read(bar0 + 0x98, size: 8), 2, "start bit clears when done")
    }

    func testDMAToUnmappedAddressFailsAndSetsReceivedMasterAbort() throws {
        let (fixture, edu) = try edu()
        fixture.space.write(bar0 + 0x80, size: 8, value: 0x10)
        fixture.space.write(bar0 + 0x88, size: 8, value: 0x40000)
        fixture.space.write(bar0 + 0x90, size: 8, value: 4)

        fixture.space.write(bar0 + 0x98, size: 8, value: 1)

        XCTAssertEqual(fixture.space.read(bar0 + 0x98, size: 8), EduFunction.DMACommand.failed)
        XCTAssertTrue(edu.config.status.contains(.receivedMasterAbort))
    }

    func testDMAWithDeviceAddressAtTheTopOfTheAddressSpaceFails() throws {
        let (fixture, _) = try edu()
        fixture.space.write(bar0 + 0x80, size: 8, value: UInt64.max)
        fixture.space.write(bar0 + 0x88, size: 8, value: PCIFixture.ram)
        fixture.space.write(bar0 + 0x90, size: 8, value: 4)

        fixture.space.write(bar0 + 0x98, size: 8, value: 3)

        XCTAssertEqual(fixture.space.read(bar0 + 0x98, size: 8), EduFunction.DMACommand.toRAM | EduFunction.DMACommand.failed)
    }

    func testRaisedInterruptAssertsINTAUntilAcknowledged() throws {
        let (fixture, _) = try edu()

        fixture.space.write(bar0 + 0x60, size: 4, value: 0x5)
        let raised = fixture.controller.levels[35]
        fixture.space.write(bar0 + 0x64, size: 4, value: 0x5)

        XCTAssertEqual(raised, true, "INTA of slot 3 is INTD's line")
        XCTAssertEqual(fixture.controller.levels[35], false)
    }

    func testInterruptUsesMSIXWhenEnabled() throws {
        let (fixture, edu) = try edu()
        fixture.space.write(bar1, size: 4, value: PCIFixture.ram + 0x200)
        fixture.space.write(bar1 + 8, size: 4, value: 0x42)
        fixture.space.write(bar1 + 12, size: 4, value: 0)
        fixture.configWrite(device: 3, register: UInt64(edu.msix.offset + 2), size: 2, value: 0x8000)

        fixture.space.write(bar0 + 0x60, size: 4, value: 1)

        XCTAssertEqual(fixture.space.read(PCIFixture.ram + 0x200, size: 4), 0x42)
        XCTAssertNil(fixture.controller.levels[35])
    }
}

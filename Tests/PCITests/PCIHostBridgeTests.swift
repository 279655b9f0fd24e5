import XCTest
import Memory
@testable import PCI

/// ECAM decoding, BAR mapping and bus-master DMA through the host bridge.
final class PCIHostBridgeTests: XCTestCase {
    func testHostBridgeFunctionAnswersAt00_0() {
        let fixture = PCIFixture()

        XCTAssertEqual(fixture.configRead(device: 0, register: 0), 0x0008_1b36)
        XCTAssertEqual(fixture.configRead(device: 0, register: 0x0a, size: 2), 0x0600)
    }

    func testEmptySlotReadsAllOnes() {
        let fixture = PCIFixture()

        XCTAssertEqual(fixture.configRead(device: 3, register: 0), 0xffff_ffff)
        XCTAssertEqual(fixture.configRead(device: 3, register: 0, size: 2), 0xffff)
    }

    func testOtherBusesReadAllOnes() throws {
        let fixture = PCIFixture()
        try fixture.bridge.attach(at: PCIAddress(device: 1)) { PlainFunction(bus: $0) }

        XCTAssertEqual(fixture.space.read(fixture.ecam(bus: 1, device: 1, register: 0), size: 4), 0xffff_ffff)
    }

    func testECAMDecodesDeviceFunctionAndRegister() throws {
        let fixture = PCIFixture()
        try fixture.bridge.attach(at: PCIAddress(device: 4, function: 2)) { PlainFunction(bus: $0) }

        XCTAssertEqual(fixture.configRead(device: 4, function: 2, register: 0), 0x5678_1234)
        XCTAssertEqual(fixture.configRead(device: 4, function: 2, register: 0x09, size: 1), 0x00)
        XCTAssertEqual(fixture.configRead(device: 4, function: 2, register: 0x0a, size: 2), 0x0780)
    }

    func testFunctionZeroBecomesMultiFunctionWhenASiblingIsAttached() throws {
        let fixture = PCIFixture()
        try fixture.bridge.attach(at: PCIAddress(device: 4)) { PlainFunction(bus: $0) }

        try fixture.bridge.attach(at: PCIAddress(device: 4, function: 1)) { PlainFunction(bus: $0) }

        XCTAssertEqual(fixture.configRead(device: 4, register: 0x0e, size: 1), 0x80)
        XCTAssertEqual(fixture.configRead(device: 4, function: 1, register: 0x0e, size: 1), 0x00)
    }

    func testAttachingToATakenSlotThrows() throws {
        let fixture = PCIFixture()

        XCTAssertThrowsError(try fixture.bridge.attach(at: PCIAddress(device: 0)) { PlainFunction(bus: $0) }) { error in
            XCTAssertEqual("\(error)", "pcie0: 00:00.0 is already taken")
        }
    }

    func testBARIsMappedWhenProgrammedAndMemoryDecodeEnabled() throws {
        let fixture = PCIFixture()
        let function = try fixture.bridge.attach(at: PCIAddress(device: 1)) { PlainFunction(bus: $0) }

        fixture.configWrite(device: 1, register: 0x10, value: 0x4000_1000)
        let beforeEnable = fixture.space.read(0x4000_1008, size: 4)
        fixture.configWrite(device: 1, register: 0x04, size: 2, value: 0x2)
        fixture.space.write(0x4000_1010, size: 4, value: 0xabcd)

        XCTAssertNil(beforeEnable)
        XCTAssertEqual(fixture.space.read(0x4000_1008, size: 4), 0x8)
        XCTAssertEqual(function.lastWrite?.offset, 0x10)
        XCTAssertEqual(function.lastWrite?.value, 0xabcd)
    }

    func testMovingABARRemapsIt() throws {
        let fixture = PCIFixture()
        try fixture.bridge.attach(at: PCIAddress(device: 1)) { PlainFunction(bus: $0) }
        fixture.configWrite(device: 1, register: 0x10, value: 0x4000_1000)
        fixture.configWrite(device: 1, register: 0x04, size: 2, value: 0x2)

        fixture.configWrite(device: 1, register: 0x10, value: 0x5000_0000)

        XCTAssertNil(fixture.space.read(0x4000_1000, size: 4))
        XCTAssertEqual(fixture.space.read(0x5000_0004, size: 4), 0x4)
        XCTAssertEqual(fixture.bridge.mappedRegion(of: PCIAddress(device: 1), bar: 0)?.base, 0x5000_0000)
    }

    func testDisablingMemoryDecodeUnmapsTheBAR() throws {
        let fixture = PCIFixture()
        try fixture.bridge.attach(at: PCIAddress(device: 1)) { PlainFunction(bus: $0) }
        fixture.configWrite(device: 1, register: 0x10, value: 0x4000_1000)
        fixture.configWrite(device: 1, register: 0x04, size: 2, value: 0x2)

        fixture.configWrite(device: 1, register: 0x04, size: 2, value: 0x0)

        XCTAssertNil(fixture.space.read(0x4000_1000, size: 4))
    }

    func testBAROutsideEveryWindowIsNotMapped() throws {
        let fixture = PCIFixture()
        try fixture.bridge.attach(at: PCIAddress(device: 1)) { PlainFunction(bus: $0) }

        fixture.configWrite(device: 1, register: 0x10, value: 0x2000_0000)
        fixture.configWrite(device: 1, register: 0x04, size: 2, value: 0x2)

        XCTAssertNil(fixture.bridge.mappedRegion(of: PCIAddress(device: 1), bar: 0))
    }

    func testIOBARIsMappedThroughTheIOWindowTranslation() throws {
        let fixture = PCIFixture()
        try fixture.bridge.attach(at: PCIAddress(device: 1)) { PlainFunction(bus: $0, bars: [(2, .io(size: 0x20))]) }

        fixture.configWrite(device: 1, register: 0x18, value: 0x1000)
        fixture.configWrite(device: 1, register: 0x04, size: 2, value: 0x1)

        XCTAssertEqual(fixture.space.read(0x0300_1004, size: 4), 0x2_0004)
        XCTAssertEqual(fixture.bridge.mappedRegion(of: PCIAddress(device: 1), bar: 2)?.base, 0x0300_1000)
    }

    func test64BitBARIsMappedAbove4GiB() throws {
        let fixture = PCIFixture()
        try fixture.bridge.attach(at: PCIAddress(device: 1)) { PlainFunction(bus: $0, bars: [(4, .memory64(size: 0x4000, prefetchable: true))]) }

        fixture.configWrite(device: 1, register: 0x20, value: 0x0000_c00c)
        fixture.configWrite(device: 1, register: 0x24, value: 0x4)
        fixture.configWrite(device: 1, register: 0x04, size: 2, value: 0x2)

        XCTAssertEqual(fixture.bridge.mappedRegion(of: PCIAddress(device: 1), bar: 4)?.base, 0x4_0000_c000)
    }

    func testResetUnmapsBARsAndClearsCommand() throws {
        let fixture = PCIFixture()
        try fixture.bridge.attach(at: PCIAddress(device: 1)) { PlainFunction(bus: $0) }
        fixture.configWrite(device: 1, register: 0x10, value: 0x4000_1000)
        fixture.configWrite(device: 1, register: 0x04, size: 2, value: 0x6)

        fixture.bridge.reset()

        XCTAssertNil(fixture.space.read(0x4000_1000, size: 4))
        XCTAssertEqual(fixture.configRead(device: 1, register: 0x04, size: 2), 0)
        XCTAssertEqual(fixture.configRead(device: 1, register: 0x10), 0)
    }

    // MARK: DMA

    func testDMAIsRefusedWithoutBusMaster() {
        let fixture = PCIFixture()
        let bus = fixture.standaloneBus()

        let result = bus.dmaRead(PCIFixture.ram, count: 4)

        XCTAssertEqual(result.failure, .busMasterDisabled(address: PCIFixture.ram, length: 4))
        XCTAssertFalse(bus.config.status.contains(.receivedMasterAbort))
        XCTAssertEqual("\(result.failure!)", "DMA of 4 bytes at 0x80000000 refused: bus mastering is disabled")
    }

    func testDMAToUnmappedAddressIsAMasterAbort() {
        let fixture = PCIFixture()
        let bus = fixture.standaloneBus()
        bus.config.write(offset: PCIConfigRegister.command, size: 2, value: UInt32(PCICommand.busMaster.rawValue))

        let result = bus.dmaWrite(0x1000, bytes: [1, 2, 3])

        XCTAssertEqual(result.failure, .masterAbort(address: 0x1000, length: 3))
        XCTAssertTrue(bus.config.status.contains(.receivedMasterAbort))
    }

    func testDMAWithBusMasterMovesBytes() {
        let fixture = PCIFixture()
        let bus = fixture.standaloneBus()
        bus.config.write(offset: PCIConfigRegister.command, size: 2, value: UInt32(PCICommand.busMaster.rawValue))

        _ = bus.dmaWrite(PCIFixture.ram + 8, bytes: [1, 2, 3, 4])

        XCTAssertEqual(try bus.dmaRead(PCIFixture.ram + 8, count: 4).get(), [1, 2, 3, 4])
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

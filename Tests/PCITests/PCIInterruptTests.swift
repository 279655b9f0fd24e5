import XCTest
import Memory
@testable import PCI

/// MSI, MSI-X and INTx as a function raises them.
final class PCIInterruptTests: XCTestCase {
    private let target = PCIFixture.ram + 0x100

    private func enableBusMaster(_ config: PCIConfigSpace) {
        config.write(offset: PCIConfigRegister.command, size: 2, value: UInt32(PCICommand.busMaster.rawValue))
    }

    // MARK: MSI

    func testMSIMultiMessagePutsTheVectorInTheLowDataBits() {
        let fixture = PCIFixture()
        let bus = fixture.standaloneBus()
        let msi = MSICapability(bus: bus, vectors: 4)
        enableBusMaster(bus.config)
        bus.config.write(offset: msi.offset + 4, size: 4, value: UInt32(target))
        bus.config.write(offset: msi.offset + 8, size: 4, value: 0)
        bus.config.write(offset: msi.offset + 0x0c, size: 2, value: 0x40)
        bus.config.write(offset: msi.offset + 2, size: 2, value: 0x21)  // enable, 4 vectors (MME = 2)

        msi.signal(vector: 3)

        XCTAssertEqual(msi.enabledVectors, 4)
        XCTAssertEqual(fixture.space.read(target, size: 4), 0x43)
    }

    func testMSIControlAdvertisesCapableVectorsAnd64BitMasking() {
        let fixture = PCIFixture()
        let bus = fixture.standaloneBus()

        let msi = MSICapability(bus: bus, vectors: 8)

        XCTAssertEqual(bus.config.read(offset: msi.offset + 2, size: 2), 0x0186)
    }

    func testMaskedMSIVectorIsPendingAndSentOnUnmask() {
        let fixture = PCIFixture()
        let bus = fixture.standaloneBus()
        let msi = MSICapability(bus: bus, vectors: 1)
        enableBusMaster(bus.config)
        bus.config.write(offset: msi.offset + 4, size: 4, value: UInt32(target))
        bus.config.write(offset: msi.offset + 0x0c, size: 2, value: 0x77)
        bus.config.write(offset: msi.offset + 0x10, size: 4, value: 1)  // mask vector 0
        bus.config.write(offset: msi.offset + 2, size: 2, value: 1)

        msi.signal(vector: 0)
        let whileMasked = fixture.space.read(target, size: 4)
        let pending = msi.pending
        bus.config.write(offset: msi.offset + 0x10, size: 4, value: 0)

        XCTAssertEqual(whileMasked, 0)
        XCTAssertEqual(pending, 1)
        XCTAssertEqual(fixture.space.read(target, size: 4), 0x77)
        XCTAssertEqual(msi.pending, 0)
    }

    func testDisabledMSISendsNothing() {
        let fixture = PCIFixture()
        let bus = fixture.standaloneBus()
        let msi = MSICapability(bus: bus, vectors: 1, is64Bit: false, perVectorMasking: false)
        enableBusMaster(bus.config)
        bus.config.write(offset: msi.offset + 4, size: 4, value: UInt32(target))
        bus.config.write(offset: msi.offset + 8, size: 2, value: 0x55)

        msi.signal(vector: 0)

        XCTAssertEqual(fixture.space.read(target, size: 4), 0)
    }

    func testMSIWithoutBusMasterIsNotSent() {
        let fixture = PCIFixture()
        let bus = fixture.standaloneBus()
        let msi = MSICapability(bus: bus, vectors: 1)
        bus.config.write(offset: msi.offset + 4, size: 4, value: UInt32(target))
        bus.config.write(offset: msi.offset + 0x0c, size: 2, value: 0x55)
        bus.config.write(offset: msi.offset + 2, size: 2, value: 1)

        msi.signal(vector: 0)

        XCTAssertEqual(fixture.space.read(target, size: 4), 0)
    }

    // MARK: MSI-X

    private func msixFixture(vectors: Int = 2) -> (PCIFixture, PCIBusInterface, MSIXCapability) {
        let fixture = PCIFixture()
        let bus = fixture.standaloneBus()
        bus.config.declareBAR(1, .memory32(size: 0x1000))
        let msix = MSIXCapability(bus: bus, vectors: vectors, tableBAR: 1, tableOffset: 0, pbaBAR: 1, pbaOffset: 0x800)
        enableBusMaster(bus.config)
        for vector in 0..<vectors {
            let entry = UInt64(vector) * 16
            _ = msix.writeBAR(1, offset: entry, size: 4, value: target + UInt64(4 * vector))
            _ = msix.writeBAR(1, offset: entry + 4, size: 4, value: 0)
            _ = msix.writeBAR(1, offset: entry + 8, size: 4, value: 0x100 + UInt64(vector))
        }
        bus.config.write(offset: msix.offset + 2, size: 2, value: 0x8000)
        return (fixture, bus, msix)
    }

    func testMSIXVectorsStartMasked() {
        let (fixture, _, msix) = msixFixture()

        msix.notify(vector: 1)

        XCTAssertEqual(fixture.space.read(target + 4, size: 4), 0)
        XCTAssertTrue(msix.isPending(1))
        XCTAssertEqual(msix.readBAR(1, offset: 0x800, size: 8), 0b10)
    }

    func testUnmaskingAnMSIXVectorSendsItsPendingMessage() {
        let (fixture, _, msix) = msixFixture()
        msix.notify(vector: 1)

        _ = msix.writeBAR(1, offset: 16 + 12, size: 4, value: 0)

        XCTAssertEqual(fixture.space.read(target + 4, size: 4), 0x101)
        XCTAssertFalse(msix.isPending(1))
    }

    func testUnmaskedMSIXVectorIsSentAtOnce() {
        let (fixture, _, msix) = msixFixture()
        _ = msix.writeBAR(1, offset: 12, size: 4, value: 0)

        msix.notify(vector: 0)

        XCTAssertEqual(fixture.space.read(target, size: 4), 0x100)
        XCTAssertFalse(msix.isPending(0))
    }

    func testFunctionMaskHoldsMessagesUntilCleared() {
        let (fixture, bus, msix) = msixFixture()
        _ = msix.writeBAR(1, offset: 12, size: 4, value: 0)
        bus.config.write(offset: msix.offset + 2, size: 2, value: 0xc000)

        msix.notify(vector: 0)
        let whileMasked = fixture.space.read(target, size: 4)
        bus.config.write(offset: msix.offset + 2, size: 2, value: 0x8000)

        XCTAssertEqual(whileMasked, 0)
        XCTAssertEqual(fixture.space.read(target, size: 4), 0x100)
    }

    func testMSIXTableReadsBackWithEightByteAccesses() {
        let (_, _, msix) = msixFixture()

        XCTAssertEqual(msix.readBAR(1, offset: 16, size: 8), target + 4)
        XCTAssertEqual(msix.readBAR(1, offset: 24, size: 8), 0x1_0000_0101)
        XCTAssertNil(msix.readBAR(1, offset: 0x400, size: 4))
    }

    func testMSIXCapabilityEncodesTableSizeAndLocations() {
        let (_, bus, msix) = msixFixture(vectors: 3)

        XCTAssertEqual(bus.config.read(offset: msix.offset, size: 4), 0x8002_0011)
        XCTAssertEqual(bus.config.read(offset: msix.offset + 4, size: 4), 1)
        XCTAssertEqual(bus.config.read(offset: msix.offset + 8, size: 4), 0x801)
    }

    // MARK: INTx

    func testINTxFollowsTheSwizzleAndSetsInterruptStatus() throws {
        let fixture = PCIFixture()
        let function = try fixture.bridge.attach(at: PCIAddress(device: 2)) { PlainFunction(bus: $0) }

        function.bus.setINTx(true)

        XCTAssertEqual(fixture.controller.levels[34], true, "INTA of slot 2 is the third line")
        XCTAssertTrue(function.config.status.contains(.interruptStatus))
    }

    func testInterruptDisableHidesINTxButNotItsStatus() throws {
        let fixture = PCIFixture()
        let function = try fixture.bridge.attach(at: PCIAddress(device: 1)) { PlainFunction(bus: $0) }
        function.bus.setINTx(true)

        fixture.configWrite(device: 1, register: 4, size: 2, value: UInt64(PCICommand.interruptDisable.rawValue))

        XCTAssertEqual(fixture.controller.levels[33], false)
        XCTAssertTrue(function.config.status.contains(.interruptStatus))
    }

    func testSharedINTxLineStaysUpUntilEveryFunctionLowersIt() throws {
        let fixture = PCIFixture()
        let first = try fixture.bridge.attach(at: PCIAddress(device: 1)) { PlainFunction(bus: $0) }
        let second = try fixture.bridge.attach(at: PCIAddress(device: 5)) { PlainFunction(bus: $0) }
        first.bus.setINTx(true)
        second.bus.setINTx(true)

        first.bus.setINTx(false)
        let afterFirst = fixture.controller.levels[33]
        second.bus.setINTx(false)

        XCTAssertEqual(afterFirst, true, "slots 1 and 5 share INTA's line")
        XCTAssertEqual(fixture.controller.levels[33], false)
    }
}

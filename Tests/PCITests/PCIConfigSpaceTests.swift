import XCTest
@testable import PCI

final class PCIConfigSpaceTests: XCTestCase {
    private func space() -> PCIConfigSpace {
        PCIConfigSpace(identity: PCIIdentity(vendorID: 0x1af4, deviceID: 0x1042, revision: 1, classCode: 0x010000,
                                             subsystemVendorID: 0x1af4, subsystemID: 0x1100))
    }

    func testIdentityRegistersAreReadOnly() {
        let config = space()

        config.write(offset: 0, size: 4, value: 0xdead_beef)
        config.write(offset: 8, size: 4, value: 0xffff_ffff)

        XCTAssertEqual(config.read(offset: 0, size: 4), 0x1042_1af4)
        XCTAssertEqual(config.read(offset: 8, size: 4), 0x0100_0001)
        XCTAssertEqual(config.read(offset: 0x2c, size: 4), 0x1100_1af4)
    }

    func testCommandKeepsOnlyWritableBits() {
        let config = space()

        config.write(offset: PCIConfigRegister.command, size: 2, value: 0xffff)

        XCTAssertEqual(config.read(offset: PCIConfigRegister.command, size: 2), 0x0547)
    }

    func testStatusErrorBitsAreWriteOneToClear() {
        let config = space()
        config.setStatus([.receivedMasterAbort, .signaledTargetAbort, .interruptStatus], true)

        config.write(offset: PCIConfigRegister.status, size: 2, value: UInt32(PCIStatus.receivedMasterAbort.rawValue))

        XCTAssertEqual(config.status, [.signaledTargetAbort, .interruptStatus])
    }

    func testWritingZeroToStatusClearsNothing() {
        let config = space()
        config.setStatus(.receivedMasterAbort, true)

        config.write(offset: PCIConfigRegister.status, size: 2, value: 0)

        XCTAssertTrue(config.status.contains(.receivedMasterAbort))
    }

    func testMemory32BARSizingReadsBackSizeMaskAndType() {
        let config = space()
        config.declareBAR(0, .memory32(size: 0x1000))

        config.write(offset: 0x10, size: 4, value: 0xffff_ffff)

        XCTAssertEqual(config.read(offset: 0x10, size: 4), 0xffff_f000)
    }

    func testPrefetchableMemory64BARSizingSpansTwoRegisters() {
        let config = space()
        config.declareBAR(4, .memory64(size: 0x4000, prefetchable: true))

        config.write(offset: 0x20, size: 4, value: 0xffff_ffff)
        config.write(offset: 0x24, size: 4, value: 0xffff_ffff)

        XCTAssertEqual(config.read(offset: 0x20, size: 4), 0xffff_c00c)
        XCTAssertEqual(config.read(offset: 0x24, size: 4), 0xffff_ffff)
    }

    func testMemory64BARAddressCombinesBothHalves() {
        let config = space()
        config.declareBAR(2, .memory64(size: 0x4000))

        config.write(offset: 0x18, size: 4, value: 0x1234_5678)
        config.write(offset: 0x1c, size: 4, value: 0x4)

        XCTAssertEqual(config.barAddress(2), 0x4_1234_4000)
    }

    func testIOBARSizingKeepsTheIOSpaceBit() {
        let config = space()
        config.declareBAR(1, .io(size: 0x20))

        config.write(offset: 0x14, size: 4, value: 0xffff_ffff)

        XCTAssertEqual(config.read(offset: 0x14, size: 4), 0xffff_ffe1)
    }

    func testUndeclaredBARAndExpansionROMReadZeroAfterAllOnes() {
        let config = space()

        config.write(offset: 0x18, size: 4, value: 0xffff_ffff)
        config.write(offset: PCIConfigRegister.expansionROM, size: 4, value: 0xffff_ffff)

        XCTAssertEqual(config.read(offset: 0x18, size: 4), 0)
        XCTAssertEqual(config.read(offset: PCIConfigRegister.expansionROM, size: 4), 0)
    }

    func testCapabilityChainWalksInInsertionOrder() {
        let config = space()
        let express = config.addPCIExpressCapability(portType: .endpoint)
        let power = config.addPowerManagementCapability()
        let vendor = config.addVendorCapability(length: 16)

        let chain = config.capabilities()

        XCTAssertEqual(chain.map(\.id), [0x10, 0x01, 0x09])
        XCTAssertEqual(chain.map(\.offset), [express, power, vendor])
        XCTAssertEqual(Int(config.read(offset: PCIConfigRegister.capabilitiesPointer, size: 1)), express)
        XCTAssertTrue(config.status.contains(.capabilitiesList))
        XCTAssertEqual(config.read(offset: vendor + 1, size: 1), 0, "the last capability ends the list")
    }

    func testCapabilitiesAreDwordAligned() {
        let config = space()
        let first = config.addCapability(id: 0x09, length: 3)

        let second = config.addCapability(id: 0x09, length: 4)

        XCTAssertEqual(first, 0x40)
        XCTAssertEqual(second, 0x44)
    }

    func testExtendedCapabilitiesChainFrom0x100() {
        let config = space()
        let first = config.addExtendedCapability(id: 0x0001, version: 2, length: 0x40)
        let second = config.addExtendedCapability(id: 0x000b, version: 1, length: 0x10)

        let chain = config.extendedCapabilities()

        XCTAssertEqual(first, 0x100)
        XCTAssertEqual(chain.map(\.id), [0x0001, 0x000b])
        XCTAssertEqual(chain.map(\.offset), [0x100, second])
        XCTAssertEqual(config.read(offset: 0x100, size: 4), 0x1402_0001)
    }

    func testBridgeHeaderHasWritableBusNumbersAndTwoBARs() {
        let config = PCIConfigSpace(identity: PCIIdentity(vendorID: 0x1b36, deviceID: 0x000c, classCode: 0x060400), headerType: .bridge)

        config.write(offset: PCIConfigRegister.primaryBus, size: 4, value: 0x00_05_01_00)

        XCTAssertEqual(config.read(offset: PCIConfigRegister.primaryBus, size: 4), 0x00_05_01_00)
        XCTAssertEqual(config.read(offset: PCIConfigRegister.headerType, size: 1), 1)
        XCTAssertEqual(config.bars.count, 2)
    }

    func testResetRestoresCapturedRegisters() {
        let config = space()
        config.declareBAR(0, .memory32(size: 0x1000))
        config.captureResetState()
        config.write(offset: 0x10, size: 4, value: 0x4000_0000)
        config.write(offset: PCIConfigRegister.command, size: 2, value: 0x6)

        config.reset()

        XCTAssertEqual(config.read(offset: 0x10, size: 4), 0)
        XCTAssertEqual(config.command, [])
    }
}

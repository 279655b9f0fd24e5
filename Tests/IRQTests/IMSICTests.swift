import IRQ
import XCTest

/// IMSIC interrupt files (RISC-V AIA 1.0 §3): MSIs through the pages, the indirect registers the
/// hart reaches through `*iselect`/`*ireg`, `*topei` and the pin.
final class IMSICTests: XCTestCase {
    private let eidelivery: UInt64 = 0x70, eithreshold: UInt64 = 0x72, eip0: UInt64 = 0x80, eie0: UInt64 = 0xC0

    private func makeFile(level: InterruptLevel = .machine) throws -> (IMSICFile, FakeHart) {
        let hart = FakeHart()
        return (try IMSICFile(hart: hart, level: level), hart)
    }

    /// Pends and enables `identities`, and turns delivery on.
    private func arm(_ file: IMSICFile, _ identities: [Int]) {
        for identity in identities {
            file.setPending(identity: UInt32(identity))
            let select = eie0 + UInt64(identity / 64) * 2
            XCTAssertTrue(file.write(select: select, value: file.read(select: select)! | 1 << UInt64(identity % 64)))
        }
        XCTAssertTrue(file.write(select: eidelivery, value: 1))
    }

    // MARK: Reset

    /// AIA 1.0 §3.8: eidelivery, eithreshold, eip* and eie* reset to zero; the pin goes low.
    func testResetClearsEveryRegisterAndLowersThePin() throws {
        let (file, hart) = try makeFile()
        arm(file, [5, 70])
        XCTAssertTrue(file.write(select: eithreshold, value: 9))
        XCTAssertTrue(hart.isSet(InterruptBit.machineExternal))

        file.reset()

        for select in [eidelivery, eithreshold, eip0, eip0 + 2, eie0, eie0 + 2] {
            XCTAssertEqual(file.read(select: select), 0, "select \(select)")
        }
        XCTAssertFalse(hart.isSet(InterruptBit.machineExternal))
    }

    // MARK: Pages

    func testSeteipnumLittleEndianWritePendsTheIdentity() throws {
        let hart = FakeHart()
        let imsic = try IMSIC(harts: [hart], level: .machine)

        imsic.write(offset: 0, size: 4, value: 5)

        XCTAssertTrue(imsic.files[0].isPending(identity: 5))
        XCTAssertEqual(imsic.files[0].read(select: eip0), 1 << 5)
    }

    func testSeteipnumBigEndianWriteIsByteSwapped() throws {
        let imsic = try IMSIC(harts: [FakeHart()], level: .machine)

        imsic.write(offset: 4, size: 4, value: 0x0500_0000)

        XCTAssertTrue(imsic.files[0].isPending(identity: 5))
    }

    func testEachHartHasItsOwnPage() throws {
        let imsic = try IMSIC(harts: [FakeHart(), FakeHart()], level: .supervisor)

        imsic.write(offset: 0x1000, size: 4, value: 9)

        XCTAssertFalse(imsic.files[0].isPending(identity: 9))
        XCTAssertTrue(imsic.files[1].isPending(identity: 9))
        XCTAssertEqual(imsic.regionSize, 0x2000)
    }

    func testIdentityZeroAndIdentitiesPastTheCountAreIgnored() throws {
        let (file, _) = try makeFile()

        file.setPending(identity: 0)
        file.setPending(identity: 256)

        XCTAssertEqual(file.read(select: eip0), 0)
        XCTAssertEqual(file.read(select: eip0 + 8), 0, "eip8 covers identities 256…319, past 255")
    }

    // MARK: Indirect registers

    func testOddPendingAndEnableRegistersDoNotExistOnRV64() throws {
        let (file, _) = try makeFile()

        XCTAssertNil(file.read(select: eip0 + 1))
        XCTAssertNil(file.read(select: eie0 + 1))
        XCTAssertFalse(file.write(select: eie0 + 1, value: 1))
    }

    func testReservedSelectsInTheFileRangeDoNotExist() throws {
        let (file, _) = try makeFile()

        XCTAssertNil(file.read(select: 0x71))
        XCTAssertNil(file.read(select: 0x76))
        XCTAssertFalse(file.write(select: 0x7F, value: 0))
    }

    func testEipWriteSetsPendingBitsButIdentityZeroStaysClear() throws {
        let (file, _) = try makeFile()

        XCTAssertTrue(file.write(select: eip0, value: ~0))

        XCTAssertEqual(file.read(select: eip0), ~UInt64(1))
    }

    func testRegistersPastTheIdentityCountAreReadOnlyZero() throws {
        let (file, _) = try makeFile()

        XCTAssertTrue(file.write(select: eie0 + 8, value: ~0))

        XCTAssertEqual(file.read(select: eie0 + 8), 0)
    }

    func testThresholdKeepsOnlyTheBitsForTheIdentityCount() throws {
        let (file, _) = try makeFile()

        XCTAssertTrue(file.write(select: eithreshold, value: 0xFFFF))

        XCTAssertEqual(file.read(select: eithreshold), 0xFF, "255 identities need 8 bits")
    }

    func testDeliveryEnableHoldsOnlyZeroOrOne() throws {
        let (file, _) = try makeFile()

        XCTAssertTrue(file.write(select: eidelivery, value: 0x4000_0001))

        XCTAssertEqual(file.read(select: eidelivery), 1)
    }

    // MARK: Pin and topei

    func testPinStaysLowUntilDeliveryIsEnabled() throws {
        let (file, hart) = try makeFile()
        file.setPending(identity: 7)
        XCTAssertTrue(file.write(select: eie0, value: 1 << 7))
        XCTAssertFalse(hart.isSet(InterruptBit.machineExternal))

        XCTAssertTrue(file.write(select: eidelivery, value: 1))

        XCTAssertTrue(hart.isSet(InterruptBit.machineExternal))
    }

    func testPendingButDisabledIdentityDoesNotInterrupt() throws {
        let (file, hart) = try makeFile()
        XCTAssertTrue(file.write(select: eidelivery, value: 1))

        file.setPending(identity: 7)

        XCTAssertFalse(hart.isSet(InterruptBit.machineExternal))
        XCTAssertEqual(file.topExternalInterrupt, 0)
    }

    func testSupervisorFileDrivesSEIP() throws {
        let (file, hart) = try makeFile(level: .supervisor)

        arm(file, [40])

        XCTAssertTrue(hart.isSet(InterruptBit.supervisorExternal))
        XCTAssertFalse(hart.isSet(InterruptBit.machineExternal))
    }

    func testTopeiReportsTheLowestPendingEnabledIdentity() throws {
        let (file, _) = try makeFile()

        arm(file, [70, 3])

        XCTAssertEqual(file.topExternalInterrupt, 3 << 16 | 3)
    }

    func testThresholdHidesIdentitiesAtOrAboveIt() throws {
        let (file, hart) = try makeFile()
        arm(file, [5])

        XCTAssertTrue(file.write(select: eithreshold, value: 5))

        XCTAssertEqual(file.topExternalInterrupt, 0)
        XCTAssertFalse(hart.isSet(InterruptBit.machineExternal))
    }

    func testIdentityBelowThresholdStillInterrupts() throws {
        let (file, hart) = try makeFile()
        arm(file, [4])

        XCTAssertTrue(file.write(select: eithreshold, value: 5))

        XCTAssertEqual(file.topExternalInterrupt, 4 << 16 | 4)
        XCTAssertTrue(hart.isSet(InterruptBit.machineExternal))
    }

    func testClaimClearsOnlyTheTopIdentity() throws {
        let (file, hart) = try makeFile()
        arm(file, [3, 7])

        file.claimTop()

        XCTAssertFalse(file.isPending(identity: 3))
        XCTAssertTrue(file.isPending(identity: 7))
        XCTAssertEqual(file.topExternalInterrupt, 7 << 16 | 7)
        XCTAssertTrue(hart.isSet(InterruptBit.machineExternal))
    }

    func testClaimingTheLastIdentityLowersThePin() throws {
        let (file, hart) = try makeFile()
        arm(file, [3])

        file.claimTop()

        XCTAssertEqual(file.topExternalInterrupt, 0)
        XCTAssertFalse(hart.isSet(InterruptBit.machineExternal))
    }

    // MARK: Configuration

    func testIdentityCountMustBeOneLessThanAMultipleOf64() {
        XCTAssertThrowsError(try IMSICFile(hart: FakeHart(), level: .machine, identityCount: 100)) { error in
            XCTAssertEqual("\(error)", "IMSIC identity count 100 must be in 63...2047 and one less than a multiple of 64 (AIA §3.1)")
        }
    }

    func testHartInterruptFileRoutesByLevel() throws {
        let machineHart = FakeHart()
        let machine = try IMSICFile(hart: machineHart, level: .machine)
        let files = IMSICHart(machine: machine, supervisor: nil)

        XCTAssertTrue(files.writeIndirect(level: .machine, select: eidelivery, value: 1))

        XCTAssertEqual(machine.read(select: eidelivery), 1)
        XCTAssertFalse(files.hasFile(level: .supervisor))
        XCTAssertNil(files.readIndirect(level: .supervisor, select: eidelivery))
    }
}

import IRQ
import Memory
import XCTest

/// Snapshots (docs/snapshots.md) of the interrupt controllers: a controller restored into a
/// freshly built one answers as the saved one did and drives its harts' pins to the restored
/// levels, whatever the pins said before; saved state of another shape is a mismatch.
final class SnapshotRestoreTests: XCTestCase {
    private func saved(_ save: (inout DeviceStateWriter) -> Void) -> [UInt8] {
        var writer = DeviceStateWriter()
        save(&writer)
        return writer.bytes
    }

    func testAPLICRestoredWithAClaimableSourceRaisesMEIPAndHandsOutTheSameClaim() throws {
        let space = AddressSpace()
        let harts = [FakeHart()]
        let plic = try PLIC(harts: harts)
        try space.mapMMIO(name: "plic", base: 0, size: plic.regionSize, device: plic)
        space.write(4 * 7, size: 4, value: 3)        // priority of source 7
        space.write(0x2000, size: 4, value: 1 << 7)  // M context enables it
        plic.setLevel(source: 7, level: true)
        XCTAssertTrue(harts[0].isSet(InterruptBit.machineExternal))
        let state = saved(plic.save)

        let freshHarts = [FakeHart()]
        freshHarts[0].setInterruptPending(bit: InterruptBit.supervisorExternal, true)  // stale
        let fresh = try PLIC(harts: freshHarts)
        var reader = DeviceStateReader(state)
        try fresh.restore(from: &reader)

        XCTAssertTrue(reader.isAtEnd)
        XCTAssertTrue(freshHarts[0].isSet(InterruptBit.machineExternal), "MEIP driven to the restored level")
        XCTAssertFalse(freshHarts[0].isSet(InterruptBit.supervisorExternal), "SEIP driven low")
        XCTAssertEqual(fresh.read(offset: 0x20_0004, size: 4), 7, "the claim")
    }

    func testAPLICWithOtherSourceCountRefusesTheState() throws {
        let state = saved(try PLIC(harts: [FakeHart()], sourceCount: 95).save)
        var reader = DeviceStateReader(state)
        XCTAssertThrowsError(try PLIC(harts: [FakeHart()], sourceCount: 31).restore(from: &reader)) { error in
            XCTAssertEqual("\(error)", "saved device state does not fit: PLIC priorities: 96 saved, 32 here")
        }
    }

    func testACLINTRestoresMtimecmpAndMSIPAndDrivesMTIPAgainstTheRestoredClock() throws {
        let harts = [FakeHart(), FakeHart()]
        let timebase = Timebase()
        let clint = CLINT(harts: harts, timebase: timebase)
        clint.write(offset: 4, size: 4, value: 1)                        // msip of hart 1
        clint.write(offset: 0x4000, size: 8, value: 1_000)               // hart 0: long past
        clint.write(offset: 0x4008, size: 8, value: 1 << 60)             // hart 1: far ahead
        clint.write(offset: 0xbff8, size: 8, value: 5_000)               // mtime
        var clock = DeviceStateWriter()
        timebase.save(to: &clock)
        let state = saved(clint.save)

        let freshHarts = [FakeHart(), FakeHart()]
        let freshTimebase = Timebase()
        let fresh = CLINT(harts: freshHarts, timebase: freshTimebase)
        var clockReader = DeviceStateReader(clock.bytes)
        try freshTimebase.restore(from: &clockReader)
        var reader = DeviceStateReader(state)
        try fresh.restore(from: &reader)

        XCTAssertGreaterThanOrEqual(fresh.read(offset: 0xbff8, size: 8), 5_000)
        XCTAssertLessThan(fresh.read(offset: 0xbff8, size: 8), 5_000 + 10_000_000, "within a second of the saved mtime")
        XCTAssertEqual(fresh.read(offset: 0x4008, size: 8), 1 << 60)
        XCTAssertTrue(freshHarts[0].isSet(InterruptBit.machineTimer))
        XCTAssertFalse(freshHarts[1].isSet(InterruptBit.machineTimer))
        XCTAssertFalse(freshHarts[0].isSet(InterruptBit.machineSoftware))
        XCTAssertTrue(freshHarts[1].isSet(InterruptBit.machineSoftware))
    }

    func testAClockOfAnotherFrequencyIsRefused() throws {
        var clock = DeviceStateWriter()
        Timebase(frequency: 1_000_000).save(to: &clock)
        var reader = DeviceStateReader(clock.bytes)
        XCTAssertThrowsError(try Timebase().restore(from: &reader)) { error in
            XCTAssertEqual("\(error)", "saved device state does not fit: the clock ran at 1000000 Hz, this machine's runs at 10000000 Hz")
        }
    }

    func testAnIMSICFileRestoredWithAnEnabledPendingIdentityRaisesSEIPAndReportsItsTop() throws {
        let hart = FakeHart()
        let imsic = try IMSIC(harts: [hart], level: .supervisor)
        let file = imsic.files[0]
        _ = file.write(select: 0x70, value: 1)      // eidelivery
        _ = file.write(select: 0xc0, value: 1 << 9) // eie: identity 9
        imsic.write(offset: 0, size: 4, value: 9)   // the MSI
        XCTAssertTrue(hart.isSet(InterruptBit.supervisorExternal))
        let state = saved(imsic.save)

        let freshHart = FakeHart()
        let fresh = try IMSIC(harts: [freshHart], level: .supervisor)
        var reader = DeviceStateReader(state)
        try fresh.restore(from: &reader)

        XCTAssertTrue(freshHart.isSet(InterruptBit.supervisorExternal))
        XCTAssertEqual(fresh.files[0].topIdentity, 9)
    }

    func testADirectModeAPLICRestoredWithAnActiveLevelSourceRaisesMEIPAndReportsTopi() throws {
        let hart = FakeHart()
        let aplic = try APLIC(level: .machine, deliveryMode: .direct, harts: [hart], bus: nil)
        aplic.write(offset: 0x4 + 4 * 2, size: 4, value: 6)            // sourcecfg[3]: level high
        aplic.write(offset: 0x3004 + 4 * 2, size: 4, value: 5)         // target[3]: hart 0, priority 5
        aplic.write(offset: 0x1EDC, size: 4, value: 3)                 // setienum 3
        aplic.write(offset: 0x4000, size: 4, value: 1)                 // idelivery of hart 0
        aplic.write(offset: 0x0, size: 4, value: 1 << 8)               // domaincfg.IE
        aplic.setLevel(source: 3, level: true)
        XCTAssertTrue(hart.isSet(InterruptBit.machineExternal))
        let state = saved(aplic.save)

        let freshHart = FakeHart()
        let fresh = try APLIC(level: .machine, deliveryMode: .direct, harts: [freshHart], bus: nil)
        var reader = DeviceStateReader(state)
        try fresh.restore(from: &reader)

        XCTAssertTrue(reader.isAtEnd)
        XCTAssertTrue(freshHart.isSet(InterruptBit.machineExternal))
        XCTAssertEqual(fresh.read(offset: 0x4018, size: 4), 3 << 16 | 5, "topi")
    }
}

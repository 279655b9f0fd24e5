import IRQ
import Memory
import XCTest

final class PLICTests: XCTestCase {
    let base: UInt64 = 0xc00_0000
    var harts: [FakeHart] = []
    var plic: PLIC!
    var space: AddressSpace!

    override func setUpWithError() throws {
        harts = [FakeHart(), FakeHart()]
        plic = try PLIC(harts: harts, sourceCount: 95, maximumPriority: 7)
        space = AddressSpace()
        try space.mapMMIO(name: "plic", base: base, size: plic.regionSize, device: plic)
    }

    // Register helpers (QEMU virt layout).
    func setPriority(_ source: Int, _ value: UInt64) { space.write(base + UInt64(4 * source), size: 4, value: value) }
    func enable(context: Int, sources: [Int]) {
        var words = [UInt64](repeating: 0, count: 3)
        for s in sources { words[s / 32] |= 1 << UInt64(s % 32) }
        for (i, w) in words.enumerated() { space.write(base + 0x2000 + 0x80 * UInt64(context) + UInt64(4 * i), size: 4, value: w) }
    }
    func setThreshold(context: Int, _ value: UInt64) { space.write(base + 0x20_0000 + 0x1000 * UInt64(context), size: 4, value: value) }
    func claim(context: Int) -> UInt64? { space.read(base + 0x20_0004 + 0x1000 * UInt64(context), size: 4) }
    func complete(context: Int, _ source: Int) { space.write(base + 0x20_0004 + 0x1000 * UInt64(context), size: 4, value: UInt64(source)) }

    func testRegionSizeCoversTwoContextsPerHart() {
        XCTAssertEqual(plic.regionSize, 0x20_0000 + 4 * 0x1000)
        XCTAssertEqual(plic.contexts, [.init(hart: 0, mode: .machine), .init(hart: 0, mode: .supervisor),
                                       .init(hart: 1, mode: .machine), .init(hart: 1, mode: .supervisor)])
    }

    func testInvalidSourceCountIsATypedError() {
        XCTAssertThrowsError(try PLIC(harts: [], sourceCount: 1024)) { error in
            XCTAssertEqual("\(error)", "PLIC source count 1024 is outside 1...1023")
        }
    }

    func testPriorityAboveMaximumIsIgnoredAndSourceZeroReadsZero() {
        setPriority(5, 3)
        setPriority(5, 8)
        setPriority(0, 7)
        XCTAssertEqual(space.read(base + 20, size: 4), 3)
        XCTAssertEqual(space.read(base, size: 4), 0)
    }

    func testRaisedLineSetsPendingBit() {
        plic.setLevel(source: 33, level: true)
        XCTAssertEqual(space.read(base + 0x1000, size: 4), 0)
        XCTAssertEqual(space.read(base + 0x1004, size: 4), 0b10)
    }

    func testEnableBitsOfSourceZeroAndMissingSourcesAreHardwiredZero() {
        space.write(base + 0x2000, size: 4, value: 0xffff_ffff)
        space.write(base + 0x2008, size: 4, value: 0xffff_ffff)
        XCTAssertEqual(space.read(base + 0x2000, size: 4), 0xffff_fffe)
        XCTAssertEqual(space.read(base + 0x2008, size: 4), 0xffff_ffff) // sources 64...95
    }

    func testEnabledSourceAboveThresholdRaisesMachineExternalPin() {
        setPriority(10, 1)
        enable(context: 0, sources: [10])
        plic.setLevel(source: 10, level: true)
        XCTAssertTrue(harts[0].isSet(InterruptBit.machineExternal))
        XCTAssertFalse(harts[0].isSet(InterruptBit.supervisorExternal))
        XCTAssertFalse(harts[1].isSet(InterruptBit.machineExternal))
    }

    func testThresholdMasksPinButNotClaim() {
        setPriority(10, 2)
        enable(context: 1, sources: [10])
        setThreshold(context: 1, 2)
        plic.setLevel(source: 10, level: true)
        XCTAssertFalse(harts[0].isSet(InterruptBit.supervisorExternal))
        setThreshold(context: 1, 1)
        XCTAssertTrue(harts[0].isSet(InterruptBit.supervisorExternal))
        setThreshold(context: 1, 2)
        XCTAssertFalse(harts[0].isSet(InterruptBit.supervisorExternal))
        // PLIC 1.0.0 §"Interrupt Claim Process": the claim is not affected by the threshold.
        XCTAssertEqual(claim(context: 1), 10)
    }

    func testPriorityZeroNeverInterruptsNorClaims() {
        enable(context: 0, sources: [4])
        plic.setLevel(source: 4, level: true)
        XCTAssertFalse(harts[0].isSet(InterruptBit.machineExternal))
        XCTAssertEqual(claim(context: 0), 0)
    }

    func testClaimReturnsHighestPriorityThenLowestID() {
        for (source, prio) in [(7, 3), (3, 5), (9, 5), (40, 1)] {
            setPriority(source, UInt64(prio))
            plic.setLevel(source: source, level: true)
        }
        enable(context: 0, sources: [3, 7, 9, 40])
        XCTAssertEqual(claim(context: 0), 3)
        XCTAssertEqual(claim(context: 0), 9)
        XCTAssertEqual(claim(context: 0), 7)
        XCTAssertEqual(claim(context: 0), 40)
        XCTAssertEqual(claim(context: 0), 0)
        XCTAssertFalse(harts[0].isSet(InterruptBit.machineExternal))
    }

    func testClaimClearsPendingBit() {
        setPriority(2, 1)
        enable(context: 0, sources: [2])
        plic.setLevel(source: 2, level: true)
        XCTAssertEqual(claim(context: 0), 2)
        XCTAssertEqual(space.read(base + 0x1000, size: 4), 0)
    }

    func testClaimOnlyConsidersSourcesEnabledForThatContext() {
        setPriority(2, 1)
        setPriority(3, 1)
        enable(context: 0, sources: [2])
        enable(context: 3, sources: [3])
        plic.setLevel(source: 2, level: true)
        plic.setLevel(source: 3, level: true)
        XCTAssertTrue(harts[0].isSet(InterruptBit.machineExternal))
        XCTAssertTrue(harts[1].isSet(InterruptBit.supervisorExternal))
        XCTAssertEqual(claim(context: 3), 3)
        XCTAssertFalse(harts[1].isSet(InterruptBit.supervisorExternal))
        XCTAssertTrue(harts[0].isSet(InterruptBit.machineExternal))
        XCTAssertEqual(claim(context: 3), 0)
    }

    func testStillHighSourceBecomesPendingAgainAfterComplete() {
        setPriority(5, 1)
        enable(context: 0, sources: [5])
        plic.setLevel(source: 5, level: true)
        XCTAssertEqual(claim(context: 0), 5)
        XCTAssertFalse(harts[0].isSet(InterruptBit.machineExternal))
        complete(context: 0, 5)
        XCTAssertTrue(harts[0].isSet(InterruptBit.machineExternal))
        XCTAssertEqual(space.read(base + 0x1000, size: 4), 1 << 5)
    }

    func testLoweredSourceStaysQuietAfterComplete() {
        setPriority(5, 1)
        enable(context: 0, sources: [5])
        plic.setLevel(source: 5, level: true)
        XCTAssertEqual(claim(context: 0), 5)
        plic.setLevel(source: 5, level: false)
        complete(context: 0, 5)
        XCTAssertFalse(harts[0].isSet(InterruptBit.machineExternal))
        XCTAssertEqual(space.read(base + 0x1000, size: 4), 0)
    }

    func testLineRaisedWhileClaimedIsNotPendingUntilComplete() {
        setPriority(5, 1)
        enable(context: 0, sources: [5])
        plic.setLevel(source: 5, level: true)
        XCTAssertEqual(claim(context: 0), 5)
        plic.setLevel(source: 5, level: false)
        plic.setLevel(source: 5, level: true)
        XCTAssertEqual(space.read(base + 0x1000, size: 4), 0)
        XCTAssertEqual(claim(context: 0), 0)
    }

    func testCompleteForSourceNotEnabledInContextIsIgnored() {
        setPriority(5, 1)
        enable(context: 0, sources: [5])
        plic.setLevel(source: 5, level: true)
        XCTAssertEqual(claim(context: 0), 5)
        complete(context: 1, 5) // context 1 does not enable source 5
        XCTAssertEqual(space.read(base + 0x1000, size: 4), 0)
        XCTAssertFalse(harts[0].isSet(InterruptBit.machineExternal))
        complete(context: 0, 5)
        XCTAssertTrue(harts[0].isSet(InterruptBit.machineExternal))
    }

    func testPendingBitsAreReadOnly() {
        space.write(base + 0x1000, size: 4, value: 0xffff_fffe)
        XCTAssertEqual(space.read(base + 0x1000, size: 4), 0)
    }

    func testPinChangesAreReportedOnlyOnTransitions() {
        setPriority(5, 1)
        harts[0].clearLog()
        enable(context: 0, sources: [5])
        plic.setLevel(source: 5, level: true)
        plic.setLevel(source: 5, level: true)
        setThreshold(context: 0, 0)
        XCTAssertEqual(harts[0].changes.map(\.bit), [InterruptBit.machineExternal])
        XCTAssertEqual(harts[0].changes.map(\.level), [true])
    }

    func testOutOfRangeAccessesReadZeroAndAreIgnored() {
        XCTAssertEqual(space.read(base + 0x20_0000 + 0x1000 * 4 - 4, size: 4), 0)
        XCTAssertEqual(space.read(base + 0x2000 + 0x80 * 4, size: 4), 0) // context 4 does not exist
        space.write(base + 0x2000 + 0x80 * 4, size: 4, value: ~0)
        XCTAssertEqual(space.read(base + 0x2000 + 0x80 * 4, size: 4), 0)
        plic.setLevel(source: 96, level: true)
        plic.setLevel(source: 0, level: true)
        XCTAssertEqual(space.read(base + 0x1000, size: 4), 0)
        XCTAssertEqual(space.read(base + 0x1008, size: 4), 0)
    }

    func testByteReadOfThresholdIsWidenedByTheBus() {
        setThreshold(context: 2, 5)
        XCTAssertEqual(space.read(base + 0x20_2000, size: 1), 5)
    }
}

/// A machine reset (PLIC spec 1.0.0 §4): priorities, enables, thresholds and claims are gone,
/// the pins are low, and a source whose line is still high is pending again.
final class PLICResetTests: XCTestCase {
    func testResetReturnsEveryRegisterToZeroAndLowersThePins() throws {
        let harts = [FakeHart(), FakeHart()]
        let plic = try PLIC(harts: harts, sourceCount: 95)
        plic.write(offset: 4 * 10, size: 4, value: 7)
        plic.write(offset: 0x2000, size: 4, value: 1 << 10)
        plic.write(offset: 0x20_1000, size: 4, value: 3)
        plic.setLevel(source: 10, level: true)
        XCTAssertTrue(harts[0].isSet(11), "MEIP of hart 0 before the reset")
        XCTAssertEqual(plic.read(offset: 0x20_0004, size: 4), 10, "claimed, never completed")

        plic.reset()

        XCTAssertEqual(plic.read(offset: 4 * 10, size: 4), 0)
        XCTAssertEqual(plic.read(offset: 0x2000, size: 4), 0)
        XCTAssertEqual(plic.read(offset: 0x20_1000, size: 4), 0)
        XCTAssertFalse(harts[0].isSet(11))
        XCTAssertEqual(plic.read(offset: 0x1000, size: 4), 1 << 10, "the line is still high: pending again, the claim is gone")
    }
}

import IRQ
import Memory
import XCTest

/// Records every write a domain sends over the bus (its MSIs).
private final class MSIRecorder: MMIODevice {
    private(set) var writes: [(offset: UInt64, value: UInt64)] = []
    var implementedSizes: AccessSizes { .word }
    func read(offset: UInt64, size: Int) -> UInt64 { 0 }
    func write(offset: UInt64, size: Int, value: UInt64) { writes.append((offset, value)) }
}

/// APLIC domains (RISC-V AIA 1.0 §4): source modes, delegation, the §4.7 pending-bit rules in
/// both delivery modes, MSI forwarding and the direct-mode IDCs.
final class APLICTests: XCTestCase {
    private enum Offset {
        static let domaincfg: UInt64 = 0x0
        static func sourcecfg(_ i: Int) -> UInt64 { 0x4 + 4 * UInt64(i - 1) }
        static let mmsiaddrcfg: UInt64 = 0x1BC0, mmsiaddrcfgh: UInt64 = 0x1BC4
        static let smsiaddrcfg: UInt64 = 0x1BC8, smsiaddrcfgh: UInt64 = 0x1BCC
        static let setip: UInt64 = 0x1C00, setipnum: UInt64 = 0x1CDC
        static let inClrip: UInt64 = 0x1D00, clripnum: UInt64 = 0x1DDC
        static let setienum: UInt64 = 0x1EDC
        static let setipnumLE: UInt64 = 0x2000, setipnumBE: UInt64 = 0x2004
        static let genmsi: UInt64 = 0x3000
        static func target(_ i: Int) -> UInt64 { 0x3004 + 4 * UInt64(i - 1) }
        static func idc(_ hart: Int, _ register: UInt64) -> UInt64 { 0x4000 + 32 * UInt64(hart) + register }
        static let idelivery: UInt64 = 0x0, iforce: UInt64 = 0x4, ithreshold: UInt64 = 0x8, topi: UInt64 = 0x18, claimi: UInt64 = 0x1C
    }
    private enum Mode { static let detached: UInt64 = 1, edgeRising: UInt64 = 4, edgeFalling: UInt64 = 5, levelHigh: UInt64 = 6, levelLow: UInt64 = 7 }
    private let delegate: UInt64 = 1 << 10
    private let enable: UInt64 = 1 << 8

    /// The QEMU virt layout: an M-level root delegating to an S-level child, both in MSI mode;
    /// S-level IMSIC pages recorded at 0x28000000 (one per hart).
    private struct MSISetup {
        /// Held here: a domain keeps its bus only weakly.
        let bus: AddressSpace
        let recorder: MSIRecorder
        let root: APLIC
        let child: APLIC
    }

    private func makeMSISetup(harts: Int = 2) throws -> MSISetup {
        let bus = AddressSpace()
        let recorder = MSIRecorder()
        try bus.mapMMIO(name: "imsic-s", base: 0x2800_0000, size: 0x1000 * UInt64(harts), device: recorder)
        let fakes = (0..<harts).map { _ in FakeHart() }
        let root = try APLIC(level: .machine, deliveryMode: .msi, harts: fakes, bus: bus)
        let child = try APLIC(level: .supervisor, deliveryMode: .msi, harts: fakes, bus: bus)
        try root.addChild(child)
        // What M-mode firmware does: smsiaddrcfg = the S-level IMSIC base page, and LHXW = 1 so
        // the hart index selects one of two pages (LHXS = 0: one page per hart).
        root.write(offset: Offset.smsiaddrcfg, size: 4, value: 0x2800_0000 >> 12)
        root.write(offset: Offset.mmsiaddrcfgh, size: 4, value: 1 << 12)
        return MSISetup(bus: bus, recorder: recorder, root: root, child: child)
    }

    /// Delegates `source` to the child and configures it there in `mode`, targeting EIID
    /// `eiid` on hart `hart`, enabled; the child's IE is set when `domainEnabled`.
    private func configure(_ setup: MSISetup, source: Int = 10, mode: UInt64, hart: UInt64 = 0, eiid: UInt64 = 33, domainEnabled: Bool = true) {
        setup.root.write(offset: Offset.sourcecfg(source), size: 4, value: delegate)
        setup.child.write(offset: Offset.sourcecfg(source), size: 4, value: mode)
        setup.child.write(offset: Offset.target(source), size: 4, value: hart << 18 | eiid)
        setup.child.write(offset: Offset.setienum, size: 4, value: UInt64(source))
        if domainEnabled { setup.child.write(offset: Offset.domaincfg, size: 4, value: enable) }
    }

    private func makeDirect(harts: [FakeHart]) throws -> APLIC {
        let domain = try APLIC(level: .machine, deliveryMode: .direct, harts: harts, bus: nil)
        domain.write(offset: Offset.domaincfg, size: 4, value: enable)
        for hart in harts.indices { domain.write(offset: Offset.idc(hart, Offset.idelivery), size: 4, value: 1) }
        return domain
    }

    private func configureDirect(_ domain: APLIC, source: Int, mode: UInt64, hart: UInt64 = 0, priority: UInt64) {
        domain.write(offset: Offset.sourcecfg(source), size: 4, value: mode)
        domain.write(offset: Offset.target(source), size: 4, value: hart << 18 | priority)
        domain.write(offset: Offset.setienum, size: 4, value: UInt64(source))
    }

    private func msis(_ setup: MSISetup) -> [String] {
        setup.recorder.writes.map { "0x\(String(0x2800_0000 + $0.offset, radix: 16)) <- \($0.value)" }
    }

    // MARK: Reset

    /// AIA 1.0 §4.5: after a reset the domain reads as a fresh one (domaincfg IE clear, sources
    /// inactive, targets, enables, msiaddrcfg and IDCs back), and a direct domain's pin is low.
    func testResetReadsLikeAFreshDomainAndLowersThePin() throws {
        let harts = [FakeHart()]
        let domain = try makeDirect(harts: harts)
        let fresh = try APLIC(level: .machine, deliveryMode: .direct, harts: [FakeHart()], bus: nil)
        configureDirect(domain, source: 3, mode: Mode.levelHigh, priority: 5)
        domain.write(offset: Offset.mmsiaddrcfg, size: 4, value: 0x2400_0)
        domain.setLevel(source: 3, level: true)
        XCTAssertTrue(harts[0].isSet(InterruptBit.machineExternal))

        domain.reset()

        for offset in [Offset.domaincfg, Offset.sourcecfg(3), Offset.target(3), Offset.mmsiaddrcfg, Offset.setip, 0x1E00,
                       Offset.idc(0, Offset.idelivery), Offset.idc(0, Offset.ithreshold), Offset.idc(0, Offset.topi)] {
            XCTAssertEqual(domain.read(offset: offset, size: 4), fresh.read(offset: offset, size: 4), "offset 0x\(String(offset, radix: 16))")
        }
        XCTAssertFalse(harts[0].isSet(InterruptBit.machineExternal))
    }

    // MARK: MSI delivery

    func testLevelSourceInMSIModeForwardsItsEIIDToTheTargetHartsIMSICPage() throws {
        let setup = try makeMSISetup()
        configure(setup, mode: Mode.levelHigh, hart: 1, eiid: 33)

        setup.root.setLevel(source: 10, level: true)

        XCTAssertEqual(msis(setup), ["0x28001000 <- 33"])
        XCTAssertFalse(setup.child.isPending(source: 10), "forwarding clears the pending bit (§4.9.2)")
    }

    func testMSIReachesARealIMSICFile() throws {
        let bus = AddressSpace()
        let hart = FakeHart()
        let imsic = try IMSIC(harts: [hart], level: .machine)
        try bus.mapMMIO(name: "imsic-m", base: 0x2400_0000, size: 0x1000, device: imsic)
        let root = try APLIC(level: .machine, deliveryMode: .msi, harts: [hart], bus: bus)
        root.write(offset: Offset.mmsiaddrcfg, size: 4, value: 0x2400_0000 >> 12)
        root.write(offset: Offset.sourcecfg(5), size: 4, value: Mode.edgeRising)
        root.write(offset: Offset.target(5), size: 4, value: 12)
        root.write(offset: Offset.setienum, size: 4, value: 5)
        root.write(offset: Offset.domaincfg, size: 4, value: enable)

        root.setLevel(source: 5, level: true)

        XCTAssertTrue(imsic.files[0].isPending(identity: 12))
    }

    func testNothingIsForwardedWhileTheDomainIsDisabled() throws {
        let setup = try makeMSISetup()
        configure(setup, mode: Mode.levelHigh, domainEnabled: false)

        setup.root.setLevel(source: 10, level: true)

        XCTAssertEqual(msis(setup), [])
        XCTAssertTrue(setup.child.isPending(source: 10))
    }

    func testEnablingTheDomainForwardsWhatIsPending() throws {
        let setup = try makeMSISetup()
        configure(setup, mode: Mode.levelHigh, domainEnabled: false)
        setup.root.setLevel(source: 10, level: true)

        setup.child.write(offset: Offset.domaincfg, size: 4, value: enable)

        XCTAssertEqual(msis(setup), ["0x28000000 <- 33"])
    }

    func testMSIAddressFollowsTheHartIndexFieldsOfMsiaddrcfg() throws {
        let bus = AddressSpace()
        let root = try APLIC(level: .machine, deliveryMode: .msi, harts: [], bus: bus)
        // LHXW = 2, HHXW = 1, LHXS = 1, HHXS = 4; base PPN 0x24000.
        root.write(offset: Offset.mmsiaddrcfg, size: 4, value: 0x24000)
        root.write(offset: Offset.mmsiaddrcfgh, size: 4, value: 4 << 24 | 1 << 20 | 1 << 16 | 2 << 12)

        // Hart index 6 = group 1, hart 2: (0x24000 | 1 << 16 | 2 << 1) << 12.
        XCTAssertEqual(root.msiAddress(hartIndex: 6, guestIndex: 0), 0x3400_4000)
    }

    func testSupervisorDomainTakesBasePPNAndLHXSFromSmsiaddrcfg() throws {
        let setup = try makeMSISetup()
        setup.root.write(offset: Offset.smsiaddrcfgh, size: 4, value: 1 << 20) // LHXS = 1

        XCTAssertEqual(setup.child.msiAddress(hartIndex: 1, guestIndex: 0), 0x2800_2000)
    }

    func testMsiaddrcfgIsReadOnlyOnceLocked() throws {
        let setup = try makeMSISetup()
        setup.root.write(offset: Offset.mmsiaddrcfgh, size: 4, value: 1 << 31 | 1 << 12)

        setup.root.write(offset: Offset.smsiaddrcfg, size: 4, value: 0x12345)

        XCTAssertEqual(setup.root.read(offset: Offset.smsiaddrcfg, size: 4), 0x28000)
    }

    func testChildDomainHasNoMsiaddrcfg() throws {
        let setup = try makeMSISetup()

        setup.child.write(offset: Offset.smsiaddrcfg, size: 4, value: 0x12345)

        XCTAssertEqual(setup.child.read(offset: Offset.smsiaddrcfg, size: 4), 0)
        XCTAssertEqual(setup.root.read(offset: Offset.smsiaddrcfg, size: 4), 0x28000)
    }

    func testGenmsiSendsAnExtemporeMSI() throws {
        let setup = try makeMSISetup()

        setup.child.write(offset: Offset.genmsi, size: 4, value: 1 << 18 | 77)

        XCTAssertEqual(msis(setup), ["0x28001000 <- 77"])
        XCTAssertEqual(setup.child.read(offset: Offset.genmsi, size: 4) & (1 << 12), 0, "Busy is clear: the MSI went out at once")
    }

    // MARK: Level-sensitive sources in MSI mode (§4.7)

    func testSetipnumLERePendsALevelSourceWhoseInputIsStillHigh() throws {
        let setup = try makeMSISetup()
        configure(setup, mode: Mode.levelHigh)
        setup.root.setLevel(source: 10, level: true)

        // Linux 6.10+ after handling a still-asserted level interrupt.
        setup.child.write(offset: Offset.setipnumLE, size: 4, value: 10)

        XCTAssertEqual(msis(setup), ["0x28000000 <- 33", "0x28000000 <- 33"])
    }

    func testSetipnumLEIsIgnoredForALevelSourceWhoseInputIsLow() throws {
        let setup = try makeMSISetup()
        configure(setup, mode: Mode.levelHigh)
        setup.root.setLevel(source: 10, level: true)
        setup.root.setLevel(source: 10, level: false)

        setup.child.write(offset: Offset.setipnumLE, size: 4, value: 10)

        XCTAssertEqual(msis(setup), ["0x28000000 <- 33"])
    }

    func testSetipAndSetipnumFollowTheSameLevelRule() throws {
        let setup = try makeMSISetup()
        configure(setup, mode: Mode.levelHigh, domainEnabled: false)

        setup.child.write(offset: Offset.setip, size: 4, value: 1 << 10)
        setup.child.write(offset: Offset.setipnum, size: 4, value: 10)
        setup.child.write(offset: Offset.setipnumBE, size: 4, value: 0x0A00_0000)

        XCTAssertFalse(setup.child.isPending(source: 10), "input low: every set is ignored")
    }

    func testLevelLowSourceCountsALowWireAsAsserted() throws {
        let setup = try makeMSISetup()
        configure(setup, mode: Mode.levelLow, domainEnabled: false)
        setup.root.setLevel(source: 10, level: true)
        setup.child.write(offset: Offset.clripnum, size: 4, value: 10)

        setup.child.write(offset: Offset.setipnum, size: 4, value: 10)

        XCTAssertFalse(setup.child.isPending(source: 10), "wire high = rectified input low")
    }

    func testPendingLevelSourceIsClearedWhenItsInputFalls() throws {
        let setup = try makeMSISetup()
        configure(setup, mode: Mode.levelHigh, domainEnabled: false)
        setup.root.setLevel(source: 10, level: true)

        setup.root.setLevel(source: 10, level: false)

        XCTAssertFalse(setup.child.isPending(source: 10))
    }

    func testConfiguringALevelSourceWhoseInputIsAlreadyHighPendsIt() throws {
        let setup = try makeMSISetup()
        setup.root.write(offset: Offset.sourcecfg(10), size: 4, value: delegate)
        setup.root.setLevel(source: 10, level: true)

        setup.child.write(offset: Offset.sourcecfg(10), size: 4, value: Mode.levelHigh)

        XCTAssertTrue(setup.child.isPending(source: 10))
    }

    // MARK: Edge and detached sources

    func testEdgeSourcePendsOnlyOnARisingEdge() throws {
        let setup = try makeMSISetup()
        configure(setup, mode: Mode.edgeRising, domainEnabled: false)
        setup.root.setLevel(source: 10, level: true)
        setup.child.write(offset: Offset.clripnum, size: 4, value: 10)

        setup.root.setLevel(source: 10, level: true) // no change: no edge

        XCTAssertFalse(setup.child.isPending(source: 10))
    }

    func testEdgeSourceStaysPendingAfterItsInputFalls() throws {
        let setup = try makeMSISetup()
        configure(setup, mode: Mode.edgeRising, domainEnabled: false)
        setup.root.setLevel(source: 10, level: true)

        setup.root.setLevel(source: 10, level: false)

        XCTAssertTrue(setup.child.isPending(source: 10))
    }

    func testFallingEdgeSourcePendsWhenTheWireFalls() throws {
        let setup = try makeMSISetup()
        configure(setup, mode: Mode.edgeFalling, domainEnabled: false)
        setup.root.setLevel(source: 10, level: true)
        XCTAssertFalse(setup.child.isPending(source: 10))

        setup.root.setLevel(source: 10, level: false)

        XCTAssertTrue(setup.child.isPending(source: 10))
    }

    func testSetipnumPendsAnEdgeSourceWhateverItsInput() throws {
        let setup = try makeMSISetup()
        configure(setup, mode: Mode.edgeRising)

        setup.child.write(offset: Offset.setipnumLE, size: 4, value: 10)

        XCTAssertEqual(msis(setup), ["0x28000000 <- 33"])
    }

    func testDetachedSourceIgnoresItsWire() throws {
        let setup = try makeMSISetup()
        configure(setup, mode: Mode.detached, domainEnabled: false)

        setup.root.setLevel(source: 10, level: true)

        XCTAssertFalse(setup.child.isPending(source: 10))
        XCTAssertEqual(setup.child.read(offset: Offset.inClrip, size: 4), 0, "a detached source's rectified input is 0")
    }

    func testInClripReadsRectifiedInputs() throws {
        let setup = try makeMSISetup()
        configure(setup, source: 3, mode: Mode.levelLow, domainEnabled: false)
        configure(setup, source: 4, mode: Mode.levelHigh, domainEnabled: false)

        XCTAssertEqual(setup.child.read(offset: Offset.inClrip, size: 4), 1 << 3, "level-low source with its wire low is asserted")
    }

    // MARK: Delegation (§4.5.2)

    func testSourceNotDelegatedToTheChildIsReadOnlyZeroThere() throws {
        let setup = try makeMSISetup()

        setup.child.write(offset: Offset.sourcecfg(10), size: 4, value: Mode.levelHigh)

        XCTAssertEqual(setup.child.read(offset: Offset.sourcecfg(10), size: 4), 0)
    }

    func testDelegatedSourceIsInactiveInTheParent() throws {
        let setup = try makeMSISetup()
        setup.root.write(offset: Offset.sourcecfg(10), size: 4, value: delegate)

        setup.root.write(offset: Offset.setienum, size: 4, value: 10)
        setup.root.write(offset: Offset.setipnum, size: 4, value: 10)

        XCTAssertEqual(setup.root.read(offset: Offset.sourcecfg(10), size: 4), delegate)
        XCTAssertEqual(setup.root.read(offset: Offset.setip, size: 4), 0)
        XCTAssertEqual(setup.root.read(offset: 0x1E00, size: 4), 0, "setie")
    }

    func testTheDelegateBitIsReadOnlyZeroInADomainWithoutChildren() throws {
        let setup = try makeMSISetup()
        setup.root.write(offset: Offset.sourcecfg(10), size: 4, value: delegate)

        setup.child.write(offset: Offset.sourcecfg(10), size: 4, value: delegate | Mode.levelHigh)

        XCTAssertEqual(setup.child.read(offset: Offset.sourcecfg(10), size: 4), Mode.levelHigh)
    }

    func testWithdrawingADelegationMakesTheSourceInactiveInTheChild() throws {
        let setup = try makeMSISetup()
        configure(setup, mode: Mode.levelHigh, domainEnabled: false)
        setup.root.setLevel(source: 10, level: true)

        setup.root.write(offset: Offset.sourcecfg(10), size: 4, value: Mode.levelHigh)

        XCTAssertEqual(setup.child.read(offset: Offset.sourcecfg(10), size: 4), 0)
        XCTAssertFalse(setup.child.isPending(source: 10))
        XCTAssertTrue(setup.root.isPending(source: 10), "now active, and high, in the root")
    }

    func testAWireDrivenIntoTheChildDomainEntersAtTheRoot() throws {
        let setup = try makeMSISetup()
        configure(setup, mode: Mode.levelHigh)

        setup.child.setLevel(source: 10, level: true)

        XCTAssertEqual(msis(setup), ["0x28000000 <- 33"])
    }

    func testReservedSourceModesReadBackInactive() throws {
        let setup = try makeMSISetup()

        setup.root.write(offset: Offset.sourcecfg(10), size: 4, value: 2)

        XCTAssertEqual(setup.root.read(offset: Offset.sourcecfg(10), size: 4), 0)
    }

    func testDomaincfgReadsTheFixedByteAndTheDeliveryMode() throws {
        let setup = try makeMSISetup()

        setup.child.write(offset: Offset.domaincfg, size: 4, value: 0xFFFF_FFFF)

        XCTAssertEqual(setup.child.read(offset: Offset.domaincfg, size: 4), 0x8000_0104, "IE, DM = MSI, BE = 0")
    }

    // MARK: Direct delivery (§4.8)

    func testDirectModeTopiReportsTheLowestPriorityNumber() throws {
        let hart = FakeHart()
        let domain = try makeDirect(harts: [hart])
        configureDirect(domain, source: 3, mode: Mode.edgeRising, priority: 5)
        configureDirect(domain, source: 4, mode: Mode.edgeRising, priority: 2)

        domain.setLevel(source: 3, level: true)
        domain.setLevel(source: 4, level: true)

        XCTAssertEqual(domain.read(offset: Offset.idc(0, Offset.topi), size: 4), 4 << 16 | 2)
        XCTAssertTrue(hart.isSet(InterruptBit.machineExternal))
    }

    func testDirectModeTiesGoToTheLowerSource() throws {
        let domain = try makeDirect(harts: [FakeHart()])
        configureDirect(domain, source: 9, mode: Mode.edgeRising, priority: 1)
        configureDirect(domain, source: 8, mode: Mode.edgeRising, priority: 1)

        domain.setLevel(source: 9, level: true)
        domain.setLevel(source: 8, level: true)

        XCTAssertEqual(domain.read(offset: Offset.idc(0, Offset.topi), size: 4), 8 << 16 | 1)
    }

    func testClaimiClearsAnEdgeSourceAndReportsTheNext() throws {
        let hart = FakeHart()
        let domain = try makeDirect(harts: [hart])
        configureDirect(domain, source: 3, mode: Mode.edgeRising, priority: 5)
        configureDirect(domain, source: 4, mode: Mode.edgeRising, priority: 2)
        domain.setLevel(source: 3, level: true)
        domain.setLevel(source: 4, level: true)

        let first = domain.read(offset: Offset.idc(0, Offset.claimi), size: 4)
        let second = domain.read(offset: Offset.idc(0, Offset.claimi), size: 4)

        XCTAssertEqual(first, 4 << 16 | 2)
        XCTAssertEqual(second, 3 << 16 | 5)
        XCTAssertFalse(hart.isSet(InterruptBit.machineExternal))
    }

    func testClaimiLeavesALevelSourcePendingWhileItsInputIsHigh() throws {
        let domain = try makeDirect(harts: [FakeHart()])
        configureDirect(domain, source: 3, mode: Mode.levelHigh, priority: 1)
        domain.setLevel(source: 3, level: true)

        _ = domain.read(offset: Offset.idc(0, Offset.claimi), size: 4)

        XCTAssertTrue(domain.isPending(source: 3))
    }

    func testDirectModeLevelSourceIgnoresSetipAndClrip() throws {
        let domain = try makeDirect(harts: [FakeHart()])
        configureDirect(domain, source: 3, mode: Mode.levelHigh, priority: 1)

        domain.write(offset: Offset.setipnum, size: 4, value: 3)
        XCTAssertFalse(domain.isPending(source: 3), "input low")
        domain.setLevel(source: 3, level: true)
        domain.write(offset: Offset.clripnum, size: 4, value: 3)

        XCTAssertTrue(domain.isPending(source: 3), "pending is the input itself in direct mode")
    }

    func testThresholdMasksPrioritiesAtOrAboveIt() throws {
        let hart = FakeHart()
        let domain = try makeDirect(harts: [hart])
        configureDirect(domain, source: 3, mode: Mode.levelHigh, priority: 3)
        domain.setLevel(source: 3, level: true)

        domain.write(offset: Offset.idc(0, Offset.ithreshold), size: 4, value: 3)

        XCTAssertEqual(domain.read(offset: Offset.idc(0, Offset.topi), size: 4), 0)
        XCTAssertFalse(hart.isSet(InterruptBit.machineExternal))
    }

    func testPriorityBelowThresholdIsDelivered() throws {
        let hart = FakeHart()
        let domain = try makeDirect(harts: [hart])
        configureDirect(domain, source: 3, mode: Mode.levelHigh, priority: 2)
        domain.write(offset: Offset.idc(0, Offset.ithreshold), size: 4, value: 3)

        domain.setLevel(source: 3, level: true)

        XCTAssertEqual(domain.read(offset: Offset.idc(0, Offset.topi), size: 4), 3 << 16 | 2)
        XCTAssertTrue(hart.isSet(InterruptBit.machineExternal))
    }

    func testDirectModePinNeedsIdelivery() throws {
        let hart = FakeHart()
        let domain = try makeDirect(harts: [hart])
        configureDirect(domain, source: 3, mode: Mode.levelHigh, priority: 1)
        domain.write(offset: Offset.idc(0, Offset.idelivery), size: 4, value: 0)

        domain.setLevel(source: 3, level: true)

        XCTAssertFalse(hart.isSet(InterruptBit.machineExternal))
    }

    func testDirectModeTargetsTheNamedHart() throws {
        let harts = [FakeHart(), FakeHart()]
        let domain = try makeDirect(harts: harts)
        configureDirect(domain, source: 3, mode: Mode.levelHigh, hart: 1, priority: 1)

        domain.setLevel(source: 3, level: true)

        XCTAssertFalse(harts[0].isSet(InterruptBit.machineExternal))
        XCTAssertTrue(harts[1].isSet(InterruptBit.machineExternal))
    }

    func testSupervisorDomainDrivesSEIP() throws {
        let hart = FakeHart()
        let domain = try APLIC(level: .supervisor, deliveryMode: .direct, harts: [hart], bus: nil)
        domain.write(offset: Offset.domaincfg, size: 4, value: enable)
        domain.write(offset: Offset.idc(0, Offset.idelivery), size: 4, value: 1)
        configureDirect(domain, source: 3, mode: Mode.levelHigh, priority: 1)

        domain.setLevel(source: 3, level: true)

        XCTAssertTrue(hart.isSet(InterruptBit.supervisorExternal))
    }

    func testIforceInterruptsAndClaimiClearsIt() throws {
        let hart = FakeHart()
        let domain = try makeDirect(harts: [hart])

        domain.write(offset: Offset.idc(0, Offset.iforce), size: 4, value: 1)
        XCTAssertTrue(hart.isSet(InterruptBit.machineExternal))
        let claimed = domain.read(offset: Offset.idc(0, Offset.claimi), size: 4)

        XCTAssertEqual(claimed, 0)
        XCTAssertEqual(domain.read(offset: Offset.idc(0, Offset.iforce), size: 4), 0)
        XCTAssertFalse(hart.isSet(InterruptBit.machineExternal))
    }

    func testZeroPriorityIsStoredAsOne() throws {
        let domain = try makeDirect(harts: [FakeHart()])
        domain.write(offset: Offset.sourcecfg(3), size: 4, value: Mode.levelHigh)

        domain.write(offset: Offset.target(3), size: 4, value: 0)

        XCTAssertEqual(domain.read(offset: Offset.target(3), size: 4), 1)
    }

    func testSourceCountIsChecked() {
        XCTAssertThrowsError(try APLIC(level: .machine, deliveryMode: .direct, sourceCount: 1024, harts: [], bus: nil)) { error in
            XCTAssertEqual("\(error)", "APLIC source count 1024 is outside 1...1023")
        }
    }
}

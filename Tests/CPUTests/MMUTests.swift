import XCTest
@testable import CPU

/// Sv39/Sv48 page walks (privileged spec 1.12 §4.3–4.5). Code runs in S-mode through an
/// identity gigapage at 0x8000_0000; the page under test is VA 0x4000_0000 (Sv39).
final class MMUTests: XCTestCase {
    let root: UInt64 = 0x8010_0000
    let level1: UInt64 = 0x8010_1000
    let level0: UInt64 = 0x8010_2000
    let dataPage: UInt64 = 0x8018_0000
    let testVA: UInt64 = 0x4000_0000
    let rwx: UInt64 = PTE.valid | PTE.read | PTE.write | PTE.execute | PTE.accessed | PTE.dirty

    func pte(_ physical: UInt64, _ flags: UInt64) -> UInt64 { (physical >> 12) << 10 | flags }

    /// A machine whose S-mode `body` runs with Sv39 on; traps go to an M handler that stops.
    /// `leaf` is the PTE mapping testVA → dataPage (which holds 0x1122334455667788).
    func sv39Machine(_ body: String, leaf: UInt64, status: UInt64 = 0) throws -> TestMachine {
        let m = try TestMachine("""
            la t0, handler
            csrw mtvec, t0
            pmp_allow_all
            li t0, (8 << 60) | (\(root) >> 12)
            csrw satp, t0
            li t0, \(status)
            csrs mstatus, t0
            enter_mode 1, supervisor
            supervisor:
            li s1, \(testVA)
            \(body)
            wfi
            handler: wfi
            """)
        m.write64(root + 2 * 8, pte(0x8000_0000, rwx)) // identity gigapage for the code
        m.write64(root + 1 * 8, pte(level1, PTE.valid))
        m.write64(level1, pte(level0, PTE.valid))
        m.write64(level0, leaf)
        m.write64(dataPage, 0x1122_3344_5566_7788)
        return m
    }

    func testLoadThroughSv39SetsAccessedButNotDirty() throws {
        let m = try sv39Machine("ld a0, 8(s1)\nld a0, 0(s1)", leaf: pte(dataPage, PTE.valid | PTE.read))
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a0), 0x1122_3344_5566_7788)
        XCTAssertEqual(m.read64(level0) & (PTE.accessed | PTE.dirty), PTE.accessed)
    }

    func testStoreThroughSv39SetsDirty() throws {
        let m = try sv39Machine("li t0, 5\nsd t0, 16(s1)", leaf: pte(dataPage, PTE.valid | PTE.read | PTE.write))
        m.runToWFI()
        XCTAssertEqual(m.read64(dataPage + 16), 5)
        XCTAssertEqual(m.read64(level0) & (PTE.accessed | PTE.dirty), PTE.accessed | PTE.dirty)
    }

    func testStoreToReadOnlyPageIsStorePageFault() throws {
        let m = try sv39Machine("sd zero, 24(s1)", leaf: pte(dataPage, PTE.valid | PTE.read | PTE.accessed))
        m.runToWFI()
        XCTAssertEqual(m.s.mcause, 15)
        XCTAssertEqual(m.s.mtval, testVA + 24)
        XCTAssertEqual(m.read64(level0) & PTE.dirty, 0)
    }

    func testInvalidLeafIsLoadPageFault() throws {
        let m = try sv39Machine("ld a0, 0(s1)", leaf: pte(dataPage, PTE.read))
        m.runToWFI()
        XCTAssertEqual(m.s.mcause, 13)
        XCTAssertEqual(m.s.mtval, testVA)
    }

    func testWriteWithoutReadIsReservedAndFaults() throws {
        let m = try sv39Machine("ld a0, 0(s1)", leaf: pte(dataPage, PTE.valid | PTE.write))
        m.runToWFI()
        XCTAssertEqual(m.s.mcause, 13)
    }

    func testReservedHighBitsFault() throws {
        let m = try sv39Machine("ld a0, 0(s1)", leaf: pte(dataPage, PTE.valid | PTE.read) | 1 << 61)
        m.runToWFI()
        XCTAssertEqual(m.s.mcause, 13)
    }

    func testSupervisorLoadFromUserPageNeedsSUM() throws {
        let userPage = pte(dataPage, PTE.valid | PTE.read | PTE.user)
        let denied = try sv39Machine("ld a0, 0(s1)", leaf: userPage)
        denied.runToWFI()
        XCTAssertEqual(denied.s.mcause, 13)
        let allowed = try sv39Machine("ld a0, 0(s1)", leaf: userPage, status: MStatus.sum)
        allowed.runToWFI()
        XCTAssertEqual(allowed.x(Reg.a0), 0x1122_3344_5566_7788)
    }

    func testSupervisorNeverExecutesUserPagesEvenWithSUM() throws {
        let m = try sv39Machine("jr s1", leaf: pte(dataPage, PTE.valid | PTE.read | PTE.execute | PTE.user),
                                status: MStatus.sum)
        m.runToWFI()
        XCTAssertEqual(m.s.mcause, 12)
        XCTAssertEqual(m.s.mtval, testVA)
        XCTAssertEqual(m.s.mepc, testVA)
    }

    func testFetchFromNonExecutablePageIsInstructionPageFault() throws {
        let m = try sv39Machine("jalr s1", leaf: pte(dataPage, PTE.valid | PTE.read))
        m.runToWFI()
        XCTAssertEqual(m.s.mcause, 12)
    }

    func testMXRMakesExecuteOnlyPagesReadable() throws {
        let executeOnly = pte(dataPage, PTE.valid | PTE.execute)
        let denied = try sv39Machine("ld a0, 0(s1)", leaf: executeOnly)
        denied.runToWFI()
        XCTAssertEqual(denied.s.mcause, 13)
        let allowed = try sv39Machine("ld a0, 0(s1)", leaf: executeOnly, status: MStatus.mxr)
        allowed.runToWFI()
        XCTAssertEqual(allowed.x(Reg.a0), 0x1122_3344_5566_7788)
    }

    func testMisalignedSuperpageFaults() throws {
        // A 2 MiB leaf in the level-1 table whose PPN is only 4 KiB aligned.
        let m = try sv39Machine("ld a0, 0(s1)", leaf: 0)
        m.write64(level1, pte(dataPage + 0x1000, PTE.valid | PTE.read))
        m.runToWFI()
        XCTAssertEqual(m.s.mcause, 13)
    }

    func testAlignedMegapageTranslatesWithOffset() throws {
        let m = try sv39Machine("li t0, 0x80008\nadd t0, t0, s1\nld a0, 0(t0)", leaf: 0)
        m.write64(level1, pte(0x8000_0000, PTE.valid | PTE.read))
        m.write64(0x8008_0008, 77)
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a0), 77)
    }

    func testNonCanonicalAddressFaults() throws {
        let m = try sv39Machine("li t0, 0x0000008000000000\nld a0, 0(t0)", leaf: pte(dataPage, PTE.valid | PTE.read))
        m.runToWFI()
        XCTAssertEqual(m.s.mcause, 13)
        XCTAssertEqual(m.s.mtval, 0x80_0000_0000)
    }

    func testLeafPointingAtUnmappedMemoryIsAccessFault() throws {
        let m = try sv39Machine("ld a0, 0(s1)", leaf: pte(0x1000_0000, PTE.valid | PTE.read))
        m.runToWFI()
        XCTAssertEqual(m.s.mcause, 5)
        XCTAssertEqual(m.s.mtval, testVA)
    }

    func testUserCannotAccessSupervisorPages() throws {
        let m = try TestMachine("""
            la t0, handler
            csrw mtvec, t0
            pmp_allow_all
            li t0, (8 << 60) | (\(root) >> 12)
            csrw satp, t0
            enter_mode 0, user
            user: wfi
            handler: wfi
            """)
        m.write64(root + 2 * 8, pte(0x8000_0000, rwx)) // not a U page
        m.runToWFI()
        XCTAssertEqual(m.s.mcause, 12)
        XCTAssertEqual(m.s.privilege, 3)
    }

    func testMPRVTranslatesMachineLoadsAtMPP() throws {
        let m = try TestMachine("""
            li t0, (8 << 60) | (\(root) >> 12)
            csrw satp, t0
            li t0, (1 << 17) | (1 << 11)
            csrs mstatus, t0
            li s1, \(testVA)
            ld a0, 0(s1)
            li t0, 1 << 17
            csrc mstatus, t0
            wfi
            """)
        m.write64(root + 1 * 8, pte(level1, PTE.valid))
        m.write64(level1, pte(level0, PTE.valid))
        m.write64(level0, pte(dataPage, PTE.valid | PTE.read))
        m.write64(dataPage, 99)
        // PMP: M-mode with MPRV=1/MPP=S is checked as S, so allow everything.
        m.hart.state.pointee.pmpaddr.0 = ~0 >> 10
        m.hart.state.pointee.pmpcfg.0 = 0x1F
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a0), 99)
    }

    func testSv48FourLevelWalk() throws {
        let l2: UInt64 = 0x8010_3000, l1: UInt64 = 0x8010_4000, l0: UInt64 = 0x8010_5000
        let m = try TestMachine("""
            la t0, handler
            csrw mtvec, t0
            pmp_allow_all
            li t0, (9 << 60) | (\(root) >> 12)
            csrw satp, t0
            enter_mode 1, supervisor
            supervisor:
            li s1, 1 << 39
            ld a0, 8(s1)
            li t0, 1 << 47
            ld a1, 0(t0)
            wfi
            handler: wfi
            """)
        // Code: VPN3=0 → level-2 table whose entry 2 is an identity gigapage.
        m.write64(root, pte(l2, PTE.valid))
        m.write64(l2 + 2 * 8, pte(0x8000_0000, rwx))
        m.write64(root + 8, pte(l1, PTE.valid)) // VPN3=1: l1 serves as this walk's level-2 table
        m.write64(l1, pte(l0, PTE.valid))
        m.write64(l0, pte(0x8010_6000, PTE.valid))
        m.write64(0x8010_6000, pte(dataPage, PTE.valid | PTE.read))
        m.write64(dataPage + 8, 48)
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a0), 48)
        XCTAssertEqual(m.s.mcause, 13, "1 << 47 is not canonical in Sv48")
        XCTAssertEqual(m.s.mtval, 1 << 47)
    }

    func testClearingSUMRevokesCachedUserPageAccess() throws {
        let m = try sv39Machine("""
            ld a0, 0(s1)
            li t0, 1 << 18
            csrc sstatus, t0
            li a1, 1
            ld a2, 0(s1)
            """, leaf: pte(dataPage, PTE.valid | PTE.read | PTE.user), status: MStatus.sum)
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a0), 0x1122_3344_5566_7788)
        XCTAssertEqual(m.x(Reg.a1), 1)
        XCTAssertEqual(m.s.mcause, 13)
    }
}

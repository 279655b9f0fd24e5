import XCTest
@testable import CPU

final class CSRTests: XCTestCase {
    /// Runs `body` in M-mode with a trap handler that stops at WFI.
    private func machine(_ body: String) throws -> TestMachine {
        try TestMachine("""
            la t0, handler
            csrw mtvec, t0
            \(body)
            wfi
            handler: wfi
            """)
    }

    func testMisaReadsRV64IMAFDCSUAndIgnoresWrites() throws {
        let m = try machine("csrw misa, zero\ncsrr a0, misa")
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a0), 0x8000_0000_0014_112D)
    }

    func testMstatusHasFixedXLFieldsAndSDFollowsFS() throws {
        let m = try machine("""
            csrr a0, mstatus
            li t0, 3 << 13
            csrs mstatus, t0
            csrr a1, mstatus
            csrr a2, sstatus
            """)
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a0), 0x0000_000A_0000_0000)
        XCTAssertEqual(m.x(Reg.a1), 0x8000_000A_0000_6000)
        XCTAssertEqual(m.x(Reg.a2), 0x8000_0002_0000_6000, "sstatus shows UXL but not SXL")
    }

    func testMstatusIgnoresReservedMPPAndUnimplementedBits() throws {
        let m = try machine("""
            li t0, 1 << 11
            csrs mstatus, t0
            li t0, 2 << 11
            csrw mstatus, t0
            csrr a0, mstatus
            li t0, (1 << 9) | (3 << 15) | (1 << 6)
            csrw mstatus, t0
            csrr a1, mstatus
            """)
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a0) >> 11 & 3, 1, "writing MPP=2 keeps the previous MPP")
        XCTAssertEqual(m.x(Reg.a1), 0x0000_000A_0000_0000, "VS, XS and UBE stay 0")
    }

    func testSatpWriteWithUnsupportedModeLeavesItUnchanged() throws {
        let m = try machine("""
            li t0, (8 << 60) | 0x12345
            csrw satp, t0
            li t1, (10 << 60) | 0x777
            csrw satp, t1
            csrr a0, satp
            li t1, (9 << 60) | 0x99
            csrw satp, t1
            csrr a1, satp
            """)
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a0), 8 << 60 | 0x12345, "Sv57 is not implemented")
        XCTAssertEqual(m.x(Reg.a1), 9 << 60 | 0x99)
    }

    func testMipOnlySupervisorBitsAreWritableAndSEIPIsORedWithController() throws {
        let m = try machine("""
            li t0, -1
            csrw mip, t0
            csrr a0, mip
            csrw mip, zero
            csrr a1, mip
            csrci mip, 0
            csrr a2, mip
            csrs mip, 2
            csrr a3, mip
            """)
        m.hart.setInterruptPending(bit: 9, true)
        m.hart.setInterruptPending(bit: 7, true)
        m.hart.state.pointee.exitRequest = 0
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a0), 0x2A2, "SSIP STIP SEIP written; MTIP from the timer")
        XCTAssertEqual(m.x(Reg.a1), 0x280, "controller SEIP still visible after software clears its SEIP")
        XCTAssertEqual(m.x(Reg.a3), 0x282)
        XCTAssertEqual(m.s.mip & 0x200, 0, "csrs used the software SEIP (0), not the OR")
    }

    func testSieAndSipAreRestrictedToDelegatedInterrupts() throws {
        let m = try machine("""
            li t0, 0x222
            csrw mideleg, t0
            li t0, -1
            csrw mie, t0
            csrr a0, mie
            csrr a1, sie
            li t0, 0x20
            csrw mideleg, t0
            csrw sie, zero
            csrr a2, mie
            li t0, 0x2
            csrw mideleg, t0
            csrs sip, 0x2
            csrr a3, sip
            csrr a4, mideleg
            csrw mie, zero         // so the final WFI stops
            """)
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a0), 0xAAA)
        XCTAssertEqual(m.x(Reg.a1), 0x222)
        XCTAssertEqual(m.x(Reg.a2), 0xA8A, "only the delegated STIE was cleared through sie")
        XCTAssertEqual(m.x(Reg.a3), 0x2)
        XCTAssertEqual(m.x(Reg.a4), 0x2)
    }

    func testTrapVectorIgnoresReservedModesAndEpcClearsBitZero() throws {
        let m = try machine("""
            csrr s2, mtvec
            li t0, 0x80001002
            csrw mtvec, t0
            csrr a0, mtvec
            li t0, 0x80001001
            csrw stvec, t0
            csrr a1, stvec
            li t0, 0x80000003
            csrw mepc, t0
            csrr a2, mepc
            csrw mtvec, s2
            """)
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a0), m.x(18), "MODE=2 is reserved: write ignored")
        XCTAssertEqual(m.x(Reg.a1), 0x8000_1001)
        XCTAssertEqual(m.x(Reg.a2), 0x8000_0002)
    }

    func testIdentityCSRs() throws {
        let m = try machine("""
            csrr a0, mhartid
            csrr a1, mvendorid
            csrr a2, mconfigptr
            csrr a3, mhpmcounter3
            """)
        m.hart.state.pointee.hartid = 5
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a0), 5)
        XCTAssertEqual(m.x(Reg.a1), 0)
        XCTAssertEqual(m.x(Reg.a2), 0)
        XCTAssertEqual(m.x(Reg.a3), 0)
    }

    func testWritingReadOnlyCSRIsIllegal() throws {
        let m = try machine("csrw mhartid, zero")
        m.runToWFI()
        XCTAssertEqual(m.s.mcause, 2)
        XCTAssertEqual(m.s.mtval, 0xF140_1073)
    }

    func testReadingReadOnlyCSRWithCsrrsX0IsLegal() throws {
        let m = try machine("csrrs a0, mhartid, zero\nli a1, 1")
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a1), 1)
    }

    func testUnknownCSRAndStimecmpAreIllegal() throws {
        let m = try machine(".word 0x14d02573") // csrr a0, stimecmp
        m.runToWFI()
        XCTAssertEqual(m.s.mcause, 2)
        XCTAssertEqual(m.s.mtval, 0x14D0_2573)
    }

    func testFloatingPointCSRsAreIllegalWhenFSIsOff() throws {
        let m = try machine("csrr a0, fcsr")
        m.runToWFI()
        XCTAssertEqual(m.s.mcause, 2)
    }

    func testWritingFflagsMakesFSDirty() throws {
        let m = try machine("""
            li t0, 1 << 13
            csrs mstatus, t0
            li t0, 0xff
            csrw fcsr, t0
            csrr a0, mstatus
            csrr a1, fflags
            csrr a2, frm
            """)
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a0) & 0x8000_0000_0000_6000, 0x8000_0000_0000_6000)
        XCTAssertEqual(m.x(Reg.a1), 0x1F)
        XCTAssertEqual(m.x(Reg.a2), 7)
    }

    func testInstretCountsRetiredInstructionsAndWriteReplacesIncrement() throws {
        let m = try machine("""
            nop
            nop
            csrr a0, minstret
            li t0, 100
            csrw minstret, t0
            csrr a1, minstret
            """)
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a0), 5, "la (2) + csrw mtvec + 2 nops retired before the read")
        XCTAssertEqual(m.x(Reg.a1), 100)
    }

    func testCountersInSupervisorModeNeedMcounteren() throws {
        let m = try TestMachine("""
            la t0, handler
            csrw mtvec, t0
            pmp_allow_all
            li t0, 1
            csrw mcounteren, t0
            enter_mode 1, supervisor
            supervisor:
            rdcycle a0
            li a1, 1
            rdinstret a2
            li a3, 1
            handler: wfi
            """)
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a1), 1, "cycle is enabled")
        XCTAssertEqual(m.x(Reg.a3), 0, "instret is not")
        XCTAssertEqual(m.s.mcause, 2)
        XCTAssertEqual(m.s.mtval, 0xC020_2673)
    }

    func testSupervisorCannotAccessMachineCSRs() throws {
        let m = try TestMachine("""
            la t0, handler
            csrw mtvec, t0
            pmp_allow_all
            enter_mode 1, supervisor
            supervisor:
            csrr a0, mstatus
            handler: wfi
            """)
        m.runToWFI()
        XCTAssertEqual(m.s.mcause, 2)
        XCTAssertEqual(m.s.mtval, 0x3000_2573, "csrr a0, mstatus")
    }

    func testSatpIsIllegalInSupervisorWhenTVMIsSet() throws {
        let m = try TestMachine("""
            la t0, handler
            csrw mtvec, t0
            pmp_allow_all
            li t0, 1 << 20
            csrs mstatus, t0
            enter_mode 1, supervisor
            supervisor:
            csrr a0, satp
            handler: wfi
            """)
        m.runToWFI()
        XCTAssertEqual(m.s.mcause, 2)
        XCTAssertEqual(m.s.mtval, 0x1800_2573)
    }

    func testPMPConfigurationIsWARLAndLockedEntriesIgnoreWrites() throws {
        let m = try machine("""
            li t0, 0x1000
            csrw pmpaddr1, t0
            li t0, 0x896a          // entry 0: WPRI bits + TOR + W-only (R=0,W=1 reserved); entry 1: L|TOR|R
            csrw pmpcfg0, t0
            csrr a0, pmpcfg0
            li t0, 0x2000
            csrw pmpaddr1, t0      // locked: ignored
            csrr a1, pmpaddr1
            csrw pmpaddr0, t0      // bottom of a locked TOR entry: ignored
            csrr a2, pmpaddr0
            li t0, -1
            csrw pmpaddr2, t0
            csrr a3, pmpaddr2
            """)
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a0), 0x8908, "entry 0: TOR with R=0 drops W, WPRI bits 5-6 dropped")
        XCTAssertEqual(m.x(Reg.a1), 0x1000)
        XCTAssertEqual(m.x(Reg.a2), 0)
        XCTAssertEqual(m.x(Reg.a3), (1 << 54) - 1)
    }
}

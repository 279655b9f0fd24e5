import XCTest
@testable import CPU

final class TrapTests: XCTestCase {
    func testEcallFromMachineTrapsToMtvecWithCause11() throws {
        let m = try TestMachine("""
            la t0, handler
            csrw mtvec, t0
            li t0, 1 << 3
            csrs mstatus, t0
            call_site: ecall
            handler: wfi
            """)
        m.runToWFI()
        XCTAssertEqual(m.s.mcause, 11)
        XCTAssertEqual(m.s.mepc, ramBase + 20)
        XCTAssertEqual(m.s.mstatus & 0x1888, 0x1880, "MIE cleared, MPIE = old MIE, MPP = M")
    }

    func testEbreakReportsItsAddressInTval() throws {
        let m = try TestMachine("""
            la t0, handler
            csrw mtvec, t0
            ebreak
            handler: wfi
            """)
        m.runToWFI()
        XCTAssertEqual(m.s.mcause, 3)
        XCTAssertEqual(m.s.mtval, ramBase + 12)
    }

    func testDelegatedEcallFromUserGoesToSupervisorHandler() throws {
        let m = try TestMachine("""
            la t0, mhandler
            csrw mtvec, t0
            la t0, shandler
            csrw stvec, t0
            li t0, 1 << 8
            csrw medeleg, t0
            pmp_allow_all
            enter_mode 0, user
            user: ecall
            mhandler: wfi
            .align 2
            shandler: csrr a0, sstatus
            csrr a1, scause
            csrr a2, sepc
            wfi
            """)
        m.runToWFI()
        XCTAssertEqual(m.s.privilege, 1)
        XCTAssertEqual(m.x(Reg.a1), 8)
        XCTAssertEqual(m.x(Reg.a0) & 0x100, 0, "SPP = U")
        XCTAssertEqual(m.x(Reg.a2) & 0xFFF, m.s.mepc & 0xFFF, "sepc is the ecall (mepc still holds the mret target)")
    }

    func testUndelegatedEcallFromSupervisorGoesToMachine() throws {
        let m = try TestMachine("""
            la t0, mhandler
            csrw mtvec, t0
            li t0, 1 << 8
            csrw medeleg, t0
            pmp_allow_all
            enter_mode 1, supervisor
            supervisor: ecall
            mhandler: wfi
            """)
        m.runToWFI()
        XCTAssertEqual(m.s.mcause, 9)
        XCTAssertEqual(m.s.privilege, 3)
        XCTAssertEqual((m.s.mstatus >> 11) & 3, 1, "MPP = S")
    }

    func testMretRestoresInterruptEnableAndPrivilege() throws {
        let m = try TestMachine("""
            la t0, handler
            csrw mtvec, t0
            pmp_allow_all
            li t0, 1 << 7
            csrs mstatus, t0
            enter_mode 1, supervisor
            supervisor: csrr a0, sstatus
            ecall
            handler: wfi
            """)
        m.runToWFI()
        XCTAssertEqual(m.s.mcause, 9, "ecall from S")
        XCTAssertEqual(m.s.mstatus & (1 << 7), 1 << 7, "MPIE was set by mret")
        XCTAssertEqual((m.s.mstatus >> 11) & 3, 1)
    }

    func testSretIsIllegalInSupervisorWhenTSRIsSet() throws {
        let m = try TestMachine("""
            la t0, handler
            csrw mtvec, t0
            pmp_allow_all
            li t0, 1 << 22
            csrs mstatus, t0
            enter_mode 1, supervisor
            supervisor: sret
            handler: wfi
            """)
        m.runToWFI()
        XCTAssertEqual(m.s.mcause, 2)
        XCTAssertEqual(m.s.mtval, 0x1020_0073)
    }

    func testWfiIsIllegalInUserModeAndInSupervisorWithTW() throws {
        let user = try TestMachine("""
            la t0, handler
            csrw mtvec, t0
            pmp_allow_all
            enter_mode 0, lower
            lower: wfi
            handler: wfi
            """)
        user.runToWFI()
        XCTAssertEqual(user.s.mcause, 2)
        let supervisor = try TestMachine("""
            la t0, handler
            csrw mtvec, t0
            pmp_allow_all
            li t0, 1 << 21
            csrs mstatus, t0
            enter_mode 1, lower
            lower: wfi
            handler: wfi
            """)
        supervisor.runToWFI()
        XCTAssertEqual(supervisor.s.mcause, 2)
        XCTAssertEqual(supervisor.s.mtval, 0x1050_0073)
    }

    func testWfiStopsAndWakesOnPendingEnabledInterruptEvenWithMIEClear() throws {
        let m = try TestMachine("""
            li t0, 1 << 7
            csrw mie, t0
            wfi
            li a0, 1
            wfi
            """)
        XCTAssertEqual(m.hart.run(budget: 100), .waitingForInterrupt)
        XCTAssertEqual(m.s.waitingForInterrupt, 1)
        XCTAssertEqual(m.hart.run(budget: 100), .waitingForInterrupt, "still nothing pending")
        XCTAssertEqual(m.x(Reg.a0), 0)
        m.hart.setInterruptPending(bit: 7, true)
        XCTAssertEqual(m.hart.pendingAndEnabledInterrupts, 1 << 7)
        XCTAssertEqual(m.hart.run(budget: 100), .exitRequested, "the controller asked the loop to look")
        XCTAssertEqual(m.hart.run(budget: 100), .budgetExhausted,
                       "MIE is clear: no trap; the second WFI completes at once because MTIP is pending")
        XCTAssertEqual(m.x(Reg.a0), 1)
    }

    func testVectoredInterruptJumpsToBasePlusFourTimesCause() throws {
        let m = try TestMachine("""
            la t0, vectors
            ori t0, t0, 1
            csrw mtvec, t0
            li t0, 1 << 1
            csrw mie, t0
            csrs mip, t0
            csrsi mstatus, 8
            li a0, 99
            wfi
            .align 6
            vectors: j fail
            j ssi
            fail: wfi
            ssi: li a0, 1
            csrw mie, zero
            wfi
            """)
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a0), 1)
        XCTAssertEqual(m.s.mcause, 1 << 63 | 1)
        XCTAssertEqual(m.s.mepc & 0xFFF, 0x20, "mepc is the instruction after the csrsi (the `li a0, 99`)")
    }

    func testInterruptPriorityTakesMachineExternalFirst() throws {
        let m = try TestMachine("""
            la t0, handler
            csrw mtvec, t0
            li t0, 0xaaa
            csrw mie, t0
            li t0, 0x222
            csrs mip, t0
            csrsi mstatus, 8
            nop
            handler: csrw mie, zero
            wfi
            """)
        for bit in [3, 7, 11] { m.hart.setInterruptPending(bit: bit, true) }
        m.hart.state.pointee.exitRequest = 0
        m.runToWFI()
        XCTAssertEqual(m.s.mcause, 1 << 63 | 11)
    }

    func testInterruptPriorityOrderAmongTheRest() {
        let m = TestMachine()
        m.hart.state.pointee.mie = 0xAAA
        m.hart.state.pointee.mstatus |= 1 << 3
        var order: [UInt64] = []
        m.hart.state.pointee.mip = 0x222
        m.hart.state.pointee.mipExternal = 0x888
        while let cause = m.hart.interruptToTake() {
            order.append(cause)
            m.hart.state.pointee.mip &= ~(1 << cause)
            m.hart.state.pointee.mipExternal &= ~(1 << cause)
        }
        XCTAssertEqual(order, [11, 3, 7, 9, 1, 5])
    }

    func testDelegatedInterruptIsNotTakenInMachineMode() {
        let m = TestMachine()
        m.hart.state.pointee.mie = 0x20
        m.hart.state.pointee.mideleg = 0x20
        m.hart.state.pointee.mip = 0x20
        m.hart.state.pointee.mstatus |= 1 << 3 | 1 << 1
        XCTAssertNil(m.hart.interruptToTake())
        m.hart.state.pointee.privilege = 1
        XCTAssertEqual(m.hart.interruptToTake(), 5, "S with SIE set")
        m.hart.state.pointee.mstatus &= ~(1 << 1)
        XCTAssertNil(m.hart.interruptToTake(), "S with SIE clear")
        m.hart.state.pointee.privilege = 0
        XCTAssertEqual(m.hart.interruptToTake(), 5, "U takes S interrupts regardless of SIE")
    }

    func testDelegatedSupervisorTimerInterruptEntersSupervisorHandler() throws {
        let m = try TestMachine("""
            la t0, mhandler
            csrw mtvec, t0
            la t0, shandler
            csrw stvec, t0
            li t0, 0x20
            csrw mideleg, t0
            csrw mie, t0
            pmp_allow_all
            enter_mode 0, user
            user: csrs mip, t0     // illegal in U: never reached if the interrupt comes first
            mhandler: wfi
            .align 2
            shandler: csrr a0, scause
            csrw sie, zero
            wfi
            """)
        XCTAssertEqual(m.hart.run(budget: 12), .budgetExhausted)
        m.hart.state.pointee.mip |= 0x20 // M software raises STIP
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a0), 1 << 63 | 5)
        XCTAssertEqual(m.s.privilege, 1)
    }
}

import IRQ
import XCTest
@testable import CPU

/// The Smaia/Ssaia CSRs (RISC-V AIA 1.0 §2, §5): absent without an interrupt file, the indirect
/// registers of the IMSIC files, `*topei` claims and `*topi`. Programs name the CSRs by number
/// (miselect 0x350, mireg 0x351, mtopei 0x35C, mtopi 0xFB0, mvip 0x309, siselect 0x150,
/// sireg 0x151, stopei 0x15C, stopi 0xDB0).
final class AIACSRTests: XCTestCase {
    /// A test machine whose hart has M and S interrupt files (255 identities each).
    private func machineWithFiles(_ source: String) throws -> (TestMachine, machine: IMSICFile, supervisor: IMSICFile) {
        let m = try TestMachine(source)
        let machine = try IMSICFile(hart: m.hart, level: .machine)
        let supervisor = try IMSICFile(hart: m.hart, level: .supervisor)
        m.hart.interruptFile = IMSICHart(machine: machine, supervisor: supervisor)
        return (m, machine, supervisor)
    }

    /// Runs to the closing WFI. Pin changes (an interrupt file's, or a claim's) ask the hart to
    /// leave its run loop, as they do for the machine, which then simply runs it again.
    private func runToWFI(_ m: TestMachine, file: StaticString = #filePath, line: UInt = #line) {
        var stop = m.hart.run(budget: 100_000)
        for _ in 0..<10 where stop == .exitRequested { stop = m.hart.run(budget: 100_000) }
        XCTAssertEqual(stop, .waitingForInterrupt, "pc=0x\(String(m.pc, radix: 16))", file: file, line: line)
    }

    /// Pends and enables `identity` and turns delivery on, as firmware would.
    private func arm(_ file: IMSICFile, identity: Int) {
        file.setPending(identity: UInt32(identity))
        XCTAssertTrue(file.write(select: 0xC0, value: file.read(select: 0xC0)! | 1 << UInt64(identity)))
        XCTAssertTrue(file.write(select: 0x70, value: 1))
    }

    func testEveryAIACSRIsIllegalWithoutAnInterruptFile() throws {
        for csr in ["0x350", "0x351", "0x35C", "0xFB0", "0x308", "0x309", "0x150", "0x151", "0x15C", "0xDB0"] {
            let m = try TestMachine("""
                la t0, handler
                csrw mtvec, t0
                csrr a0, \(csr)
                handler: csrr a1, mcause
                wfi
                """)
            m.runToWFI()
            XCTAssertEqual(m.x(Reg.a1), 2, "CSR \(csr) should raise illegal instruction on a PLIC board")
        }
    }

    func testMiregWritesTheMachineFilesRegisters() throws {
        let (m, machine, supervisor) = try machineWithFiles("""
            li t0, 0x70
            csrw 0x350, t0
            li t0, 1
            csrw 0x351, t0
            wfi
            """)

        runToWFI(m)

        XCTAssertEqual(machine.read(select: 0x70), 1)
        XCTAssertEqual(supervisor.read(select: 0x70), 0)
    }

    func testOddEipSelectIsIllegalOnRV64() throws {
        let (m, _, _) = try machineWithFiles("""
            la t0, handler
            csrw mtvec, t0
            li t0, 0x81
            csrw 0x350, t0
            csrr a0, 0x351
            handler: csrr a1, mcause
            wfi
            """)

        runToWFI(m)

        XCTAssertEqual(m.x(Reg.a1), 2)
    }

    func testPriorityArrayReadsZero() throws {
        let (m, _, _) = try machineWithFiles("""
            la t0, handler
            csrw mtvec, t0
            li a0, -1
            li t0, 0x30
            csrw 0x350, t0
            csrr a0, 0x351
            handler: csrr a1, mcause
            wfi
            """)

        runToWFI(m)

        XCTAssertEqual(m.x(Reg.a0), 0)
        XCTAssertEqual(m.x(Reg.a1), 0, "no trap")
    }

    func testMtopeiSwapReportsAndClaimsTheTopIdentity() throws {
        let (m, machine, _) = try machineWithFiles("""
            csrrw a0, 0x35C, zero
            csrr a1, 0x35C
            wfi
            """)
        arm(machine, identity: 5)
        arm(machine, identity: 9)

        runToWFI(m)

        XCTAssertEqual(m.x(Reg.a0), 5 << 16 | 5)
        XCTAssertEqual(m.x(Reg.a1), 9 << 16 | 9)
        XCTAssertFalse(machine.isPending(identity: 5))
    }

    func testReadingMtopeiDoesNotClaim() throws {
        let (m, machine, _) = try machineWithFiles("""
            csrr a0, 0x35C
            wfi
            """)
        arm(machine, identity: 5)

        runToWFI(m)

        XCTAssertEqual(m.x(Reg.a0), 5 << 16 | 5)
        XCTAssertTrue(machine.isPending(identity: 5))
    }

    func testStopeiClaimInTheSupervisorHandlerOfADelegatedSEI() throws {
        let (m, _, supervisor) = try machineWithFiles("""
            la t0, shandler
            csrw stvec, t0
            li t0, 1 << 9
            csrw mideleg, t0
            csrw mie, t0
            pmp_allow_all
            enter_mode 1, super
            super: csrsi sstatus, 2
            spin: j spin
            .align 2
            shandler: csrrw a0, 0x15C, zero
            csrr a1, scause
            csrr a2, sip
            wfi
            """)
        arm(supervisor, identity: 40)

        runToWFI(m)

        XCTAssertEqual(m.x(Reg.a1), 1 << 63 | 9)
        XCTAssertEqual(m.x(Reg.a0), 40 << 16 | 40)
        XCTAssertEqual(m.x(Reg.a2) & (1 << 9), 0, "the claim lowered SEIP")
        XCTAssertFalse(supervisor.isPending(identity: 40))
    }

    func testSiregReachesTheSupervisorFileFromSupervisorMode() throws {
        let (m, machine, supervisor) = try machineWithFiles("""
            pmp_allow_all
            enter_mode 1, super
            super: li t0, 0x72
            csrw 0x150, t0
            li t0, 17
            csrw 0x151, t0
            wfi
            """)

        runToWFI(m)

        XCTAssertEqual(supervisor.read(select: 0x72), 17)
        XCTAssertEqual(machine.read(select: 0x72), 0)
    }

    func testMtopiReportsTheHighestPriorityUndelegatedInterrupt() throws {
        let (m, machine, _) = try machineWithFiles("""
            li t0, (1 << 11) | (1 << 1)
            csrw mie, t0
            csrsi mip, 2
            csrr a0, 0xFB0
            csrw mie, zero
            wfi
            """)
        arm(machine, identity: 3)

        runToWFI(m)

        XCTAssertEqual(m.x(Reg.a0), 11 << 16 | 1, "MEI outranks SSI; IPRIO is 1 with a read-only-zero iprio array")
    }

    func testStopiReportsOnlyDelegatedInterrupts() throws {
        let (m, _, _) = try machineWithFiles("""
            li t0, (1 << 5) | (1 << 1)
            csrw mie, t0
            csrw mideleg, t0
            li t0, 1 << 5
            csrs mip, t0
            csrr a0, 0xDB0
            csrr a1, 0xFB0
            csrw mie, zero
            wfi
            """)

        runToWFI(m)

        XCTAssertEqual(m.x(Reg.a0), 5 << 16 | 1)
        XCTAssertEqual(m.x(Reg.a1), 0, "a delegated interrupt is not in mtopi")
    }

    func testMvipAliasesTheSupervisorBitsOfMip() throws {
        let (m, _, _) = try machineWithFiles("""
            li t0, -1
            csrw 0x309, t0
            csrr a0, mip
            csrr a1, 0x308
            wfi
            """)

        runToWFI(m)

        XCTAssertEqual(m.x(Reg.a0), 0x222, "SSIP, STIP and SEIP")
        XCTAssertEqual(m.x(Reg.a1), 0, "mvien is read-only zero")
    }
}

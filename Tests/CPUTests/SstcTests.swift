import CHartState
import IRQ
import Memory
import XCTest
@testable import CPU

/// Sstc (RISC-V privileged spec, "Sstc" chapter; menvcfg.STCE §3.1.18): `stimecmp` (0x14D) and
/// how it drives mip.STIP. Programs name the CSRs by number (stimecmp 0x14D, menvcfg 0x30A).
/// The clock is virtual and stands still while a test's hart runs outside a machine slice
/// (`Timebase.units` is the elapsed units), so `time` is exactly what the test advanced it to:
/// 1e9 units per second at 10 MHz, 100 units per tick.
final class SstcTests: XCTestCase {
    private let stip: UInt64 = 1 << 5
    private let stce: UInt64 = 1 << 63

    /// A hart with Sstc (unless `sstc` is false) on a virtual clock at `ticks`, running `body`
    /// in M-mode with a trap handler at `handler` that records mcause in a7 and stops.
    private func machine(_ body: String, sstc: Bool = true, ticks: UInt64 = 1000) throws -> (TestMachine, Timebase) {
        let clock = Timebase(clock: .virtual(instructionsPerSecond: 1_000_000_000))
        clock.advance(units: ticks * 100)
        let m = try TestMachine("""
            la t0, handler
            csrw mtvec, t0
            li a7, -1
            \(body)
            wfi
            handler:
            csrr a7, mcause
            wfi
            """, timebase: clock)
        m.hart.implementsSstc = sstc
        return (m, clock)
    }

    /// Runs to the closing WFI: a write to stimecmp or menvcfg ends the slice (the machine
    /// budgets the next one with the new deadline), and the machine simply runs the hart again.
    private func runToWFI(_ m: TestMachine, file: StaticString = #filePath, line: UInt = #line) {
        var stop = m.hart.run(budget: 100_000)
        for _ in 0..<20 where stop == .exitRequested { stop = m.hart.run(budget: 100_000) }
        XCTAssertEqual(stop, .waitingForInterrupt, "pc=0x\(String(m.pc, radix: 16))", file: file, line: line)
    }

    func testWithoutSstcStimecmpIsIllegalEvenInMModeAndSTCEIsReadOnlyZero() throws {
        let (m, _) = try machine("""
            li t0, -1
            csrw 0x30A, t0
            csrr a0, 0x30A
            csrr a1, 0x14D
            """, sstc: false)
        runToWFI(m)
        XCTAssertEqual(m.x(Reg.a0), 1, "only FIOM is writable")
        XCTAssertEqual(m.x(Reg.a7), 2, "stimecmp is not a CSR without Sstc")
    }

    func testMModeReadsAndWritesStimecmpWhileSTCEIsClear() throws {
        let (m, _) = try machine("""
            li t0, 0x123456789
            csrw 0x14D, t0
            csrr a0, 0x14D
            csrr a1, 0x30A
            """)
        runToWFI(m)
        XCTAssertEqual(m.x(Reg.a7), UInt64.max, "no trap")
        XCTAssertEqual(m.x(Reg.a0), 0x1_2345_6789)
        XCTAssertEqual(m.x(Reg.a1), 0, "menvcfg resets to 0")
    }

    func testSTCEIsWritableWithSstc() throws {
        let (m, _) = try machine("""
            li t0, -1
            csrw 0x30A, t0
            csrr a0, 0x30A
            """)
        runToWFI(m)
        XCTAssertEqual(m.x(Reg.a0), stce | 1)
    }

    /// S-mode reads stimecmp with the given menvcfg and mcounteren; a7 is the trap cause or -1.
    private func supervisorRead(menvcfg: UInt64, mcounteren: UInt64, mode: Int = 1) throws -> TestMachine {
        let (m, _) = try machine("""
            pmp_allow_all
            li t0, \(menvcfg)
            csrw 0x30A, t0
            li t0, \(mcounteren)
            csrw mcounteren, t0
            li t0, 4242
            csrw 0x14D, t0
            enter_mode \(mode), lower
            lower:
            csrr a0, 0x14D
            csrw 0x14D, zero
            """)
        runToWFI(m)
        return m
    }

    func testSupervisorAccessNeedsBothSTCEAndMcounterenTM() throws {
        let both = try supervisorRead(menvcfg: stce, mcounteren: 2)
        XCTAssertEqual(both.x(Reg.a7), UInt64.max, "no trap with STCE and TM set")
        XCTAssertEqual(both.x(Reg.a0), 4242)
        XCTAssertEqual(both.s.stimecmp, 0, "S-mode wrote it")

        let noSTCE = try supervisorRead(menvcfg: 0, mcounteren: 2)
        XCTAssertEqual(noSTCE.x(Reg.a7), 2, "STCE clear: illegal below M")
        XCTAssertEqual(noSTCE.s.mtval, 0x14D0_2573, "csrr a0, stimecmp")

        let noTM = try supervisorRead(menvcfg: stce, mcounteren: 0)
        XCTAssertEqual(noTM.x(Reg.a7), 2, "mcounteren.TM clear: illegal in S")

        let user = try supervisorRead(menvcfg: stce, mcounteren: 2, mode: 0)
        XCTAssertEqual(user.x(Reg.a7), 2, "never from U (an S-level CSR)")
    }

    func testSTIPIsTimeAtOrPastStimecmpAndFollowsEveryWrite() throws {
        // time = 1000 ticks throughout.
        let (m, _) = try machine("""
            li t0, 1 << 63
            csrs 0x30A, t0
            li t0, 1001
            csrw 0x14D, t0
            csrr a0, mip
            li t0, 1000
            csrw 0x14D, t0
            csrr a1, mip
            csrr a2, sip
            li t0, -1
            csrw 0x14D, t0
            csrr a3, mip
            """)
        m.hart.state.pointee.mideleg = 1 << 5
        runToWFI(m)
        XCTAssertEqual(m.x(Reg.a0) & stip, 0, "time 1000 < stimecmp 1001")
        XCTAssertEqual(m.x(Reg.a1) & stip, stip, "time 1000 >= stimecmp 1000")
        XCTAssertEqual(m.x(Reg.a2) & stip, stip, "sip shows the delegated STIP")
        XCTAssertEqual(m.x(Reg.a3) & stip, 0, "stimecmp all ones: not pending")
    }

    func testSTIPIsReadOnlyInMipWhileSTCEIsSetAndSoftwareWritableOtherwise() throws {
        let (m, _) = try machine("""
            li t0, -1
            csrw 0x14D, t0
            li t0, 1 << 63
            csrs 0x30A, t0
            li t2, 1 << 5
            csrs mip, t2
            csrr a0, mip
            csrc 0x30A, t0
            csrs mip, t2
            csrr a1, mip
            csrs 0x30A, t0
            li t1, 0
            csrw 0x14D, t1
            csrc mip, t2
            csrr a2, mip
            """)
        runToWFI(m)
        XCTAssertEqual(m.x(Reg.a0) & stip, 0, "STCE set: a write to mip.STIP is ignored")
        XCTAssertEqual(m.x(Reg.a1) & stip, stip, "STCE clear: M-mode software writes STIP")
        XCTAssertEqual(m.x(Reg.a2) & stip, stip, "STCE set: clearing STIP does not hide the timer")
    }

    func testTheTimerDeadlineIsReportedAndPollRaisesSTIPAtIt() throws {
        let (m, clock) = try machine("""
            li t0, 1 << 63
            csrs 0x30A, t0
            li t0, 1250
            csrw 0x14D, t0
            """)
        runToWFI(m)
        let timers = SupervisorTimers(harts: [m.hart])
        XCTAssertEqual(timers.nanosecondsUntilNextEvent(), 25_000, "250 ticks of 100 ns")
        clock.advance(units: 24_999)
        timers.poll()
        XCTAssertEqual(m.s.mip & stip, 0, "one unit early")
        m.hart.state.pointee.exitRequest = 0
        clock.advance(units: 1)
        timers.poll()
        XCTAssertEqual(m.s.mip & stip, stip, "pending at the deadline")
        XCTAssertEqual(m.s.exitRequest, 1, "the hart is asked to look at interrupts")
        XCTAssertNil(timers.nanosecondsUntilNextEvent(), "nothing more to wait for")
    }

    func testNoDeadlineWhileSTCEIsClear() throws {
        let (m, _) = try machine("""
            li t0, 5000
            csrw 0x14D, t0
            """)
        runToWFI(m)
        XCTAssertNil(SupervisorTimers(harts: [m.hart]).nanosecondsUntilNextEvent())
    }

    func testTheSupervisorTimerInterruptWakesWFIAndTrapsToS() throws {
        let (m, clock) = try machine("""
            pmp_allow_all
            li t0, -1
            csrw 0x14D, t0      // stimecmp resets to 0: with STCE set, STIP would be pending at once
            li t0, 1 << 63
            csrs 0x30A, t0
            li t0, 2
            csrw mcounteren, t0
            li t0, 1 << 5
            csrw mideleg, t0
            la t0, stvec_handler
            csrw stvec, t0
            enter_mode 1, supervisor
            supervisor:
            li t0, 1 << 5
            csrs sie, t0
            csrsi sstatus, 2
            li t0, 1100
            csrw 0x14D, t0
            wfi
            li a6, 99
            wfi
            stvec_handler:
            csrr a5, scause
            li t0, -1
            csrw 0x14D, t0
            wfi
            """)
        runToWFI(m)
        XCTAssertEqual(m.s.waitingForInterrupt, 1, "waits for its timer")
        let timers = SupervisorTimers(harts: [m.hart])
        clock.advance(units: timers.nanosecondsUntilNextEvent()!)
        timers.poll()
        runToWFI(m)
        XCTAssertEqual(m.x(Reg.a5), 1 << 63 | 5, "supervisor timer interrupt, taken in S")
        XCTAssertEqual(m.s.mip & stip, 0, "rewriting stimecmp cleared it")
        XCTAssertNotEqual(m.x(Reg.a6), 99, "the interrupt came before the code after WFI")
    }

    func testMvipSTIPIsReadOnlyZeroWhileSTCEIsSet() throws {
        let (m, _) = try machine("""
            li t2, 1 << 5
            csrs mip, t2
            csrr a0, 0x309
            li t0, 1 << 63
            csrs 0x30A, t0
            li t0, -1
            csrw 0x14D, t0
            csrr a1, 0x309
            csrs 0x309, t2
            csrr a2, mip
            """)
        let machineFile = try IMSICFile(hart: m.hart, level: .machine)
        let supervisorFile = try IMSICFile(hart: m.hart, level: .supervisor)
        m.hart.interruptFile = IMSICHart(machine: machineFile, supervisor: supervisorFile)
        runToWFI(m)
        XCTAssertEqual(m.x(Reg.a0) & stip, stip, "STCE clear: mvip.STIP aliases mip.STIP")
        XCTAssertEqual(m.x(Reg.a1) & stip, 0, "STCE set: read-only zero (AIA 1.0 §5.3)")
        XCTAssertEqual(m.x(Reg.a2) & stip, 0, "and writes to it do nothing")
    }

    func testStimecmpIsSavedAndRestoredWithTheHart() throws {
        let (m, _) = try machine("""
            li t0, 0xABCDEF
            csrw 0x14D, t0
            """)
        runToWFI(m)
        var writer = DeviceStateWriter()
        m.hart.saveArchitecturalState(to: &writer)
        let (restored, _) = try machine("nop")
        var reader = DeviceStateReader(writer.bytes)
        try restored.hart.restoreArchitecturalState(from: &reader)
        XCTAssertEqual(restored.s.stimecmp, 0xAB_CDEF)
    }

    func testAStateWithSTCESetIsRefusedByAHartWithoutSstc() throws {
        let (m, _) = try machine("""
            li t0, 1 << 63
            csrs 0x30A, t0
            """)
        runToWFI(m)
        var writer = DeviceStateWriter()
        m.hart.saveArchitecturalState(to: &writer)
        let (restored, _) = try machine("nop", sstc: false)
        var reader = DeviceStateReader(writer.bytes)
        XCTAssertThrowsError(try restored.hart.restoreArchitecturalState(from: &reader)) { error in
            XCTAssertEqual("\(error)", "saved device state does not fit: menvcfg.STCE is set but this hart has no Sstc")
        }
        XCTAssertEqual(restored.s.menvcfg, 0, "the refused bit is not left behind")
    }

    func testTheDebuggerListsStimecmpOnlyOnAnSstcHart() throws {
        let (with, _) = try machine("nop")
        let (without, _) = try machine("nop", sstc: false)
        XCTAssertTrue(with.hart.debugImplementedCSRNames.contains { $0.name == "stimecmp" && $0.number == 0x14D })
        XCTAssertFalse(without.hart.debugImplementedCSRNames.contains { $0.name == "stimecmp" })
        XCTAssertEqual(with.hart.readRegister(named: "stimecmp"), 0)
        XCTAssertNil(without.hart.readRegister(named: "stimecmp"))
    }
}

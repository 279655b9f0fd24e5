import XCTest
@testable import CPU

/// `runDebug` and the debugger's side-effect-free accessors (Hart+Debug.swift).
final class DebugTests: XCTestCase {
    /// A loop that stores its counter to `data` ten times, then WFI.
    let loop = """
        la s1, data
        li t0, 0
        again:
        addi t0, t0, 1
        sd t0, 0(s1)
        li t1, 10
        blt t0, t1, again
        wfi
        .balign 8
        data: .dword 0
        """

    // Layout of `loop`: la (auipc+addi) at +0, li at +8, again: addi +12, sd +16, li +20, blt +24,
    // wfi +28, data at +32.
    let store = ramBase + 16
    let data = ramBase + 32

    func testBreakpointStopsBeforeTheInstructionEveryTimeItIsReached() throws {
        for accelerator in Accelerator.allCases {
            let m = try TestMachine(loop)
            m.hart.accelerator = accelerator
            let points = HartDebugPoints()
            points.insertBreakpoint(store)
            var hits: [UInt64] = []
            var resuming = false
            while true {
                let stop = m.hart.runDebug(budget: 1000, points: points, resuming: resuming)
                guard case .breakpoint(let pc) = stop else {
                    XCTAssertEqual(stop, .hart(.waitingForInterrupt))
                    break
                }
                XCTAssertEqual(pc, store)
                XCTAssertEqual(m.pc, store)
                hits.append(m.x(Reg.t0))
                XCTAssertEqual(m.read64(m.x(Reg.s1)), m.x(Reg.t0) - 1, "the store has not executed yet")
                resuming = true
            }
            XCTAssertEqual(hits, Array(1...10), "\(accelerator)")
        }
    }

    func testWriteWatchpointStopsBeforeTheStoreAndReadsDoNotTrigger() throws {
        let m = try TestMachine(loop)
        let points = HartDebugPoints()
        XCTAssertEqual(m.read64(data), 0)
        points.insertWatchpoint(.init(address: data + 4, length: 4, access: .write))
        let stop = m.hart.runDebug(budget: 1000, points: points, resuming: false)
        XCTAssertEqual(stop, .watchpoint(.init(address: data + 4, length: 4, access: .write), address: data))
        XCTAssertEqual(m.pc, store)
        XCTAssertEqual(m.read64(data), 0)
        // A read watchpoint elsewhere and a write watchpoint past the dword do not fire.
        let far = HartDebugPoints()
        far.insertWatchpoint(.init(address: data, length: 8, access: .read))
        far.insertWatchpoint(.init(address: data + 8, length: 8, access: .write))
        XCTAssertEqual(m.hart.runDebug(budget: 1000, points: far, resuming: true), .hart(.waitingForInterrupt))
        XCTAssertEqual(m.read64(data), 10)
    }

    /// A client cannot grow the breakpoints and watchpoints without bound: past the limits an
    /// insertion is refused (GDB is told E22), re-inserting an existing breakpoint still works,
    /// and removing one makes room again.
    func testBreakpointAndWatchpointCountsAreBounded() {
        let points = HartDebugPoints()
        for index in 0..<HartDebugPoints.breakpointLimit {
            XCTAssertTrue(points.insertBreakpoint(0x8000_0000 + UInt64(index) * 2))
        }
        XCTAssertFalse(points.insertBreakpoint(0x9000_0000), "one past the limit")
        XCTAssertTrue(points.insertBreakpoint(0x8000_0000), "already there")
        XCTAssertEqual(points.breakpoints.count, HartDebugPoints.breakpointLimit)
        XCTAssertTrue(points.removeBreakpoint(0x8000_0002))
        XCTAssertTrue(points.insertBreakpoint(0x9000_0000), "room again after a removal")
        for index in 0..<HartDebugPoints.watchpointLimit {
            XCTAssertTrue(points.insertWatchpoint(.init(address: UInt64(index) * 8, length: 8, access: .write)))
        }
        XCTAssertFalse(points.insertWatchpoint(.init(address: 0x1000, length: 8, access: .read)))
        XCTAssertEqual(points.watchpoints.count, HartDebugPoints.watchpointLimit)
    }

    func testSingleStepIgnoresPendingInterruptsWhenAsked() throws {
        let m = try TestMachine("""
            la t0, handler
            csrw mtvec, t0
            li t0, 8
            csrs mstatus, t0
            li t0, 2
            csrs mie, t0
            csrs mip, t0
            nop
            nop
            .balign 4
            handler: wfi
            """)
        let points = HartDebugPoints()
        for _ in 0..<9 { _ = m.hart.runDebug(budget: 1, points: points, resuming: true, interrupts: false) }
        XCTAssertEqual(m.pc, ramBase + 36, "SSIP is pending and enabled, but stepping keeps it waiting")
        _ = m.hart.runDebug(budget: 1, points: points, resuming: true, interrupts: true)
        XCTAssertEqual(m.pc, ramBase + 40, "a step with interrupts takes it")
        XCTAssertEqual(m.s.mcause, 1 << 63 | 1)
    }

    func testLRSCLoopsCompleteUnderTheDebugger() throws {
        let m = try TestMachine("""
            la s1, lock
            retry:
            lr.d t0, (s1)
            addi t0, t0, 1
            sc.d t1, t0, (s1)
            bnez t1, retry
            wfi
            .balign 8
            lock: .dword 41
            """)
        XCTAssertEqual(m.hart.runDebug(budget: 100, points: HartDebugPoints(), resuming: false), .hart(.waitingForInterrupt))
        XCTAssertEqual(m.read64(m.x(Reg.s1)), 42)
    }

    func testDebuggerMemoryAccessGoesThroughTranslationWithoutSettingAccessedBits() throws {
        // S-mode code through an identity gigapage; VA 0x4000_0000 → dataPage, readable only, A clear.
        let root: UInt64 = 0x8010_0000, level1: UInt64 = 0x8010_1000, level0: UInt64 = 0x8010_2000
        let dataPage: UInt64 = 0x8018_0000, testVA: UInt64 = 0x4000_0000
        func pte(_ physical: UInt64, _ flags: UInt64) -> UInt64 { (physical >> 12) << 10 | flags }
        let m = try TestMachine("""
            pmp_allow_all
            li t0, (8 << 60) | (\(root) >> 12)
            csrw satp, t0
            enter_mode 1, supervisor
            supervisor:
            wfi
            """)
        m.write64(root + 2 * 8, pte(0x8000_0000, PTE.valid | PTE.read | PTE.write | PTE.execute | PTE.accessed | PTE.dirty))
        m.write64(root + 1 * 8, pte(level1, PTE.valid))
        m.write64(level1, pte(level0, PTE.valid))
        m.write64(level0, pte(dataPage, PTE.valid | PTE.read))
        m.write64(dataPage, 0x1122_3344_5566_7788)
        m.runToWFI()
        XCTAssertEqual(m.s.privilege, 1, "stopped in S-mode with Sv39 on")
        let bytes = m.hart.debugReadMemory(testVA, length: 8)
        XCTAssertEqual(bytes, [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11])
        XCTAssertEqual(m.read64(level0) & PTE.accessed, 0, "a debugger read sets no A bit")
        XCTAssertTrue(m.hart.debugWriteMemory(testVA + 8, bytes: [1, 2]), "writes ignore the PTE's missing W")
        XCTAssertEqual(m.bus.read(dataPage + 8, size: 2), 0x0201)
        XCTAssertEqual(m.hart.debugReadMemory(testVA + 0x1000, length: 4), [], "unmapped")
        XCTAssertEqual(m.hart.debugReadMemory(testVA + 0xFFE, length: 4).count, 2, "stops at the unmapped page")
    }

    func testDebuggerCSRAccess() throws {
        let m = try TestMachine("wfi")
        XCTAssertEqual(m.hart.debugReadCSR(0x301), m.s.misa)
        XCTAssertTrue(m.hart.debugWriteCSR(0x340, 0x1234))
        XCTAssertEqual(m.hart.debugReadCSR(0x340), 0x1234)
        XCTAssertFalse(m.hart.debugWriteCSR(0xF14, 7), "mhartid is read-only")
        XCTAssertNil(m.hart.debugReadCSR(0x7FF))
        XCTAssertTrue(Hart.debugCSRNames.contains { $0.number == 0x180 && $0.name == "satp" })
    }

    /// One table names the CSRs for CSR access, instrumentation and the GDB target description:
    /// every name in it is a CSR the hart reads, under one number, and reading it by name
    /// (`read_register`) gives what the debugger reads by number.
    func testOneCSRTableServesAccessNamesAndTheDebugger() throws {
        let m = try TestMachine("wfi")
        m.hart.implementsSstc = true
        let table = Hart.debugCSRNames
        XCTAssertEqual(Set(table.map(\.name)).count, table.count, "names are unique")
        XCTAssertEqual(Set(table.map(\.number)).count, table.count, "numbers are unique")
        XCTAssertEqual(table.count, 58, "F (3), counters (5), S (11), stimecmp (Sstc), M information (5), M trap setup/handling (12), PMP (18), mseccfg, mcountinhibit, menvcfg")
        for (number, name) in table {
            let value = m.hart.debugReadCSR(number)
            XCTAssertNotNil(value, "\(name) (0x\(String(number, radix: 16))) is named but not readable")
            if name != "cycle" && name != "mcycle" && name != "time" && name != "instret" && name != "minstret" {
                XCTAssertEqual(m.hart.readRegister(named: name), value, name)
            } else {
                XCTAssertNotNil(m.hart.readRegister(named: name), name)
            }
        }
        for (name, number) in [("fflags", 0x001), ("mstatus", 0x300), ("satp", 0x180), ("pmpcfg2", 0x3A2), ("pmpaddr15", 0x3BF),
                               ("mseccfg", 0x747), ("minstret", 0xB02)] {
            XCTAssertTrue(table.contains { $0.number == UInt32(number) && $0.name == name }, name)
        }
        XCTAssertNil(m.hart.readRegister(named: "pmpaddr16"), "read as zero through a range, but not named")
    }
}

#if arch(x86_64)
import CHartState
import Memory
import XCTest
@testable import CPU

/// A device whose fifth read lowers an interrupt line of `hart` (as reading a UART's receive
/// buffer does), which asks the run loop to look (`exitRequest`); writes are recorded.
private final class ExitOnReadDevice: MMIODevice {
    weak var hart: Hart?
    var reads = 0
    var writes: [UInt64] = []
    var implementedSizes: AccessSizes { .all }
    func read(offset: UInt64, size: Int) -> UInt64 {
        reads += 1
        if reads == 5 { hart?.setInterruptPending(bit: 11, false) }
        return UInt64(reads)
    }
    func write(offset: UInt64, size: Int, value: UInt64) { writes.append(value) }
}

/// The JIT against the interpreter on small programs: each runs on two machines, one per engine,
/// and must end in the same architectural state (registers, pc, counters, trap CSRs, memory);
/// targeted assertions pin down the behaviour that matters for each case.
final class JITTests: XCTestCase {
    /// Runs `source` on both engines until WFI (or for `budget` instructions) and compares them.
    @discardableResult
    private func runBoth(_ source: String, budget: Int = 100_000, expect stop: HartStop = .waitingForInterrupt,
                         file: StaticString = #filePath, line: UInt = #line) throws -> (interpreter: TestMachine, jit: TestMachine) {
        let interpreter = try TestMachine(source, compressed: true)
        let jit = try TestMachine(source, compressed: true)
        jit.hart.accelerator = .jit
        XCTAssertEqual(interpreter.hart.run(budget: budget), stop, "interpreter", file: file, line: line)
        XCTAssertEqual(jit.hart.run(budget: budget), stop, "JIT", file: file, line: line)
        assertSameState(interpreter, jit, file: file, line: line)
        return (interpreter, jit)
    }

    /// `source` on two machines, the interpreter's and the JIT's, each with an
    /// `ExitOnReadDevice` at 0x1000_0000; told its hart when `asksForExit` (its fifth read then
    /// asks the run loop for an exit).
    private func machinesWithDevice(_ source: String, asksForExit: Bool) throws -> (machines: [TestMachine], devices: [ExitOnReadDevice]) {
        var devices: [ExitOnReadDevice] = []
        var machines: [TestMachine] = []
        for jit in [false, true] {
            let m = try TestMachine(source, compressed: true)
            if jit { m.hart.accelerator = .jit }
            let device = ExitOnReadDevice()
            if asksForExit { device.hart = m.hart }
            try m.bus.mapMMIO(name: "exit-on-read", base: 0x1000_0000, size: 0x100, device: device)
            devices.append(device)
            machines.append(m)
        }
        return (machines, devices)
    }

    private func assertSameState(_ a: TestMachine, _ b: TestMachine, file: StaticString = #filePath, line: UInt = #line) {
        for i in 1..<32 { XCTAssertEqual(a.x(i), b.x(i), "x\(i)", file: file, line: line) }
        let fa = withUnsafeBytes(of: a.s.f) { Array($0.bindMemory(to: UInt64.self)) }
        let fb = withUnsafeBytes(of: b.s.f) { Array($0.bindMemory(to: UInt64.self)) }
        XCTAssertEqual(fa, fb, "f registers", file: file, line: line)
        XCTAssertEqual(a.pc, b.pc, "pc", file: file, line: line)
        XCTAssertEqual(a.s.instret, b.s.instret, "minstret", file: file, line: line)
        XCTAssertEqual(a.s.cycle, b.s.cycle, "mcycle", file: file, line: line)
        XCTAssertEqual(a.s.fflags, b.s.fflags, "fflags", file: file, line: line)
        XCTAssertEqual(a.s.mstatus, b.s.mstatus, "mstatus", file: file, line: line)
        XCTAssertEqual(a.s.privilege, b.s.privilege, "privilege", file: file, line: line)
        XCTAssertEqual([a.s.mepc, a.s.mcause, a.s.mtval], [b.s.mepc, b.s.mcause, b.s.mtval], "mepc/mcause/mtval",
                       file: file, line: line)
        for address in stride(from: ramBase, to: ramBase + 0x10000, by: 8) where a.read64(address) != b.read64(address) {
            XCTFail("memory at 0x\(String(address, radix: 16)): \(a.read64(address)) vs \(b.read64(address))",
                    file: file, line: line)
            break
        }
    }

    func testIntegerAndDivisionEdgeCasesInALoopMatchTheInterpreter() throws {
        let (_, jit) = try runBoth("""
            li s0, 200
            li a0, 0x123456789
            li a1, -1
            li a2, 1
            slli a2, a2, 63         // most negative
            li a3, 0
            loop:
            div t0, a2, a1          // overflow: the dividend
            rem t1, a2, a1          // overflow: 0
            divu t2, a0, a3         // by zero: all ones
            remw t3, a0, a3         // by zero: the dividend (word)
            divw t4, a2, a1
            mulh t5, a0, a1
            mulhsu t6, a1, a0
            mulhu s1, a0, a0
            add a4, a4, t0
            xor a4, a4, t1
            add a4, a4, t2
            sub a5, a5, t3
            sraw a6, a0, s0
            sllw a7, a0, s0
            sltu s2, a4, a5
            slt s3, a5, a4
            add a0, a0, a4
            addi s0, s0, -1
            bnez s0, loop
            wfi
            """)
        // RISC-V's results where x86 division would fault (unprivileged spec §7.2 table 7.1).
        XCTAssertEqual(jit.x(Reg.t0), 1 << 63, "most negative / -1 = the dividend")
        XCTAssertEqual(jit.x(Reg.t1), 0, "most negative % -1 = 0")
        XCTAssertEqual(jit.x(Reg.t2), ~0, "x / 0 = all ones")
    }

    func testLoadFaultInTheMiddleOfABlockIsPrecise() throws {
        let (_, jit) = try runBoth("""
            la t0, handler
            csrw mtvec, t0
            li a0, 1
            li a1, 2
            addi a0, a0, 10         // these retire before the fault
            add a1, a1, a0
            li a2, 0x100000000
            la t1, fault
            fault: ld a1, 8(a2)     // nothing is mapped there: load access fault
            addi a0, a0, 100        // must not run
            .balign 4
            handler: wfi
            """)
        XCTAssertEqual(jit.s.mcause, 5)
        XCTAssertEqual(jit.s.mtval, 0x1_0000_0008)
        XCTAssertEqual(jit.s.mepc, jit.x(Reg.t1))
        XCTAssertEqual(jit.x(Reg.a0), 11)
        XCTAssertEqual(jit.x(Reg.a1), 13, "the faulting load leaves rd unchanged")
    }

    func testFaultingLoadLeavesADestinationFirstWrittenByItUntouched() throws {
        // In the faulting block a1 is cached but not loaded on entry (the load writes it
        // first): the trap exit must not write the host register back.
        let (_, jit) = try runBoth("""
            la t0, handler
            csrw mtvec, t0
            li a2, 0x100000000
            li a1, 42
            j block
            block:
            ld a1, 0(a2)
            add a3, a1, a1
            add a4, a1, a3
            .balign 4
            handler: wfi
            """)
        XCTAssertEqual(jit.s.mcause, 5)
        XCTAssertEqual(jit.x(Reg.a1), 42)
    }

    func testStoreFaultInTheMiddleOfABlockWritesBackCachedRegisters() throws {
        let (_, jit) = try runBoth("""
            la t0, handler
            csrw mtvec, t0
            li a2, 0x100000000
            li a0, 5
            addi a0, a0, 1
            addi a0, a0, 1
            addi a0, a0, 1          // a0 is cached and dirty when the store faults
            sd a0, 0(a2)
            addi a0, a0, 1
            .balign 4
            handler: wfi
            """)
        XCTAssertEqual(jit.s.mcause, 7)
        XCTAssertEqual(jit.x(Reg.a0), 8)
    }

    func testSelfModifyingCodeIsSeenAfterFenceI() throws {
        let (_, jit) = try runBoth("""
            li s0, 3
            la t0, patched
            li t1, 0x00150513       // addi a0, a0, 1
            again:
            jal ra, patched         // first call runs the original: addi a0, a0, 16
            sw t1, 0(t0)
            fence.i
            addi s0, s0, -1
            bnez s0, again
            wfi
            .option norvc           // a 4-byte slot for the 4-byte patch
            patched:
            addi a0, a0, 16
            ret
            """)
        XCTAssertEqual(jit.x(Reg.a0), 16 + 1 + 1)
    }

    func testBudgetEndsTheSliceAtTheSameInstructionAsTheInterpreter() throws {
        let source = """
            loop:
            addi a0, a0, 1
            addi a1, a1, 2
            addi a2, a2, 3
            j loop
            """
        let (_, jit) = try runBoth(source, budget: 1001, expect: .budgetExhausted)
        XCTAssertEqual(jit.s.instret, 1001)
        XCTAssertEqual(jit.x(Reg.a0) + jit.x(Reg.a1) / 2 + jit.x(Reg.a2) / 3, 751)
    }

    /// Page runs (`JITTranslator.findPageRuns`): a loop whose loads and stores step by a
    /// constant (t0) and by a register (t2) across page ends runs without a probe per access,
    /// its budget held back where a site could leave its page. Slices of every length end at
    /// the same instruction as the interpreter's, with the same memory: the held budget comes
    /// back on the back edge, at the loop's exit and at its side exit (taken once, at a0 = 37).
    /// The loop first meets each page before the TLB has it (a miss, one interpreted
    /// iteration); misses that far apart never make it plain.
    func testPageRunsEndSlicesWhereTheInterpreterDoes() throws {
        let source = """
            la t0, data
            li t1, 24
            mv t2, t0
            li t3, 37
            li a0, 700
            loop:
            ld a1, 0(t0)
            add a1, a1, a0
            sd a1, 8(t0)
            beq a0, t3, out
            sw a0, 4(t2)
            addi t0, t0, 16
            add t2, t2, t1
            addi a0, a0, -1
            bnez a0, loop
            out:
            wfi
            .balign 4096
            data:
            """
        let (_, jit) = try runBoth(source)
        XCTAssertEqual(jit.x(Reg.a0), 37, "left through the side exit")
        XCTAssertEqual(jit.hart.jitIfCreated?.pageRunMisses.count, 1, "the loop's page-run check met new pages")
        XCTAssertEqual(jit.hart.jitIfCreated?.plainBlocks.isEmpty, true, "the loop kept its page runs")
        for budget in [1, 6, 9, 17, 100, 333, 1001, 2049, 2500, 4097] {
            try runBoth(source, budget: budget, expect: .budgetExhausted)
        }
    }

    /// A loop stepping its stores through device memory: the page-run check finds no TLB entry
    /// (devices are never in it) right after every interpreted iteration, so after eight misses
    /// in a row the loop is translated again without page runs; the device sees every store, in
    /// order, as under the interpreter.
    func testAPageRunIntoDeviceMemoryFallsBackToProbes() throws {
        let source = """
            li t0, 0x10000000
            li a0, 40
            loop:
            sw a0, 0(t0)
            addi t0, t0, 4
            addi a0, a0, -1
            bnez a0, loop
            wfi
            """
        let (machines, devices) = try machinesWithDevice(source, asksForExit: false)
        for m in machines { XCTAssertEqual(m.hart.run(budget: 100_000), .waitingForInterrupt) }
        assertSameState(machines[0], machines[1])
        XCTAssertEqual(devices[1].writes, Array((1...40).reversed()).map(UInt64.init))
        XCTAssertEqual(devices[0].writes, devices[1].writes)
        XCTAssertEqual(machines[1].hart.jitIfCreated?.plainBlocks.count, 1, "the loop, translated again")
        machines[1].hart.jitIfCreated?.flush()
        XCTAssertEqual(machines[1].hart.jitIfCreated?.plainBlocks.isEmpty, true, "forgotten with the translations")
    }

    /// lui/auipc + addi/addiw pairs are folded into one constant (`foldedConstant`): the
    /// 32-bit wrap of addiw, a 64-bit addi after lui, pc-relative addresses, a pair whose addi is
    /// a branch target (not folded) and a pair split by the end of a slice.
    func testFoldedLuiAuipcConstantsMatchTheInterpreter() throws {
        let source = """
            lui a0, 0x80000
            addiw a0, a0, -1
            lui a1, 0x80000
            addi a1, a1, -1
            lui a2, 0x7ffff
            addi a2, a2, 2047
            auipc a3, 0
            addi a3, a3, -4
            la s1, data
            li a4, 0x12345678
            li a5, 1
            beqz a5, merge
            lui t0, 0x12345
            merge:
            addi t0, t0, 0x678
            wfi
            .balign 8
            data: .dword 0
            """
        let (_, jit) = try runBoth(source)
        XCTAssertEqual(jit.x(Reg.a0), 0x7FFF_FFFF, "lui + addiw wraps to 32 bits")
        XCTAssertEqual(jit.x(Reg.a1), 0xFFFF_FFFF_7FFF_FFFF, "lui + addi does not")
        XCTAssertEqual(jit.x(Reg.a3), ramBase + 16)
        XCTAssertEqual(jit.x(Reg.a4), 0x1234_5678)
        XCTAssertEqual(jit.x(5), 0x1234_5678)
        for budget in stride(from: 1, through: 12, by: 2) { try runBoth(source, budget: budget, expect: .budgetExhausted) }
    }

    /// A loop whose body skips instructions with forward branches to later instructions of the
    /// same block (the taken path jumps inside the block): every slice length from 1 to 40 must
    /// end at the same instruction with the same registers and counters as the interpreter,
    /// whichever path the iteration took (the fall-through charges the skipped instructions at
    /// the merge point, the taken path must not).
    func testForwardBranchesMergingInsideABlockChargeExactlyWhatRan() throws {
        let source = """
            li a3, 40
            li s1, 0x5a5a
            loop:
            andi a5, s1, 1
            srli s1, s1, 1
            beqz a5, skip
            xori s1, s1, 0x6b3
            addi a1, a1, 7
            skip:
            andi a4, a3, 2
            bnez a4, skip2
            addi a2, a2, 1
            skip2:
            addi a3, a3, -1
            bnez a3, loop
            wfi
            """
        for budget in stride(from: 1, through: 40, by: 3) {
            let (_, jit) = try runBoth(source, budget: budget, expect: .budgetExhausted)
            XCTAssertEqual(jit.s.instret, UInt64(budget), "budget \(budget)")
        }
        try runBoth(source)
    }

    /// A self-loop (its budget kept in a host register) with a device store and a device load in
    /// each iteration: the load that raises an exit request mid-block must stop the JIT at the
    /// same instruction as the interpreter (at the block's end: the request moves the budget out
    /// of reach, blocks compare only the budget), and a slice that ends in the middle of the
    /// loop, and the store helper that takes r8 as an argument, must leave exact counters.
    /// A device read that asks for an exit (an interrupt line moved, a timer armed before the
    /// slice's end) stops the hart right after the load under both engines: the rest of the
    /// block does not run (docs/architecture.md, "Virtual time").
    func testDeviceLoadAskingForAnExitInASelfLoopStopsRightAfterItAsTheInterpreterDoes() throws {
        let source = """
            li t0, 0x10000000
            li t1, 1000
            loop:
            addi a0, a0, 1
            sw a0, 8(t0)
            lw a1, 0(t0)
            add a2, a2, a1
            bne a0, t1, loop
            wfi
            """
        let (machines, devices) = try machinesWithDevice(source, asksForExit: true)
        let (interpreter, jit) = (machines[0], machines[1])
        for m in machines { XCTAssertEqual(m.hart.run(budget: 100_000), .exitRequested) }
        assertSameState(interpreter, jit)
        XCTAssertEqual(jit.x(Reg.a0), 5)
        XCTAssertEqual(jit.x(Reg.a1), 5, "the load that asked completed")
        XCTAssertEqual(jit.x(Reg.a2), 1 + 2 + 3 + 4, "stopped right after the load that asked, before the add")
        for m in machines { XCTAssertEqual(m.hart.run(budget: 777), .budgetExhausted) }
        assertSameState(interpreter, jit)
        for m in machines { XCTAssertEqual(m.hart.run(budget: 100_000), .waitingForInterrupt) }
        assertSameState(interpreter, jit)
        XCTAssertEqual(jit.x(Reg.a0), 1000)
        XCTAssertEqual(devices[0].writes, devices[1].writes)
        XCTAssertEqual(devices[1].reads, 1000)
    }

    /// The same for an F/D load (through the JIT's F/D helper) and an integer load into a
    /// register kept in memory (t3), in a block that goes on past the load.
    func testFloatingPointAndUnpinnedDeviceLoadsAskingForAnExitStopRightAfterThem() throws {
        for load in ["flw fa0, 0(t0)", "lw t3, 0(t0)"] {
            let source = """
                .option arch, +f
                li t0, 1 << 13      // FS = Initial: F/D instructions are legal
                csrs mstatus, t0
                li t0, 0x10000000
                li t1, 1000
                loop:
                addi a0, a0, 1
                \(load)
                addi a2, a2, 1
                addi a3, a3, 1
                bne a0, t1, loop
                wfi
                """
            let machines = try machinesWithDevice(source, asksForExit: true).machines
            for m in machines { XCTAssertEqual(m.hart.run(budget: 100_000), .exitRequested, load) }
            assertSameState(machines[0], machines[1])
            XCTAssertEqual(machines[1].x(Reg.a0), 5, load)
            XCTAssertEqual(machines[1].x(Reg.a2), 4, "\(load): stopped right after the load that asked")
            if load.hasPrefix("lw") { XCTAssertEqual(machines[1].x(28), 5, "the load's value reached t3") }
            for m in machines { XCTAssertEqual(m.hart.run(budget: 100_000), .waitingForInterrupt, load) }
            assertSameState(machines[0], machines[1])
        }
    }

    func testPendingTimerInterruptIsTakenBetweenBlocks() throws {
        let source = """
            la t0, handler
            csrw mtvec, t0
            li t0, 1 << 7           // MTIE
            csrs mie, t0
            csrsi mstatus, 1 << 3   // MIE
            loop:
            addi a0, a0, 1
            j loop
            .balign 4
            handler:
            csrc mie, t0            // MTIP stays pending: disable it so WFI sleeps
            wfi
            """
        let interpreter = try TestMachine(source, compressed: true)
        let jit = try TestMachine(source, compressed: true)
        jit.hart.accelerator = .jit
        for m in [interpreter, jit] {
            XCTAssertEqual(m.hart.run(budget: 500), .budgetExhausted)
            m.hart.setInterruptPending(bit: 7, true)
            XCTAssertEqual(m.hart.run(budget: 100), .exitRequested)
            XCTAssertEqual(m.hart.run(budget: 100), .waitingForInterrupt)
        }
        XCTAssertEqual(jit.s.mcause, 1 << 63 | 7)
        assertSameState(interpreter, jit)
    }

    func testInlineFloatingPointAccruesTheSameFlagsAsTheInterpreter() throws {
        let (_, jit) = try runBoth("""
            .option arch, +d
            li t0, 1 << 13          // FS = Initial: the first FP instruction makes it Dirty
            csrs mstatus, t0
            li t0, 0x3ff0000000000000
            fmv.d.x f1, t0          // 1.0
            fmv.d.x f2, zero        // +0
            fdiv.d f3, f1, f2       // DZ
            li t0, 3
            fcvt.d.l f4, t0
            fdiv.d f5, f1, f4       // NX
            fmadd.d f6, f5, f4, f1
            fsqrt.d f7, f1
            fsub.d f8, f3, f3       // inf - inf: NV, canonical NaN
            flt.d a0, f8, f1        // NaN compare: NV
            fle.d a1, f1, f4
            feq.d a2, f1, f1
            csrr a3, fflags
            wfi
            """)
        XCTAssertEqual(jit.x(Reg.a3), 0x19, "NV, DZ and NX")
        XCTAssertEqual(withUnsafeBytes(of: jit.s.f) { $0.load(fromByteOffset: 8 * 8, as: UInt64.self) }, 0x7FF8_0000_0000_0000)
        XCTAssertEqual([jit.x(Reg.a0), jit.x(Reg.a1), jit.x(Reg.a2)], [0, 1, 1])
    }

    func testRemappedPageIsSeenAfterSfenceVMAThoughItsOldTranslationWasEvictedFromTheFirstLevel() throws {
        // S-mode under Sv39: a load through the window fills the TLB (and the JIT's second level),
        // a load that aliases its first-level slot evicts it, the PTE is changed and SFENCE.VMA
        // run in S-mode (no context change), and the window must now show the other page.
        let (_, jit) = try runBoth("""
            pmp_allow_all
            la t0, root
            li t1, (0x80000000 >> 2) | 0xcf     // gigapage 2: RAM 1:1, V R W X A D
            sd t1, 16(t0)
            la t1, level1
            srli t1, t1, 2
            ori t1, t1, 1
            sd t1, 8(t0)                        // 0x40000000 -> level1
            la t0, level1
            la t1, level0
            srli t1, t1, 2
            ori t1, t1, 1
            sd t1, 0(t0)
            la t0, level0
            la t1, page_a
            srli t1, t1, 2
            ori t1, t1, 0xc7                    // V R W A D
            sd t1, 0(t0)
            la t0, root
            srli t0, t0, 12
            li t1, 8 << 60
            or t0, t0, t1
            csrw satp, t0
            sfence.vma
            enter_mode 1, smode
            smode:
            li s0, 0x40000000
            ld a0, 0(s0)
            li t0, 0x80100000                   // same first-level TLB slot as 0x40000000
            ld t1, 0(t0)
            la t2, level0
            la t3, page_b
            srli t3, t3, 2
            ori t3, t3, 0xc7
            sd t3, 0(t2)
            sfence.vma
            ld a1, 0(s0)
            wfi
            .balign 4096
            root: .fill 512, 8, 0
            level1: .fill 512, 8, 0
            level0: .fill 512, 8, 0
            page_a: .fill 512, 8, 0x1111
            page_b: .fill 512, 8, 0x2222
            """)
        XCTAssertEqual([jit.x(Reg.a0), jit.x(Reg.a1)], [0x1111, 0x2222])
    }

    func testJumpsBetweenPagesAndReturnsFollowTheJumpCache() throws {
        try runBoth("""
            li s0, 50
            loop:
            call far
            addi s0, s0, -1
            bnez s0, loop
            wfi
            .balign 4096
            far:
            addi a0, a0, 3
            ret
            """)
    }

    func testBlockRunsAcrossAPageEndThroughA32BitInstructionSplitInTwo() throws {
        // `body` starts 6 bytes before a page end; its second instruction (4 bytes) has its low
        // half in one page and its high half in the next. The JIT translates the whole body as
        // one block (the interpreter ends its blocks at the page end and fetches that one
        // instruction uncached); both must agree on every iteration.
        let (_, jit) = try runBoth("""
            li s0, 300
            loop:
            call body
            addi s0, s0, -1
            bnez s0, loop
            wfi
            .balign 4096
            .fill 4090, 1, 0
            .option norvc
            body:
            addi a0, a0, 3          // page end - 6
            addi a1, a1, 5          // page end - 2: split across the boundary
            add a2, a2, a0
            xor a3, a3, a2
            ret
            """)
        XCTAssertEqual(jit.x(Reg.a0), 900)
        XCTAssertEqual(jit.x(Reg.a1), 1500)
    }

    func testWriteToTheSecondPageOfABlockAcrossAPageEndIsSeen() throws {
        // The block at `body` runs on into the next page; the loop rewrites the instruction in
        // that next page (no FENCE.I needed here: the bus reports the code write), so the block
        // must be dropped although the store hit the other page.
        let (_, jit) = try runBoth("""
            li s0, 4
            la t0, patched
            li t1, 0x00150513       // addi a0, a0, 1
            again:
            call body
            sw t1, 0(t0)
            fence.i
            addi s0, s0, -1
            bnez s0, again
            wfi
            .balign 4096
            .fill 4088, 1, 0
            .option norvc
            body:
            addi a1, a1, 1          // page end - 8
            addi a2, a2, 1
            patched:
            addi a0, a0, 16         // first in the next page
            ret
            """)
        XCTAssertEqual(jit.x(Reg.a0), 16 + 3)
    }

    func testChainedJumpAcrossPagesFollowsARemapAfterSfenceVMA() throws {
        // S-mode code at 0x40000000 (page A) calls 0x40001000 (page B) in a loop, so the call
        // and the return are chained across the page boundary. Page B is then remapped to
        // another physical page with different code, and SFENCE.VMA issued: the chained call
        // must now reach the new code.
        let (_, jit) = try runBoth("""
            pmp_allow_all
            la t0, root
            li t1, (0x80000000 >> 2) | 0xcf     // gigapage 2: RAM 1:1, V R W X A D
            sd t1, 16(t0)
            la t1, level1
            srli t1, t1, 2
            ori t1, t1, 1
            sd t1, 8(t0)                        // 0x40000000 -> level1
            la t0, level1
            la t1, level0
            srli t1, t1, 2
            ori t1, t1, 1
            sd t1, 0(t0)
            la t0, level0
            la t1, code_a
            srli t1, t1, 2
            ori t1, t1, 0xcb                    // V R X A D
            sd t1, 0(t0)
            la t1, code_b1
            srli t1, t1, 2
            ori t1, t1, 0xcb
            sd t1, 8(t0)
            la t0, root
            srli t0, t0, 12
            li t1, 8 << 60
            or t0, t0, t1
            csrw satp, t0
            sfence.vma
            la s2, level0
            addi s2, s2, 8                      // page B's PTE (physical = virtual in gigapage 2)
            la s3, code_b2
            srli s3, s3, 2
            ori s3, s3, 0xcb                    // its new value: page B -> code_b2
            li a0, 0
            li s0, 0x40000000
            enter_mode 1, smode
            smode:
            jr s0                               // to code_a through the mapping
            .balign 4096
            code_a:                             // at 0x40000000
            li s1, 100
            1: jal ra, code_a + 4096            // page B: a direct call across the boundary
            addi s1, s1, -1
            bnez s1, 1b
            sd s3, 0(s2)
            sfence.vma
            li s1, 100
            2: jal ra, code_a + 4096
            addi s1, s1, -1
            bnez s1, 2b
            wfi
            .balign 4096
            code_b1: addi a0, a0, 1
            ret
            .balign 4096
            code_b2: addi a0, a0, 1000
            ret
            .balign 4096
            root: .fill 512, 8, 0
            level1: .fill 512, 8, 0
            level0: .fill 512, 8, 0
            """)
        XCTAssertEqual(jit.x(Reg.a0), 100 + 100 * 1000)
    }

    func testFusedMultiplyAddWithAReservedFormatIsIllegalAndLeavesFcsrAlone() throws {
        // fmt 2 (H) and 3 (Q) of FMADD/FMSUB/FNMSUB/FNMADD are not implemented: illegal
        // instruction under both engines, with fcsr and the destination untouched.
        for opcode: UInt32 in [0x43, 0x47, 0x4B, 0x4F] {
            for fmt: UInt32 in [2, 3] {
                let raw = 3 << 27 | fmt << 25 | 2 << 20 | 1 << 15 | 0 << 12 | 4 << 7 | opcode
                let (_, jit) = try runBoth("""
                    .option arch, +d
                    la t0, handler
                    csrw mtvec, t0
                    li t0, 1 << 13
                    csrs mstatus, t0                    // FS = Initial: the first FP write makes it Dirty
                    li t0, 0x3ff0000000000000
                    fmv.d.x f1, t0
                    fmv.d.x f2, t0
                    fmv.d.x f3, t0
                    fmv.d.x f4, zero
                    csrwi fflags, 0
                    fault: .word \(raw)
                    li a0, 1                            // must not run
                    .balign 4
                    handler:
                    csrr a1, fcsr
                    fmv.x.d a2, f4
                    wfi
                    """)
                XCTAssertEqual(jit.s.mcause, 2, "opcode 0x\(String(opcode, radix: 16)) fmt \(fmt)")
                XCTAssertEqual(jit.s.mtval, UInt64(raw))
                XCTAssertEqual([jit.x(Reg.a0), jit.x(Reg.a1), jit.x(Reg.a2)], [0, 0, 0])
            }
        }
    }
}
#endif

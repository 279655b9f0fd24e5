import XCTest
@testable import CPU

final class IntegerInstructionTests: XCTestCase {
    func testArithmeticAndLogicImmediates() throws {
        let m = try TestMachine("""
            li a0, -5
            addi a1, a0, 7
            slti a2, a0, 0
            sltiu a3, a0, 1
            xori a4, a0, 0xff
            ori a5, zero, 0x555
            andi a6, a0, 0x0f0
            wfi
            """)
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a1), 2)
        XCTAssertEqual(m.x(Reg.a2), 1)
        XCTAssertEqual(m.x(Reg.a3), 0)
        XCTAssertEqual(m.x(Reg.a4), UInt64(bitPattern: -5) ^ 0xFF)
        XCTAssertEqual(m.x(Reg.a5), 0x555)
        XCTAssertEqual(m.x(Reg.a6), 0xF0)
    }

    func testShiftsIncludingWordForms() throws {
        let m = try TestMachine("""
            li a0, 0x8000000000000001
            slli a1, a0, 63
            srli a2, a0, 63
            srai a3, a0, 62
            li t0, 0x80000000
            slliw a4, t0, 1
            srliw a5, t0, 31
            sraiw a6, t0, 31
            li t1, 33
            sllw a7, t0, t1
            sraw s2, t0, t1
            sra s3, a0, t1
            wfi
            """)
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a1), 1 << 63)
        XCTAssertEqual(m.x(Reg.a2), 1)
        XCTAssertEqual(m.x(Reg.a3), ~0 << 1)
        XCTAssertEqual(m.x(Reg.a4), 0)
        XCTAssertEqual(m.x(Reg.a5), 1)
        XCTAssertEqual(m.x(Reg.a6), ~0)
        XCTAssertEqual(m.x(Reg.a7), 0, "sllw uses only the low 5 bits of rs2: shift by 1 of 0x80000000 is 0")
        XCTAssertEqual(m.x(Reg.s2), 0xFFFF_FFFF_C000_0000)
        XCTAssertEqual(m.x(Reg.s3), 0xFFFF_FFFF_C000_0000)
    }

    func testRegisterArithmeticAndWordOverflow() throws {
        let m = try TestMachine("""
            li a0, 0x7fffffff
            li a1, 1
            addw a2, a0, a1
            add a3, a0, a1
            subw a4, zero, a1
            sub a5, a1, a0
            slt a6, a5, zero
            sltu a7, zero, a5
            addiw s2, a0, 1
            lui s3, 0xfffff
            1: auipc s4, 0
            la s5, 1b
            wfi
            """)
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a2), 0xFFFF_FFFF_8000_0000)
        XCTAssertEqual(m.x(Reg.a3), 0x8000_0000)
        XCTAssertEqual(m.x(Reg.a4), ~0)
        XCTAssertEqual(m.x(Reg.a5), UInt64(bitPattern: 1 - 0x7fff_ffff))
        XCTAssertEqual(m.x(Reg.a6), 1)
        XCTAssertEqual(m.x(Reg.a7), 1)
        XCTAssertEqual(m.x(Reg.s2), 0xFFFF_FFFF_8000_0000)
        XCTAssertEqual(m.x(Reg.s3), 0xFFFF_FFFF_FFFF_F000)
        XCTAssertEqual(m.x(Reg.s4), m.x(Reg.s5), "auipc with 0 yields its own address")
        XCTAssertEqual(m.x(Reg.s4), ramBase + 11 * 4)
    }

    func testWritesToX0AreDiscarded() throws {
        let m = try TestMachine("""
            addi zero, zero, 5
            lui zero, 1
            jal zero, 1f
            1: add a0, zero, zero
            wfi
            """)
        m.runToWFI()
        XCTAssertEqual(m.x(0), 0)
        XCTAssertEqual(m.x(Reg.a0), 0)
    }

    func testMultiplyDivideIncludingCornerCases() throws {
        let m = try TestMachine("""
            li a0, -3
            li a1, 5
            mul s2, a0, a1
            mulh s3, a0, a1
            mulhu s4, a0, a1
            mulhsu s5, a0, a1
            li t0, 0x8000000000000000
            li t1, -1
            div s6, t0, t1
            rem s7, t0, t1
            div s8, a1, zero
            divu s9, a1, zero
            rem s10, a1, zero
            remu s11, a0, zero
            li t2, 0x80000000
            divw t3, t2, t1
            remw t4, t2, t1
            divuw t5, a0, a1
            remuw a2, a0, a1
            mulw a3, t2, a1
            div a4, a0, a1
            rem a5, a0, a1
            wfi
            """)
        m.runToWFI()
        XCTAssertEqual(m.x(18), UInt64(bitPattern: -15))
        XCTAssertEqual(m.x(19), ~0, "high half of -15 is all ones")
        XCTAssertEqual(m.x(20), 4, "(2^64-3)*5 >> 64 = 4")
        XCTAssertEqual(m.x(21), ~0, "signed -3 times unsigned 5, high half")
        XCTAssertEqual(m.x(22), 1 << 63, "overflow: quotient is the dividend")
        XCTAssertEqual(m.x(23), 0)
        XCTAssertEqual(m.x(24), ~0)
        XCTAssertEqual(m.x(25), ~0)
        XCTAssertEqual(m.x(26), 5)
        XCTAssertEqual(m.x(27), UInt64(bitPattern: -3))
        XCTAssertEqual(m.x(Reg.t3), 0xFFFF_FFFF_8000_0000)
        XCTAssertEqual(m.x(Reg.t4), 0)
        XCTAssertEqual(m.x(Reg.t5), UInt64(0xFFFF_FFFD / 5))
        XCTAssertEqual(m.x(Reg.a2), UInt64(0xFFFF_FFFD % 5))
        XCTAssertEqual(m.x(Reg.a3), 0xFFFF_FFFF_8000_0000, "0x80000000*5 = 0x280000000, low word sign-extended")
        XCTAssertEqual(m.x(Reg.a4), 0, "-3/5 truncates toward zero")
        XCTAssertEqual(m.x(Reg.a5), UInt64(bitPattern: -3))
    }

    func testBranchesAndJumpsWithLinks() throws {
        let m = try TestMachine("""
            li a0, -1
            li a1, 1
            li s2, 0
            beq a0, a1, 1f
            addi s2, s2, 1
            1: bne a0, a1, 2f
            addi s2, s2, 100
            2: blt a0, a1, 3f
            addi s2, s2, 100
            3: bge a0, a1, 4f
            addi s2, s2, 2
            4: bltu a0, a1, 5f
            addi s2, s2, 4
            5: bgeu a0, a1, 6f
            addi s2, s2, 100
            6: jal ra, 7f
            addi s2, s2, 8
            wfi
            7: la t0, 8f
            jalr t1, 1(t0)
            8: addi s2, s2, 16
            jr ra
            """)
        m.runToWFI()
        // jalr clears bit 0 of the target: 8f+1 lands on 8f.
        XCTAssertEqual(m.x(18), 1 + 2 + 4 + 16 + 8)
        XCTAssertEqual(m.x(Reg.ra), ramBase + 4 * 15 + 4)
    }

    func testLoadsSignAndZeroExtend() throws {
        let m = try TestMachine("""
            la t0, data
            lb a0, 0(t0)
            lbu a1, 0(t0)
            lh a2, 0(t0)
            lhu a3, 0(t0)
            lw a4, 0(t0)
            lwu a5, 0(t0)
            ld a6, 0(t0)
            li t1, 0x1122334455667788
            sd t1, 8(t0)
            sw t1, 16(t0)
            sh t1, 20(t0)
            sb t1, 22(t0)
            ld a7, 8(t0)
            ld s2, 16(t0)
            wfi
            .align 3
            data: .dword 0x80706050f0e0d0c0, 0, 0
            """)
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a0), 0xFFFF_FFFF_FFFF_FFC0)
        XCTAssertEqual(m.x(Reg.a1), 0xC0)
        XCTAssertEqual(m.x(Reg.a2), 0xFFFF_FFFF_FFFF_D0C0)
        XCTAssertEqual(m.x(Reg.a3), 0xD0C0)
        XCTAssertEqual(m.x(Reg.a4), 0xFFFF_FFFF_F0E0_D0C0)
        XCTAssertEqual(m.x(Reg.a5), 0xF0E0_D0C0)
        XCTAssertEqual(m.x(Reg.a6), 0x8070_6050_F0E0_D0C0)
        XCTAssertEqual(m.x(Reg.a7), 0x1122_3344_5566_7788)
        XCTAssertEqual(m.x(18), 0x0088_7788_5566_7788, "sw, then sh and sb overwrite parts of the upper word")
    }

    func testBudgetStopsAfterExactInstructionCount() throws {
        let m = try TestMachine("""
            1: addi a0, a0, 1
            j 1b
            """)
        XCTAssertEqual(m.hart.run(budget: 7), .budgetExhausted)
        XCTAssertEqual(m.s.instret, 7)
        XCTAssertEqual(m.x(Reg.a0), 4)
    }

    func testExitRequestStopsRunAndIsCleared() throws {
        let m = try TestMachine("1: j 1b")
        m.hart.state.pointee.exitRequest = 1
        XCTAssertEqual(m.hart.run(budget: 100), .exitRequested)
        XCTAssertEqual(m.s.exitRequest, 0)
        XCTAssertEqual(m.hart.run(budget: 100), .budgetExhausted)
    }

    func testResetZeroesRegistersExceptArguments() throws {
        let m = try TestMachine("li a2, 7\nwfi")
        m.runToWFI()
        m.hart.reset(pc: 0x8000_1000, a0: 3, a1: 0x8200_0000)
        XCTAssertEqual(m.x(Reg.a2), 0)
        XCTAssertEqual(m.x(Reg.a0), 3)
        XCTAssertEqual(m.x(Reg.a1), 0x8200_0000)
        XCTAssertEqual(m.pc, 0x8000_1000)
        XCTAssertEqual(m.s.privilege, 3)
    }
}

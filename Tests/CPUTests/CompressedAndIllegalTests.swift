import XCTest
@testable import CPU

final class CompressedAndIllegalTests: XCTestCase {
    func testCompressedProgramComputesLikeItsExpansion() throws {
        let m = try TestMachine("""
            c.li a0, -3
            c.addi a0, 10
            c.lui a1, 0x1f
            c.mv a2, a0
            c.add a2, a0
            c.slli a2, 4
            c.srli a1, 12
            c.srai a0, 1
            c.andi a1, 0xf
            c.addiw a2, 1
            addi sp, zero, 0
            la sp, stack
            c.addi16sp sp, 64
            c.addi4spn a3, sp, 8
            c.sdsp a2, 8(sp)
            c.ldsp a4, 8(sp)
            c.swsp a0, 16(sp)
            c.lwsp a5, 16(sp)
            mv s0, a3
            c.sd a2, 0(s0)
            c.ld s1, 0(s0)
            mv s2, s1
            c.sw a0, 8(s0)
            c.lw a5, 8(s0)
            mv a6, a5
            li a5, 5
            c.sub a5, a0
            mv a7, a5
            li s1, 0
            li t0, 0
            c.beqz s1, 1f
            c.li t0, 9
            1: c.bnez a5, 2f
            c.li t0, 9
            2: c.j 3f
            c.li t0, 9
            3: la t1, 4f
            c.jalr t1
            c.addi t0, 1
            wfi
            4: c.jr ra
            .align 4
            stack: .space 256
            """, compressed: true)
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a0), 3)
        XCTAssertEqual(m.x(Reg.a1), 0xF)
        XCTAssertEqual(m.x(Reg.a2), 7 * 2 * 16 + 1)
        XCTAssertEqual(m.x(Reg.a4), 225)
        XCTAssertEqual(m.x(18), 225)
        XCTAssertEqual(m.x(Reg.a6), 3)
        XCTAssertEqual(m.x(Reg.a7), 2)
        XCTAssertEqual(m.x(Reg.t0), 1)
        XCTAssertEqual(m.x(Reg.a3), m.x(Reg.sp) + 8)
    }

    func testCompressedInstructionsAreTwoBytesLong() {
        XCTAssertEqual(decodeCompressed(0x4501).length, 2) // c.li a0, 0
        XCTAssertEqual(decodeCompressed(0x4501).op, .addi)
    }

    func testReservedCompressedEncodingsAreIllegal() {
        XCTAssertEqual(decodeCompressed(0x0000).op, .illegal, "all-zero instruction")
        XCTAssertEqual(decodeCompressed(0x0004).op, .illegal, "C.ADDI4SPN with immediate 0")
        XCTAssertEqual(decodeCompressed(0x6081).op, .illegal, "C.LUI x1 with immediate 0")
        XCTAssertEqual(decodeCompressed(0x6101).op, .illegal, "C.ADDI16SP with immediate 0")
        XCTAssertEqual(decodeCompressed(0x2001).op, .illegal, "C.ADDIW with rd=0")
        XCTAssertEqual(decodeCompressed(0x4002).op, .illegal, "C.LWSP with rd=0")
        XCTAssertEqual(decodeCompressed(0x6002).op, .illegal, "C.LDSP with rd=0")
        XCTAssertEqual(decodeCompressed(0x8002).op, .illegal, "C.JR with rs1=0")
        XCTAssertEqual(decodeCompressed(0x9C41).op, .illegal, "reserved C.SUBW/C.ADDW slot (funct2=10)")
        XCTAssertEqual(decodeCompressed(0x8000).op, .illegal, "quadrant 0 funct3=100 is reserved")
    }

    func testCompressedFloatingPointLoadsAndStoresExpandToTheir32BitForm() {
        // c.fld fa0, 8(a1) = 0x2588 → fld fa0, 8(a1) = 0x0085B507
        let fld = decodeCompressed(0x2588)
        XCTAssertEqual(fld.op, .floatingPoint)
        XCTAssertEqual(fld.raw, 0x0085_B507)
        XCTAssertEqual(fld.length, 2)
        // c.fsdsp fs0, 24(sp) = 0xAC22 → fsd fs0, 24(sp) = 0x00813C27
        XCTAssertEqual(decodeCompressed(0xAC22).raw, 0x0081_3C27)
        // c.fldsp ft1, 16(sp) = 0x20C2 → fld ft1, 16(sp) = 0x01013087
        XCTAssertEqual(decodeCompressed(0x20C2).raw, 0x0101_3087)
        // c.fsd fa5, 0(a4) = 0xA31C → fsd fa5, 0(a4) = 0x00F73027
        XCTAssertEqual(decodeCompressed(0xA31C).raw, 0x00F7_3027)
    }

    func testAllZeroInstructionTrapsAsIllegalWithZeroTval() throws {
        let m = try TestMachine("""
            la t0, handler
            csrw mtvec, t0
            .word 0
            handler: wfi
            """)
        m.runToWFI()
        XCTAssertEqual(m.s.mcause, 2)
        XCTAssertEqual(m.s.mtval, 0)
        XCTAssertEqual(m.s.mepc, ramBase + 12)
    }

    func testAllOnesInstructionTrapsAsIllegalWithItsBitsInTval() throws {
        let m = try TestMachine("""
            la t0, handler
            csrw mtvec, t0
            .word 0xffffffff
            handler: wfi
            """)
        m.runToWFI()
        XCTAssertEqual(m.s.mcause, 2)
        XCTAssertEqual(m.s.mtval, 0xFFFF_FFFF)
    }

    func testIllegal32BitEncodingsTrap() {
        XCTAssertEqual(decode32(0x0000_2067).op, .illegal, "JALR with funct3=2")
        XCTAssertEqual(decode32(0x0000_2063).op, .illegal, "branch funct3=2")
        XCTAssertEqual(decode32(0x0000_7003).op, .illegal, "load funct3=7")
        XCTAssertEqual(decode32(0x4000_1013).op, .illegal, "SLLI with funct6=0x10")
        XCTAssertEqual(decode32(0x0200_0033 | 0x4000_0000).op, .illegal, "OP with funct7=0x21")
        XCTAssertEqual(decode32(0x0000_4073).op, .illegal, "SYSTEM funct3=4")
        XCTAssertEqual(decode32(0x0020_0073).op, .illegal, "SYSTEM funct3=0 with unknown funct12")
        XCTAssertEqual(decode32(0x0000_302F | 0x5 << 27).op, .illegal, "AMO with funct5=00101")
        XCTAssertEqual(decode32(0x1010_202F).op, .illegal, "LR.W with rs2 != 0")
        XCTAssertEqual(decode32(0x1200_0073).op, .sfenceVMA)
    }

    func testInstructionStraddlingAPageBoundaryExecutes() throws {
        // A 32-bit addi at 0x80000ffe: its halves lie in two pages.
        let m = try TestMachine("""
            j 1f
            .space 0xffe - 4
            1: addi a0, zero, 42
            wfi
            """, compressed: false)
        // `j` is 4 bytes, so pad so that the addi starts at 0xffe.
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a0), 42)
    }
}

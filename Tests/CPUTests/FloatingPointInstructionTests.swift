import CHartState
import IRQ
import Memory
import XCTest

@testable import CPU

// `Hart.executeFloatingPoint` on encoded instructions: decoding, NaN-boxing, rounding-mode
// legality, mstatus.FS and fflags. Expected values were checked against qemu-riscv64.

// Instruction formats (unprivileged spec §2.2, §11.6).
private func rType(_ funct7: UInt32, rs2: UInt32, rs1: UInt32, rm: UInt32, rd: UInt32) -> UInt32 {
    funct7 << 25 | rs2 << 20 | rs1 << 15 | rm << 12 | rd << 7 | 0x53
}
private func r4Type(_ opcode: UInt32, fmt: UInt32, rs3: UInt32, rs2: UInt32, rs1: UInt32, rm: UInt32, rd: UInt32) -> UInt32 {
    rs3 << 27 | fmt << 25 | rs2 << 20 | rs1 << 15 | rm << 12 | rd << 7 | opcode
}
private func loadFP(width: UInt32, rd: UInt32, rs1: UInt32, offset: Int32) -> UInt32 {
    UInt32(bitPattern: offset << 20) | rs1 << 15 | width << 12 | rd << 7 | 0x07
}
private func storeFP(width: UInt32, rs2: UInt32, rs1: UInt32, offset: Int32) -> UInt32 {
    let imm = UInt32(bitPattern: offset) & 0xfff
    return (imm >> 5) << 25 | rs2 << 20 | rs1 << 15 | width << 12 | (imm & 31) << 7 | 0x27
}

private let fsMask: UInt64 = 3 << 13
private let fsInitial: UInt64 = 1 << 13
private let boxedOne: UInt64 = 0xffff_ffff_3f80_0000

final class FloatingPointInstructionTests: XCTestCase {
    private let ramBase: UInt64 = 0x8000_0000
    private var bus: AddressSpace!
    private var hart: Hart!

    override func setUpWithError() throws {
        bus = AddressSpace()
        try bus.mapRAM(name: "ram", base: ramBase, size: 0x1_0000)
        hart = Hart(hartID: 0, bus: bus, timebase: Timebase())
        hart.state.pointee.privilege = UInt64(BP_PRIV_M)
        hart.state.pointee.satp = 0
        hart.state.pointee.mstatus = fsInitial
        hart.state.pointee.frm = 0
        hart.state.pointee.fflags = 0
    }

    override func tearDown() {
        hart = nil
        bus = nil
    }

    private func f(_ index: Int) -> UInt64 {
        withUnsafeMutablePointer(to: &hart.state.pointee.f) { UnsafeMutableRawPointer($0).assumingMemoryBound(to: UInt64.self)[index] }
    }
    private func setF(_ index: Int, _ value: UInt64) {
        withUnsafeMutablePointer(to: &hart.state.pointee.f) { UnsafeMutableRawPointer($0).assumingMemoryBound(to: UInt64.self)[index] = value }
    }
    private func x(_ index: Int) -> UInt64 {
        withUnsafeMutablePointer(to: &hart.state.pointee.x) { UnsafeMutableRawPointer($0).assumingMemoryBound(to: UInt64.self)[index] }
    }
    private func setX(_ index: Int, _ value: UInt64) {
        withUnsafeMutablePointer(to: &hart.state.pointee.x) { UnsafeMutableRawPointer($0).assumingMemoryBound(to: UInt64.self)[index] = value }
    }

    private func assertIllegal(_ instruction: UInt32, file: StaticString = #filePath, line: UInt = #line) {
        do {
            try hart.executeFloatingPoint(instruction)
            XCTFail("0x\(String(instruction, radix: 16)) executed", file: file, line: line)
        } catch {
            XCTAssertEqual(error, Trap.illegalInstruction(instruction), file: file, line: line)
        }
    }

    // MARK: Encodings

    func testEncodingHelpersMatchTheAssembler() {
        // riscv64-unknown-elf-as output for the instructions in the comments.
        XCTAssertEqual(rType(0x00, rs2: 3, rs1: 2, rm: 0, rd: 1), 0x0031_00d3)                        // fadd.s f1,f2,f3,rne
        XCTAssertEqual(r4Type(0x43, fmt: 0, rs3: 3, rs2: 2, rs1: 1, rm: 0, rd: 4), 0x1820_8243)        // fmadd.s f4,f1,f2,f3,rne
        XCTAssertEqual(r4Type(0x4f, fmt: 1, rs3: 3, rs2: 2, rs1: 1, rm: 0, rd: 4), 0x1a20_824f)        // fnmadd.d f4,f1,f2,f3,rne
        XCTAssertEqual(loadFP(width: 2, rd: 5, rs1: 10, offset: -8), 0xff85_2287)                      // flw f5,-8(a0)
        XCTAssertEqual(storeFP(width: 3, rs2: 6, rs1: 11, offset: 2040), 0x7e65_bc27)                   // fsd f6,2040(a1)
        XCTAssertEqual(rType(0x60, rs2: 0, rs1: 1, rm: 4, rd: 12), 0xc000_c653)                        // fcvt.w.s a2,f1,rmm
    }

    // MARK: Legality

    func testEveryFloatingPointInstructionIsIllegalWhenFSIsOff() {
        hart.state.pointee.mstatus = 0
        assertIllegal(rType(0x00, rs2: 3, rs1: 2, rm: 0, rd: 1))   // fadd.s
        assertIllegal(loadFP(width: 2, rd: 5, rs1: 0, offset: 0))   // flw
        assertIllegal(rType(0x70, rs2: 0, rs1: 1, rm: 0, rd: 13))  // fmv.x.w
        XCTAssertEqual(hart.state.pointee.mstatus, 0)
    }

    func testReservedStaticRoundingModesAreIllegal() {
        assertIllegal(rType(0x00, rs2: 3, rs1: 2, rm: 5, rd: 1))
        assertIllegal(rType(0x01, rs2: 3, rs1: 2, rm: 6, rd: 1))
    }

    func testDynamicRoundingModeWithReservedFrmIsIllegal() {
        hart.state.pointee.frm = 5
        assertIllegal(rType(0x00, rs2: 3, rs1: 2, rm: 7, rd: 1))
        assertIllegal(r4Type(0x43, fmt: 1, rs3: 3, rs2: 2, rs1: 1, rm: 7, rd: 4))
    }

    func testExactConversionStillRejectsReservedRoundingMode() {
        assertIllegal(rType(0x21, rs2: 0, rs1: 2, rm: 5, rd: 1))   // fcvt.d.s
    }

    func testHalfAndQuadFormatsAreIllegal() {
        assertIllegal(rType(0x02, rs2: 3, rs1: 2, rm: 0, rd: 1))   // fadd.h
        assertIllegal(rType(0x03, rs2: 3, rs1: 2, rm: 0, rd: 1))   // fadd.q
        assertIllegal(loadFP(width: 4, rd: 5, rs1: 0, offset: 0))   // flq
    }

    // MARK: mstatus.FS and fflags

    func testWritingAnFRegisterSetsFSDirtyAndSD() throws {
        try hart.executeFloatingPoint(rType(0x78, rs2: 0, rs1: 0, rm: 0, rd: 1))   // fmv.w.x f1, x0
        XCTAssertEqual(hart.state.pointee.mstatus & fsMask, fsMask)
        // SD as software reads mstatus (derived from FS; the stored field never holds it).
        XCTAssertEqual(hart.mstatusValue >> 63, 1)
        XCTAssertEqual(hart.state.pointee.mstatus >> 63, 0)
    }

    func testComparisonWithoutFlagsLeavesFSUnchanged() throws {
        setF(1, boxedOne)
        try hart.executeFloatingPoint(rType(0x50, rs2: 1, rs1: 1, rm: 2, rd: 5))   // feq.s x5, f1, f1
        XCTAssertEqual(x(5), 1)
        XCTAssertEqual(hart.state.pointee.mstatus, fsInitial)
    }

    func testFlagRaisedByComparisonIntoX0SetsFFlagsAndDirty() throws {
        setF(1, 0xffff_ffff_7f80_0001)   // signaling NaN
        try hart.executeFloatingPoint(rType(0x50, rs2: 1, rs1: 1, rm: 2, rd: 0))   // feq.s x0, f1, f1
        XCTAssertEqual(x(0), 0)
        XCTAssertEqual(hart.state.pointee.fflags, UInt32(BP_FFLAG_NV))
        XCTAssertEqual(hart.state.pointee.mstatus & fsMask, fsMask)
    }

    func testFlagsAccrue() throws {
        hart.state.pointee.fflags = UInt32(BP_FFLAG_NX)
        setF(1, boxedOne)
        setF(2, 0xffff_ffff_0000_0000)   // +0.0
        try hart.executeFloatingPoint(rType(0x0c, rs2: 2, rs1: 1, rm: 0, rd: 3))   // fdiv.s f3, f1, f2
        XCTAssertEqual(f(3), 0xffff_ffff_7f80_0000)
        XCTAssertEqual(hart.state.pointee.fflags, UInt32(BP_FFLAG_NX | BP_FFLAG_DZ))
    }

    func testDynamicRoundingModeUsesFrm() throws {
        hart.state.pointee.frm = UInt32(BP_RM_RUP)
        setF(1, boxedOne)
        setF(2, 0xffff_ffff_3080_0000)   // 2^-30
        try hart.executeFloatingPoint(rType(0x00, rs2: 2, rs1: 1, rm: 7, rd: 3))   // fadd.s f3, f1, f2, dyn
        XCTAssertEqual(f(3), 0xffff_ffff_3f80_0001)
        XCTAssertEqual(hart.state.pointee.fflags, UInt32(BP_FFLAG_NX))
    }

    // MARK: NaN-boxing

    func testImproperlyBoxedOperandReadsAsCanonicalNaN() throws {
        setF(1, 0x1234_5678_3f80_0000)
        setF(2, boxedOne)
        try hart.executeFloatingPoint(rType(0x00, rs2: 2, rs1: 1, rm: 0, rd: 3))   // fadd.s f3, f1, f2
        XCTAssertEqual(f(3), 0xffff_ffff_7fc0_0000)
        XCTAssertEqual(hart.state.pointee.fflags, 0)
    }

    func testSignInjectionOfImproperlyBoxedOperandUsesCanonicalNaN() throws {
        setF(1, 0x1234_5678_3f80_0000)
        setF(2, boxedOne)
        try hart.executeFloatingPoint(rType(0x10, rs2: 1, rs1: 1, rm: 1, rd: 3))   // fsgnjn.s f3, f1, f1
        XCTAssertEqual(f(3), 0xffff_ffff_ffc0_0000)
        try hart.executeFloatingPoint(rType(0x10, rs2: 1, rs1: 2, rm: 0, rd: 4))   // fsgnj.s f4, f2, f1
        XCTAssertEqual(f(4), boxedOne)
    }

    func testClassOfImproperlyBoxedOperandIsQuietNaN() throws {
        setF(1, 0x1234_5678_3f80_0000)
        try hart.executeFloatingPoint(rType(0x70, rs2: 0, rs1: 1, rm: 1, rd: 5))   // fclass.s x5, f1
        XCTAssertEqual(x(5), 1 << 9)
    }

    func testMoveToIntegerSignExtendsTheLowWordBoxedOrNot() throws {
        setF(1, 0x1234_5678_8000_0000)
        try hart.executeFloatingPoint(rType(0x70, rs2: 0, rs1: 1, rm: 0, rd: 5))   // fmv.x.w x5, f1
        XCTAssertEqual(x(5), 0xffff_ffff_8000_0000)
    }

    func testMoveFromIntegerBoxes() throws {
        setX(5, 0xdead_beef_3f80_0000)
        try hart.executeFloatingPoint(rType(0x78, rs2: 0, rs1: 5, rm: 0, rd: 1))   // fmv.w.x f1, x5
        XCTAssertEqual(f(1), boxedOne)
        try hart.executeFloatingPoint(rType(0x79, rs2: 0, rs1: 5, rm: 0, rd: 2))   // fmv.d.x f2, x5
        XCTAssertEqual(f(2), 0xdead_beef_3f80_0000)
    }

    func testNarrowingResultIsBoxed() throws {
        setF(1, 0x3ff0_0000_1000_0000)   // 1 + 2^-24
        try hart.executeFloatingPoint(rType(0x20, rs2: 1, rs1: 1, rm: 4, rd: 2))   // fcvt.s.d f2, f1, rmm
        XCTAssertEqual(f(2), 0xffff_ffff_3f80_0001)
        XCTAssertEqual(hart.state.pointee.fflags, UInt32(BP_FFLAG_NX))
    }

    // MARK: Conversions and fused operations

    func testConvertToWordWithRMMRoundsTiesAwayAndSignExtends() throws {
        setF(1, 0xffff_ffff_4020_0000)   // 2.5
        try hart.executeFloatingPoint(rType(0x60, rs2: 0, rs1: 1, rm: 4, rd: 12))   // fcvt.w.s a2, f1, rmm
        XCTAssertEqual(x(12), 3)
        setF(1, 0xffff_ffff_c020_0000)   // -2.5
        try hart.executeFloatingPoint(rType(0x60, rs2: 0, rs1: 1, rm: 4, rd: 12))
        XCTAssertEqual(x(12), 0xffff_ffff_ffff_fffd)
        XCTAssertEqual(hart.state.pointee.fflags, UInt32(BP_FFLAG_NX))
    }

    func testConvertUnsignedLongToDoubleReadsTheWholeRegister() throws {
        setX(5, 0x20_0000_0000_0001)   // 2^53 + 1
        try hart.executeFloatingPoint(rType(0x69, rs2: 3, rs1: 5, rm: 4, rd: 1))   // fcvt.d.lu f1, x5, rmm
        XCTAssertEqual(f(1), 0x4340_0000_0000_0001)
    }

    func testFusedMultiplyAddVariantsNegateProductAndAddend() throws {
        setF(1, 0x4000_0000_0000_0000)   // 2
        setF(2, 0x4008_0000_0000_0000)   // 3
        setF(3, 0x3ff0_0000_0000_0000)   // 1
        let expected: [(UInt32, UInt64)] = [
            (0x43, 0x401c_0000_0000_0000),   // fmadd.d:  2×3+1 = 7
            (0x47, 0x4014_0000_0000_0000),   // fmsub.d:  2×3-1 = 5
            (0x4b, 0xc014_0000_0000_0000),   // fnmsub.d: -(2×3)+1 = -5
            (0x4f, 0xc01c_0000_0000_0000),   // fnmadd.d: -(2×3)-1 = -7
        ]
        for (opcode, result) in expected {
            try hart.executeFloatingPoint(r4Type(opcode, fmt: 1, rs3: 3, rs2: 2, rs1: 1, rm: 0, rd: 4))
            XCTAssertEqual(f(4), result, "opcode 0x\(String(opcode, radix: 16))")
        }
    }

    func testSingleFusedMultiplyAddRoundsOnce() throws {
        setF(1, 0xffff_ffff_3f80_0800)   // 1 + 2^-12
        setF(2, 0xffff_ffff_bf80_1000)   // -(1 + 2^-11)
        try hart.executeFloatingPoint(r4Type(0x43, fmt: 0, rs3: 2, rs2: 1, rs1: 1, rm: 0, rd: 3))   // fmadd.s f3, f1, f1, f2
        XCTAssertEqual(f(3), 0xffff_ffff_3380_0000)   // 2^-24
    }

    // MARK: Loads and stores

    func testLoadWordBoxesAndStoreWordWritesOnlyTheLowWord() throws {
        bus.write(ramBase, size: 8, value: 0x1111_1111_3f80_0000)
        setX(10, ramBase + 8)
        try hart.executeFloatingPoint(loadFP(width: 2, rd: 5, rs1: 10, offset: -8))   // flw f5, -8(a0)
        XCTAssertEqual(f(5), boxedOne)
        XCTAssertEqual(hart.state.pointee.mstatus & fsMask, fsMask)

        setF(6, 0x1234_5678_8000_0000)   // not boxed: FSW still stores the low 32 bits
        try hart.executeFloatingPoint(storeFP(width: 2, rs2: 6, rs1: 10, offset: -8))  // fsw f6, -8(a0)
        XCTAssertEqual(bus.read(ramBase, size: 8), 0x1111_1111_8000_0000)
    }

    func testDoubleStoreAndLoadRoundTrip() throws {
        setX(11, ramBase)
        setF(6, 0x7ff4_0000_0000_0001)   // a signaling NaN moves unchanged
        try hart.executeFloatingPoint(storeFP(width: 3, rs2: 6, rs1: 11, offset: 2040))   // fsd f6, 2040(a1)
        XCTAssertEqual(bus.read(ramBase + 2040, size: 8), 0x7ff4_0000_0000_0001)
        try hart.executeFloatingPoint(loadFP(width: 3, rd: 7, rs1: 11, offset: 2040))     // fld f7, 2040(a1)
        XCTAssertEqual(f(7), 0x7ff4_0000_0000_0001)
        XCTAssertEqual(hart.state.pointee.fflags, 0)
    }

    func testLoadFromUnmappedAddressFaultsAndLeavesTheRegister() {
        setX(10, 0x1000)
        setF(5, 0x1234)
        let instruction = loadFP(width: 3, rd: 5, rs1: 10, offset: 0)
        XCTAssertThrowsError(try hart.executeFloatingPoint(instruction)) {
            XCTAssertEqual($0 as? Trap, Trap.loadAccessFault(0x1000))
        }
        XCTAssertEqual(f(5), 0x1234)
    }
}

#if arch(x86_64)
import XCTest
@testable import CPU

/// The x86-64 emitter checked against Capstone: each case emits one instruction, which must
/// disassemble to exactly the expected Intel-syntax text and consume every emitted byte.
final class JITAssemblerTests: XCTestCase {
    private var buffer: UnsafeMutablePointer<UInt8>!

    override func setUpWithError() throws {
        guard HostDisassembler.shared != nil else { throw XCTSkip("libcapstone (Debian libcapstone4) is not installed") }
        buffer = .allocate(capacity: 256)
    }

    override func tearDown() { buffer?.deallocate() }

    /// Emits with `body` at a fixed fake address and returns Capstone's text for the bytes.
    private func disassemble(_ body: (X86Assembler) -> Void, file: StaticString = #filePath, line: UInt = #line) -> String {
        let assembler = X86Assembler(base: buffer, capacity: 256)
        body(assembler)
        XCTAssertFalse(assembler.overflowed, file: file, line: line)
        let lines = HostDisassembler.shared!.disassemble(buffer, count: assembler.position, address: UInt64(UInt(bitPattern: buffer)))
        let consumed = lines.reduce(0) { $0 + $1.size }
        XCTAssertEqual(consumed, assembler.position, "undecodable trailing bytes", file: file, line: line)
        return lines.map(\.text).joined(separator: "; ")
    }

    private func check(_ expected: String, file: StaticString = #filePath, line: UInt = #line, _ body: (X86Assembler) -> Void) {
        XCTAssertEqual(disassemble(body, file: file, line: line), expected, file: file, line: line)
    }

    func testRegisterMovesAcrossAllRegisterBanks() {
        check("mov rax, rbx") { $0.mov(.rax, .rbx) }
        check("mov r12, rdi") { $0.mov(.r12, .rdi) }
        check("mov rsi, r15") { $0.mov(.rsi, .r15) }
        check("mov r9d, r10d") { $0.mov(.r9, .r10, width: .bits32) }
    }

    func testLoadsWithEveryAddressingShape() {
        check("mov rax, qword ptr [rbx + 0x28]") { $0.load(.rax, X86Memory(.rbx, 0x28)) }
        check("mov rax, qword ptr [rbx + 0x388]") { $0.load(.rax, X86Memory(.rbx, 0x388)) }
        check("mov rcx, qword ptr [rbx - 8]") { $0.load(.rcx, X86Memory(.rbx, -8)) }
        check("mov rdx, qword ptr [rsp]") { $0.load(.rdx, X86Memory(.rsp)) }
        check("mov rdx, qword ptr [r12 + 0x10]") { $0.load(.rdx, X86Memory(.r12, 0x10)) }
        check("mov r8, qword ptr [rbp]") { $0.load(.r8, X86Memory(.rbp)) }
        check("mov r8, qword ptr [r13]") { $0.load(.r8, X86Memory(.r13)) }
        check("mov rsi, qword ptr [rbx + rdx + 0xc00]") { $0.load(.rsi, X86Memory(.rbx, 0xC00, index: .rdx)) }
        check("mov rsi, qword ptr [r12 + r9*8 + 8]") { $0.load(.rsi, X86Memory(.r12, 8, index: .r9, scale: 8)) }
        check("mov eax, dword ptr [rsi]") { $0.load(.rax, X86Memory(.rsi), width: .bits32) }
    }

    func testStoresOfEachWidth() {
        check("mov qword ptr [rbx + 0x28], rax") { $0.store(X86Memory(.rbx, 0x28), .rax) }
        check("mov dword ptr [rsi], edx") { $0.store(X86Memory(.rsi), .rdx, width: .bits32) }
        check("mov word ptr [rsi], dx") { $0.store(X86Memory(.rsi), .rdx, width: .bits16) }
        check("mov byte ptr [rsi], dl") { $0.store(X86Memory(.rsi), .rdx, width: .bits8) }
        check("mov byte ptr [rax], sil") { $0.store(X86Memory(.rax), .rsi, width: .bits8) }
        check("mov byte ptr [r11], r10b") { $0.store(X86Memory(.r11), .r10, width: .bits8) }
        check("mov qword ptr [rbx + 0x40], -0x800") { $0.store(X86Memory(.rbx, 0x40), immediate: -2048) }
    }

    func testConstantsUseTheShortestEncoding() {
        check("xor eax, eax") { $0.mov(.rax, immediate: 0) }
        check("mov ecx, 0x80000000") { $0.mov(.rcx, immediate: 0x8000_0000) }
        check("mov r9d, 1") { $0.mov(.r9, immediate: 1) }
        check("mov rdx, -1") { $0.mov(.rdx, immediate: ~0) }
        check("movabs r14, 0x123456789a") { $0.mov(.r14, immediate: 0x12_3456_789A) }
    }

    func testExtendingLoads() {
        check("movzx eax, byte ptr [rsi]") { $0.movzx(.rax, .memory(X86Memory(.rsi)), from: .bits8) }
        check("movzx eax, word ptr [rsi]") { $0.movzx(.rax, .memory(X86Memory(.rsi)), from: .bits16) }
        check("movsx rax, byte ptr [rsi]") { $0.movsx(.rax, .memory(X86Memory(.rsi)), from: .bits8) }
        check("movsx r8, word ptr [rsi + 2]") { $0.movsx(.r8, .memory(X86Memory(.rsi, 2)), from: .bits16) }
        check("movsxd rax, dword ptr [rsi]") { $0.movsx(.rax, .memory(X86Memory(.rsi)), from: .bits32) }
        check("movsxd rax, eax") { $0.movsx(.rax, .register(.rax), from: .bits32) }
        check("movzx esi, dil") { $0.movzx(.rsi, .register(.rdi), from: .bits8) }
    }

    func testArithmeticForms() {
        check("add rax, qword ptr [rbx + 0x30]") { $0.alu(.add, .rax, X86Memory(.rbx, 0x30)) }
        check("sub rcx, rdx") { $0.alu(.sub, .rcx, .rdx) }
        check("xor r13d, r13d") { $0.alu(.xor, .r13, .r13, width: .bits32) }
        check("and rax, 0xfffffffffffffffe") { $0.alu(.and, .rax, immediate: -2) }
        check("or rax, 0x7ff") { $0.alu(.or, .rax, immediate: 0x7FF) }
        check("cmp rcx, qword ptr [rbx + rdx + 0x400]") { $0.alu(.cmp, .rcx, X86Memory(.rbx, 0x400, index: .rdx)) }
        check("add qword ptr [rbx + 0x220], 3") { $0.alu(.add, .memory(X86Memory(.rbx, 0x220)), immediate: 3) }
        check("sub qword ptr [rbx + 0x3a0], 0x40") { $0.alu(.sub, .memory(X86Memory(.rbx, 0x3A0)), immediate: 64) }
        check("cmp qword ptr [rbx + 0x388], 0") { $0.alu(.cmp, .memory(X86Memory(.rbx, 0x388)), immediate: 0) }
        check("add eax, 0x12345") { $0.alu(.add, .rax, immediate: 0x12345, width: .bits32) }
        check("add qword ptr [rsi], r8") { $0.alu(.add, X86Memory(.rsi), .r8) }
        check("test rdx, rdx") { $0.test(.rdx, .rdx) }
        check("lea rsi, [rsi - 0x800]") { $0.lea(.rsi, X86Memory(.rsi, -0x800)) }
    }

    func testShiftsMultipliesAndDivides() {
        check("shl rax, 0x3f") { $0.shift(.shl, .rax, immediate: 63) }
        check("shr ecx, 8") { $0.shift(.shr, .rcx, immediate: 8, width: .bits32) }
        check("sar r10, 1") { $0.shift(.sar, .r10, immediate: 1) }
        check("sar eax, cl") { $0.shiftByCL(.sar, .rax, width: .bits32) }
        check("shl rax, cl") { $0.shiftByCL(.shl, .rax) }
        check("imul rax, rcx") { $0.imul(.rax, .register(.rcx)) }
        check("imul eax, dword ptr [rbx + 8]") { $0.imul(.rax, .memory(X86Memory(.rbx, 8)), width: .bits32) }
        check("mul rcx") { $0.group3(.mul, .register(.rcx)) }
        check("imul qword ptr [rbx + 0x10]") { $0.group3(.imul, .memory(X86Memory(.rbx, 0x10))) }
        check("idiv ecx") { $0.group3(.idiv, .register(.rcx), width: .bits32) }
        check("div r11") { $0.group3(.div, .register(.r11)) }
        check("neg rax") { $0.group3(.neg, .register(.rax)) }
        check("not ecx") { $0.group3(.not, .register(.rcx), width: .bits32) }
        check("bsr rcx, rcx") { $0.bsr(.rcx, .register(.rcx)) }
        check("bsr r9d, dword ptr [rbx + 8]") { $0.bsr(.r9, .memory(X86Memory(.rbx, 8)), width: .bits32) }
        check("cqo") { $0.signExtendAccumulator() }
        check("cdq") { $0.signExtendAccumulator(width: .bits32) }
    }

    func testSetccAndStackAndCalls() {
        check("setl al") { $0.set(.less, .rax) }
        check("setb sil") { $0.set(.below, .rsi) }
        check("setne r9b") { $0.set(.notEqual, .r9) }
        check("cmovne r13, rdx") { $0.cmov(.notEqual, .r13, .register(.rdx)) }
        check("cmovge r8, rax") { $0.cmov(.greaterOrEqual, .r8, .register(.rax)) }
        check("cmovb rbp, qword ptr [rbx + 0x40]") { $0.cmov(.below, .rbp, .memory(X86Memory(.rbx, 0x40))) }
        check("push r12; pop rbx; ret") { $0.push(.r12); $0.pop(.rbx); $0.ret() }
        check("call rax") { $0.call(.rax) }
        check("call r11") { $0.call(.r11) }
        check("jmp rsi") { $0.jump(.register(.rsi)) }
        check("jmp qword ptr [r12 + rdx + 0x10]") { $0.jump(.memory(X86Memory(.r12, 16, index: .rdx))) }
    }

    func testScalarSSEAndFMA() {
        check("addsd xmm0, xmm1") { $0.sse(.add, double: true, 0, .register(.rcx)) }
        check("divss xmm2, dword ptr [rbx + 0x110]") { $0.sse(.div, double: false, 2, .memory(X86Memory(.rbx, 0x110))) }
        check("sqrtsd xmm0, xmm0") { $0.sse(.sqrt, double: true, 0, .register(.rax)) }
        check("movsd xmm1, qword ptr [rbx + 0x108]") { $0.sseLoad(double: true, 1, X86Memory(.rbx, 0x108)) }
        check("movss dword ptr [rsi], xmm0") { $0.sseStore(double: false, X86Memory(.rsi), 0) }
        check("ucomisd xmm0, xmm0") { $0.sseCompare(double: true, signaling: false, 0, .register(.rax)) }
        check("comiss xmm1, xmm0") { $0.sseCompare(double: false, signaling: true, 1, .register(.rax)) }
        check("movq rax, xmm0") { $0.movq(.rax, xmm: 0) }
        check("movq xmm1, r13") { $0.movq(xmm: 1, .r13) }
        check("vfmadd231sd xmm0, xmm1, xmm2") { $0.fma231(.fmadd, double: true, 0, 1, 2) }
        check("vfnmsub231ss xmm2, xmm0, xmm1") { $0.fma231(.fnmsub, double: false, 2, 0, 1) }
        check("vfmsub231sd xmm0, xmm1, xmm2") { $0.fma231(.fmsub, double: true, 0, 1, 2) }
        check("vfnmadd231sd xmm0, xmm1, xmm2") { $0.fma231(.fnmadd, double: true, 0, 1, 2) }
        check("stmxcsr dword ptr [rsp]") { $0.storeMXCSR(X86Memory(.rsp)) }
        check("ldmxcsr dword ptr [rsp + 4]") { $0.loadMXCSR(X86Memory(.rsp, 4)) }
        check("test al, 0x3d") { $0.testByte(.rax, immediate: 0x3D) }
    }

    func testLabelsResolveForwardAndBackwardJumps() {
        let base = UInt(bitPattern: buffer)
        let text = disassemble { a in
            let top = a.newLabel(), bottom = a.newLabel()
            a.bind(top)
            a.jump(if: .notEqual, bottom) // 6 bytes at +0
            a.jump(top)                   // 5 bytes at +6
            a.bind(bottom)                // +11
            a.ret()
        }
        XCTAssertEqual(text, "jne 0x\(String(base + 11, radix: 16)); jmp 0x\(String(base, radix: 16)); ret")
    }

    func testAbsoluteJumpsAndPatchedChains() {
        let base = UInt(bitPattern: buffer)
        let text = disassemble { a in
            a.jump(toAddress: base + 100)
            a.jump(if: .less, toAddress: base + 200)
        }
        XCTAssertEqual(text, "jmp 0x\(String(base + 100, radix: 16)); jl 0x\(String(base + 200, radix: 16))")
        X86Assembler.patchRel32(field: buffer + 1, target: base + 40)
        let patched = HostDisassembler.shared!.disassemble(buffer, count: 5, address: UInt64(base))
        XCTAssertEqual(patched.map(\.text), ["jmp 0x\(String(base + 40, radix: 16))"])
    }

    func testEmittingPastTheEndOverflowsWithoutWriting() {
        let assembler = X86Assembler(base: buffer, capacity: 4)
        buffer[4] = 0xAA
        assembler.mov(.r14, immediate: 0x12_3456_789A) // 10 bytes
        XCTAssertTrue(assembler.overflowed)
        XCTAssertEqual(assembler.position, 4)
        XCTAssertEqual(buffer[4], 0xAA)
    }
}
#endif

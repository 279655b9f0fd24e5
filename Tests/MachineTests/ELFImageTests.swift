import XCTest
import Machine

/// The loader's view of ELF files: segments at physical addresses, the entry, symbols, and a
/// one-line error naming the file for anything it cannot run.
final class ELFImageTests: XCTestCase {
    /// A minimal RV64 executable: one PT_LOAD segment and a symbol table with `tohost`.
    private func makeELF(machine: UInt16 = 243, elfClass: UInt8 = 2, segmentPaddr: UInt64 = 0x8000_0000,
                         payload: [UInt8] = [0x13, 0, 0, 0], memorySize: UInt64 = 16) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 0x200)
        func put16(_ at: Int, _ v: UInt16) { for i in 0..<2 { bytes[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt16(i))) } }
        func put32(_ at: Int, _ v: UInt32) { for i in 0..<4 { bytes[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(i))) } }
        func put64(_ at: Int, _ v: UInt64) { for i in 0..<8 { bytes[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) } }
        bytes[0...3] = [0x7f, 0x45, 0x4c, 0x46]
        bytes[4] = elfClass; bytes[5] = 1; bytes[6] = 1
        put16(16, 2); put16(18, machine); put32(20, 1)
        put64(24, segmentPaddr + 4)          // e_entry
        put64(32, 0x40)                      // e_phoff
        put64(40, 0x100)                     // e_shoff
        put16(52, 64); put16(54, 56); put16(56, 1); put16(58, 64); put16(60, 3)
        // Program header: PT_LOAD, file offset 0x180.
        put32(0x40, 1); put64(0x48, 0x180); put64(0x50, segmentPaddr); put64(0x58, segmentPaddr)
        put64(0x60, UInt64(payload.count)); put64(0x68, memorySize)
        bytes.replaceSubrange(0x180..<(0x180 + payload.count), with: payload)
        // Section 1: SHT_SYMTAB at 0x1a0 (two entries), linked to section 2: SHT_STRTAB at 0x1e0.
        put32(0x140 + 4, 2); put64(0x140 + 24, 0x1a0); put64(0x140 + 32, 48); put32(0x140 + 40, 2)
        put32(0x180 + 4, 3); put64(0x180 + 24, 0x1e0); put64(0x180 + 32, 8)
        put32(0x1a0 + 24, 1); put64(0x1a0 + 24 + 8, 0x8000_1000)   // symbol "tohost"
        bytes.replaceSubrange(0x1e0..<0x1e8, with: Array("\0tohost\0".utf8))
        return bytes
    }

    func testSegmentsEntryAndSymbolsAreRead() throws {
        let elf = try ELFImage(bytes: makeELF(), path: "prog.elf")
        XCTAssertEqual(elf.entry, 0x8000_0004)
        XCTAssertEqual(elf.segments, [ELFImage.Segment(address: 0x8000_0000, data: [0x13, 0, 0, 0], memorySize: 16)])
        XCTAssertEqual(elf.symbols["tohost"], 0x8000_1000)
    }

    func testWrongMachineIsNamed() {
        XCTAssertThrowsError(try ELFImage(bytes: makeELF(machine: 62), path: "x86.elf")) {
            XCTAssertEqual("\($0)", "x86.elf: ELF for the wrong machine (e_machine 62, expected 243 RISC-V)")
        }
    }

    func testThirtyTwoBitELFIsRefused() {
        XCTAssertThrowsError(try ELFImage(bytes: makeELF(elfClass: 1), path: "rv32.elf")) {
            XCTAssertEqual("\($0)", "rv32.elf: not a 64-bit ELF (class 1); Backplane runs RV64 guests")
        }
    }

    func testSegmentPastTheEndOfTheFileIsRefused() {
        var bytes = makeELF()
        bytes[0x60] = 0xff; bytes[0x61] = 0xff   // p_filesz far beyond the file
        bytes[0x68] = 0xff; bytes[0x69] = 0xff
        XCTAssertThrowsError(try ELFImage(bytes: bytes, path: "cut.elf")) {
            XCTAssertEqual("\($0)", "cut.elf: segment 0 lies outside the file")
        }
    }

    func testTruncatedHeaderIsRefused() {
        XCTAssertThrowsError(try ELFImage(bytes: Array(makeELF()[0..<20]), path: "short.elf")) {
            XCTAssertEqual("\($0)", "short.elf: truncated ELF header")
        }
    }
}

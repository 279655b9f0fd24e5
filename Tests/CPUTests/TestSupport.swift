import CHartState
import Foundation
import IRQ
import Memory
import XCTest
@testable import CPU

/// Base of the test RAM, where programs are loaded and started.
let ramBase: UInt64 = 0x8000_0000
/// 2 MiB of RAM.
let ramSize: UInt64 = 0x20_0000

/// Assembly macros every test program may use.
private let prelude = """
    .macro pmp_allow_all        // one NAPOT entry covering everything, RWX (S/U need a PMP match)
      li t6, -1
      csrw pmpaddr0, t6
      li t6, 0x1f
      csrw pmpcfg0, t6
    .endm
    .macro enter_mode mode, label   // mret into \\mode (0 U, 1 S) at \\label
      li t6, 3 << 11
      csrc mstatus, t6
      li t6, \\mode << 11
      csrs mstatus, t6
      la t6, \\label
      csrw mepc, t6
      mret
    .endm
    .globl _start
    .text
    _start:

    """

/// Assembles `source` with Debian's riscv64-unknown-elf toolchain, linked at `base`, and
/// returns the flat binary.
func assemble(_ source: String, base: UInt64 = ramBase, compressed: Bool = false,
              file: StaticString = #filePath, line: UInt = #line) throws -> [UInt8] {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("cpu-tests-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let sourceURL = directory.appendingPathComponent("program.S")
    let elfURL = directory.appendingPathComponent("program.elf")
    let binaryURL = directory.appendingPathComponent("program.bin")
    try (prelude + source + "\n").write(to: sourceURL, atomically: true, encoding: .utf8)
    let march = compressed ? "rv64imac_zicsr_zifencei" : "rv64ima_zicsr_zifencei"
    try runTool("/usr/bin/riscv64-unknown-elf-gcc",
                ["-nostdlib", "-nostartfiles", "-Wl,-Ttext=0x\(String(base, radix: 16))", "-Wl,--no-relax",
                 "-Wl,--build-id=none", "-march=\(march)", "-mabi=lp64", sourceURL.path, "-o", elfURL.path])
    try runTool("/usr/bin/riscv64-unknown-elf-objcopy", ["-O", "binary", elfURL.path, binaryURL.path])
    return [UInt8](try Data(contentsOf: binaryURL))
}

struct ToolFailure: Error, CustomStringConvertible {
    let description: String
}

private func runTool(_ path: String, _ arguments: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let errors = Pipe()
    process.standardError = errors
    try process.run()
    let output = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw ToolFailure(description: "\(path) failed: \(String(decoding: output, as: UTF8.self))")
    }
}

/// A hart on a bus with RAM at `ramBase`, for running small programs.
final class TestMachine {
    let bus = AddressSpace()
    let hart: Hart

    init(timebase: Timebase = Timebase()) {
        try! bus.mapRAM(name: "ram", base: ramBase, size: ramSize)
        hart = Hart(hartID: 0, bus: bus, timebase: timebase)
    }

    /// Assembles and loads `source` at `ramBase` and resets the hart there.
    convenience init(_ source: String, compressed: Bool = false, timebase: Timebase = Timebase()) throws {
        self.init(timebase: timebase)
        try load(assemble(source, compressed: compressed), at: ramBase)
        hart.reset(pc: ramBase, a0: 0, a1: 0)
    }

    func load(_ bytes: [UInt8], at address: UInt64) {
        for (offset, byte) in bytes.enumerated() {
            bus.write(address + UInt64(offset), size: 1, value: UInt64(byte))
        }
    }

    /// Runs until the program executes WFI with nothing pending (how test programs end).
    @discardableResult
    func runToWFI(budget: Int = 100_000, file: StaticString = #filePath, line: UInt = #line) -> HartStop {
        let stop = hart.run(budget: budget)
        XCTAssertEqual(stop, .waitingForInterrupt, "program did not reach WFI; pc=0x\(String(pc, radix: 16))",
                       file: file, line: line)
        return stop
    }

    func x(_ index: Int) -> UInt64 { hart.registers[index] }
    var pc: UInt64 { hart.state.pointee.pc }
    var s: HartState { hart.state.pointee }

    func read64(_ address: UInt64) -> UInt64 { bus.read(address, size: 8)! }
    func write64(_ address: UInt64, _ value: UInt64) { bus.write(address, size: 8, value: value) }
}

/// ABI register numbers used in assertions.
enum Reg {
    static let ra = 1, sp = 2, t0 = 5, t1 = 6, t2 = 7, s0 = 8, s1 = 9
    static let a0 = 10, a1 = 11, a2 = 12, a3 = 13, a4 = 14, a5 = 15, a6 = 16, a7 = 17
    static let s2 = 18, s3 = 19, s4 = 20, s5 = 21, t3 = 28, t4 = 29, t5 = 30, t6 = 31
}

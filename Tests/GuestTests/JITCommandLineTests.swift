import Foundation
import XCTest

/// The JIT's command-line surface: `--accel`, `--trace in_asm,out_asm`, `--perf-map`.
final class JITCommandLineTests: XCTestCase {
    private var binary: String!
    private var elf: String!

    override func setUpWithError() throws {
        guard case .backplane(let path) = GuestHarness.emulator, GuestHarness.command(board: "virt") != nil else {
            throw XCTSkip("command-line tests run Backplane itself, not QEMU")
        }
        binary = path
        if let error = GuestHarness.build("isa") { throw XCTSkip("ISA guests did not build: \(error)") }
        elf = GuestHarness.buildDirectory.appendingPathComponent("isa/rv64i_alu.elf").path
    }

    func testUnknownAcceleratorIsOneLineNamingTheChoices() throws {
        let run = try GuestHarness.run([binary, "run", "spike", "--accel", "tcg", "--kernel", elf], timeout: 30)
        XCTAssertEqual(run.status, 2)
        XCTAssertEqual(run.output, "backplane: error: --accel: 'tcg' is not one of interp, jit\n")
    }

    func testUnknownTraceItemIsRefused() throws {
        let run = try GuestHarness.run([binary, "run", "spike", "--trace", "in_asm,op", "--kernel", elf], timeout: 30)
        XCTAssertEqual(run.status, 2)
        XCTAssertEqual(run.output, "backplane: error: --trace: 'op' is not one of mmio, pci, dma, irq, usb, plugin, all, in_asm, out_asm\n")
    }

    func testTracePrintsGuestBlocksAndTheirHostCode() throws {
        let run = try GuestHarness.run([binary, "run", "spike", "--accel", "jit", "--trace", "in_asm,out_asm",
                                        "--bios", "none", "--kernel", elf], timeout: 60)
        XCTAssertEqual(run.status, 0)
        // The first block starts at the ELF entry; its host code begins with the budget check
        // (`cmp r8, N`: r8 holds the budget, docs/jit.md).
        XCTAssertTrue(run.output.hasPrefix("IN: 0x80000000 ("), String(run.output.prefix(200)))
        XCTAssertTrue(run.output.contains("OUT: [size="), String(run.output.prefix(2000)))
        XCTAssertTrue(run.output.contains("OUT: [size=") && run.output.contains(":  cmp r8, "),
                      "no disassembled host code (is libcapstone4 installed?)")
    }

    func testPerfMapNamesEveryTranslatedBlock() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["run", "spike", "--accel", "jit", "--perf-map", "--bios", "none", "--kernel", elf]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        let map = "/tmp/perf-\(process.processIdentifier).map"
        defer { try? FileManager.default.removeItem(atPath: map) }
        XCTAssertEqual(process.terminationStatus, 0)
        let lines = try String(contentsOfFile: map, encoding: .utf8).split(separator: "\n")
        XCTAssertFalse(lines.isEmpty)
        // perf's format: START SIZE NAME, hex without 0x.
        let pattern = try NSRegularExpression(pattern: "^[0-9a-f]+ [0-9a-f]+ guest_0x[0-9a-f]+$")
        for line in lines {
            let text = String(line)
            XCTAssertNotNil(pattern.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)), text)
        }
        XCTAssertTrue(lines.contains { $0.hasSuffix(" guest_0x80000000") })
    }
}

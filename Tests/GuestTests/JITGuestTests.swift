import Foundation
import XCTest

/// The guest suites under both CPU engines. The other GuestTests run Backplane's default engine
/// (the JIT on x86-64 hosts); these name the engine explicitly, so the interpreter (the reference)
/// stays covered, and add the interpreter-vs-JIT differential test (`Guests/jitdiff`).
final class JITGuestTests: XCTestCase {
    private func backplane(file: StaticString = #filePath, line: UInt = #line) throws -> String {
        guard case .backplane(let path) = GuestHarness.emulator, GuestHarness.command(board: "virt", file: file, line: line) != nil else {
            throw XCTSkip("engine comparisons run Backplane itself, not QEMU")
        }
        return path
    }

    /// Every ISA program on `spike` with `--accel accel`; one failure message per failing program.
    private func runISASuite(accel: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let binary = try backplane(file: file, line: line)
        if let error = GuestHarness.build("isa") { return XCTFail(error, file: file, line: line) }
        for name in ISATests.programs {
            let elf = GuestHarness.buildDirectory.appendingPathComponent("isa/\(name).elf").path
            let run = try GuestHarness.run([binary, "run", "spike", "--accel", accel, "--bios", "none", "--kernel", elf],
                                           timeout: 60)
            XCTAssertEqual(run.status, 0, "\(name) under --accel \(accel): case \(run.status) failed\n\(run.output)",
                           file: file, line: line)
        }
    }

    func testISASuiteUnderTheInterpreter() throws { try runISASuite(accel: "interp") }

    func testISASuiteUnderTheJIT() throws { try runISASuite(accel: "jit") }

    func testInterpreterAndJITAgreeOnRandomProgramsWithTrapsSelfModifyingCodeAndRemapping() throws {
        let binary = try backplane()
        let root = GuestHarness.packageRoot
        let run = try GuestHarness.run(
            ["python3", root.appendingPathComponent("Guests/jitdiff/jitdiff.py").path, "--seeds", "1-20",
             "--out", GuestHarness.buildDirectory.appendingPathComponent("jitdiff").path,
             "--backplane", binary, "--jobs", "2"],
            timeout: 600)
        let seedLines = run.output.split(separator: "\n").filter { $0.hasPrefix("seed ") }
        for line in seedLines where !line.contains(": OK (") { XCTFail(String(line)) }
        XCTAssertEqual(seedLines.count, 20, "jitdiff.py did not report every seed:\n\(run.output)")
        XCTAssertEqual(run.status, 0, "jitdiff.py exited \(run.status):\n\(run.output)")
    }

    /// The same guest translates to the same host code on every run (addresses aside): the
    /// translator must not emit in a Set's or Dictionary's order, which Swift seeds per process.
    /// A jitdiff program: self-loops with lent registers, FP, helpers, switches.
    func testTranslationsAreTheSameOnEveryRun() throws {
        let binary = try backplane()
        let root = GuestHarness.packageRoot
        let out = GuestHarness.buildDirectory.appendingPathComponent("jitdiff-determinism")
        let build = try GuestHarness.run(
            ["python3", root.appendingPathComponent("Guests/jitdiff/jitdiff.py").path, "--seeds", "3",
             "--snapshots", "0", "--out", out.path, "--backplane", binary, "--jobs", "1"],
            timeout: 300)
        XCTAssertEqual(build.status, 0, "jitdiff.py seed 3:\n\(build.output)")
        let elf = out.appendingPathComponent("jit3.elf").path
        var translations: [String] = []
        for _ in 0..<3 {
            let run = try GuestHarness.run([binary, "run", "virt", "--bios", "none", "--accel", "jit", "--kernel", elf,
                                            "--serial", "none", "--trace", "out_asm"], timeout: 120)
            XCTAssertEqual(run.status, 0, "run under --trace out_asm exited \(run.status)")
            // Only the trace is output (no console). Host addresses (code buffer, helpers) and
            // guest addresses both go: only the code stays.
            let code = run.output.replacingOccurrences(of: "0x[0-9a-f]{6,}", with: "", options: .regularExpression)
            XCTAssertTrue(code.contains("OUT: [size="), "no translations traced:\n\(run.output.prefix(2000))")
            translations.append(code)
        }
        XCTAssertEqual(translations[0], translations[1], "two runs translated the same guest differently")
        XCTAssertEqual(translations[0], translations[2], "two runs translated the same guest differently")
    }

    func testRandomProgramsMatchQEMUUnderTheInterpreter() throws {
        let binary = try backplane()
        let root = GuestHarness.packageRoot
        let candidate = [binary, "run", "virt", "--accel", "interp", "--bios", "none", "--kernel"]
        let run = try GuestHarness.run(
            ["python3", root.appendingPathComponent("Guests/difftest/difftest.py").path, "--seeds", DifferentialTests.seeds,
             "--out", GuestHarness.buildDirectory.appendingPathComponent("difftest-interp").path, "--jobs", "2",
             "--candidate", candidate.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")],
            timeout: 600)
        let seedLines = run.output.split(separator: "\n").filter { $0.hasPrefix("seed ") }
        for line in seedLines where !line.contains(": OK (") { XCTFail(String(line)) }
        XCTAssertEqual(seedLines.count, 20, "difftest.py did not report every seed:\n\(run.output)")
        XCTAssertEqual(run.status, 0, "difftest.py exited \(run.status):\n\(run.output)")
    }

    /// OpenSBI + U-Boot to the prompt and a computed answer, on each engine.
    private func bootUBoot(accel: String, file: StaticString = #filePath, line: UInt = #line) throws {
        guard let uBoot = try UBootConsole.boot(board: "virt", arguments: ["--accel", accel, "--smp", "2"], file: file, line: line) else { return }
        let crc = uBoot.run("mw.b 0x84000000 0 0x1000; crc32 0x84000000 0x1000")
        XCTAssertTrue(crc.contains("==> c71c0011"), "crc32 under --accel \(accel):\n\(crc)", file: file, line: line)
        uBoot.powerOff(file: file, line: line)
    }

    func testOpenSBIAndUBootUnderTheInterpreter() throws { try bootUBoot(accel: "interp") }

    func testOpenSBIAndUBootUnderTheJIT() throws { try bootUBoot(accel: "jit") }
}

import Foundation
import XCTest

/// Random RV64GC programs (`Guests/difftest/gen.py`) run on QEMU and on the emulator under test;
/// every register, fcsr and a scratch-memory checksum must match at each checkpoint.
final class DifferentialTests: XCTestCase {
    /// Seeds 1...20, each tens of thousands of executed instructions.
    static let seeds = "1-20"

    func testRandomProgramsMatchQEMU() throws {
        guard let candidate = GuestHarness.command(board: "virt") else { return }
        let root = GuestHarness.packageRoot
        let out = GuestHarness.buildDirectory.appendingPathComponent("difftest").path
        let run = try GuestHarness.run(
            ["python3", root.appendingPathComponent("Guests/difftest/difftest.py").path,
             "--seeds", Self.seeds, "--out", out, "--jobs", "2",
             "--candidate", candidate.map(Self.shellQuoted).joined(separator: " ")],
            timeout: 600)
        let lines = run.output.split(separator: "\n")
        let seedLines = lines.filter { $0.hasPrefix("seed ") }
        for line in seedLines where !line.hasSuffix(")") || !line.contains(": OK (") {
            XCTFail("\(line)  [candidate: \(GuestHarness.emulator.name)]")
        }
        XCTAssertEqual(seedLines.count, 20, "difftest.py did not report every seed:\n\(run.output)")
        XCTAssertEqual(run.status, 0, "difftest.py exited \(run.status):\n\(run.output)")
    }

    private static func shellQuoted(_ word: String) -> String {
        "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

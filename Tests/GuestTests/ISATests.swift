import Foundation
import XCTest

/// Backplane's self-checking ISA tests (`Guests/isa/*.S`) on the `spike` board. Each guest exits
/// through HTIF with status 0 on success or the number of the first failing case.
final class ISATests: XCTestCase {
    /// Every test program in `Guests/isa`, one XCTest method each below.
    static let programs = [
        "rv64i_alu", "rv64i_branch", "rv64i_jump", "rv64i_mem", "rv64i_misaligned", "rv64m", "rv64a", "rvc", "zicsr",
        "csr_machine", "traps", "delegation", "vm_sv39", "vm_sv48", "vm_access", "pmp",
        "fp_single", "fp_double", "fp_convert", "timer",
    ]

    /// Builds (if needed) and runs one ISA program, failing with its failing case number.
    private func runProgram(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        if let error = GuestHarness.build("isa") {
            XCTFail(error, file: file, line: line)
            return
        }
        guard let command = GuestHarness.command(board: "spike", file: file, line: line) else { return }
        let elf = GuestHarness.buildDirectory.appendingPathComponent("isa/\(name).elf").path
        let run = try GuestHarness.run(command + [elf], timeout: 60)
        switch run.status {
        case 0:
            break
        case 124:
            XCTFail("\(name): timed out after 60 s on \(GuestHarness.emulator.name)\n\(run.output)",
                    file: file, line: line)
        default:
            XCTFail("\(name): case \(run.status) failed (Guests/isa/\(name).S, CASE(\(run.status))) on "
                    + "\(GuestHarness.emulator.name)\n\(run.output)", file: file, line: line)
        }
    }

    func testEveryProgramHasATest() throws {
        let dir = GuestHarness.packageRoot.appendingPathComponent("Guests/isa").path
        let sources = try FileManager.default.contentsOfDirectory(atPath: dir)
            .filter { $0.hasSuffix(".S") }.map { String($0.dropLast(2)) }.sorted()
        XCTAssertEqual(sources, Self.programs.sorted())
    }

    func testRV64IALU() throws { try runProgram("rv64i_alu") }
    func testRV64IBranch() throws { try runProgram("rv64i_branch") }
    func testRV64IJump() throws { try runProgram("rv64i_jump") }
    func testRV64IMemory() throws { try runProgram("rv64i_mem") }
    func testRV64IMisaligned() throws { try runProgram("rv64i_misaligned") }
    func testRV64M() throws { try runProgram("rv64m") }
    func testRV64A() throws { try runProgram("rv64a") }
    func testCompressed() throws { try runProgram("rvc") }
    func testZicsr() throws { try runProgram("zicsr") }
    func testMachineCSRs() throws { try runProgram("csr_machine") }
    func testTraps() throws { try runProgram("traps") }
    func testDelegation() throws { try runProgram("delegation") }
    func testSv39() throws { try runProgram("vm_sv39") }
    func testSv48() throws { try runProgram("vm_sv48") }
    func testPageAccessControl() throws { try runProgram("vm_access") }
    func testPMP() throws { try runProgram("pmp") }
    func testSinglePrecision() throws { try runProgram("fp_single") }
    func testDoublePrecision() throws { try runProgram("fp_double") }
    func testFloatConversions() throws { try runProgram("fp_convert") }
    func testTimerInterrupts() throws { try runProgram("timer") }
}

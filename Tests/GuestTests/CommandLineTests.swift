import Foundation
import XCTest

/// `backplane` as a user meets it: exit statuses carry the guest's verdict, and every bad file or
/// option is one line naming it, with status 2.
final class CommandLineTests: XCTestCase {
    private var binary: String!
    private var scratch: URL!

    override func setUpWithError() throws {
        guard case .backplane(let path) = GuestHarness.emulator, GuestHarness.command(board: "spike") != nil else {
            throw XCTSkip("command-line tests run Backplane itself, not QEMU")
        }
        binary = path
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("backplane-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let scratch { try? FileManager.default.removeItem(at: scratch) }
    }

    /// Builds Guests/exit/exit.S with `defines`; returns the ELF path.
    private func exitProgram(_ defines: [String], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let source = GuestHarness.packageRoot.appendingPathComponent("Guests/exit/exit.S").path
        let linkScript = GuestHarness.packageRoot.appendingPathComponent("Guests/isa/link.ld").path
        let elf = scratch.appendingPathComponent("exit-\(defines.joined(separator: "_")).elf").path
        let build = try GuestHarness.run(["riscv64-unknown-elf-gcc", "-march=rv64gc", "-mabi=lp64d", "-nostdlib",
                                          "-nostartfiles", "-static", "-Wl,--no-warn-rwx-segments", "-T", linkScript]
                                         + defines.map { "-D\($0)" } + [source, "-o", elf], timeout: 60)
        XCTAssertEqual(build.status, 0, "cannot build exit.S: \(build.output)", file: file, line: line)
        return elf
    }

    private func backplane(_ arguments: [String], timeout: TimeInterval = 30) throws -> GuestHarness.Run {
        try GuestHarness.run([binary] + arguments, timeout: timeout)
    }

    /// `--version` prints the release (the one snapshots record) and nothing else.
    func testVersionIsOneLine() throws {
        let run = try backplane(["--version"])
        XCTAssertEqual(run.status, 0)
        XCTAssertNotNil(run.output.range(of: #"^[0-9]+\.[0-9]+\.[0-9]+\n$"#, options: .regularExpression), run.output)
    }

    func testHTIFWriteOfOneExitsZero() throws {
        let elf = try exitProgram(["HTIF_VALUE=1"])
        XCTAssertEqual(try backplane(["run", "spike", "--kernel", elf]).status, 0)
    }

    func testHTIFOddValueExitsWithValueShiftedRight() throws {
        let elf = try exitProgram(["HTIF_VALUE=7"])
        XCTAssertEqual(try backplane(["run", "spike", "--kernel", elf]).status, 3)
    }

    func testHTIFConsoleWritesAreOutputNotExits() throws {
        let elf = try exitProgram(["CONSOLE_THEN_EXIT"])
        let run = try backplane(["run", "spike", "--kernel", elf])
        XCTAssertEqual(run.status, 0)
        XCTAssertEqual(run.output, "hi\n")
    }

    func testSifiveTestPassExitsZero() throws {
        let elf = try exitProgram(["TEST_VALUE=0x5555"])
        XCTAssertEqual(try backplane(["run", "virt", "--bios", "none", "--kernel", elf]).status, 0)
    }

    func testSifiveTestFailCarriesItsCode() throws {
        let elf = try exitProgram(["TEST_VALUE=0x2a3333"])
        XCTAssertEqual(try backplane(["run", "virt", "--bios", "none", "--kernel", elf]).status, 42)
    }

    func testTimeoutExits124() throws {
        let elf = try exitProgram([])
        let run = try backplane(["run", "spike", "--kernel", elf, "--timeout", "0.5"])
        XCTAssertEqual(run.status, 124)
        XCTAssertTrue(run.output.hasSuffix("backplane: timeout after 0.5 s\n"), run.output)
    }

    func testMissingKernelIsOneLineNamingTheFile() throws {
        let run = try backplane(["run", "spike", "--kernel", "/nonexistent/prog.elf"])
        XCTAssertEqual(run.status, 2)
        XCTAssertEqual(run.output, "backplane: error: /nonexistent/prog.elf: no such file\n")
    }

    func testELFForAnotherMachineIsRefused() throws {
        let run = try backplane(["run", "spike", "--kernel", "/bin/true"])
        XCTAssertEqual(run.status, 2)
        XCTAssertEqual(run.output, "backplane: error: /bin/true: ELF for the wrong machine (e_machine 62, expected 243 RISC-V)\n")
    }

    func testUnknownOptionExits2WithOneLine() throws {
        let run = try backplane(["run", "virt", "--frobnicate"])
        XCTAssertEqual(run.status, 2)
        XCTAssertEqual(run.output, "backplane: error: Unknown option '--frobnicate'\n")
    }

    /// `run` is parsed on its own at start-up (Run.parseDirectly); help, the version and
    /// completion scripts are still answered for the whole command.
    func testRunHelpShowsTheWholeCommand() throws {
        let run = try backplane(["run", "--help"])
        XCTAssertEqual(run.status, 0)
        XCTAssertTrue(run.output.contains("\nUSAGE: backplane run [<options>] [<board>]\n"), run.output)
    }

    func testVersionFlagAfterRunPrintsTheVersion() throws {
        let run = try backplane(["run", "spike", "--version"])
        XCTAssertEqual(run.status, 0)
        XCTAssertNotNil(run.output.range(of: #"^[0-9]+\.[0-9]+\.[0-9]+\n$"#, options: .regularExpression), run.output)
    }

    func testCompletionScriptAfterRunCoversEveryCommand() throws {
        let run = try backplane(["run", "--generate-completion-script", "bash"])
        XCTAssertEqual(run.status, 0)
        XCTAssertTrue(run.output.hasPrefix("#!/bin/bash\n"), run.output)
        XCTAssertTrue(run.output.contains("_backplane_check()"), run.output)
    }

    /// Without the word `run`, `run` is still the default command.
    func testBoardWithoutRunRunsIt() throws {
        let elf = try exitProgram(["HTIF_VALUE=7"])
        XCTAssertEqual(try backplane(["spike", "--kernel", elf]).status, 3)
    }

    func testBadMemorySizeIsNamed() throws {
        let run = try backplane(["run", "virt", "--memory", "lots"])
        XCTAssertEqual(run.status, 2)
        XCTAssertEqual(run.output, "backplane: error: --memory: 'lots' is not a size (e.g. 256M, 1G)\n")
    }

    func testUnknownBoardSuggestsTheNearestName() throws {
        let run = try backplane(["check", "vrit"])
        XCTAssertEqual(run.status, 2)
        XCTAssertEqual(run.output, "vrit.yaml: error: no bundled board named 'vrit'; did you mean 'virt'?\n")
    }

    func testCheckPrintsTheMemoryMapAndWiring() throws {
        let run = try backplane(["check", "virt", "--smp", "2"])
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("harts: 2 × rv64imafdc_zicsr_zifencei_zicntr_sstc, sv48, timebase 10000000 Hz"), run.output)
        XCTAssertTrue(run.output.contains("  [0x10000000,0x10000100)      uart0 (ns16550a)\n"), run.output)
        XCTAssertTrue(run.output.contains("  uart0 -> plic0@10\n"), run.output)
    }

    func testDTBOutputIsReadByDtcWithoutWarnings() throws {
        let blob = scratch.appendingPathComponent("virt.dtb").path
        XCTAssertEqual(try backplane(["dtb", "virt", "-o", blob, "--append", "console=ttyS0"]).status, 0)
        let dtc = try GuestHarness.run(["dtc", "-I", "dtb", "-O", "dts", blob], timeout: 30)
        XCTAssertEqual(dtc.status, 0)
        XCTAssertFalse(dtc.output.contains("Warning"), dtc.output)
        XCTAssertTrue(dtc.output.contains("bootargs = \"console=ttyS0\";"), dtc.output)
    }
}

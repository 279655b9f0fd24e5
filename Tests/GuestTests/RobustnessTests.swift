import Foundation
import XCTest

/// Issue 15: nothing a guest or a command line does can crash or hang the host. Each test drives
/// the release binary with an input that once crashed or hung it, and checks the host's answer:
/// the guest keeps running, or a one-line error with status 2, or `--timeout`'s 124.
final class RobustnessTests: XCTestCase {
    private var binary: String!
    private var scratch: URL!
    private static let lock = NSLock()

    override func setUpWithError() throws {
        guard case .backplane(let path) = GuestHarness.emulator, GuestHarness.command(board: "virt") != nil else {
            throw XCTSkip("robustness tests run Backplane itself, not QEMU")
        }
        binary = path
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("backplane-robust-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let scratch { try? FileManager.default.removeItem(at: scratch) }
    }

    private func backplane(_ arguments: [String], timeout: TimeInterval = 60) throws -> GuestHarness.Run {
        try GuestHarness.run([binary] + arguments, timeout: timeout)
    }

    /// Guests/robust/reentry.c built for `mode`.
    private func reentryGuest(_ mode: String) throws -> String {
        let root = GuestHarness.packageRoot
        let elf = scratch.appendingPathComponent("reentry-\(mode.lowercased()).elf").path
        let build = try GuestHarness.run(["riscv64-unknown-elf-gcc", "-march=rv64gc", "-mabi=lp64d", "-mcmodel=medany", "-O2",
                                          "-ffreestanding", "-fno-builtin", "-nostdlib", "-nostartfiles", "-static",
                                          "-Wl,--no-warn-rwx-segments", "-DMODE_\(mode)",
                                          "-T", root.appendingPathComponent("Guests/isa/link.ld").path,
                                          root.appendingPathComponent("Guests/plugins/start.S").path,
                                          root.appendingPathComponent("Guests/robust/reentry.c").path, "-o", elf], timeout: 120)
        XCTAssertEqual(build.status, 0, "riscv64-unknown-elf-gcc failed:\n\(build.output)")
        return elf
    }

    // MARK: Re-entrant device dispatch (MSI or DMA aimed at MMIO)

    private func runReentry(_ mode: String, accel: String) throws {
        let elf = try reentryGuest(mode)
        let run = try backplane(["run", "virt", "--bios", "none", "--serial", "stdio", "--accel", accel,
                                 "--device", "edu,at=pcie0/03.0", "--kernel", elf, "--timeout", "30"])
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.hasSuffix("PASS\n"), run.output)
    }

    func testEduMSIXAimedAtItsOwnRaiseRegisterUnderTheInterpreter() throws { try runReentry("MSIX_SELF", accel: "interp") }
    func testEduMSIXAimedAtItsOwnRaiseRegisterUnderTheJIT() throws { try runReentry("MSIX_SELF", accel: "jit") }
    func testEduDMACompletionRestartingItsOwnDMAUnderTheInterpreter() throws { try runReentry("DMA_SELF", accel: "interp") }
    func testEduDMACompletionRestartingItsOwnDMAUnderTheJIT() throws { try runReentry("DMA_SELF", accel: "jit") }

    // MARK: --timeout

    func testTimeoutThatIsNotFiniteIsRefusedWithStatus2() throws {
        for value in ["inf", "1e308", "1e19", "nan", "-1", "0"] {
            let run = try backplane(["run", "spike", "--kernel", "/nonexistent.elf", "--timeout=\(value)"])
            XCTAssertEqual(run.status, 2, "--timeout \(value): \(run.output)")
            XCTAssertTrue(run.output.hasPrefix("backplane: error: --timeout: "), run.output)
            XCTAssertTrue(run.output.hasSuffix("is not a number of seconds greater than 0 and at most 1000000000\n"), run.output)
            XCTAssertEqual(run.output.split(separator: "\n").count, 1, run.output)
        }
    }

    func testTimeoutEndsARunWhosePluginReadNeverReturns() throws {
        let library = scratch.appendingPathComponent("libstuck.so").path
        let root = GuestHarness.packageRoot
        let cc = try GuestHarness.run(["cc", "-std=c11", "-Wall", "-shared", "-fPIC", "-o", library,
                                       "-I", root.appendingPathComponent("Plugins/include").path,
                                       root.appendingPathComponent("Guests/robust/stuck_plugin.c").path], timeout: 120)
        XCTAssertEqual(cc.status, 0, cc.output)
        let elf = scratch.appendingPathComponent("mmio_read.elf").path
        let gcc = try GuestHarness.run(["riscv64-unknown-elf-gcc", "-march=rv64gc", "-mabi=lp64d", "-nostdlib", "-nostartfiles",
                                        "-static", "-Wl,--no-warn-rwx-segments", "-DADDRESS=0x10002000",
                                        "-T", root.appendingPathComponent("Guests/isa/link.ld").path,
                                        root.appendingPathComponent("Guests/robust/mmio_read.S").path, "-o", elf], timeout: 60)
        XCTAssertEqual(gcc.status, 0, gcc.output)

        let start = Date()
        let run = try backplane(["run", "virt", "--bios", "none", "--serial", "none", "--plugin", library,
                                 "--device", "stuck.dev,name=stuck0,reg=0x10002000:0x1000", "--kernel", elf, "--timeout", "1"],
                                timeout: 30)

        XCTAssertEqual(run.status, 124, run.output)
        XCTAssertTrue(run.output.contains("backplane: timeout after 1.0 s"), run.output)
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
    }

    func testTimeoutEndsARunWhoseSerialFIFOHasNoReader() throws {
        let fifo = scratch.appendingPathComponent("console.fifo").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let start = Date()
        let run = try backplane(["run", "virt", "--serial", "file:\(fifo)", "--timeout", "1"], timeout: 30)
        XCTAssertEqual(run.status, 124, run.output)
        XCTAssertTrue(run.output.contains("backplane: timeout after 1.0 s"), run.output)
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
    }

    // MARK: Output files: written in place, never replaced

    func testDTBToDevNullLeavesDevNullACharacterDevice() throws {
        let run = try backplane(["dtb", "virt", "-o", "/dev/null"])
        XCTAssertEqual(run.status, 0, run.output)
        var info = stat()
        XCTAssertEqual(lstat("/dev/null", &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFCHR, "/dev/null is no longer a character device")
        XCTAssertEqual(info.st_rdev, 0x103, "major 1, minor 3")
    }

    func testDTBThroughASymbolicLinkWritesTheTargetAndKeepsTheLink() throws {
        let target = scratch.appendingPathComponent("real.dtb").path
        let link = scratch.appendingPathComponent("link.dtb").path
        XCTAssertTrue(FileManager.default.createFile(atPath: target, contents: Data(repeating: 0xee, count: 100_000)))
        XCTAssertEqual(symlink(target, link), 0)

        let run = try backplane(["dtb", "virt", "-o", link])

        XCTAssertEqual(run.status, 0, run.output)
        var info = stat()
        XCTAssertEqual(lstat(link, &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFLNK, "the link was replaced")
        let written = try Data(contentsOf: URL(fileURLWithPath: target))
        XCTAssertEqual(Array(written.prefix(4)), [0xd0, 0x0d, 0xfe, 0xed], "FDT magic")
        XCTAssertLessThan(written.count, 100_000, "the old, longer contents were truncated")
    }

    func testDTBKeepsTheInodeOfAnExistingFile() throws {
        let path = scratch.appendingPathComponent("out.dtb").path
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data("old".utf8)))
        var before = stat(), after = stat()
        XCTAssertEqual(stat(path, &before), 0)

        XCTAssertEqual(try backplane(["dtb", "virt", "-o", path]).status, 0)

        XCTAssertEqual(stat(path, &after), 0)
        XCTAssertEqual(after.st_ino, before.st_ino, "the file was replaced, not written in place")
    }

    func testDTBToADirectoryIsOneLineWithStatus2() throws {
        let run = try backplane(["dtb", "virt", "-o", scratch.path])
        XCTAssertEqual(run.status, 2)
        XCTAssertEqual(run.output, "backplane: error: -o: cannot write '\(scratch.path)': it is a directory\n")
    }

    func testSerialFileIntoADirectoryIsOneLineWithStatus2() throws {
        let run = try backplane(["run", "virt", "--serial", "file:\(scratch.path)"])
        XCTAssertEqual(run.status, 2)
        XCTAssertEqual(run.output, "backplane: error: --serial: cannot open serial output file '\(scratch.path)': it is a directory\n")
    }

    func testSerialFileToDevNullLeavesDevNullACharacterDevice() throws {
        let elf = scratch.appendingPathComponent("exit.elf").path
        let root = GuestHarness.packageRoot
        let gcc = try GuestHarness.run(["riscv64-unknown-elf-gcc", "-march=rv64gc", "-mabi=lp64d", "-nostdlib", "-nostartfiles",
                                        "-static", "-Wl,--no-warn-rwx-segments", "-DTEST_VALUE=0x5555",
                                        "-T", root.appendingPathComponent("Guests/isa/link.ld").path,
                                        root.appendingPathComponent("Guests/exit/exit.S").path, "-o", elf], timeout: 60)
        XCTAssertEqual(gcc.status, 0, gcc.output)
        let run = try backplane(["run", "virt", "--bios", "none", "--kernel", elf, "--serial", "file:/dev/null"])
        XCTAssertEqual(run.status, 0, run.output)
        var info = stat()
        XCTAssertEqual(lstat("/dev/null", &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFCHR)
    }

    // MARK: Input files

    func testDevZeroAsKernelIsACleanError() throws {
        let run = try backplane(["run", "virt", "--bios", "none", "--kernel", "/dev/zero"])
        XCTAssertEqual(run.status, 2)
        XCTAssertEqual(run.output, "backplane: error: --kernel: '/dev/zero' is a character device, not a regular file\n")
    }

    func testDirectoryAsInitrdIsACleanError() throws {
        let run = try backplane(["run", "virt", "--initrd", scratch.path])
        XCTAssertEqual(run.status, 2)
        XCTAssertEqual(run.output, "backplane: error: --initrd: '\(scratch.path)' is a directory, not a regular file\n")
    }
}

import Foundation
import XCTest

/// The GDB stub driven by Debian's gdb-multiarch in batch mode (docs/debugging.md), against
/// Guests/gdb/target.c on the spike board, under both engines and with one and two harts.
final class GDBTests: XCTestCase {
    /// Builds Guests/gdb for `harts` harts into a fresh directory; the ELF's path.
    private func buildTarget(harts: Int, in directory: URL) throws -> String {
        let source = GuestHarness.packageRoot.appendingPathComponent("Guests/gdb")
        let elf = directory.appendingPathComponent("target.elf").path
        let build = try GuestHarness.run([
            "riscv64-unknown-elf-gcc", "-g", "-O1", "-DHARTS=\(harts)", "-march=rv64gc", "-mabi=lp64d",
            "-nostdlib", "-nostartfiles", "-mcmodel=medany", "-Wl,--no-warn-rwx-segments",
            "-T", source.appendingPathComponent("link.ld").path,
            source.appendingPathComponent("start.S").path, source.appendingPathComponent("target.c").path, "-o", elf,
        ], timeout: 120)
        XCTAssertEqual(build.status, 0, build.output)
        return elf
    }

    /// Runs the target under `--gdb-wait` and `script` (GDB commands after `target remote`) in
    /// gdb-multiarch; returns GDB's output and the emulator's exit status and output.
    private func debug(harts: Int, accel: String, script: String, firmware: Bool = false,
                       file: StaticString = #filePath, line: UInt = #line) throws -> (gdb: String, status: Int32, machine: String) {
        guard let backplane = GuestHarness.command(board: "spike", file: file, line: line)?.first else {
            throw XCTSkip("unreachable: command() failed the test")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gdb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let elf = try buildTarget(harts: harts, in: directory)
        let socket = directory.appendingPathComponent("gdb.sock").path

        let machine = Process()
        machine.executableURL = URL(fileURLWithPath: backplane)
        // `firmware`: the virt board as bundled, Debian's OpenSBI handing over to U-Boot.
        let guest = firmware ? ["virt", "--serial", "none"] : ["spike", "--kernel", elf]
        machine.arguments = ["run"] + guest + ["--smp", "\(harts)", "--accel", accel, "--timeout", "120",
                                               "--gdb", "unix:\(socket)", "--gdb-wait"]
        let machineOutput = Pipe()
        machine.standardOutput = machineOutput
        machine.standardError = machineOutput
        machine.standardInput = FileHandle.nullDevice
        try machine.run()
        defer { if machine.isRunning { machine.terminate() } }
        let listening = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: socket) && Date() < listening && machine.isRunning {
            Thread.sleep(forTimeInterval: 0.02)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: socket), "the stub never listened", file: file, line: line)

        let commands = directory.appendingPathComponent("commands.gdb")
        try ("set pagination off\nset confirm off\ntarget remote \(socket)\n" + script).write(to: commands, atomically: false, encoding: .utf8)
        let gdb = try GuestHarness.run(["gdb-multiarch", "-q", "-nx", "-batch", "-x", commands.path] + (firmware ? [] : [elf]),
                                       timeout: 120)
        let end = Date().addingTimeInterval(30)
        while machine.isRunning && Date() < end { Thread.sleep(forTimeInterval: 0.02) }
        if machine.isRunning { machine.terminate() }
        machine.waitUntilExit()
        let output = String(decoding: machineOutput.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (gdb.output, machine.terminationStatus, output)
    }

    /// Breakpoints with arguments, CSRs and the privilege register, a write watchpoint with old and
    /// new values, single steps that land where the disassembly says, and a run to poweroff.
    private func checkOneHart(accel: String) throws {
        let result = try debug(harts: 1, accel: accel, script: """
            break square
            continue
            print x
            continue
            print x
            print/x $misa
            print $priv
            print/x $pc == square
            watch counter
            continue
            delete
            break square
            continue
            x/2i $pc
            stepi
            print/x $pc
            delete
            continue
            """)
        let gdb = result.gdb
        XCTAssertEqual(result.status, 0, "machine: \(result.machine)\ngdb: \(gdb)")
        XCTAssertTrue(gdb.contains("Breakpoint 1, square (x=x@entry=0)"), gdb)
        XCTAssertTrue(gdb.contains("$1 = 0"), gdb)
        XCTAssertTrue(gdb.contains("Breakpoint 1, square (x=x@entry=1)"), gdb)
        XCTAssertTrue(gdb.contains("$2 = 1"), gdb)
        XCTAssertTrue(gdb.contains("$3 = 0x800000000014112d"), "misa: RV64 IMAFDC SU\n\(gdb)")
        XCTAssertTrue(gdb.contains("$4 = 3"), "M-mode\n\(gdb)")
        XCTAssertTrue(gdb.contains("$5 = 0x1"), gdb)
        XCTAssertTrue(gdb.contains("Old value = 0\nNew value = 1"), gdb)
        XCTAssertTrue(gdb.contains("Breakpoint 3, square (x=x@entry=2)"), gdb)
        // The address of square's second instruction, from GDB's own disassembly, is where one
        // stepi lands.
        let lines = gdb.components(separatedBy: "\n")
        guard let first = lines.firstIndex(where: { $0.hasPrefix("=> 0x") }), first + 1 < lines.count,
              let second = lines[first + 1].split(separator: " ").first(where: { $0.hasPrefix("0x") }) else {
            return XCTFail("no disassembly in\n\(gdb)")
        }
        XCTAssertTrue(gdb.contains("$6 = \(second)"), "stepi went to \(second)?\n\(gdb)")
        XCTAssertTrue(gdb.contains("[Inferior 1 (Remote target) exited normally]"), gdb)
    }

    func testBreakpointsWatchpointsAndStepsUnderTheInterpreter() throws { try checkOneHart(accel: "interp") }

    func testBreakpointsWatchpointsAndStepsUnderTheJIT() throws { try checkOneHart(accel: "jit") }

    /// Harts are threads: a breakpoint only hart 1 reaches stops on thread 2, and each thread
    /// shows its own registers.
    func testTwoHartsAreTwoThreads() throws {
        for accel in ["interp", "jit"] {
            let result = try debug(harts: 2, accel: accel, script: """
                info threads
                break worker
                continue
                print $mhartid
                thread 1
                print $mhartid
                monitor info harts
                monitor read 0x80000000 4
                monitor bogus
                delete
                continue
                """)
            let gdb = result.gdb
            XCTAssertEqual(result.status, 0, "\(accel) machine: \(result.machine)\ngdb: \(gdb)")
            XCTAssertTrue(gdb.contains("Thread 2 (hart 1, M-mode)"), gdb)
            XCTAssertTrue(gdb.contains("Thread 2 hit Breakpoint 1, worker ()"), gdb)
            XCTAssertTrue(gdb.contains("$1 = 1\n"), gdb)
            XCTAssertTrue(gdb.contains("$2 = 0\n"), gdb)
            // `monitor` runs the machine's command set (the control socket's).
            XCTAssertTrue(gdb.range(of: #"hart 0: pc=0x[0-9a-f]{16} M-mode\nhart 1: pc=0x[0-9a-f]{16} M-mode"#, options: .regularExpression) != nil, gdb)
            XCTAssertTrue(gdb.contains("0x0000000080000000: 0x73 0x25 0x40 0xf1"), "csrr a0, mhartid\n\(gdb)")
            XCTAssertTrue(gdb.contains("error: unknown command 'bogus' (try 'help')"), gdb)
            XCTAssertTrue(gdb.contains("exited normally"), gdb)
        }
    }

    /// Debian's firmware has no symbols: stop where OpenSBI hands over to U-Boot (its link
    /// address), in S-mode, with a1 pointing at the device tree; then kill the machine.
    func testOpenSBIHandsOverToUBootWhereTheDebuggerSaysSo() throws {
        for (accel, harts) in [("interp", 1), ("jit", 1), ("jit", 2)] {
            let result = try debug(harts: harts, accel: accel, script: """
                set architecture riscv:rv64
                break *0x80200000
                continue
                print $priv
                print/x $pc
                x/wx $a1
                print $a0 == $mhartid
                kill
                """, firmware: true)
            let gdb = result.gdb
            XCTAssertEqual(result.status, 0, "\(accel) \(harts): machine: \(result.machine)\ngdb: \(gdb)")
            XCTAssertTrue(gdb.contains("hit Breakpoint 1, 0x0000000080200000 in ??") || gdb.contains("Breakpoint 1, 0x0000000080200000 in ??"), gdb)
            XCTAssertTrue(gdb.contains("$1 = 1\n"), "S-mode\n\(gdb)")
            XCTAssertTrue(gdb.contains("$2 = 0x80200000"), gdb)
            XCTAssertTrue(gdb.contains(":\t0xedfe0dd0"), "the FDT magic, read little-endian\n\(gdb)")
            XCTAssertTrue(gdb.contains("$3 = 1\n"), gdb)
            XCTAssertTrue(gdb.contains("[Inferior 1 (Remote target) killed]"), gdb)
        }
    }
}

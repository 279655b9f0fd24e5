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

    /// What the machine runs under the debugger.
    private enum Guest {
        /// A bare-metal ELF on the spike board.
        case program(String)
        /// The virt board as bundled: Debian's OpenSBI handing over to U-Boot.
        case firmware
        /// The Linux guest of `Guests/linux` on virt, with `vmlinux` for GDB.
        case linux(LinuxGuest.Artifacts)
    }

    /// Runs the target under `--gdb-wait` and `script` (GDB commands after `target remote`) in
    /// gdb-multiarch; returns GDB's output and the emulator's exit status and output.
    private func debug(harts: Int, accel: String, script: String, firmware: Bool = false,
                       file: StaticString = #filePath, line: UInt = #line) throws -> (gdb: String, status: Int32, machine: String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gdb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let guest: Guest = firmware ? .firmware : .program(try buildTarget(harts: harts, in: directory))
        return try debug(guest, harts: harts, accel: accel, script: script, in: directory, file: file, line: line)
    }

    /// Runs `guest` under `--gdb-wait` and gdb-multiarch with `script` (after `target remote`),
    /// in `directory`. With `interrupt`, the test sends SIGINT to GDB (what Ctrl-C does) once the
    /// script has run `shell touch continuing` (GDB's output to a pipe is buffered, so its
    /// "Continuing." cannot be waited for) and the `continue` after it has run for a second.
    private func debug(_ guest: Guest, harts: Int, accel: String, script: String, in directory: URL, interrupt: Bool = false,
                       timeout: TimeInterval = 120, extraArguments: [String] = [],
                       file: StaticString = #filePath, line: UInt = #line) throws -> (gdb: String, status: Int32, machine: String) {
        guard let backplane = GuestHarness.command(board: "spike", file: file, line: line)?.first else {
            throw XCTSkip("unreachable: command() failed the test")
        }
        let socket = directory.appendingPathComponent("gdb.sock").path
        let machine = Process()
        machine.executableURL = URL(fileURLWithPath: backplane)
        let arguments: [String]
        let symbols: String?
        switch guest {
        case .program(let elf):
            arguments = ["spike", "--kernel", elf]
            symbols = elf
        case .firmware:
            arguments = ["virt", "--serial", "none"]
            symbols = nil
        case .linux(let artifacts):
            arguments = ["virt", "--kernel", artifacts.image, "--initrd", artifacts.initramfs, "--append", "console=ttyS0",
                         "--memory", "256M", "--serial", "stdio"]
            symbols = URL(fileURLWithPath: artifacts.image).deletingLastPathComponent().appendingPathComponent("vmlinux").path
        }
        machine.arguments = ["run"] + arguments + ["--smp", "\(harts)", "--accel", accel, "--timeout", "\(Int(timeout))",
                                                   "--gdb", "unix:\(socket)", "--gdb-wait"] + extraArguments
        // A file, not a pipe: a booting kernel writes more than a pipe holds while nobody reads.
        let machineLog = directory.appendingPathComponent("machine.out")
        _ = FileManager.default.createFile(atPath: machineLog.path, contents: nil)
        let machineOutput = try FileHandle(forWritingTo: machineLog)
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
        let gdbOutput = try runGDB(["-q", "-nx", "-batch", "-x", commands.path] + (symbols.map { [$0] } ?? []),
                                   interruptWhen: interrupt ? directory.appendingPathComponent("continuing").path : nil, timeout: timeout)
        let end = Date().addingTimeInterval(30)
        while machine.isRunning && Date() < end { Thread.sleep(forTimeInterval: 0.02) }
        if machine.isRunning { machine.terminate() }
        machine.waitUntilExit()
        try machineOutput.close()
        let output = String(decoding: (try? Data(contentsOf: machineLog)) ?? Data(), as: UTF8.self)
        return (gdbOutput, machine.terminationStatus, output)
    }

    /// Runs gdb-multiarch with `arguments`; with `interruptWhen`, sends it SIGINT a second after
    /// that file appears, as a terminal's Ctrl-C would. Returns stdout and stderr.
    private func runGDB(_ arguments: [String], interruptWhen marker: String?, timeout: TimeInterval) throws -> String {
        let gdb = Process()
        gdb.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        gdb.arguments = ["gdb-multiarch"] + arguments
        let pipe = Pipe()
        gdb.standardOutput = pipe
        gdb.standardError = pipe
        gdb.standardInput = FileHandle.nullDevice
        let lock = NSLock()
        nonisolated(unsafe) var collected = Data()
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            lock.lock()
            collected.append(data)
            lock.unlock()
        }
        func text() -> String {
            lock.lock()
            defer { lock.unlock() }
            return String(decoding: collected, as: UTF8.self)
        }
        try gdb.run()
        let deadline = Date().addingTimeInterval(timeout)
        var interrupted = marker == nil
        while gdb.isRunning && Date() < deadline {
            if !interrupted, let marker, FileManager.default.fileExists(atPath: marker) {
                Thread.sleep(forTimeInterval: 1)
                kill(gdb.processIdentifier, SIGINT)
                interrupted = true
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        if gdb.isRunning {
            gdb.terminate()
            XCTFail("gdb-multiarch did not finish in \(Int(timeout)) s")
        }
        gdb.waitUntilExit()
        pipe.fileHandleForReading.readabilityHandler = nil
        let rest = pipe.fileHandleForReading.readDataToEndOfFile()
        lock.lock()
        collected.append(rest)
        lock.unlock()
        XCTAssertTrue(interrupted, "GDB never reached the continue to interrupt:\n\(text())")
        return text()
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

    /// While GDB holds the machine stopped at a breakpoint, the control socket still answers:
    /// GDB's own `shell` runs `backplane ctl` (GDB waits for it with the target stopped), whose
    /// `info harts` shows the hart at the breakpoint GDB reports. A control `quit` then ends the
    /// hold: the connection is closed (GDB's next command finds the target gone) and the machine
    /// ends as a quit does (status 0).
    func testTheControlSocketAnswersWhileGDBHoldsTheMachine() throws {
        guard let backplane = GuestHarness.command(board: "spike")?.first else { return }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gdb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let elf = try buildTarget(harts: 1, in: directory)
        let control = directory.appendingPathComponent("ctl.sock").path
        let harts = directory.appendingPathComponent("harts.txt").path
        let result = try debug(.program(elf), harts: 1, accel: "jit", script: """
            break square
            continue
            print/x $pc
            shell \(backplane) ctl \(control) info harts > \(harts) 2>&1
            shell \(backplane) ctl \(control) quit
            stepi
            """, in: directory, timeout: 60, extraArguments: ["--control", "unix:\(control)"])
        let gdb = result.gdb
        guard let pc = gdb.components(separatedBy: "\n").first(where: { $0.hasPrefix("$1 = 0x") })?.dropFirst(5) else {
            return XCTFail("no pc printed:\n\(gdb)\nmachine: \(result.machine)")
        }
        let info = (try? String(contentsOfFile: harts, encoding: .utf8)) ?? ""
        let expected = "0x" + String(repeating: "0", count: 16 - (pc.count - 2)) + pc.dropFirst(2)
        XCTAssertTrue(info.hasPrefix("hart 0: pc=\(expected)"), "ctl while GDB holds the machine: \(info)\ngdb: \(gdb)")
        XCTAssertTrue(gdb.contains("Remote connection closed") || gdb.contains("Target disconnected"),
                      "the quit did not end the debugger's hold:\n\(gdb)")
        XCTAssertEqual(result.status, 0, "a quit ends the run as a quit: \(result.machine)")
    }

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
    // MARK: Ctrl-C

    /// A guest that spins until the debugger releases it: every hart counts in `spins` until
    /// `release` is set; then hart 0 powers off through HTIF. Built at test time with
    /// Guests/gdb's start code and layout.
    private func buildSpinner(harts: Int, in directory: URL) throws -> String {
        let source = GuestHarness.packageRoot.appendingPathComponent("Guests/gdb")
        let program = directory.appendingPathComponent("spin.c")
        try """
            volatile unsigned long tohost __attribute__((section(".tohost")));
            volatile unsigned long fromhost __attribute__((section(".tohost")));
            volatile unsigned long release;
            volatile unsigned long spins[2];

            __attribute__((noinline)) void spin(unsigned long hartid) {
                while (!release) spins[hartid]++;
            }

            void main(unsigned long hartid, unsigned long harts) {
                (void)harts;
                spin(hartid);
                if (hartid != 0) for (;;) __asm__ volatile("wfi");
                tohost = 1;
                for (;;) {}
            }
            """.write(to: program, atomically: false, encoding: .utf8)
        let elf = directory.appendingPathComponent("spin.elf").path
        let build = try GuestHarness.run([
            "riscv64-unknown-elf-gcc", "-g", "-O1", "-DHARTS=\(harts)", "-march=rv64gc", "-mabi=lp64d",
            "-nostdlib", "-nostartfiles", "-mcmodel=medany", "-Wl,--no-warn-rwx-segments",
            "-T", source.appendingPathComponent("link.ld").path,
            source.appendingPathComponent("start.S").path, program.path, "-o", elf,
        ], timeout: 120)
        XCTAssertEqual(build.status, 0, build.output)
        return elf
    }

    /// Ctrl-C from gdb-multiarch itself: GDB continues a guest that never stops by itself, the
    /// test sends GDB SIGINT, and the stub stops every hart and reports the interrupt at a pc in
    /// the guest's spin loop (on every thread). The session then goes on: the debugger releases
    /// the guest and continues it to poweroff (one hart), or detaches and lets it power off
    /// without a debugger (two harts).
    private func checkInterrupt(harts: Int, accel: String) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gdb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let elf = try buildSpinner(harts: harts, in: directory)
        var script = """
            shell touch \(directory.path)/continuing
            continue
            info symbol $pc
            print spins[0] > 0

            """
        if harts == 2 {
            script += """
                thread 2
                info symbol $pc
                print spins[1] > 0
                thread 1
                set var release = 1
                detach

                """
        } else {
            script += """
                set var release = 1
                continue

                """
        }
        let result = try debug(.program(elf), harts: harts, accel: accel, script: script, in: directory, interrupt: true)
        let gdb = result.gdb
        XCTAssertEqual(result.status, 0, "\(accel) \(harts): machine: \(result.machine)\ngdb: \(gdb)")
        XCTAssertTrue(gdb.contains("received signal SIGINT, Interrupt."), gdb)
        // `info symbol` names the function the pc is in; the interrupt lands inside the loop.
        let inSpin = gdb.components(separatedBy: "\n").filter { $0.hasPrefix("spin + ") && $0.hasSuffix(" in section .text") }
        XCTAssertEqual(inSpin.count, harts, "every hart stopped in spin()\n\(gdb)")
        XCTAssertTrue(gdb.contains("$1 = 1\n"), gdb)
        if harts == 2 {
            XCTAssertTrue(gdb.contains("$2 = 1\n"), gdb)
            XCTAssertTrue(gdb.contains("[Inferior 1 (Remote target) detached]"), gdb)
        } else {
            XCTAssertTrue(gdb.contains("[Inferior 1 (Remote target) exited normally]"), gdb)
        }
    }

    func testCtrlCStopsTheGuestUnderTheInterpreter() throws { try checkInterrupt(harts: 1, accel: "interp") }

    func testCtrlCStopsTheGuestUnderTheJIT() throws { try checkInterrupt(harts: 1, accel: "jit") }

    func testCtrlCStopsBothHartsAndDetaches() throws {
        for accel in ["interp", "jit"] { try checkInterrupt(harts: 2, accel: accel) }
    }

    // MARK: Linux with vmlinux

    /// The Linux guest debugged with its vmlinux (scripts/build-linux.sh keeps it, with reduced
    /// DWARF): a breakpoint on the 8250 platform driver's probe (which runs when the driver meets
    /// the device tree's UART during the initcalls) is hit in S-mode with the MMU on, with the
    /// argument its caller passed, the
    /// backtrace leads back through the driver core to kernel_init, a kernel variable
    /// (`linux_banner`) reads as the console printed it, and, the breakpoint deleted, the guest
    /// runs on to its poweroff.
    private func checkLinux(accel: String) throws {
        let artifacts = try LinuxGuest.artifacts()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gdb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try debug(.linux(artifacts), harts: 1, accel: accel, script: """
            break of_platform_serial_probe
            continue
            print $priv
            print/x (unsigned long)$satp >> 60
            backtrace
            frame 1
            info locals
            frame 0
            print linux_banner
            print/x $pc
            delete
            continue
            """, in: directory, timeout: 300)
        let gdb = result.gdb
        XCTAssertEqual(result.status, 0, "\(accel): machine: \(result.machine)\ngdb: \(gdb)")
        XCTAssertTrue(gdb.contains("Breakpoint 1, of_platform_serial_probe (ofdev="), gdb)
        // The argument GDB shows at the probe's first line is the one its caller passed
        // (platform_probe's local `dev`): variable tracking is on (build-linux.sh's KCFLAGS).
        // Without it GDB read a stale register here and printed `ofdev=0x0`.
        let argument = try XCTUnwrap(gdb.firstMatch(of: /of_platform_serial_probe \(ofdev=(0x[0-9a-f]+)\)/)?.1, gdb)
        let passed = try XCTUnwrap(gdb.firstMatch(of: /\ndev = (0x[0-9a-f]+)\n/)?.1, "platform_probe's locals\n\(gdb)")
        XCTAssertEqual(argument, passed, gdb)
        XCTAssertNotEqual(argument, "0x0", gdb)
        XCTAssertTrue(gdb.contains("$1 = 1\n"), "S-mode\n\(gdb)")
        XCTAssertTrue(gdb.contains("$2 = 0x8\n") || gdb.contains("$2 = 0x9\n"), "satp.MODE: Sv39 or Sv48 on\n\(gdb)")
        for caller in ["platform_probe", "really_probe", "driver_probe_device", "kernel_init"] {
            XCTAssertTrue(gdb.range(of: #"#[0-9]+ +(0x[0-9a-f]+ in )?"# + caller + " ", options: .regularExpression) != nil,
                          "\(caller) in the backtrace\n\(gdb)")
        }
        // The banner as GDB reads it from guest memory (`$3 = 0x… <linux_banner> "Linux version
        // …\n"`) is the one the kernel printed.
        let bannerLine = try XCTUnwrap(gdb.components(separatedBy: "\n").first { $0.hasPrefix("$3 = ") }, gdb)
        let quoted = try XCTUnwrap(bannerLine.range(of: "<linux_banner> \"Linux version "), bannerLine)
        let banner = bannerLine[bannerLine.index(after: quoted.lowerBound)...].dropFirst("linux_banner> \"".count)
            .prefix { $0 != "\\" && $0 != "\"" }
        XCTAssertGreaterThan(banner.count, 40, bannerLine)
        XCTAssertTrue(result.machine.contains(String(banner)), "\(banner) not on the console:\n\(result.machine)")
        // The hart stopped exactly where GDB put the breakpoint.
        let set = try XCTUnwrap(gdb.range(of: #"Breakpoint 1 at (0x[0-9a-f]+)"#, options: .regularExpression), gdb)
        let address = gdb[set].split(separator: " ").last.map(String.init) ?? "?"
        XCTAssertTrue(gdb.contains("$4 = \(address)\n"), "pc at \(address)?\n\(gdb)")
        XCTAssertTrue(gdb.contains("[Inferior 1 (Remote target) exited normally]"), gdb)
        XCTAssertTrue(result.machine.contains("BP: "), "init ran\n\(result.machine)")
    }

    func testLinuxWithVmlinuxUnderTheInterpreter() throws { try checkLinux(accel: "interp") }

    func testLinuxWithVmlinuxUnderTheJIT() throws { try checkLinux(accel: "jit") }
}

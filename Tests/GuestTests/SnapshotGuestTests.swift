import Foundation
import XCTest

/// Snapshots (docs/snapshots.md) of running guests: saved through the control socket while the
/// guest runs, restored with `run --snapshot-load` in a new process, which must print exactly
/// what the uninterrupted run printed after the save point; and the clear errors for a snapshot
/// loaded on another board or cut short.
final class SnapshotGuestTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("snapshot-guest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    private func backplane() throws -> String {
        guard case .backplane(let binary) = GuestHarness.emulator else { throw XCTSkip("snapshots are Backplane's") }
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw MissingBinary(path: binary) }
        return binary
    }

    /// Guests/snapshot/count.c: 400 timer-paced rounds, each printing what it computed so far.
    /// Tests that pause it from outside run it under `--clock host` (2 s of 5 ms waits); under
    /// the virtual clock it is over in milliseconds of host time.
    private func countGuest() throws -> String { try snapshotGuest("count") }

    /// Builds Guests/snapshot/NAME.c (count, race) for the virt board's bare-metal layout, with
    /// `defines` (-D options) into NAME-VARIANT.elf.
    private func snapshotGuest(_ name: String, defines: [String] = [], variant: String? = nil) throws -> String {
        let root = GuestHarness.packageRoot
        let output = GuestHarness.buildDirectory.appendingPathComponent("snapshot")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let elf = output.appendingPathComponent(variant.map { "\(name)-\($0).elf" } ?? "\(name).elf").path
        let run = try GuestHarness.run(["riscv64-unknown-elf-gcc"] + defines.map { "-D" + $0 } + ["-march=rv64gc", "-mabi=lp64d", "-mcmodel=medany", "-O2",
                                        "-ffreestanding", "-fno-builtin", "-nostdlib", "-nostartfiles", "-static",
                                        "-Wl,--no-warn-rwx-segments", "-T", root.appendingPathComponent("Guests/isa/link.ld").path,
                                        root.appendingPathComponent("Guests/common/start.S").path,
                                        root.appendingPathComponent("Guests/snapshot/\(name).c").path, "-o", elf], timeout: 120)
        guard run.status == 0 else { throw PluginBuildError(description: "riscv64-unknown-elf-gcc failed:\n\(run.output)") }
        return elf
    }

    /// Runs `arguments` with a control socket until the console shows `marker`, pauses, saves a
    /// snapshot to `file` and quits. Returns the console up to the pause.
    private func saveWhileRunning(_ binary: String, _ arguments: [String], at marker: String, to file: String,
                                  seconds: Double = 120) throws -> String {
        let machine = try ControlSocketTests.RunningMachine(backplane: binary, arguments: arguments)
        XCTAssertTrue(machine.waitForConsole(marker, seconds: seconds), "never printed '\(marker)':\n\(machine.consoleText)")
        XCTAssertEqual(try machine.ctl("pause").output.components(separatedBy: "\n").first, "paused")
        let console = machine.consoleText
        XCTAssertEqual(try machine.ctl("snapshot", "save", file).output, "saved \(file)\n")
        XCTAssertEqual(try machine.ctl("quit").output, "quitting\n")
        XCTAssertEqual(machine.waitForExit(seconds: 30), 0)
        return console
    }

    // MARK: Bare metal

    func testABareMetalGuestResumedInANewProcessPrintsWhatTheUninterruptedRunPrintsAfterTheSave() throws {
        let binary = try backplane()
        let elf = try countGuest()
        let arguments = ["virt", "--bios", "none", "--kernel", elf, "--clock", "host", "--timeout", "60"]
        let whole = try GuestHarness.run([binary, "run"] + arguments, timeout: 90)
        XCTAssertEqual(whole.status, 0, whole.output)
        XCTAssertTrue(whole.output.hasSuffix("round 400 ticks 400 hash 0x3656d3e429df57c3 fp 27093493 mscratch 80200\nPASS\n"),
                      String(whole.output.suffix(300)))
        let file = scratch.appendingPathComponent("count.snap").path

        let before = try saveWhileRunning(binary, arguments, at: "round 100 ", to: file)

        // Both engines resume it (the snapshot holds no translation state).
        for accel in ["jit", "interp"] {
            let resumed = try GuestHarness.run([binary, "run"] + arguments + ["--accel", accel, "--snapshot-load", file], timeout: 90)
            XCTAssertEqual(resumed.status, 0, "\(accel): \(resumed.output)")
            XCTAssertTrue(resumed.output.hasPrefix("round "), "\(accel) resumed mid-way: \(resumed.output.prefix(200))")
            XCTAssertEqual(before + resumed.output, whole.output, "\(accel): the resumed run's output differs")
        }
    }

    /// `--snapshot-save FILE --snapshot-at TIME` under the virtual clock: the snapshot is taken
    /// at that machine time and the run goes on unchanged (its console is the uninterrupted run's,
    /// with the "snapshot saved" line where the save happened); resumed in a new process, under
    /// either engine, it prints exactly what followed that line.
    func testASnapshotScheduledAtAVirtualTimeResumesWhereItWasTaken() throws {
        let binary = try backplane()
        let elf = try countGuest()
        let arguments = ["virt", "--bios", "none", "--kernel", elf, "--timeout", "60"]
        let whole = try GuestHarness.run([binary, "run"] + arguments, timeout: 90)
        XCTAssertEqual(whole.status, 0, whole.output)
        let file = scratch.appendingPathComponent("at.snap").path
        // 400 rounds of 5 ms of mtime: 0.6 s is past round 100 and before round 400.
        let saving = try GuestHarness.run([binary, "run"] + arguments + ["--snapshot-save", file, "--snapshot-at", "0.6"], timeout: 90)
        XCTAssertEqual(saving.status, 0, saving.output)
        guard let (parts, units) = splitAtSaveNotice(saving.output, file: file, asked: "0.6") else { return }
        // Taken at the first round boundary at or after 0.6 s: the guest waits in WFI most of
        // the time, so that is where the clock's jump to the next 5 ms timer lands.
        XCTAssertTrue(units >= 600_000_000 && units <= 605_000_000, "saved at \(units)")
        XCTAssertEqual(parts[0] + parts[1], whole.output, "taking the snapshot changed the run")
        XCTAssertTrue(parts[0].contains("round 100 "), "saved before round 100")
        for accel in ["jit", "interp"] {
            let resumed = try GuestHarness.run([binary, "run"] + arguments + ["--accel", accel, "--snapshot-load", file], timeout: 90)
            XCTAssertEqual(resumed.status, 0, "\(accel): \(resumed.output)")
            XCTAssertEqual(resumed.output, parts[1], "\(accel): the resumed run's output differs")
        }
        let hostClock = try GuestHarness.run([binary, "run"] + arguments + ["--clock", "host", "--snapshot-save", file, "--snapshot-at", "1"], timeout: 60)
        XCTAssertEqual(hostClock.status, 2)
        XCTAssertTrue(hostClock.output.contains("--snapshot-at counts virtual time"), hostClock.output)
        let bad = try GuestHarness.run([binary, "run"] + arguments + ["--snapshot-save", file, "--snapshot-at", "soon"], timeout: 60)
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.output.contains("--snapshot-at: 'soon' is neither seconds"), bad.output)
    }

    /// Splits a run's output at its one `--snapshot-at` notice: the console before and after the
    /// save, and the machine time (units) the notice says it was taken at.
    private func splitAtSaveNotice(_ output: String, file: String, asked: String) -> ([String], UInt64)? {
        let prefix = "backplane: snapshot saved to \(file) at "
        // The notice (stderr) can come in the middle of a console line (stdout).
        let pieces = output.components(separatedBy: prefix)
        XCTAssertEqual(pieces.count, 2, "no single save notice:\n\(output.suffix(500))")
        guard pieces.count == 2, let end = pieces[1].firstIndex(of: "\n") else { return nil }
        let notice = prefix + pieces[1][..<end]
        // "at U instructions (S s) of machine time (asked for TIME)"
        let words = notice.dropFirst(prefix.count).components(separatedBy: " ")
        guard words.count >= 2, let units = UInt64(words[0]), words[1] == "instructions",
              notice.hasSuffix(" of machine time (asked for \(asked))"),
              let seconds = words.count > 2 ? Double(words[2].dropFirst()) : nil,
              abs(seconds - Double(units) / 1e9) < 1e-9 else {  // virt: 10^9 instructions a second
            XCTFail("unexpected notice: \(notice)")
            return nil
        }
        return (output.components(separatedBy: notice + "\n"), units)
    }

    /// The same with two harts, whose output depends on where the machine switches from one to
    /// the other (Guests/snapshot/race.c: both add to one counter; hart 0 prints what it saw).
    /// A time in the middle of a slice must not end that slice: the snapshot is taken at the
    /// next round boundary, the saving run prints exactly the uninterrupted run, and the resumed
    /// run, under either engine, exactly what followed the save, final counts included. Failed
    /// before the snapshot stopped being a deadline (every line after the save differed). Under
    /// `--replay` of the uninterrupted run's recording, saving does not make the replay diverge,
    /// and the snapshot is the same file.
    func testASnapshotScheduledMidSliceWithTwoHartsDoesNotChangeTheInterleaving() throws {
        let binary = try backplane()
        let elf = try snapshotGuest("race")
        let arguments = ["virt", "--bios", "none", "--kernel", elf, "--smp", "2", "--timeout", "60"]
        let journal = scratch.appendingPathComponent("race.journal").path
        let whole = try GuestHarness.run([binary, "run"] + arguments + ["--record", journal], timeout: 90)
        XCTAssertEqual(whole.status, 0, whole.output)
        XCTAssertTrue(whole.output.contains("\ncounter 3000000 hash0 0x"), String(whole.output.suffix(300)))
        XCTAssertTrue(whole.output.hasSuffix("\nPASS\n"), String(whole.output.suffix(300)))
        // Both harts ran in the same stretch: hart 0 saw hart 1's additions between its own.
        let sawFirst = whole.output.components(separatedBy: "\n").first { $0.hasPrefix("hart 0 add 50000 saw ") }
        XCTAssertTrue(sawFirst.map { $0 != "hart 0 add 50000 saw 49999" } ?? false, whole.output)

        let file = scratch.appendingPathComponent("race.snap").path
        // 10,012,345 units: 12,345 into a 50,000-instruction slice of hart 0 (both harts busy,
        // no device deadline), so the save is one round later at the most.
        let asked = "10012345i"
        let saving = try GuestHarness.run([binary, "run"] + arguments + ["--snapshot-save", file, "--snapshot-at", asked], timeout: 90)
        XCTAssertEqual(saving.status, 0, saving.output)
        guard let (parts, units) = splitAtSaveNotice(saving.output, file: file, asked: asked) else { return }
        XCTAssertTrue(units >= 10_012_345 && units <= 10_012_345 + 100_000, "saved at \(units)")
        XCTAssertEqual(parts[0] + parts[1], whole.output, "taking the snapshot changed the run")
        XCTAssertTrue(parts[0].contains("hart 0 add 100000 ") && parts[1].contains("hart 0 add 1000000 "), saving.output)
        for accel in ["jit", "interp"] {
            let resumed = try GuestHarness.run([binary, "run"] + arguments + ["--accel", accel, "--snapshot-load", file], timeout: 90)
            XCTAssertEqual(resumed.status, 0, "\(accel): \(resumed.output)")
            XCTAssertEqual(resumed.output, parts[1], "\(accel): the resumed run's output differs")
        }

        // A time the run never reaches: it says so, and saves nothing.
        let late = scratch.appendingPathComponent("late.snap").path
        let tooLate = try GuestHarness.run([binary, "run"] + arguments + ["--snapshot-save", late, "--snapshot-at", "1"], timeout: 90)
        XCTAssertEqual(tooLate.status, 0, tooLate.output)
        XCTAssertTrue(tooLate.output.hasPrefix(whole.output), tooLate.output)
        XCTAssertTrue(tooLate.output.contains("backplane: --snapshot-at 1: the run ended at "), tooLate.output)
        XCTAssertTrue(tooLate.output.hasSuffix(" instructions of machine time, before it; no snapshot saved\n"), tooLate.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: late))

        let replayed = scratch.appendingPathComponent("replayed.snap").path
        let replaying = try GuestHarness.run([binary, "run"] + arguments + ["--replay", journal, "--snapshot-save", replayed,
                                                                             "--snapshot-at", asked], timeout: 90)
        XCTAssertEqual(replaying.status, 0, replaying.output)
        XCTAssertEqual(replaying.output.replacingOccurrences(of: "backplane: snapshot saved to \(replayed) at \(units) instructions",
                                                             with: "backplane: snapshot saved to \(file) at \(units) instructions"),
                       saving.output, "--replay with --snapshot-at")
        XCTAssertEqual(FileManager.default.contents(atPath: replayed), FileManager.default.contents(atPath: file))
    }

    /// The control socket's `snapshot save` is served between two rounds, where a resumed run
    /// starts: under `--replay` of an uninterrupted two-hart run, pausing, saving and resuming
    /// in the middle keeps the replay on its path (exit 0, the same console), and the snapshot
    /// resumes with exactly the rest. race.c with 10 million additions a hart (half a second
    /// under the JIT), so that the pause lands in the middle.
    func testAControlSocketSnapshotUnderReplayChangesNothing() throws {
        let binary = try backplane()
        let elf = try snapshotGuest("race", defines: ["ADDS=10000000UL", "STRIDE=250000UL"], variant: "long")
        let arguments = ["virt", "--bios", "none", "--kernel", elf, "--smp", "2", "--timeout", "60"]
        let journal = scratch.appendingPathComponent("long.journal").path
        let whole = try GuestHarness.run([binary, "run"] + arguments + ["--record", journal], timeout: 90)
        XCTAssertEqual(whole.status, 0, whole.output)
        XCTAssertTrue(whole.output.contains("\ncounter 20000000 hash0 0x"), String(whole.output.suffix(300)))

        let file = scratch.appendingPathComponent("ctl.snap").path
        let machine = try ControlSocketTests.RunningMachine(backplane: binary, arguments: arguments + ["--replay", journal])
        XCTAssertTrue(machine.waitForConsole("hart 0 add 2500000 ", seconds: 60), machine.consoleText)
        XCTAssertEqual(try machine.ctl("pause").output.components(separatedBy: "\n").first, "paused")
        let before = machine.consoleText
        XCTAssertEqual(try machine.ctl("snapshot", "save", file).output, "saved \(file)\n")
        XCTAssertEqual(try machine.ctl("resume").output, "running\n")
        XCTAssertEqual(machine.waitForExit(seconds: 60), 0, "the replay diverged")
        XCTAssertEqual(machine.consoleText, whole.output)
        XCTAssertFalse(before.contains("counter "), "paused after the end:\n\(before)")

        let resumed = try GuestHarness.run([binary, "run"] + arguments + ["--snapshot-load", file], timeout: 90)
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertEqual(before + resumed.output, whole.output)
    }

    /// A GDB stop in the middle of a round and a `monitor snapshot save` there change nothing
    /// either: race.c under `--replay` of the uninterrupted run's recording, stopped by a
    /// breakpoint at hart 0's 11th line (in the middle of its slice, hart 1's slice still to
    /// come), saved, then continued without the breakpoint: the replay stays on its path and the
    /// console is the uninterrupted run's; the snapshot (which says where the round stood)
    /// resumes in a new process, under either engine, with exactly the rest. Before, merely
    /// attaching GDB with a breakpoint made the replay diverge, and the resumed run's final hash
    /// and mtime differed.
    func testAGDBStopAndItsSnapshotUnderReplayChangeNothing() throws {
        let binary = try backplane()
        let elf = try snapshotGuest("race")
        let arguments = ["virt", "--bios", "none", "--kernel", elf, "--smp", "2", "--timeout", "60"]
        let journal = scratch.appendingPathComponent("gdb.journal").path
        let whole = try GuestHarness.run([binary, "run"] + arguments + ["--record", journal], timeout: 90)
        XCTAssertEqual(whole.status, 0, whole.output)
        let lines = whole.output.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertTrue(lines.count > 12 && lines[10].hasPrefix("hart 0 add 550000 saw "), whole.output)
        guard lines.count > 12 else { return }
        let rest = lines[10...].joined(separator: "\n")

        let socket = scratch.appendingPathComponent("gdb.sock").path
        let console = scratch.appendingPathComponent("console.txt")
        let file = scratch.appendingPathComponent("gdb.snap").path
        let machine = Process()
        machine.executableURL = URL(fileURLWithPath: binary)
        machine.arguments = ["run"] + arguments + ["--replay", journal, "--serial", "file:\(console.path)",
                                                   "--gdb", "unix:\(socket)", "--gdb-wait"]
        machine.standardInput = FileHandle.nullDevice
        machine.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        machine.standardError = errors
        try machine.run()
        defer { if machine.isRunning { machine.terminate() } }
        let listening = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: socket) && Date() < listening && machine.isRunning { Thread.sleep(forTimeInterval: 0.02) }
        let commands = scratch.appendingPathComponent("race.gdb")
        try """
            set pagination off
            set confirm off
            target remote \(socket)
            break *report
            ignore 1 10
            continue
            monitor snapshot save \(file)
            delete
            continue
            """.write(to: commands, atomically: false, encoding: .utf8)
        let gdb = try GuestHarness.run(["gdb-multiarch", "-q", "-nx", "-batch", "-x", commands.path, elf], timeout: 120)
        machine.waitUntilExit()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(gdb.output.contains("hit Breakpoint 1"), gdb.output)
        XCTAssertTrue(gdb.output.contains("saved \(file)"), gdb.output)
        XCTAssertEqual(machine.terminationStatus, 0, "the replay diverged: \(stderr)")
        XCTAssertEqual((try? String(contentsOf: console, encoding: .utf8)) ?? "", whole.output, "stopping at the breakpoint changed the run")

        for accel in ["jit", "interp"] {
            let resumed = try GuestHarness.run([binary, "run"] + arguments + ["--accel", accel, "--snapshot-load", file], timeout: 90)
            XCTAssertEqual(resumed.status, 0, "\(accel): \(resumed.output)")
            XCTAssertEqual(resumed.output, rest, "\(accel): the resumed run's output differs")
        }
    }

    /// GDB's `monitor snapshot save` runs the same command: stopped at the guest's 50th timer
    /// interrupt, saved, killed; the snapshot resumes at that interrupt.
    func testGDBMonitorSavesASnapshotAtABreakpoint() throws {
        let binary = try backplane()
        let elf = try countGuest()
        let whole = try GuestHarness.run([binary, "run", "virt", "--bios", "none", "--kernel", elf, "--timeout", "60"], timeout: 90)
        let socket = scratch.appendingPathComponent("gdb.sock").path
        let console = scratch.appendingPathComponent("console.txt")
        let file = scratch.appendingPathComponent("gdb.snap").path
        let machine = Process()
        machine.executableURL = URL(fileURLWithPath: binary)
        machine.arguments = ["run", "virt", "--bios", "none", "--kernel", elf, "--timeout", "60", "--serial", "file:\(console.path)",
                             "--gdb", "unix:\(socket)", "--gdb-wait"]
        machine.standardInput = FileHandle.nullDevice
        try machine.run()
        defer { if machine.isRunning { machine.terminate() } }
        let listening = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: socket) && Date() < listening && machine.isRunning { Thread.sleep(forTimeInterval: 0.02) }
        let commands = scratch.appendingPathComponent("commands.gdb")
        try """
            set pagination off
            set confirm off
            target remote \(socket)
            break trap
            ignore 1 49
            continue
            monitor snapshot save \(file)
            kill
            """.write(to: commands, atomically: false, encoding: .utf8)

        let gdb = try GuestHarness.run(["gdb-multiarch", "-q", "-nx", "-batch", "-x", commands.path, elf], timeout: 120)
        machine.waitUntilExit()
        let before = (try? String(contentsOf: console, encoding: .utf8)) ?? ""
        let resumed = try GuestHarness.run([binary, "run", "virt", "--bios", "none", "--kernel", elf, "--snapshot-load", file, "--timeout", "60"], timeout: 90)

        XCTAssertTrue(gdb.output.contains("saved \(file)"), gdb.output)
        XCTAssertEqual(before.split(separator: "\n").last.map { $0.hasPrefix("round 49 ") }, true, "stopped at the 50th interrupt:\n\(before)")
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertTrue(resumed.output.hasPrefix("round 50 "), String(resumed.output.prefix(200)))
        XCTAssertEqual(before + resumed.output, whole.output)
    }

    func testASnapshotLoadedOnAnotherBoardIsOneErrorLine() throws {
        let binary = try backplane()
        let elf = try countGuest()
        let file = scratch.appendingPathComponent("virt.snap").path
        _ = try saveWhileRunning(binary, ["virt", "--bios", "none", "--kernel", elf, "--clock", "host", "--timeout", "60"], at: "round 10 ", to: file)

        let other = try GuestHarness.run([binary, "run", "virt-aia", "--bios", "none", "--kernel", elf, "--clock", "host", "--snapshot-load", file], timeout: 60)
        let twoHarts = try GuestHarness.run([binary, "run", "virt", "--smp", "2", "--bios", "none", "--kernel", elf, "--clock", "host", "--snapshot-load", file], timeout: 60)

        XCTAssertEqual(other.status, 2)
        XCTAssertTrue(other.output.hasPrefix("backplane: error: snapshot '\(file)' was saved on board 'virt' (board hash "), other.output)
        XCTAssertTrue(other.output.contains("; this machine is board 'virt-aia' (board hash "), other.output)
        XCTAssertEqual(other.output.filter { $0 == "\n" }.count, 1, other.output)
        XCTAssertEqual(twoHarts.status, 2)
        XCTAssertTrue(twoHarts.output.hasPrefix("backplane: error: snapshot '\(file)' was saved on a different board 'virt'"), twoHarts.output)
    }

    func testATruncatedOrCorruptSnapshotIsOneErrorLine() throws {
        let binary = try backplane()
        let elf = try countGuest()
        let file = scratch.appendingPathComponent("whole.snap").path
        _ = try saveWhileRunning(binary, ["virt", "--bios", "none", "--kernel", elf, "--clock", "host", "--timeout", "60"], at: "round 10 ", to: file)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        let cut = scratch.appendingPathComponent("cut.snap").path
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: cut))
        var flippedBytes = [UInt8](bytes)
        flippedBytes[bytes.count / 3] ^= 0x40
        let flipped = scratch.appendingPathComponent("flipped.snap").path
        try Data(flippedBytes).write(to: URL(fileURLWithPath: flipped))

        let arguments = [binary, "run", "virt", "--bios", "none", "--kernel", elf, "--clock", "host", "--snapshot-load"]
        let truncated = try GuestHarness.run(arguments + [cut], timeout: 60)
        let corrupt = try GuestHarness.run(arguments + [flipped], timeout: 60)

        XCTAssertEqual(truncated.status, 2)
        XCTAssertTrue(truncated.output.hasPrefix("backplane: error: snapshot '\(cut)' is truncated: "), truncated.output)
        XCTAssertEqual(truncated.output.filter { $0 == "\n" }.count, 1, truncated.output)
        XCTAssertEqual(corrupt.status, 2)
        XCTAssertTrue(corrupt.output.hasPrefix("backplane: error: snapshot '\(flipped)' is corrupt: "), corrupt.output)
        XCTAssertEqual(corrupt.output.filter { $0 == "\n" }.count, 1, corrupt.output)
    }

    /// Plugin devices without the ABI 1.3 save/restore hooks (the acme examples have none): a
    /// snapshot of a machine with a plugin platform device and a plugin PCI function refuses,
    /// naming both, and writes no file.
    func testPluginDevicesWithoutSnapshotHooksMakeTheSnapshotRefuseNamingThem() throws {
        let binary = try backplane()
        let elf = try countGuest()
        let machine = try ControlSocketTests.RunningMachine(backplane: binary, arguments: [
            "virt", "--bios", "none", "--kernel", elf, "--clock", "host", "--timeout", "60",
            "--plugin", try PluginGuestTests.plugin("acme_timer"), "--device", "acme.timer,name=timer0,reg=0x10002000:0x1000,irq=plic0@12",
            "--plugin", try PluginGuestTests.plugin("acme_edu"), "--device", "acme.edu,name=edu1,at=pcie0/04.0",
        ])
        XCTAssertTrue(machine.waitForConsole("round 2 ", seconds: 60), machine.consoleText)
        let file = scratch.appendingPathComponent("plugin.snap").path

        let reply = try machine.ctl("snapshot", "save", file)

        XCTAssertEqual(reply.status, 1)
        XCTAssertTrue(reply.output.hasPrefix("backplane ctl: snapshot refused: "), reply.output)
        XCTAssertTrue(reply.output.contains("device 'timer0' (plugin '"), reply.output)
        XCTAssertTrue(reply.output.contains("device 'edu1' (plugin '"), reply.output)
        XCTAssertTrue(reply.output.contains("has no save/restore hooks"), reply.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: file))
        XCTAssertEqual(try machine.ctl("quit").output, "quitting\n")
    }

    // MARK: Linux

    /// The guest's report lines from `marker` on, with the interrupt counts of /proc/interrupts
    /// (which follow the host's clock under `--clock host`: timer ticks, IPIs) blanked.
    private func reportTail(_ output: String, from marker: String) -> [String] {
        let report = LinuxGuest.Boot(status: 0, output: output, seconds: 0).report
        guard let start = report.firstIndex(where: { $0.hasPrefix(marker) }) else { return [] }
        return report[start...].map { line in
            guard line.hasPrefix("irq ") else { return line }
            return line.split(separator: " ").map { $0.allSatisfy(\.isNumber) ? "N" : String($0) }.joined(separator: " ")
        }
    }

    /// Linux boots to its init, which watches for USB devices for 60 s of virtual time
    /// (`bp.usbwatch=60`: about a second of host time, room to pause it from outside): saved
    /// there, resumed in a new process, it finishes its report and powers off as the
    /// uninterrupted run does.
    func testLinuxSavedAtItsInitResumesInANewProcessAndPowersOff() throws {
        let binary = try backplane()
        let artifacts = try LinuxGuest.artifacts()
        let arguments = ["virt", "--kernel", artifacts.image, "--initrd", artifacts.initramfs, "--memory", "256M",
                         "--append", "console=ttyS0 earlycon bp.usbwatch=60", "--clock", "virtual", "--timeout", "200"]
        let whole = try GuestHarness.run([binary, "run"] + arguments, timeout: 230)
        XCTAssertEqual(whole.status, 0, whole.output)
        let file = scratch.appendingPathComponent("linux.snap").path

        let before = try saveWhileRunning(binary, arguments, at: "BP: usbwatch count=0", to: file, seconds: 200)
        let resumed = try GuestHarness.run([binary, "run"] + arguments + ["--snapshot-load", file], timeout: 230)

        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertFalse(resumed.output.contains("Linux version"), "the resumed run booted again:\n\(resumed.output.prefix(500))")
        XCTAssertTrue(resumed.output.contains("BP: done"), resumed.output)
        XCTAssertTrue(resumed.output.contains("reboot: Power down"), resumed.output)
        let expected = reportTail(whole.output, from: "usbwatch count=0")
        XCTAssertGreaterThan(expected.count, 5, whole.output)
        XCTAssertEqual(reportTail(before + resumed.output, from: "usbwatch count=0"), expected)
        // Under the virtual clock the resumed run is the uninterrupted one, byte for byte
        // (kernel timestamps and interrupt counts included).
        XCTAssertEqual(before + resumed.output, whole.output)
        let size = try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int ?? .max
        XCTAssertLessThan(size, 64 << 20, "a 256 MiB guest's snapshot holds its used pages only")
    }

    /// The AIA board with a virtio-blk disk (`Guests/linux/boards/virt-aia-pci.yaml`) whose
    /// `file` is `disk`'s absolute path, written beside it.
    private func aiaDiskBoard(_ disk: URL) throws -> String {
        let template = try String(contentsOf: GuestHarness.packageRoot.appendingPathComponent("Guests/linux/boards/virt-aia-pci.yaml"), encoding: .utf8)
        XCTAssertTrue(template.contains("file: linux-disk.img"))
        let board = disk.deletingLastPathComponent().appendingPathComponent("virt-aia-pci.yaml")
        try template.replacingOccurrences(of: "file: linux-disk.img", with: "file: \(disk.path)").write(to: board, atomically: false, encoding: .utf8)
        return board.path
    }

    /// Two harts on APLIC + IMSIC with a virtio-blk disk on MSI-X: saved at init (before init
    /// writes and reads back its disk block), resumed, the virtio queues, MSI-X table and interrupt
    /// files carry the I/O through; the disk holds the block afterwards.
    func testLinuxOnTheAIABoardWithAVirtioDiskResumesItsDiskIOFromASnapshot() throws {
        let binary = try backplane()
        let artifacts = try LinuxGuest.artifacts()
        let common = ["--kernel", artifacts.image, "--initrd", artifacts.initramfs, "--memory", "256M", "--smp", "2",
                      "--append", "console=ttyS0 earlycon bp.usbwatch=60", "--clock", "virtual", "--timeout", "200"]
        let wholeDisk = try LinuxGuest.makeDisk()
        let whole = try GuestHarness.run([binary, "run", try aiaDiskBoard(wholeDisk)] + common, timeout: 230)
        XCTAssertEqual(whole.status, 0, whole.output)
        let disk = try LinuxGuest.makeDisk()
        let board = try aiaDiskBoard(disk)
        let file = scratch.appendingPathComponent("linux-aia.snap").path

        let before = try saveWhileRunning(binary, [board] + common, at: "BP: usbwatch count=0", to: file, seconds: 200)
        let resumed = try GuestHarness.run([binary, "run", board] + common + ["--snapshot-load", file], timeout: 230)

        XCTAssertEqual(resumed.status, 0, resumed.output)
        let report = LinuxGuest.Boot(status: 0, output: resumed.output, seconds: 0)
        XCTAssertEqual(report.lines("blk vda rw ok"), ["blk vda rw ok offset=65536 len=4096"], resumed.output)
        XCTAssertEqual(reportTail(before + resumed.output, from: "usbwatch count=0"), reportTail(whole.output, from: "usbwatch count=0"))
        XCTAssertEqual(before + resumed.output, whole.output, "under the virtual clock, byte for byte")
        let written = try Data(contentsOf: disk)
        let block = [UInt8](written[LinuxGuest.blockTestOffset..<LinuxGuest.blockTestOffset + LinuxGuest.blockTestLength])
        XCTAssertEqual(block, (0..<LinuxGuest.blockTestLength).map(LinuxGuest.patternByte), "the resumed guest's disk write")
    }

    /// The case with two harts and `--snapshot-at`: Linux on the AIA board, saved at a
    /// virtual time in the middle of its boot (before init touches the disk), prints exactly the
    /// uninterrupted run's console, printk timestamps included, and so does the run resumed
    /// from that snapshot in a new process (on a fresh disk, as the saving run's was at the
    /// save). With the snapshot cutting a slice at its time, 62 lines after it differed.
    func testLinuxOnTwoHartsSavedAtAVirtualTimeRunsAndResumesAsTheUninterruptedRun() throws {
        let binary = try backplane()
        let artifacts = try LinuxGuest.artifacts()
        let common = ["--kernel", artifacts.image, "--initrd", artifacts.initramfs, "--memory", "256M", "--smp", "2",
                      "--append", "console=ttyS0 earlycon bp.usbwatch=60", "--clock", "virtual", "--timeout", "200"]
        let whole = try GuestHarness.run([binary, "run", try aiaDiskBoard(try LinuxGuest.makeDisk())] + common, timeout: 230)
        XCTAssertEqual(whole.status, 0, whole.output)
        XCTAssertTrue(whole.output.contains("BP: blk vda rw ok offset=65536 len=4096"), whole.output)

        let file = scratch.appendingPathComponent("linux-at.snap").path
        // 0.0512345 s: the kernel's initcalls on both harts; init runs at about 0.09 s.
        let asked = "0.0512345"
        let disk = try LinuxGuest.makeDisk()
        let board = try aiaDiskBoard(disk)  // the disk's path is in the board, which the snapshot names
        let saving = try GuestHarness.run([binary, "run", board] + common + ["--snapshot-save", file, "--snapshot-at", asked], timeout: 230)
        XCTAssertEqual(saving.status, 0, saving.output)
        guard let (parts, units) = splitAtSaveNotice(saving.output, file: file, asked: asked) else { return }
        XCTAssertTrue(units >= 51_234_500 && units <= 51_334_500, "saved at \(units)")
        XCTAssertEqual(parts[0] + parts[1], whole.output, "taking the snapshot changed the run")
        XCTAssertFalse(parts[0].contains("Run /init"), "saved after init started")

        // The disk as it was at the save: empty (in place, as the board names it).
        let handle = try FileHandle(forWritingTo: disk)
        let size = try handle.seekToEnd()
        try handle.truncate(atOffset: 0)
        try handle.truncate(atOffset: size)
        try handle.close()
        let resumed = try GuestHarness.run([binary, "run", board] + common + ["--snapshot-load", file], timeout: 230)
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertEqual(resumed.output, parts[1], "the resumed run's output differs")
    }

    /// The USB board (xHCI with a keyboard, a loopback device, a tablet and a storage stick) whose
    /// stick's `file` is `disk`'s absolute path, written beside it.
    private func usbBoard(_ name: String, disk: URL) throws -> String {
        let template = try String(contentsOf: GuestHarness.packageRoot.appendingPathComponent("Guests/linux/boards/\(name)"), encoding: .utf8)
        XCTAssertTrue(template.contains("file: usb-disk.img"))
        let board = disk.deletingLastPathComponent().appendingPathComponent(name)
        try template.replacingOccurrences(of: "file: usb-disk.img", with: "file: \(disk.path)").write(to: board, atomically: false, encoding: .utf8)
        return board.path
    }

    /// Linux with four USB devices, saved once it has enumerated them (the keyboard's and the
    /// tablet's interrupt IN transfers are held by the devices then), resumed: the loopback
    /// round trip and the storage stick's block write and read-back run after the restore, and
    /// the report ends as the uninterrupted run's does.
    private func checkUSBBoardResumes(_ name: String) throws {
        let binary = try backplane()
        let artifacts = try LinuxGuest.artifacts()
        let common = ["--kernel", artifacts.image, "--initrd", artifacts.initramfs, "--memory", "256M",
                      "--append", "console=ttyS0 earlycon usb-storage.delay_use=0 bp.usb=4 bp.usbdisk=1 bp.usbwatch=60", "--clock", "virtual", "--timeout", "300"]
        let wholeDisk = try LinuxGuest.makeDisk()
        let whole = try GuestHarness.run([binary, "run", try usbBoard(name, disk: wholeDisk)] + common, timeout: 330)
        XCTAssertEqual(whole.status, 0, whole.output)
        let disk = try LinuxGuest.makeDisk()
        let board = try usbBoard(name, disk: disk)
        let file = scratch.appendingPathComponent("usb.snap").path

        let before = try saveWhileRunning(binary, [board] + common, at: "BP: usbwatch count=4", to: file, seconds: 300)
        let resumed = try GuestHarness.run([binary, "run", board] + common + ["--snapshot-load", file], timeout: 330)

        XCTAssertEqual(resumed.status, 0, resumed.output)
        let report = LinuxGuest.Boot(status: 0, output: resumed.output, seconds: 0)
        XCTAssertEqual(report.lines("usb loopback "), ["usb loopback 1-2 ok bytes=4096"], resumed.output)
        XCTAssertEqual(report.lines("blk sda rw"), ["blk sda rw ok offset=65536 len=4096"], resumed.output)
        XCTAssertEqual(report.lines("error "), [])
        // After the marker line (whose id order is the order the devices enumerated in).
        XCTAssertEqual(reportTail(before + resumed.output, from: "usbwatch count=4").dropFirst(),
                       reportTail(whole.output, from: "usbwatch count=4").dropFirst())
        XCTAssertEqual(before + resumed.output, whole.output, "under the virtual clock, byte for byte")
        let written = try Data(contentsOf: disk)
        let block = [UInt8](written[LinuxGuest.blockTestOffset..<LinuxGuest.blockTestOffset + LinuxGuest.blockTestLength])
        XCTAssertEqual(block, (0..<LinuxGuest.blockTestLength).map(LinuxGuest.patternByte), "the resumed guest's write through /dev/sda")
    }

    func testLinuxWithUSBDevicesOnThePLICBoardResumesFromASnapshot() throws {
        try checkUSBBoardResumes("virt-usb.yaml")
    }

    func testLinuxWithUSBDevicesOnTheAIABoardResumesFromASnapshot() throws {
        try checkUSBBoardResumes("virt-aia-usb.yaml")
    }
}

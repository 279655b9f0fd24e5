import Foundation
import XCTest

/// The virtual clock (issue "reproducible experiments", docs/architecture.md "Virtual time"):
/// identical runs under both engines and any hart count, no host time in a virtual-clock run,
/// idle time skipped, and record/replay of console input.
final class VirtualTimeTests: XCTestCase {
    // MARK: Determinism

    /// The Linux guest on the PLIC and AIA boards with a virtio-blk disk, 1 and 2 harts: the
    /// console output and the disk image are byte-identical under the JIT (twice) and the
    /// interpreter. printk timestamps, timer interrupts and the disk traffic all follow the
    /// virtual clock, so any difference in when an interrupt lands shows in the output.
    func testLinuxRunsAreIdenticalUnderBothEnginesWithOneAndTwoHarts() throws {
        let artifacts = try linuxArtifacts()
        for interrupts in [LinuxGuest.Interrupts.plic, .aia] {
            for harts in [1, 2] {
                var first: (output: String, disk: Data)?
                for accel in ["jit", "interp", "jit"] {
                    let disk = try LinuxGuest.makeDisk()
                    let boot = try LinuxGuest.boot(artifacts, interrupts: interrupts, harts: harts, disk: disk, accel: accel)
                    let label = "\(interrupts.rawValue), \(harts) hart(s), \(accel)"
                    XCTAssertEqual(boot.status, 0, "\(label): no clean poweroff:\n\(boot.output.suffix(2000))")
                    XCTAssertEqual(boot.report.last, "done", "\(label): init did not finish")
                    XCTAssertTrue(boot.output.contains("[    0.0"), "\(label): no printk timestamps to compare")
                    let image = try Data(contentsOf: disk)
                    try? FileManager.default.removeItem(at: disk.deletingLastPathComponent())
                    if let first {
                        XCTAssertEqual(boot.output, first.output, "\(label): the console differs from the first run:\n\(firstDifference(first.output, boot.output))")
                        XCTAssertEqual(image, first.disk, "\(label): the disk image differs from the first run")
                    } else {
                        first = (boot.output, image)
                    }
                }
            }
        }
    }

    /// The USB board (xHCI with MSI-X, keyboard, tablet, loopback, mass storage; usb-storage's
    /// one-second settle delay left on): identical console and USB disk under both engines.
    func testLinuxWithUSBDevicesIsIdenticalUnderBothEngines() throws {
        let binary = try backplane()
        let artifacts = try LinuxGuest.artifacts()
        var outputs: [String] = []
        var disks: [Data] = []
        for accel in ["jit", "interp"] {
            let folder = try LinuxGuest.makeDisk().deletingLastPathComponent()
            defer { try? FileManager.default.removeItem(at: folder) }
            try FileManager.default.moveItem(at: folder.appendingPathComponent("linux-disk.img"), to: folder.appendingPathComponent("usb-disk.img"))
            let board = folder.appendingPathComponent("virt-aia-usb.yaml")
            try FileManager.default.copyItem(at: GuestHarness.packageRoot.appendingPathComponent("Guests/linux/boards/virt-aia-usb.yaml"), to: board)
            let start = Date()
            let run = try GuestHarness.run(["-C", folder.path, binary, "run", board.path, "--kernel", artifacts.image,
                                            "--initrd", artifacts.initramfs, "--append", "console=ttyS0 earlycon bp.usb=4 bp.usbdisk=1",
                                            "--memory", "256M", "--accel", accel, "--serial", "stdio", "--timeout", "400"], timeout: 430)
            print("linux with USB, virtual clock, \(accel): " + String(format: "%.2f s", Date().timeIntervalSince(start)))
            XCTAssertEqual(run.status, 0, "\(accel): no clean poweroff:\n\(run.output.suffix(2000))")
            XCTAssertTrue(run.output.contains("BP: done"), "\(accel): init did not finish")
            outputs.append(run.output)
            disks.append(try Data(contentsOf: folder.appendingPathComponent("usb-disk.img")))
        }
        XCTAssertEqual(outputs[0], outputs[1], "the console differs between the engines:\n\(firstDifference(outputs[0], outputs[1]))")
        XCTAssertEqual(disks[0], disks[1], "the USB disk image differs between the engines")
    }

    /// Linux with the built-in edu and the acme.edu plugin function on the AIA board: identical
    /// under both engines.
    func testLinuxWithAPluginDeviceIsIdenticalUnderBothEngines() throws {
        let artifacts = try linuxArtifacts()
        let jit = try LinuxGuest.boot(artifacts, interrupts: .aia, harts: 1, disk: nil, edu: true, accel: "jit")
        let interp = try LinuxGuest.boot(artifacts, interrupts: .aia, harts: 1, disk: nil, edu: true, accel: "interp")
        XCTAssertEqual(jit.status, 0, "no clean poweroff:\n\(jit.output.suffix(2000))")
        XCTAssertEqual(jit.lines("pci 0000:00:04.0 ").count, 1, "init did not list the plugin function")
        XCTAssertEqual(jit.output, interp.output, "the console differs between the engines:\n\(firstDifference(jit.output, interp.output))")
    }

    /// The plugin example guests (Guests/plugins: acme.edu's DMA with INTx and with MSI-X,
    /// acme.timer's plugin timer and IRQ): every device event, with its virtual timestamp, the
    /// hart and the pc that caused it (`--trace`), is the same under both engines and in a second
    /// JIT run. A plugin timer's latency lands at the same guest instruction every time.
    func testPluginGuestsTraceTheSameEventsAtTheSameTimesUnderBothEngines() throws {
        let binary = try backplane()
        let edu = try PluginGuestTests.plugin("acme_edu")
        let cases: [(board: String, plugin: String, device: String, guest: String)] = [
            ("virt", edu, "acme.edu,at=pcie0/03.0", try PluginGuestTests.guest("EDU_INTX")),
            ("virt-aia", edu, "acme.edu,at=pcie0/03.0", try PluginGuestTests.guest("EDU_MSIX")),
            ("virt", try PluginGuestTests.plugin("acme_timer"), "acme.timer,reg=0x10002000:0x1000,irq=plic0@12", try PluginGuestTests.guest("TIMER")),
        ]
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("trace-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for (index, item) in cases.enumerated() {
            var traces: [String] = []
            for accel in ["jit", "interp", "jit"] {
                let trace = folder.appendingPathComponent("\(index)-\(traces.count).trace").path
                let run = try GuestHarness.run([binary, "run", item.board, "--bios", "none", "--plugin", item.plugin,
                                                "--device", item.device, "--kernel", item.guest, "--accel", accel,
                                                "--trace", "mmio,pci,dma,irq,plugin", "--trace-file", trace, "--timeout", "60"], timeout: 90)
                XCTAssertEqual(run.status, 0, "\(item.device) \(accel): \(run.output)")
                XCTAssertTrue(run.output.contains("PASS"), run.output)
                traces.append(try String(contentsOfFile: trace, encoding: .utf8))
            }
            XCTAssertGreaterThan(traces[0].split(separator: "\n").count, 50, "too little traced to compare")
            XCTAssertEqual(traces[1], traces[0], "\(item.device): the interpreter's trace differs:\n\(firstDifference(traces[0], traces[1]))")
            XCTAssertEqual(traces[2], traces[0], "\(item.device): a second JIT run's trace differs:\n\(firstDifference(traces[0], traces[2]))")
        }
    }

    /// A virtual-clock run reads no host time: with the host's clocks made to lie (7 times as
    /// fast, a day late: Guests/clock/warp_host_clock.c, preloaded), the Linux boot prints exactly
    /// what it prints without the lie. The same lie does change a `--clock host` run (the idle
    /// guest's 2-second wait ends in well under 2 seconds), so the shim is known to bite.
    func testAVirtualClockRunDoesNotNoticeTheHostClock() throws {
        let binary = try backplane()
        let artifacts = try LinuxGuest.artifacts()
        let shim = try buildWarpShim()
        let linux = [binary, "run", "virt", "--kernel", artifacts.image, "--initrd", artifacts.initramfs,
                     "--append", "console=ttyS0 earlycon", "--memory", "256M", "--serial", "stdio", "--timeout", "600"]
        let plain = try GuestHarness.run(linux, timeout: 200)
        let warped = try GuestHarness.run(["LD_PRELOAD=\(shim)", "WARP_FACTOR=7"] + linux, timeout: 200)
        XCTAssertEqual(plain.status, 0, plain.output.suffix(2000).description)
        XCTAssertTrue(plain.output.contains("BP: done"))
        XCTAssertEqual(warped.output, plain.output, "the host clock leaked into a virtual-clock run:\n\(firstDifference(plain.output, warped.output))")

        // The control: under --clock host the lie is seen.
        let wait = try buildWaitGuest(ticks: 2 * 10_000_000)
        let start = Date()
        let host = try GuestHarness.run(["LD_PRELOAD=\(shim)", "WARP_FACTOR=20", binary, "run", "virt", "--bios", "none",
                                         "--kernel", wait, "--clock", "host", "--timeout", "60"], timeout: 90)
        let seconds = Date().timeIntervalSince(start)
        XCTAssertEqual(host.status, 0, host.output)
        XCTAssertLessThan(seconds, 1.0, "the warp shim did not speed up a --clock host run (it took \(seconds) s for 2 s of mtime)")
    }

    // MARK: Idle skipping

    /// A bare-metal guest waits 10 s of mtime in WFI: the machine jumps the clock to the compare
    /// value instead of sleeping, so the run takes well under a second of host time, mtime
    /// reads back exactly the compare value, and the instruction count is the same under both
    /// engines.
    func testTenSecondsOfIdleTimeCostNoHostTime() throws {
        let binary = try backplane()
        let elf = try buildWaitGuest(ticks: 10 * 10_000_000)
        var counts: [String] = []
        for accel in ["jit", "interp"] {
            let start = Date()
            let run = try GuestHarness.run([binary, "run", "virt", "--bios", "none", "--kernel", elf, "--accel", accel,
                                            "--timeout", "30"], timeout: 60)
            let seconds = Date().timeIntervalSince(start)
            XCTAssertEqual(run.status, 0, run.output)
            XCTAssertLessThan(seconds, 1.0, "\(accel): 10 s of virtual idle time took \(seconds) s of host time")
            let values = Dictionary(uniqueKeysWithValues: run.output.split(separator: "\n").compactMap { line -> (String, String)? in
                let words = line.split(separator: " ")
                return words.count == 2 ? (String(words[0]), String(words[1])) : nil
            })
            XCTAssertNotNil(values["target"], run.output)
            XCTAssertEqual(values["mtime"], values["target"], "\(accel): mtime after the wait is not the compare value:\n\(run.output)")
            counts.append(values["minstret"] ?? "?")
        }
        XCTAssertEqual(counts[0], counts[1], "the engines retired different instruction counts")
    }

    /// Timers armed by a guest register write in the middle of a slice fire at exactly the
    /// instruction their deadline names, under both engines (Guests/clock/deadline.c): the
    /// ACLINT's `mtimecmp` 37 ticks ahead (3,700 instructions, where the old loop took it at the
    /// end of its 50,000-instruction slice) and the goldfish RTC's alarm 5,321 ns ahead, through
    /// the PLIC.
    func testATimerArmedInTheMiddleOfASliceFiresAtItsInstruction() throws {
        let binary = try backplane()
        let elf = try buildClockGuest("deadline", defines: [])
        var outputs: [String] = []
        for accel in ["jit", "interp"] {
            let run = try GuestHarness.run([binary, "run", "virt", "--bios", "none", "--kernel", elf, "--accel", accel,
                                            "--timeout", "30"], timeout: 60)
            XCTAssertEqual(run.status, 0, "\(accel):\n\(run.output)")
            var deadlines: [String: (deadline: UInt64, units: UInt64)] = [:]
            for line in run.output.split(separator: "\n") {
                let words = line.split(separator: " ")
                guard words.count == 3, let deadline = UInt64(words[1].dropFirst(2), radix: 16),
                      let units = UInt64(words[2].dropFirst(2), radix: 16) else { continue }
                deadlines[String(words[0])] = (deadline, units)
            }
            // 10 MHz ticks at 10^9 instructions per second: tick T is unit 100 T.
            let timer = try XCTUnwrap(deadlines["mtimecmp"], run.output)
            XCTAssertEqual(timer.units, timer.deadline * 100, "\(accel): the timer interrupt came at another instruction")
            // The RTC counts nanoseconds from its epoch property (default 2026-01-01): one per unit.
            let alarm = try XCTUnwrap(deadlines["alarm"], run.output)
            XCTAssertEqual(alarm.units, alarm.deadline - 1_767_225_600 * 1_000_000_000,
                           "\(accel): the RTC alarm interrupt came at another instruction")
            outputs.append(run.output)
        }
        XCTAssertEqual(outputs[0], outputs[1], "the engines took the interrupts at different instructions")
    }

    // MARK: Record and replay

    /// A console session with U-Boot is recorded (typed input, autoboot stopped, commands, poweroff),
    /// then replayed with no input: the replay prints the same transcript byte for byte. A
    /// recording with one typed character changed reports where the replay left the recorded path.
    func testARecordedUBootSessionReplaysToTheSameTranscript() throws {
        let binary = try backplane()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("replay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let journal = folder.appendingPathComponent("session.journal").path

        guard let uBoot = try UBootConsole.boot(board: "virt", arguments: ["--record", journal]) else { return }
        XCTAssertTrue(uBoot.run("version").contains("U-Boot 20"))
        XCTAssertTrue(uBoot.run("echo recorded session").contains("recorded session"))
        uBoot.powerOff()
        let recorded = uBoot.session.transcript

        let replay = try GuestHarness.run([binary, "run", "virt", "--replay", journal, "--timeout", "180"], timeout: 200)
        XCTAssertEqual(replay.status, 0, replay.output.suffix(2000).description)
        XCTAssertEqual(replay.output, recorded, "the replay printed something else:\n\(firstDifference(recorded, replay.output))")

        // Edit the recording: the last 'd' of "recorded" becomes 'D'. U-Boot echoes each typed
        // character, so each is an event of its own; find them by the bytes the events carry.
        let text = try String(contentsOfFile: journal, encoding: .utf8)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var typed: [(line: Int, byte: UInt8)] = []
        for (number, line) in lines.enumerated() where line.hasPrefix("serial ") {
            let hex = Array(line.split(separator: " ").last!.utf8)
            for index in stride(from: 0, to: hex.count, by: 2) {
                typed.append((number, UInt8(String(decoding: hex[index..<index + 2], as: UTF8.self), radix: 16)!))
            }
        }
        let bytes = typed.map(\.byte)
        let word = Array("recorded".utf8)
        let start = try XCTUnwrap((0...(bytes.count - word.count)).first { Array(bytes[$0..<$0 + word.count]) == word },
                                  "the journal does not hold the typed command:\n\(text)")
        let target = typed[start + word.count - 1].line
        XCTAssertTrue(lines[target].hasSuffix(" 64"), "expected the 'd' alone on its line: \(lines[target])")
        lines[target] = String(lines[target].dropLast(2)) + "44"
        let editedPath = folder.appendingPathComponent("edited.journal").path
        try lines.joined(separator: "\n").write(toFile: editedPath, atomically: false, encoding: .utf8)
        let diverged = try GuestHarness.run([binary, "run", "virt", "--replay", editedPath, "--timeout", "180"], timeout: 200)
        XCTAssertEqual(diverged.status, 3, "an edited recording must end with status 3:\n\(diverged.output.suffix(1500))")
        XCTAssertTrue(diverged.output.contains("diverged: at time "), diverged.output.suffix(1500).description)
        XCTAssertTrue(diverged.output.contains("where the recording says"), diverged.output.suffix(1500).description)

        // The wrong machine, and the host clock, are refused before anything runs.
        let other = try GuestHarness.run([binary, "run", "virt-aia", "--replay", journal, "--timeout", "30"], timeout: 60)
        XCTAssertEqual(other.status, 2)
        XCTAssertTrue(other.output.contains("was recorded on 'virt harts 1"), other.output)
        let host = try GuestHarness.run([binary, "run", "virt", "--clock", "host", "--record", journal, "--timeout", "30"], timeout: 60)
        XCTAssertEqual(host.status, 2)
        XCTAssertTrue(host.output.contains("--record needs the virtual clock"), host.output)
    }

    // MARK: Helpers

    private func backplane() throws -> String {
        guard case .backplane(let binary) = GuestHarness.emulator else { throw XCTSkip("the virtual clock is Backplane's") }
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw MissingBinary(path: binary) }
        return binary
    }

    private func linuxArtifacts() throws -> LinuxGuest.Artifacts {
        _ = try backplane()
        return try LinuxGuest.artifacts()
    }

    /// Guests/clock/wait.c, waiting `ticks` of mtime.
    private func buildWaitGuest(ticks: UInt64) throws -> String {
        try buildClockGuest("wait", defines: ["-DWAIT_TICKS=\(ticks)ull"], suffix: "-\(ticks)")
    }

    /// Guests/clock/NAME.c with Guests/common/start.S, built with Debian's riscv64-unknown-elf-gcc.
    private func buildClockGuest(_ name: String, defines: [String], suffix: String = "") throws -> String {
        let root = GuestHarness.packageRoot
        let output = GuestHarness.buildDirectory.appendingPathComponent("clock")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let elf = output.appendingPathComponent("\(name)\(suffix).elf").path
        let run = try GuestHarness.run(["riscv64-unknown-elf-gcc", "-march=rv64gc", "-mabi=lp64d", "-mcmodel=medany", "-O2",
                                        "-ffreestanding", "-fno-builtin", "-nostdlib", "-nostartfiles", "-static",
                                        "-Wl,--no-warn-rwx-segments"] + defines + [
                                        "-T", root.appendingPathComponent("Guests/isa/link.ld").path,
                                        root.appendingPathComponent("Guests/common/start.S").path,
                                        root.appendingPathComponent("Guests/clock/\(name).c").path, "-o", elf], timeout: 120)
        guard run.status == 0 else { throw PluginBuildError(description: "riscv64-unknown-elf-gcc failed:\n\(run.output)") }
        return elf
    }

    /// Guests/clock/warp_host_clock.c as a shared object for LD_PRELOAD.
    private func buildWarpShim() throws -> String {
        let output = GuestHarness.buildDirectory.appendingPathComponent("clock")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let shim = output.appendingPathComponent("warp_host_clock.so").path
        let run = try GuestHarness.run(["cc", "-shared", "-fPIC", "-O2", "-o", shim,
                                        GuestHarness.packageRoot.appendingPathComponent("Guests/clock/warp_host_clock.c").path, "-ldl"],
                                       timeout: 120)
        guard run.status == 0 else { throw PluginBuildError(description: "cc failed:\n\(run.output)") }
        return shim
    }

    /// Where two outputs first differ, with a little context.
    private func firstDifference(_ a: String, _ b: String) -> String {
        let x = Array(a.utf8), y = Array(b.utf8)
        var index = 0
        while index < min(x.count, y.count) && x[index] == y[index] { index += 1 }
        let from = max(0, index - 200)
        return "at byte \(index):\n--- first\n\(String(decoding: x[from..<min(x.count, index + 200)], as: UTF8.self))\n--- second\n\(String(decoding: y[from..<min(y.count, index + 200)], as: UTF8.self))"
    }
}

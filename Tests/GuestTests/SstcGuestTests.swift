import Foundation
import XCTest

/// Sstc from the guest side (docs/architecture.md, "Virtual time"): `Guests/clock/sstc.c`, a
/// bare-metal program whose S-mode programs `stimecmp`, checked against QEMU 7.2 (whose default
/// `rv64` CPU has Sstc); and the Linux guest, which uses `stimecmp` instead of SBI `set_timer`
/// when the device tree names `sstc`.
final class SstcGuestTests: XCTestCase {
    private func backplane(file: StaticString = #filePath, line: UInt = #line) throws -> String {
        guard case .backplane(let path) = GuestHarness.emulator, GuestHarness.command(board: "virt", file: file, line: line) != nil else {
            throw XCTSkip("these runs compare Backplane's engines and hart counts; the QEMU run is its own test")
        }
        return path
    }

    /// Guests/clock/sstc.c built with a WFI wait of `waitTicks` (10 MHz ticks).
    private func buildGuest(waitTicks: UInt64) throws -> String {
        let root = GuestHarness.packageRoot
        let output = GuestHarness.buildDirectory.appendingPathComponent("clock")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let elf = output.appendingPathComponent("sstc-\(waitTicks).elf").path
        let run = try GuestHarness.run(["riscv64-unknown-elf-gcc", "-march=rv64gc", "-mabi=lp64d", "-mcmodel=medany", "-O2",
                                        "-ffreestanding", "-fno-builtin", "-nostdlib", "-nostartfiles", "-static",
                                        "-Wl,--no-warn-rwx-segments", "-DWAIT_TICKS=\(waitTicks)ull",
                                        "-T", root.appendingPathComponent("Guests/isa/link.ld").path,
                                        root.appendingPathComponent("Guests/common/start.S").path,
                                        root.appendingPathComponent("Guests/clock/sstc.c").path, "-o", elf], timeout: 120)
        guard run.status == 0 else { throw PluginBuildError(description: "riscv64-unknown-elf-gcc failed:\n\(run.output)") }
        return elf
    }

    /// The guest's `name value` lines.
    private func values(_ output: String) -> [String: UInt64] {
        var values: [String: UInt64] = [:]
        for line in output.split(whereSeparator: \.isNewline) {
            let words = line.split(separator: " ")
            if words.count == 2, words[1].hasPrefix("0x"), let value = UInt64(words[1].dropFirst(2), radix: 16) {
                values[String(words[0])] = value
            }
        }
        return values
    }

    /// The guest passes under both engines with one and two harts, and ten seconds of WFI cost
    /// no host time. Each timer interrupt is taken at exactly the tick `stimecmp` names (the
    /// handler reads `time` equal to the target, as it reads `mtime` equal to `mtimecmp` in the
    /// idle-skipping test), with the same output under the interpreter and the JIT. The second
    /// hart parks in WFI at once and uses no time afterwards: hart 0's instruction counts at
    /// both interrupts are lower by the same amount, the parked hart's few instructions.
    func testTimerInterruptsLandOnTheirTickUnderBothEnginesWithOneAndTwoHarts() throws {
        let binary = try backplane()
        let elf = try buildGuest(waitTicks: 10 * 10_000_000)
        var byHarts: [Int: [String: UInt64]] = [:]
        for harts in [1, 2] {
            var first: String?
            for accel in ["jit", "interp"] {
                let start = Date()
                let run = try GuestHarness.run([binary, "run", "virt", "--bios", "none", "--kernel", elf, "--accel", accel,
                                                "--smp", "\(harts)", "--timeout", "30"], timeout: 60)
                let seconds = Date().timeIntervalSince(start)
                let label = "\(harts) hart(s), \(accel)"
                XCTAssertEqual(run.status, 0, "\(label):\n\(run.output)")
                XCTAssertTrue(run.output.contains("PASS"), "\(label):\n\(run.output)")
                XCTAssertLessThan(seconds, 2.0, "\(label): 10 s of virtual WFI took \(seconds) s of host time")
                let seen = values(run.output)
                XCTAssertNotNil(seen["spin-target"], "\(label):\n\(run.output)")
                XCTAssertEqual(seen["spin-time"], seen["spin-target"], "\(label): the spinning hart's interrupt missed its tick:\n\(run.output)")
                XCTAssertEqual(seen["wait-time"], seen["wait-target"], "\(label): WFI did not wake on its tick:\n\(run.output)")
                if let first {
                    XCTAssertEqual(run.output, first, "\(label): differs from the JIT run")
                } else {
                    first = run.output
                    byHarts[harts] = seen
                }
            }
        }
        let one = try XCTUnwrap(byHarts[1]), two = try XCTUnwrap(byHarts[2])
        let spinShift = try XCTUnwrap(one["spin-minstret"]).subtractingReportingOverflow(try XCTUnwrap(two["spin-minstret"]))
        let waitShift = try XCTUnwrap(one["wait-minstret"]).subtractingReportingOverflow(try XCTUnwrap(two["wait-minstret"]))
        XCTAssertFalse(spinShift.overflow)
        XCTAssertGreaterThan(spinShift.partialValue, 0, "the second hart's instructions before it parks take time")
        XCTAssertLessThan(spinShift.partialValue, 100, "a parked hart uses no time")
        XCTAssertEqual(spinShift.partialValue, waitShift.partialValue, "the parked hart used time between the two interrupts")
    }

    /// The same program on QEMU 7.2 (`-cpu rv64` has Sstc): the rules it checks hold there too.
    func testTheGuestPassesOnQEMU() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/qemu-system-riscv64") else {
            throw XCTSkip("qemu-system-riscv64 is not installed")
        }
        let elf = try buildGuest(waitTicks: 2_000_000)
        let run = try GuestHarness.run(["qemu-system-riscv64", "-M", "virt", "-cpu", "rv64,sstc=on", "-bios", "none",
                                        "-nographic", "-kernel", elf], timeout: 60)
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("PASS"), run.output)
    }

    /// A board whose ISA does not name sstc has no Sstc: menvcfg.STCE stays zero, and the guest
    /// stops at that check.
    func testABoardWithoutSstcHasNoSTCE() throws {
        let binary = try backplane()
        let elf = try buildGuest(waitTicks: 1000)
        let board = try boardWithoutSstc()
        let run = try GuestHarness.run([binary, "run", board, "--bios", "none", "--kernel", elf, "--timeout", "30"], timeout: 60)
        XCTAssertEqual(run.status, 10, run.output)
        XCTAssertTrue(run.output.contains("menvcfg.STCE is not writable: got 0x0000000000000000"), run.output)
    }

    /// Bundled `virt` with `_sstc` taken out of its ISA, in a temporary folder.
    private func boardWithoutSstc() throws -> String {
        let text = try String(contentsOf: GuestHarness.packageRoot.appendingPathComponent("Boards/virt.yaml"), encoding: .utf8)
        XCTAssertTrue(text.contains("zicntr_sstc"), "the bundled virt board names sstc")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sstc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("virt-no-sstc.yaml").path
        try text.replacingOccurrences(of: "zicntr_sstc", with: "zicntr").write(toFile: path, atomically: false, encoding: .utf8)
        return path
    }

    /// Writes of the ACLINT's `mtimecmp` registers (CLINT offsets 0x4000-0xbff7) in a
    /// `--trace mmio:clint0` file: how often OpenSBI armed the M-mode timer.
    private func mtimecmpWrites(_ trace: String) -> Int {
        trace.split(separator: "\n").filter { line in
            guard line.contains(" write "), let range = line.range(of: "offset=0x") else { return false }
            let digits = line[range.upperBound...].prefix { $0.isHexDigit }
            guard let offset = UInt64(digits, radix: 16) else { return false }
            return offset >= 0x4000 && offset < 0xbff8
        }.count
    }

    /// Linux on the bundled virt board: OpenSBI 1.1 finds Sstc ("time,sstc") and Linux 6.12's
    /// timer driver uses it, so after boot nobody arms `mtimecmp` (no SBI `set_timer` calls:
    /// OpenSBI writes it only at its own start, once per hart); on the same board without sstc
    /// every timer tick goes through `set_timer` and `mtimecmp`. The console is byte-identical
    /// under both engines, with one and two harts.
    func testLinuxProgramsStimecmpItselfAndRunsIdenticallyUnderBothEngines() throws {
        let binary = try backplane()
        let artifacts = try LinuxGuest.artifacts()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sstc-linux-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        func boot(_ board: String, harts: Int, accel: String) throws -> (output: String, writes: Int) {
            let trace = folder.appendingPathComponent("trace-\(UUID().uuidString).txt").path
            let run = try GuestHarness.run([binary, "run", board, "--kernel", artifacts.image, "--initrd", artifacts.initramfs,
                                            "--append", "console=ttyS0 earlycon", "--memory", "256M", "--smp", "\(harts)",
                                            "--accel", accel, "--serial", "stdio", "--timeout", "120",
                                            "--trace", "mmio:clint0", "--trace-file", trace], timeout: 180)
            XCTAssertEqual(run.status, 0, "\(board), \(harts) hart(s), \(accel): no clean poweroff:\n\(run.output.suffix(2000))")
            XCTAssertTrue(run.output.contains("BP: done"), "\(board), \(harts) hart(s), \(accel): init did not finish")
            return (run.output, mtimecmpWrites(try String(contentsOfFile: trace, encoding: .utf8)))
        }
        for harts in [1, 2] {
            let jit = try boot("virt", harts: harts, accel: "jit")
            XCTAssertTrue(jit.output.contains("Boot HART ISA Extensions  : time,sstc"), "OpenSBI did not find Sstc:\n\(jit.output.prefix(3000))")
            XCTAssertTrue(jit.output.contains("riscv-timer: Timer interrupt in S-mode is available via sstc extension"),
                          "Linux does not use Sstc:\n\(jit.output.prefix(6000))")
            XCTAssertLessThanOrEqual(jit.writes, harts, "\(harts) hart(s): mtimecmp armed after OpenSBI's start: SBI set_timer was called")
            let interp = try boot("virt", harts: harts, accel: "interp")
            XCTAssertEqual(interp.output, jit.output, "\(harts) hart(s): the interpreter's console differs from the JIT's")
            XCTAssertEqual(interp.writes, jit.writes)
        }
        let without = try boot(try boardWithoutSstc(), harts: 1, accel: "jit")
        XCTAssertFalse(without.output.contains("via sstc extension"), without.output)
        XCTAssertGreaterThan(without.writes, 10, "without Sstc every timer tick is an SBI set_timer and an mtimecmp write")
    }
}

import Foundation
import XCTest

/// The example plugins driven from the guest side: bare-metal programs (Guests/plugins) on
/// `virt` and `virt-aia` with `--bios none`, and the `backplane run` error exits. Plugins are
/// compiled from Plugins/examples with the host C compiler, as a plugin author would.
/// An example plugin that does not compile: the test fails with the compiler's words.
struct PluginBuildError: Error, CustomStringConvertible {
    let description: String
}

final class PluginGuestTests: XCTestCase {
    static let output = GuestHarness.buildDirectory.appendingPathComponent("plugins")
    private static let lock = NSLock()

    /// `cc -shared -fPIC` of example `name`; returns the library path.
    static func plugin(_ name: String) throws -> String {
        lock.lock()
        defer { lock.unlock() }
        let root = GuestHarness.packageRoot
        let library = output.appendingPathComponent("lib\(name).so").path
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let run = try GuestHarness.run(["cc", "-std=c11", "-Wall", "-shared", "-fPIC", "-o", library,
                                        "-I", root.appendingPathComponent("Plugins/include").path,
                                        "-I", root.appendingPathComponent("Plugins/examples/qpp_srv/include").path,
                                        root.appendingPathComponent("Plugins/examples/\(name)/\(name).c").path], timeout: 120)
        guard run.status == 0 else { throw PluginBuildError(description: "cc failed for \(name):\n\(run.output)") }
        return library
    }

    /// Guests/plugins/plugin_guest.c built for `mode` (EDU_INTX, EDU_MSIX, TIMER).
    static func guest(_ mode: String) throws -> String {
        lock.lock()
        defer { lock.unlock() }
        let root = GuestHarness.packageRoot
        let elf = output.appendingPathComponent("\(mode.lowercased()).elf").path
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let run = try GuestHarness.run(["riscv64-unknown-elf-gcc", "-march=rv64gc", "-mabi=lp64d", "-mcmodel=medany", "-O2",
                                        "-ffreestanding", "-fno-builtin", "-nostdlib", "-nostartfiles", "-static",
                                        "-Wl,--no-warn-rwx-segments", "-DMODE_\(mode)",
                                        "-T", root.appendingPathComponent("Guests/isa/link.ld").path,
                                        root.appendingPathComponent("Guests/plugins/start.S").path,
                                        root.appendingPathComponent("Guests/plugins/plugin_guest.c").path, "-o", elf], timeout: 120)
        guard run.status == 0 else { throw PluginBuildError(description: "riscv64-unknown-elf-gcc failed:\n\(run.output)") }
        return elf
    }

    private func backplane() throws -> String {
        guard case .backplane(let binary) = GuestHarness.emulator else { throw XCTSkip("plugins are Backplane's") }
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            XCTFail("backplane binary not found at \(binary): swift build -c release --product backplane")
            throw XCTSkip("no binary")
        }
        return binary
    }

    /// The Swift example plugin loads into the release binary, whose Swift runtime is linked in
    /// statically (Package.swift) while the plugin brings the shared one: the guest reads its ID
    /// and the sum it accumulates.
    func testGuestDrivesTheSwiftPlugin() throws {
        let binary = try backplane()
        let root = GuestHarness.packageRoot
        try FileManager.default.createDirectory(at: Self.output, withIntermediateDirectories: true)
        let library = Self.output.appendingPathComponent("libswift_scratch.so").path
        let build = try GuestHarness.run(["swiftc", "-emit-library", "-module-name", "swift_scratch",
                                          "-I", root.appendingPathComponent("Plugins/include").path,
                                          root.appendingPathComponent("Plugins/examples/swift_scratch/Plugin.swift").path,
                                          "-o", library], timeout: 300)
        XCTAssertEqual(build.status, 0, "swiftc failed for swift_scratch: \(build.output)")
        let elf = Self.output.appendingPathComponent("swift_scratch.elf").path
        let guest = try GuestHarness.run(["riscv64-unknown-elf-gcc", "-march=rv64gc", "-mabi=lp64d", "-nostdlib",
                                          "-nostartfiles", "-static", "-Wl,--no-warn-rwx-segments",
                                          "-T", root.appendingPathComponent("Guests/isa/link.ld").path,
                                          root.appendingPathComponent("Guests/plugins/swift_scratch.S").path, "-o", elf],
                                         timeout: 120)
        XCTAssertEqual(guest.status, 0, guest.output)
        let run = try GuestHarness.run([binary, "run", "virt", "--bios", "none", "--plugin", library,
                                        "--device", "swift.scratch,reg=0x10003000:0x1000", "--kernel", elf,
                                        "--timeout", "60"], timeout: 90)
        XCTAssertEqual(run.status, 0, run.output)
    }

    func testGuestDrivesTheEduPluginAndTakesINTxThroughThePLIC() throws {
        let run = try GuestHarness.run([try backplane(), "run", "virt", "--bios", "none", "--serial", "stdio",
                                        "--plugin", try Self.plugin("acme_edu"), "--device", "acme.edu,at=pcie0/03.0",
                                        "--kernel", try Self.guest("EDU_INTX"), "--timeout", "60"], timeout: 90)
        XCTAssertEqual(run.status, 0, run.output)
        for line in ["acme.edu at 00:0x0000000000000003", "DMA ok", "INTx interrupt ok", "PASS"] {
            XCTAssertTrue(run.output.contains(line), "missing '\(line)':\n\(run.output)")
        }
    }

    func testGuestTakesTheEduPluginsMSIXThroughTheMachineLevelIMSIC() throws {
        let run = try GuestHarness.run([try backplane(), "run", "virt-aia", "--bios", "none",
                                        "--plugin", try Self.plugin("acme_edu"), "--device", "acme.edu,at=pcie0/03.0",
                                        "--kernel", try Self.guest("EDU_MSIX"), "--timeout", "60"], timeout: 90)
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("MSI-X interrupt ok\nPASS"), run.output)
    }

    func testGuestReadsThePlatformPluginAndTakesItsIRQ() throws {
        let run = try GuestHarness.run([try backplane(), "run", "virt", "--bios", "none",
                                        "--plugin", try Self.plugin("acme_timer"),
                                        "--device", "acme.timer,reg=0x10002000:0x1000,irq=plic0@12",
                                        "--kernel", try Self.guest("TIMER"), "--timeout", "60"], timeout: 90)
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("timer interrupt ok\nPASS"), run.output)
    }

    /// Client given first: the host installs qpp_srv first; the client's function runs on every
    /// tick qpp_srv fires, and it unregisters at exit.
    func testQPPClientRunsOnTheServersCallbackWhateverTheCommandLineOrder() throws {
        let run = try GuestHarness.run([try backplane(), "run", "virt", "--bios", "none", "--serial", "none",
                                        "--plugin", try Self.plugin("qpp_client"),
                                        "--plugin", try Self.plugin("qpp_srv") + ",tick-ns=100000",
                                        "--kernel", try Self.guest("TIMER"), "--timeout", "1"], timeout: 60)
        XCTAssertTrue(run.output.contains("backplane: plugin qpp_client: installed; do_add(1) = 2"), run.output)
        let summary = try XCTUnwrap(run.output.split(separator: "\n").first { $0.contains("qpp_client: saw") }, run.output)
        func number(after word: String) -> Int? {
            guard let range = summary.range(of: word) else { return nil }
            return Int(summary[range.upperBound...].prefix { $0.isNumber })
        }
        let seen = try XCTUnwrap(number(after: "saw "), String(summary))
        XCTAssertGreaterThan(seen, 0, "the client's function ran")
        XCTAssertEqual(number(after: "counted "), seen, "it ran on every tick")
        XCTAssertTrue(summary.hasSuffix("do_add(41) = 42, do_sub(43) = 42; unregister: found, then not found"), String(summary))
        XCTAssertTrue(run.output.contains("backplane: plugin qpp_srv: on_exit ran 0 function(s)"), run.output)
    }

    func testAMissingPluginFileStopsTheRunWithStatus2() throws {
        let run = try GuestHarness.run([try backplane(), "run", "virt", "--plugin", "/nonexistent/libacme.so"], timeout: 30)
        XCTAssertEqual(run.status, 2)
        XCTAssertEqual(run.output, "backplane: error: plugin '/nonexistent/libacme.so': no such file\n")
    }

    func testAMissingDependencyStopsTheRunWithStatus2() throws {
        let run = try GuestHarness.run([try backplane(), "run", "virt", "--plugin", try Self.plugin("qpp_client")], timeout: 30)
        XCTAssertEqual(run.status, 2)
        XCTAssertEqual(run.output, "backplane: error: plugin 'qpp_client' uses 'qpp_srv', which is not loaded\n")
    }
}

/// The insn_count example (Plugins/examples/insn_count) on a guest whose loop length is known.
final class InsnCountGuestTests: XCTestCase {
    /// Guests/plugins/insn_loop.c with `iterations` loop iterations.
    static func loop(_ iterations: Int) throws -> String {
        let root = GuestHarness.packageRoot
        let output = PluginGuestTests.output
        let elf = output.appendingPathComponent("insn_loop_\(iterations).elf").path
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let run = try GuestHarness.run(["riscv64-unknown-elf-gcc", "-march=rv64gc", "-mabi=lp64d", "-mcmodel=medany", "-O2",
                                        "-ffreestanding", "-fno-builtin", "-nostdlib", "-nostartfiles", "-static",
                                        "-Wl,--no-warn-rwx-segments", "-DITERATIONS=\(iterations)",
                                        "-T", root.appendingPathComponent("Guests/isa/link.ld").path,
                                        root.appendingPathComponent("Guests/plugins/start.S").path,
                                        root.appendingPathComponent("Guests/plugins/insn_loop.c").path, "-o", elf], timeout: 120)
        guard run.status == 0 else { throw PluginBuildError(description: "riscv64-unknown-elf-gcc failed:\n\(run.output)") }
        return elf
    }

    /// (hart 0's count from the plugin, minstret the guest printed).
    func count(iterations: Int, accel: String, mode: String = "block") throws -> (counted: Int, minstret: Int) {
        guard case .backplane(let binary) = GuestHarness.emulator else { throw XCTSkip("plugins are Backplane's") }
        let run = try GuestHarness.run([binary, "run", "virt", "--bios", "none", "--accel", accel,
                                        "--plugin", try PluginGuestTests.plugin("insn_count") + ",mode=\(mode)",
                                        "--kernel", try Self.loop(iterations), "--timeout", "60"], timeout: 90)
        XCTAssertEqual(run.status, 0, run.output)
        let lines = run.output.split(separator: "\n")
        let counted = try XCTUnwrap(lines.first { $0.hasPrefix("backplane: plugin insn_count: hart 0: ") }, run.output)
        let printed = try XCTUnwrap(lines.first { $0.hasPrefix("minstret=") }, run.output)
        let number = try XCTUnwrap(Int(counted.dropFirst("backplane: plugin insn_count: hart 0: ".count).prefix { $0.isNumber }))
        let minstret = try XCTUnwrap(Int(printed.dropFirst("minstret=".count), radix: 16))
        return (number, minstret)
    }

    func checkLoopCount(accel: String) throws {
        let short = try count(iterations: 500, accel: accel)
        let long = try count(iterations: 2000, accel: accel)
        XCTAssertEqual(long.counted - short.counted, 4 * 1500, "4 instructions per extra iteration")
        XCTAssertEqual(long.minstret - short.minstret, 4 * 1500, "the guest agrees")
        // What the plugin counts beyond the guest's minstret read (the printing and power-off)
        // does not depend on the loop.
        XCTAssertEqual(long.counted - long.minstret, short.counted - short.minstret)
        XCTAssertGreaterThan(short.counted, short.minstret)
    }

    func testInsnCountCountsTheLoopExactlyUnderTheInterpreter() throws { try checkLoopCount(accel: "interp") }
    func testInsnCountCountsTheLoopExactlyUnderTheJIT() throws { try checkLoopCount(accel: "jit") }

    func testBothEnginesAndBothModesCountTheSame() throws {
        let interp = try count(iterations: 1000, accel: "interp")
        XCTAssertEqual(try count(iterations: 1000, accel: "jit").counted, interp.counted)
        XCTAssertEqual(try count(iterations: 1000, accel: "interp", mode: "insn").counted, interp.counted)
    }
}

import Foundation
import XCTest

/// Input from outside through the plugin ABI (plugin.h `host->external`, ABI 1.4), end to end:
/// the acme_feed example (Plugins/examples/acme_feed) reads a host file on a thread of its own
/// and submits it; a bare-metal guest (Guests/plugins/feed_guest.c) prints every batch with the
/// machine time it woke at. `--record` journals the inputs, `--replay` plays them back with the
/// file gone, and an edited journal makes the replay stop with status 3.
final class ExternalInputGuestTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("feed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    private func backplane() throws -> String {
        guard case .backplane(let binary) = GuestHarness.emulator else { throw XCTSkip("plugins are Backplane's") }
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            XCTFail("backplane binary not found at \(binary): swift build -c release --product backplane")
            throw XCTSkip("no binary")
        }
        return binary
    }

    /// Guests/plugins/feed_guest.c, built once per test process.
    private static func guest() throws -> String {
        let root = GuestHarness.packageRoot
        let elf = PluginGuestTests.output.appendingPathComponent("feed_guest.elf").path
        try FileManager.default.createDirectory(at: PluginGuestTests.output, withIntermediateDirectories: true)
        let run = try GuestHarness.run(["riscv64-unknown-elf-gcc", "-march=rv64gc", "-mabi=lp64d", "-mcmodel=medany", "-O2",
                                        "-ffreestanding", "-fno-builtin", "-nostdlib", "-nostartfiles", "-static",
                                        "-Wl,--no-warn-rwx-segments",
                                        "-T", root.appendingPathComponent("Guests/isa/link.ld").path,
                                        root.appendingPathComponent("Guests/plugins/start.S").path,
                                        root.appendingPathComponent("Guests/plugins/feed_guest.c").path, "-o", elf], timeout: 120)
        guard run.status == 0 else { throw PluginBuildError(description: "riscv64-unknown-elf-gcc failed:\n\(run.output)") }
        return elf
    }

    private func feed(_ journalOption: [String], source: String) throws -> GuestHarness.Run {
        try GuestHarness.run([try backplane(), "run", "virt", "--bios", "none",
                              "--plugin", try PluginGuestTests.plugin("acme_feed"),
                              "--device", "acme.feed,reg=0x10002000:0x1000,irq=plic0@12,source=\(source),chunk=16,gap-us=20000",
                              "--kernel", try Self.guest(), "--timeout", "60"] + journalOption, timeout: 90)
    }

    func testARecordedFeedReplaysWithoutItsSourceAndAnEditedJournalDiverges() throws {
        let source = folder.appendingPathComponent("input.txt").path
        let text = "alpha\nbeta\ngamma\ndelta and a longer line\nend\n"
        try text.write(toFile: source, atomically: false, encoding: .utf8)
        let journal = folder.appendingPathComponent("run.journal").path

        let recorded = try feed(["--record", journal], source: source)
        XCTAssertEqual(recorded.status, 0, recorded.output)
        XCTAssertTrue(recorded.output.contains("end of input: \(text.utf8.count) bytes in "), recorded.output)
        XCTAssertTrue(recorded.output.contains("alpha|beta|"), recorded.output)
        let lines = try String(contentsOfFile: journal, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "backplane-journal 3")
        let inputs = lines.filter { $0.hasPrefix("input ") }
        // 16-byte chunks of the file, then the end of the source (no bytes).
        XCTAssertEqual(inputs.count, (text.utf8.count + 15) / 16 + 1, lines.joined(separator: "\n"))
        XCTAssertTrue(inputs.allSatisfy { $0.contains(" plugin:acme_feed/acme.feed0 ") }, inputs.joined(separator: "\n"))
        XCTAssertTrue(inputs.last?.hasSuffix(" -") ?? false, inputs.joined(separator: "\n"))

        // The source is gone: the replay does not open it, and prints the same transcript,
        // times included.
        try FileManager.default.removeItem(atPath: source)
        let replayed = try feed(["--replay", journal], source: source)
        XCTAssertEqual(replayed.status, 0, replayed.output)
        XCTAssertEqual(replayed.output, recorded.output)
        // A live run does open it (so the replay really did without it).
        let live = try feed([], source: source)
        XCTAssertEqual(live.status, 2, live.output)
        XCTAssertTrue(live.output.contains("acme.feed: cannot open source '\(source)': No such file or directory"), live.output)

        // One journaled byte changed ('a' of "alpha" made 'A'): the guest prints something else,
        // and the replay stops at the next check with status 3.
        let edited = folder.appendingPathComponent("edited.journal").path
        let first = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("input ") })
        var changed = lines
        changed[first] = changed[first].replacingOccurrences(of: "acme.feed0 61", with: "acme.feed0 41")
        XCTAssertNotEqual(changed[first], lines[first])
        try (changed.joined(separator: "\n") + "\n").write(toFile: edited, atomically: false, encoding: .utf8)
        let diverged = try feed(["--replay", edited], source: source)
        XCTAssertEqual(diverged.status, 3, diverged.output)
        XCTAssertTrue(diverged.output.contains("Alpha|"), diverged.output)
        XCTAssertTrue(diverged.output.contains("backplane: replay of \(edited) diverged: "), diverged.output)
        XCTAssertTrue(diverged.output.contains("where the recording says") || diverged.output.contains("the recording ended with"), diverged.output)

        // An input for a channel no plugin opened is a divergence too.
        let renamed = folder.appendingPathComponent("renamed.journal").path
        try (lines.map { $0.replacingOccurrences(of: "acme.feed0", with: "other0") }.joined(separator: "\n") + "\n")
            .write(toFile: renamed, atomically: false, encoding: .utf8)
        let foreign = try feed(["--replay", renamed], source: source)
        XCTAssertEqual(foreign.status, 3, foreign.output)
        XCTAssertTrue(foreign.output.contains("the recording gives plugin:acme_feed/other0 input at this time, but no plugin opened that channel (open ones: plugin:acme_feed/acme.feed0)"), foreign.output)
    }
}

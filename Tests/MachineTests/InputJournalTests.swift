import Devices
import IRQ
import XCTest
@testable import Machine

/// The journal of `--record` / `--replay` (InputJournal.swift): what it writes, what it refuses
/// to read, and how a replay notices it left the recorded path.
final class InputJournalTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("journal-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    private func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    private func virtualClock() -> Timebase { Timebase(clock: .virtual(instructionsPerSecond: 1_000_000_000)) }

    /// Records input at two times with output in between, then replays it through a fresh
    /// backend: the same bytes come out at the same times, and the end matches.
    func testARecordingReplaysTheSameInputAtTheSameTimes() throws {
        let clock = virtualClock()
        let recorder = try InputJournal(recordingTo: path("j"), machine: "virt harts 1 ips 1000000000")
        recorder.attach(clock)
        let live = MemorySerialBackend()
        let recording = recorder.wrap(live)
        live.inject("ab")
        clock.advance(units: 1_000)
        recording.write(UInt8(ascii: ">"))
        XCTAssertEqual(recording.read(), UInt8(ascii: "a"))
        XCTAssertEqual(recording.read(), UInt8(ascii: "b"))
        XCTAssertNil(recording.read())
        clock.advance(units: 500)
        live.inject("\r")
        XCTAssertEqual(recording.read(), 13)
        recording.write(UInt8(ascii: "!"))
        XCTAssertNil(recorder.finish("poweroff 0"))
        let text = try String(contentsOfFile: path("j"), encoding: .utf8)
        XCTAssertEqual(text.split(separator: "\n").count, 5, text)
        XCTAssertTrue(text.contains("serial 1000 out 1 "), text)
        XCTAssertTrue(text.hasSuffix(" poweroff 0\n"), text)

        let replayClock = virtualClock()
        let replayer = try InputJournal(replaying: path("j"), machine: "virt harts 1 ips 1000000000")
        replayer.attach(replayClock)
        let replaying = replayer.wrap(MemorySerialBackend())
        XCTAssertNil(replaying.read(), "nothing before time 1000")
        replayClock.advance(units: 1_000)
        replaying.write(UInt8(ascii: ">"))
        XCTAssertEqual(replaying.read(), UInt8(ascii: "a"))
        XCTAssertEqual(replaying.read(), UInt8(ascii: "b"))
        XCTAssertNil(replaying.read())
        XCTAssertNil(replayer.check())
        replayClock.advance(units: 500)
        XCTAssertEqual(replaying.read(), 13)
        replaying.write(UInt8(ascii: "!"))
        XCTAssertNil(replayer.finish("poweroff 0"))
    }

    func testInputTheGuestDoesNotTakeInTimeIsADivergence() throws {
        let clock = virtualClock()
        let recorder = try InputJournal(recordingTo: path("j"), machine: "m")
        recorder.attach(clock)
        let live = MemorySerialBackend()
        let recording = recorder.wrap(live)
        clock.advance(units: 100)
        live.inject("x")
        _ = recording.read()
        _ = recorder.finish("poweroff 0")

        let replayClock = virtualClock()
        let replayer = try InputJournal(replaying: path("j"), machine: "m")
        replayer.attach(replayClock)
        replayClock.advance(units: 200)
        let message = try XCTUnwrap(replayer.check())
        XCTAssertTrue(message.contains("input 'x' at time 100, but the guest did not take it before 200"), message)
    }

    func testDifferentOutputBeforeAnInputIsADivergence() throws {
        let clock = virtualClock()
        let recorder = try InputJournal(recordingTo: path("j"), machine: "m")
        recorder.attach(clock)
        let live = MemorySerialBackend()
        let recording = recorder.wrap(live)
        recording.write(UInt8(ascii: "A"))
        live.inject("x")
        _ = recording.read()
        _ = recorder.finish("poweroff 0")

        let replayer = try InputJournal(replaying: path("j"), machine: "m")
        replayer.attach(virtualClock())
        let replaying = replayer.wrap(MemorySerialBackend())
        replaying.write(UInt8(ascii: "B"))
        XCTAssertNil(replaying.read())
        let message = try XCTUnwrap(replayer.divergence)
        XCTAssertTrue(message.contains("the guest had printed 1 bytes"), message)
        XCTAssertTrue(message.contains("where the recording says 1"), message)
    }

    func testAnotherEndIsADivergence() throws {
        let recorder = try InputJournal(recordingTo: path("j"), machine: "m")
        recorder.attach(virtualClock())
        _ = recorder.finish("poweroff 0")
        let replayer = try InputJournal(replaying: path("j"), machine: "m")
        replayer.attach(virtualClock())
        let message = try XCTUnwrap(replayer.finish("poweroff 1"))
        XCTAssertTrue(message.contains("the run ended with poweroff 1 at time 0"), message)
    }

    func testBrokenJournalsAreRefusedWithTheirLine() throws {
        func refusal(_ text: String, machine: String = "m") -> String {
            try? text.write(toFile: path("bad"), atomically: false, encoding: .utf8)
            do {
                _ = try InputJournal(replaying: path("bad"), machine: machine)
                return ""
            } catch { return error.description }
        }
        XCTAssertTrue(refusal("hello\n").contains("bad:1: not a Backplane journal"))
        XCTAssertTrue(refusal("backplane-journal 1\n").contains("bad:2: expected 'machine"))
        XCTAssertTrue(refusal("backplane-journal 1\nmachine m\nserial x out 1 0000000000000000 61\n").contains("bad:3: cannot read"))
        XCTAssertTrue(refusal("backplane-journal 1\nmachine m\nserial 5 out 1 0000000000000000 6\n").contains("bad:3: cannot read"), "odd hex")
        XCTAssertTrue(refusal("backplane-journal 1\nmachine m\nserial 5 out 1 0000000000000000 61\nserial 4 out 1 0000000000000000 61\n")
            .contains("bad:4: time 4 is before the previous event's 5"))
        XCTAssertTrue(refusal("backplane-journal 1\nmachine m\n", machine: "n").contains("was recorded on 'm', this run is 'n'"))
        XCTAssertTrue(refusal("").contains("not a Backplane journal"))
        // Endless or special files are refused before anything is read.
        for special in ["/dev/zero", "/dev/null", folder.path] {
            XCTAssertThrowsError(try InputJournal(replaying: special, machine: "m")) {
                XCTAssertTrue("\($0)".contains("not a regular file"), "\($0)")
            }
        }
    }

    /// Input from outside (a plugin's external channel): written with its source, handed back
    /// in order at its time and only to sources of the asked prefix; an empty input survives.
    func testExternalInputIsJournaledWithItsSourceAndReplayedInOrder() throws {
        let clock = virtualClock()
        let recorder = try InputJournal(recordingTo: path("j"), machine: "m")
        recorder.attach(clock)
        clock.advance(units: 70)
        recorder.recordInput(source: "plugin:p/a", bytes: [1, 2])
        recorder.recordInput(source: "plugin:p/b", bytes: [])
        clock.advance(units: 30)
        recorder.recordInput(source: "usb:kbd", bytes: [0xff])
        XCTAssertNil(recorder.finish("poweroff 0"))
        let text = try String(contentsOfFile: path("j"), encoding: .utf8)
        XCTAssertEqual(text, """
            backplane-journal 3
            machine m
            input 70 out 0 cbf29ce484222325 plugin:p/a 0102
            input 70 out 0 cbf29ce484222325 plugin:p/b -
            input 100 out 0 cbf29ce484222325 usb:kbd ff
            end 100 out 0 cbf29ce484222325 poweroff 0

            """)

        let replayClock = virtualClock()
        let replayer = try InputJournal(replaying: path("j"), machine: "m")
        replayer.attach(replayClock)
        XCTAssertTrue(replayer.isReplaying)
        XCTAssertEqual(replayer.unitsUntilNextInput(), 70)
        XCTAssertNil(replayer.replayInput(prefix: "plugin:"), "not yet")
        replayClock.advance(units: 70)
        XCTAssertEqual(replayer.unitsUntilNextInput(), 0)
        XCTAssertNil(replayer.replayInput(prefix: "usb:"), "the next one is a plugin's")
        XCTAssertEqual(replayer.replayInput(prefix: "plugin:")?.bytes, [1, 2])
        let empty = try XCTUnwrap(replayer.replayInput(prefix: "plugin:"))
        XCTAssertEqual(empty.source, "plugin:p/b")
        XCTAssertEqual(empty.bytes, [])
        XCTAssertNil(replayer.replayInput(prefix: "plugin:"))
        XCTAssertEqual(replayer.unitsUntilNextInput(), 30)
        replayClock.advance(units: 30)
        XCTAssertEqual(replayer.replayInput(prefix: "usb:")?.bytes, [0xff])
        XCTAssertNil(replayer.unitsUntilNextInput(), "only the end is left")
        XCTAssertNil(replayer.finish("poweroff 0"))
    }

    func testExternalInputTheRunMissesIsADivergence() throws {
        try "backplane-journal 2\nmachine m\ninput 10 out 0 cbf29ce484222325 plugin:p/a 41\nend 20 out 0 cbf29ce484222325 poweroff 0\n"
            .write(toFile: path("j"), atomically: false, encoding: .utf8)
        let clock = virtualClock()
        let replayer = try InputJournal(replaying: path("j"), machine: "m")
        replayer.attach(clock)
        clock.advance(units: 11)
        XCTAssertEqual(replayer.check(), "replay of \(path("j")) diverged: the recording delivers 'A' to plugin:p/a at time 10, but the run was not there to take it before 11/0")
    }

    /// A machine may poll its devices several times at one time (a slice that only takes an
    /// interrupt retires nothing; an idle machine waits for host input with its clock stopped):
    /// an input is journaled with the poll that took it, and a replay delivers it at that poll,
    /// not the first one at its time.
    func testInputsAreJournaledAndReplayedAtTheirPoll() throws {
        let clock = virtualClock()
        let recorder = try InputJournal(recordingTo: path("j"), machine: "m")
        recorder.attach(clock)
        clock.advance(units: 40)
        recorder.devicesPolled()
        recorder.devicesPolled()
        recorder.recordInput(source: "net:n/rx", bytes: [7])
        recorder.devicesPolled()
        clock.advance(units: 1)
        recorder.recordInput(source: "net:n/rx", bytes: [8])
        XCTAssertNil(recorder.finish("poweroff 0"))
        let lines = try String(contentsOfFile: path("j"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines[2], "input 40/2 out 0 cbf29ce484222325 net:n/rx 07", "the third poll at 40")
        XCTAssertEqual(lines[3], "input 41 out 0 cbf29ce484222325 net:n/rx 08", "the first poll at 41")

        let replayClock = virtualClock()
        let replayer = try InputJournal(replaying: path("j"), machine: "m")
        replayer.attach(replayClock)
        replayClock.advance(units: 40)
        XCTAssertEqual(replayer.unitsUntilNextInput(), 0)
        XCTAssertNil(replayer.replayInput(prefix: "net:"), "poll 0 at 40")
        replayer.devicesPolled()
        XCTAssertNil(replayer.check())
        XCTAssertNil(replayer.replayInput(prefix: "net:"), "poll 1 at 40")
        replayer.devicesPolled()
        XCTAssertEqual(replayer.replayInput(prefix: "net:")?.bytes, [7])
        replayer.devicesPolled()
        replayClock.advance(units: 1)
        XCTAssertEqual(replayer.replayInput(prefix: "net:")?.bytes, [8])

        // A run that polls fewer times before moving on misses the input.
        let missing = try InputJournal(replaying: path("j"), machine: "m")
        let missingClock = virtualClock()
        missing.attach(missingClock)
        missingClock.advance(units: 40)
        missing.devicesPolled()
        XCTAssertNil(missing.check())
        missingClock.advance(units: 1)
        XCTAssertEqual(missing.check(), "replay of \(path("j")) diverged: the recording delivers 07 to net:n/rx at time 40/2, but the run was not there to take it before 41/0")
        // One that polls more often at that time misses it too, at the poll after.
        let late = try InputJournal(replaying: path("j"), machine: "m")
        let lateClock = virtualClock()
        late.attach(lateClock)
        lateClock.advance(units: 40)
        for _ in 0..<3 { late.devicesPolled() }
        XCTAssertEqual(late.check(), "replay of \(path("j")) diverged: the recording delivers 07 to net:n/rx at time 40/2, but the run was not there to take it before 40/3")
        // A poll number is only read on inputs, and never 0 written out.
        for bad in ["input 40/0 out 0 cbf29ce484222325 net:n/rx 07", "sent 40/1 out 0 cbf29ce484222325 net:n/tx 07", "input 40/x out 0 cbf29ce484222325 net:n/rx 07",
                    "input 40/100000001 out 0 cbf29ce484222325 net:n/rx 07"] {
            try "backplane-journal 3\nmachine m\n\(bad)\n".write(toFile: path("bad"), atomically: false, encoding: .utf8)
            XCTAssertThrowsError(try InputJournal(replaying: path("bad"), machine: "m"), bad)
        }
    }

    func testOtherJournalVersionsAreRefusedAndVersionOneStillReplays() throws {
        try "backplane-journal 4\nmachine m\n".write(toFile: path("new"), atomically: false, encoding: .utf8)
        XCTAssertThrowsError(try InputJournal(replaying: path("new"), machine: "m")) {
            XCTAssertEqual("\($0)", "--replay: \(self.path("new")):1: journal version 4; this Backplane reads versions 1, 2 and 3")
        }
        try "backplane-journal 1\nmachine m\nserial 5 out 0 cbf29ce484222325 61\nend 9 out 0 cbf29ce484222325 poweroff 0\n"
            .write(toFile: path("old"), atomically: false, encoding: .utf8)
        let clock = virtualClock()
        let replayer = try InputJournal(replaying: path("old"), machine: "m")
        replayer.attach(clock)
        let serial = replayer.wrap(MemorySerialBackend())
        clock.advance(units: 5)
        XCTAssertEqual(serial.read(), UInt8(ascii: "a"))
        clock.advance(units: 4)
        XCTAssertNil(replayer.finish("poweroff 0"))
        // An input line needs a source and bytes (or '-').
        try "backplane-journal 2\nmachine m\ninput 5 out 0 cbf29ce484222325 plugin:p/a\n".write(toFile: path("bad"), atomically: false, encoding: .utf8)
        XCTAssertThrowsError(try InputJournal(replaying: path("bad"), machine: "m")) {
            XCTAssertTrue("\($0)".contains("bad:3: cannot read"), "\($0)")
        }
    }

    /// user networking, usb.host and pci.host (its description, and with vfio: true its VFIO
    /// calls) are journaled; BAR access through sysfs (bars: true without vfio) is not.
    func testBoardsWithHostInputTheJournalDoesNotCoverAreRefusedNamingTheDevice() throws {
        XCTAssertNil(InputJournal.refusal(for: try Board.bundled(name: "virt")))
        XCTAssertNil(InputJournal.refusal(for: try Board.bundled(name: "virt-linux")), "virtio-net on user networking is journaled")
        let yaml = try String(contentsOfFile: XCTUnwrap(Board.bundledPath(name: "virt-linux")), encoding: .utf8)
        let net = "    type: virtio-net-pci\n    at: pcie0/08.0\n    properties: { netdev: user, hostfwd: \"\" }"
        func board(_ properties: String) throws -> Board {
            let passthrough = yaml.replacingOccurrences(of: net, with: "    type: pci.host\n    at: pcie0/08.0\n    properties: { host: \"0000:00:03.0\"\(properties) }")
            XCTAssertNotEqual(passthrough, yaml, "the bundled board's net0 changed shape")
            return try BoardLoader.load(yaml: passthrough, path: "b.yaml")
        }
        XCTAssertNil(InputJournal.refusal(for: try board("")), "the mirrored description is journaled")
        XCTAssertNil(InputJournal.refusal(for: try board(", vfio: true")), "VFIO calls are journaled")
        XCTAssertEqual(InputJournal.refusal(for: try board(", bars: true")),
                       "device 'net0' (pci.host with bars: true) reads the host device's BARs through sysfs, which the journal does not record (use vfio: true, or leave bars off)")
    }

    /// A board's `ips` sets the virtual clock's rate; out of range it is an error at its position.
    func testBoardIPSSetsTheRateAndIsChecked() throws {
        let yaml = try String(contentsOfFile: XCTUnwrap(Board.bundledPath(name: "virt")), encoding: .utf8)
        let line = "timebase-frequency: 10000000    # Hz; QEMU's mtime runs at 10 MHz"
        let fast = yaml.replacingOccurrences(of: line, with: line + "\n  ips: 2000000000")
        XCTAssertNotEqual(fast, yaml, "the bundled board's harts section changed shape")
        XCTAssertEqual(try BoardLoader.load(yaml: fast, path: "b.yaml").harts.instructionsPerSecond, 2_000_000_000)
        let slow = yaml.replacingOccurrences(of: line, with: line + "\n  ips: 1000")
        XCTAssertThrowsError(try BoardLoader.load(yaml: slow, path: "b.yaml")) {
            XCTAssertTrue("\($0)".contains("ips 1000 is out of range 10000000...1000000000000"), "\($0)")
            XCTAssertTrue("\($0)".hasPrefix("b.yaml:"), "\($0)")
        }
    }
}

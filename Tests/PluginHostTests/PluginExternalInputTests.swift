import Foundation
import IRQ
import Memory
import PluginHost
import TestSupport
import XCTest

/// `host->external` (plugin.h, ABI 1.4) with the acme_feed example: live input is delivered at
/// the next poll, recorded input reaches the journal with its channel's source name, and a
/// replay delivers the journal's input without the plugin opening its source.
final class PluginExternalInputTests: XCTestCase {
    /// A journal that remembers what it was given and plays a script back.
    final class ScriptedJournal: ExternalInputJournal {
        let isReplaying: Bool
        var recorded: [(source: String, bytes: [UInt8])] = []
        var script: [(source: String, bytes: [UInt8])]
        var divergences: [String] = []
        init(replaying: Bool, script: [(source: String, bytes: [UInt8])] = []) {
            isReplaying = replaying
            self.script = script
        }
        func recordInput(source: String, bytes: [UInt8]) { recorded.append((source, bytes)) }
        func replayInput(prefix: String) -> (source: String, bytes: [UInt8])? {
            guard let first = script.first, first.source.hasPrefix(prefix) else { return nil }
            return script.removeFirst()
        }
        func checkSent(source: String, bytes: [UInt8]) {}
        func diverge(_ message: String) { divergences.append(message) }
    }

    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("external-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    private func host(_ mode: ExternalInputMode, journal: (any ExternalInputJournal)? = nil) throws -> PluginHost {
        let host = PluginHost()
        host.externalMode = mode
        host.externalInputs.journal = journal
        try host.load([PluginRequest(path: try PluginBuilder.example("acme_feed"))])
        host.attach(timebase: Timebase())
        return host
    }

    private func feed(_ host: PluginHost, name: String = "feed0", source: String, controller: RecordingController) throws -> PluginPlatformDevice {
        let type = try XCTUnwrap(host.platformType(named: "acme.feed"))
        return try host.createPlatformDevice(type: type, device: name, properties: [("source", source), ("gap-us", "0"), ("chunk", "4")],
                                             base: 0x1000_2000, size: 0x1000, irqs: [IRQLine(controller: controller, source: 12)])
    }

    /// Polls the plugin queue (as the machine loop does between slices) until the device has
    /// seen the end of its source, or a second passes.
    private func pollUntilEnd(_ host: PluginHost, _ device: PluginPlatformDevice) {
        let deadline = Date().addingTimeInterval(5)
        while device.read(offset: 0x10, size: 4) == 0 && Date() < deadline {
            host.timers.poll()
            usleep(1_000)
        }
    }

    private func drain(_ device: PluginPlatformDevice) -> String {
        let count = Int(device.read(offset: 0x04, size: 4))
        return String(decoding: (0..<count).map { _ in UInt8(device.read(offset: 0x08, size: 4)) }, as: UTF8.self)
    }

    func testRecordedInputReachesTheJournalWithItsChannelAndTheDevice() throws {
        let source = folder.appendingPathComponent("in").path
        try "0123456789".write(toFile: source, atomically: false, encoding: .utf8)
        let journal = ScriptedJournal(replaying: false)
        let host = try host(.record, journal: journal)
        defer { host.shutdown() }
        let controller = RecordingController()
        let device = try feed(host, source: source, controller: controller)
        XCTAssertEqual(device.read(offset: 0x04, size: 4), 0, "nothing before the machine delivers it")
        pollUntilEnd(host, device)
        XCTAssertTrue(controller.level(12))
        XCTAssertEqual(drain(device), "0123456789")
        XCTAssertEqual(journal.recorded.map(\.source), Array(repeating: "plugin:acme_feed/feed0", count: 4))
        XCTAssertEqual(journal.recorded.map { String(decoding: $0.bytes, as: UTF8.self) }, ["0123", "4567", "89", ""])
        XCTAssertEqual(device.read(offset: 0x0c, size: 4), 4, "four inputs, the last one empty (end of the source)")
    }

    func testReplayDeliversTheJournalsInputWithoutOpeningTheSource() throws {
        let journal = ScriptedJournal(replaying: true, script: [("plugin:acme_feed/feed0", Array("hi".utf8)), ("plugin:acme_feed/feed0", [])])
        let host = try host(.replay, journal: journal)
        defer { host.shutdown() }
        let controller = RecordingController()
        // The source does not exist: a live run's create would fail on it.
        let device = try feed(host, source: folder.appendingPathComponent("missing").path, controller: controller)
        host.timers.poll()
        XCTAssertEqual(drain(device), "hi")
        XCTAssertEqual(device.read(offset: 0x10, size: 4), 1)
        XCTAssertTrue(journal.divergences.isEmpty)
        XCTAssertEqual(host.timers.nanosecondsUntilNextEvent(), nil, "a replay waits for nothing the plugin submits")
    }

    func testReplayOfInputForAChannelNobodyOpenedDiverges() throws {
        let journal = ScriptedJournal(replaying: true, script: [("plugin:acme_feed/elsewhere", [1])])
        let host = try host(.replay, journal: journal)
        defer { host.shutdown() }
        let controller = RecordingController()
        _ = try feed(host, source: "", controller: controller)
        host.timers.poll()
        XCTAssertEqual(journal.divergences, ["the recording gives plugin:acme_feed/elsewhere input at this time, but no plugin opened that channel (open ones: plugin:acme_feed/feed0)"])
    }

    func testLiveInputEndsTheIdleWaitAndAMissingSourceFailsCreate() throws {
        let source = folder.appendingPathComponent("in").path
        try "x".write(toFile: source, atomically: false, encoding: .utf8)
        let host = try host(.live)
        defer { host.shutdown() }
        let controller = RecordingController()  // IRQ lines hold their controller unowned
        let device = try feed(host, source: source, controller: controller)
        let deadline = Date().addingTimeInterval(5)
        while host.timers.nanosecondsUntilNextEvent() == nil && Date() < deadline { usleep(1_000) }
        XCTAssertEqual(host.timers.nanosecondsUntilNextEvent(), 0, "queued input ends the machine's idle sleep")
        pollUntilEnd(host, device)
        XCTAssertEqual(drain(device), "x")
        let type = try XCTUnwrap(host.platformType(named: "acme.feed"))
        XCTAssertThrowsError(try host.createPlatformDevice(type: type, device: "feed1", properties: [("source", folder.appendingPathComponent("missing").path)],
                                                           base: 0, size: 0x20, irqs: [IRQLine(controller: controller, source: 1)]))
    }

    /// Channel names are the journal's: a name outside [a-z0-9_.-] is refused, and the device
    /// (which names its channel after itself) fails to build.
    func testAChannelNameOutsideTheAlphabetIsRefused() throws {
        let host = try host(.live)
        defer { host.shutdown() }
        let controller = RecordingController()
        XCTAssertThrowsError(try feed(host, name: "Feed 0", source: "", controller: controller))
    }
}

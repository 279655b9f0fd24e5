import Foundation
import IRQ
import USB
import XCTest
@testable import Machine
@testable import Passthrough

/// `usb.host` under `--record` / `--replay` (USBHostJournal.swift): a session with the recorded
/// flash drive is journaled, then replayed with no host device at all; the guest's packets get
/// the same answers at the same times, and a different submission is a divergence.
final class USBHostJournalTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("usbjournal-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    private var journalPath: String { folder.appendingPathComponent("usb.journal").path }
    private func clock() -> Timebase { Timebase(clock: .virtual(instructionsPerSecond: 1_000_000_000)) }
    private func hex(_ text: String) -> [UInt8] { USBRecording.bytes(text)! }

    private static let inquiry = "55 53 42 43 01 00 00 00 24 00 00 00 80 00 06 12 00 00 00 24 00 00 00 00 00 00 00 00 00 00 00"

    /// The guest's side of the session: GET MAX LUN, then SCSI INQUIRY over bulk OUT/IN and its
    /// status. `settle` runs between submissions and answers: the host's completions arrive,
    /// the machine polls. Returns every packet's status and data.
    private func session(_ device: USBHostPassthrough, cbw: String = inquiry, clock: Timebase, settle: () -> Void) -> [String] {
        var results: [String] = []
        func run(_ packet: USB.USBPacket, data: Bool) {
            clock.advance(units: 1_000)
            if data { device.handleData(packet) } else { device.handleControl(packet) }
            clock.advance(units: 5_000)
            settle()
            device.poll()
            results.append("\(packet.status.map { "\($0)" } ?? "pending") \(USBHostDescription.hex(packet.data))")
        }
        run(USB.USBPacket(endpoint: 0, setup: USB.USBSetupPacket(requestType: 0xa1, request: 0xfe, length: 1), length: 1), data: false)
        device.configurationChanged(1)
        run(USB.USBPacket(endpoint: 0x02, length: 31, data: hex(cbw)), data: true)
        run(USB.USBPacket(endpoint: 0x81, length: 36), data: true)
        run(USB.USBPacket(endpoint: 0x81, length: 13), data: true)
        return results
    }

    func testASessionWithAHostDeviceReplaysWithoutIt() throws {
        // Record, with the (recorded) flash drive as the host device.
        let recordClock = clock()
        let recorder = try InputJournal(recordingTo: journalPath, machine: "m")
        recorder.attach(recordClock)
        let backend = ReplayUSBBackend([try Recordings.usb("flash-drive")])
        let host = try XCTUnwrap(try backend.open(.ids(vendor: 0x0781, product: 0x5567), options: HostUSBOpenOptions()) as? ReplayUSBDevice)
        let live = try USBHostPassthrough(host: host)
        live.journal(to: recorder, name: "stick0")
        let recorded = session(live, clock: recordClock) { host.drain() }
        XCTAssertEqual(recorded.first, "success 00")
        XCTAssertTrue(recorded[2].hasPrefix("success 00800602"), recorded[2])
        XCTAssertNil(recorder.finish("poweroff 0"))
        let text = try String(contentsOfFile: journalPath, encoding: .utf8)
        let kinds = text.split(separator: "\n").dropFirst(2).map { line -> String in
            let words = line.split(separator: " ")
            return "\(words[0]) \(words[1]) \(words.count > 5 ? words[5] : "")"
        }
        XCTAssertEqual(kinds, ["input 0 usb:stick0/attach",
                               "sent 1000 usb:stick0/submit", "input 6000 usb:stick0/done",
                               "sent 7000 usb:stick0/submit", "input 12000 usb:stick0/done",
                               "sent 13000 usb:stick0/submit", "input 18000 usb:stick0/done",
                               "sent 19000 usb:stick0/submit", "input 24000 usb:stick0/done",
                               "end 24000 poweroff"], text)

        // Replay: no backend, no host device; the same answers at the same times.
        let replayClock = clock()
        let replayer = try InputJournal(replaying: journalPath, machine: "m")
        replayer.attach(replayClock)
        let replayed = try USBHostPassthrough(replaying: USBHostPassthrough.replayAttach(from: replayer, name: "stick0"))
        replayed.journal(to: replayer, name: "stick0")
        XCTAssertEqual(replayed.hostDescription, live.hostDescription)
        XCTAssertEqual(replayed.descriptors.strings, live.descriptors.strings)
        XCTAssertEqual(replayed.descriptors.strings[1], "Cruzer Blade")
        XCTAssertEqual(replayed.speeds, live.speeds)
        XCTAssertEqual(session(replayed, clock: replayClock) {}, recorded)
        XCTAssertNil(replayer.check())
        XCTAssertNil(replayer.finish("poweroff 0"))
    }

    func testAnotherSubmissionIsADivergence() throws {
        let recordClock = clock()
        let recorder = try InputJournal(recordingTo: journalPath, machine: "m")
        recorder.attach(recordClock)
        let host = try XCTUnwrap(try ReplayUSBBackend([try Recordings.usb("flash-drive")])
            .open(.ids(vendor: 0x0781, product: 0x5567), options: HostUSBOpenOptions()) as? ReplayUSBDevice)
        let live = try USBHostPassthrough(host: host)
        live.journal(to: recorder, name: "stick0")
        _ = session(live, clock: recordClock) { host.drain() }
        _ = recorder.finish("poweroff 0")

        let replayClock = clock()
        let replayer = try InputJournal(replaying: journalPath, machine: "m")
        replayer.attach(replayClock)
        let replayed = try USBHostPassthrough(replaying: USBHostPassthrough.replayAttach(from: replayer, name: "stick0"))
        replayed.journal(to: replayer, name: "stick0")
        // The guest asks for 0x25 bytes of INQUIRY data where the recorded one asked for 0x24.
        let other = Self.inquiry.replacingOccurrences(of: "06 12 00 00 00 24", with: "06 12 00 00 00 25")
        _ = session(replayed, cbw: other, clock: replayClock) {}
        let message = try XCTUnwrap(replayer.divergence)
        XCTAssertTrue(message.contains("(47 bytes) to usb:stick0/submit at time 7000; the recording has "), message)
        XCTAssertTrue(message.hasSuffix("... (47 bytes)"), message)
    }

    func testAReplayWithoutTheDevicesAttachRecordIsRefused() throws {
        try "backplane-journal 2\nmachine m\nend 0 out 0 cbf29ce484222325 poweroff 0\n".write(toFile: journalPath, atomically: false, encoding: .utf8)
        let replayer = try InputJournal(replaying: journalPath, machine: "m")
        replayer.attach(clock())
        XCTAssertThrowsError(try USBHostPassthrough.replayAttach(from: replayer, name: "stick0")) {
            XCTAssertEqual("\($0)", "USB recording: the journal has no attach record for usb.host 'stick0' at time 0 (recorded on another board?)")
        }
    }
}

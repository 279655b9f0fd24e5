import Foundation
import IRQ
import XCTest
@testable import Machine
import UserNet
import Virtio

/// `JournaledNetwork` (Modules/UserNet) with the real journal: recording, a frame the backend
/// answers inside the guest's transmit (as libslirp answers ARP) is held until the next poll and
/// journaled there; replaying, there is no backend, the guest's frames are checked and the
/// journal's reach the device at their poll.
final class JournaledNetworkTests: XCTestCase {
    /// Answers every frame at once, inside `send`, with the frame reversed.
    final class AnsweringBackend: NetworkBackend {
        weak var receiver: NetworkFrameReceiver?
        var sent: [[UInt8]] = []
        func send(_ frame: UnsafeRawBufferPointer) {
            sent.append([UInt8](frame))
            [UInt8](frame).reversed().withUnsafeBytes { receiver?.receive($0) }
        }
        func poll() {}
    }

    final class Collector: NetworkFrameReceiver {
        var frames: [[UInt8]] = []
        func receive(_ frame: UnsafeRawBufferPointer) { frames.append([UInt8](frame)) }
    }

    private var path: String!

    override func setUp() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("net-\(UUID().uuidString).journal").path
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: path) }

    private func clock() -> Timebase { Timebase(clock: .virtual(instructionsPerSecond: 1_000_000_000)) }

    private let request: [UInt8] = Array(0..<42)

    func testFramesAreJournaledAtThePollAndReplayedWithoutABackend() throws {
        let recordClock = clock()
        let recorder = try InputJournal(recordingTo: path, machine: "m")
        recorder.attach(recordClock)
        let backend = AnsweringBackend()
        let network = JournaledNetwork(recording: backend, journal: recorder, name: "net0")
        let guest = Collector()
        network.receiver = guest
        recordClock.advance(units: 10)
        request.withUnsafeBytes { network.send($0) }
        XCTAssertEqual(backend.sent, [request])
        XCTAssertTrue(guest.frames.isEmpty, "the answer waits for the poll")
        recordClock.advance(units: 5)
        network.poll()
        recorder.devicesPolled()
        XCTAssertEqual(guest.frames, [request.reversed()])
        XCTAssertNil(recorder.finish("poweroff 0"))
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        let hex = { (bytes: [UInt8]) in bytes.map { String(format: "%02x", $0) }.joined() }
        XCTAssertEqual(lines[2], "sent 10 out 0 cbf29ce484222325 net:net0/tx \(hex(request))")
        XCTAssertEqual(lines[3], "input 15 out 0 cbf29ce484222325 net:net0/rx \(hex(request.reversed()))")

        let replayClock = clock()
        let replayer = try InputJournal(replaying: path, machine: "m")
        replayer.attach(replayClock)
        let replayed = JournaledNetwork(replaying: replayer, name: "net0")
        let replayGuest = Collector()
        replayed.receiver = replayGuest
        replayClock.advance(units: 10)
        request.withUnsafeBytes { replayed.send($0) }
        XCTAssertTrue(replayGuest.frames.isEmpty)
        replayClock.advance(units: 5)
        replayed.poll()
        replayer.devicesPolled()
        XCTAssertEqual(replayGuest.frames, [request.reversed()])
        XCTAssertNil(replayer.check())
        XCTAssertNil(replayer.finish("poweroff 0"))

        // Another frame from the guest: a divergence naming both.
        let other = try InputJournal(replaying: path, machine: "m")
        let otherClock = clock()
        other.attach(otherClock)
        let otherNetwork = JournaledNetwork(replaying: other, name: "net0")
        otherClock.advance(units: 10)
        (request + [0]).withUnsafeBytes { otherNetwork.send($0) }
        let message = try XCTUnwrap(other.divergence)
        XCTAssertTrue(message.contains("to net:net0/tx at time 10; the recording has 00 01 02"), message)
    }
}

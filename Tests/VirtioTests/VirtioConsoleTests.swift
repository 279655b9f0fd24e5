import XCTest
@testable import Virtio

final class ByteLine: ByteStreamBackend {
    var sent: [UInt8] = []
    var incoming: [UInt8] = []
    func send(_ bytes: UnsafeRawBufferPointer) { sent += bytes }
    func receive(maximum: Int) -> [UInt8] {
        let taken = Array(incoming.prefix(maximum))
        incoming.removeFirst(taken.count)
        return taken
    }
}

final class VirtioConsoleTests: XCTestCase {
    func testTransmittedBytesReachTheBackend() throws {
        let line = ByteLine()
        let harness = try VirtioHarness(device: VirtioConsole(backend: line))
        let (head, _) = harness.submit(queue: 1, readable: [Array("hello ".utf8), Array("hvc0\n".utf8)])
        XCTAssertEqual(String(decoding: line.sent, as: UTF8.self), "hello hvc0\n")
        XCTAssertEqual(harness.takeUsed(queue: 1).map(\.head), [head])
        XCTAssertEqual(harness.function.config.read(offset: 0, size: 4), 0x1043_1af4)
    }

    func testBackendBytesFillReceiveBuffersAcrossPolls() throws {
        let line = ByteLine()
        let console = VirtioConsole(backend: line)
        let harness = try VirtioHarness(device: console)
        let first = harness.submit(queue: 0, writable: [4])
        let second = harness.submit(queue: 0, writable: [16])
        XCTAssertTrue(harness.takeUsed(queue: 0).isEmpty, "nothing to deliver yet")

        line.incoming = Array("typed on the host".utf8)
        harness.function.poll()

        let used = harness.takeUsed(queue: 0)
        XCTAssertEqual(used.map(\.head), [first.head, second.head])
        XCTAssertEqual(used.map(\.written), [4, 13])
        XCTAssertEqual(String(decoding: harness.read(first.buffers[0], 4) + harness.read(second.buffers[0], 13), as: UTF8.self),
                       "typed on the host")
    }

    func testAHugeTransmitIsBounded() throws {
        let line = ByteLine()
        let harness = try VirtioHarness(device: VirtioConsole(backend: line))
        harness.submit(queue: 1, readable: [[UInt8](repeating: 0x41, count: Int(VirtioConsole.maximumRequestBytes) + 100)])
        XCTAssertEqual(line.sent.count, Int(VirtioConsole.maximumRequestBytes))
    }
}

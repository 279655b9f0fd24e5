import XCTest
import Foundation
@testable import Virtio
@testable import UserNet

/// A backend that records what the guest sent and can hand frames to the guest.
final class FakeBackend: NetworkBackend {
    weak var receiver: NetworkFrameReceiver?
    var sent: [[UInt8]] = []
    var echo = false
    func send(_ frame: UnsafeRawBufferPointer) {
        sent.append([UInt8](frame))
        if echo { receiver?.receive(frame) }
    }
    func poll() {}
    func inject(_ frame: [UInt8]) { frame.withUnsafeBytes { receiver?.receive($0) } }
}

final class VirtioNetTests: XCTestCase {
    private let frame: [UInt8] = (0..<60).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }

    func testConfigurationHoldsTheMACAndLinkUp() throws {
        let harness = try VirtioHarness(device: VirtioNet(backend: FakeBackend(), mac: [2, 0, 0, 0xaa, 0xbb, 0xcc]))
        XCTAssertEqual((0..<6).map { harness.deviceConfig(UInt64($0), size: 1) }, [2, 0, 0, 0xaa, 0xbb, 0xcc])
        XCTAssertEqual(harness.deviceConfig(6, size: 2), 1)
        XCTAssertEqual(harness.function.config.read(offset: 0, size: 4), 0x1041_1af4)
    }

    func testTransmittedFrameReachesTheBackendWithoutTheHeader() throws {
        let backend = FakeBackend()
        let harness = try VirtioHarness(device: VirtioNet(backend: backend))
        // Header and frame split over two descriptors, as Linux may.
        let (head, _) = harness.submit(queue: 1, readable: [[UInt8](repeating: 0, count: 12), frame])
        XCTAssertEqual(backend.sent, [frame])
        XCTAssertEqual(harness.takeUsed(queue: 1).map(\.head), [head])
    }

    func testFramesRoundTripThroughAnEchoingBackend() throws {
        let backend = FakeBackend()
        backend.echo = true
        let harness = try VirtioHarness(device: VirtioNet(backend: backend))
        let (rxHead, buffers) = harness.submit(queue: 0, writable: [1526])
        XCTAssertTrue(harness.takeUsed(queue: 0).isEmpty, "receive buffers wait for frames")

        harness.submit(queue: 1, readable: [[UInt8](repeating: 0, count: 12) + frame])

        let used = harness.takeUsed(queue: 0)
        XCTAssertEqual(used.map(\.head), [rxHead])
        XCTAssertEqual(used.first?.written, UInt32(12 + frame.count))
        let header = harness.read(buffers[0], 12)
        XCTAssertEqual(header, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0], "num_buffers is 1, no offloads")
        XCTAssertEqual(harness.read(buffers[0] + 12, frame.count), frame)
        XCTAssertTrue(harness.intxAsserted, "used-buffer interrupt on INTx without MSI-X")
    }

    func testFramesWaitForReceiveBuffers() throws {
        let backend = FakeBackend()
        let harness = try VirtioHarness(device: VirtioNet(backend: backend))
        backend.inject(frame)
        backend.inject(Array(frame.reversed()))
        XCTAssertTrue(harness.takeUsed(queue: 0).isEmpty)

        let first = harness.submit(queue: 0, writable: [1526])
        let second = harness.submit(queue: 0, writable: [1526])

        XCTAssertEqual(harness.takeUsed(queue: 0).map(\.head), [first.head, second.head])
        XCTAssertEqual(harness.read(first.buffers[0] + 12, frame.count), frame)
        XCTAssertEqual(harness.read(second.buffers[0] + 12, frame.count), frame.reversed())
    }

    func testAFrameLargerThanTheBufferIsDropped() throws {
        let backend = FakeBackend()
        let net = VirtioNet(backend: backend)
        let harness = try VirtioHarness(device: net)
        harness.submit(queue: 0, writable: [32])
        backend.inject(frame)
        XCTAssertEqual(harness.takeUsed(queue: 0).first?.written, 0)
        XCTAssertEqual(net.droppedReceive, 1)
    }

    func testOversizedOrEmptyTransmitsAreDropped() throws {
        let backend = FakeBackend()
        let net = VirtioNet(backend: backend)
        let harness = try VirtioHarness(device: net)
        harness.submit(queue: 1, readable: [[UInt8](repeating: 0, count: 12 + 70_000)])
        harness.submit(queue: 1, readable: [[UInt8](repeating: 0, count: 12)])
        XCTAssertEqual(backend.sent.count, 0)
        XCTAssertEqual(net.droppedTransmit, 2)
        XCTAssertEqual(harness.takeUsed(queue: 1).count, 2, "dropped frames still return their buffers")
    }

    func testBacklogIsBounded() throws {
        let backend = FakeBackend()
        let net = VirtioNet(backend: backend)
        let harness = try VirtioHarness(device: net)
        for _ in 0..<(VirtioNet.receiveBacklog + 10) { backend.inject(frame) }
        XCTAssertEqual(net.droppedReceive, 10)
        XCTAssertTrue(harness.takeUsed(queue: 0).isEmpty)
    }

    func testALoopingReceiveChainMakesTheDeviceNeedReset() throws {
        let backend = FakeBackend()
        let harness = try VirtioHarness(device: VirtioNet(backend: backend))
        harness.rawDescriptor(queue: 0, index: 0, address: VirtioHarness.ram + 0x20_0000, length: 64, flags: 3, next: 1)
        harness.rawDescriptor(queue: 0, index: 1, address: VirtioHarness.ram + 0x20_0000, length: 64, flags: 3, next: 0)
        harness.makeAvailable(queue: 0, head: 0)
        backend.inject(frame)
        XCTAssertNotEqual(harness.status & VirtioPCI.Status.needsReset, 0)
    }

    // MARK: libslirp

    func testHostForwardParsing() throws {
        let rule = try HostForward(parsing: "tcp::2222-:22")
        XCTAssertEqual(rule, try HostForward(parsing: "tcp:127.0.0.1:2222-10.0.2.15:22"))
        XCTAssertEqual(rule.hostPort, 2222)
        XCTAssertEqual(rule.guestPort, 22)
        XCTAssertEqual(rule.guestAddress, "10.0.2.15")
        XCTAssertTrue(try HostForward(parsing: "udp::5353-:53").udp)
        XCTAssertThrowsError(try HostForward(parsing: "tcp:0.0.0.0:2222-:22")) {
            XCTAssertEqual("\($0)", "hostfwd 'tcp:0.0.0.0:2222-:22': host address '0.0.0.0' is not 127.0.0.1 (forwarded ports listen on the loopback only)")
        }
        XCTAssertThrowsError(try HostForward(parsing: "tcp::70000-:22")) {
            XCTAssertEqual("\($0)", "hostfwd 'tcp::70000-:22': host port '70000' is not 1-65535")
        }
        XCTAssertThrowsError(try HostForward(parsing: "sctp::1-:2")) {
            XCTAssertEqual("\($0)", "hostfwd 'sctp::1-:2': protocol 'sctp' is not tcp or udp")
        }
    }

    /// libslirp answers an ARP request for its gateway: a real frame through the library.
    func testSlirpAnswersARPForTheGateway() throws {
        let network = try SlirpNetwork()
        let sink = FakeSink()
        network.receiver = sink
        let guestMAC: [UInt8] = [0x52, 0x54, 0, 0x12, 0x34, 0x56]
        var arp: [UInt8] = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff] + guestMAC + [0x08, 0x06]
        arp += [0, 1, 8, 0, 6, 4, 0, 1] + guestMAC + [10, 0, 2, 15] + [0, 0, 0, 0, 0, 0] + [10, 0, 2, 2]
        arp += [UInt8](repeating: 0, count: 60 - arp.count)

        arp.withUnsafeBytes { network.send($0) }
        network.poll()

        let reply = try XCTUnwrap(sink.frames.first)
        XCTAssertEqual(Array(reply[0..<6]), guestMAC)
        XCTAssertEqual(Array(reply[12..<14]), [0x08, 0x06])
        XCTAssertEqual(Array(reply[20..<22]), [0, 2], "ARP reply")
        XCTAssertEqual(Array(reply[28..<32]), [10, 0, 2, 2])
    }

    func testHostForwardListensOnLoopback() throws {
        let port = UInt16.random(in: 30000...60000)
        let network = try SlirpNetwork(forwards: [HostForward(parsing: "tcp::\(port)-:22")])
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(client) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr = SlirpNetwork.ipv4("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        XCTAssertEqual(connected, 0, "127.0.0.1:\(port) accepts connections")
        XCTAssertThrowsError(try SlirpNetwork(forwards: [HostForward(parsing: "tcp::\(port)-:22")])) {
            XCTAssertEqual("\($0)", "hostfwd tcp 127.0.0.1:\(port): cannot listen (port in use?)")
        }
        _ = network
    }
}

final class FakeSink: NetworkFrameReceiver {
    var frames: [[UInt8]] = []
    func receive(_ frame: UnsafeRawBufferPointer) { frames.append([UInt8](frame)) }
}

import Foundation
import XCTest
@testable import GDB

final class GDBServerTests: XCTestCase {
    func testEndpointParsing() throws {
        XCTAssertEqual(try GDBEndpoint(parsing: "tcp::1234"), .tcp(host: "127.0.0.1", port: 1234))
        XCTAssertEqual(try GDBEndpoint(parsing: "tcp:0.0.0.0:9"), .tcp(host: "0.0.0.0", port: 9))
        XCTAssertEqual(try GDBEndpoint(parsing: "unix:/tmp/x.sock"), .unix(path: "/tmp/x.sock"))
        XCTAssertEqual(try GDBEndpoint(parsing: "/tmp/y.sock"), .unix(path: "/tmp/y.sock"))
        XCTAssertThrowsError(try GDBEndpoint(parsing: "tcp::0"))
        XCTAssertThrowsError(try GDBEndpoint(parsing: "tcp::70000"))
        XCTAssertThrowsError(try GDBEndpoint(parsing: "1234")) { error in
            XCTAssertEqual("\(error)", "--gdb '1234': expected tcp::PORT, tcp:HOST:PORT, unix:PATH or a socket path")
        }
    }

    func testAnExistingFileIsNeverReplacedByTheSocket() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gdb-exists-\(getpid())").path
        FileManager.default.createFile(atPath: path, contents: Data("keep".utf8))
        defer { unlink(path) }
        XCTAssertThrowsError(try GDBServer(endpoint: .unix(path: path))) { error in
            XCTAssertEqual("\(error)", "--gdb: cannot listen on unix:\(path): \(path) already exists")
        }
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "keep")
    }

    /// A client on a real unix socket: acknowledgements, a query, an interrupt while running,
    /// a resume and a detach, byte for byte as GDB sends them.
    func testConversationOverAUnixSocket() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gdb-\(getpid()).sock").path
        let server = try GDBServer(endpoint: .unix(path: path))
        defer { server.close() }
        let stub = GDBStub(server: server, session: GDBSession(target: FakeTarget()))
        let actions = LockedList()
        server.startAccepting()
        let machine = Thread {
            XCTAssertTrue(server.waitForClient())
            // The connection itself asked the machine to stop.
            XCTAssertTrue(server.interruptRequested.load(ordering: .acquiring))
            actions.append(stub.stopped(nil))
            // "Running": wait for the client's Ctrl-C, as the run loop polls between slices.
            while !server.interruptRequested.load(ordering: .acquiring) { usleep(1000) }
            actions.append(stub.stopped(.interrupted(thread: 2)))
        }
        machine.start()

        let fd = try XCTUnwrap(connectUnix(path))
        defer { close(fd) }
        // A second debugger is turned away while the first is attached.
        let second = try XCTUnwrap(connectUnix(path))
        var byte: UInt8 = 0
        XCTAssertEqual(recv(second, &byte, 1, 0), 0, "closed by the server")
        close(second)

        func send(_ text: String) { _ = text.withCString { Glibc.send(fd, $0, strlen($0), 0) } }
        func receive(_ expected: String) {
            var got: [UInt8] = []
            var byte: UInt8 = 0
            while got.count < expected.utf8.count, recv(fd, &byte, 1, 0) == 1 { got.append(byte) }
            XCTAssertEqual(String(decoding: got, as: UTF8.self), expected)
        }

        send(String(decoding: GDBPacket.frame("qfThreadInfo"), as: UTF8.self))
        receive("+" + String(decoding: GDBPacket.frame("m1,2"), as: UTF8.self))
        send("$qC#00")  // A bad checksum asks for a resend.
        receive("-")
        send("+" + String(decoding: GDBPacket.frame("c"), as: UTF8.self))
        receive("+")
        send("\u{03}")
        receive(String(decoding: GDBPacket.frame("T02thread:2;"), as: UTF8.self))
        send("+" + String(decoding: GDBPacket.frame("D"), as: UTF8.self))
        receive("+" + String(decoding: GDBPacket.frame("OK"), as: UTF8.self))

        let deadline = Date().addingTimeInterval(5)
        while actions.count < 2 && Date() < deadline { usleep(1000) }
        XCTAssertEqual(actions.values, [.resume(.continueAll), .detach])
    }

    /// Detach and reconnect at once, over and over: each new connection is served, never turned
    /// away because the old one was still being let go (Fuzz/sockets.py found a reconnect refused).
    func testAClientThatReconnectsRightAfterDetachingIsServed() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gdb-again-\(getpid()).sock").path
        let server = try GDBServer(endpoint: .unix(path: path))
        defer { server.close() }
        let stub = GDBStub(server: server, session: GDBSession(target: FakeTarget()))
        server.startAccepting()
        let rounds = 40
        let finished = NSLock()
        nonisolated(unsafe) var done = false
        // The machine serves whoever is connected until the test ends (a round may find the old
        // connection still there and serve it until it goes: that is a detach too).
        let machine = Thread {
            while finished.withLock({ !done }) {
                let deadline = DispatchTime.now().uptimeNanoseconds + 100_000_000
                if server.waitForClient(deadline: deadline) {
                    _ = stub.stopped(nil, deadline: DispatchTime.now().uptimeNanoseconds + 5_000_000_000)
                }
            }
        }
        machine.start()
        defer { finished.withLock { done = true } }
        let detach = "+" + String(decoding: GDBPacket.frame("D"), as: UTF8.self)
        let expected = "+" + String(decoding: GDBPacket.frame("OK"), as: UTF8.self)
        for round in 0..<rounds {
            let fd = try XCTUnwrap(connectUnix(path))
            var limit = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
            _ = detach.withCString { Glibc.send(fd, $0, strlen($0), 0) }
            var got: [UInt8] = []
            var byte: UInt8 = 0
            while got.count < expected.utf8.count, recv(fd, &byte, 1, 0) == 1 { got.append(byte) }
            close(fd)
            XCTAssertEqual(String(decoding: got, as: UTF8.self), expected, "round \(round)")
            if got.isEmpty { break }
        }
    }

    func testAStoppedMachineGivesUpWhenTheDeadlinePasses() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gdb-deadline-\(getpid()).sock").path
        let server = try GDBServer(endpoint: .unix(path: path))
        defer { server.close() }
        server.startAccepting()
        XCTAssertFalse(server.waitForClient(deadline: DispatchTime.now().uptimeNanoseconds + 50_000_000))
        let fd = try XCTUnwrap(connectUnix(path))
        defer { close(fd) }
        XCTAssertTrue(server.waitForClient())
        let stub = GDBStub(server: server, session: GDBSession(target: FakeTarget()))
        let start = DispatchTime.now().uptimeNanoseconds
        XCTAssertEqual(stub.stopped(.interrupted(thread: 1), deadline: start + 100_000_000), .detach)
        XCTAssertLessThan(DispatchTime.now().uptimeNanoseconds - start, 2_000_000_000)
    }
}

func connectUnix(_ path: String) -> Int32? {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
    }
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard connected == 0 else { close(fd); return nil }
    return fd
}

final class LockedList: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [GDBSession.Action] = []
    func append(_ action: GDBSession.Action) { lock.lock(); items.append(action); lock.unlock() }
    var values: [GDBSession.Action] { lock.lock(); defer { lock.unlock() }; return items }
    var count: Int { values.count }
}

import Foundation
import XCTest
import Synchronization
@testable import Control

final class ControlServerTests: XCTestCase {
    private func socketPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("ctl-\(name)-\(getpid()).sock").path
    }

    /// A "machine thread" that serves commands until told to stop, answering each with its words
    /// reversed, and `fail` with an error.
    private func startMachine(_ server: ControlServer, until done: Flag) -> Thread {
        let thread = Thread {
            while !done.isSet {
                server.serve(wait: true, deadline: DispatchTime.now().uptimeNanoseconds + 20_000_000) { line in
                    line == "fail" ? .failure("failed as asked") : .output(line.split(separator: " ").reversed().joined(separator: " ") + "\n")
                }
            }
        }
        thread.start()
        return thread
    }

    func testCommandsAndRepliesRoundTrip() throws {
        let path = socketPath("roundtrip")
        let server = try ControlServer(path: path)
        defer { server.close() }
        server.start()
        let done = Flag()
        _ = startMachine(server, until: done)
        defer { done.set() }

        XCTAssertEqual(ControlClient.send("info harts now", to: path), .output("now harts info\n"))
        XCTAssertEqual(ControlClient.send("fail", to: path), .failure("failed as asked"))
        XCTAssertEqual(ControlClient.send("x", to: "/nonexistent/ctl.sock"),
                       .failure("/nonexistent/ctl.sock: No such file or directory"))
    }

    func testOverlongLinesAreRefusedAndTheConnectionGoesOn() throws {
        let path = socketPath("long")
        let server = try ControlServer(path: path)
        defer { server.close() }
        server.start()
        let done = Flag()
        _ = startMachine(server, until: done)
        defer { done.set() }

        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        XCTAssertEqual(withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }, 0)
        let long = [UInt8](repeating: UInt8(ascii: "a"), count: ControlServer.maximumLine + 10) + Array("\nb a\n".utf8)
        long.withUnsafeBytes { _ = send(fd, $0.baseAddress, $0.count, 0) }
        var text: [UInt8] = []
        var byte: UInt8 = 0
        while text.filter({ $0 == UInt8(ascii: "\n") }).count < 2, recv(fd, &byte, 1, 0) == 1 { text.append(byte) }
        XCTAssertEqual(String(decoding: text, as: UTF8.self),
                       #"{"error":"command longer than 65536 bytes","ok":false}"# + "\n" + #"{"ok":true,"output":"a b\n"}"# + "\n")
    }

    func testAClientThatLeavesMidCommandDoesNotDisturbTheMachine() throws {
        let path = socketPath("leave")
        let server = try ControlServer(path: path)
        defer { server.close() }
        server.start()
        // Send a command and hang up before the machine serves it.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        _ = "pause\n".withCString { send(fd, $0, 6, 0) }
        close(fd)
        let deadline = Date().addingTimeInterval(5)
        while !server.commandPending.load(ordering: .acquiring) && Date() < deadline { usleep(1000) }
        var executed: [String] = []
        XCTAssertEqual(server.serve { executed.append($0); return .output("") }, 1)
        XCTAssertEqual(executed, ["pause"])
        // The machine goes on serving others.
        let done = Flag()
        _ = startMachine(server, until: done)
        defer { done.set() }
        XCTAssertEqual(ControlClient.send("b a", to: path), .output("a b\n"))
    }

    func testAnExistingFileIsNeverReplaced() throws {
        let path = socketPath("exists")
        FileManager.default.createFile(atPath: path, contents: Data("mine".utf8))
        defer { unlink(path) }
        XCTAssertThrowsError(try ControlServer(path: path)) { error in
            XCTAssertEqual("\(error)", "--control: cannot listen on \(path): \(path) already exists")
        }
    }

    /// The socket file appears only once it listens: a client that connects as soon as the path
    /// exists is never refused. A poller thread connects in a tight loop while the socket is
    /// made, 200 times; before, a connect between `bind` and `listen` got ECONNREFUSED. No
    /// private name is left behind in the directory.
    func testTheSocketFileAppearsOnlyOnceItListens() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ctl-appear-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("ctl.sock").path
        let refusals = Atomic<Int>(0)
        for _ in 0..<200 {
            let started = Flag(), done = Flag()
            let poller = Thread {
                started.set()
                while !done.isSet {
                    guard let fd = try? UnixSocket.connect(path: path) else {
                        if errno == ECONNREFUSED { refusals.add(1, ordering: .relaxed) }
                        continue
                    }
                    close(fd)
                    done.set()
                }
            }
            poller.start()
            while !started.isSet {}
            let fd = try UnixSocket.listen(path: path, backlog: 4)
            while !done.isSet { usleep(10) }
            close(fd)
            unlink(path)
        }
        XCTAssertEqual(refusals.load(ordering: .relaxed), 0, "a client found the socket file before the socket listened")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [], "a private name was left behind")
    }

    func testCloseRemovesTheSocketAndAnswersWaitingClients() throws {
        let path = socketPath("close")
        let server = try ControlServer(path: path)
        server.start()
        let reply = Mutex<ControlReply?>(nil)
        let client = Thread { let r = ControlClient.send("info harts", to: path); reply.withLock { $0 = r } }
        client.start()
        let deadline = Date().addingTimeInterval(5)
        while !server.commandPending.load(ordering: .acquiring) && Date() < deadline { usleep(1000) }
        server.close()
        while reply.withLock({ $0 }) == nil && Date() < deadline { usleep(1000) }
        XCTAssertEqual(reply.withLock { $0 }, .failure("the machine stopped"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }
}

final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}

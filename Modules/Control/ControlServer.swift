#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// The control socket (`--control unix:PATH`, docs/debugging.md): clients send one command per
/// line and get one JSON object per line back, `{"ok":true,"output":"…"}` or
/// `{"ok":false,"error":"…"}`. Commands run on the machine thread between slices (`serve`), so
/// they see a consistent machine; the socket threads only move bytes.
///
/// Bounded by construction: a line longer than `maximumLine` is answered with an error and
/// dropped, at most `maximumClients` clients are connected at once, and a client that disconnects
/// mid-command loses its answer without disturbing the machine.
public final class ControlServer: @unchecked Sendable {
    public static let maximumLine = 64 * 1024
    public static let maximumClients = 8

    public let path: String
    /// Raised when a command waits; the run loop polls it at slice boundaries.
    public let commandPending = Atomic<Bool>(false)

    private let listener: Int32
    private let condition = NSCondition()
    private var requests: [Request] = []
    private var clients = 0
    private var closed = false

    struct Request {
        let line: String
        let reply: @Sendable (String) -> Void
    }

    /// Creates the socket at `path`; an existing file there is an error (never replaced).
    public init(path: String) throws(ControlError) {
        self.path = path
        do throws(UnixSocket.Failure) { listener = try UnixSocket.listen(path: path, backlog: 4) }
        catch { throw .cannotListen(path, error.reason) }
    }

    /// Starts accepting clients on a background thread.
    public func start() {
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "control-accept"
        thread.start()
    }

    /// Stops listening and removes the socket file (ours); connected clients are dropped.
    public func close() {
        condition.lock()
        guard !closed else { condition.unlock(); return }
        closed = true
        let pending = requests
        requests.removeAll()
        condition.broadcast()
        condition.unlock()
        shutdown(listener, Int32(SHUT_RDWR))
        unlink(path)
        for request in pending { request.reply(Self.error("the machine stopped")) }
    }

    /// Runs every waiting command through `execute` on the calling (machine) thread; with `wait`,
    /// blocks until at least one command arrives or `deadline` (uptime ns) passes. Returns how
    /// many ran.
    @discardableResult
    public func serve(wait: Bool = false, deadline: UInt64? = nil, _ execute: (String) -> ControlReply) -> Int {
        condition.lock()
        while wait && requests.isEmpty && !closed {
            if let deadline {
                let now = DispatchTime.now().uptimeNanoseconds
                if now >= deadline { break }
                _ = condition.wait(until: Date(timeIntervalSinceNow: Double(deadline - now) / 1e9))
            } else {
                condition.wait()
            }
        }
        let batch = requests
        requests.removeAll()
        commandPending.store(false, ordering: .relaxed)
        condition.unlock()
        for request in batch { request.reply(Self.encode(execute(request.line))) }
        return batch.count
    }

    // MARK: Sockets

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                Glibc.close(listener)
                return
            }
            condition.lock()
            let refuse = clients >= Self.maximumClients || closed
            if !refuse { clients += 1 }
            condition.unlock()
            if refuse {
                send(fd, Self.error("too many control clients (at most \(Self.maximumClients))"))
                Glibc.close(fd)
                continue
            }
            // A client that stops reading cannot hold the machine thread, which sends answers:
            // a send that cannot complete within a second gives up (the answer is lost).
            var limit = timeval(tv_sec: 1, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
            let thread = Thread { [self] in clientLoop(fd) }
            thread.name = "control-client"
            thread.start()
        }
    }

    private func clientLoop(_ fd: Int32) {
        defer {
            condition.lock()
            clients -= 1
            condition.unlock()
            Glibc.close(fd)
        }
        var reader = ControlLineReader()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }
            for line in reader.feed(buffer[0..<count]) {
                switch line {
                case .command(let text):
                    if !submitAndWait(text, fd: fd) { return }
                case .overlong:
                    send(fd, Self.error("command longer than \(Self.maximumLine) bytes"))
                }
            }
        }
    }

    /// Queues `line` for the machine and waits until its answer was sent; false if the server
    /// closed. The answer is sent by whoever produces it (the machine thread), before it moves
    /// on: a `quit` is answered before the process can exit.
    private func submitAndWait(_ line: String, fd: Int32) -> Bool {
        guard let trimmed = Self.command(line) else { return true }
        let done = DispatchSemaphore(value: 0)
        condition.lock()
        if closed {
            condition.unlock()
            send(fd, Self.error("the machine stopped"))
            return false
        }
        requests.append(Request(line: trimmed, reply: { [self] text in
            send(fd, text)
            done.signal()
        }))
        commandPending.store(true, ordering: .releasing)
        condition.broadcast()
        condition.unlock()
        done.wait()
        return true
    }

    private func send(_ fd: Int32, _ line: String) {
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let sent = Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if sent < 0 && errno == EINTR { continue }
                if sent <= 0 { return }  // The client left: its answer is dropped.
                offset += sent
            }
        }
    }

    // MARK: Encoding

    /// The command a received line holds: without surrounding white space; nil for a blank line,
    /// which gets no answer.
    public static func command(_ line: String) -> String? {
        let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : trimmed
    }

    /// One reply line (without its newline): a JSON object, keys sorted.
    public static func encode(_ reply: ControlReply) -> String {
        let object: [String: Any]
        switch reply {
        case .output(let text): object = ["ok": true, "output": text]
        case .failure(let message): object = ["ok": false, "error": message]
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    static func error(_ message: String) -> String { encode(.failure(message)) }
}

/// Splits what a control client sends into lines, in chunks of any size. Bounded: a line longer
/// than `maximumLine` bytes is not kept; it becomes one `.overlong` when its newline arrives.
public struct ControlLineReader: Sendable {
    public enum Line: Equatable, Sendable {
        /// A complete line without its newline (not yet trimmed; invalid UTF-8 repaired).
        case command(String)
        /// A line that grew past `maximumLine`: answered with an error, never run.
        case overlong
    }

    public let maximumLine: Int
    private var pending: [UInt8] = []
    private var discarding = false

    public init(maximumLine: Int = ControlServer.maximumLine) {
        self.maximumLine = maximumLine
    }

    /// The lines `bytes` completes, in order.
    public mutating func feed<Bytes: Sequence>(_ bytes: Bytes) -> [Line] where Bytes.Element == UInt8 {
        var lines: [Line] = []
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                lines.append(discarding ? .overlong : .command(String(decoding: pending, as: UTF8.self)))
                pending.removeAll(keepingCapacity: true)
                discarding = false
            } else if pending.count >= maximumLine {
                discarding = true
            } else if !discarding {
                pending.append(byte)
            }
        }
        return lines
    }
}

/// What a command produced.
public enum ControlReply: Equatable, Sendable {
    case output(String)
    case failure(String)
}

public enum ControlError: Error, Equatable, CustomStringConvertible {
    case cannotListen(String, String)

    public var description: String {
        switch self {
        case .cannotListen(let path, let reason): return "--control: cannot listen on \(path): \(reason)"
        }
    }
}

/// The client side, for `backplane ctl PATH COMMAND`.
public enum ControlClient {
    /// Sends `command` to the socket at `path` and returns the reply, or why there is none.
    public static func send(_ command: String, to path: String, timeout: Double = 30) -> ControlReply {
        let fd: Int32
        do throws(UnixSocket.Failure) { fd = try UnixSocket.connect(path: path) }
        catch { return .failure("\(path): \(error.reason)") }
        defer { Glibc.close(fd) }
        var time = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        let line = Array((command + "\n").utf8)
        guard line.withUnsafeBytes({ Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == line.count else {
            return .failure("\(path): could not send the command")
        }
        var reply: [UInt8] = []
        var byte: UInt8 = 0
        while recv(fd, &byte, 1, 0) == 1 {
            if byte == UInt8(ascii: "\n") { break }
            reply.append(byte)
        }
        return decode(reply) ?? .failure("\(path): no answer from the machine")
    }

    /// A reply line as the server encodes it; nil for anything else (whatever is listening at the
    /// path may answer anything).
    public static func decode(_ line: [UInt8]) -> ControlReply? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
              let ok = object["ok"] as? Bool else { return nil }
        return ok ? .output(object["output"] as? String ?? "") : .failure(object["error"] as? String ?? "unknown error")
    }
}

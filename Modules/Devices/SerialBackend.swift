import Foundation

/// The host end of a serial line: what the guest's UART (or HTIF console) transmits goes to
/// `write`, and the device pulls received bytes with `read` when it has room for them.
///
/// Backends never block the emulator: `read` answers from what has already arrived.
public protocol SerialBackend: AnyObject {
    /// Sends one byte the guest transmitted to the host.
    func write(_ byte: UInt8)
    /// The next byte received from the host, or nil if none has arrived.
    func read() -> UInt8?
    /// Whether the user asked to quit through this backend (the stdio escape Ctrl-A X).
    var quitRequested: Bool { get }
}

extension SerialBackend {
    public var quitRequested: Bool { false }
}

/// Discards output and never receives (`none`).
public final class NullSerialBackend: SerialBackend {
    public init() {}
    public func write(_ byte: UInt8) {}
    public func read() -> UInt8? { nil }
}

/// Appends output to a file (`file:PATH`); receives nothing.
public final class FileSerialBackend: SerialBackend {
    public let path: String
    private let fd: Int32

    /// Creates or truncates a regular file `path`, or writes to a character device or FIFO in
    /// place (`OutputFile`: never replaced, a symbolic link is followed and stays a link).
    public init(path: String) throws(SerialBackendError) {
        self.path = path
        do { fd = try OutputFile.open(path) } catch { throw .cannotOpen(path: path, reason: error.reason) }
    }

    deinit { close(fd) }

    /// Unbuffered, so the file is complete whenever the emulator stops, however it stops.
    public func write(_ byte: UInt8) {
        var byte = byte
        _ = Foundation.write(fd, &byte, 1)
    }

    public func read() -> UInt8? { nil }
}

/// An in-memory line for tests and for embedding: captures output, delivers injected input.
public final class MemorySerialBackend: SerialBackend {
    /// Every byte the guest transmitted, in order.
    public private(set) var output: [UInt8] = []
    private var input: [UInt8] = []
    private var inputHead = 0

    public init() {}

    /// The output decoded as UTF-8 (invalid sequences replaced).
    public var outputString: String { String(decoding: output, as: UTF8.self) }

    /// Queues `bytes` for the guest to receive.
    public func inject(_ bytes: [UInt8]) { input.append(contentsOf: bytes) }
    public func inject(_ text: String) { inject(Array(text.utf8)) }

    /// Input bytes not yet read by the device.
    public var pendingInput: Int { input.count - inputHead }

    public func write(_ byte: UInt8) { output.append(byte) }

    public func read() -> UInt8? {
        guard inputHead < input.count else { return nil }
        defer { inputHead += 1 }
        return input[inputHead]
    }
}

/// Why a serial backend could not be created from its description.
public enum SerialBackendError: Error, Equatable, CustomStringConvertible {
    case unknown(spec: String, suggestion: String?)
    case cannotOpen(path: String, reason: String)

    public var description: String {
        switch self {
        case .unknown(let spec, let suggestion):
            let hint = suggestion.map { " (did you mean '\($0)'?)" } ?? ""
            return "unknown serial backend '\(spec)'\(hint); expected stdio, none or file:PATH"
        case .cannotOpen(let path, let reason):
            return "cannot open serial output file '\(path)': \(reason)"
        }
    }
}

/// Builds a backend from its command-line/board-file description: `stdio`, `none`, `file:PATH`.
public func makeSerialBackend(_ spec: String) throws(SerialBackendError) -> any SerialBackend {
    switch spec {
    case "stdio": return StdioSerialBackend.shared
    case "none", "null": return NullSerialBackend()
    default:
        if spec.hasPrefix("file:") {
            let path = String(spec.dropFirst(5))
            guard !path.isEmpty else { throw .cannotOpen(path: path, reason: "empty path") }
            return try FileSerialBackend(path: path)
        }
        let names = ["stdio", "none", "file:"]
        let best = names.min { editDistance($0, spec) < editDistance($1, spec) }!
        throw .unknown(spec: spec, suggestion: editDistance(best, spec) <= 2 ? best : nil)
    }
}

/// Levenshtein distance, for "did you mean" suggestions.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    var previous = Array(0...b.count)
    for i in 1...max(a.count, 1) where !a.isEmpty {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1...max(b.count, 1) where !b.isEmpty {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return a.isEmpty ? b.count : previous[b.count]
}

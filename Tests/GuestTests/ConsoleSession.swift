import Foundation
import XCTest

/// Drives an emulator through its serial console, as a person at the terminal would: waits for
/// text to appear, types a line, reads the answer. Output is collected by a reader thread.
final class ConsoleSession: @unchecked Sendable {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private let lock = NSLock()
    private var collected = Data()
    private var consumed = 0

    init(_ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        output.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let chunk = handle.availableData
            guard let self, !chunk.isEmpty else { return }
            self.lock.lock()
            self.collected.append(chunk)
            self.lock.unlock()
        }
        try process.run()
    }

    /// The emulator's process id (to signal it, as the durability test kills it).
    var processIdentifier: Int32 { process.processIdentifier }

    deinit {
        if process.isRunning { process.terminate() }
        output.fileHandleForReading.readabilityHandler = nil
    }

    /// Everything the console printed so far.
    var transcript: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: collected, as: UTF8.self)
    }

    /// Waits until `text` appears after what earlier waits matched; returns the output up to and
    /// including it, or nil after `timeout` seconds.
    func waitFor(_ text: String, timeout: TimeInterval) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            lock.lock()
            let unread = String(decoding: collected[consumed...], as: UTF8.self)
            if let range = unread.range(of: text) {
                let prefix = String(unread[..<range.upperBound])
                consumed += prefix.utf8.count
                lock.unlock()
                return prefix
            }
            lock.unlock()
            if !process.isRunning { return nil }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return nil
    }

    /// Types `text` on the console, one character at a time as a terminal sends keystrokes.
    func type(_ text: String) {
        for byte in text.utf8 {
            input.fileHandleForWriting.write(Data([byte]))
            Thread.sleep(forTimeInterval: 0.002)
        }
    }

    /// Waits for the process to end; its exit status, or nil after `timeout` seconds.
    func waitForExit(timeout: TimeInterval) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        guard !process.isRunning else { process.terminate(); return nil }
        return process.terminationStatus
    }
}

import Foundation
import XCTest

/// Runs guest programs (built from `Guests/`) on the emulator under test.
///
/// The emulator is Backplane's release binary (`$BACKPLANE`, else `.build/release/backplane` under
/// the package root) unless `GUEST_EMULATOR=qemu`, which runs the same guests on
/// `qemu-system-riscv64` so the tests themselves can be validated against QEMU.
enum GuestHarness {
    /// The package root, found from this file's path (`Tests/GuestTests/GuestHarness.swift`).
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Where built guests are cached (never in git): `.build/guests` under the package root.
    static let buildDirectory: URL = packageRoot.appendingPathComponent(".build/guests")

    /// Which emulator runs the guests.
    enum Emulator: Sendable {
        case backplane(path: String)
        case qemu

        var name: String {
            switch self {
            case .backplane(let path): return "backplane (\(path))"
            case .qemu: return "qemu-system-riscv64"
            }
        }
    }

    static var emulator: Emulator {
        if ProcessInfo.processInfo.environment["GUEST_EMULATOR"] == "qemu" { return .qemu }
        let path = ProcessInfo.processInfo.environment["BACKPLANE"]
            ?? packageRoot.appendingPathComponent(".build/release/backplane").path
        return .backplane(path: path)
    }

    /// The command line (without the ELF path) that runs a bare-metal ELF on `board`
    /// (`spike` or `virt`), M-mode entry at the ELF's entry point, no firmware.
    /// Fails the calling test, and returns nil, if Backplane's binary is missing.
    static func command(board: String, file: StaticString = #filePath, line: UInt = #line) -> [String]? {
        switch emulator {
        case .qemu:
            return ["qemu-system-riscv64", "-M", board, "-bios", "none", "-nographic", "-kernel"]
        case .backplane(let path):
            guard FileManager.default.isExecutableFile(atPath: path) else {
                XCTFail("""
                    backplane binary not found at \(path): build it with `swift build -c release \
                    --product backplane`, or set BACKPLANE=/path/to/backplane, or set \
                    GUEST_EMULATOR=qemu to run the guest tests on QEMU instead
                    """, file: file, line: line)
                return nil
            }
            return [path, "run", board, "--bios", "none", "--kernel"]
        }
    }

    /// Result of one process run.
    struct Run {
        /// Exit status; 124 if the harness killed the process at the timeout.
        var status: Int32
        var output: String
    }

    /// Runs `arguments` (first element found on PATH if it has no slash) with stdin closed,
    /// stdout and stderr captured, killing it after `timeout` seconds.
    static func run(_ arguments: [String], timeout: TimeInterval) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let outputURL = FileManager.default.temporaryDirectory
            .appendingPathComponent("guest-\(UUID().uuidString).out")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outputURL) }
        let output = try FileHandle(forWritingTo: outputURL)
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        var timedOut = false
        while process.isRunning {
            if Date() > deadline {
                process.terminate()
                timedOut = true
                break
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        process.waitUntilExit()
        try output.close()
        let text = String(decoding: (try? Data(contentsOf: outputURL)) ?? Data(), as: UTF8.self)
        return Run(status: timedOut ? 124 : process.terminationStatus, output: text)
    }

    private static let buildLock = NSLock()
    nonisolated(unsafe) private static var builtSets: [String: String?] = [:]

    /// Builds a set of guests (`isa`, `bench`) once per test process with
    /// `scripts/build-guests.sh`; returns the build error text, or nil on success.
    static func build(_ set: String) -> String? {
        buildLock.lock()
        defer { buildLock.unlock() }
        if let cached = builtSets[set] { return cached }
        let result: String?
        do {
            let run = try run(["sh", packageRoot.appendingPathComponent("scripts/build-guests.sh").path,
                               buildDirectory.path, set], timeout: 600)
            result = run.status == 0 ? nil : "build-guests.sh \(set) exited \(run.status):\n\(run.output)"
        } catch {
            result = "could not run build-guests.sh: \(error)"
        }
        builtSets[set] = result
        return result
    }
}

/// The release binary the guest tests drive is missing: the test fails (it never skips) and
/// says how to build it.
struct MissingBinary: Error, CustomStringConvertible {
    let path: String
    var description: String { "backplane binary not found at \(path): build it with `swift build -c release --product backplane`" }
}

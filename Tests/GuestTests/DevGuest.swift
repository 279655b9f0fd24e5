import Foundation
import XCTest

/// The development guest of `Guests/linux/dev/` (scripts/linux-guest.sh): a Linux 6.12 with
/// module support and virtio net/9p/rng/console, and a busybox initramfs whose `/init` gives a
/// root shell on the console. Built once per machine and cached like `LinuxGuest`.
enum DevGuest {
    struct Artifacts: Sendable {
        var image: String
        var initramfs: String
        /// The kernel's build tree, for out-of-tree modules.
        var tree: String
    }

    struct BuildError: Error, CustomStringConvertible {
        var description: String
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var built: Result<Artifacts, BuildError>?
    nonisolated(unsafe) private static var module: Result<String, BuildError>?

    /// Builds (or finds in the cache) the kernel, its tree and the initramfs, once per process.
    static func artifacts() throws -> Artifacts {
        lock.lock()
        defer { lock.unlock() }
        if let built { return try built.get() }
        let result: Result<Artifacts, BuildError>
        do {
            let script = GuestHarness.packageRoot.appendingPathComponent("scripts/linux-guest.sh").path
            let run = try GuestHarness.run(["sh", script], timeout: 3600)
            let lines = run.output.split(separator: "\n").map(String.init)
            if run.status == 0, lines.count >= 3, lines[lines.count - 3].hasSuffix("/Image"),
               lines[lines.count - 2].hasSuffix("/initramfs.cpio") {
                result = .success(Artifacts(image: lines[lines.count - 3], initramfs: lines[lines.count - 2], tree: lines[lines.count - 1]))
            } else {
                result = .failure(BuildError(description: "linux-guest.sh exited \(run.status):\n\(lines.suffix(40).joined(separator: "\n"))"))
            }
        } catch {
            result = .failure(BuildError(description: "could not run linux-guest.sh: \(error)"))
        }
        built = result
        return try result.get()
    }

    /// Plugins/examples/acme_edu/linux built out of tree against the guest's kernel, in a copy
    /// under .build/guests (the source directory stays clean); the path of acme_edu.ko.
    static func acmeEduModule() throws -> String {
        let artifacts = try artifacts()
        lock.lock()
        defer { lock.unlock() }
        if let module { return try module.get() }
        let result: Result<String, BuildError>
        do {
            let source = GuestHarness.packageRoot.appendingPathComponent("Plugins/examples/acme_edu/linux")
            let folder = GuestHarness.buildDirectory.appendingPathComponent("acme_edu-linux-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for name in ["acme_edu.c", "Makefile"] {
                try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: folder.appendingPathComponent(name))
            }
            let run = try GuestHarness.run(["make", "-C", folder.path, "KDIR=\(artifacts.tree)"], timeout: 600)
            let ko = folder.appendingPathComponent("acme_edu.ko").path
            if run.status == 0, FileManager.default.fileExists(atPath: ko) {
                result = .success(ko)
            } else {
                result = .failure(BuildError(description: "acme_edu module build exited \(run.status):\n\(run.output.suffix(4000))"))
            }
        } catch {
            result = .failure(BuildError(description: "could not build the acme_edu module: \(error)"))
        }
        module = result
        return try result.get()
    }

    /// The initramfs with `files` (guest path → host path) appended as a second cpio archive:
    /// the kernel unpacks concatenated archives in order (Documentation/driver-api/early-userspace).
    static func initramfs(_ artifacts: Artifacts, adding files: [String: String]) throws -> String {
        let folder = GuestHarness.buildDirectory.appendingPathComponent("dev-initramfs-\(UUID().uuidString)")
        let staging = folder.appendingPathComponent("root")
        for (guestPath, hostPath) in files {
            let target = staging.appendingPathComponent(guestPath)
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: URL(fileURLWithPath: hostPath), to: target)
        }
        let extra = folder.appendingPathComponent("extra.cpio").path
        let run = try GuestHarness.run(["sh", "-c", "cd '\(staging.path)' && find . -mindepth 1 | cpio -o -H newc -R 0:0 --quiet > '\(extra)'"], timeout: 60)
        guard run.status == 0 else { throw BuildError(description: "cpio failed: \(run.output)") }
        let combined = folder.appendingPathComponent("initramfs.cpio").path
        var data = try Data(contentsOf: URL(fileURLWithPath: artifacts.initramfs))
        // newc archives are padded to 4 bytes; the next one starts on a 4-byte boundary.
        while data.count % 4 != 0 { data.append(0) }
        data.append(try Data(contentsOf: URL(fileURLWithPath: extra)))
        try data.write(to: URL(fileURLWithPath: combined))
        return combined
    }
}

/// A root shell on the development guest's serial console: boots it, waits for the prompt and
/// runs commands, each followed by a marker that carries its exit status.
final class DevGuestShell {
    let console: ConsoleSession
    private var counter = 0

    /// Boots `board` (a bundled name or a board file) with `extra` arguments for `backplane run`,
    /// under `wrapper` (a command such as strace that runs it) when given.
    init(board: String, artifacts: DevGuest.Artifacts, initramfs: String? = nil, extra: [String] = [],
         wrapper: [String] = [], timeout: TimeInterval = 600, file: StaticString = #filePath, line: UInt = #line) throws {
        guard case .backplane(let path) = GuestHarness.emulator else { throw XCTSkip("the development guest tests drive Backplane") }
        guard FileManager.default.isExecutableFile(atPath: path) else {
            XCTFail("backplane binary not found at \(path): build it with `swift build -c release --product backplane`", file: file, line: line)
            throw DevGuest.BuildError(description: "no backplane binary")
        }
        console = try ConsoleSession(wrapper + [path, "run", board, "--kernel", artifacts.image, "--initrd", initramfs ?? artifacts.initramfs,
                                      "--append", "console=ttyS0 earlycon quiet", "--memory", "256M", "--smp", "2",
                                      "--serial", "stdio", "--timeout", "\(Int(timeout))"] + extra)
    }

    /// Waits for init's "ready" line (the shell starts right after it) and for the shell to
    /// answer.
    func waitForShell(timeout: TimeInterval = 300) -> Bool {
        guard console.waitFor("dev-guest: ready", timeout: timeout) != nil else { return false }
        return run("true", timeout: 60).status == 0
    }

    /// Runs `command` in the guest's shell; its output and exit status, or status -1 after
    /// `timeout` seconds. The command is framed by two markers the shell prints: the console
    /// echoes the typed line (wrapped, with editing sequences) but there the markers are quoted
    /// (`@@"S"1@@`), so only the shell's own output matches `@@S1@@` and `@@1@@STATUS@@`.
    /// (Turning echo off is no way out: busybox's shell then reads with fgets, and the SIGCHLD
    /// of a finished background job makes that look like end of input.)
    func run(_ command: String, timeout: TimeInterval = 120) -> (output: String, status: Int32) {
        counter += 1
        let start = "@@S\(counter)@@"
        let end = "@@\(counter)@@"
        console.type("echo @@\"S\"\(counter)@@; \(command); echo @@\"\(counter)\"@@$?@@\n")
        guard console.waitFor(start, timeout: timeout) != nil, let text = console.waitFor(end, timeout: timeout),
              let tail = console.waitFor("@@", timeout: 10) else {
            return ("", -1)
        }
        let status = Int32(tail.dropLast(2).trimmingCharacters(in: .whitespaces)) ?? -1
        return (String(text.dropLast(end.count)).trimmingCharacters(in: .whitespacesAndNewlines), status)
    }
}

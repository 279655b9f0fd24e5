import Foundation
import XCTest

/// The nested x86-64 test machine of `scripts/nested/run.sh`: Debian's kernel under
/// qemu-system-x86_64 with an emulated Intel IOMMU, whose emulated devices (edu, nvme, xHCI with
/// USB devices) are the "host devices" Backplane passes through. A run boots it with the QEMU
/// devices given, runs a script there and returns its console output and status.
enum NestedMachine {
    struct Run {
        var status: Int32
        var output: String
        var seconds: TimeInterval

        /// The lines after `marker` up to the next line starting with `end` (exclusive).
        func lines(after marker: String, until end: String) -> [String] {
            // The serial console ends lines with "\r\n", one Character in Swift: drop the "\r" first.
            let all = output.replacingOccurrences(of: "\r", with: "").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            guard let start = all.firstIndex(of: marker) else { return [] }
            let rest = all[(start + 1)...]
            return Array(rest.prefix { !$0.hasPrefix(end) })
        }
    }

    /// Boots the machine with `qemu` devices, runs `script` (a file under scripts/nested) with
    /// `files` added under /work, within `timeout` seconds. Skips the test only when
    /// qemu-system-x86 is missing and cannot be installed (the script's status 3).
    static func run(script: String, qemu: [String], files: [String] = [], timeout: Int = 300) throws -> Run {
        guard case .backplane(let binary) = GuestHarness.emulator else { throw XCTSkip("VFIO passthrough is Backplane's") }
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw MissingBinary(path: binary) }
        let root = GuestHarness.packageRoot.appendingPathComponent("scripts/nested")
        var arguments = ["sh", root.appendingPathComponent("run.sh").path, "--binary", binary, "--timeout", "\(timeout)"]
        for argument in qemu { arguments += ["--qemu", argument] }
        for file in files { arguments += ["--add", file] }
        arguments.append(root.appendingPathComponent(script).path)
        let began = Date()
        let run = try GuestHarness.run(arguments, timeout: TimeInterval(timeout + 120))
        if run.status == 3 && run.output.contains("skipped: qemu-system-x86 missing") {
            throw XCTSkip("skipped: qemu-system-x86 missing")
        }
        return Run(status: run.status, output: run.output, seconds: Date().timeIntervalSince(began))
    }

    /// A zero-filled raw disk image of `size` bytes in a new temporary folder (for -drive).
    static func disk(size: Int, named name: String) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nested-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = folder.appendingPathComponent(name)
        FileManager.default.createFile(atPath: file.path, contents: nil)
        let handle = try FileHandle(forWritingTo: file)
        try handle.truncate(atOffset: UInt64(size))
        try handle.close()
        return file
    }
}

import Foundation
import XCTest

/// The Linux guest of `Guests/linux/`: a Linux 6.12 `Image` built from Debian's `linux-source-6.12`
/// and an initramfs whose `/init` (`Guests/linux/init.c`) prints `BP: ` report lines and powers off.
///
/// `scripts/build-linux.sh` builds both once per machine and caches them outside the repository
/// (`~/.cache/backplane/linux/<hash of the inputs>/`); the first build takes 5-10 minutes on two
/// cores, later calls return at once.
enum LinuxGuest {
    /// The built kernel and initramfs.
    struct Artifacts: Sendable {
        var image: String
        var initramfs: String
    }

    /// Byte `i` of the block that init writes at `blockTestOffset` (`pattern_byte` in init.c).
    static func patternByte(_ i: Int) -> UInt8 { UInt8(truncatingIfNeeded: i &* 31 &+ (i >> 8) &+ 0x5a) }
    static let blockTestOffset = 65536
    static let blockTestLength = 4096

    private static let lock = NSLock()
    nonisolated(unsafe) private static var built: Result<Artifacts, BuildError>?

    struct BuildError: Error, CustomStringConvertible {
        var description: String
    }

    /// Builds (or finds in the cache) the kernel and initramfs, once per test process.
    static func artifacts() throws -> Artifacts {
        lock.lock()
        defer { lock.unlock() }
        if let built { return try built.get() }
        let result: Result<Artifacts, BuildError>
        do {
            let script = GuestHarness.packageRoot.appendingPathComponent("scripts/build-linux.sh").path
            // 40 minutes: a clean kernel build on two busy cores, with room to spare.
            let run = try GuestHarness.run(["sh", script], timeout: 2400)
            let lines = run.output.split(separator: "\n").map(String.init)
            if run.status == 0, lines.count >= 2, lines[lines.count - 2].hasSuffix("/Image"),
               lines[lines.count - 1].hasSuffix("/initramfs.cpio") {
                result = .success(Artifacts(image: lines[lines.count - 2], initramfs: lines[lines.count - 1]))
            } else {
                result = .failure(BuildError(description: "build-linux.sh exited \(run.status):\n\(lines.suffix(40).joined(separator: "\n"))"))
            }
        } catch {
            result = .failure(BuildError(description: "could not run build-linux.sh: \(error)"))
        }
        built = result
        return try result.get()
    }

    /// Which interrupt controllers the board has.
    enum Interrupts: String, Sendable {
        /// PLIC: PCI functions interrupt through INTx.
        case plic
        /// APLIC in MSI mode + IMSIC: PCI functions use MSI-X.
        case aia
    }

    /// One boot of the guest to poweroff.
    struct Boot {
        var status: Int32
        var output: String
        var seconds: Double

        /// The report lines, without their `BP: ` prefix. Lines end in "\r\n", one Character in
        /// Swift, hence `isNewline`. A kernel message may be printed on the same console line
        /// before a report, so the prefix is searched anywhere in a line.
        var report: [String] {
            output.split(whereSeparator: \.isNewline).compactMap { line in
                line.range(of: "BP: ").map { String(line[$0.upperBound...]) }
            }
        }

        /// Report lines that begin with `prefix`.
        func lines(_ prefix: String) -> [String] { report.filter { $0.hasPrefix(prefix) } }
    }

    /// Boots the guest on `interrupts` with `harts` harts and, with `disk`, a virtio-blk-pci disk at
    /// 00:02.0 backed by that raw image. On Backplane: bundled `virt` without a disk, else
    /// `Guests/linux/boards/virt-pci.yaml` / `virt-aia-pci.yaml` copied beside the disk (its `file`
    /// is relative) and run from that directory. Under `GUEST_EMULATOR=qemu`:
    /// `Guests/linux/run-qemu.sh` (QEMU virt, or virt,aia=aplic-imsic).
    /// `edu` adds the edu PCI device at 00:03.0 (QEMU's `-device edu`; on Backplane the built-in
    /// `edu` type on the AIA board, plus the `acme.edu` plugin function at 00:04.0). `accel` is Backplane's `--accel` (ignored by QEMU).
    static func boot(_ artifacts: Artifacts, interrupts: Interrupts, harts: Int, disk: URL?, edu: Bool = false,
                     accel: String = "interp", timeout: TimeInterval = 300) throws -> Boot {
        let append = "console=ttyS0 earlycon"
        var arguments: [String]
        var directory: URL?
        switch GuestHarness.emulator {
        case .qemu:
            // The reference runner; it works around QEMU 7.2's APLIC (see its header).
            arguments = ["EDU=\(edu ? 1 : 0)", "sh", GuestHarness.packageRoot.appendingPathComponent("Guests/linux/run-qemu.sh").path,
                         interrupts.rawValue, "\(harts)", disk?.path ?? "none"]
        case .backplane(let path):
            var board = "virt"
            if edu {
                // The bundled AIA board plus an edu function at 00:03.0.
                let virt = try String(contentsOf: GuestHarness.packageRoot.appendingPathComponent("Boards/virt-aia.yaml"), encoding: .utf8)
                guard let boot = virt.range(of: "\nboot:") else { throw BuildError(description: "virt-aia.yaml has no boot section") }
                var text = virt
                // Built-in edu at 03.0 and the acme.edu plugin at 04.0: both go through the same PCI core.
                text.insert(contentsOf: "\n  - name: edu0\n    type: edu\n    at: pcie0/03.0\n  - name: edu1\n    type: acme.edu\n    at: pcie0/04.0",
                            at: boot.lowerBound)
                text += "plugins:\n  - path: \(try PluginGuestTests.plugin("acme_edu"))\n"
                let folder = FileManager.default.temporaryDirectory.appendingPathComponent("linux-edu-\(UUID().uuidString)")
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                let copy = folder.appendingPathComponent("virt-aia-edu.yaml")
                try text.write(to: copy, atomically: true, encoding: .utf8)
                board = copy.path
            } else if let disk {
                let name = interrupts == .plic ? "virt-pci.yaml" : "virt-aia-pci.yaml"
                let template = GuestHarness.packageRoot.appendingPathComponent("Guests/linux/boards/\(name)")
                let copy = disk.deletingLastPathComponent().appendingPathComponent(name)
                try? FileManager.default.removeItem(at: copy)
                try FileManager.default.copyItem(at: template, to: copy)
                board = copy.path
                directory = disk.deletingLastPathComponent()
            } else if interrupts == .aia {
                throw BuildError(description: "an AIA boot needs a board file; only the PCI one exists")
            }
            arguments = [path, "run", board, "--kernel", artifacts.image, "--initrd", artifacts.initramfs,
                         "--append", append, "--memory", "256M", "--smp", "\(harts)", "--accel", accel, "--serial", "stdio",
                         "--timeout", "\(Int(timeout))"]
        }
        let start = Date()
        // `env -C DIR` (GuestHarness runs through /usr/bin/env): the board's relative disk path
        // resolves in the disk's directory.
        if let directory { arguments = ["-C", directory.path] + arguments }
        let run = try GuestHarness.run(arguments, timeout: timeout + 30)
        return Boot(status: run.status, output: run.output, seconds: Date().timeIntervalSince(start))
    }

    /// A fresh zero-filled raw disk image of `size` bytes in a new temporary directory.
    static func makeDisk(size: Int = 8 << 20) throws -> URL {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("backplane-linux-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let disk = directory.appendingPathComponent("linux-disk.img")
        XCTAssertTrue(FileManager.default.createFile(atPath: disk.path, contents: nil))
        let handle = try FileHandle(forWritingTo: disk)
        try handle.truncate(atOffset: UInt64(size))
        try handle.close()
        return disk
    }
}

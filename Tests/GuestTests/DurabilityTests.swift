import Foundation
import XCTest

/// Durability (issue 15, docs/reliability.md): a write the Linux development guest has flushed —
/// `dd conv=fsync` (the kernel's fsync sends virtio-blk FLUSH, or SCSI SYNCHRONIZE CACHE on USB
/// storage) or a plain write followed by `sync` — is in the disk image when the host process is
/// killed with SIGKILL the moment the guest reports it, on virtio-blk and on USB mass storage.
///
/// SIGKILL leaves the host's page cache alone, so the image bytes prove that no completed write
/// was still held inside the emulator; that the guest's flush reached the image as an fsync (what
/// makes it survive a host crash too) is checked by running the emulator under strace.
final class DurabilityTests: XCTestCase {
    private static let blockSize = 4096
    private static let blocks = 16

    func testFlushedWritesSurviveSIGKILLOnVirtioBlockAndUSBStorage() throws {
        guard case .backplane = GuestHarness.emulator else { throw XCTSkip("the durability test kills Backplane") }
        let artifacts: DevGuest.Artifacts
        do { artifacts = try DevGuest.artifacts() } catch { throw XCTSkip("development guest: \(error)") }

        let folder = GuestHarness.buildDirectory.appendingPathComponent("durability-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        // Two disks of zeros and two random patterns: one written with fsync, one with sync.
        let imageSize = 8 << 20
        let virtioImage = folder.appendingPathComponent("virtio.img")
        let usbImage = folder.appendingPathComponent("usb.img")
        for image in [virtioImage, usbImage] { try Data(count: imageSize).write(to: image) }
        var generator = SystemRandomNumberGenerator()
        let patterns = (0..<2).map { _ in Data((0..<Self.blockSize * Self.blocks).map { _ in UInt8.random(in: 0...255, using: &generator) }) }
        for (index, pattern) in patterns.enumerated() {
            try pattern.write(to: folder.appendingPathComponent("p\(index)"))
        }
        let initramfs = try DevGuest.initramfs(artifacts, adding: ["p0": folder.appendingPathComponent("p0").path,
                                                                   "p1": folder.appendingPathComponent("p1").path])

        // strace (when installed) records every fsync with the file it was on (-y).
        let straceLog = folder.appendingPathComponent("strace.txt").path
        let strace = ["/usr/bin/strace", "/bin/strace"].first { FileManager.default.isExecutableFile(atPath: $0) }
        let wrapper = strace.map { [$0, "-f", "-y", "-qq", "-e", "trace=fsync,fdatasync", "-o", straceLog] } ?? []
        let shell = try DevGuestShell(board: "virt-linux", artifacts: artifacts, initramfs: initramfs,
                                      extra: ["--device", "virtio-blk-pci,at=pcie0/05.0,file=\(virtioImage.path)",
                                              "--device", "qemu-xhci,name=xhci9,at=pcie0/06.0",
                                              "--device", "usb-storage,at=xhci9/port1,file=\(usbImage.path)"],
                                      wrapper: wrapper)
        XCTAssertTrue(shell.waitForShell(), "no shell:\n\(shell.console.transcript.suffix(3000))")
        // The USB disk appears once usb-storage has scanned it.
        XCTAssertEqual(shell.run("for i in $(seq 100); do [ -b /dev/sda ] && break; sleep 0.2; done; [ -b /dev/vda ] && [ -b /dev/sda ]").status, 0,
                       "no /dev/vda or /dev/sda:\n\(shell.console.transcript.suffix(3000))")

        // Both disks, each way; the report comes only when every flush has completed.
        let offsets = [256, 1024]  // in blocks: where p0 and p1 go
        var command: [String] = []
        for disk in ["/dev/vda", "/dev/sda"] {
            command.append("dd if=/p0 of=\(disk) bs=\(Self.blockSize) seek=\(offsets[0]) conv=fsync 2>/dev/null")
            command.append("dd if=/p1 of=\(disk) bs=\(Self.blockSize) seek=\(offsets[1]) 2>/dev/null")
            command.append("sync")
        }
        let flushed = shell.run(command.joined(separator: " && "), timeout: 300)
        // Killed the moment the guest says so: no shutdown, no chance to write anything later.
        let emulator = emulatorProcess(under: shell.console.processIdentifier, traced: strace != nil)
        XCTAssertEqual(kill(emulator, SIGKILL), 0)
        XCTAssertEqual(flushed.status, 0, "the writes failed in the guest:\n\(shell.console.transcript.suffix(3000))")
        XCTAssertNotNil(shell.console.waitForExit(timeout: 30), "the emulator did not die")

        for (name, image) in [("virtio-blk", virtioImage), ("usb-storage", usbImage)] {
            let bytes = try Data(contentsOf: image)
            XCTAssertEqual(bytes.count, imageSize, name)
            for (index, pattern) in patterns.enumerated() {
                let start = offsets[index] * Self.blockSize
                XCTAssertTrue(bytes[start..<start + pattern.count] == pattern,
                              "\(name): the \(index == 0 ? "fsync'd" : "synced") write is not in the image after SIGKILL")
            }
        }
        if strace != nil {
            let log = (try? String(contentsOfFile: straceLog, encoding: .utf8)) ?? ""
            for (name, image) in [("virtio-blk", virtioImage), ("usb-storage", usbImage)] {
                let syncs = log.split(separator: "\n").filter { ($0.contains("fsync(") || $0.contains("fdatasync(")) && $0.contains(image.path) }
                print("durability: \(name): \(syncs.count) fsync(s) of the image file")
                // Each disk: at least the fsync of p0 (the kernel's sync(2) writes a raw block device's pages
                // but need not flush its cache); every one succeeded.
                XCTAssertGreaterThanOrEqual(syncs.count, 1, "\(name): the guest's flushes did not reach the image file:\n\(log.suffix(2000))")
                XCTAssertTrue(syncs.allSatisfy { $0.hasSuffix("= 0") }, "\(name): \(syncs)")
            }
        }
    }

    /// The backplane process: `pid` itself, or under strace its child.
    private func emulatorProcess(under pid: Int32, traced: Bool) -> Int32 {
        guard traced else { return pid }
        let children = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
        return children.split(separator: " ").first.flatMap { Int32($0) } ?? pid
    }
}

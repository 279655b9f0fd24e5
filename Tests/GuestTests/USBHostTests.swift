import Foundation
import XCTest

/// `usb.host` in a Linux guest: a replayed host device (the `gadget.json` recording through the
/// replay backend) enumerates in Linux with its recorded IDs and product string. The unplug is
/// covered by the unit tests (USBHostPassthroughTests): the replay backend has no timed unplug.
final class USBHostTests: XCTestCase {
    func testReplayedHostDeviceEnumeratesWithItsRecordedIDsAndProduct() throws {
        guard case .backplane(let binary) = GuestHarness.emulator else { throw XCTSkip("usb.host is Backplane's") }
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw MissingBinary(path: binary) }
        let artifacts = try LinuxGuest.artifacts()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("usbhost-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(at: GuestHarness.packageRoot.appendingPathComponent("Tests/PassthroughTests/Recordings/usb/gadget.json"),
                                         to: folder.appendingPathComponent("gadget.json"))
        // virt-usb.yaml with the host device as the only USB device.
        let original = try String(contentsOf: GuestHarness.packageRoot.appendingPathComponent("Guests/linux/boards/virt-usb.yaml"), encoding: .utf8)
        let start = try XCTUnwrap(original.range(of: "  - name: kbd0\n"))
        let end = try XCTUnwrap(original.range(of: "boot:\n"))
        let board = original[..<start.lowerBound] + """
              - name: host0
                type: usb.host
                at: xhci0/port1
                properties: { vendor: 0x1209, product: 0x0010, backend: replay, recording: gadget.json }

            """ + original[end.lowerBound...]
        let boardFile = folder.appendingPathComponent("virt-usb-host.yaml")
        try String(board).write(to: boardFile, atomically: true, encoding: .utf8)
        let timeout = 400
        let began = Date()
        let run = try GuestHarness.run(["-C", folder.path, binary, "run", boardFile.path, "--kernel", artifacts.image,
                                        "--initrd", artifacts.initramfs, "--append", "console=ttyS0 earlycon bp.usb=1",
                                        "--memory", "256M", "--serial", "stdio", "--timeout", "\(timeout)"], timeout: TimeInterval(timeout + 30))
        let boot = LinuxGuest.Boot(status: run.status, output: run.output, seconds: Date().timeIntervalSince(began))
        let tail = boot.output.split(separator: "\n").suffix(60).joined(separator: "\n")
        XCTAssertEqual(boot.status, 0, "the run did not end with a clean poweroff; console tail:\n\(tail)")
        XCTAssertEqual(boot.report.last, "done", "init did not finish; console tail:\n\(tail)")
        XCTAssertEqual(boot.lines("usb "), [
            "usb 1-1 id=1209:0010 speed=480 driver=usb interfaces=ff:none product=Replay Gadget",
            "usb count=1",
        ])
    }
}

/// The recordings captured from real devices (QEMU's usb-kbd and usb-storage seen through libusb
/// in the nested machine, Tests/GuestTests/NestedUSBHostTests.swift) replayed to the Linux guest:
/// it enumerates both with their IDs and strings and its write/read-back check of the disk passes
/// against the recorded SCSI exchange (the OUT data must match what was recorded).
final class CapturedUSBReplayTests: XCTestCase {
    func testLinuxUsesTheCapturedKeyboardAndDiskThroughTheReplayBackend() throws {
        guard case .backplane(let binary) = GuestHarness.emulator else { throw XCTSkip("usb.host is Backplane's") }
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw MissingBinary(path: binary) }
        let artifacts = try LinuxGuest.artifacts()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("usbreplay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in ["qemu-usb-kbd.json", "qemu-usb-storage.json"] {
            try FileManager.default.copyItem(at: GuestHarness.packageRoot.appendingPathComponent("Tests/PassthroughTests/Recordings/usb/\(name)"),
                                             to: folder.appendingPathComponent(name))
        }
        // The nested machine's board with both devices switched to the replay backend.
        var board = try String(contentsOf: GuestHarness.packageRoot.appendingPathComponent("Guests/linux/boards/virt-usb-host.yaml"), encoding: .utf8)
        for (ids, recording) in [("vendor: 0x0627, product: 0x0001", "qemu-usb-kbd.json"), ("vendor: 0x46f4, product: 0x0001", "qemu-usb-storage.json")] {
            board = board.replacingOccurrences(of: "{ \(ids), detach-driver: true }", with: "{ \(ids), backend: replay, recording: \(recording) }")
        }
        XCTAssertEqual(board.components(separatedBy: "backend: replay").count, 3, "both devices replayed")
        let boardFile = folder.appendingPathComponent("virt-usb-replay.yaml")
        try board.write(to: boardFile, atomically: true, encoding: .utf8)
        let run = try GuestHarness.run(["-C", folder.path, binary, "run", boardFile.path, "--kernel", artifacts.image,
                                        "--initrd", artifacts.initramfs, "--append", "console=ttyS0 earlycon bp.usb=2 bp.usbdisk=1",
                                        "--memory", "256M", "--serial", "stdio", "--timeout", "300"], timeout: 330)
        let boot = LinuxGuest.Boot(status: run.status, output: run.output, seconds: 0)
        let tail = boot.output.split(separator: "\n").suffix(60).joined(separator: "\n")
        XCTAssertEqual(boot.status, 0, tail)
        XCTAssertEqual(boot.report.last, "done", tail)
        XCTAssertEqual(boot.lines("usb "), [
            "usb 1-1 id=0627:0001 speed=480 driver=usb interfaces=03:usbhid product=QEMU USB Keyboard",
            "usb 2-1 id=46f4:0001 speed=5000 driver=usb interfaces=08:usb-storage product=QEMU USB HARDDRIVE",
            "usb count=2",
        ], tail)
        XCTAssertTrue(boot.report.contains("blk sda rw ok offset=\(LinuxGuest.blockTestOffset) len=\(LinuxGuest.blockTestLength)"), tail)
    }
}

/// `usb.host` under `--record` and `--replay` (docs/passthrough.md "Record and replay"): the
/// captured keyboard and disk (through the replay backend, standing in for host devices) are
/// recorded with the Linux guest using them; the replay runs with the recordings deleted, so no
/// host device can be opened, and prints the same console output; a journal whose first disk
/// submission is edited stops with status 3 at that submission.
final class USBHostJournalGuestTests: XCTestCase {
    func testALinuxRunWithHostUSBDevicesReplaysWithoutThem() throws {
        guard case .backplane(let binary) = GuestHarness.emulator else { throw XCTSkip("usb.host is Backplane's") }
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw MissingBinary(path: binary) }
        let artifacts = try LinuxGuest.artifacts()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("usbjournal-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let recordings = ["qemu-usb-kbd.json", "qemu-usb-storage.json"]
        for name in recordings {
            try FileManager.default.copyItem(at: GuestHarness.packageRoot.appendingPathComponent("Tests/PassthroughTests/Recordings/usb/\(name)"),
                                             to: folder.appendingPathComponent(name))
        }
        var board = try String(contentsOf: GuestHarness.packageRoot.appendingPathComponent("Guests/linux/boards/virt-usb-host.yaml"), encoding: .utf8)
        for (ids, recording) in [("vendor: 0x0627, product: 0x0001", recordings[0]), ("vendor: 0x46f4, product: 0x0001", recordings[1])] {
            board = board.replacingOccurrences(of: "{ \(ids), detach-driver: true }", with: "{ \(ids), backend: replay, recording: \(recording) }")
        }
        let boardFile = folder.appendingPathComponent("virt-usb-journal.yaml")
        try board.write(to: boardFile, atomically: true, encoding: .utf8)
        let journal = folder.appendingPathComponent("run.journal").path
        func run(_ options: [String]) throws -> GuestHarness.Run {
            try GuestHarness.run(["-C", folder.path, binary, "run", boardFile.path, "--kernel", artifacts.image,
                                  "--initrd", artifacts.initramfs, "--append", "console=ttyS0 earlycon bp.usb=2 bp.usbdisk=1",
                                  "--memory", "256M", "--serial", "stdio", "--timeout", "300"] + options, timeout: 330)
        }

        let recorded = try run(["--record", journal])
        let boot = LinuxGuest.Boot(status: recorded.status, output: recorded.output, seconds: 0)
        let tail = boot.output.split(separator: "\n").suffix(40).joined(separator: "\n")
        XCTAssertEqual(boot.status, 0, tail)
        XCTAssertEqual(boot.report.last, "done", tail)
        XCTAssertEqual(boot.lines("usb ").count, 3, tail)
        let lines = try String(contentsOfFile: journal, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.filter { $0.contains(" usb:kbd0/attach ") || $0.contains(" usb:stick0/attach ") }.count, 2)
        XCTAssertGreaterThan(lines.filter { $0.hasPrefix("sent ") && $0.contains(" usb:stick0/submit ") }.count, 4)
        XCTAssertGreaterThan(lines.filter { $0.hasPrefix("input ") && $0.contains(" usb:stick0/done ") }.count, 4)

        for name in recordings { try FileManager.default.removeItem(at: folder.appendingPathComponent(name)) }
        let replayed = try run(["--replay", journal])
        XCTAssertEqual(replayed.status, 0, replayed.output.suffix(2000).description)
        XCTAssertEqual(replayed.output, recorded.output)

        // The first disk submission edited (its last hex digit): the replay stops there.
        let edited = folder.appendingPathComponent("edited.journal").path
        var changed = lines
        let index = try XCTUnwrap(changed.firstIndex { $0.hasPrefix("sent ") && $0.contains(" usb:stick0/submit ") })
        let last = changed[index].removeLast()
        changed[index].append(last == "0" ? "1" : "0")
        try (changed.joined(separator: "\n") + "\n").write(toFile: edited, atomically: false, encoding: .utf8)
        let diverged = try run(["--replay", edited])
        XCTAssertEqual(diverged.status, 3, diverged.output.suffix(1500).description)
        let time = changed[index].split(separator: " ")[1]
        XCTAssertTrue(diverged.output.contains("to usb:stick0/submit at time \(time); the recording has "), diverged.output.suffix(1500).description)
    }
}

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

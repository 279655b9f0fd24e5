import Foundation
import XCTest

/// Linux's xhci-hcd enumerates the acme_usbloop plugin (Plugins/examples/acme_usbloop) like a
/// built-in device: on `Guests/linux/boards/virt-usb.yaml` plus two plugin instances, one on a
/// USB 2 port (high speed) and one on a USB 3 port (super speed), loaded through the board's
/// `plugins:` list. Each shows its IDs and product string, and the 4096 bytes init sends to
/// bulk OUT 0x01 through usbfs come back intact from bulk IN 0x81 (completed from the plugin's
/// virtual-time timer), with the vendor request then reporting nothing left.
final class USBPluginTests: XCTestCase {
    func testLinuxEnumeratesThePluginDeviceAndItsLoopbackDataComesBackIntact() throws {
        guard case .backplane(let binary) = GuestHarness.emulator else { throw XCTSkip("USB plugins are Backplane's") }
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw MissingBinary(path: binary) }
        let library = try PluginGuestTests.plugin("acme_usbloop")
        let artifacts = try LinuxGuest.artifacts()
        let disk = try LinuxGuest.makeDisk()
        let folder = disk.deletingLastPathComponent()
        try FileManager.default.moveItem(at: disk, to: folder.appendingPathComponent("usb-disk.img"))
        var board = try String(contentsOf: GuestHarness.packageRoot.appendingPathComponent("Guests/linux/boards/virt-usb.yaml"), encoding: .utf8)
        let boot = try XCTUnwrap(board.range(of: "\nboot:"))
        board.insert(contentsOf: """

              - name: acme0
                type: acme.usbloop
                at: xhci0/port4
              - name: acme1
                type: acme.usbloop
                at: xhci0/port6
                properties: { latency-ns: 50000 }
            """, at: boot.lowerBound)
        board += "plugins:\n  - path: \(library)\n"
        let path = folder.appendingPathComponent("virt-usb-plugin.yaml")
        try board.write(to: path, atomically: true, encoding: .utf8)

        let append = "console=ttyS0 earlycon usb-storage.delay_use=0 bp.usb=6 bp.usbdisk=1"
        let timeout = 400
        let start = Date()
        let run = try GuestHarness.run(["-C", folder.path, binary, "run", path.path, "--kernel", artifacts.image,
                                        "--initrd", artifacts.initramfs, "--append", append, "--memory", "256M",
                                        "--serial", "stdio", "--timeout", "\(timeout)"], timeout: TimeInterval(timeout + 30))
        let result = LinuxGuest.Boot(status: run.status, output: run.output, seconds: Date().timeIntervalSince(start))
        print("linux boot with USB plugin devices on backplane: " + String(format: "%.2f s", result.seconds))
        let tail = result.output.split(separator: "\n").suffix(80).joined(separator: "\n")
        XCTAssertEqual(result.status, 0, "the run did not end with a clean poweroff; console tail:\n\(tail)")
        XCTAssertEqual(result.report.last, "done", "init did not finish; console tail:\n\(tail)")
        let plugin = result.lines("usb ").filter { $0.contains("1-4") || $0.contains("2-2") || $0.hasPrefix("usb count=") }
        XCTAssertEqual(plugin, [
            "usb 1-4 id=1209:0005 speed=480 driver=usb interfaces=ff:none product=ACME USB Loopback",
            "usb loopback 1-4 ok bytes=4096",
            "usb 2-2 id=1209:0005 speed=5000 driver=usb interfaces=ff:none product=ACME USB Loopback",
            "usb loopback 2-2 ok bytes=4096",
            "usb count=6",
        ])
        XCTAssertEqual(result.lines("usb loopback 1-2 "), ["usb loopback 1-2 ok bytes=4096"], "the built-in loopback device still works beside them")
    }
}

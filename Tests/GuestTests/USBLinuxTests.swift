import Foundation
import XCTest

/// Linux's xhci-hcd on Backplane's xHCI controller (`Guests/linux/boards/virt-usb.yaml` and
/// `virt-aia-usb.yaml`): a keyboard, a loopback device and a tablet on USB 2 ports and a
/// SuperSpeed disk on a USB 3 port enumerate with their IDs and product strings, data sent to the
/// loopback device through usbfs comes back intact, the disk is read and written through /dev/sda,
/// and the controller interrupts through INTx (PLIC) or MSI-X (AIA).
final class USBLinuxTests: XCTestCase {
    /// init's USB lines for the four devices, in /sys/bus/usb/devices order (bus 1 is the USB 2
    /// root hub, bus 2 the USB 3 one; port numbers count within each).
    private let expectedDevices = [
        "usb 1-1 id=1209:0001 speed=12 driver=usb interfaces=03:usbhid product=Backplane USB Keyboard",
        "usb 1-2 id=1209:0004 speed=480 driver=usb interfaces=ff:none product=Backplane USB Loopback",
        // init's usbfs check: 4096 bytes out on bulk 0x01 and back on bulk 0x81, none left after.
        "usb loopback 1-2 ok bytes=4096",
        "usb 1-3 id=1209:0002 speed=12 driver=usb interfaces=03:usbhid product=Backplane USB Tablet",
        "usb 2-1 id=1209:0003 speed=5000 driver=usb interfaces=08:usb-storage product=Backplane USB Storage",
        "usb count=4",
    ]

    func testPLICBoardEnumeratesUSBDevicesAndUsesTheDiskThroughINTx() throws {
        let (boot, disk) = try bootUSBBoard(interrupts: .plic)
        let controller = try XCTUnwrap(boot.lines("pci 0000:00:04.0 ").first, "xHCI not enumerated")
        XCTAssertTrue(controller.hasPrefix("pci 0000:00:04.0 vendor=1b36 device=000d class=0c0330 driver=xhci_hcd irq="), controller)
        XCTAssertTrue(controller.hasSuffix(" msi=none"), "the PLIC board has no MSI controller: \(controller)")
        XCTAssertEqual(boot.lines("usb "), expectedDevices)
        try assertDiskWrittenAndReadBack(boot, disk: disk)
    }

    func testAIABoardEnumeratesUSBDevicesAndTheControllerUsesMSIX() throws {
        let (boot, disk) = try bootUSBBoard(interrupts: .aia)
        let controller = try XCTUnwrap(boot.lines("pci 0000:00:04.0 ").first, "xHCI not enumerated")
        XCTAssertTrue(controller.contains(" driver=xhci_hcd "), controller)
        XCTAssertTrue(controller.contains(" msi=msix:"), "the xHCI controller does not use MSI-X: \(controller)")
        XCTAssertEqual(boot.lines("usb "), expectedDevices)
        try assertDiskWrittenAndReadBack(boot, disk: disk)
    }

    /// Copies the board beside a fresh 8 MiB disk image and boots it with init told to wait for
    /// four USB devices and a SCSI disk.
    private func bootUSBBoard(interrupts: LinuxGuest.Interrupts, file: StaticString = #filePath, line: UInt = #line) throws -> (LinuxGuest.Boot, URL) {
        guard case .backplane(let binary) = GuestHarness.emulator else { throw XCTSkip("the USB boards are Backplane's") }
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw MissingBinary(path: binary) }
        let artifacts = try LinuxGuest.artifacts()
        let disk = try LinuxGuest.makeDisk()
        let folder = disk.deletingLastPathComponent()
        try FileManager.default.moveItem(at: disk, to: folder.appendingPathComponent("usb-disk.img"))
        let usbDisk = folder.appendingPathComponent("usb-disk.img")
        let name = interrupts == .plic ? "virt-usb.yaml" : "virt-aia-usb.yaml"
        let board = folder.appendingPathComponent(name)
        try FileManager.default.copyItem(at: GuestHarness.packageRoot.appendingPathComponent("Guests/linux/boards/\(name)"), to: board)
        // usb-storage waits a second before scanning by default; bp.usb/bp.usbdisk make init wait.
        let append = "console=ttyS0 earlycon usb-storage.delay_use=0 bp.usb=4 bp.usbdisk=1"
        let timeout = 400
        let start = Date()
        let run = try GuestHarness.run(["-C", folder.path, binary, "run", board.path, "--kernel", artifacts.image,
                                        "--initrd", artifacts.initramfs, "--append", append, "--memory", "256M",
                                        "--serial", "stdio", "--timeout", "\(timeout)"], timeout: TimeInterval(timeout + 30))
        let boot = LinuxGuest.Boot(status: run.status, output: run.output, seconds: Date().timeIntervalSince(start))
        print("linux boot with USB on backplane, \(interrupts.rawValue): " + String(format: "%.2f s", boot.seconds))
        let tail = boot.output.split(separator: "\n").suffix(80).joined(separator: "\n")
        XCTAssertEqual(boot.status, 0, "the run did not end with a clean poweroff; console tail:\n\(tail)", file: file, line: line)
        XCTAssertEqual(boot.report.last, "done", "init did not finish; console tail:\n\(tail)", file: file, line: line)
        XCTAssertEqual(boot.lines("error "), [], file: file, line: line)
        return (boot, usbDisk)
    }

    /// init wrote its pattern to /dev/sda at `blockTestOffset`; the image file must hold it.
    private func assertDiskWrittenAndReadBack(_ boot: LinuxGuest.Boot, disk: URL, file: StaticString = #filePath, line: UInt = #line) throws {
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: disk.path)[.size] as? Int)
        XCTAssertEqual(boot.lines("blk "), [
            "blk sda size=\(size)",
            "blk none",
            "blk sda rw ok offset=\(LinuxGuest.blockTestOffset) len=\(LinuxGuest.blockTestLength)",
        ], file: file, line: line)
        let data = try Data(contentsOf: disk)
        let block = data[LinuxGuest.blockTestOffset ..< LinuxGuest.blockTestOffset + LinuxGuest.blockTestLength]
        XCTAssertEqual(block, Data((0 ..< LinuxGuest.blockTestLength).map(LinuxGuest.patternByte)),
                       "the disk image does not hold the block the guest wrote through /dev/sda", file: file, line: line)
    }
}

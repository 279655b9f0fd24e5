import Foundation
import XCTest

/// `usb.host` against a real kernel USB stack: in the nested machine, QEMU's usb-kbd and
/// usb-storage on its qemu-xhci are seen through libusb by Backplane, whose RISC-V Linux guest
/// enumerates them with their IDs and strings and writes and reads back the test pattern on the
/// disk (scripts/nested/usb-host.sh, Guests/linux/boards/virt-usb-host.yaml). After the run the
/// x86 side (this test) finds the pattern in the disk image. The exchange is recorded
/// (RecordingUSBDevice) and must show the same device as the captured recordings in
/// Tests/PassthroughTests/Recordings/usb.
final class NestedUSBHostTests: XCTestCase {
    func testTheLinuxGuestEnumeratesHostUSBDevicesAndWritesTheHostDisk() throws {
        let artifacts = try LinuxGuest.artifacts()
        let disk = try NestedMachine.disk(size: 16 << 20, named: "stick.img")
        defer { try? FileManager.default.removeItem(at: disk.deletingLastPathComponent()) }
        let board = GuestHarness.packageRoot.appendingPathComponent("Guests/linux/boards/virt-usb-host.yaml").path
        let run = try NestedMachine.run(script: "usb-host.sh", qemu: [
            "-device qemu-xhci,id=xhci",
            "-drive file=\(disk.path),if=none,id=stick,format=raw -device usb-storage,bus=xhci.0,drive=stick",
            "-device usb-kbd,bus=xhci.0",
        ], files: [artifacts.image + ":/work/Image", artifacts.initramfs + ":/work/initramfs.cpio", board], timeout: 900)
        print("nested machine: \(Int(run.seconds)) s")
        let boot = LinuxGuest.Boot(status: run.status, output: run.output, seconds: run.seconds)
        let tail = run.output.split(whereSeparator: \.isNewline).suffix(80).joined(separator: "\n")
        XCTAssertEqual(run.status, 0, tail)
        XCTAssertTrue(run.output.contains("backplane status 0"), tail)
        XCTAssertEqual(boot.report.last, "done", tail)
        XCTAssertEqual(boot.lines("usb "), [
            "usb 1-1 id=0627:0001 speed=480 driver=usb interfaces=03:usbhid product=QEMU USB Keyboard",
            "usb 2-1 id=46f4:0001 speed=5000 driver=usb interfaces=08:usb-storage product=QEMU USB HARDDRIVE",
            "usb count=2",
        ], tail)
        XCTAssertTrue(boot.report.contains("blk sda rw ok offset=\(LinuxGuest.blockTestOffset) len=\(LinuxGuest.blockTestLength)"), tail)
        // What the guest wrote through usb.host, libusb, the x86 kernel's xHCI driver and QEMU's
        // usb-storage is in the image.
        let image = try Data(contentsOf: disk)
        let block = image[LinuxGuest.blockTestOffset..<(LinuxGuest.blockTestOffset + LinuxGuest.blockTestLength)]
        XCTAssertEqual(Array(block), (0..<LinuxGuest.blockTestLength).map(LinuxGuest.patternByte))

        // The recordings of this run describe the same devices as the captured ones in the repository.
        for (file, captured) in [("0627-0001.json", "qemu-usb-kbd"), ("46f4-0001.json", "qemu-usb-storage")] {
            let text = try XCTUnwrap(Self.recording(file, in: run.output), "no recording \(file)")
            let fresh = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], file)
            let keptData = try Data(contentsOf: GuestHarness.packageRoot
                .appendingPathComponent("Tests/PassthroughTests/Recordings/usb/\(captured).json"))
            let kept = try XCTUnwrap(try JSONSerialization.jsonObject(with: keptData) as? [String: Any], captured)
            XCTAssertEqual(fresh["device"] as? String, kept["device"] as? String, file)
            XCTAssertEqual(fresh["configurations"] as? [String], kept["configurations"] as? [String], file)
            XCTAssertEqual(fresh["product"] as? String, kept["product"] as? String, file)
            XCTAssertFalse((fresh["transfers"] as? [Any] ?? []).isEmpty, file)
        }
    }

    /// The JSON printed between "recording NAME" and "end recording".
    static func recording(_ name: String, in output: String) -> String? {
        let lines = output.replacingOccurrences(of: "\r", with: "").split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(of: "recording \(name)"[...]) else { return nil }
        return lines[(start + 1)...].prefix { $0 != "end recording" }.joined(separator: "\n")
    }
}

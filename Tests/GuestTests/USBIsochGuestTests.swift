import Foundation
import XCTest

/// Isochronous transfers end to end (plugin ABI 1.3): Linux's xhci-hcd, driven from usbfs by a
/// small program in the development guest (Tests/PluginHostTests/Fixtures/isoch_guest.c), moves
/// isochronous OUT and IN URBs to and from a plugin device (Fixtures/isoch_plugin.c) on
/// `qemu-xhci`. Linux queues one Isoch TRB per packet with Start Isoch ASAP; every packet must
/// reach the plugin in consecutive service intervals (2^(bInterval-1) = 8 microframes) on the
/// clock the guest reads in MFINDEX, and come back with status 0 and its full length.
final class USBIsochGuestTests: XCTestCase {
    private func build(_ arguments: [String], _ what: String) throws {
        let run = try GuestHarness.run(arguments, timeout: 120)
        guard run.status == 0 else { throw DevGuest.BuildError(description: "\(what) failed:\n\(run.output)") }
    }

    func testLinuxMovesIsochronousURBsToAndFromAPluginDeviceFrameByFrame() throws {
        let artifacts = try DevGuest.artifacts()
        let root = GuestHarness.packageRoot
        let fixtures = root.appendingPathComponent("Tests/PluginHostTests/Fixtures")
        let folder = GuestHarness.buildDirectory.appendingPathComponent("isoch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let library = folder.appendingPathComponent("libisoch_test.so").path
        try build(["cc", "-std=c11", "-Wall", "-shared", "-fPIC", "-o", library, "-I", root.appendingPathComponent("Plugins/include").path,
                   fixtures.appendingPathComponent("isoch_plugin.c").path], "the isochronous plugin")
        let program = folder.appendingPathComponent("isoch").path
        try build(["riscv64-linux-gnu-gcc", "-static", "-O2", "-Wall", "-o", program, fixtures.appendingPathComponent("isoch_guest.c").path],
                  "the usbfs program")
        let initramfs = try DevGuest.initramfs(artifacts, adding: ["bin/isoch": program])
        let shell = try DevGuestShell(board: "virt-aia", artifacts: artifacts, initramfs: initramfs,
                                      extra: ["--plugin", library, "--device", "qemu-xhci,name=xhci0,at=pcie0/05.0",
                                              "--device", "t.isoch,name=iso0,at=xhci0/port1"])
        XCTAssertTrue(shell.waitForShell(), "no shell:\n\(shell.console.transcript.suffix(3000))")
        XCTAssertTrue(shell.run("lsusb").output.contains("ID 1209:0013"), shell.console.transcript.suffix(3000).description)

        let run = shell.run("/bin/isoch", timeout: 120)
        XCTAssertEqual(run.status, 0, run.output)
        let lines = run.output.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        XCTAssertEqual(lines.filter { $0.hasPrefix("isoch out ") }, (0..<4).map { "isoch out \($0) status=0 length=4" })
        let packets = lines.filter { $0.hasPrefix("isoch in ") && !$0.contains("start_frame") }
        XCTAssertEqual(packets.count, 8, run.output)
        var frames: [UInt32] = []
        var lateness: [UInt32] = []
        for (index, line) in packets.enumerated() {
            var fields: [String: String] = [:]
            for part in line.split(separator: " ") where part.contains("=") {
                let pair = part.split(separator: "=", maxSplits: 1)
                fields[String(pair[0])] = String(pair[1])
            }
            XCTAssertEqual(fields["status"], "0", line)
            XCTAssertEqual(fields["length"], "16", line)
            XCTAssertEqual(fields["outs"], "4", "the plugin saw the 4 OUT packets: \(line)")
            XCTAssertEqual(fields["last"], "0x13", "the first byte of the last OUT packet: \(line)")
            let frame = try XCTUnwrap(fields["frame"].flatMap { UInt32($0) }, line)
            let seen = try XCTUnwrap(fields["seen"].flatMap { UInt32($0) }, line)
            XCTAssertLessThan(frame, 0x4000, "a 14-bit MFINDEX value: \(line)")
            // The plugin reads MFINDEX's clock: at or after the packet's microframe (a little
            // later when the controller got to it between slices), never before.
            XCTAssertLessThan((seen &- frame) & 0x3fff, 0x2000, "packet \(index) seen before its frame: \(line)")
            frames.append(frame)
            lateness.append((seen &- frame) & 0x3fff)
        }
        XCTAssertEqual(zip(frames, frames.dropFirst()).map { ($1 &- $0) & 0x3fff }, [UInt32](repeating: 8, count: 7),
                       "one packet per service interval of 8 microframes: \(frames)")
        XCTAssertEqual(frames.first.map { $0 % 8 }, 0, "the URB starts on a service-interval boundary")
        print("isochronous IN microframes: \(frames); served that many microframes after their own: \(lateness)")
        shell.console.type("poweroff\n")
        XCTAssertEqual(shell.console.waitForExit(timeout: 120), 0, shell.console.transcript.suffix(2000).description)
    }
}

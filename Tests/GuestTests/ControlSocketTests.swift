import Foundation
import XCTest

/// The control socket (`run --control`, `backplane ctl`; docs/debugging.md) on running guests:
/// U-Boot on the bundled virt board, and USB hot-plug into a running Linux.
final class ControlSocketTests: XCTestCase {
    /// A machine started in the background with its console in a file and a control socket.
    final class RunningMachine {
        let process = Process()
        let directory: URL
        let socket: String
        let console: URL
        let backplane: String

        init(backplane: String, arguments: [String]) throws {
            self.backplane = backplane
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("ctl-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            socket = directory.appendingPathComponent("ctl.sock").path
            console = directory.appendingPathComponent("console.txt")
            process.executableURL = URL(fileURLWithPath: backplane)
            process.arguments = ["run"] + arguments + ["--serial", "file:\(console.path)", "--control", "unix:\(socket)"]
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let deadline = Date().addingTimeInterval(20)
            while !FileManager.default.fileExists(atPath: socket) && Date() < deadline && process.isRunning {
                Thread.sleep(forTimeInterval: 0.02)
            }
        }

        deinit {
            if process.isRunning { process.terminate() }
            try? FileManager.default.removeItem(at: directory)
        }

        /// `backplane ctl SOCKET words...`: status and stdout+stderr.
        func ctl(_ words: String...) throws -> (status: Int32, output: String) {
            let run = try GuestHarness.run([backplane, "ctl", socket] + words, timeout: 60)
            return (run.status, run.output)
        }

        var consoleText: String { (try? String(contentsOf: console, encoding: .utf8)) ?? "" }

        /// Waits until the console holds `count` lines containing `text`; false on timeout.
        func waitForConsole(_ text: String, count: Int = 1, seconds: Double) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if consoleText.components(separatedBy: text).count - 1 >= count { return true }
                if !process.isRunning { return consoleText.components(separatedBy: text).count - 1 >= count }
                Thread.sleep(forTimeInterval: 0.05)
            }
            return false
        }

        func waitForExit(seconds: Double) -> Int32? {
            let deadline = Date().addingTimeInterval(seconds)
            while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            return process.isRunning ? nil : process.terminationStatus
        }
    }

    private var backplane: String? { GuestHarness.command(board: "virt")?.first }

    /// Pause, inspect, step, read and write memory, refuse what is wrong, resume and quit, on
    /// OpenSBI + U-Boot.
    func testPauseInspectStepMemoryAndQuitOnUBoot() throws {
        guard let backplane else { return }
        let machine = try RunningMachine(backplane: backplane, arguments: ["virt", "--timeout", "120"])
        XCTAssertTrue(machine.waitForConsole("=>", seconds: 60), "no U-Boot prompt:\n\(machine.consoleText)")

        XCTAssertEqual(try machine.ctl("pause").output.components(separatedBy: "\n").first, "paused")
        let before = try machine.ctl("info", "harts")
        XCTAssertEqual(before.status, 0)
        XCTAssertTrue(before.output.hasPrefix("hart 0: pc=0x"), before.output)
        XCTAssertEqual(try machine.ctl("info", "harts").output, before.output, "paused harts stay where they are")
        let stepped = try machine.ctl("step", "1")
        XCTAssertNotEqual(stepped.output, before.output, "one instruction moves the pc")

        // RAM at 0x80000000 holds the OpenSBI image the board loaded (its first bytes are code
        // OpenSBI never rewrites).
        let firmware = try Data(contentsOf: URL(fileURLWithPath: "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin"))
        let expected = "0x0000000080000000:" + firmware.prefix(16).map { String(format: " 0x%02x", $0) }.joined() + "\n"
        XCTAssertEqual(try machine.ctl("read", "0x80000000", "16").output, expected)
        XCTAssertEqual(try machine.ctl("write", "0x84000000", "deadbeef").output, "wrote 4 bytes\n")
        XCTAssertEqual(try machine.ctl("read", "0x84000000", "4").output, "0x0000000084000000: 0xde 0xad 0xbe 0xef\n")

        let mmio = try machine.ctl("read", "0x10000000", "1")
        XCTAssertEqual(mmio.status, 1)
        XCTAssertEqual(mmio.output, "backplane ctl: read: 0x10000000 is not RAM or ROM\n")
        XCTAssertEqual(try machine.ctl("frobnicate").output, "backplane ctl: unknown command 'frobnicate' (try 'help')\n")
        XCTAssertTrue(try machine.ctl("info", "memory").output.contains("0x0000000080000000-0x0000000087ffffff ram ram\n"))
        XCTAssertTrue(try machine.ctl("info", "devices").output.contains("uart0: ns16550a at 0x10000000\n"))

        XCTAssertEqual(try machine.ctl("resume").output, "running\n")
        XCTAssertEqual(try machine.ctl("step").output, "backplane ctl: step: pause the machine first\n")
        XCTAssertEqual(try machine.ctl("quit").output, "quitting\n")
        XCTAssertEqual(machine.waitForExit(seconds: 30), 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: machine.socket), "the socket is removed at exit")
    }

    /// A USB keyboard plugged into a running Linux through the control socket is enumerated by
    /// the kernel with the ids `info usb` shows; unplugged, it is gone again.
    func testUSBHotPlugIntoRunningLinux() throws {
        guard let backplane else { return }
        let artifacts = try LinuxGuest.artifacts()
        let machine = try RunningMachine(backplane: backplane, arguments: [
            "virt", "--kernel", artifacts.image, "--initrd", artifacts.initramfs, "--memory", "256M",
            "--append", "console=ttyS0 earlycon bp.usbwatch=120",
            "--device", "qemu-xhci,name=xhci0,at=pcie0/04.0", "--timeout", "300",
            // The guest watches for 120 s while the test plugs in from outside, in host time:
            // under the virtual clock its idle watch would be over at once.
            "--clock", "host",
        ])
        XCTAssertTrue(machine.waitForConsole("BP: usbwatch count=0", seconds: 200), machine.consoleText)

        XCTAssertEqual(try machine.ctl("usb", "attach", "xhci0/port1", "usb-kbd").output, "attached usb-kbd at xhci0/port1\n")
        let info = try machine.ctl("info", "usb").output
        // "xhci0/port1: 0xVVVV:0xPPPP full address N"
        let ids = info.split(separator: " ").dropFirst().first.map(String.init) ?? ""
        let parts = ids.split(separator: ":").map { $0.dropFirst(2).lowercased() }
        XCTAssertEqual(parts.count, 2, info)
        let seen = "BP: usbwatch count=1 id=\(parts.first ?? ""):\(parts.last ?? "")"
        XCTAssertTrue(machine.waitForConsole(seen, seconds: 60), "\(info)\n\(machine.consoleText)")
        XCTAssertTrue(info.hasPrefix("xhci0/port1: "), info)
        XCTAssertTrue(try machine.ctl("info", "devices").output.contains("xhci0-port1-usb-kbd: hot-plugged at xhci0/port1"))

        XCTAssertEqual(try machine.ctl("usb", "attach", "xhci0/port1", "usb-kbd").output,
                       "backplane ctl: usb attach: xhci0/port1 is in use\n")
        XCTAssertEqual(try machine.ctl("usb", "attach", "xhci0/port2", "ns16550a").output,
                       "backplane ctl: usb attach: 'ns16550a' is not a USB device type\n")
        XCTAssertEqual(try machine.ctl("usb", "detach", "xhci0/port1").output, "detached xhci0/port1\n")
        XCTAssertTrue(machine.waitForConsole("BP: usbwatch count=0", count: 2, seconds: 60), machine.consoleText)
        XCTAssertEqual(try machine.ctl("info", "usb").output, "")
        XCTAssertEqual(machine.waitForExit(seconds: 120), 0, machine.consoleText)
        XCTAssertTrue(machine.consoleText.contains("BP: done"))
    }
}

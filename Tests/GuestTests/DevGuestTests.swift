import Foundation
import XCTest

/// The development guest on the bundled boards, with its devices: a root shell on the console,
/// lspci, the acme_edu Linux driver (Plugins/examples/acme_edu/linux, built by the test
/// against the guest's kernel tree and loaded from the 9p share) driving the acme.edu plugin
/// with MSI-X on virt-aia (IMSIC) and INTx on virt (PLIC); user networking (DHCP, a fetch from
/// an HTTP server on the host's loopback, a forwarded port to a listener in the guest); the
/// shared folder both ways and its containment; lsusb, hwrng and hvc0; rmmod and a clean poweroff.
final class DevGuestTests: XCTestCase {
    /// A directory to share, holding `host.txt`, beside a `secret` that must stay out of reach,
    /// and symlinks from inside the share to it.
    private func makeShare() throws -> (share: URL, secret: URL) {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("dev-guest-\(UUID().uuidString)")
        let share = base.appendingPathComponent("share")
        try FileManager.default.createDirectory(at: share, withIntermediateDirectories: true)
        try "written on the host\n".write(to: share.appendingPathComponent("host.txt"), atomically: false, encoding: .utf8)
        let secret = base.appendingPathComponent("secret")
        try "host secret\n".write(to: secret, atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: share.appendingPathComponent("up-absolute").path, withDestinationPath: base.path)
        try FileManager.default.createSymbolicLink(atPath: share.appendingPathComponent("up-relative").path, withDestinationPath: "../secret")
        return (share, secret)
    }

    private func checkACMEEdu(board: String, irqMode: String) throws {
        let artifacts = try DevGuest.artifacts()
        let module = try DevGuest.acmeEduModule()
        let (share, _) = try makeShare()
        try FileManager.default.copyItem(atPath: module, toPath: share.appendingPathComponent("acme_edu.ko").path)
        let plugin = try PluginGuestTests.plugin("acme_edu")
        let shell = try DevGuestShell(board: board, artifacts: artifacts,
                                      extra: ["--plugin", plugin, "--device", "acme.edu,at=pcie0/03.0",
                                              "--device", "virtio-9p-pci,at=pcie0/04.0,path=\(share.path)"])
        XCTAssertTrue(shell.waitForShell(), "no shell:\n\(shell.console.transcript.suffix(3000))")

        let lspci = shell.run("lspci")
        XCTAssertEqual(lspci.status, 0)
        XCTAssertTrue(lspci.output.contains("00:03.0 Class 00ff: 1234:acde"), lspci.output)
        XCTAssertTrue(lspci.output.contains("00:04.0 Class 0002: 1af4:1049"), lspci.output)

        XCTAssertEqual(shell.run("insmod /mnt/share/acme_edu.ko").status, 0, shell.console.transcript.suffix(2000).description)
        XCTAssertEqual(shell.run("grep -c acme_edu /proc/modules").output, "1")
        let device = "/sys/bus/pci/devices/0000:00:03.0"
        XCTAssertEqual(shell.run("cat \(device)/irq_mode").output, irqMode)
        XCTAssertEqual(shell.run("echo 10 > \(device)/factorial && cat \(device)/factorial").output, "3628800")
        XCTAssertEqual(shell.run("echo 12 > \(device)/factorial && cat \(device)/factorial").output, "479001600")
        XCTAssertEqual(shell.run("cat \(device)/dma_selftest").output, "ok 4096")
        // The character device: a write moves the bytes into the device's buffer by DMA, a read
        // brings them back the same way.
        XCTAssertEqual(shell.run("printf 'moved by dma' > /dev/acme_edu0 && head -c 12 /dev/acme_edu0").output, "moved by dma")
        let interrupts = Int(shell.run("cat \(device)/interrupts").output) ?? 0
        XCTAssertGreaterThanOrEqual(interrupts, 6, "two factorials, two DMAs for the self-test, one each way for the file")

        XCTAssertEqual(shell.run("rmmod acme_edu").status, 0)
        XCTAssertEqual(shell.run("grep -c acme_edu /proc/modules").output, "0")
        XCTAssertEqual(shell.run("ls /dev/acme_edu0").status, 1)
        shell.console.type("poweroff\n")
        XCTAssertEqual(shell.console.waitForExit(timeout: 120), 0, shell.console.transcript.suffix(2000).description)
    }

    func testACMEEduDriverFromTheShareUsesMSIXOnAIA() throws {
        try checkACMEEdu(board: "virt-aia", irqMode: "msix")
    }

    func testACMEEduDriverFromTheShareUsesINTxOnPLIC() throws {
        try checkACMEEdu(board: "virt", irqMode: "intx")
    }

    func testSharedFolderBothWaysAndNoEscape() throws {
        let artifacts = try DevGuest.artifacts()
        let (share, secret) = try makeShare()
        let shell = try DevGuestShell(board: "virt-aia", artifacts: artifacts,
                                      extra: ["--device", "virtio-9p-pci,at=pcie0/04.0,path=\(share.path)"])
        XCTAssertTrue(shell.waitForShell(), "no shell:\n\(shell.console.transcript.suffix(3000))")

        XCTAssertEqual(shell.run("cat /mnt/share/host.txt").output, "written on the host")
        XCTAssertEqual(shell.run("echo written in the guest > /mnt/share/guest.txt && sync").status, 0)
        XCTAssertEqual(try String(contentsOf: share.appendingPathComponent("guest.txt"), encoding: .utf8), "written in the guest\n")
        try "changed on the host\n".write(to: share.appendingPathComponent("host.txt"), atomically: false, encoding: .utf8)
        XCTAssertEqual(shell.run("cat /mnt/share/host.txt").output, "changed on the host")
        XCTAssertEqual(shell.run("mkdir /mnt/share/d && mv /mnt/share/guest.txt /mnt/share/d/ && ls /mnt/share/d").output, "guest.txt")
        XCTAssertTrue(FileManager.default.fileExists(atPath: share.appendingPathComponent("d/guest.txt").path))

        // Every way out: the symlinks resolve in the guest's own tree, `..` of the mount root is
        // the guest's /mnt, and the server refuses what the guest sends it directly.
        XCTAssertNotEqual(shell.run("cat /mnt/share/up-absolute/secret").status, 0)
        XCTAssertNotEqual(shell.run("cat /mnt/share/up-relative").status, 0)
        XCTAssertEqual(shell.run("ls /mnt/share/..").output, "share")
        XCTAssertNotEqual(shell.run("ln -s /etc /mnt/share/etc-link && cat /mnt/share/etc-link/../secret").status, 0)
        XCTAssertEqual(shell.run("grep -r 'host secret' /mnt/share/ 2>/dev/null | wc -l").output, "0")
        XCTAssertEqual(try String(contentsOf: secret, encoding: .utf8), "host secret\n")

        shell.console.type("poweroff\n")
        XCTAssertEqual(shell.console.waitForExit(timeout: 120), 0, shell.console.transcript.suffix(2000).description)
    }

    func testUserNetworkingDHCPFetchAndForwardedPort() throws {
        let artifacts = try DevGuest.artifacts()
        // A tiny HTTP server on the host's loopback, serving one file.
        let served = FileManager.default.temporaryDirectory.appendingPathComponent("dev-guest-http-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: served, withIntermediateDirectories: true)
        try "served by the host\n".write(to: served.appendingPathComponent("file.txt"), atomically: false, encoding: .utf8)
        let httpPort = Int.random(in: 20000...29999)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory", served.path, "\(httpPort)"]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { server.terminate() }
        let forwarded = Int.random(in: 30000...39999)
        let hvc = served.appendingPathComponent("hvc0.txt")

        // The bundled virt-linux board (net0 at 08.0, rng0 at 09.0) with a forwarded port.
        let shell = try DevGuestShell(board: "virt-linux", artifacts: artifacts,
                                      extra: ["--netdev", "user,hostfwd=tcp::\(forwarded)-:8080",
                                              "--device", "qemu-xhci,name=xhci0,at=pcie0/05.0", "--device", "usb-kbd,at=xhci0/port1",
                                              "--device", "virtio-console-pci,at=pcie0/06.0,chardev=file:\(hvc.path)"])
        XCTAssertTrue(shell.waitForShell(), "no shell:\n\(shell.console.transcript.suffix(3000))")

        let lspci = shell.run("lspci").output
        XCTAssertTrue(lspci.contains("00:08.0 Class 0200: 1af4:1041"), lspci)
        XCTAssertTrue(lspci.contains("00:09.0 Class 00ff: 1af4:1044"), lspci)
        // busybox lsusb reads sysfs: the xHCI's two root hubs and the keyboard behind it.
        let lsusb = shell.run("lsusb").output
        XCTAssertTrue(lsusb.contains("ID 1d6b:0002") && lsusb.contains("ID 1d6b:0003"), lsusb)
        XCTAssertTrue(lsusb.contains("ID 1209:0001"), lsusb)
        XCTAssertTrue(shell.console.transcript.contains("dev-guest: eth0 10.0.2.15/24"), "DHCP lease at boot")
        XCTAssertEqual(shell.run("ip -4 route | grep default").output.split(separator: " ").prefix(3).joined(separator: " "), "default via 10.0.2.2")
        XCTAssertEqual(shell.run("wget -q -O - http://10.0.2.2:\(httpPort)/file.txt", timeout: 60).output, "served by the host")

        // A listener in the guest, reached through the forwarded port on the host's loopback.
        XCTAssertEqual(shell.run("(echo answered by the guest | nc -l -p 8080 >/dev/null) & sleep 1").status, 0)
        XCTAssertEqual(try DevGuestTests.readAll(port: forwarded), "answered by the guest\n")

        let rng = shell.run("cat /sys/class/misc/hw_random/rng_current").output
        XCTAssertTrue(rng.hasPrefix("virtio_rng"), rng)
        XCTAssertEqual(shell.run("head -c 4096 /dev/hwrng | wc -c").output, "4096")

        // virtio-console: hvc0's output lands in the chardev file.
        XCTAssertEqual(shell.run("echo through hvc0 > /dev/hvc0").status, 0)
        XCTAssertTrue((try? String(contentsOf: hvc, encoding: .utf8))?.contains("through hvc0") == true)

        shell.console.type("poweroff\n")
        XCTAssertEqual(shell.console.waitForExit(timeout: 120), 0, shell.console.transcript.suffix(2000).description)
    }

    func testNetdevOptionErrors() throws {
        guard case .backplane(let path) = GuestHarness.emulator else { throw XCTSkip("a Backplane option") }
        let noNIC = try GuestHarness.run([path, "run", "virt", "--netdev", "user,hostfwd=tcp::2222-:22"], timeout: 30)
        XCTAssertEqual(noNIC.status, 2)
        XCTAssertEqual(noNIC.output, "backplane: error: --netdev: the board has no virtio-net-pci device (use board virt-linux, or add --device virtio-net-pci,at=pcie0/DD.F)\n")
        let wide = try GuestHarness.run([path, "run", "virt-linux", "--netdev", "user,hostfwd=tcp:0.0.0.0:2222-:22"], timeout: 30)
        XCTAssertEqual(wide.output, "backplane: error: --netdev: hostfwd 'tcp:0.0.0.0:2222-:22': host address '0.0.0.0' is not 127.0.0.1 (forwarded ports listen on the loopback only)\n")
        let tap = try GuestHarness.run([path, "run", "virt-linux", "--netdev", "tap"], timeout: 30)
        XCTAssertEqual(tap.output, "backplane: error: --netdev: 'tap' is not a backend (the one backend is 'user')\n")
    }

    /// Connects to 127.0.0.1:`port` and reads until the peer closes (or 30 s pass).
    static func readAll(port: Int) throws -> String {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return "<connect failed: errno \(errno)>" }
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let got = recv(socket, &buffer, buffer.count, 0)
            if got <= 0 { break }
            data += buffer[0..<got]
        }
        return String(decoding: data, as: UTF8.self)
    }
}

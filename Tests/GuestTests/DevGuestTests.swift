import Foundation
import XCTest

/// The development guest on the bundled boards: a root shell on the console, lspci, and the
/// acme_edu Linux driver (Plugins/examples/acme_edu/linux, built by the test against the
/// guest's kernel tree) driving the acme.edu plugin: MSI-X on virt-aia (IMSIC), INTx on virt
/// (PLIC), factorial, DMA both ways, the character device, rmmod and a clean poweroff.
final class DevGuestTests: XCTestCase {
    private func checkACMEEdu(board: String, irqMode: String) throws {
        let artifacts = try DevGuest.artifacts()
        let module = try DevGuest.acmeEduModule()
        let initramfs = try DevGuest.initramfs(artifacts, adding: ["lib/modules/acme_edu.ko": module])
        let plugin = try PluginGuestTests.plugin("acme_edu")
        let shell = try DevGuestShell(board: board, artifacts: artifacts, initramfs: initramfs,
                                      extra: ["--plugin", plugin, "--device", "acme.edu,at=pcie0/03.0"])
        XCTAssertTrue(shell.waitForShell(), "no shell:\n\(shell.console.transcript.suffix(3000))")

        let lspci = shell.run("lspci")
        XCTAssertEqual(lspci.status, 0)
        XCTAssertTrue(lspci.output.contains("00:03.0 Class 00ff: 1234:acde"), lspci.output)

        XCTAssertEqual(shell.run("insmod /lib/modules/acme_edu.ko").status, 0, shell.console.transcript.suffix(2000).description)
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
        let irqLine = shell.run("grep acme_edu /proc/interrupts")
        XCTAssertEqual(irqLine.status, 0, "the driver's interrupt is listed")

        XCTAssertEqual(shell.run("rmmod acme_edu").status, 0)
        XCTAssertEqual(shell.run("grep -c acme_edu /proc/modules").output, "0")
        XCTAssertEqual(shell.run("ls /dev/acme_edu0").status, 1)
        shell.console.type("poweroff\n")
        XCTAssertEqual(shell.console.waitForExit(timeout: 120), 0, shell.console.transcript.suffix(2000).description)
    }

    func testACMEEduDriverUsesMSIXOnAIA() throws {
        try checkACMEEdu(board: "virt-aia", irqMode: "msix")
    }

    func testACMEEduDriverUsesINTxOnPLIC() throws {
        try checkACMEEdu(board: "virt", irqMode: "intx")
    }
}

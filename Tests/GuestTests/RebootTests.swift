import Foundation
import XCTest

/// A guest-requested reboot (sifive_test 0x7777) leaves the machine as at power-on except RAM:
/// every interrupt controller, the UART, the RTC, the timer and a PCI function (edu) read their
/// power-on values again (`Guests/reboot/reboot.c`), and Debian's OpenSBI and U-Boot boot again to a prompt that
/// answers.
///
/// Backplane only: QEMU 7.2 (Debian's) is no oracle here, since it keeps its APLIC registers and
/// the goldfish RTC's guest-set time across a reset (reboot.c then fails there, at the APLIC's
/// sourcecfg and the RTC check).
final class RebootTests: XCTestCase {
    func testEveryDeviceOfVirtReadsItsPowerOnValuesAfterAReboot() throws {
        try rebootGuest(board: "virt", define: "BOARD_VIRT")
    }

    func testEveryDeviceOfVirtAIAReadsItsPowerOnValuesAfterAReboot() throws {
        try rebootGuest(board: "virt-aia", define: "BOARD_AIA")
    }

    func testOpenSBIAndUBootBootAgainAfterUBootResetsTheVirtBoard() throws {
        try firmwareReboot(board: "virt")
    }

    func testOpenSBIAndUBootBootAgainAfterUBootResetsTheVirtAIABoard() throws {
        try firmwareReboot(board: "virt-aia")
    }

    // MARK: Helpers

    private func backplane() throws -> String {
        guard case .backplane(let binary) = GuestHarness.emulator else {
            throw XCTSkip("QEMU 7.2 keeps APLIC and goldfish RTC state across a reset: it cannot vouch for this test")
        }
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw MissingBinary(path: binary) }
        return binary
    }

    /// Guests/reboot built for one board.
    private func guest(define: String) throws -> String {
        let root = GuestHarness.packageRoot
        let output = GuestHarness.buildDirectory.appendingPathComponent("reboot")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let elf = output.appendingPathComponent("\(define.lowercased()).elf").path
        let run = try GuestHarness.run(["riscv64-unknown-elf-gcc", "-march=rv64gc", "-mabi=lp64d", "-mcmodel=medany", "-O2",
                                        "-ffreestanding", "-fno-builtin", "-nostdlib", "-nostartfiles", "-static",
                                        "-Wl,--no-warn-rwx-segments", "-D\(define)",
                                        "-T", root.appendingPathComponent("Guests/isa/link.ld").path,
                                        root.appendingPathComponent("Guests/common/start.S").path,
                                        root.appendingPathComponent("Guests/reboot/reboot.c").path, "-o", elf], timeout: 120)
        guard run.status == 0 else { throw PluginBuildError(description: "riscv64-unknown-elf-gcc failed:\n\(run.output)") }
        return elf
    }

    private func rebootGuest(board: String, define: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let binary = try backplane()
        let elf = try guest(define: define)

        let run = try GuestHarness.run([binary, "run", board, "--smp", "2", "--bios", "none", "--kernel", elf,
                                        "--device", "edu,at=pcie0/01.0", "--timeout", "30"],
                                       timeout: 60)

        XCTAssertEqual(run.status, 0, "reboot.c failed (status = failing check, Guests/reboot/reboot.c):\n\(run.output)", file: file, line: line)
        XCTAssertEqual(run.output, "reboot: second boot\nreboot: PASS\n", file: file, line: line)
    }

    /// U-Boot's `reset` goes through SBI SRST to OpenSBI, which writes 0x7777 to sifive_test (the
    /// `syscon-reboot` node): the machine restarts, OpenSBI prints its banner again and U-Boot
    /// reaches its prompt and answers.
    private func firmwareReboot(board: String, file: StaticString = #filePath, line: UInt = #line) throws {
        guard let uBoot = try UBootConsole.boot(board: board, arguments: ["--smp", "2"], file: file, line: line) else { return }
        XCTAssertTrue(uBoot.run("version").contains("U-Boot 20"), "`version` did not answer before the reset", file: file, line: line)

        uBoot.session.type("reset\r")

        guard let banner = uBoot.session.waitFor("Hit any key to stop autoboot", timeout: 90) else {
            return XCTFail("U-Boot did not come back after `reset`:\n\(uBoot.session.transcript)", file: file, line: line)
        }
        XCTAssertTrue(banner.contains("resetting ..."), "U-Boot did not say it resets:\n\(banner)", file: file, line: line)
        XCTAssertTrue(banner.contains("OpenSBI v"), "OpenSBI did not start again:\n\(banner)", file: file, line: line)
        XCTAssertTrue(banner.contains("Platform HART Count       : 2"), file: file, line: line)
        uBoot.session.type(" ")
        XCTAssertNotNil(uBoot.session.waitFor("\n=> ", timeout: 30), "no U-Boot prompt after the reset", file: file, line: line)
        XCTAssertTrue(uBoot.run("version").contains("U-Boot 20"), "`version` did not answer after the reset", file: file, line: line)
        let crc = uBoot.run("mw.b 0x84000000 0 0x1000; crc32 0x84000000 0x1000")
        XCTAssertTrue(crc.contains("==> c71c0011"), "crc32 answered wrongly after the reset:\n\(crc)", file: file, line: line)
        uBoot.powerOff(file: file, line: line)
    }
}

import Foundation
import XCTest

/// Debian's real firmware on `Boards/virt.yaml`: OpenSBI (generic fw_jump) prints its banner and
/// hands over to U-Boot (qemu-riscv64_smode), which reaches its prompt and answers commands typed
/// into the serial console; `poweroff` ends the run through SBI and sifive_test with status 0.
final class FirmwareBootTests: XCTestCase {
    static let openSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin"
    static let uBoot = "/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin"

    func testOpenSBIAndUBootOnOneHart() throws {
        try bootToUBootPrompt(harts: 1)
    }

    func testOpenSBIAndUBootOnTwoHarts() throws {
        try bootToUBootPrompt(harts: 2)
    }

    private func bootToUBootPrompt(harts: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        guard case .backplane(let binary) = GuestHarness.emulator, GuestHarness.command(board: "virt") != nil else {
            throw XCTSkip("firmware boots test Backplane itself; GUEST_EMULATOR=qemu has nothing to compare")
        }
        for firmware in [Self.openSBI, Self.uBoot] where !FileManager.default.fileExists(atPath: firmware) {
            return XCTFail("\(firmware) is missing: run scripts/setup.sh (Debian packages opensbi, u-boot-qemu)", file: file, line: line)
        }
        let console = try ConsoleSession([binary, "run", "virt", "--smp", "\(harts)", "--timeout", "120"])

        let banner = console.waitFor("Hit any key to stop autoboot", timeout: 60)
        XCTAssertNotNil(banner, "no U-Boot autoboot prompt; console so far:\n\(console.transcript)", file: file, line: line)
        guard let banner else { return }
        XCTAssertTrue(banner.contains("OpenSBI v"), "OpenSBI banner missing", file: file, line: line)
        XCTAssertTrue(banner.contains("Platform HART Count       : \(harts)"), "OpenSBI did not see \(harts) hart(s)", file: file, line: line)
        XCTAssertTrue(banner.contains("Domain0 Next Mode         : S-mode"), file: file, line: line)
        XCTAssertTrue(banner.contains("DRAM:  128 MiB"), "U-Boot did not find the board's RAM", file: file, line: line)

        console.type(" ")
        XCTAssertNotNil(console.waitFor("\n=> ", timeout: 30), "no U-Boot prompt:\n\(console.transcript)", file: file, line: line)

        console.type("version\r")
        let version = console.waitFor("\n=> ", timeout: 30)
        XCTAssertTrue(version?.contains("U-Boot 20") ?? false, "`version` did not answer:\n\(console.transcript)", file: file, line: line)

        // A command that makes U-Boot compute over memory: its CRC of 4 KiB of zeroes is fixed.
        console.type("mw.b 0x84000000 0 0x1000; crc32 0x84000000 0x1000\r")
        let crc = console.waitFor("\n=> ", timeout: 30)
        XCTAssertTrue(crc?.contains("==> c71c0011") ?? false, "crc32 answered wrongly:\n\(crc ?? console.transcript)", file: file, line: line)

        console.type("poweroff\r")
        XCTAssertEqual(console.waitForExit(timeout: 30), 0, "poweroff did not end the run with status 0:\n\(console.transcript)", file: file, line: line)
    }
}

import Foundation
import XCTest

/// Debian's real firmware on `Boards/virt-aia.yaml` (APLIC + IMSIC instead of the PLIC, as QEMU
/// `virt,aia=aplic-imsic`): OpenSBI 1.1 finds the Smaia CSRs, initialises the M-level IMSIC
/// files and the APLIC root domain (delegating every source to the S-level domain) and uses the
/// IMSIC for IPIs; U-Boot reaches its prompt and answers commands typed into the serial console.
final class AIABootTests: XCTestCase {
    func testOpenSBIAndUBootOnOneHart() throws {
        try bootToUBootPrompt(harts: 1)
    }

    func testOpenSBIAndUBootOnTwoHarts() throws {
        try bootToUBootPrompt(harts: 2)
    }

    private func bootToUBootPrompt(harts: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        guard case .backplane(let binary) = GuestHarness.emulator, GuestHarness.command(board: "virt-aia") != nil else {
            throw XCTSkip("firmware boots test Backplane itself; GUEST_EMULATOR=qemu has nothing to compare")
        }
        for firmware in [FirmwareBootTests.openSBI, FirmwareBootTests.uBoot] where !FileManager.default.fileExists(atPath: firmware) {
            return XCTFail("\(firmware) is missing: run scripts/setup.sh (Debian packages opensbi, u-boot-qemu)", file: file, line: line)
        }
        let console = try ConsoleSession([binary, "run", "virt-aia", "--smp", "\(harts)", "--timeout", "120"])

        let banner = console.waitFor("Hit any key to stop autoboot", timeout: 60)
        XCTAssertNotNil(banner, "no U-Boot autoboot prompt; console so far:\n\(console.transcript)", file: file, line: line)
        guard let banner else { return }
        XCTAssertTrue(banner.contains("Platform HART Count       : \(harts)"), "OpenSBI did not see \(harts) hart(s)", file: file, line: line)
        // OpenSBI probes mtopi: "aia" means the Smaia CSRs answered; "aia-imsic" that it parsed
        // the M-level IMSIC node and sends its IPIs through it.
        XCTAssertTrue(banner.contains("Boot HART ISA Extensions  : time,aia"), "OpenSBI did not detect Smaia", file: file, line: line)
        XCTAssertTrue(banner.contains("Platform IPI Device       : aia-imsic"), "OpenSBI does not use the IMSIC for IPIs", file: file, line: line)
        XCTAssertTrue(banner.contains("Domain0 Region00          : 0x0000000024000000-0x00000000240\(harts == 1 ? "00fff" : "01fff") (I)"),
                      "OpenSBI did not protect the M-level IMSIC pages", file: file, line: line)
        XCTAssertTrue(banner.contains("CPU:   rv64imafdc_zicsr_zifencei_zicntr_smaia_ssaia"), "U-Boot's CPU line", file: file, line: line)

        console.type(" ")
        XCTAssertNotNil(console.waitFor("\n=> ", timeout: 30), "no U-Boot prompt:\n\(console.transcript)", file: file, line: line)

        // A command that makes U-Boot compute over memory: its CRC of 4 KiB of zeroes is fixed.
        console.type("mw.b 0x84000000 0 0x1000; crc32 0x84000000 0x1000\r")
        let crc = console.waitFor("\n=> ", timeout: 30)
        XCTAssertTrue(crc?.contains("==> c71c0011") ?? false, "crc32 answered wrongly:\n\(crc ?? console.transcript)", file: file, line: line)

        console.type("poweroff\r")
        XCTAssertEqual(console.waitForExit(timeout: 30), 0, "poweroff did not end the run with status 0:\n\(console.transcript)", file: file, line: line)
    }
}

import Foundation
import XCTest

/// Debian's OpenSBI + U-Boot on a Backplane board, stopped at the U-Boot prompt and driven as a
/// person at the serial console would drive it. Every firmware-level test starts here.
struct UBootConsole {
    static let openSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin"
    static let uBoot = "/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin"

    let session: ConsoleSession
    /// Everything printed up to the autoboot countdown: OpenSBI's banner and U-Boot's.
    let banner: String

    /// Boots `backplane run BOARD ARGUMENTS...` and stops autoboot. Skips when the tests run on
    /// QEMU; fails (returning nil) when the firmware is missing or the prompt never comes.
    static func boot(board: String, arguments: [String] = [], file: StaticString = #filePath, line: UInt = #line) throws -> UBootConsole? {
        guard case .backplane(let binary) = GuestHarness.emulator, GuestHarness.command(board: "virt", file: file, line: line) != nil else {
            throw XCTSkip("firmware boots test Backplane itself; GUEST_EMULATOR=qemu has nothing to compare")
        }
        for firmware in [openSBI, uBoot] where !FileManager.default.fileExists(atPath: firmware) {
            XCTFail("\(firmware) is missing: run scripts/setup.sh (Debian packages opensbi, u-boot-qemu)", file: file, line: line)
            return nil
        }
        let session = try ConsoleSession([binary, "run", board, "--timeout", "180"] + arguments)
        guard let banner = session.waitFor("Hit any key to stop autoboot", timeout: 90) else {
            XCTFail("no U-Boot autoboot prompt; console so far:\n\(session.transcript)", file: file, line: line)
            return nil
        }
        session.type(" ")
        guard session.waitFor("\n=> ", timeout: 30) != nil else {
            XCTFail("no U-Boot prompt:\n\(session.transcript)", file: file, line: line)
            return nil
        }
        return UBootConsole(session: session, banner: banner)
    }

    /// Types `command` and returns what U-Boot printed before its next prompt (carriage returns
    /// removed); the prompt is matched at a line start, since output like crc32's "==> " is not one.
    func run(_ command: String) -> String {
        session.type(command + "\r")
        return session.waitFor("\n=> ", timeout: 30)?.replacingOccurrences(of: "\r", with: "")
            ?? "(no answer)\n" + session.transcript
    }

    /// `poweroff`, which goes through SBI to the board's sifive_test: the run must end with status 0.
    func powerOff(file: StaticString = #filePath, line: UInt = #line) {
        session.type("poweroff\r")
        XCTAssertEqual(session.waitForExit(timeout: 30), 0, "poweroff did not end the run with status 0:\n\(session.transcript)",
                       file: file, line: line)
    }
}

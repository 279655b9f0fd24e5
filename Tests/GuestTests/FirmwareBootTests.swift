import Foundation
import XCTest

/// Debian's real firmware on `Boards/virt.yaml` (PLIC) and `Boards/virt-aia.yaml` (APLIC + IMSIC,
/// as QEMU `virt,aia=aplic-imsic`): OpenSBI (generic fw_jump) prints its banner and hands over to
/// U-Boot (qemu-riscv64_smode), which reaches its prompt and answers commands typed into the serial
/// console; `poweroff` ends the run through SBI and sifive_test with status 0.
final class FirmwareBootTests: XCTestCase {
    func testOpenSBIAndUBootOnOneHart() throws {
        try bootAndUse(board: "virt", harts: 1)
    }

    func testOpenSBIAndUBootOnTwoHarts() throws {
        try bootAndUse(board: "virt", harts: 2)
    }

    func testOpenSBIAndUBootWithAIAOnOneHart() throws {
        let banner = try bootAndUse(board: "virt-aia", harts: 1)
        try checkAIA(banner, harts: 1)
    }

    func testOpenSBIAndUBootWithAIAOnTwoHarts() throws {
        let banner = try bootAndUse(board: "virt-aia", harts: 2)
        try checkAIA(banner, harts: 2)
    }

    /// Boots, checks the banners, makes U-Boot compute and powers off; returns the banner.
    @discardableResult
    private func bootAndUse(board: String, harts: Int, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        guard let uBoot = try UBootConsole.boot(board: board, arguments: ["--smp", "\(harts)"], file: file, line: line) else { return "" }
        XCTAssertTrue(uBoot.banner.contains("OpenSBI v"), "OpenSBI banner missing", file: file, line: line)
        XCTAssertTrue(uBoot.banner.contains("Platform HART Count       : \(harts)"), "OpenSBI did not see \(harts) hart(s)", file: file, line: line)
        XCTAssertTrue(uBoot.banner.contains("Domain0 Next Mode         : S-mode"), file: file, line: line)
        XCTAssertTrue(uBoot.banner.contains("DRAM:  128 MiB"), "U-Boot did not find the board's RAM", file: file, line: line)

        XCTAssertTrue(uBoot.run("version").contains("U-Boot 20"), "`version` did not answer", file: file, line: line)
        // U-Boot computing over memory: the CRC-32 of 4 KiB of zeroes is fixed.
        let crc = uBoot.run("mw.b 0x84000000 0 0x1000; crc32 0x84000000 0x1000")
        XCTAssertTrue(crc.contains("==> c71c0011"), "crc32 answered wrongly:\n\(crc)", file: file, line: line)
        uBoot.powerOff(file: file, line: line)
        return uBoot.banner
    }

    /// OpenSBI probes mtopi: "aia" means the Smaia CSRs answered; "aia-imsic" that it parsed the
    /// M-level IMSIC node and sends its IPIs through it.
    private func checkAIA(_ banner: String, harts: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertTrue(banner.contains("Boot HART ISA Extensions  : time,aia,sstc"), "OpenSBI did not detect Smaia and Sstc", file: file, line: line)
        XCTAssertTrue(banner.contains("Platform IPI Device       : aia-imsic"), "OpenSBI does not use the IMSIC for IPIs", file: file, line: line)
        XCTAssertTrue(banner.contains("Domain0 Region00          : 0x0000000024000000-0x00000000240\(harts == 1 ? "00fff" : "01fff") (I)"),
                      "OpenSBI did not protect the M-level IMSIC pages", file: file, line: line)
        XCTAssertTrue(banner.contains("CPU:   rv64imafdc_zicsr_zifencei_zicntr_sstc_smaia_ssaia"), "U-Boot's CPU line", file: file, line: line)
    }
}

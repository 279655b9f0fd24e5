import Foundation
import XCTest

/// Linux 6.12, built from Debian's source (`Guests/linux/`), boots with Debian's OpenSBI to its
/// `/init`, which reports what the kernel found and powers off; the run must end with status 0.
///
/// The first run on a machine builds the kernel (`scripts/build-linux.sh`, 5-10 minutes on two
/// cores; cached in `~/.cache/backplane/linux/` afterwards). `GUEST_EMULATOR=qemu` runs the same
/// checks on `qemu-system-riscv64 -M virt` to validate the tests themselves.
final class LinuxBootTests: XCTestCase {
    // MARK: PLIC board without PCI devices (Boards/virt.yaml)

    func testOneHartBootsToInitAndPowersOff() throws {
        let boot = try bootToPoweroff(interrupts: .plic, harts: 1, disk: nil)
        XCTAssertEqual(boot.lines("cpus "), ["cpus online=0 count=1"])
        XCTAssertEqual(boot.lines("blk "), ["blk none"], "a board without disks reported one")
        XCTAssertEqual(boot.lines("rtc "), ["rtc rtc0 driver=goldfish_rtc"], "goldfish RTC not bound")
        XCTAssertTrue(boot.lines("irq ").contains { $0.contains("ttyS0") },
                      "the console UART has no interrupt in /proc/interrupts:\n\(boot.lines("irq ").joined(separator: "\n"))")
    }

    func testTwoHartsBootToInitAndPowerOff() throws {
        let boot = try bootToPoweroff(interrupts: .plic, harts: 2, disk: nil)
        XCTAssertEqual(boot.lines("cpus "), ["cpus online=0-1 count=2"], "the second hart did not come online")
        let header = boot.lines("irq ").first.map { $0.split(separator: " ").map(String.init) }
        XCTAssertEqual(header, ["irq", "CPU0", "CPU1"], "/proc/interrupts header")
    }

    func testOneHartBootsUnderTheJIT() throws {
        guard case .backplane = GuestHarness.emulator else { throw XCTSkip("--accel is Backplane's") }
        let boot = try bootToPoweroff(interrupts: .plic, harts: 1, disk: nil, accel: "jit")
        XCTAssertEqual(boot.lines("cpus "), ["cpus online=0 count=1"])
    }

    // MARK: PCI: a virtio-blk disk at 00:02.0

    func testPLICBoardVirtioBlkDiskIsReadAndWrittenThroughINTx() throws {
        let disk = try LinuxGuest.makeDisk()
        let boot = try bootToPoweroff(interrupts: .plic, harts: 2, disk: disk)
        let function = try XCTUnwrap(boot.lines("pci 0000:00:02.0 ").first, "virtio-blk-pci not enumerated")
        XCTAssertTrue(function.hasPrefix("pci 0000:00:02.0 vendor=1af4 device=1042 class=010000 driver=virtio-pci irq="),
                      function)
        XCTAssertTrue(function.hasSuffix(" msi=none"), "the PLIC board has no MSI controller: \(function)")
        try assertDiskWrittenAndReadBack(boot, disk: disk)
    }

    func testAIABoardVirtioBlkUsesMSIXOnOneHart() throws {
        try checkAIABoardVirtioBlkUsesMSIX(harts: 1)
    }

    func testAIABoardVirtioBlkUsesMSIXOnTwoHarts() throws {
        try checkAIABoardVirtioBlkUsesMSIX(harts: 2)
    }

    private func checkAIABoardVirtioBlkUsesMSIX(harts: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let disk = try LinuxGuest.makeDisk()
        let boot = try bootToPoweroff(interrupts: .aia, harts: harts, disk: disk, file: file, line: line)
        XCTAssertEqual(boot.lines("cpus ").count, 1, file: file, line: line)
        let function = try XCTUnwrap(boot.lines("pci 0000:00:02.0 ").first, "virtio-blk-pci not enumerated",
                                     file: file, line: line)
        XCTAssertTrue(function.hasPrefix("pci 0000:00:02.0 vendor=1af4 device=1042 class=010000 driver=virtio-pci "),
                      function, file: file, line: line)
        // virtio-pci asks for one config vector plus one per queue (drivers/virtio/virtio_pci_common.c);
        // how many queues depends on the device (QEMU offers one per hart), so at least two.
        let vectors = function.components(separatedBy: " msi=msix:").last.flatMap { Int($0) } ?? 0
        XCTAssertGreaterThanOrEqual(vectors, 2, "expected MSI-X with a config and a queue vector: \(function)",
                                    file: file, line: line)
        let msixLines = boot.lines("irq ").filter { $0.contains("PCI-MSIX-0000:00:02.0") }
        XCTAssertTrue(msixLines.contains { $0.hasSuffix("virtio0-req.0") }, "no MSI-X request-queue interrupt:\n\(boot.lines("irq ").joined(separator: "\n"))",
                      file: file, line: line)
        try assertDiskWrittenAndReadBack(boot, disk: disk, file: file, line: line)
    }

    // MARK: The edu device

    /// QEMU's edu device (hw/misc/edu.c): vendor 1234, device 11e8, class "other" (ff), no driver in
    /// this kernel. Backplane's built-in `edu` function models it; on Backplane the `acme.edu`
    /// plugin function (1234:acde) is listed beside it.
    func testEduDeviceIsListedWithItsIDs() throws {
        let boot = try bootToPoweroff(interrupts: .aia, harts: 1, disk: nil, edu: true)
        XCTAssertEqual(boot.lines("pci 0000:00:03.0 "),
                       ["pci 0000:00:03.0 vendor=1234 device=11e8 class=00ff00 driver=none irq=0 msi=none"])
        if case .backplane = GuestHarness.emulator {
            // The acme.edu plugin (Plugins/examples/acme_edu), loaded from the board's plugins: list.
            XCTAssertEqual(boot.lines("pci 0000:00:04.0 "),
                           ["pci 0000:00:04.0 vendor=1234 device=acde class=00ff00 driver=none irq=0 msi=none"])
        }
    }

    // MARK: Helpers

    /// Boots and checks what every boot must show: status 0, the init's first and last report lines,
    /// Linux 6.12 on riscv64; prints the wall time (the benchmark compares it with QEMU's).
    private func bootToPoweroff(interrupts: LinuxGuest.Interrupts, harts: Int, disk: URL?, edu: Bool = false,
                                accel: String = "interp",
                                file: StaticString = #filePath, line: UInt = #line) throws -> LinuxGuest.Boot {
        if case .backplane = GuestHarness.emulator, GuestHarness.command(board: "virt", file: file, line: line) == nil {
            throw XCTSkip("no backplane binary")
        }
        let artifacts: LinuxGuest.Artifacts
        do { artifacts = try LinuxGuest.artifacts() } catch {
            XCTFail("\(error)", file: file, line: line)
            throw error
        }
        let boot = try LinuxGuest.boot(artifacts, interrupts: interrupts, harts: harts, disk: disk, edu: edu, accel: accel)
        var engine = GuestHarness.emulator.name
        if case .backplane = GuestHarness.emulator { engine += " --accel \(accel)" }
        print("linux boot on \(engine), \(interrupts.rawValue), \(harts) hart(s)\(disk == nil ? "" : ", virtio-blk"): "
              + String(format: "%.2f s", boot.seconds))
        let tail = boot.output.split(separator: "\n").suffix(60).joined(separator: "\n")
        XCTAssertEqual(boot.status, 0, "the run did not end with a clean poweroff; console tail:\n\(tail)", file: file, line: line)
        XCTAssertEqual(boot.report.first, "init start", "init never ran; console tail:\n\(tail)", file: file, line: line)
        XCTAssertEqual(boot.report.last, "done", "init did not finish; console tail:\n\(tail)", file: file, line: line)
        XCTAssertEqual(boot.lines("error "), [], file: file, line: line)
        let kernel = boot.lines("kernel ").first ?? "none"
        XCTAssertTrue(kernel.hasPrefix("kernel 6.12.") && kernel.hasSuffix(" riscv64"), kernel, file: file, line: line)
        return boot
    }

    /// init wrote its pattern at `blockTestOffset` with O_DIRECT and read it back; the host's image
    /// file must now hold it too (a write the guest saw complete is on disk).
    private func assertDiskWrittenAndReadBack(_ boot: LinuxGuest.Boot, disk: URL,
                                              file: StaticString = #filePath, line: UInt = #line) throws {
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: disk.path)[.size] as? Int)
        XCTAssertEqual(boot.lines("blk "), [
            "blk vda size=\(size)",
            "blk vda rw ok offset=\(LinuxGuest.blockTestOffset) len=\(LinuxGuest.blockTestLength)",
        ], file: file, line: line)
        let data = try Data(contentsOf: disk)
        let block = data[LinuxGuest.blockTestOffset ..< LinuxGuest.blockTestOffset + LinuxGuest.blockTestLength]
        let expected = Data((0 ..< LinuxGuest.blockTestLength).map(LinuxGuest.patternByte))
        XCTAssertEqual(block, expected, "the disk image does not hold the block the guest wrote", file: file, line: line)
    }
}

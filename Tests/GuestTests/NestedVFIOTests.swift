import Foundation
import XCTest

/// VFIO passthrough end to end in the nested machine: QEMU's edu behind the emulated Intel IOMMU,
/// bound to vfio-pci and given to Backplane with `pci.host`, `vfio: true`, is driven by the
/// bare-metal guest Guests/vfio/edu_vfio.c (scripts/nested/edu-vfio.sh): factorial, DMA both
/// ways through the host IOMMU (IOVA = guest physical), and its MSI delivered to the guest's
/// IMSIC; built with -DINTX, the same through INTx and the PLIC (VFIO's INTx with unmask). Both
/// programs pass on qemu-system-riscv64 with QEMU's own edu.
///
/// edu's BAR 0 (1 MiB, no MSI-X table) is mmappable through VFIO, so it is mapped into the guest
/// address space whole (`bar-map … direct=0x100000` in the `pci` trace) and the guest's loads and
/// stores reach the device with no trap: the `mmio` trace of edu0 stays empty under the JIT and
/// the interpreter alike. With INTx the BAR traps from the interrupt until the poll after its end
/// (`direct=0x0`), so the handler's BAR access is seen and VFIO's INTx unmasked.
final class NestedVFIOTests: XCTestCase {
    /// Builds the guest program with Debian's riscv64-unknown-elf toolchain.
    static func eduGuest(intx: Bool = false, noDMA: Bool = false) throws -> String {
        let root = GuestHarness.packageRoot
        let output = GuestHarness.buildDirectory.appendingPathComponent("vfio")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let elf = output.appendingPathComponent(noDMA ? "edu_vfio_nodma.elf" : intx ? "edu_vfio_intx.elf" : "edu_vfio.elf").path
        let run = try GuestHarness.run(["riscv64-unknown-elf-gcc", "-march=rv64gc", "-mabi=lp64d", "-mcmodel=medany", "-O2",
                                        "-ffreestanding", "-fno-builtin", "-nostdlib", "-nostartfiles", "-static",
                                        "-Wl,--no-warn-rwx-segments"] + (intx || noDMA ? ["-DINTX"] : []) + (noDMA ? ["-DNODMA"] : []) + [
                                        "-T", root.appendingPathComponent("Guests/isa/link.ld").path,
                                        root.appendingPathComponent("Guests/plugins/start.S").path,
                                        root.appendingPathComponent("Guests/vfio/edu_vfio.c").path, "-o", elf], timeout: 120)
        guard run.status == 0 else {
            XCTFail("riscv64-unknown-elf-gcc failed:\n\(run.output)")
            throw XCTSkip("guest build failed")
        }
        return elf
    }

    func testABareMetalGuestDrivesQEMUsEduThroughVFIO() throws {
        let elf = try Self.eduGuest()
        let intx = try Self.eduGuest(intx: true)
        let run = try NestedMachine.run(script: "edu-vfio.sh", qemu: ["-device edu,addr=4,dma_mask=0xffffffff"],
                                        files: [elf, intx], timeout: 400)
        print("nested machine: \(Int(run.seconds)) s")
        XCTAssertEqual(run.status, 0, run.output)
        // One line naming the board entry (the machine's prefix), the function and the fix; status 2.
        let refused = run.lines(after: "unbound", until: "bound")
        XCTAssertEqual(refused.count, 2, run.output)
        XCTAssertTrue(refused.first?.hasPrefix("backplane: error: ") == true, run.output)
        XCTAssertTrue(refused.first?.hasSuffix(": host PCI function 0000:00:04.0 is bound to no driver, not vfio-pci: echo vfio-pci > /sys/bus/pci/devices/0000:00:04.0/driver_override; echo 0000:00:04.0 > /sys/bus/pci/drivers_probe") == true, run.output)
        XCTAssertEqual(refused.last, "backplane status 2")
        let direct = [
            "edu vfio guest",
            "edu at 00:0x0000000000000003",
            "factorial ok",
            "DMA ok",
            "MSI interrupt ok",
            "PASS",
            "backplane status 0",
            "pci edu0 bar-map bar=0 address=0x40000000 size=0x100000 direct=0x100000",
            "trapped BAR accesses: 0",
        ]
        XCTAssertEqual(run.lines(after: "bound", until: "run took"), direct, "JIT: " + run.output)
        XCTAssertEqual(run.lines(after: "interpreter", until: "nested: exit"), direct, "interpreter: " + run.output)
        let intxLines = run.lines(after: "intx", until: "interpreter")
        XCTAssertEqual(Array(intxLines.prefix(8)), [
            "edu vfio guest",
            "edu at 00:0x0000000000000003",
            "factorial ok",
            "DMA ok",
            "INTx interrupt ok",
            "PASS",
            "backplane status 0",
            "pci edu0 bar-map bar=0 address=0x40000000 size=0x100000 direct=0x100000",
        ], run.output)
        XCTAssertTrue(intxLines.contains("pci edu0 bar-map bar=0 address=0x40000000 size=0x100000 direct=0x0"), run.output)
        let trapped = intxLines.last.flatMap { $0.hasPrefix("trapped BAR accesses: ") ? Int($0.dropFirst(22)) : nil }
        XCTAssertGreaterThan(try XCTUnwrap(trapped, run.output), 0, "the INTx handler's BAR accesses trap")
    }
}

/// `--record` / `--replay` of a VFIO function on the nested machine's real VFIO
/// (docs/passthrough.md, "Record and replay" under VFIO; scripts/nested/edu-vfio-journal.sh):
/// edu driven without bus mastering (identification, factorial, INTx) is recorded; the function
/// is unbound from vfio-pci and the journal replays the run to the same output without it; an
/// edited BAR read in the journal diverges; the DMA guest, which enables bus mastering, is
/// refused under --record.
final class NestedVFIOJournalTests: XCTestCase {
    func testAnEduRunWithoutDMAReplaysWithoutTheDevice() throws {
        let noDMA = try NestedVFIOTests.eduGuest(noDMA: true)
        let intx = try NestedVFIOTests.eduGuest(intx: true)
        let run = try NestedMachine.run(script: "edu-vfio-journal.sh", qemu: ["-device edu,addr=4,dma_mask=0xffffffff"],
                                        files: [noDMA, intx], timeout: 400)
        print("nested machine: \(Int(run.seconds)) s")
        XCTAssertEqual(run.status, 0, run.output)
        let recorded = run.lines(after: "record", until: "journal: ")
        XCTAssertEqual(recorded, ["edu vfio guest", "edu at 00:0x0000000000000003", "factorial ok", "INTx interrupt ok", "PASS",
                                  "backplane status 0"], run.output)
        let counts = try XCTUnwrap(run.output.replacingOccurrences(of: "\r", with: "").split(separator: "\n").first { $0.hasPrefix("journal: ") },
                                   run.output)
        let numbers = counts.split(separator: " ").compactMap { Int($0) }
        XCTAssertEqual(numbers.count, 3, String(counts))
        XCTAssertGreaterThan(numbers.first ?? 0, 3, "BAR and configuration reads: \(counts)")
        XCTAssertGreaterThan(numbers.dropFirst().first ?? 0, 0, "the INTx: \(counts)")
        XCTAssertTrue(run.output.contains("vfio groups after unbind: 0"), run.output)
        XCTAssertEqual(run.lines(after: "replay", until: "same output"), recorded, run.output)
        XCTAssertTrue(run.output.contains("\nsame output"), run.output)
        let edited = run.lines(after: "edited", until: "bus master")
        // The guest reads the identification twice (the check and its message): both edited.
        XCTAssertEqual(edited.first, "edited lines: 2", run.output)
        XCTAssertTrue(edited.contains("identification: got 0x00000000010000ee"), "the guest got the journal's value: " + run.output)
        XCTAssertTrue(edited.contains { $0.contains("diverged: ") }, run.output)
        XCTAssertTrue(edited.contains("backplane status 3"), run.output)
        let refused = run.lines(after: "bus master", until: "done")
        XCTAssertTrue(refused.contains { $0.hasSuffix("--record: device 'edu0' (pci.host, VFIO 0000:00:04.0): the guest enabled bus mastering; the device's DMA into guest RAM goes through the IOMMU where the journal cannot see it, so this run cannot be recorded or replayed (docs/passthrough.md, \"Record and replay\")") }, run.output)
        XCTAssertTrue(refused.contains("backplane status 3"), run.output)
    }
}

/// QEMU's nvme through VFIO to Backplane's Linux guest: Linux's nvme driver binds with MSI-X,
/// and the block the guest writes is in the image file after the run.
final class NestedNVMeVFIOTests: XCTestCase {
    func testLinuxsNVMeDriverUsesAPassedThroughNVMeFunction() throws {
        let artifacts = try LinuxGuest.artifacts()
        let disk = try NestedMachine.disk(size: 16 << 20, named: "nvme.img")
        defer { try? FileManager.default.removeItem(at: disk.deletingLastPathComponent()) }
        let run = try NestedMachine.run(script: "nvme-vfio.sh", qemu: [
            "-drive file=\(disk.path),if=none,id=nv0,format=raw -device nvme,drive=nv0,serial=bpnvme0,addr=5",
        ], files: [artifacts.image + ":/work/Image", artifacts.initramfs + ":/work/initramfs.cpio"], timeout: 900)
        print("nested machine: \(Int(run.seconds)) s")
        let boot = LinuxGuest.Boot(status: run.status, output: run.output, seconds: run.seconds)
        let tail = run.output.split(whereSeparator: \.isNewline).suffix(80).joined(separator: "\n")
        XCTAssertEqual(run.status, 0, tail)
        XCTAssertTrue(run.output.contains("backplane status 0"), tail)
        XCTAssertEqual(boot.report.last, "done", tail)
        let pci = try XCTUnwrap(boot.lines("pci 0000:00:05.0").first, tail)
        XCTAssertTrue(pci.hasPrefix("pci 0000:00:05.0 vendor=1b36 device=0010 class=010802 driver=nvme "), pci)
        XCTAssertTrue(pci.contains(" msi=msix:"), "the nvme driver uses MSI-X: \(pci)")
        // BAR 0 (16 KiB): registers and doorbells in [0, 0x2000) mapped directly, the MSI-X table
        // (0x2000) and PBA (0x3000) pages trapped, and only those ever trapped.
        XCTAssertTrue(run.output.contains("pci nvme0 bar-map bar=0 address="), tail)
        let maps = run.output.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("pci nvme0 bar-map bar=0 ") }
        XCTAssertFalse(maps.isEmpty, tail)
        XCTAssertTrue(maps.allSatisfy { $0.hasSuffix(" size=0x4000 direct=0x2000") }, maps.joined(separator: "\n"))
        let offsets = try XCTUnwrap(run.output.split(whereSeparator: \.isNewline).first { $0.hasPrefix("trapped BAR offsets: ") }, tail)
            .dropFirst(21).split(separator: " ").compactMap { UInt64($0.dropFirst(2), radix: 16) }
        XCTAssertFalse(offsets.isEmpty, "the driver programs the MSI-X table through the trap")
        XCTAssertTrue(offsets.allSatisfy { (0x2000..<0x4000).contains($0) }, "trapped outside the MSI-X pages: \(offsets.map { String($0, radix: 16) })")
        XCTAssertTrue(boot.report.contains("blk nvme0n1 rw ok offset=\(LinuxGuest.blockTestOffset) len=\(LinuxGuest.blockTestLength)"), tail)
        let image = try Data(contentsOf: disk)
        let block = image[LinuxGuest.blockTestOffset..<(LinuxGuest.blockTestOffset + LinuxGuest.blockTestLength)]
        XCTAssertEqual(Array(block), (0..<LinuxGuest.blockTestLength).map(LinuxGuest.patternByte))
    }
}

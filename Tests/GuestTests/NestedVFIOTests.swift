import Foundation
import XCTest

/// VFIO passthrough end to end in the nested machine: QEMU's edu behind the emulated Intel IOMMU,
/// bound to vfio-pci and given to Backplane with `pci.host`, `vfio: true`, is driven by the
/// bare-metal guest Guests/vfio/edu_vfio.c (scripts/nested/edu-vfio.sh): factorial, DMA both
/// ways through the host IOMMU (IOVA = guest physical), and its MSI delivered to the guest's
/// IMSIC; built with -DINTX, the same through INTx and the PLIC (VFIO's INTx with unmask). Both
/// programs pass on qemu-system-riscv64 with QEMU's own edu.
final class NestedVFIOTests: XCTestCase {
    /// Builds the guest program with Debian's riscv64-unknown-elf toolchain.
    static func eduGuest(intx: Bool = false) throws -> String {
        let root = GuestHarness.packageRoot
        let output = GuestHarness.buildDirectory.appendingPathComponent("vfio")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let elf = output.appendingPathComponent(intx ? "edu_vfio_intx.elf" : "edu_vfio.elf").path
        let run = try GuestHarness.run(["riscv64-unknown-elf-gcc", "-march=rv64gc", "-mabi=lp64d", "-mcmodel=medany", "-O2",
                                        "-ffreestanding", "-fno-builtin", "-nostdlib", "-nostartfiles", "-static",
                                        "-Wl,--no-warn-rwx-segments"] + (intx ? ["-DINTX"] : []) + [
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
        XCTAssertEqual(run.lines(after: "bound", until: "run took"), [
            "edu vfio guest",
            "edu at 00:0x0000000000000003",
            "factorial ok",
            "DMA ok",
            "MSI interrupt ok",
            "PASS",
            "backplane status 0",
        ], run.output)
        XCTAssertEqual(run.lines(after: "intx", until: "nested: exit"), [
            "edu vfio guest",
            "edu at 00:0x0000000000000003",
            "factorial ok",
            "DMA ok",
            "INTx interrupt ok",
            "PASS",
            "backplane status 0",
        ], run.output)
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
        XCTAssertTrue(boot.report.contains("blk nvme0n1 rw ok offset=\(LinuxGuest.blockTestOffset) len=\(LinuxGuest.blockTestLength)"), tail)
        let image = try Data(contentsOf: disk)
        let block = image[LinuxGuest.blockTestOffset..<(LinuxGuest.blockTestOffset + LinuxGuest.blockTestLength)]
        XCTAssertEqual(Array(block), (0..<LinuxGuest.blockTestLength).map(LinuxGuest.patternByte))
    }
}

import Foundation
import XCTest

/// `backplane host pci` and `backplane host pci --check` inside the nested machine, against the
/// real kernel's VFIO: QEMU's edu and nvme bound to vfio-pci on bus 0 (each its own IOMMU
/// group), and behind a PCI bridge an edu bound to vfio-pci sharing its group with an nvme
/// bound to the nvme driver, so the group is not viable (scripts/nested/host-pci.sh).
final class VFIOHostTests: XCTestCase {
    func testHostPCIReportsVFIOReadinessAndCheckOpensTheFunctions() throws {
        let disk = try NestedMachine.disk(size: 1 << 20, named: "nvme.img")
        defer { try? FileManager.default.removeItem(at: disk.deletingLastPathComponent()) }
        let run = try NestedMachine.run(script: "host-pci.sh", qemu: [
            "-device edu,addr=4",
            "-drive file=\(disk.path),if=none,id=nv0,format=raw -device nvme,drive=nv0,serial=bp0,addr=5",
            "-device pci-bridge,id=br1,chassis_nr=1,addr=6 -device edu,bus=br1,addr=1",
            "-drive file=\(disk.path),if=none,id=nv1,format=raw,file.locking=off -device nvme,drive=nv1,serial=bp1,bus=br1,addr=2",
        ])
        print("nested machine: \(Int(run.seconds)) s")
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertEqual(run.lines(after: "0000:00:04.0  1234:11e8  class 00ff00  Unclassified device [00ff]", until: "0000:"), [
            "    driver: vfio-pci   iommu group: 1",
            "    BAR 0: 32-bit memory, 0x100000 bytes",
            "    mirror (pci.host): yes",
            "    BAR access (bars: true): no: bound to host driver 'vfio-pci' (unbind it, or 'force: true')",
            "    full passthrough (VFIO, vfio: true): possible",
        ])
        XCTAssertEqual(run.lines(after: "0000:01:01.0  1234:11e8  class 00ff00  Unclassified device [00ff]", until: "0000:"), [
            "    driver: vfio-pci   iommu group: 3 (with 0000:00:06.0, 0000:01:02.0)",
            "    BAR 0: 32-bit memory, 0x100000 bytes",
            "    mirror (pci.host): yes",
            "    BAR access (bars: true): no: bound to host driver 'vfio-pci' (unbind it, or 'force: true')",
            "    full passthrough (VFIO, vfio: true): no: IOMMU group 3 is not viable: 0000:01:02.0 is bound to 'nvme' (bind every device of the group to vfio-pci, or unbind it)",
        ])
        XCTAssertEqual(run.lines(after: "check 0000:00:04.0", until: "check "), [
            "0000:00:04.0: VFIO device open (IOMMU group 1, type1 IOMMU)",
            "    reset: none (no FLR or bus reset possible)",
            "    BAR 0: 0x100000 bytes, rw, mmap-able",
            "    config: 0x100 bytes, rw, not mmap-able (pread/pwrite)",
            "    interrupts: INTx 1, MSI 1, MSI-X 0",
            "status 0",
        ])
        XCTAssertEqual(run.lines(after: "check 0000:00:05.0", until: "check "), [
            "0000:00:05.0: VFIO device open (IOMMU group 2, type1 IOMMU)",
            "    reset: VFIO_DEVICE_RESET",
            "    BAR 0: 0x4000 bytes, rw, mmap-able",
            "    config: 0x1000 bytes, rw, not mmap-able (pread/pwrite)",
            "    interrupts: INTx 1, MSI 0, MSI-X 65",
            "status 0",
        ])
        // The kernel itself (VFIO_GROUP_GET_STATUS) says the group is not viable.
        XCTAssertEqual(run.lines(after: "check 0000:01:01.0", until: "check "), [
            "backplane: error: host PCI function 0000:01:01.0: IOMMU group 3 is not viable: every device in it must be bound to vfio-pci or to no driver (0000:01:02.0 is bound to 'nvme')",
            "status 2",
        ])
        XCTAssertEqual(run.lines(after: "check 0000:01:02.0", until: "nested: exit"), [
            "backplane: error: host PCI function 0000:01:02.0 is bound to 'nvme', not vfio-pci: echo 0000:01:02.0 > /sys/bus/pci/drivers/nvme/unbind; echo vfio-pci > /sys/bus/pci/devices/0000:01:02.0/driver_override; echo 0000:01:02.0 > /sys/bus/pci/drivers_probe",
            "status 2",
        ])
    }
}

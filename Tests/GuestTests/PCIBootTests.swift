import Foundation
import XCTest

/// PCIe on `Boards/virt.yaml` seen by Debian's U-Boot: a virtio-blk disk (an image file this test
/// writes) at 02.0 and an edu function at 03.0. U-Boot enumerates the bus, assigns the BARs,
/// reads and writes the disk through virtio-pci, and the test checks the bytes on both sides.
final class PCIBootTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pci-boot-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// virt.yaml plus the two functions, written next to the image.
    private func writeBoard(disk: String) throws -> String {
        let virt = try String(contentsOf: GuestHarness.packageRoot.appendingPathComponent("Boards/virt.yaml"), encoding: .utf8)
        let functions = """
              - name: disk0
                type: virtio-blk-pci
                at: pcie0/02.0
                properties: { file: \(disk), serial: test-disk }
              - name: edu0
                type: edu
                at: pcie0/03.0

            """
        guard let boot = virt.range(of: "\nboot:") else { throw XCTSkip("virt.yaml has no boot section") }
        var board = virt
        board.insert(contentsOf: "\n" + functions.dropLast(), at: boot.lowerBound)
        let path = directory.appendingPathComponent("board.yaml").path
        try board.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testUBootEnumeratesPCIAndUsesTheVirtioDisk() throws {
        // 8 MiB = 16384 sectors; sector 0 starts with a marker, sectors 2-3 are zero.
        var image = Data(count: 8 << 20)
        let marker = Array("BACKPLANE-DISK0!".utf8)
        image.replaceSubrange(0..<marker.count, with: marker)
        let disk = directory.appendingPathComponent("disk.img").path
        try image.write(to: URL(fileURLWithPath: disk))
        guard let uBoot = try UBootConsole.boot(board: try writeBoard(disk: disk)) else { return }
        let run = uBoot.run

        _ = run("pci enum")
        let list = run("pci")
        XCTAssertTrue(list.contains("00.00.00   0x1b36     0x0008     Bridge device           0x00"), list)
        XCTAssertTrue(list.contains("00.02.00   0x1af4     0x1042     Mass storage controller 0x00"), list)
        XCTAssertTrue(list.contains("00.03.00   0x1234     0x11e8     Build before PCI Rev2.0 0xff"), list)

        let bars = run("pci bar 00.02.00")
        XCTAssertTrue(bars.contains("0x0000000000001000  32     MEM"), "MSI-X table BAR:\n\(bars)")
        XCTAssertTrue(bars.contains("0x0000000000004000  64     MEM   Prefetchable"), "virtio BAR:\n\(bars)")

        let header = run("pci header 00.03.00")
        XCTAssertTrue(header.contains("command register ID =         0x0006"), "memory decode and bus master on:\n\(header)")
        XCTAssertTrue(header.contains("interrupt pin =               0x01"), header)
        let bar0Line = header.split(separator: "\n").first { $0.contains("base address 0 =") }
        let bar0 = bar0Line.flatMap { UInt64($0.split(separator: "x").last ?? "", radix: 16) } ?? 0
        XCTAssertNotEqual(bar0, 0, "edu BAR 0 not assigned:\n\(header)")

        // The edu registers answer at the address U-Boot gave BAR 0.
        let address = String(bar0, radix: 16)
        let identification = run("md.l 0x\(address) 1")
        XCTAssertTrue(identification.contains("\(address): 010000ed"), identification)
        let factorial = run("mw.l 0x\(String(bar0 + 8, radix: 16)) 5; md.l 0x\(String(bar0 + 8, radix: 16)) 1")
        XCTAssertTrue(factorial.contains(": 00000078"), "5! is 0x78:\n\(factorial)")

        _ = run("virtio scan")
        let info = run("virtio info")
        XCTAssertTrue(info.contains("Capacity: 8.0 MB = 0.0 GB (16384 x 512)"), info)

        let read = run("virtio read 0x84000000 0 1")
        XCTAssertTrue(read.contains("1 blocks read: OK"), read)
        let bytes = run("md.b 0x84000000 0x10")
        XCTAssertTrue(bytes.contains("84000000: 42 41 43 4b 50 4c 41 4e 45 2d 44 49 53 4b 30 21  BACKPLANE-DISK0!"), bytes)

        let write = run("mw.b 0x84100000 0x5a 0x400; virtio write 0x84100000 2 2")
        XCTAssertTrue(write.contains("2 blocks written: OK"), write)

        uBoot.powerOff()
        let after = try Data(contentsOf: URL(fileURLWithPath: disk))
        XCTAssertEqual(Array(after[0x400..<0x800]), [UInt8](repeating: 0x5a, count: 0x400), "sectors 2-3 on the host")
        XCTAssertEqual(Array(after[0x800..<0x810]), [UInt8](repeating: 0, count: 16), "sector 4 untouched")
        XCTAssertEqual(Array(after[0..<16]), marker)
    }
}

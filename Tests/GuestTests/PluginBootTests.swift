import Foundation
import XCTest

/// Debian's U-Boot on a board file that loads acme_edu through its `plugins:` list and places
/// two instances of `acme.edu` exactly like built-in functions: `pci` lists both with their IDs,
/// their BARs get addresses, and the device answers at the address U-Boot assigned.
final class PluginBootTests: XCTestCase {
    func testUBootListsThePluginFunctionsWithTheirIDsAndBARs() throws {
        let library = try PluginGuestTests.plugin("acme_edu")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("plugin-boot-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var board = try String(contentsOf: GuestHarness.packageRoot.appendingPathComponent("Boards/virt.yaml"), encoding: .utf8)
        let boot = try XCTUnwrap(board.range(of: "\nboot:"))
        board.insert(contentsOf: """

              - name: edu1
                type: acme.edu
                at: pcie0/03.0
              - name: edu2
                type: acme.edu
                at: pcie0/04.0
                properties: { latency-ns: 1000 }
            """, at: boot.lowerBound)
        board += "plugins:\n  - path: \(library)\n"
        let path = directory.appendingPathComponent("board.yaml").path
        try board.write(toFile: path, atomically: true, encoding: .utf8)

        guard let uBoot = try UBootConsole.boot(board: path) else { return }
        let run = uBoot.run

        _ = run("pci enum")
        let list = run("pci")
        XCTAssertTrue(list.contains("00.03.00   0x1234     0xacde     Build before PCI Rev2.0 0xff"), list)
        XCTAssertTrue(list.contains("00.04.00   0x1234     0xacde     Build before PCI Rev2.0 0xff"), list)

        let bars = run("pci bar 00.03.00")
        XCTAssertTrue(bars.contains("0x0000000000100000  32     MEM"), "1 MiB register BAR:\n\(bars)")
        XCTAssertTrue(bars.contains("0x0000000000001000  32     MEM"), "MSI-X BAR:\n\(bars)")

        let header = run("pci header 00.03.00")
        let bar0Line = header.split(separator: "\n").first { $0.contains("base address 0 =") }
        let bar0 = bar0Line.flatMap { UInt64($0.split(separator: "x").last ?? "", radix: 16) } ?? 0
        XCTAssertNotEqual(bar0, 0, "BAR 0 not assigned:\n\(header)")
        let address = String(bar0, radix: 16)
        let identification = run("md.l 0x\(address) 1")
        XCTAssertTrue(identification.contains("\(address): 010000ed"), identification)

        uBoot.powerOff()
    }
}

import Foundation
import XCTest

/// docs/plugins.md "Driving your device from a bare-metal guest": the program on the page,
/// built as it stands and run against acme.edu with INTx through the PLIC (virt) and with
/// MSI-X to the IMSIC (virt-aia).
final class PluginDocsGuestTests: XCTestCase {
    private func build(msix: Bool) throws -> String {
        let root = GuestHarness.packageRoot
        let docs = try String(contentsOf: root.appendingPathComponent("docs/plugins.md"), encoding: .utf8)
        let marker = try XCTUnwrap(docs.range(of: "<!-- tested: baremetal -->"))
        let start = try XCTUnwrap(docs.range(of: "```c\n", range: marker.upperBound..<docs.endIndex))
        let end = try XCTUnwrap(docs.range(of: "```", range: start.upperBound..<docs.endIndex))
        try FileManager.default.createDirectory(at: PluginGuestTests.output, withIntermediateDirectories: true)
        let source = PluginGuestTests.output.appendingPathComponent("docs_baremetal.c")
        try String(docs[start.upperBound..<end.lowerBound]).write(to: source, atomically: false, encoding: .utf8)
        let elf = PluginGuestTests.output.appendingPathComponent(msix ? "docs_msix.elf" : "docs_intx.elf").path
        let run = try GuestHarness.run(["riscv64-unknown-elf-gcc", "-march=rv64gc", "-mabi=lp64d", "-mcmodel=medany", "-O2",
                                        "-ffreestanding", "-fno-builtin", "-nostdlib", "-nostartfiles", "-static", "-Wall", "-Werror",
                                        "-Wl,--no-warn-rwx-segments"] + (msix ? ["-DUSE_MSIX"] : []) + [
                                        "-T", root.appendingPathComponent("Guests/isa/link.ld").path,
                                        root.appendingPathComponent("Guests/plugins/start.S").path, source.path, "-o", elf], timeout: 120)
        XCTAssertEqual(run.status, 0, run.output)
        return elf
    }

    private func run(board: String, msix: Bool) throws -> GuestHarness.Run {
        guard case .backplane(let binary) = GuestHarness.emulator, FileManager.default.isExecutableFile(atPath: binary) else {
            throw XCTSkip("plugins are Backplane's")
        }
        return try GuestHarness.run([binary, "run", board, "--bios", "none", "--serial", "stdio",
                                     "--plugin", try PluginGuestTests.plugin("acme_edu"), "--device", "acme.edu,at=pcie0/03.0",
                                     "--kernel", try build(msix: msix), "--timeout", "60"], timeout: 90)
    }

    func testTheDocsGuestTakesTheEduInterruptThroughThePLIC() throws {
        let result = try run(board: "virt", msix: false)
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertEqual(result.output, "PASS\n")
    }

    func testTheDocsGuestTakesTheEduInterruptAsMSIXToTheIMSIC() throws {
        let result = try run(board: "virt-aia", msix: true)
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertEqual(result.output, "PASS\n")
    }
}

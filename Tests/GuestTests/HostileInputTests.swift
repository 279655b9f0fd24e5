import Foundation
import XCTest

/// Hostile board files, ELF images and options that used to crash or stall the host
/// (Fuzz/deferred/make-inputs.py builds them): each now gets one line and status 2, at once.
final class HostileInputTests: XCTestCase {
    private func cases() throws -> (directory: URL, cases: [(what: String, arguments: [String])]) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-\(UUID().uuidString)")
        let made = try GuestHarness.run(["python3", GuestHarness.packageRoot.appendingPathComponent("Fuzz/deferred/make-inputs.py").path,
                                         directory.path], timeout: 120)
        XCTAssertEqual(made.status, 0, made.output)
        let list = try String(contentsOf: directory.appendingPathComponent("cases.txt"), encoding: .utf8)
        let cases = list.split(separator: "\n").map { line -> (String, [String]) in
            let parts = line.split(separator: "\t", maxSplits: 1)
            return (String(parts[0]), parts[1].split(separator: " ").map(String.init))
        }
        return (directory, cases)
    }

    func testEveryDeferredReproducerGetsAOneLineErrorQuickly() throws {
        guard let backplane = GuestHarness.command(board: "spike")?.first else { return }
        let (directory, cases) = try cases()
        defer { try? FileManager.default.removeItem(at: directory) }
        // What each case must say (after "backplane: error: " or the file's own location).
        let expected: [String: String] = [
            "deep-nesting.yaml": "deep-nesting.yaml:4:112: error: nesting deeper than 100 levels",
            "huge-phoff.elf": "huge-phoff.elf: program header 0 lies outside the file",
            "huge-phnum.elf": "huge-phnum.elf: program header 72 lies outside the file",
            "memsz-2-63.elf": "memsz-2-63.elf: kernel segment at 0x80000000 of 0x8000000000000000 bytes does not fit in RAM",
            "memsz-wraps.elf": "memsz-wraps.elf: kernel segment at 0x80000000 of 0xffffffff80000010 bytes does not fit in RAM",
            "memsz-2.5G.elf": "memsz-2.5G.elf: kernel segment at 0x80000000 of 0xa0000000 bytes does not fit in RAM",
            "16383T": "--memory 16383T: cannot reserve 18013298997854208 bytes of host memory for 'ram'",
        ]
        var checked = 0
        for (what, arguments) in cases {
            let start = Date()
            let run = try GuestHarness.run([backplane] + arguments, timeout: 60)
            let seconds = Date().timeIntervalSince(start)
            XCTAssertLessThan(seconds, 10, "\(what) took \(seconds) s")
            if arguments.first == "dtb" {
                XCTAssertEqual(run.status, 0, "\(what): \(run.output)")  // 10,000 devices are a valid board.
                continue
            }
            XCTAssertEqual(run.status, 2, "\(what): \(run.output)")
            XCTAssertEqual(run.output.split(separator: "\n").count, 1, "one line: \(run.output)")
            // The --memory case also names an ELF; its option is what it is about.
            let key = arguments.contains("16383T") ? "16383T" : expected.keys.first { key in arguments.contains { $0.hasSuffix(key) } }
            if let key {
                XCTAssertTrue(run.output.contains(expected[key]!), "\(what): \(run.output)")
                checked += 1
            }
        }
        XCTAssertEqual(checked, expected.count, "every expected case ran")
    }

    func testAGarbageDeviceTreeBlobIsRefused() throws {
        guard let backplane = GuestHarness.command(board: "virt")?.first else { return }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("garbage-\(UUID().uuidString).dtb")
        try Data((0..<512).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let run = try GuestHarness.run([backplane, "run", "virt", "--dtb", file.path, "--timeout", "5"], timeout: 30)
        XCTAssertEqual(run.status, 2)
        XCTAssertEqual(run.output, "backplane: error: \(file.path): not a valid device tree blob (fdt_check_full failed for the blob: FDT_ERR_BADMAGIC (-9))\n")
    }
}

import XCTest
@testable import DeviceTree

final class FDTWriterTests: XCTestCase {
    private func smallTree() -> DeviceTreeNode {
        DeviceTreeNode("", properties: [
            .u32("#address-cells", 2),
            .u32("#size-cells", 2),
            .string("model", "test-board"),
        ], children: [
            DeviceTreeNode("memory@80000000", properties: [
                .string("device_type", "memory"),
                .cells("reg", [0, 0x8000_0000, 0, 0x0800_0000]),
            ]),
            DeviceTreeNode("chosen", properties: [
                .string("bootargs", "console=ttyS0"),
                .strings("compat-list", ["a,b", "c"]),
                .u64("linux,initrd-start", 0x1_2345_6789),
                .empty("flag"),
            ]),
        ])
    }

    func testLibfdtReadsBackWhatTheWriterWrote() throws {
        let blob = try smallTree().flatten()
        let reader = try FDTReader(blob)

        XCTAssertEqual(reader.children(of: "/"), ["memory@80000000", "chosen"])
        XCTAssertEqual(reader.cells("reg", at: "/memory@80000000"), [0, 0x8000_0000, 0, 0x0800_0000])
        XCTAssertEqual(reader.strings("device_type", at: "/memory@80000000"), ["memory"])
        XCTAssertEqual(reader.strings("bootargs", at: "/chosen"), ["console=ttyS0"])
        XCTAssertEqual(reader.strings("compat-list", at: "/chosen"), ["a,b", "c"])
        XCTAssertEqual(reader.cells("linux,initrd-start", at: "/chosen"), [0x1, 0x2345_6789])
        XCTAssertEqual(reader.property("flag", at: "/chosen"), [])
        XCTAssertNil(reader.property("absent", at: "/chosen"))
        XCTAssertFalse(reader.hasNode("/nowhere"))
    }

    func testBufferGrowsPastInitialCapacity() throws {
        let children = (0..<200).map { index in
            DeviceTreeNode("node@\(String(index, radix: 16))", properties: [.string("label", String(repeating: "x", count: 100))])
        }
        let blob = try DeviceTreeNode("", children: children).flatten()

        let reader = try FDTReader(blob)
        XCTAssertEqual(reader.children(of: "/")?.count, 200)
        XCTAssertGreaterThan(blob.count, 4096 * 4)
    }

    func testBootCPUIsWrittenToTheHeader() throws {
        let blob = try smallTree().flatten(bootCPU: 3)

        XCTAssertEqual(try FDTReader(blob).bootCPU, 3)
    }

    func testReaderRejectsACorruptBlob() throws {
        var blob = try smallTree().flatten()
        blob[0] = 0

        XCTAssertThrowsError(try FDTReader(blob)) { error in
            XCTAssertEqual((error as? DeviceTreeError)?.description, "fdt_check_full failed for the blob: FDT_ERR_BADMAGIC (-9)")
        }
    }

    func testUnbalancedEndNodeReportsLibfdtError() throws {
        let writer = try FDTWriter()
        try writer.beginNode("")
        try writer.endNode()

        XCTAssertThrowsError(try writer.endNode()) { error in
            XCTAssertEqual((error as? DeviceTreeError)?.function, "fdt_end_node")
        }
    }

    func testDTCDecompilesTheTree() throws {
        let output = try DTC.decompile(try smallTree().flatten())

        XCTAssertTrue(output.dts.contains("\tmodel = \"test-board\";"), output.dts)
        XCTAssertTrue(output.dts.contains("\t\treg = <0x00 0x80000000 0x00 0x8000000>;"), output.dts)
    }

    func testNodeInsertAtPath() {
        var tree = smallTree()

        XCTAssertTrue(tree.insert(DeviceTreeNode("child"), at: "/chosen"))
        XCTAssertFalse(tree.insert(DeviceTreeNode("child"), at: "/missing"))
        XCTAssertNotNil(tree.node(at: "/chosen/child"))
    }
}

/// Hostile blobs read through `FDTReader` get an error, never a crash.
final class FDTReaderHostileTests: XCTestCase {
    /// The fdt_reader fuzzer's find (Fuzz/regressions/fdt_reader/libfdt-version-11-null-name): a
    /// version-11 header made libfdt's fdt_check_full read through NULL.
    func testABlobOlderThanVersion16IsRefusedBeforeLibfdtReadsIt() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/regressions/fdt_reader/libfdt-version-11-null-name").path
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertThrowsError(try FDTReader(bytes)) {
            XCTAssertTrue("\($0)".contains("version 11"), "\($0)")
        }
        // The same blob claiming version 17 goes through libfdt's own checks without crashing
        // (the test process would die) and reads as a tree.
        var seventeen = bytes
        seventeen[23] = 17
        XCTAssertNoThrow(try FDTReader(seventeen))
    }
}

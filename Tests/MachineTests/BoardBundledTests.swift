import XCTest
@testable import Machine

final class BoardBundledTests: XCTestCase {
    func testVirtLoadsWithQEMUMemoryMap() throws {
        let board = try Board.bundled(name: "virt")

        XCTAssertEqual(board.name, "virt")
        XCTAssertTrue(board.sourcePath.hasSuffix("Boards/virt.yaml"), board.sourcePath)
        XCTAssertEqual(board.harts.count, 1)
        XCTAssertEqual(board.harts.isa, "rv64imafdc_zicsr_zifencei_zicntr_sstc")
        XCTAssertEqual(board.harts.extensions, ["i", "m", "a", "f", "d", "c", "zicsr", "zifencei", "zicntr", "sstc"])
        XCTAssertEqual(board.harts.mmu, .sv48)
        XCTAssertEqual(board.harts.timebaseFrequency, 10_000_000)
        XCTAssertEqual(board.memory, [BoardMemoryRegion(name: "ram", base: 0x8000_0000, size: 128 << 20,
                                                        location: SourceLocation(line: 13, column: 5),
                                                        sizeLocation: SourceLocation(line: 15, column: 11))])
        XCTAssertEqual(board.devices.map(\.name), ["test0", "rtc0", "clint0", "plic0", "uart0", "pcie0"])
        let uart = try XCTUnwrap(board.device(named: "uart0"))
        XCTAssertEqual(uart.type, "ns16550a")
        XCTAssertEqual(uart.base, 0x1000_0000)
        XCTAssertEqual(uart.size, 0x100)
        XCTAssertEqual(uart.irqs.map(\.description), ["plic0@10"])
        XCTAssertEqual(uart.properties, ["clock-frequency": .integer(3_686_400), "reg-shift": .integer(0)])
        XCTAssertEqual(uart.sourceLine, 31)
        XCTAssertEqual(board.device(named: "rtc0")?.irqs.map(\.description), ["plic0@11"])
        XCTAssertEqual(board.device(named: "plic0")?.integer("sources"), 96)
        XCTAssertEqual(board.boot.firmware, "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin")
        XCTAssertEqual(board.boot.kernel, "/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin")
        XCTAssertEqual(board.boot.append, "")
        XCTAssertEqual(board.boot.stdout, "uart0")
    }

    func testVirtBootFilesExistInDebianPackages() throws {
        let boot = try Board.bundled(name: "virt").boot

        for path in [boot.firmware, boot.kernel].compactMap({ $0 }) {
            XCTAssertTrue(FileManager.default.fileExists(atPath: path), "\(path) is missing: install opensbi and u-boot-qemu")
        }
    }

    func testSpikeLoadsWithHTIFAndNoFirmware() throws {
        let board = try Board.bundled(name: "spike")

        XCTAssertEqual(board.memory.first?.base, 0x8000_0000)
        XCTAssertEqual(board.memory.first?.size, 256 << 20)
        XCTAssertEqual(board.devices.map(\.type), ["aclint", "htif"])
        XCTAssertNil(board.device(named: "htif0")?.base)
        XCTAssertNil(board.boot.firmware)
        XCTAssertEqual(board.boot.stdout, "htif0")
    }

    func testBundledNamesListsBothBoards() {
        XCTAssertTrue(Set(Board.bundledNames).isSuperset(of: ["virt", "spike"]), "\(Board.bundledNames)")
    }

    func testUnknownBundledBoardSuggestsNearestName() {
        XCTAssertThrowsError(try Board.bundled(name: "vrit")) { error in
            XCTAssertEqual("\(error)", "vrit.yaml: error: no bundled board named 'vrit'; did you mean 'virt'?")
        }
    }

    func testBundledBoardsAreCopiedAsResources() {
        let resources = Bundle.main.bundleURL.appendingPathComponent("Backplane_Machine.resources/Boards/virt.yaml")

        XCTAssertTrue(FileManager.default.fileExists(atPath: resources.path), resources.path)
    }
}

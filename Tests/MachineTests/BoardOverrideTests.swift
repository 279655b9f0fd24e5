import XCTest
@testable import Machine

final class BoardOverrideTests: XCTestCase {
    private let text = """
    name: t
    harts: { isa: rv64gc, mmu: sv39, timebase-frequency: 10000000 }
    memory:
      - { name: ram, base: 0x80000000, size: 16M }
    devices:
      - { name: uart0, type: ns16550a, reg: [0x90000000, 0x100] }

    """

    func testWithHartsChangesTheCount() throws {
        let board = try BoardLoader.load(yaml: text, path: "t.yaml").withHarts(count: 8)

        XCTAssertEqual(board.harts.count, 8)
        XCTAssertNoThrow(try board.validate())
    }

    func testWithHartsOutOfRangeIsReportedWithoutAPosition() throws {
        let board = try BoardLoader.load(yaml: text, path: "t.yaml").withHarts(count: 100)

        XCTAssertThrowsError(try board.validate()) { error in
            XCTAssertEqual("\(error)", "t.yaml: error: hart count 100 is out of range 1...64")
        }
    }

    func testWithMemoryChangesTheFirstRegion() throws {
        let board = try BoardLoader.load(yaml: text, path: "t.yaml").withMemory(size: 256 << 20)

        XCTAssertEqual(board.memory.first?.size, 256 << 20)
        XCTAssertNoThrow(try board.validate())
    }

    func testWithMemoryOverlappingADeviceIsReported() throws {
        let board = try BoardLoader.load(yaml: text, path: "t.yaml").withMemory(size: 1 << 30)

        XCTAssertThrowsError(try board.validate()) { error in
            XCTAssertEqual("\(error)", "t.yaml:6:41: error: 'uart0' [0x90000000,0x90000100) overlaps 'ram' [0x80000000,0xc0000000)")
        }
    }

    func testWithMemoryUnalignedSizeIsReportedAtTheRegion() throws {
        let board = try BoardLoader.load(yaml: text, path: "t.yaml").withMemory(size: 0x1234)

        XCTAssertThrowsError(try board.validate()) { error in
            XCTAssertEqual("\(error)", "t.yaml:4:5: error: size 0x1234 of memory region 'ram' is not a multiple of 4 KiB (0x1000)")
        }
    }

    func testBoardBuiltInCodeValidates() {
        let board = Board(name: "code", harts: BoardHarts(count: 1, isa: "rv64i", extensions: ["i"], mmu: .sv39, timebaseFrequency: 1),
                          memory: [BoardMemoryRegion(name: "ram", base: 0x8000_0000, size: 0x1000)],
                          devices: [BoardDevice(name: "u", type: "ns16550", base: 0x1000, size: 0x100)])

        XCTAssertThrowsError(try board.validate()) { error in
            XCTAssertEqual("\(error)", "<memory>: error: unknown device type 'ns16550'; did you mean 'ns16550a'?")
        }
    }
}

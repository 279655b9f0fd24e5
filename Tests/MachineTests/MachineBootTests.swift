import Devices
import XCTest
import Machine

/// Where `Machine.boot` puts things on the virt board, and how it fails on files that cannot run.
final class MachineBootTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("backplane-boot-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    private func file(_ name: String, bytes: Int) -> String {
        let path = scratch.appendingPathComponent(name).path
        FileManager.default.createFile(atPath: path, contents: Data(repeating: 0x13, count: bytes))
        return path
    }

    private func virt() throws -> Machine {
        try Machine(board: Board.bundled(name: "virt"), serial: MemorySerialBackend())
    }

    func testFirmwareKernelInitrdAndDeviceTreeGoWhereQEMUPutsThem() throws {
        let machine = try virt()
        let layout = try machine.boot(BootConfiguration(firmware: file("fw.bin", bytes: 300_000),
                                                        kernel: file("kernel.bin", bytes: 4096),
                                                        initrd: file("initrd.cpio", bytes: 8192)))
        let placed = Dictionary(uniqueKeysWithValues: layout.images.map { ($0.name, $0.address) })
        XCTAssertEqual(placed["firmware"], 0x8000_0000)
        XCTAssertEqual(placed["kernel"], 0x8020_0000, "the next 2 MiB boundary after the firmware, where fw_jump jumps")
        XCTAssertEqual(placed["initrd"], 0x8420_0000, "half of 128 MiB past the kernel")
        XCTAssertEqual(placed["dtb"], 0x87e0_0000, "top of RAM, 2 MiB aligned")
        XCTAssertEqual(layout.entry, 0x8000_0000)
        XCTAssertEqual(machine.harts[0].state.pointee.pc, 0x8000_0000)
        XCTAssertEqual(machine.harts[0].state.pointee.x.11, 0x87e0_0000, "a1 holds the device tree address")
    }

    func testEveryHartStartsWithItsOwnIDInA0() throws {
        let machine = try Machine(board: Board.bundled(name: "virt").withHarts(count: 2), serial: MemorySerialBackend())
        try machine.boot(BootConfiguration(firmware: file("fw.bin", bytes: 64), kernel: nil))
        XCTAssertEqual(machine.harts.map { $0.state.pointee.x.10 }, [0, 1])
    }

    func testImageLargerThanRAMIsRefusedNamingTheFile() throws {
        let machine = try Machine(board: Board.bundled(name: "virt").withMemory(size: 1 << 20), serial: MemorySerialBackend())
        let big = file("big.bin", bytes: 2 << 20)
        XCTAssertThrowsError(try machine.boot(BootConfiguration(firmware: big, kernel: nil))) {
            XCTAssertEqual("\($0)", "\(big): firmware [0x80000000,0x80200000) does not fit in RAM")
        }
    }

    func testNothingToRunIsAnError() throws {
        XCTAssertThrowsError(try virt().boot(BootConfiguration(firmware: nil, kernel: nil))) {
            XCTAssertEqual("\($0)", "nothing to run: the board has no firmware and no kernel was given (--kernel FILE)")
        }
    }

    func testHTIFBoardNeedsATohostSymbol() throws {
        let machine = try Machine(board: Board.bundled(name: "spike"), serial: MemorySerialBackend())
        XCTAssertThrowsError(try machine.boot(BootConfiguration(firmware: nil, kernel: file("raw.bin", bytes: 16)))) {
            XCTAssertEqual("\($0)", "the board has an HTIF but the program has no 'tohost' symbol")
        }
    }
}

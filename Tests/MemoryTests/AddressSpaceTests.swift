import XCTest
import Memory

/// A device that records what reached it, implementing only the widths it is given.
final class RecordingDevice: MMIODevice {
    let implementedSizes: AccessSizes
    var registers = [UInt64: UInt64]()
    var log: [String] = []
    init(sizes: AccessSizes) { implementedSizes = sizes }
    func read(offset: UInt64, size: Int) -> UInt64 {
        log.append("r\(size)@\(offset)")
        return registers[offset] ?? 0
    }
    func write(offset: UInt64, size: Int, value: UInt64) {
        log.append("w\(size)@\(offset)=0x\(String(value, radix: 16))")
        registers[offset] = value
    }
}

final class AddressSpaceTests: XCTestCase {
    func testOverlapNamesBothRegions() throws {
        let space = AddressSpace()
        try space.mapMMIO(name: "test0", base: 0x100000, size: 0x2000, device: RecordingDevice(sizes: .word))
        XCTAssertThrowsError(try space.mapMMIO(name: "rtc0", base: 0x101000, size: 0x1000, device: RecordingDevice(sizes: .word))) {
            XCTAssertEqual("\($0)", "'rtc0' [0x101000,0x102000) overlaps 'test0' [0x100000,0x102000)")
        }
    }

    func testAdjacentRegionsDoNotOverlap() throws {
        let space = AddressSpace()
        try space.mapRAM(name: "a", base: 0x1000, size: 0x1000)
        XCTAssertNoThrow(try space.mapRAM(name: "b", base: 0x2000, size: 0x1000))
    }

    func testUnmappedRegionStopsAnsweringAndFreesItsRange() throws {
        let space = AddressSpace()
        let device = RecordingDevice(sizes: .word)
        let bar = try space.mapMMIO(name: "bar0", base: 0x4000_0000, size: 0x1000, device: device)
        XCTAssertNotNil(space.read(0x4000_0000, size: 4))
        space.unmap(bar)
        XCTAssertNil(space.read(0x4000_0000, size: 4))
        XCTAssertNoThrow(try space.mapMMIO(name: "bar0", base: 0x4000_0800, size: 0x1000, device: device))
    }

    func testRAMReadsBackLittleEndian() throws {
        let space = AddressSpace()
        try space.mapRAM(name: "ram", base: 0x8000_0000, size: 0x10000)
        XCTAssertTrue(space.write(0x8000_0003, size: 8, value: 0x1122_3344_5566_7788))
        XCTAssertEqual(space.read(0x8000_0003, size: 1), 0x88)
        XCTAssertEqual(space.read(0x8000_0004, size: 2), 0x6677)
        XCTAssertEqual(space.read(0x8000_0003, size: 8), 0x1122_3344_5566_7788)
    }

    func testUnmappedAccessIsRefused() throws {
        let space = AddressSpace()
        try space.mapRAM(name: "ram", base: 0x8000_0000, size: 0x1000)
        XCTAssertNil(space.read(0x7fff_fff8, size: 8))
        XCTAssertFalse(space.write(0x8000_0ffc, size: 8, value: 1), "an access straddling the end of RAM is refused")
    }

    func testROMIgnoresWrites() throws {
        let space = AddressSpace()
        try space.mapROM(name: "mrom", base: 0x1000, size: 0x100, contents: [0xaa, 0xbb])
        XCTAssertTrue(space.write(0x1000, size: 1, value: 0))
        XCTAssertEqual(space.read(0x1000, size: 2), 0xbbaa)
        XCTAssertNil(space.hostPointer(0x1000, length: 1, forWrite: true))
    }

    func testWideAccessIsSplitForWordDevice() throws {
        let space = AddressSpace()
        let device = RecordingDevice(sizes: .word)
        try space.mapMMIO(name: "dev", base: 0x2000, size: 0x100, device: device)
        space.write(0x2008, size: 8, value: 0x1111_2222_3333_4444)
        XCTAssertEqual(device.log, ["w4@8=0x33334444", "w4@12=0x11112222"])
        XCTAssertEqual(space.read(0x2008, size: 8), 0x1111_2222_3333_4444)
    }

    func testNarrowReadIsWidenedAndExtracted() throws {
        let space = AddressSpace()
        let device = RecordingDevice(sizes: .word)
        device.registers[4] = 0xaabb_ccdd
        try space.mapMMIO(name: "dev", base: 0x2000, size: 0x100, device: device)
        XCTAssertEqual(space.read(0x2006, size: 1), 0xbb)
        XCTAssertEqual(device.log, ["r4@4"])
    }

    func testNarrowWriteIsWidenedWithoutReading() throws {
        let space = AddressSpace()
        let device = RecordingDevice(sizes: .word)
        try space.mapMMIO(name: "dev", base: 0x2000, size: 0x100, device: device)
        space.write(0x2001, size: 1, value: 0x5a)
        XCTAssertEqual(device.log, ["w4@0=0x5a00"])
    }

    func testDMAOutsideRAMIsAnErrorValue() throws {
        let space = AddressSpace()
        try space.mapRAM(name: "ram", base: 0x8000_0000, size: 0x1000)
        guard case .failure(let error) = space.dma.write(0x8000_0ff0, bytes: [UInt8](repeating: 1, count: 32)) else {
            return XCTFail("DMA past the end of RAM succeeded")
        }
        XCTAssertEqual(error, DMAError(address: 0x8000_0ff0, length: 32))
        XCTAssertEqual(space.read(0x8000_0ff0, size: 8), 0, "a refused DMA writes nothing")
        XCTAssertEqual(try space.dma.read(0x8000_0000, count: 4).get(), [0, 0, 0, 0])
        XCTAssertEqual("\(DMAError(address: 0x10, length: 4))", "DMA of 4 bytes at 0x10 leaves guest RAM")
    }

    final class Observer: CodeWriteObserver {
        var pages: [UInt64] = []
        func codeWritten(physicalPage: UInt64) { pages.append(physicalPage) }
    }

    func testWriteToCodePageIsReportedOnce() throws {
        let space = AddressSpace()
        let observer = Observer()
        space.codeWriteObserver = observer
        try space.mapRAM(name: "ram", base: 0x8000_0000, size: 0x4000)
        XCTAssertTrue(space.markCodePage(0x8000_1234))
        space.write(0x8000_0ff8, size: 8, value: 0)   // page 0: not code
        space.write(0x8000_1ffc, size: 4, value: 0)   // page 1: code
        space.write(0x8000_1000, size: 4, value: 0)   // mark was cleared by the first write
        _ = space.dma.write(0x8000_1000, bytes: [1])
        XCTAssertEqual(observer.pages, [0x80001])
        XCTAssertFalse(space.isCodePage(0x8000_1000))
    }
}

import Foundation
import XCTest
import Memory

/// `RegionKind.deviceMemory` (a device mmapped into the guest address space, such as a VFIO
/// BAR): reachable by loads and stores with their widths, cached by harts like RAM, but never
/// code, never DMA, and its unmapping asks for a TLB flush. An anonymous mapping stands in for
/// the device.
final class DeviceMemoryTests: XCTestCase {
    private var storage: UnsafeMutableRawPointer!
    private let space = AddressSpace()

    override func setUpWithError() throws {
        let mapped = mmap(nil, 0x2000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        storage = try XCTUnwrap(mapped == MAP_FAILED ? nil : mapped)
        try space.mapRAM(name: "ram", base: 0x8000_0000, size: 0x10000)
    }

    override func tearDown() { munmap(storage, 0x2000) }

    func testLoadsAndStoresReachTheDeviceWithTheirWidths() throws {
        try space.mapDeviceMemory(name: "bar", base: 0x4000_0000, size: 0x2000, storage: storage, owner: self)

        space.write(0x4000_0004, size: 4, value: 0x1_1223_3445)
        space.write(0x4000_1ffe, size: 2, value: 0xabcd)

        XCTAssertEqual(storage.loadUnaligned(fromByteOffset: 4, as: UInt64.self), 0x1223_3445)
        XCTAssertEqual(storage.load(fromByteOffset: 0x1ffe, as: UInt16.self), 0xabcd)
        XCTAssertEqual(space.read(0x4000_0004, size: 2), 0x3445)
        XCTAssertEqual(space.region(containing: 0x4000_0000)?.kind, .deviceMemory)
    }

    func testHartsMayCacheItForLoadsAndStores() throws {
        try space.mapDeviceMemory(name: "bar", base: 0x4000_0000, size: 0x2000, storage: storage, owner: self)
        XCTAssertEqual(space.hostPointer(0x4000_1000, length: 8, forWrite: true), storage + 0x1000)
        XCTAssertEqual(space.hostPointer(0x4000_1000, length: 8, forWrite: false), storage + 0x1000)
    }

    func testItIsNeverCodeNorADMASourceOrTarget() throws {
        try space.mapDeviceMemory(name: "bar", base: 0x4000_0000, size: 0x2000, storage: storage, owner: self)
        XCTAssertFalse(space.markCodePage(0x4000_0000))
        XCTAssertFalse(space.isCodePage(0x4000_0000))
        XCTAssertEqual(space.dma.read(0x4000_0000, count: 4), .failure(DMAError(address: 0x4000_0000, length: 4)))
        guard case .failure(let error) = space.dma.write(0x4000_0000, bytes: [1]) else { return XCTFail("DMA into device memory") }
        XCTAssertEqual(error, DMAError(address: 0x4000_0000, length: 1))
        XCTAssertEqual(storage.load(as: UInt8.self), 0)
    }

    func testUnmappingItAsksForATLBFlush() throws {
        let region = try space.mapDeviceMemory(name: "bar", base: 0x4000_0000, size: 0x2000, storage: storage, owner: self)
        let before = space.ramUnmaps
        space.unmap(region)
        XCTAssertEqual(space.ramUnmaps, before + 1)
        XCTAssertNil(space.read(0x4000_0000, size: 4))
    }
}

import Foundation
import Memory
import XCTest
@testable import PCI

/// A function with direct windows (`PCIFunction.directWindows`, a VFIO BAR's mmap in practice):
/// the host bridge maps the windows as device memory and the rest of the BAR as trapped parts
/// that see BAR offsets; a move maps the parts again and asks for a TLB flush; `remapBARs`
/// follows the function's current windows. Anonymous memory stands in for the device.
final class PCIDirectWindowTests: XCTestCase {
    private final class WindowedFunction: PCIFunction {
        let bus: PCIBusInterface
        var config: PCIConfigSpace { bus.config }
        var windows: [PCIDirectWindow]
        var reads: [UInt64] = []
        init(bus: PCIBusInterface, windows: [PCIDirectWindow]) {
            self.bus = bus
            self.windows = windows
            bus.config.setIdentity(PCIIdentity(vendorID: 0x1234, deviceID: 0x5678, classCode: 0x0780_00))
            bus.config.declareBAR(0, .memory32(size: 0x4000))
        }
        func readBAR(_ bar: Int, offset: UInt64, size: Int) -> UInt64 { reads.append(offset); return 0x5a }
        func writeBAR(_ bar: Int, offset: UInt64, size: Int, value: UInt64) {}
        func directWindows(bar: Int) -> [PCIDirectWindow] { bar == 0 ? windows : [] }
    }

    private final class Squatter: MMIODevice {
        var implementedSizes: AccessSizes { .all }
        func read(offset: UInt64, size: Int) -> UInt64 { 0 }
        func write(offset: UInt64, size: Int, value: UInt64) {}
    }

    private var storage: UnsafeMutableRawPointer!

    override func setUpWithError() throws {
        let mapped = mmap(nil, 0x4000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        storage = try XCTUnwrap(mapped == MAP_FAILED ? nil : mapped)
    }

    override func tearDown() { munmap(storage, 0x4000) }

    private func attach(_ fixture: PCIFixture, windows: [PCIDirectWindow]) throws -> WindowedFunction {
        let function = try fixture.bridge.attach(at: PCIAddress(device: 1)) { WindowedFunction(bus: $0, windows: windows) }
        fixture.configWrite(device: 1, register: 0x10, value: 0x4000_0000)
        fixture.configWrite(device: 1, register: 0x04, size: 2, value: 0x0002)
        return function
    }

    func testTheWindowIsDeviceMemoryAndTheRestTrapsWithBAROffsets() throws {
        let fixture = PCIFixture()
        let function = try attach(fixture, windows: [PCIDirectWindow(offset: 0x1000, size: 0x1000, host: storage + 0x1000)])

        let parts = fixture.bridge.mappedRegions(of: PCIAddress(device: 1), bar: 0)
        XCTAssertEqual(parts.map(\.kind), [.mmio, .deviceMemory, .mmio])
        XCTAssertEqual(parts.map(\.base), [0x4000_0000, 0x4000_1000, 0x4000_2000])
        XCTAssertEqual(parts.map(\.size), [0x1000, 0x1000, 0x2000])
        fixture.space.write(0x4000_1008, size: 4, value: 0x1234_5678)
        XCTAssertEqual(storage.load(fromByteOffset: 0x1008, as: UInt32.self), 0x1234_5678)
        XCTAssertEqual(fixture.space.read(0x4000_2004, size: 4), 0x5a)
        XCTAssertEqual(fixture.space.read(0x4000_0004, size: 4), 0x5a)
        XCTAssertEqual(function.reads, [0x2004, 0x4], "trapped parts see BAR offsets; the window is never trapped")
    }

    func testAWindowThatIsNotWholePagesStaysTrapped() throws {
        let fixture = PCIFixture()
        _ = try attach(fixture, windows: [PCIDirectWindow(offset: 0x1000, size: 0x800, host: storage + 0x1000),
                                          PCIDirectWindow(offset: 0x2000, size: 0x1000, host: storage + 0x2800)])
        XCTAssertEqual(fixture.bridge.mappedRegions(of: PCIAddress(device: 1), bar: 0).map(\.kind), [.mmio])
    }

    func testMovingTheBARMapsThePartsAgainAndAsksForATLBFlush() throws {
        let fixture = PCIFixture()
        _ = try attach(fixture, windows: [PCIDirectWindow(offset: 0, size: 0x4000, host: storage)])
        let before = fixture.space.ramUnmaps

        fixture.configWrite(device: 1, register: 0x10, value: 0x4010_0000)

        XCTAssertEqual(fixture.space.ramUnmaps, before + 1)
        XCTAssertNil(fixture.space.region(containing: 0x4000_0000))
        XCTAssertEqual(fixture.bridge.mappedRegions(of: PCIAddress(device: 1), bar: 0).map(\.base), [0x4010_0000])
    }

    func testRemapBARsFollowsTheFunctionsCurrentWindows() throws {
        let fixture = PCIFixture()
        let function = try attach(fixture, windows: [PCIDirectWindow(offset: 0, size: 0x4000, host: storage)])
        XCTAssertEqual(fixture.bridge.mappedRegions(of: PCIAddress(device: 1), bar: 0).map(\.kind), [.deviceMemory])

        function.windows = []
        function.bus.remapBARs()
        XCTAssertEqual(fixture.bridge.mappedRegions(of: PCIAddress(device: 1), bar: 0).map(\.kind), [.mmio])

        function.windows = [PCIDirectWindow(offset: 0, size: 0x4000, host: storage)]
        function.bus.remapBARs()
        XCTAssertEqual(fixture.bridge.mappedRegions(of: PCIAddress(device: 1), bar: 0).map(\.kind), [.deviceMemory])
    }

    func testAnOverlapMapsNoPartOfTheBAR() throws {
        let fixture = PCIFixture()
        try fixture.space.mapMMIO(name: "squatter", base: 0x4000_3000, size: 0x1000, device: Squatter())
        _ = try attach(fixture, windows: [PCIDirectWindow(offset: 0, size: 0x1000, host: storage)])
        XCTAssertEqual(fixture.bridge.mappedRegions(of: PCIAddress(device: 1), bar: 0).count, 0)
        XCTAssertNil(fixture.space.region(containing: 0x4000_0000))
    }
}

import Memory
import PCI
import XCTest
@testable import Passthrough

/// VFIO BARs mapped into the guest address space (docs/passthrough.md, "BARs"): which pages of
/// a BAR become direct windows, how the host bridge splits the BAR into device memory and
/// trapped MMIO, and the parking of the windows while memory decoding is off. The "device" is
/// VFIOFakeKernel's shared temporary file per BAR, mapped a second time for each window, so a
/// store through a window shows up in the device's bytes only if it went through that mapping.
final class VFIODirectMappingTests: XCTestCase {
    private let address = HostPCIAddress(bus: 0, device: 7, function: 0)
    private static let ecam: UInt64 = 0x3000_0000

    /// The 82574L recording: BAR 0 (128 KiB) and BAR 1 (256 KiB) memory, BAR 2 I/O, BAR 3
    /// (16 KiB) holding the MSI-X table (5 vectors) at 0 and the PBA at 0x2000.
    private func fake(mappable: Set<Int> = [0, 1, 3], sparse: [Int: [Range<UInt64>]] = [:]) throws -> VFIOFakeKernel {
        let recorded = try Recordings.pci("synthetic-82574l")
        return VFIOFakeKernel(config: recorded.config, bars: [0: 0x20000, 1: 0x40000, 2: 0x20, 3: 0x4000],
                              mappable: mappable, sparse: sparse)
    }

    private final class Machine {
        let space = AddressSpace()
        let bridge: PCIHostBridge
        var function: VFIOPCIFunction!
        init() {
            try! space.mapRAM(name: "ram", base: 0x8000_0000, size: 1 << 20)
            bridge = PCIHostBridge(name: "pcie0", space: space, busCount: 1, windows: [
                PCIWindow(space: .io, cpuBase: 0x0300_0000, pciBase: 0, size: 0x10000),
                PCIWindow(space: .memory32, cpuBase: 0x4000_0000, pciBase: 0x4000_0000, size: 0x4000_0000),
            ], intx: [])
            try! space.mapMMIO(name: "pcie0", base: VFIODirectMappingTests.ecam, size: 1 << 20, device: bridge)
        }
        func config(_ register: UInt64, size: Int = 4, _ value: UInt64) {
            space.write(VFIODirectMappingTests.ecam + (1 << 15) + register, size: size, value: value)
        }
        /// BAR 0 at 0x4000_0000, BAR 3 at 0x4010_0000, memory decoding on.
        func enable() {
            config(0x10, 0x4000_0000)
            config(0x1c, 0x4010_0000)
            config(0x04, size: 2, 0x0002)
        }
        func regions(bar: Int) -> [MemoryRegion] { bridge.mappedRegions(of: PCIAddress(device: 1), bar: bar) }
    }

    private func open(_ kernel: VFIOFakeKernel) throws -> Machine {
        let machine = Machine()
        let recorded = try Recordings.pci("synthetic-82574l")
        let snapshot = HostPCISnapshot(address: address, config: recorded.config, resources: recorded.resources,
                                       driver: "vfio-pci", iommuGroup: "7")
        let container = try VFIOContainer(kernel: kernel, vfioPath: "/dev/vfio", for: address)
        let space = machine.space
        machine.function = try machine.bridge.attach(at: PCIAddress(device: 1)) { bus in
            try VFIOPCIFunction(bus: bus, snapshot: snapshot, container: container, memory: space)
        }
        machine.function.report = { XCTFail("unexpected report: \($0)") }
        return machine
    }

    private func ranges(_ windows: [PCIDirectWindow]) -> [Range<UInt64>] { windows.map { $0.offset..<($0.offset + $0.size) } }

    func testAWholeMappableBARIsOneDirectWindow() throws {
        let machine = try open(fake())
        XCTAssertEqual(ranges(machine.function.directWindows(bar: 0)), [0..<0x20000])
        XCTAssertEqual(ranges(machine.function.directWindows(bar: 1)), [0..<0x40000])
    }

    func testThePagesHoldingTheMSIXTableAndPBAAreLeftOutOfTheDirectWindows() throws {
        let machine = try open(fake())
        // Table [0, 0x50) and PBA [0x2000, 0x2008) take their whole pages.
        XCTAssertEqual(ranges(machine.function.directWindows(bar: 3)), [0x1000..<0x2000, 0x3000..<0x4000])
    }

    func testOnlyTheSparseAreasCanBeDirectWindows() throws {
        let machine = try open(fake(sparse: [3: [0x3000..<0x4000]]))
        XCTAssertEqual(ranges(machine.function.directWindows(bar: 3)), [0x3000..<0x4000])
    }

    func testABARThatMayNotBeMappedOrIsReadOnlyHasNoDirectWindow() throws {
        let kernel = try fake(mappable: [1])
        kernel.regions[1]!.writable = false
        let machine = try open(kernel)
        XCTAssertEqual(machine.function.directWindows(bar: 0), [])
        XCTAssertEqual(machine.function.directWindows(bar: 1), [], "a guest store into a read-only mmap would fault the host")
        XCTAssertEqual(machine.function.directWindows(bar: 2), [], "I/O BARs are never mapped")
    }

    func testGuestAccessesToADirectWindowReachTheDeviceWithoutATrap() throws {
        let kernel = try fake()
        let machine = try open(kernel)
        machine.enable()

        XCTAssertEqual(machine.regions(bar: 0).map(\.kind), [.deviceMemory])
        XCTAssertTrue(machine.space.write(0x4000_0010, size: 4, value: 0xcafe_f00d))
        machine.space.write(0x4001_fffe, size: 2, value: 0xbeef)

        XCTAssertEqual(kernel.word(0, 0x10), 0xcafe_f00d)
        XCTAssertEqual(kernel.memory[0]!.load(fromByteOffset: 0x1fffe, as: UInt16.self), 0xbeef)
        XCTAssertEqual(machine.space.read(0x4000_0010, size: 4), 0xcafe_f00d)
        XCTAssertEqual(machine.function.trappedAccesses[0], 0)
        XCTAssertTrue(kernel.preads.allSatisfy { $0.region != 0 } && kernel.pwrites.allSatisfy { $0.region != 0 })
        // Harts may cache it for stores as well as loads; never code, never DMA.
        XCTAssertNotNil(machine.space.hostPointer(0x4000_1000, length: 4, forWrite: true))
        XCTAssertFalse(machine.space.markCodePage(0x4000_1000))
        XCTAssertThrowsError(try machine.space.dma.read(0x4000_0010, count: 4).get())
    }

    func testASplitBARTrapsItsMSIXPagesAndMapsTheRestDirectly() throws {
        let kernel = try fake()
        let machine = try open(kernel)
        machine.enable()
        let msix = try XCTUnwrap(machine.function.msix)

        let parts = machine.regions(bar: 3)
        XCTAssertEqual(parts.map(\.kind), [.mmio, .deviceMemory, .mmio, .deviceMemory])
        XCTAssertEqual(parts.map(\.base), [0x4010_0000, 0x4010_1000, 0x4010_2000, 0x4010_3000])
        XCTAssertEqual(parts.map(\.traceOffset), [0, 0, 0x2000, 0])

        // The table: trapped and emulated, the device's own table untouched.
        machine.space.write(0x4010_0000 + msix.tableOffset, size: 4, value: 0x8000_1000)
        XCTAssertEqual(machine.space.read(0x4010_0000 + msix.tableOffset, size: 4), 0x8000_1000)
        XCTAssertEqual(kernel.word(3, Int(msix.tableOffset)), 0)
        // The PBA's page: trapped, with BAR offsets (the trapped part's own offset added).
        XCTAssertEqual(machine.space.read(0x4010_0000 + msix.pbaOffset, size: 8), 0)
        XCTAssertEqual(machine.function.trappedAccesses[3], 3)
        // A register on a direct page: no trap.
        machine.space.write(0x4010_1004, size: 4, value: 0x1234_5678)
        XCTAssertEqual(kernel.word(3, 0x1004), 0x1234_5678)
        XCTAssertEqual(machine.function.trappedAccesses[3], 3)
    }

    func testTurningMemoryDecodingOffParksTheWindowsAndOnMapsTheDeviceAgain() throws {
        let kernel = try fake()
        let machine = try open(kernel)
        machine.enable()
        let window = try XCTUnwrap(machine.function.directWindows(bar: 0).first)
        kernel.memory[0]!.storeBytes(of: 0x1111_2222, toByteOffset: 0x40, as: UInt32.self)
        let unmapsBefore = machine.space.ramUnmaps

        machine.config(0x04, size: 2, 0x0000)

        XCTAssertTrue(machine.regions(bar: 0).isEmpty)
        XCTAssertGreaterThan(machine.space.ramUnmaps, unmapsBefore, "the machine flushes the harts' TLBs")
        // A hart's stale TLB entry would now reach scratch memory, not the device.
        XCTAssertEqual(window.host.load(fromByteOffset: 0x40, as: UInt32.self), 0)
        window.host.storeBytes(of: 0xdead_beef, toByteOffset: 0x44, as: UInt32.self)
        XCTAssertEqual(kernel.word(0, 0x44), 0)
        XCTAssertEqual(kernel.word(7, 4) & 0x2, 0, "the device stops decoding after the windows are parked")

        machine.config(0x04, size: 2, 0x0002)

        // One call per window (BAR 0, BAR 1, BAR 3's two), at start-up (decoding off) and now.
        XCTAssertEqual(kernel.parks, 8)
        XCTAssertEqual(kernel.remaps, 8)
        XCTAssertEqual(window.host.load(fromByteOffset: 0x40, as: UInt32.self), 0x1111_2222)
        XCTAssertEqual(machine.space.read(0x4000_0040, size: 4), 0x1111_2222)
        XCTAssertEqual(machine.regions(bar: 0).map(\.kind), [.deviceMemory])
    }
}

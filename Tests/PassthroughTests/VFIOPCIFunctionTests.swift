import Memory
import PCI
import XCTest
@testable import Passthrough

/// `VFIOPCIFunction` over the fake VFIO kernel (VFIOFakeKernel.swift), for what the nested
/// machine's real kernel cannot show: BARs that may not be mmapped or only in parts, MSI-X
/// vectors with masking, INTx end-of-interrupt, and the set-up errors. The real kernel path is
/// tested in the nested machine (Tests/GuestTests/VFIOHostTests.swift).
final class VFIOPCIFunctionTests: XCTestCase {
    private var space: AddressSpace?
    private let address = HostPCIAddress(bus: 0, device: 7, function: 0)

    /// The 82574L recording's configuration (MSI, MSI-X in BAR 3 with 5 vectors, an I/O BAR).
    private func fake(mappable: Set<Int> = [], sparse: [Int: [Range<UInt64>]] = [:]) throws -> VFIOFakeKernel {
        let recorded = try Recordings.pci("synthetic-82574l")
        return VFIOFakeKernel(config: recorded.config, bars: [0: 0x20000, 1: 0x40000, 2: 0x20, 3: 0x4000],
                              mappable: mappable, sparse: sparse)
    }

    private func open(_ kernel: VFIOFakeKernel) throws -> (VFIOPCIFunction, PCIBusInterface) {
        let (bus, space) = makeBus()
        self.space = space
        let recorded = try Recordings.pci("synthetic-82574l")
        let snapshot = HostPCISnapshot(address: address, config: recorded.config, resources: recorded.resources,
                                       driver: "vfio-pci", iommuGroup: "7")
        let container = try VFIOContainer(kernel: kernel, vfioPath: "/dev/vfio", for: address)
        let function = try VFIOPCIFunction(bus: bus, snapshot: snapshot, container: container, memory: space)
        function.report = { XCTFail("unexpected report: \($0)") }
        return (function, bus)
    }

    private func openError(_ kernel: VFIOFakeKernel) -> String? {
        do {
            _ = try open(kernel)
            return nil
        } catch {
            return (error as? VFIOError)?.description ?? "\(error)"
        }
    }

    func testGuestRAMIsMappedForDMAAtItsGuestPhysicalAddress() throws {
        let kernel = try fake()
        _ = try open(kernel)
        XCTAssertEqual(kernel.dmaMaps.map(\.iova), [0x8000_0000])
        XCTAssertEqual(kernel.dmaMaps.map(\.size), [1 << 20])
    }

    func testABARThatMayNotBeMappedGoesThroughPreadAndPwrite() throws {
        let kernel = try fake()
        let (function, _) = try open(kernel)
        XCTAssertEqual(function.mappedBytes(bar: 0), 0)
        function.writeBAR(0, offset: 0x10, size: 4, value: 0xcafe_f00d)
        XCTAssertEqual(kernel.word(0, 0x10), 0xcafe_f00d)
        XCTAssertEqual(function.readBAR(0, offset: 0x10, size: 2), 0xf00d)
        XCTAssertTrue(kernel.pwrites.contains { $0.region == 0 && $0.offset == 0x10 && $0.size == 4 })
        XCTAssertTrue(kernel.preads.contains { $0.region == 0 && $0.offset == 0x10 && $0.size == 2 })
    }

    func testOnlyTheSparseAreasOfABARAreMapped() throws {
        // BAR 3 holds the MSI-X table at 0 and the PBA at 0x2000; the kernel lets us map 0x3000-0x4000.
        let kernel = try fake(mappable: [3], sparse: [3: [0x3000..<0x4000]])
        let (function, _) = try open(kernel)
        XCTAssertEqual(function.mappedBytes(bar: 3), 0x1000)
        // Memory decoding on: until then the mapped pages are parked (VFIODirectMappingTests).
        function.config.write(offset: 0x04, size: 2, value: 0x0002)
        function.configWritten(offset: 0x04, size: 2)
        let before = kernel.preads.count
        function.writeBAR(3, offset: 0x3004, size: 4, value: 0x1234_5678)   // mapped: a plain store
        XCTAssertEqual(function.readBAR(3, offset: 0x3004, size: 4), 0x1234_5678)
        XCTAssertEqual(kernel.preads.count, before)
        XCTAssertEqual(kernel.word(3, 0x3004), 0x1234_5678)
        _ = function.readBAR(3, offset: 0x1000, size: 4)                      // outside the area: pread
        XCTAssertEqual(kernel.preads.count, before + 1)
    }

    func testTheMSIXTableIsEmulatedAndNeverReachesTheDevice() throws {
        let kernel = try fake(mappable: [3])
        let (function, _) = try open(kernel)
        let msix = try XCTUnwrap(function.msix)
        XCTAssertEqual(msix.tableBAR, 3)
        function.writeBAR(3, offset: msix.tableOffset, size: 4, value: 0x8000_1000)
        XCTAssertEqual(function.readBAR(3, offset: msix.tableOffset, size: 4), 0x8000_1000)
        XCTAssertEqual(kernel.word(3, Int(msix.tableOffset)), 0, "the device's own table is the kernel's")
    }

    func testTheCommandRegisterEnablesReachTheDevice() throws {
        let kernel = try fake()
        let (function, _) = try open(kernel)
        XCTAssertEqual(kernel.word(7, 4) & 0x7, 0, "memory, I/O and bus master start disabled")
        function.config.write(offset: 0x04, size: 2, value: 0x0006)
        function.configWritten(offset: 0x04, size: 2)
        XCTAssertEqual(kernel.word(7, 4) & 0x7, 0x6)
    }

    func testEnablingMSIXRoutesEveryVectorToAnEventfdAndAFiredVectorBecomesTheGuestsMessage() throws {
        let kernel = try fake()
        let (function, bus) = try open(kernel)
        let msix = try XCTUnwrap(function.msix)
        function.config.write(offset: 0x04, size: 2, value: 0x0006)
        function.configWritten(offset: 0x04, size: 2)
        // Vector 2: message 0x8000_0100 ← 0xabcd, unmasked.
        let entry = msix.tableOffset + 2 * 16
        function.writeBAR(3, offset: entry, size: 4, value: 0x8000_0100)
        function.writeBAR(3, offset: entry + 8, size: 4, value: 0xabcd)
        function.writeBAR(3, offset: entry + 12, size: 4, value: 0)
        function.config.write(offset: msix.offset + 2, size: 2, value: 0x8000)
        function.configWritten(offset: msix.offset + 2, size: 2)
        XCTAssertEqual(kernel.irqSets.last?.index, .msix)
        XCTAssertEqual(kernel.irqSets.last?.fds.count, 5)
        XCTAssertEqual(function.interruptMode, "MSI-X (5 vectors)")
        kernel.fire(2)
        function.poll()
        XCTAssertEqual(space?.read(0x8000_0100, size: 4), 0xabcd)
        _ = bus
    }

    func testAMaskedVectorIsPendingUntilUnmasked() throws {
        let kernel = try fake()
        let (function, _) = try open(kernel)
        let msix = try XCTUnwrap(function.msix)
        function.config.write(offset: 0x04, size: 2, value: 0x0006)
        function.configWritten(offset: 0x04, size: 2)
        function.writeBAR(3, offset: msix.tableOffset, size: 4, value: 0x8000_0200)
        function.writeBAR(3, offset: msix.tableOffset + 8, size: 4, value: 0x55)
        function.config.write(offset: msix.offset + 2, size: 2, value: 0x8000)
        function.configWritten(offset: msix.offset + 2, size: 2)
        kernel.fire(0)
        function.poll()
        XCTAssertEqual(space?.read(0x8000_0200, size: 4), 0, "vector 0 is masked (its reset state)")
        XCTAssertTrue(msix.isPending(0))
        function.writeBAR(3, offset: msix.tableOffset + 12, size: 4, value: 0)
        XCTAssertEqual(space?.read(0x8000_0200, size: 4), 0x55)
    }

    func testINTxIsRaisedWhenTheDeviceFiresAndLoweredAndUnmaskedOnTheNextBARAccess() throws {
        let kernel = try fake()
        let (function, bus) = try open(kernel)
        function.config.write(offset: 0x04, size: 2, value: 0x0006)
        function.configWritten(offset: 0x04, size: 2)
        XCTAssertEqual(function.interruptMode, "INTx")
        kernel.fire(0)
        function.poll()
        XCTAssertTrue(bus.config.status.contains(.interruptStatus))
        XCTAssertEqual(kernel.unmasks, 0)
        _ = function.readBAR(0, offset: 0xc0, size: 4)       // the driver reads its cause register
        XCTAssertFalse(bus.config.status.contains(.interruptStatus))
        XCTAssertEqual(kernel.unmasks, 1)
    }

    func testResetResetsTheDeviceAndDisablesItsInterrupts() throws {
        let kernel = try fake()
        let (function, _) = try open(kernel)
        XCTAssertEqual(kernel.irqSets.last?.index, .intx, "INTx is routed from the start")
        let msix = try XCTUnwrap(function.msix)
        function.config.write(offset: msix.offset + 2, size: 2, value: 0x8000)
        function.configWritten(offset: msix.offset + 2, size: 2)
        let before = kernel.resets
        let sets = kernel.irqSets.count
        function.config.write(offset: msix.offset + 2, size: 2, value: 0)   // what the bus's reset restores
        function.reset()
        XCTAssertEqual(kernel.resets, before + 1)
        XCTAssertEqual(kernel.irqSets[sets...].map(\.index), [.msix, .intx])
        XCTAssertEqual(kernel.irqSets[sets...].map(\.fds.count), [0, 1], "MSI-X disabled, INTx routed again")
    }

    func testErrorsNameTheFunctionAndTheFix() throws {
        var kernel = try fake()
        kernel.files = []
        XCTAssertEqual(openError(kernel), "host PCI function 0000:00:07.0: /dev/vfio/vfio missing: load VFIO (modprobe vfio-pci) on a host booted with its IOMMU on (intel_iommu=on or amd_iommu=on)")
        kernel = try fake()
        kernel.type1 = false
        XCTAssertEqual(openError(kernel), "host PCI function 0000:00:07.0: VFIO offers no type1 IOMMU (no IOMMU enabled?): boot with intel_iommu=on or amd_iommu=on and modprobe vfio_iommu_type1")
        kernel = try fake()
        kernel.version = 1
        XCTAssertEqual(openError(kernel), "host PCI function 0000:00:07.0: the kernel's VFIO API version is 1, Backplane speaks 0")
        kernel = try fake()
        kernel.viable = false
        XCTAssertEqual(openError(kernel), "host PCI function 0000:00:07.0: IOMMU group 7 is not viable: every device in it must be bound to vfio-pci or to no driver")
        kernel = try fake()
        kernel.dmaError = VFIOErrno(ENOMEM)
        XCTAssertEqual(openError(kernel), "host PCI function 0000:00:07.0: mapping guest RAM [0x80000000, 0x80100000) for DMA failed: Cannot allocate memory: raise the locked-memory limit (ulimit -l) or run as root")
        kernel = try fake()
        kernel.files = ["/dev/vfio/vfio"]
        XCTAssertEqual(openError(kernel), "host PCI function 0000:00:07.0: cannot open /dev/vfio/7: No such file or directory: is the function bound to vfio-pci? (see `backplane host pci 0000:00:07.0`)")
    }
}

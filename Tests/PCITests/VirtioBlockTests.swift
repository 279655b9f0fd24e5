import XCTest
import Foundation
import Memory
@testable import PCI
@testable import Virtio
import Storage

/// virtio-blk over the modern PCI transport, driven as a guest driver would, on a fake guest
/// memory and a temporary image file.
final class VirtioBlockTests: XCTestCase {
    private let bar4: UInt64 = 0x4_0000_0000
    private let bar1: UInt64 = 0x4000_0000
    private let ram = PCIFixture.ram
    private var descriptors: UInt64 { ram + 0x1000 }
    private var available: UInt64 { ram + 0x2000 }
    private var used: UInt64 { ram + 0x3000 }
    private var header: UInt64 { ram + 0x10000 }
    private var data: UInt64 { ram + 0x20000 }
    private var statusByte: UInt64 { ram + 0x30000 }
    private var imagePath = ""

    override func setUp() {
        imagePath = FileManager.default.temporaryDirectory.appendingPathComponent("virtio-blk-\(UUID().uuidString).img").path
        // 8 sectors; sector n is filled with byte n + 1.
        let bytes = (0..<8).flatMap { [UInt8](repeating: UInt8($0 + 1), count: 512) }
        _ = FileManager.default.createFile(atPath: imagePath, contents: Data(bytes))
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: imagePath)
    }

    private func makeDisk(readOnly: Bool = false, serial: String = "") throws -> (PCIFixture, VirtioPCIFunction) {
        let fixture = PCIFixture()
        let block = VirtioBlock(image: try DiskImage(path: imagePath, readOnly: readOnly), serial: serial)
        let function = try fixture.bridge.attach(at: PCIAddress(device: 2)) { VirtioPCIFunction(bus: $0, device: block) }
        fixture.configWrite(device: 2, register: 0x14, value: bar1)
        fixture.configWrite(device: 2, register: 0x20, value: bar4 & 0xffff_ffff)
        fixture.configWrite(device: 2, register: 0x24, value: bar4 >> 32)
        fixture.configWrite(device: 2, register: 0x04, size: 2, value: 0x6)
        return (fixture, function)
    }

    private func common(_ fixture: PCIFixture, _ offset: UInt64, size: Int, _ value: UInt64) {
        fixture.space.write(bar4 + offset, size: size, value: value)
    }

    /// The driver's initialisation (virtio 1.2 §3.1.1) with queue 0 of 8 entries.
    private func initialise(_ fixture: PCIFixture, features: UInt64 = VirtioPCI.featureVersion1, descriptorTable: UInt64? = nil) {
        common(fixture, VirtioPCI.Common.deviceStatus, size: 1, 1)
        common(fixture, VirtioPCI.Common.deviceStatus, size: 1, 3)
        common(fixture, VirtioPCI.Common.driverFeatureSelect, size: 4, 0)
        common(fixture, VirtioPCI.Common.driverFeature, size: 4, features & 0xffff_ffff)
        common(fixture, VirtioPCI.Common.driverFeatureSelect, size: 4, 1)
        common(fixture, VirtioPCI.Common.driverFeature, size: 4, features >> 32)
        common(fixture, VirtioPCI.Common.deviceStatus, size: 1, 11)
        common(fixture, VirtioPCI.Common.queueSelect, size: 2, 0)
        common(fixture, VirtioPCI.Common.queueSize, size: 2, 8)
        common(fixture, VirtioPCI.Common.queueDesc, size: 8, descriptorTable ?? descriptors)
        common(fixture, VirtioPCI.Common.queueDriver, size: 8, available)
        common(fixture, VirtioPCI.Common.queueDevice, size: 8, used)
        common(fixture, VirtioPCI.Common.queueEnable, size: 2, 1)
        common(fixture, VirtioPCI.Common.deviceStatus, size: 1, 15)
    }

    private func descriptor(_ fixture: PCIFixture, _ index: UInt64, address: UInt64, length: UInt32, flags: UInt16, next: UInt16) {
        let at = descriptors + 16 * index
        fixture.space.write(at, size: 8, value: address)
        fixture.space.write(at + 8, size: 8, value: UInt64(length) | UInt64(flags) << 32 | UInt64(next) << 48)
    }

    /// Writes a three-descriptor request (header, data, status) at descriptors 0-2, makes it
    /// available and notifies queue 0.
    private func submit(_ fixture: PCIFixture, type: UInt32, sector: UInt64, dataAddress: UInt64? = nil,
                        dataLength: UInt32 = 512, deviceWrites: Bool) {
        fixture.space.write(header, size: 4, value: UInt64(type))
        fixture.space.write(header + 8, size: 8, value: sector)
        fixture.space.write(statusByte, size: 1, value: 0xff)
        descriptor(fixture, 0, address: header, length: 16, flags: 1, next: 1)
        descriptor(fixture, 1, address: dataAddress ?? data, length: dataLength, flags: deviceWrites ? 3 : 1, next: 2)
        descriptor(fixture, 2, address: statusByte, length: 1, flags: 2, next: 0)
        makeAvailable(fixture, head: 0)
    }

    private func makeAvailable(_ fixture: PCIFixture, head: UInt16) {
        let index = fixture.space.read(available + 2, size: 2)!
        fixture.space.write(available + 4 + 2 * (index % 8), size: 2, value: UInt64(head))
        fixture.space.write(available + 2, size: 2, value: index + 1)
        fixture.space.write(bar4 + VirtioPCI.Layout.notify, size: 2, value: 0)
    }

    private func deviceStatus(_ fixture: PCIFixture) -> UInt64? {
        fixture.space.read(bar4 + VirtioPCI.Common.deviceStatus, size: 1)
    }

    // MARK: Transport

    func testVendorCapabilitiesPointIntoBAR4() throws {
        let (_, function) = try makeDisk()

        let vendor = function.config.capabilities().filter { $0.id == PCICapabilityID.vendorSpecific }

        XCTAssertEqual(vendor.map { function.config.load8($0.offset + 3) }, [1, 3, 4, 2, 5])
        XCTAssertEqual(vendor.prefix(4).map { function.config.load8($0.offset + 4) }, [4, 4, 4, 4])
        XCTAssertEqual(vendor.prefix(4).map { function.config.load32($0.offset + 8) }, [0, 0x1000, 0x2000, 0x3000])
        XCTAssertEqual(function.config.load32(vendor[3].offset + 16), 4, "notify_off_multiplier")
        XCTAssertEqual(function.config.read(offset: 0, size: 4), 0x1042_1af4)
    }

    func testPCIConfigurationWindowReachesBAR4() throws {
        let (fixture, function) = try makeDisk()
        let window = try XCTUnwrap(function.config.capabilities().last { $0.id == PCICapabilityID.vendorSpecific }?.offset)
        fixture.configWrite(device: 2, register: UInt64(window + 4), size: 1, value: 4)
        fixture.configWrite(device: 2, register: UInt64(window + 8), value: VirtioPCI.Common.queueSelect)
        fixture.configWrite(device: 2, register: UInt64(window + 12), value: 2)

        fixture.configWrite(device: 2, register: UInt64(window + 16), value: 0x0001)
        fixture.configWrite(device: 2, register: UInt64(window + 8), value: VirtioPCI.Layout.device)
        fixture.configWrite(device: 2, register: UInt64(window + 12), value: 4)

        XCTAssertEqual(fixture.space.read(bar4 + VirtioPCI.Common.queueSelect, size: 2), 1)
        XCTAssertEqual(fixture.configRead(device: 2, register: UInt64(window + 16)), 8, "capacity through the window")
    }

    func testDeviceOffersVersion1FlushSegMaxAndBlockSize() throws {
        let (fixture, _) = try makeDisk()

        common(fixture, VirtioPCI.Common.deviceFeatureSelect, size: 4, 0)
        let low = fixture.space.read(bar4 + VirtioPCI.Common.deviceFeature, size: 4)
        common(fixture, VirtioPCI.Common.deviceFeatureSelect, size: 4, 1)
        let high = fixture.space.read(bar4 + VirtioPCI.Common.deviceFeature, size: 4)

        XCTAssertEqual(low, 1 << 2 | 1 << 6 | 1 << 9)
        XCTAssertEqual(high, 1)
    }

    func testCapacityIsInSectors() throws {
        let (fixture, _) = try makeDisk()

        XCTAssertEqual(fixture.space.read(bar4 + VirtioPCI.Layout.device, size: 4), 8)
        XCTAssertEqual(fixture.space.read(bar4 + VirtioPCI.Layout.device + 20, size: 4), 512)
    }

    func testFeaturesWithoutVersion1AreRefused() throws {
        let (fixture, _) = try makeDisk()

        initialise(fixture, features: VirtioBlock.Feature.flush)

        XCTAssertEqual(deviceStatus(fixture)! & UInt64(VirtioPCI.Status.featuresOK), 0)
    }

    func testQueueVectorBeyondTheTableReadsNoVector() throws {
        let (fixture, _) = try makeDisk()

        common(fixture, VirtioPCI.Common.queueMSIXVector, size: 2, 7)

        XCTAssertEqual(fixture.space.read(bar4 + VirtioPCI.Common.queueMSIXVector, size: 2), 0xffff)
    }

    func testWritingZeroStatusResetsTheDevice() throws {
        let (fixture, _) = try makeDisk()
        initialise(fixture)

        common(fixture, VirtioPCI.Common.deviceStatus, size: 1, 0)

        XCTAssertEqual(deviceStatus(fixture), 0)
        XCTAssertEqual(fixture.space.read(bar4 + VirtioPCI.Common.queueEnable, size: 2), 0)
        XCTAssertEqual(fixture.space.read(bar4 + VirtioPCI.Common.queueSize, size: 2), 256)
    }

    // MARK: Requests

    func testReadReturnsTheSectorAndCompletesWithOK() throws {
        let (fixture, _) = try makeDisk()
        initialise(fixture)

        submit(fixture, type: VirtioBlock.RequestType.read, sector: 3, deviceWrites: true)

        XCTAssertEqual(try fixture.space.dma.read(data, count: 512).get(), [UInt8](repeating: 4, count: 512))
        XCTAssertEqual(fixture.space.read(statusByte, size: 1), 0)
        XCTAssertEqual(fixture.space.read(used + 2, size: 2), 1, "used index")
        XCTAssertEqual(fixture.space.read(used + 4, size: 4), 0, "used id")
        XCTAssertEqual(fixture.space.read(used + 8, size: 4), 513, "used len: data and status")
    }

    func testWriteReachesTheImageFileBeforeCompletion() throws {
        let (fixture, _) = try makeDisk()
        initialise(fixture)
        _ = fixture.space.dma.write(data, bytes: [UInt8](repeating: 0xa5, count: 512))

        submit(fixture, type: VirtioBlock.RequestType.write, sector: 5, deviceWrites: false)

        let file = try Data(contentsOf: URL(fileURLWithPath: imagePath))
        XCTAssertEqual(fixture.space.read(statusByte, size: 1), 0)
        XCTAssertEqual(Array(file[(5 * 512)..<(6 * 512)]), [UInt8](repeating: 0xa5, count: 512))
        XCTAssertEqual(Array(file[(4 * 512)..<(5 * 512)]), [UInt8](repeating: 5, count: 512))
    }

    func testFlushCompletesWithOK() throws {
        let (fixture, _) = try makeDisk()
        initialise(fixture)
        fixture.space.write(header, size: 4, value: UInt64(VirtioBlock.RequestType.flush))
        descriptor(fixture, 0, address: header, length: 16, flags: 1, next: 1)
        descriptor(fixture, 1, address: statusByte, length: 1, flags: 2, next: 0)
        fixture.space.write(statusByte, size: 1, value: 0xff)

        makeAvailable(fixture, head: 0)

        XCTAssertEqual(fixture.space.read(statusByte, size: 1), 0)
    }

    func testGetIDReturnsTheSerial() throws {
        let (fixture, _) = try makeDisk(serial: "backplane-disk")
        initialise(fixture)

        submit(fixture, type: VirtioBlock.RequestType.getID, sector: 0, dataLength: 20, deviceWrites: true)

        XCTAssertEqual(try fixture.space.dma.read(data, count: 15).get(), Array("backplane-disk".utf8) + [0])
        XCTAssertEqual(fixture.space.read(statusByte, size: 1), 0)
    }

    func testReadPastTheEndIsAnIOError() throws {
        let (fixture, _) = try makeDisk()
        initialise(fixture)

        submit(fixture, type: VirtioBlock.RequestType.read, sector: 8, deviceWrites: true)

        XCTAssertEqual(fixture.space.read(statusByte, size: 1), UInt64(VirtioBlock.Status.ioError))
    }

    func testPartialSectorIsAnIOError() throws {
        let (fixture, _) = try makeDisk()
        initialise(fixture)

        submit(fixture, type: VirtioBlock.RequestType.read, sector: 0, dataLength: 100, deviceWrites: true)

        XCTAssertEqual(fixture.space.read(statusByte, size: 1), UInt64(VirtioBlock.Status.ioError))
    }

    func testOversizedRequestIsAnIOError() throws {
        let (fixture, _) = try makeDisk()
        initialise(fixture)

        submit(fixture, type: VirtioBlock.RequestType.read, sector: 0, dataLength: 64 << 20, deviceWrites: true)

        XCTAssertEqual(fixture.space.read(statusByte, size: 1), UInt64(VirtioBlock.Status.ioError))
    }

    func testDataBufferOutsideRAMIsAnIOErrorWithMasterAbort() throws {
        let (fixture, function) = try makeDisk()
        initialise(fixture)

        submit(fixture, type: VirtioBlock.RequestType.read, sector: 0, dataAddress: 0x1000, deviceWrites: true)

        XCTAssertEqual(fixture.space.read(statusByte, size: 1), UInt64(VirtioBlock.Status.ioError))
        XCTAssertTrue(function.config.status.contains(.receivedMasterAbort))
    }

    func testDataBufferAtTheTopOfTheAddressSpaceIsAnIOError() throws {
        let (fixture, _) = try makeDisk()
        initialise(fixture)

        submit(fixture, type: VirtioBlock.RequestType.read, sector: 0, dataAddress: UInt64.max - 100, deviceWrites: true)

        XCTAssertEqual(fixture.space.read(statusByte, size: 1), UInt64(VirtioBlock.Status.ioError))
    }

    func testRingsAtTheTopOfTheAddressSpaceMakeTheDeviceNeedReset() throws {
        let (fixture, _) = try makeDisk()
        initialise(fixture, descriptorTable: UInt64.max - 8)

        makeAvailable(fixture, head: 7)

        XCTAssertEqual(deviceStatus(fixture)! & UInt64(VirtioPCI.Status.needsReset), UInt64(VirtioPCI.Status.needsReset))
    }

    func testWriteToReadOnlyDiskIsAnIOError() throws {
        let (fixture, _) = try makeDisk(readOnly: true)
        initialise(fixture, features: VirtioPCI.featureVersion1 | VirtioBlock.Feature.readOnly)

        submit(fixture, type: VirtioBlock.RequestType.write, sector: 0, deviceWrites: false)

        XCTAssertEqual(fixture.space.read(statusByte, size: 1), UInt64(VirtioBlock.Status.ioError))
        let file = try Data(contentsOf: URL(fileURLWithPath: imagePath))
        XCTAssertEqual(file[0], 1)
    }

    func testUnknownRequestTypeIsUnsupported() throws {
        let (fixture, _) = try makeDisk()
        initialise(fixture)

        submit(fixture, type: 99, sector: 0, deviceWrites: true)

        XCTAssertEqual(fixture.space.read(statusByte, size: 1), UInt64(VirtioBlock.Status.unsupported))
    }

    func testLoopingDescriptorChainMakesTheDeviceNeedReset() throws {
        let (fixture, _) = try makeDisk()
        initialise(fixture)
        descriptor(fixture, 0, address: header, length: 16, flags: 1, next: 1)
        descriptor(fixture, 1, address: data, length: 512, flags: 3, next: 0)

        makeAvailable(fixture, head: 0)

        XCTAssertEqual(deviceStatus(fixture), 15 | UInt64(VirtioPCI.Status.needsReset))
        XCTAssertEqual(fixture.space.read(used + 2, size: 2), 0)
    }

    func testChainLongerThanTheQueueMakesTheDeviceNeedReset() throws {
        let (fixture, _) = try makeDisk()
        initialise(fixture)
        // Eight descriptors chained in order, the last pointing at the first again: a chain
        // can hold at most queue-size descriptors (virtio 1.2 §2.7.5.3.1), so the walk stops there.
        for index in 0..<8 { descriptor(fixture, UInt64(index), address: data, length: 16, flags: 3, next: UInt16((index + 1) % 8)) }

        makeAvailable(fixture, head: 3)

        XCTAssertEqual(deviceStatus(fixture), 15 | UInt64(VirtioPCI.Status.needsReset))
        XCTAssertEqual(fixture.space.read(used + 2, size: 2), 0, "nothing was completed")
    }

    func testIndirectDescriptorWhichWasNotOfferedMakesTheDeviceNeedReset() throws {
        let (fixture, _) = try makeDisk()
        initialise(fixture)
        // VIRTQ_DESC_F_INDIRECT (4) naming a table of 0x10000 descriptors that point at themselves.
        descriptor(fixture, 0, address: descriptors, length: 0x10_0000, flags: 4, next: 0)

        makeAvailable(fixture, head: 0)

        XCTAssertEqual(deviceStatus(fixture), 15 | UInt64(VirtioPCI.Status.needsReset))
    }

    func testDescriptorIndexOutsideTheQueueMakesTheDeviceNeedReset() throws {
        let (fixture, _) = try makeDisk()
        initialise(fixture)
        descriptor(fixture, 0, address: header, length: 16, flags: 1, next: 200)

        makeAvailable(fixture, head: 0)

        XCTAssertEqual(deviceStatus(fixture)! & UInt64(VirtioPCI.Status.needsReset), UInt64(VirtioPCI.Status.needsReset))
    }

    func testDescriptorTableOutsideRAMMakesTheDeviceNeedReset() throws {
        let (fixture, _) = try makeDisk()
        initialise(fixture, descriptorTable: 0x10)

        makeAvailable(fixture, head: 0)

        XCTAssertEqual(deviceStatus(fixture)! & UInt64(VirtioPCI.Status.needsReset), UInt64(VirtioPCI.Status.needsReset))
    }

    func testChainWithoutWritableStatusMakesTheDeviceNeedReset() throws {
        let (fixture, _) = try makeDisk()
        initialise(fixture)
        descriptor(fixture, 0, address: header, length: 16, flags: 0, next: 0)

        makeAvailable(fixture, head: 0)

        XCTAssertEqual(deviceStatus(fixture)! & UInt64(VirtioPCI.Status.needsReset), UInt64(VirtioPCI.Status.needsReset))
    }

    func testHeaderSplitAcrossDescriptorsIsUnderstood() throws {
        let (fixture, _) = try makeDisk()
        initialise(fixture)
        fixture.space.write(header, size: 4, value: UInt64(VirtioBlock.RequestType.read))
        fixture.space.write(header + 8, size: 8, value: 1)
        descriptor(fixture, 0, address: header, length: 8, flags: 1, next: 1)
        descriptor(fixture, 1, address: header + 8, length: 8, flags: 1, next: 2)
        descriptor(fixture, 2, address: data, length: 513, flags: 2, next: 0)

        makeAvailable(fixture, head: 0)

        XCTAssertEqual(try fixture.space.dma.read(data, count: 513).get(), [UInt8](repeating: 2, count: 512) + [0])
    }

    // MARK: Interrupts

    func testCompletionWithoutMSIXRaisesINTxAndISRReadClearsIt() throws {
        let (fixture, _) = try makeDisk()
        initialise(fixture)

        submit(fixture, type: VirtioBlock.RequestType.read, sector: 0, deviceWrites: true)
        let raised = fixture.controller.levels[34]
        let isr = fixture.space.read(bar4 + VirtioPCI.Layout.isr, size: 1)

        XCTAssertEqual(raised, true, "INTA of slot 2")
        XCTAssertEqual(isr, 1)
        XCTAssertEqual(fixture.controller.levels[34], false)
        XCTAssertEqual(fixture.space.read(bar4 + VirtioPCI.Layout.isr, size: 1), 0)
    }

    func testCompletionWithMSIXSendsTheQueueVector() throws {
        let (fixture, function) = try makeDisk()
        fixture.space.write(bar1 + 16, size: 4, value: ram + 0x800)
        fixture.space.write(bar1 + 24, size: 4, value: 0x31)
        fixture.space.write(bar1 + 28, size: 4, value: 0)
        fixture.configWrite(device: 2, register: UInt64(function.msix.offset + 2), size: 2, value: 0x8000)
        initialise(fixture)
        common(fixture, VirtioPCI.Common.queueMSIXVector, size: 2, 1)

        submit(fixture, type: VirtioBlock.RequestType.read, sector: 0, deviceWrites: true)

        XCTAssertEqual(fixture.space.read(ram + 0x800, size: 4), 0x31)
        XCTAssertNil(fixture.controller.levels[34])
    }
}

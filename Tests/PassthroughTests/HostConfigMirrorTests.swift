import Memory
import PCI
import XCTest
@testable import Passthrough

/// Mirroring recorded sysfs configuration spaces (Recordings/pci) into an emulated one.
final class HostConfigMirrorTests: XCTestCase {
    /// Bus interfaces hold their address space unowned: keep it for the test's length.
    private var space: AddressSpace?

    private func mirror(_ name: String) throws -> (HostPCIFunction, HostPCISnapshot, PCIBusInterface) {
        let snapshot = try Recordings.pci(name)
        let (bus, space) = makeBus()
        self.space = space
        let function = try HostPCIFunction(bus: bus, snapshot: snapshot)
        return (function, snapshot, bus)
    }

    private func hostWord(_ snapshot: HostPCISnapshot, _ offset: Int, size: Int) -> UInt32 {
        (0..<size).reduce(0) { $0 | UInt32(snapshot.config[offset + $1]) << (8 * $1) }
    }

    func testIdentityRegistersEqualTheHostBytes() throws {
        for name in ["firecracker-0000-00-03-0", "firecracker-0000-00-02-0", "synthetic-82574l"] {
            let (function, snapshot, _) = try mirror(name)
            // Vendor, device; revision and class; subsystem vendor and ID; interrupt pin.
            for (offset, size) in [(0x00, 4), (0x08, 4), (0x2c, 4), (0x3d, 1)] {
                XCTAssertEqual(function.readConfig(offset: offset, size: size), hostWord(snapshot, offset, size: size),
                               "\(name) at 0x\(String(offset, radix: 16))")
            }
        }
    }

    func testCommandRegisterStartsClearedWhateverTheHostHas() throws {
        let (function, snapshot, _) = try mirror("synthetic-82574l")
        XCTAssertEqual(hostWord(snapshot, 0x04, size: 2), 0x0407)
        XCTAssertEqual(function.config.read(offset: 0x04, size: 2), 0)
        function.config.write(offset: 0x04, size: 2, value: 0x0006)
        XCTAssertEqual(function.config.command, [.memorySpace, .busMaster])
    }

    func testBARSizesComeFromTheResourceFile() throws {
        let (function, snapshot, _) = try mirror("synthetic-82574l")
        for index in 0..<4 {
            let offset = 0x10 + 4 * index
            function.config.write(offset: offset, size: 4, value: 0xffff_ffff)
            let read = function.config.read(offset: offset, size: 4)
            let size = snapshot.resources[index].size
            let typeBits: UInt32 = snapshot.resources[index].isIO ? 0x1 : 0x0
            XCTAssertEqual(read, UInt32(truncatingIfNeeded: ~(size - 1)) & (snapshot.resources[index].isIO ? 0xffff_fffc : 0xffff_fff0) | typeBits,
                           "BAR \(index)")
        }
        XCTAssertNil(function.config.bars[4])
    }

    func testA64BitBARTakesTwoRegisters() throws {
        let (function, snapshot, _) = try mirror("firecracker-0000-00-03-0")
        XCTAssertEqual(function.config.bars[0], .memory64(size: snapshot.resources[0].size))
        function.config.write(offset: 0x14, size: 4, value: 0xffff_ffff)
        XCTAssertEqual(function.config.read(offset: 0x14, size: 4), 0xffff_ffff, "upper half of a 0x80000-byte BAR is all address")
    }

    func testCapabilityListKeepsHostOrderAndContents() throws {
        let (function, snapshot, _) = try mirror("firecracker-0000-00-03-0")
        let host = HostConfigMirror.hostCapabilities(snapshot.config)
        let mirrored = function.config.capabilities()
        XCTAssertEqual(mirrored.map(\.id), host.map(\.id))
        // Virtio's vendor-specific capabilities (cfg_type, BAR, offset, length) byte for byte.
        for (hostCap, ours) in zip(host, mirrored) where hostCap.id == PCICapabilityID.vendorSpecific {
            let length = Int(snapshot.config[hostCap.offset + 2])
            let hostBytes = Array(snapshot.config[(hostCap.offset + 2)..<(hostCap.offset + length)])
            let ourBytes = (2..<length).map { function.config.load8(ours.offset + $0) }
            XCTAssertEqual(ourBytes, hostBytes, "capability at host offset 0x\(String(hostCap.offset, radix: 16))")
        }
    }

    func testCapabilityListInAnOrderDifferentFromItsLayout() throws {
        let (function, snapshot, _) = try mirror("synthetic-82574l")
        XCTAssertEqual(HostConfigMirror.hostCapabilities(snapshot.config).map(\.offset), [0xc8, 0xd0, 0xe0, 0xa0])
        XCTAssertEqual(function.config.capabilities().map(\.id),
                       [PCICapabilityID.powerManagement, PCICapabilityID.msi, PCICapabilityID.pciExpress, PCICapabilityID.msix])
        XCTAssertTrue(function.droppedCapabilities.isEmpty, "\(function.droppedCapabilities)")
    }

    func testMSIXTableStaysWhereTheHostHasIt() throws {
        let (function, snapshot, _) = try mirror("firecracker-0000-00-03-0")
        let hostOffset = try XCTUnwrap(HostConfigMirror.hostCapabilities(snapshot.config).first { $0.id == PCICapabilityID.msix }?.offset)
        let ours = try XCTUnwrap(function.config.findCapability(PCICapabilityID.msix))
        XCTAssertEqual(function.config.read(offset: ours + 2, size: 2) & 0x7ff, hostWord(snapshot, hostOffset + 2, size: 2) & 0x7ff, "table size")
        XCTAssertEqual(function.config.read(offset: ours + 4, size: 4), hostWord(snapshot, hostOffset + 4, size: 4), "table BAR and offset")
        XCTAssertEqual(function.config.read(offset: ours + 8, size: 4), hostWord(snapshot, hostOffset + 8, size: 4), "PBA BAR and offset")
    }

    func testMSIXStateIsEmulatedAndStartsDisabled() throws {
        let (function, snapshot, _) = try mirror("firecracker-0000-00-03-0")
        let hostOffset = try XCTUnwrap(HostConfigMirror.hostCapabilities(snapshot.config).first { $0.id == PCICapabilityID.msix }?.offset)
        XCTAssertNotEqual(hostWord(snapshot, hostOffset + 2, size: 2) & 0x8000, 0, "the host driver has MSI-X enabled")
        let msix = try XCTUnwrap(function.msix)
        XCTAssertFalse(msix.isEnabled)
        function.config.write(offset: msix.offset + 2, size: 2, value: 0x8000)
        XCTAssertTrue(msix.isEnabled)
    }

    func testMSIXTableAccessesAreAnsweredByTheEmulation() throws {
        let (function, _, _) = try mirror("firecracker-0000-00-03-0")
        let msix = try XCTUnwrap(function.msix)
        function.writeBAR(msix.tableBAR, offset: msix.tableOffset + 8, size: 4, value: 0x1234)
        XCTAssertEqual(function.readBAR(msix.tableBAR, offset: msix.tableOffset + 8, size: 4), 0x1234)
        XCTAssertEqual(function.readBAR(msix.tableBAR, offset: msix.tableOffset + 12, size: 4), 1, "vector control: masked at reset")
    }

    func testMSIKeepsTheHostLayoutAndSendsMessages() throws {
        let (function, _, bus) = try mirror("synthetic-82574l")
        let msi = try XCTUnwrap(function.msi)
        XCTAssertTrue(msi.is64Bit)
        XCTAssertFalse(msi.perVectorMasking)
        XCTAssertEqual(msi.vectors, 1)
        function.config.write(offset: 0x04, size: 2, value: UInt32(PCICommand.busMaster.rawValue))
        function.config.write(offset: msi.offset + 4, size: 4, value: 0x8000_0100)
        function.config.write(offset: msi.offset + 12, size: 2, value: 0x2a)
        function.config.write(offset: msi.offset + 2, size: 2, value: 1)
        msi.signal(vector: 0)
        XCTAssertEqual(bus.dmaRead(0x8000_0100, count: 4).map { $0 }, .success([0x2a, 0, 0, 0]))
    }

    func testBARsWithoutBarAccessReadZeroAndDropWrites() throws {
        let (function, _, _) = try mirror("synthetic-82574l")
        XCTAssertFalse(function.isForwarded(bar: 0))
        function.writeBAR(0, offset: 0x10, size: 4, value: 0xdead_beef)
        XCTAssertEqual(function.readBAR(0, offset: 0x10, size: 4), 0)
        XCTAssertEqual(function.readBAR(2, offset: 0, size: 1), 0)
    }

    func testPowerManagementStateIsWritableInTheMirror() throws {
        let (function, _, _) = try mirror("synthetic-82574l")
        let pm = try XCTUnwrap(function.config.findCapability(PCICapabilityID.powerManagement))
        function.config.write(offset: pm + 4, size: 2, value: 0x3)
        XCTAssertEqual(function.config.read(offset: pm + 4, size: 2) & 0x3, 0x3)
    }

    func testHostBridgeWithoutCapabilitiesOrBARs() throws {
        let (function, snapshot, _) = try mirror("firecracker-0000-00-00-0")
        XCTAssertEqual(function.config.read(offset: 0x09, size: 4) & 0xff_ffff, snapshot.classCode)
        XCTAssertTrue(function.config.capabilities().isEmpty)
        XCTAssertTrue(function.config.bars.allSatisfy { $0 == nil })
    }

    func testBridgeHeaderIsRefused() throws {
        let recorded = try Recordings.pci("synthetic-82574l")
        var config = recorded.config
        config[0x0e] = 0x01
        let snapshot = HostPCISnapshot(address: recorded.address, config: config, resources: recorded.resources, driver: nil)
        XCTAssertThrowsError(try HostPCIFunction(bus: makeBus().0, snapshot: snapshot)) { error in
            XCTAssertEqual("\(error)", "host PCI function 0000:00:07.0 has header type 1 (a bridge); only type 0 endpoints can be mirrored")
        }
    }

    func testUnprivilegedConfigMirrorsTheHeaderWithoutCapabilities() throws {
        let recorded = try Recordings.pci("firecracker-0000-00-03-0")
        let snapshot = HostPCISnapshot(address: recorded.address, config: Array(recorded.config.prefix(64)),
                                       resources: recorded.resources, driver: recorded.driver)
        let function = try HostPCIFunction(bus: makeBus().0, snapshot: snapshot)
        XCTAssertEqual(function.config.read(offset: 0, size: 4), hostWord(recorded, 0, size: 4))
        XCTAssertTrue(function.config.capabilities().isEmpty)
    }

    func testANonPowerOfTwoBARIsRefused() throws {
        let recorded = try Recordings.pci("synthetic-82574l")
        var resources = recorded.resources
        resources[1] = HostPCIResource(start: 0xfeb8_0000, end: 0xfeb8_0000 + 0x3000 - 1, flags: 0x40200)
        let snapshot = HostPCISnapshot(address: recorded.address, config: recorded.config, resources: resources, driver: nil)
        XCTAssertThrowsError(try HostPCIFunction(bus: makeBus().0, snapshot: snapshot)) { error in
            XCTAssertEqual("\(error)", "BAR 1 of host PCI function 0000:00:07.0 (0x3000 bytes) cannot be emulated: not a power of two")
        }
    }
}

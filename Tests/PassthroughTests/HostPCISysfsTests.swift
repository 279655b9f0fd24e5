import Foundation
import Memory
import PCI
import XCTest
@testable import Passthrough

/// Reading functions from sysfs, BAR access and its refusals: on a fake tree (deterministic) and
/// on this machine's real functions.
final class HostPCISysfsTests: XCTestCase {
    private var space: AddressSpace?

    private func bus() -> PCIBusInterface {
        let (bus, space) = makeBus()
        self.space = space
        return bus
    }

    // MARK: Addresses

    func testAddressParsesTheSysfsAndLspciForms() {
        XCTAssertEqual(HostPCIAddress("0000:00:03.0"), HostPCIAddress(bus: 0, device: 3, function: 0))
        XCTAssertEqual(HostPCIAddress("10000:3a:1f.7"), HostPCIAddress(domain: 0x10000, bus: 0x3a, device: 0x1f, function: 7))
        XCTAssertEqual(HostPCIAddress("00:02.1"), HostPCIAddress(bus: 0, device: 2, function: 1))
        XCTAssertEqual(HostPCIAddress(domain: 0x10000, bus: 0x3a, device: 0x1f, function: 7).description, "10000:3a:1f.7")
    }

    func testAddressRejectsOutOfRangeDeviceAndFunction() {
        XCTAssertNil(HostPCIAddress("0000:00:20.0"))
        XCTAssertNil(HostPCIAddress("0000:00:03.8"))
        XCTAssertNil(HostPCIAddress("0000:00:3.0"))
        XCTAssertNil(HostPCIAddress("pcie0/03.0"))
    }

    func testResourceLinesParse() {
        let resources = HostPCIResource.parse("0x0000004000100000 0x000000400017ffff 0x0000000000140204\n0x0000000000000000 0x0000000000000000 0x0000000000000000\n")
        XCTAssertEqual(resources.map(\.size), [0x80000, 0])
        XCTAssertFalse(resources[0].isIO)
    }

    // MARK: Fake tree

    func testSnapshotReadsConfigResourcesAndDriver() throws {
        let fake = try FakeSysfs()
        let recorded = try Recordings.pci("synthetic-82574l")
        try fake.add(recorded, driver: "e1000e")
        let snapshot = try fake.sysfs.snapshot(of: recorded.address)
        XCTAssertEqual(snapshot.config, recorded.config)
        XCTAssertEqual(snapshot.resources.prefix(4), recorded.resources.prefix(4))
        XCTAssertEqual(snapshot.driver, "e1000e")
        XCTAssertEqual(fake.sysfs.addresses(), [recorded.address])
    }

    func testMissingFunctionIsReported() throws {
        let fake = try FakeSysfs()
        let address = HostPCIAddress(bus: 0, device: 9, function: 0)
        XCTAssertThrowsError(try fake.sysfs.snapshot(of: address)) { error in
            XCTAssertEqual("\(error)", "host PCI function 0000:00:09.0 not found in \(fake.sysfs.devicesPath) (see `backplane host pci`)")
        }
    }

    func testBARAccessToADriverBoundFunctionIsRefused() throws {
        let fake = try FakeSysfs()
        try fake.add(try Recordings.pci("synthetic-82574l"), driver: "e1000e", resourceFiles: true)
        let snapshot = try fake.sysfs.snapshot(of: HostPCIAddress(bus: 0, device: 7, function: 0))
        XCTAssertThrowsError(try HostPCIFunction(bus: bus(), snapshot: snapshot, options: HostPCIOptions(bars: true), sysfs: fake.sysfs)) { error in
            XCTAssertEqual("\(error)", "host PCI function 0000:00:07.0 is bound to host driver 'e1000e'; BAR access ('bars: true') would race it: unbind it first (echo 0000:00:07.0 > /sys/bus/pci/drivers/e1000e/unbind) or set 'force: true'")
        }
    }

    func testMissingResourceFileIsRefused() throws {
        let fake = try FakeSysfs()
        try fake.add(try Recordings.pci("synthetic-82574l"))
        let snapshot = try fake.sysfs.snapshot(of: HostPCIAddress(bus: 0, device: 7, function: 0))
        XCTAssertThrowsError(try HostPCIFunction(bus: bus(), snapshot: snapshot, options: HostPCIOptions(bars: true), sysfs: fake.sysfs)) { error in
            XCTAssertEqual("\(error)", "BAR 0 of host PCI function 0000:00:07.0 cannot be accessed: the kernel exposes no \(fake.sysfs.devicesPath)/0000:00:07.0/resource0")
        }
    }

    func testForcedBARAccessReadsTheResourceFile() throws {
        let fake = try FakeSysfs()
        let folder = try fake.add(try Recordings.pci("synthetic-82574l"), driver: "e1000e", resourceFiles: true)
        let handle = try FileHandle(forWritingTo: folder.appendingPathComponent("resource0"))
        try handle.seek(toOffset: 0x8)
        handle.write(Data([0x78, 0x56, 0x34, 0x12]))
        try handle.close()
        let snapshot = try fake.sysfs.snapshot(of: HostPCIAddress(bus: 0, device: 7, function: 0))
        let function = try HostPCIFunction(bus: bus(), snapshot: snapshot, options: HostPCIOptions(bars: true, force: true), sysfs: fake.sysfs)
        XCTAssertTrue(function.isForwarded(bar: 0))
        XCTAssertEqual(function.readBAR(0, offset: 0x8, size: 4), 0x1234_5678)
        XCTAssertEqual(function.readBAR(0, offset: 0xa, size: 2), 0x1234)
    }

    func testBARWritesAreDroppedUnlessWritable() throws {
        let fake = try FakeSysfs()
        let folder = try fake.add(try Recordings.pci("synthetic-82574l"), resourceFiles: true)
        let snapshot = try fake.sysfs.snapshot(of: HostPCIAddress(bus: 0, device: 7, function: 0))
        let readOnly = try HostPCIFunction(bus: bus(), snapshot: snapshot, options: HostPCIOptions(bars: true), sysfs: fake.sysfs)
        readOnly.writeBAR(0, offset: 0x10, size: 4, value: 0xcafe_f00d)
        readOnly.writeBAR(2, offset: 0x4, size: 2, value: 0xbeef)
        let file = try Data(contentsOf: folder.appendingPathComponent("resource0"))
        XCTAssertEqual(Array(file[0x10..<0x14]), [0, 0, 0, 0])
        XCTAssertEqual(readOnly.readBAR(2, offset: 0x4, size: 2), 0)
    }

    func testWritableBARWritesReachTheResourceFile() throws {
        let fake = try FakeSysfs()
        let folder = try fake.add(try Recordings.pci("synthetic-82574l"), resourceFiles: true)
        let snapshot = try fake.sysfs.snapshot(of: HostPCIAddress(bus: 0, device: 7, function: 0))
        let function = try HostPCIFunction(bus: bus(), snapshot: snapshot, options: HostPCIOptions(bars: true, writable: true),
                                           sysfs: fake.sysfs)
        function.writeBAR(0, offset: 0x10, size: 4, value: 0xcafe_f00d)
        function.writeBAR(2, offset: 0x4, size: 2, value: 0xbeef)   // the I/O BAR: pwrite
        XCTAssertEqual(Array(try Data(contentsOf: folder.appendingPathComponent("resource0"))[0x10..<0x14]), [0x0d, 0xf0, 0xfe, 0xca])
        XCTAssertEqual(function.readBAR(2, offset: 0x4, size: 2), 0xbeef)
    }

    func testVFIOIsReportedMissingWithoutDevVFIO() throws {
        let fake = try FakeSysfs()
        let snapshot = try Recordings.pci("synthetic-82574l")
        XCTAssertEqual(fake.sysfs.vfioProblem(snapshot), "\(fake.sysfs.vfioPath)/vfio missing (modprobe vfio-pci; needs an IOMMU)")
    }

    func testVFIOIsPossibleForAVFIOBoundFunctionInAGroup() throws {
        let fake = try FakeSysfs()
        try FileManager.default.createDirectory(atPath: fake.sysfs.vfioPath, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: fake.sysfs.vfioPath + "/vfio", contents: nil)
        FileManager.default.createFile(atPath: fake.sysfs.vfioPath + "/12", contents: nil)
        let recorded = try Recordings.pci("synthetic-82574l")
        let snapshot = HostPCISnapshot(address: recorded.address, config: recorded.config, resources: recorded.resources,
                                       driver: "vfio-pci", iommuGroup: "12")
        XCTAssertNil(fake.sysfs.vfioProblem(snapshot))
        let bound = HostPCISnapshot(address: recorded.address, config: recorded.config, resources: recorded.resources,
                                    driver: "e1000e", iommuGroup: "12")
        XCTAssertEqual(fake.sysfs.vfioProblem(bound), "IOMMU group 12 but bound to 'e1000e', not vfio-pci")
    }

    func testListingSaysWhyBARAccessIsNotPossible() throws {
        let fake = try FakeSysfs()
        let recorded = try Recordings.pci("synthetic-82574l")
        try fake.add(recorded, driver: "e1000e", resourceFiles: true)
        let listing = HostPCIListing.all(sysfs: fake.sysfs, useLibPCI: false)
        XCTAssertEqual(listing.map(\.text), ["""
            0000:00:07.0  8086:10d3  class 020000
                driver: e1000e   iommu group: none
                BAR 0: 32-bit memory, 0x20000 bytes
                BAR 1: 32-bit memory, 0x40000 bytes
                BAR 2: I/O, 0x20 bytes
                BAR 3: 32-bit memory, 0x4000 bytes
                mirror (pci.host): yes
                BAR access (bars: true): no: bound to host driver 'e1000e' (unbind it, or 'force: true')
                full passthrough (VFIO, vfio: true): no: \(fake.sysfs.vfioPath)/vfio missing (modprobe vfio-pci; needs an IOMMU)
            """])
    }

    // MARK: This machine

    /// Functions of this host, or a skip saying there are none.
    private func hostFunctions() throws -> [HostPCIAddress] {
        let addresses = HostPCISysfs().addresses()
        if addresses.isEmpty { throw XCTSkip("this host has no PCI functions in /sys/bus/pci/devices") }
        return addresses
    }

    /// sysfs's own `vendor`, `device` and `class` files (a second source) against the mirror.
    func testEveryHostFunctionMirrorsItsIDsAndClass() throws {
        let sysfs = HostPCISysfs()
        for address in try hostFunctions() {
            let snapshot = try sysfs.snapshot(of: address)
            guard snapshot.headerType == 0 else { continue }
            func number(_ file: String) throws -> UInt32 {
                let text = try String(contentsOfFile: sysfs.path(of: address, file), encoding: .utf8)
                return try XCTUnwrap(UInt32(text.trimmingCharacters(in: .whitespacesAndNewlines).dropFirst(2), radix: 16))
            }
            let function = try HostPCIFunction(bus: bus(), snapshot: snapshot)
            XCTAssertEqual(function.config.load16(0x00), UInt16(try number("vendor")), "\(address)")
            XCTAssertEqual(function.config.load16(0x02), UInt16(try number("device")), "\(address)")
            XCTAssertEqual(function.config.load32(0x08) >> 8, try number("class"), "\(address)")
        }
    }

    func testLibPCISeesTheSameFunctionsAsSysfs() throws {
        let expected = try hostFunctions()
        let entries = try LibPCI.scan()
        XCTAssertEqual(entries.map(\.address), expected)
        for entry in entries {
            let snapshot = try HostPCISysfs().snapshot(of: entry.address)
            XCTAssertEqual(entry.vendorID, snapshot.vendorID)
            XCTAssertEqual(entry.deviceID, snapshot.deviceID)
            XCTAssertEqual(entry.classCode, snapshot.classCode)
        }
    }

    func testBARAccessToADriverBoundHostFunctionIsRefused() throws {
        let sysfs = HostPCISysfs()
        let bound = try hostFunctions().compactMap { try? sysfs.snapshot(of: $0) }.first { $0.driver != nil && $0.headerType == 0 }
        guard let snapshot = bound else { throw XCTSkip("no host PCI function is bound to a driver here") }
        let driver = snapshot.driver!
        XCTAssertThrowsError(try HostPCIFunction(bus: bus(), snapshot: snapshot, options: HostPCIOptions(bars: true))) { error in
            XCTAssertEqual("\(error)", "host PCI function \(snapshot.address) is bound to host driver '\(driver)'; BAR access ('bars: true') would race it: unbind it first (echo \(snapshot.address) > /sys/bus/pci/drivers/\(driver)/unbind) or set 'force: true'")
        }
        XCTAssertEqual(try sysfs.snapshot(of: snapshot.address), snapshot, "the refusal changed nothing on the host")
    }
}

import Devices
import Foundation
import Machine
import XCTest
@testable import Passthrough

/// `pci.host` in a board file: what the board check says, and the machine built from it.
final class PassthroughBoardTests: XCTestCase {
    /// Boards/virt.yaml with one `pci.host` at 00:03.0 whose properties are `properties`.
    private func board(_ properties: String) throws -> (yaml: String, line: Int) {
        let virt = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Boards/virt.yaml"), encoding: .utf8)
        let boot = try XCTUnwrap(virt.range(of: "\nboot:"))
        var yaml = virt
        yaml.insert(contentsOf: "\n  - name: host0\n    type: pci.host\n    at: pcie0/03.0\n    properties: { \(properties) }", at: boot.lowerBound)
        let line = try XCTUnwrap(yaml.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0 == "  - name: host0" }) + 1
        return (yaml, line)
    }

    func testMalformedHostAddressIsABoardError() throws {
        let (yaml, line) = try board("host: \"00:3.0\"")
        XCTAssertThrowsError(try BoardLoader.load(yaml: yaml, path: "t.yaml")) { error in
            XCTAssertEqual("\(error)", "t.yaml:\(line):5: error: 'host' of device 'host0': '00:3.0' is not DOMAIN:BUS:DEVICE.FUNCTION such as '0000:00:03.0'")
        }
    }

    func testWritableWithoutBarsIsABoardError() throws {
        let (yaml, line) = try board("host: \"0000:00:03.0\", writable: true")
        XCTAssertThrowsError(try BoardLoader.load(yaml: yaml, path: "t.yaml")) { error in
            XCTAssertEqual("\(error)", "t.yaml:\(line):5: error: 'writable: true' of device 'host0' needs 'bars: true' (without it nothing on the host is opened for BAR access)")
        }
    }

    func testMissingHostFunctionStopsTheMachine() throws {
        let (yaml, line) = try board("host: \"7fff:ff:1f.7\"")
        let board = try BoardLoader.load(yaml: yaml, path: "t.yaml")
        XCTAssertThrowsError(try Machine(board: board, serial: NullSerialBackend())) { error in
            XCTAssertEqual("\(error)", "t.yaml:\(line):5: device 'host0': host PCI function 7fff:ff:1f.7 not found in /sys/bus/pci/devices (see `backplane host pci`)")
        }
    }

    func testHostFunctionIsAttachedToTheMachine() throws {
        guard let address = HostPCISysfs().addresses().first(where: { (try? HostPCISysfs().snapshot(of: $0))?.headerType == 0 }) else {
            throw XCTSkip("this host has no PCI endpoint in /sys/bus/pci/devices")
        }
        let (yaml, _) = try board("host: \"\(address)\"")
        XCTAssertNoThrow(try Machine(board: try BoardLoader.load(yaml: yaml, path: "t.yaml"), serial: NullSerialBackend()))
    }
}

/// `pci.host` with `vfio: true` in a board file (the VFIO path itself is tested in the nested
/// machine, Tests/GuestTests/NestedVFIOTests.swift).
final class VFIOBoardTests: XCTestCase {
    private func board(_ properties: String) throws -> (yaml: String, line: Int) {
        let virt = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Boards/virt.yaml"), encoding: .utf8)
        let boot = try XCTUnwrap(virt.range(of: "\nboot:"))
        var yaml = virt
        yaml.insert(contentsOf: "\n  - name: host0\n    type: pci.host\n    at: pcie0/03.0\n    properties: { \(properties) }", at: boot.lowerBound)
        let line = try XCTUnwrap(yaml.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0 == "  - name: host0" }) + 1
        return (yaml, line)
    }

    func testVFIOWithBarsIsABoardError() throws {
        let (yaml, line) = try board("host: \"0000:00:03.0\", vfio: true, bars: true")
        XCTAssertThrowsError(try BoardLoader.load(yaml: yaml, path: "t.yaml")) { error in
            XCTAssertEqual("\(error)", "t.yaml:\(line):5: error: 'bars: true' of device 'host0' cannot go with 'vfio: true' (VFIO reaches the BARs itself; drop 'bars')")
        }
    }

    func testVFIOOnAHostWithoutVFIOStopsTheMachineWithTheFix() throws {
        guard !FileManager.default.fileExists(atPath: "/dev/vfio/vfio") else { throw XCTSkip("this host has VFIO") }
        guard let address = HostPCISysfs().addresses().first(where: { (try? HostPCISysfs().snapshot(of: $0))?.headerType == 0 }) else {
            throw XCTSkip("this host has no PCI endpoint in /sys/bus/pci/devices")
        }
        let (yaml, line) = try board("host: \"\(address)\", vfio: true")
        let board = try BoardLoader.load(yaml: yaml, path: "t.yaml")
        XCTAssertThrowsError(try Machine(board: board, serial: NullSerialBackend())) { error in
            XCTAssertEqual("\(error)", "t.yaml:\(line):5: device 'host0': host PCI function \(address): /dev/vfio/vfio missing: load VFIO (modprobe vfio-pci) on a host booted with its IOMMU on (intel_iommu=on or amd_iommu=on)")
        }
    }
}

import Foundation
import Memory
import PCI
import XCTest
@testable import Passthrough

/// Recordings kept next to the tests (Recordings/README.md files say what each is).
enum Recordings {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Recordings")

    /// A recorded sysfs function: config.hex, resource and origin ("ADDRESS DRIVER").
    static func pci(_ name: String) throws -> HostPCISnapshot {
        let folder = root.appendingPathComponent("pci/\(name)")
        let config = try XCTUnwrap(USBRecording.bytes(try String(contentsOf: folder.appendingPathComponent("config.hex"), encoding: .utf8)))
        let resource = try String(contentsOf: folder.appendingPathComponent("resource"), encoding: .utf8)
        let origin = try String(contentsOf: folder.appendingPathComponent("origin"), encoding: .utf8)
            .split(separator: "\n")[0].split(separator: " ")
        let address = HostPCIAddress(String(origin[0])) ?? HostPCIAddress(bus: 0, device: 7, function: 0)
        let driver = origin.count > 1 && HostPCIAddress(String(origin[0])) != nil ? String(origin[1]) : nil
        return HostPCISnapshot(address: address, config: config, resources: HostPCIResource.parse(resource), driver: driver)
    }

    static func usb(_ name: String) throws -> USBRecording {
        try USBRecording.load(path: root.appendingPathComponent("usb/\(name).json").path)
    }
}

/// A bus interface over 1 MiB of RAM at 0x8000_0000 (where MSI messages land in these tests).
func makeBus(device: UInt8 = 3) -> (PCIBusInterface, AddressSpace) {
    let space = AddressSpace()
    try! space.mapRAM(name: "ram", base: 0x8000_0000, size: 1 << 20)
    return (PCIBusInterface(address: PCIAddress(device: device), config: PCIConfigSpace(), memory: space), space)
}

/// A fake /sys/bus/pci/devices tree in a temporary folder, for what the CI host cannot show
/// (an unbound function, resource files, /dev/vfio).
final class FakeSysfs {
    let root: URL
    var sysfs: HostPCISysfs { HostPCISysfs(devicesPath: root.appendingPathComponent("devices").path, vfioPath: root.appendingPathComponent("vfio").path) }

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("fake-sysfs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("devices"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("drivers"), withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    /// Writes `snapshot`'s files at its address; `resourceFiles` creates resourceN files of
    /// the BAR sizes (sparse), `driver` a driver link.
    @discardableResult
    func add(_ snapshot: HostPCISnapshot, driver: String? = nil, resourceFiles: Bool = false) throws -> URL {
        let folder = root.appendingPathComponent("devices/\(snapshot.address)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data(snapshot.config).write(to: folder.appendingPathComponent("config"))
        let lines = snapshot.resources.map { "0x\(hex($0.start, digits: 16)) 0x\(hex($0.end, digits: 16)) 0x\(hex($0.flags, digits: 16))" }
        try (lines.joined(separator: "\n") + "\n").write(to: folder.appendingPathComponent("resource"), atomically: true, encoding: .utf8)
        if let driver {
            let target = root.appendingPathComponent("drivers/\(driver)")
            try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent("driver").path, withDestinationPath: target.path)
        }
        if resourceFiles {
            for (index, resource) in snapshot.resources.prefix(6).enumerated() where resource.size > 0 {
                let path = folder.appendingPathComponent("resource\(index)").path
                FileManager.default.createFile(atPath: path, contents: nil)
                truncate(path, off_t(resource.size))
            }
        }
        return folder
    }
}

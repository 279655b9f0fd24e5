import Foundation
import Virtio

/// `virtio-9p-pci`: a host directory shared read-write with the guest over 9P2000.L
/// (`Virtio9P` behind `VirtioPCIFunction`); nothing outside the directory is reachable.
public struct Virtio9PKind: DeviceKind {
    public static let name = "virtio-9p-pci"

    public let spec = DeviceTypeSpec(
        name: name,
        summary: "virtio 9P2000.L shared folder on PCI: a host directory, read-write, for `mount -t 9p -o trans=virtio TAG`",
        registers: .pciFunction(bars: VirtioPCIFunction.bars),
        properties: [
            DevicePropertySpec(name: "path", kind: .string, defaultValue: nil,
                               summary: "the host directory the guest sees (a relative path is taken from the working directory)"),
            DevicePropertySpec(name: "tag", kind: .string, defaultValue: .string("share"), summary: "the mount tag, 1-31 bytes"),
        ],
        nodeName: "share", compatible: [], placement: .omitted)

    public init() {}

    public func check(_ device: BoardDevice, in board: Board, into diagnostics: BoardDiagnostics) {
        let tag = device.properties["tag"]?.string ?? "share"
        if tag.isEmpty || tag.utf8.count > 31 {
            diagnostics.error("'tag' of device '\(device.name)': '\(tag)' must be 1-31 bytes", at: device.location)
        }
    }

    public func build(_ device: BoardDevice, in machine: Machine) throws {
        let share = try Virtio9P(root: device.properties["path"]?.string ?? "", tag: device.properties["tag"]?.string ?? "share")
        try machine.attachPCI(device) { bus in VirtioPCIFunction(bus: bus, device: share) }
    }
}

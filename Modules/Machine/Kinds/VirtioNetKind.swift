import UserNet
import Virtio

/// `virtio-net-pci`: a virtio 1.x network device on PCI (`VirtioNet` behind
/// `VirtioPCIFunction`) on user-mode networking (libslirp, `SlirpNetwork`).
public struct VirtioNetKind: DeviceKind {
    public static let name = "virtio-net-pci"

    public let spec = DeviceTypeSpec(
        name: name,
        summary: "virtio 1.x network device on PCI (modern transport, MSI-X) on user-mode networking (libslirp: DHCP, NAT, hostfwd)",
        registers: .pciFunction(bars: VirtioPCIFunction.bars),
        properties: [
            DevicePropertySpec(name: "netdev", kind: .string, defaultValue: .string("user"),
                               summary: "the backend; 'user' (libslirp: 10.0.2.15 by DHCP, gateway 10.0.2.2 = the host's loopback)"),
            DevicePropertySpec(name: "hostfwd", kind: .string, defaultValue: .string(""),
                               summary: "forwarded ports, 'tcp::HOSTPORT-:GUESTPORT', several separated by ';'; they listen on 127.0.0.1 only"),
            DevicePropertySpec(name: "mac", kind: .string, defaultValue: .string("52:54:00:12:34:56"), summary: "the MAC address"),
        ],
        nodeName: "ethernet", compatible: [], placement: .omitted)

    public init() {}

    /// The rules of a `hostfwd` property (`;`-separated); the first bad one throws.
    public static func forwards(_ text: String) throws -> [HostForward] {
        try text.split(separator: ";").map { try HostForward(parsing: String($0).trimmingCharacters(in: .whitespaces)) }
    }

    static func mac(_ text: String) -> [UInt8]? {
        let bytes = text.split(separator: ":").compactMap { UInt8($0, radix: 16) }
        return bytes.count == 6 && text.split(separator: ":").count == 6 ? bytes : nil
    }

    public func check(_ device: BoardDevice, in board: Board, into diagnostics: BoardDiagnostics) {
        if let netdev = device.properties["netdev"]?.string, netdev != "user" {
            diagnostics.error("'netdev' of device '\(device.name)': '\(netdev)' is not a backend (the one backend is 'user')", at: device.location)
        }
        do { _ = try VirtioNetKind.forwards(device.properties["hostfwd"]?.string ?? "") } catch {
            diagnostics.error("'hostfwd' of device '\(device.name)': \(error)", at: device.location)
        }
        if let mac = device.properties["mac"]?.string, VirtioNetKind.mac(mac) == nil {
            diagnostics.error("'mac' of device '\(device.name)': '\(mac)' is not six hex bytes such as '52:54:00:12:34:56'", at: device.location)
        }
    }

    public func build(_ device: BoardDevice, in machine: Machine) throws {
        let network: any NetworkBackend
        if let journal = machine.journal, journal.isReplaying {
            // --replay: the journal is the network; no slirp, no sockets, no hostfwd listeners.
            network = JournaledNetwork(replaying: journal, name: device.name)
        } else {
            let slirp = try SlirpNetwork(forwards: try VirtioNetKind.forwards(device.properties["hostfwd"]?.string ?? ""))
            // --record: every frame in and out is journaled (JournaledNetwork.swift).
            network = machine.journal.map { JournaledNetwork(recording: slirp, journal: $0, name: device.name) } ?? slirp
        }
        let net = VirtioNet(backend: network, mac: VirtioNetKind.mac(device.properties["mac"]?.string ?? "") ?? nil)
        let function = try machine.attachPCI(device) { bus in VirtioPCIFunction(bus: bus, device: net) }
        machine.manage(function)
    }
}

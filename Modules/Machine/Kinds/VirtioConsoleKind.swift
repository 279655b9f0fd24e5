import Devices
import Virtio

/// `virtio-console-pci`: a virtio console on PCI (`VirtioConsole` behind `VirtioPCIFunction`),
/// Linux's `/dev/hvc0`, connected to a serial backend like the UART's `--serial`.
public struct VirtioConsoleKind: DeviceKind {
    public static let name = "virtio-console-pci"

    public let spec = DeviceTypeSpec(
        name: name,
        summary: "virtio console on PCI (one port, Linux's hvc0) on a serial backend: none or file:PATH",
        registers: .pciFunction(bars: VirtioPCIFunction.bars),
        properties: [
            DevicePropertySpec(name: "chardev", kind: .string, defaultValue: .string("none"),
                               summary: "where the console's output goes: none or file:PATH (as --serial)"),
        ],
        nodeName: "console", compatible: [], placement: .omitted)

    public init() {}

    public func check(_ device: BoardDevice, in board: Board, into diagnostics: BoardDiagnostics) {
        let chardev = device.properties["chardev"]?.string ?? "none"
        if chardev != "none" && !chardev.hasPrefix("file:") {
            diagnostics.error("'chardev' of device '\(device.name)': '\(chardev)' is not none or file:PATH", at: device.location)
        }
    }

    public func build(_ device: BoardDevice, in machine: Machine) throws {
        let serial = try makeSerialBackend(device.properties["chardev"]?.string ?? "none")
        let console = VirtioConsole(backend: SerialByteStream(serial))
        let function = try machine.attachPCI(device) { bus in VirtioPCIFunction(bus: bus, device: console) }
        machine.manage(function)
    }
}

/// A serial backend as a virtio console's byte stream.
final class SerialByteStream: ByteStreamBackend {
    let serial: any SerialBackend
    init(_ serial: any SerialBackend) { self.serial = serial }
    func send(_ bytes: UnsafeRawBufferPointer) { for byte in bytes { serial.write(byte) } }
    func receive(maximum: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        while bytes.count < maximum, let byte = serial.read() { bytes.append(byte) }
        return bytes
    }
}

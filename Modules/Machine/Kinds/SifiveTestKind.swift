import DeviceTree
import Devices

/// `sifive_test`: SiFive's test finisher (`SifiveTest`): power off, fail or reset the machine.
public struct SifiveTestKind: DeviceKind {
    public static let name = "sifive_test"

    public let spec = DeviceTypeSpec(
        name: name,
        summary: "SiFive test finisher: write 0x5555 to power off, 0x7777 to reboot, (code << 16) | 0x3333 to fail",
        registers: .required(minimumSize: 0x4, pageAligned: true),
        // The syscon-poweroff and syscon-reboot nodes point at it.
        needsPhandle: true,
        nodeName: "test", compatible: ["sifive,test1", "sifive,test0", "syscon"])

    public init() {}

    /// Stateless: nothing to reset, nothing to poll.
    public func build(_ device: BoardDevice, in machine: Machine) throws {
        try machine.map(device, SifiveTest(power: machine.power))
    }

    /// `syscon-poweroff` and `syscon-reboot` (Linux `power/reset/syscon-*.yaml`), as QEMU's virt
    /// writes them: the kernel's `poweroff` and `reboot` write the finisher's values.
    public func extraNodes(for device: BoardDevice, context: DeviceTreeContext) -> [DeviceTreeNode] {
        guard let phandle = context.devicePhandles[device.name] else { return [] }
        return [syscon("poweroff", compatible: "syscon-poweroff", regmap: phandle, value: UInt32(SifiveTest.Status.pass)),
                syscon("reboot", compatible: "syscon-reboot", regmap: phandle, value: UInt32(SifiveTest.Status.reset))]
    }

    private func syscon(_ name: String, compatible: String, regmap: UInt32, value: UInt32) -> DeviceTreeNode {
        DeviceTreeNode(name, properties: [
            .strings("compatible", [compatible]),
            .u32("regmap", regmap),
            .u32("offset", 0),
            .u32("value", value),
        ])
    }
}

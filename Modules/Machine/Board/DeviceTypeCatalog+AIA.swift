/// The RISC-V Advanced Interrupt Architecture device types (AIA 1.0 §3, §4); checked further
/// in `Board+AIA.swift`, built in `Machine+AIA.swift`, nodes in `DeviceTreeGenerator+AIA.swift`.
extension DeviceTypeCatalog {
    static let aiaTypes: [DeviceTypeSpec] = [
        DeviceTypeSpec(
            name: "imsic",
            summary: "incoming MSI controller (RISC-V AIA 1.0 §3): an interrupt file per hart at one privilege level, one 4 KiB page each",
            // The window reserves room for every hart; the device tree and the mapping cover
            // harts × 4 KiB of it, as QEMU's virt does with VIRT_IMSIC_MAX_SIZE.
            registers: .required(minimumSize: 0x1000, pageAligned: true),
            properties: [
                DevicePropertySpec(name: "level", kind: .string, defaultValue: nil,
                                   summary: "'machine' or 'supervisor': the privilege level of the interrupt files (MEIP or SEIP)"),
                DevicePropertySpec(name: "num-ids", kind: .integer(63...2047), defaultValue: .integer(255),
                                   deviceTreeName: "riscv,num-ids",
                                   summary: "interrupt identities per file, one less than a multiple of 64"),
            ],
            nodeName: "imsics", compatible: ["riscv,imsics"]),
        DeviceTypeSpec(
            name: "aplic",
            summary: "advanced platform-level interrupt controller domain (RISC-V AIA 1.0 §4), direct or MSI delivery",
            // Registers up to genmsi/target fit in 0x4000; direct mode adds 32 bytes per hart (§4.5).
            registers: .required(minimumSize: 0x4000, pageAligned: true),
            interruptSourcesProperty: "sources",
            properties: [
                DevicePropertySpec(name: "sources", kind: .integer(1...1023), defaultValue: .integer(96),
                                   deviceTreeName: "riscv,num-sources",
                                   summary: "number of interrupt sources; devices use sources 1...sources"),
                DevicePropertySpec(name: "delivery", kind: .string, defaultValue: .string("direct"),
                                   summary: "'direct' (an IDC per hart drives MEIP/SEIP) or 'msi' (writes to the msi-parent IMSIC)"),
                DevicePropertySpec(name: "parent", kind: .string, defaultValue: .string(""),
                                   summary: "the aplic that delegates its sources to this supervisor-level domain; empty for the machine-level root"),
                DevicePropertySpec(name: "msi-parent", kind: .string, defaultValue: .string(""),
                                   summary: "the imsic an MSI-mode domain writes to, at the domain's level"),
            ],
            nodeName: "aplic", compatible: ["riscv,aplic"]),
    ]
}

/// One register in the target description (GDB manual G.3 "Target Description Format").
public struct GDBRegister: Equatable, Sendable {
    public let number: Int
    public let name: String
    public let bitSize: Int
    /// GDB's type name: "int", "code_ptr", "data_ptr", "ieee_single", "ieee_double".
    public let type: String
    /// The `<feature name=…>` it belongs to; GDB's RISC-V support keys on these names.
    public let feature: String
    public let group: String?

    public init(number: Int, name: String, bitSize: Int, type: String = "int", feature: String, group: String? = nil) {
        self.number = number
        self.name = name
        self.bitSize = bitSize
        self.type = type
        self.feature = feature
        self.group = group
    }

    public var byteSize: Int { bitSize / 8 }
}

/// The RISC-V register numbering GDB uses (gdb/riscv-tdep.h, and QEMU's gdbstub follows it):
/// x0-x31 are 0-31, pc 32, f0-f31 33-64, CSR n is 65+n (fflags, frm and fcsr included), and the
/// virtual `priv` register follows the CSR space.
public enum RISCVGDBRegisters {
    public static let pc = 32
    public static let firstFloat = 33
    public static let firstCSR = 65
    public static let priv = firstCSR + 4096

    static let cpuFeature = "org.gnu.gdb.riscv.cpu"
    static let fpuFeature = "org.gnu.gdb.riscv.fpu"
    static let csrFeature = "org.gnu.gdb.riscv.csr"
    static let virtualFeature = "org.gnu.gdb.riscv.virtual"

    /// The registers of an RV64 hart with F/D: x0-x31, pc, f0-f31, the CSRs `csrs` (number, name)
    /// and `priv`. The CSR names are the hart's own table (`Hart.debugCSRNames`); fflags, frm and
    /// fcsr (CSRs 1-3) go in the FPU feature, where GDB looks for them (riscv_freg_feature).
    /// `integerNames` and `floatNames` are the ABI names in register order (the hart's
    /// `ABIRegisterNames`), which GDB accepts in place of x0-x31 and f0-f31; x8 is named `fp`
    /// as in GDB's own riscv_xreg_feature.
    public static func rv64(csrs: [(number: Int, name: String)], integerNames: [String], floatNames: [String]) -> [GDBRegister] {
        precondition(integerNames.count == 32 && floatNames.count == 32, "32 names each")
        var registers: [GDBRegister] = []
        for (index, abiName) in integerNames.enumerated() {
            let name = index == 8 ? "fp" : abiName
            let type = index == 1 ? "code_ptr" : (index == 2 || index == 8) ? "data_ptr" : "int"
            registers.append(GDBRegister(number: index, name: name, bitSize: 64, type: type, feature: cpuFeature))
        }
        registers.append(GDBRegister(number: pc, name: "pc", bitSize: 64, type: "code_ptr", feature: cpuFeature))
        for (index, name) in floatNames.enumerated() {
            registers.append(GDBRegister(number: firstFloat + index, name: name, bitSize: 64, type: "ieee_double",
                                         feature: fpuFeature, group: "float"))
        }
        for csr in csrs.sorted(by: { $0.number < $1.number }) {
            let floating = (1...3).contains(csr.number)
            registers.append(GDBRegister(number: firstCSR + csr.number, name: csr.name, bitSize: 64,
                                         feature: floating ? fpuFeature : csrFeature, group: floating ? "float" : "system"))
        }
        registers.append(GDBRegister(number: priv, name: "priv", bitSize: 64, feature: virtualFeature, group: "system"))
        return registers
    }
}

/// The target description document GDB fetches with `qXfer:features:read:target.xml`.
public enum GDBTargetDescription {
    public static func xml(architecture: String, registers: [GDBRegister]) -> String {
        var features: [(name: String, registers: [GDBRegister])] = []
        for register in registers {
            if let index = features.firstIndex(where: { $0.name == register.feature }) {
                features[index].registers.append(register)
            } else {
                features.append((register.feature, [register]))
            }
        }
        var xml = """
            <?xml version="1.0"?>
            <!DOCTYPE target SYSTEM "gdb-target.dtd">
            <target version="1.0">
              <architecture>\(architecture)</architecture>

            """
        for feature in features {
            xml += "  <feature name=\"\(feature.name)\">\n"
            for register in feature.registers {
                xml += "    <reg name=\"\(register.name)\" bitsize=\"\(register.bitSize)\" regnum=\"\(register.number)\" type=\"\(register.type)\""
                if let group = register.group { xml += " group=\"\(group)\"" }
                xml += "/>\n"
            }
            xml += "  </feature>\n"
        }
        xml += "</target>\n"
        return xml
    }
}

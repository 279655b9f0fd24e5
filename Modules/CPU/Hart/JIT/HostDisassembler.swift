#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// x86-64 disassembly through Capstone, loaded with dlopen when first needed so that the
/// `backplane` binary does not depend on libcapstone (only `--trace out_asm` and the emitter's
/// tests use it). Debian package: libcapstone4 (libcapstone-dev for the .so link).
final class HostDisassembler {
    private typealias Open = @convention(c) (Int32, Int32, UnsafeMutablePointer<Int>) -> Int32
    private typealias Disasm = @convention(c) (Int, UnsafePointer<UInt8>, Int, UInt64, Int,
                                               UnsafeMutablePointer<UnsafeMutableRawPointer?>) -> Int
    private typealias Free = @convention(c) (UnsafeMutableRawPointer?, Int) -> Void
    private typealias Version = @convention(c) (UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<Int32>?) -> UInt32

    private let handle: Int
    private let disasm: Disasm
    private let free: Free
    /// Layout of `cs_insn`: bytes[16] in Capstone 4, bytes[24] in Capstone 5.
    private let insnSize: Int, mnemonicOffset: Int, operandsOffset: Int

    /// The shared instance, or nil when libcapstone cannot be loaded.
    nonisolated(unsafe) static let shared: HostDisassembler? = HostDisassembler()

    private init?() {
        guard let library = dlopen("libcapstone.so.4", RTLD_NOW) ?? dlopen("libcapstone.so.5", RTLD_NOW)
                ?? dlopen("libcapstone.so", RTLD_NOW),
              let open = dlsym(library, "cs_open"), let disasm = dlsym(library, "cs_disasm"),
              let free = dlsym(library, "cs_free"), let version = dlsym(library, "cs_version") else { return nil }
        var major: Int32 = 0
        _ = unsafeBitCast(version, to: Version.self)(&major, nil)
        let bytes = major >= 5 ? 24 : 16
        mnemonicOffset = 18 + bytes
        operandsOffset = mnemonicOffset + 32
        insnSize = (operandsOffset + 160 + 7) / 8 * 8 + 8
        var handle = 0
        // CS_ARCH_X86 = 3, CS_MODE_64 = 8 (capstone.h).
        guard unsafeBitCast(open, to: Open.self)(3, 8, &handle) == 0 else { return nil }
        self.handle = handle
        self.disasm = unsafeBitCast(disasm, to: Disasm.self)
        self.free = unsafeBitCast(free, to: Free.self)
    }

    /// One line per instruction: "mnemonic operands" (Intel syntax), with its address and size.
    func disassemble(_ code: UnsafePointer<UInt8>, count: Int, address: UInt64) -> [(address: UInt64, size: Int, text: String)] {
        var instructions: UnsafeMutableRawPointer?
        let n = disasm(handle, code, count, address, 0, &instructions)
        guard n > 0, let instructions else { return [] }
        defer { free(instructions, n) }
        var lines: [(UInt64, Int, String)] = []
        for i in 0..<n {
            let insn = instructions + i * insnSize
            let address = insn.load(fromByteOffset: 8, as: UInt64.self)
            let size = Int(insn.load(fromByteOffset: 16, as: UInt16.self))
            let mnemonic = String(cString: (insn + mnemonicOffset).assumingMemoryBound(to: CChar.self))
            let operands = String(cString: (insn + operandsOffset).assumingMemoryBound(to: CChar.self))
            lines.append((address, size, operands.isEmpty ? mnemonic : "\(mnemonic) \(operands)"))
        }
        return lines
    }
}

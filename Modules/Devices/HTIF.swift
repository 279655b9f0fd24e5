import Memory

/// The Berkeley Host-Target Interface: the `tohost`/`fromhost` mailboxes that riscv-tests,
/// riscv-pk and bare-metal test programs use to print and to report an exit status (spike
/// `fesvr/htif.cc`, `fesvr/syscall.cc`, `fesvr/device.cc`; QEMU `hw/char/riscv_htif.c`).
///
/// A command is one 64-bit word written to `tohost`: device = bits 63:56, command = 55:48,
/// payload = 47:0. Writes of 32-bit halves follow QEMU: the low half is taken only while
/// `tohost` is 0, and the command runs when the high half arrives (an 8-byte write is both).
/// After a command `tohost` reads 0 again; answers go to `fromhost`.
///
/// The mailboxes live at the addresses of the ELF's `tohost`/`fromhost` symbols. Two placements:
/// - `.mmio` (QEMU): `mappings` lists the MMIO regions to map there (one when they are adjacent,
///   else one each); the machine must keep RAM off those addresses.
/// - `.memory` (spike): the mailboxes stay ordinary guest RAM and `poll()` looks at `tohost`,
///   acting on a non-zero word and clearing it, as spike's front-end server does.
public final class HTIF {
    /// Where the mailboxes live.
    public enum Placement: Sendable, Equatable {
        case mmio
        case memory
    }

    /// Device and command numbers (spike `fesvr/device.h`).
    public enum Command {
        public static let systemDevice: UInt8 = 0
        public static let consoleDevice: UInt8 = 1
        public static let systemSyscall: UInt8 = 0
        public static let consoleGetChar: UInt8 = 0
        public static let consolePutChar: UInt8 = 1
    }

    /// Proxied system calls understood (riscv-pk / Linux RISC-V numbers).
    public enum Syscall {
        public static let write: UInt64 = 64
        public static let exit: UInt64 = 93
        /// Negated errno values returned in the result slot.
        static let badFileDescriptor: UInt64 = UInt64(bitPattern: -9)   // EBADF
        static let badAddress: UInt64 = UInt64(bitPattern: -14)         // EFAULT
        static let notImplemented: UInt64 = UInt64(bitPattern: -38)     // ENOSYS
        /// spike's syscall block: the number, then seven arguments, 8 bytes each.
        static let blockSize = 64
        /// Longest SYS_write copied at once (a guest asking for more gets a short write).
        static let maximumWrite: UInt64 = 1 << 20
    }

    /// One MMIO region to map for the mailboxes.
    public struct Mapping {
        public let name: String
        public let base: UInt64
        public let size: UInt64
        public let device: any MMIODevice
    }

    public let placement: Placement
    public let tohostAddress: UInt64
    public let fromhostAddress: UInt64?
    public let console: any SerialBackend
    public let power: PowerControl
    private let dma: DMAAccessor

    /// `tohost` as the MMIO placement holds it (0 once a command was taken).
    public private(set) var tohost: UInt64 = 0
    /// The `fromhost` register of the MMIO placement.
    private var fromhostRegister: UInt64 = 0
    /// The last command the HTIF could not carry out, for the machine to report.
    public private(set) var lastUnsupported: String?

    /// QEMU `allow_tohost`: the low half was accepted, so the high half may run the command.
    private var lowHalfAccepted = false
    /// A console read (device 1, command 0) waiting for input.
    private var pendingRead = false

    /// - Parameters:
    ///   - tohost: address of the ELF symbol `tohost` (8 bytes, 8-aligned).
    ///   - fromhost: address of `fromhost`, if the program has one.
    ///   - console: where device 1 output goes and input comes from.
    ///   - dma: guest memory access for proxied system calls (and the mailboxes in `.memory`).
    ///   - placement: MMIO registers (QEMU) or polled RAM (spike).
    public init(tohost: UInt64, fromhost: UInt64?, console: any SerialBackend, power: PowerControl, dma: DMAAccessor,
                placement: Placement = .mmio) {
        self.placement = placement
        tohostAddress = tohost
        fromhostAddress = fromhost
        self.console = console
        self.power = power
        self.dma = dma
    }

    /// The regions to map: one 16-byte window "htif" when the mailboxes are adjacent, else
    /// "htif-tohost" and "htif-fromhost", 8 bytes each. The windows keep the HTIF alive.
    /// Empty for the `.memory` placement.
    public var mappings: [Mapping] {
        guard placement == .mmio else { return [] }
        if let fromhost = fromhostAddress, fromhost == tohostAddress &+ 8 || tohostAddress == fromhost &+ 8 {
            let base = min(tohostAddress, fromhost)
            return [Mapping(name: "htif", base: base, size: 16, device: HTIFWindow(htif: self, base: base))]
        }
        var result = [Mapping(name: "htif-tohost", base: tohostAddress, size: 8,
                              device: HTIFWindow(htif: self, base: tohostAddress))]
        if let fromhost = fromhostAddress {
            result.append(Mapping(name: "htif-fromhost", base: fromhost, size: 8, device: HTIFWindow(htif: self, base: fromhost)))
        }
        return result
    }

    // MARK: Register access by guest physical address

    /// Reads `size` (4 or 8) bytes at guest physical `address`; unknown addresses read 0.
    public func read(address: UInt64, size: Int) -> UInt64 {
        guard let (isToHost, high) = decode(address, size: size) else { return 0 }
        let value = isToHost ? tohost : fromhost
        if size == 8 { return value }
        return high ? value >> 32 : value & 0xffff_ffff
    }

    /// Writes `size` (4 or 8) bytes at guest physical `address`.
    public func write(address: UInt64, size: Int, value: UInt64) {
        guard let (isToHost, high) = decode(address, size: size) else { return }
        if !isToHost {
            if size == 8 { fromhostRegister = value }
            else if high { fromhostRegister = (fromhostRegister & 0xffff_ffff) | value << 32 }
            else { fromhostRegister = value & 0xffff_ffff }
            return
        }
        if size == 8 || !high { writeToHostLow(value & 0xffff_ffff) }
        if size == 8 { writeToHostHigh(value >> 32) } else if high { writeToHostHigh(value & 0xffff_ffff) }
    }

    /// The machine calls it regularly. With the `.memory` placement it takes a command waiting
    /// in `tohost`; in both it answers a waiting console read once input has arrived and
    /// `fromhost` is free (spike `bcd_t::tick`).
    public func poll() {
        if placement == .memory, let command = loadWord(tohostAddress), command != 0 {
            storeWord(tohostAddress, 0)
            handle(command)
        }
        answerPendingRead()
    }

    /// Back to the state before the program ran (a machine reset): no command in `tohost`, no
    /// answer in `fromhost`, no console read waiting. With the `.memory` placement the
    /// mailboxes are in RAM, which the reboot rewrites from the loaded image.
    public func reset() {
        tohost = 0
        fromhostRegister = 0
        lowHalfAccepted = false
        pendingRead = false
        lastUnsupported = nil
    }

    /// Current `fromhost` (read from guest RAM with the `.memory` placement; 0 if absent).
    public var fromhost: UInt64 {
        guard placement == .memory else { return fromhostRegister }
        return fromhostAddress.flatMap(loadWord) ?? 0
    }

    private func setFromhost(_ value: UInt64) {
        if placement == .mmio { fromhostRegister = value } else if let address = fromhostAddress { storeWord(address, value) }
    }

    private func answerPendingRead() {
        guard pendingRead, fromhost == 0, let byte = console.read() else { return }
        pendingRead = false
        setFromhost(response(device: Command.consoleDevice, command: Command.consoleGetChar, data: 0x100 | UInt64(byte)))
    }

    private func loadWord(_ address: UInt64) -> UInt64? {
        var word: UInt64 = 0
        guard case .success = withUnsafeMutableBytes(of: &word, { dma.read(address, into: $0) }) else { return nil }
        return UInt64(littleEndian: word)
    }

    private func storeWord(_ address: UInt64, _ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { _ = dma.write(address, from: $0) }
    }

    // MARK: Commands

    private func writeToHostLow(_ value: UInt64) {
        if tohost == 0 {
            lowHalfAccepted = true
            tohost = value
        } else {
            lowHalfAccepted = false // the previous command has not been taken yet
        }
    }

    private func writeToHostHigh(_ value: UInt64) {
        guard lowHalfAccepted else { return }
        tohost |= value << 32
        // spike acts only on a non-zero tohost: a zero word is "no command".
        guard tohost != 0 else { return }
        handle(tohost)
        tohost = 0
    }

    private func handle(_ value: UInt64) {
        let device = UInt8(value >> 56)
        let command = UInt8((value >> 48) & 0xff)
        let payload = value & 0xffff_ffff_ffff
        switch (device, command) {
        case (Command.systemDevice, Command.systemSyscall):
            if payload & 1 != 0 {
                // riscv-tests: tohost = (code << 1) | 1; so 1 is a pass.
                power.request(.poweroff(exitCode: Int32(truncatingIfNeeded: payload >> 1)))
            } else {
                proxySyscall(at: payload)
            }
        case (Command.consoleDevice, Command.consolePutChar):
            console.write(UInt8(truncatingIfNeeded: payload))
            // spike and QEMU both answer 0x100 | the byte.
            setFromhost(response(device: device, command: command, data: 0x100 | (payload & 0xff)))
        case (Command.consoleDevice, Command.consoleGetChar):
            pendingRead = true
            answerPendingRead()
        default:
            lastUnsupported = "HTIF device \(device) command \(command) is not supported (tohost 0x\(String(value, radix: 16)))"
        }
    }

    /// spike "magic memory" system call: a 64-byte block of number + arguments at `address`;
    /// the result replaces the number, then `fromhost` = 1 signals completion.
    private func proxySyscall(at address: UInt64) {
        guard case .success(let block) = dma.read(address, count: Syscall.blockSize) else {
            lastUnsupported = "HTIF system call block at 0x\(String(address, radix: 16)) is outside guest RAM"
            return
        }
        let word = { (index: Int) -> UInt64 in
            (0..<8).reduce(UInt64(0)) { $0 | UInt64(block[index * 8 + $1]) << UInt64(8 * $1) }
        }
        let number = word(0)
        let result: UInt64
        switch number {
        case Syscall.write:
            result = sysWrite(fd: word(1), buffer: word(2), length: word(3))
        case Syscall.exit:
            power.request(.poweroff(exitCode: Int32(truncatingIfNeeded: word(1))))
            return
        default:
            lastUnsupported = "HTIF system call \(number) is not supported"
            result = Syscall.notImplemented
        }
        let bytes = (0..<8).map { UInt8(truncatingIfNeeded: result >> UInt64(8 * $0)) }
        _ = dma.write(address, bytes: bytes)
        setFromhost(response(device: Command.systemDevice, command: Command.systemSyscall, data: 1))
    }

    private func sysWrite(fd: UInt64, buffer: UInt64, length: UInt64) -> UInt64 {
        guard fd == 1 || fd == 2 else { return Syscall.badFileDescriptor }
        let count = min(length, Syscall.maximumWrite)
        guard case .success(let bytes) = dma.read(buffer, count: Int(count)) else { return Syscall.badAddress }
        for byte in bytes { console.write(byte) }
        return count
    }

    private func response(device: UInt8, command: UInt8, data: UInt64) -> UInt64 {
        UInt64(device) << 56 | UInt64(command) << 48 | (data & 0xffff_ffff_ffff)
    }

    /// Which mailbox `address` names and whether it is the upper half; nil for anything else.
    private func decode(_ address: UInt64, size: Int) -> (isToHost: Bool, high: Bool)? {
        guard address & UInt64(size - 1) == 0 else { return nil }
        let aligned = address & ~7
        let high = size == 4 && address & 4 != 0
        if aligned == tohostAddress { return (true, high) }
        if aligned == fromhostAddress { return (false, high) }
        return nil
    }
}

/// One mapped window onto the HTIF mailboxes; translates region offsets back to addresses.
final class HTIFWindow: MMIODevice {
    let htif: HTIF
    let base: UInt64

    init(htif: HTIF, base: UInt64) {
        self.htif = htif
        self.base = base
    }

    var implementedSizes: AccessSizes { [.word, .doubleword] }

    func read(offset: UInt64, size: Int) -> UInt64 { htif.read(address: base &+ offset, size: size) }

    func write(offset: UInt64, size: Int, value: UInt64) { htif.write(address: base &+ offset, size: size, value: value) }
}

/// Snapshots (docs/snapshots.md): the MMIO mailboxes and the command handshake. With the
/// `.memory` placement the mailboxes are RAM and come back with it.
extension HTIF {
    public func save(to state: inout DeviceStateWriter) {
        state.put(tohost)
        state.put(fromhostRegister)
        state.put(lowHalfAccepted)
        state.put(pendingRead)
    }

    public func restore(from state: inout DeviceStateReader) throws(DeviceStateError) {
        tohost = try state.uint64()
        fromhostRegister = try state.uint64()
        lowHalfAccepted = try state.bool()
        pendingRead = try state.bool()
    }
}

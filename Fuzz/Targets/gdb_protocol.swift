// libFuzzer target: the GDB remote protocol as a hostile client speaks it (docs/reliability.md).
// The bytes (or, for a first byte with 0x40 set, the lines of the input, each framed as a packet
// with its checksum, bytes from 0xf8 up standing for edge numbers) go through the packet reader (framing, checksums, overlong packets, interrupts) twice,
// whole and in chunks of 1 to 8 bytes, which must agree; every packet that comes out is answered by a
// GDBSession over a model target (registers, 4 KiB of memory, breakpoints, monitor), which checks
// that the session never hands the target more than it promised: a read longer than a reply can
// carry, a thread that does not exist, a register the description does not name. Every reply must
// frame and parse back to itself.
import GDB

/// A machine as the session sees it: checks every call against what the session guarantees.
final class ModelTarget: GDBTarget {
    let registers: [GDBRegister]
    let threadCount: Int
    let numbers: Set<Int>
    static let base: UInt64 = 0x8000_0000
    var memory = [UInt8](repeating: 0, count: 4096)
    var breakpoints = 0
    var values: [Int: UInt64] = [:]

    init(threads: Int) {
        // The parsers do not care what the registers are called (the CPU module, which has the
        // ABI names, is not part of this target).
        registers = RISCVGDBRegisters.rv64(csrs: [(0x300, "mstatus"), (0x305, "mtvec"), (0x341, "mepc"), (0x180, "satp")],
                                           integerNames: (0..<32).map { "x\($0)" }, floatNames: (0..<32).map { "f\($0)" })
        threadCount = threads
        numbers = Set(registers.map(\.number))
    }

    private func check(_ thread: Int) {
        precondition(thread >= 1 && thread <= threadCount, "the session passed thread \(thread) of \(threadCount)")
    }

    func readRegister(_ number: Int, thread: Int) -> UInt64? {
        check(thread)
        precondition(numbers.contains(number), "the session read register \(number), which the description does not name")
        return number == 5 ? nil : values[number] ?? UInt64(number) &* 0x0101_0101_0101_0101
    }

    func writeRegister(_ number: Int, value: UInt64, thread: Int) -> Bool {
        check(thread)
        precondition(numbers.contains(number), "the session wrote register \(number), which the description does not name")
        guard number != 0 else { return false }
        values[number] = value
        return true
    }

    func readMemory(address: UInt64, length: Int, thread: Int) -> [UInt8] {
        check(thread)
        precondition(length > 0 && length <= GDBPacket.maximumPayload / 2, "a read of \(length) bytes cannot fit a reply")
        guard address >= Self.base, address - Self.base < UInt64(memory.count) else { return [] }
        let start = Int(address - Self.base)
        return Array(memory[start..<min(memory.count, start + length)])
    }

    func writeMemory(address: UInt64, bytes: [UInt8], thread: Int) -> Bool {
        check(thread)
        precondition(!bytes.isEmpty && bytes.count <= GDBPacket.maximumPayload, "a write of \(bytes.count) bytes")
        guard address >= Self.base, address - Self.base <= UInt64(memory.count - bytes.count) else { return false }
        let start = Int(address - Self.base)
        memory.replaceSubrange(start..<start + bytes.count, with: bytes)
        return true
    }

    func insertBreakpoint(_ kind: GDBBreakpointKind, address: UInt64, length: UInt64) -> Bool {
        precondition(length > 0)
        guard breakpoints < 64 else { return false }
        breakpoints += 1
        return true
    }

    func removeBreakpoint(_ kind: GDBBreakpointKind, address: UInt64, length: UInt64) -> Bool {
        precondition(length > 0)
        guard breakpoints > 0 else { return false }
        breakpoints -= 1
        return true
    }

    func threadDescription(_ thread: Int) -> String {
        check(thread)
        return "hart \(thread - 1), M-mode"
    }

    func monitor(_ command: String) -> String { command.isEmpty ? "" : "you said: \(command.prefix(200))\n" }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGDBProtocol(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    var bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    // In some runs the input is payloads, one per line, that the harness frames with the right
    // checksum: the session's parsers are reached without the fuzzer solving checksums first.
    // There, a byte from 0xf8 up stands for a number at an edge of what 16 hex digits say (a single
    // byte is what mutations insert easily; a number of exactly 16 digits is not).
    if data[0] & 0x40 != 0 {
        let edges = ["ffffffffffffffff", "8000000000000000", "7fffffffffffffff", "80000000", "ffffffff",
                     "100000000", "0", "fffffffffffffff0"].map { Array($0.utf8) }
        let expanded = bytes.flatMap { $0 >= 0xf8 ? edges[Int($0 - 0xf8)] : [$0] }
        bytes = expanded.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).flatMap { GDBPacket.frame(Array($0)) }
    }
    // A small maximum payload in some runs, so that overlong packets are reached.
    let small = data[0] & 0x80 != 0
    let maximum = small ? 64 : GDBPacket.maximumPayload

    var whole = GDBPacketReader(maximumPayload: maximum)
    let inputs = whole.feed(bytes)
    // The same bytes in chunks of 1 to 8 (as recv() may cut them) must give the same inputs.
    let chunk = Int(data[0] >> 2 & 7) + 1
    var incremental = GDBPacketReader(maximumPayload: maximum)
    var chunked: [GDBInput] = []
    for start in stride(from: 0, to: bytes.count, by: chunk) {
        chunked += incremental.feed(bytes[start..<min(bytes.count, start + chunk)])
    }
    precondition(inputs == chunked, "the reader's result depends on how the bytes were split")

    let target = ModelTarget(threads: Int(data[0] & 3) + 1)
    let session = GDBSession(target: target)
    var stops = 0
    for input in inputs {
        guard case .packet(let payload) = input else { continue }
        precondition(payload.count <= maximum, "a packet of \(payload.count) bytes passed a \(maximum)-byte reader")
        let outcome = session.handle(payload)
        if let reply = outcome.reply {
            // What we send must come back as itself through a reader (the client's side).
            if reply.count <= GDBPacket.maximumPayload {
                var client = GDBPacketReader()
                precondition(client.feed(GDBPacket.frame(reply)) == [.packet(reply)], "a reply did not frame")
            }
        }
        if case .resume(let resume) = outcome.action {
            if let step = resume.stepThread { precondition(step >= 1 && step <= target.threadCount, "step of thread \(step)") }
            // The machine stops again somewhere; the session reports it.
            stops += 1
            let thread = stops % target.threadCount + 1
            let reasons: [GDBStopReason] = [.stepped(thread: thread), .breakpoint(thread: thread, hardware: stops & 1 == 0),
                                            .watchpoint(thread: thread, kind: .accessWatchpoint, address: UInt64(stops)),
                                            .interrupted(thread: thread)]
            _ = session.stopReply(for: reasons[stops % reasons.count])
        }
    }
    // Binary escaping round-trips whatever the packets held.
    precondition(GDBPacket.unescape(GDBPacket.escape(bytes)) == bytes, "escape/unescape")
    return 0
}

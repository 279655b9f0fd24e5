/// One GDB client's conversation with a stopped machine: packets in, replies and run requests out
/// (GDB manual, Appendix E "Debugging with GDB: Remote Protocol"). All-stop mode only: every
/// thread stops when one does, and the session answers packets only while the machine is stopped.
///
/// The session does no I/O and owns no thread: `GDBServer` feeds it packets from the socket and
/// performs its `Action`s, which keeps the protocol testable without a machine or a socket.
public final class GDBSession {
    /// What the caller does after sending the reply (if any).
    public enum Action: Equatable, Sendable {
        /// Nothing: wait for the next packet.
        case none
        /// Let the machine run; call `stopReply(for:)` when it stops and send that.
        case resume(GDBResume)
        /// The client detached: resume the machine with every breakpoint removed, close the link.
        case detach
        /// The client asked to kill the machine: power it off.
        case kill
    }

    public struct Outcome: Equatable, Sendable {
        /// The unframed reply payload, nil when the protocol sends none (`c`, `s`, `k`).
        public var reply: [UInt8]?
        public var action: Action

        init(_ reply: String, _ action: Action = .none) { self.reply = Array(reply.utf8); self.action = action }
        init(bytes: [UInt8], _ action: Action = .none) { self.reply = bytes; self.action = action }
        init(noReply action: Action) { self.reply = nil; self.action = action }
    }

    public let target: any GDBTarget
    /// Whether `+`/`-` acknowledgements are still exchanged (until `QStartNoAckMode`).
    public private(set) var acknowledging = true

    private let targetXML: [UInt8]
    private let coreRegisters: [GDBRegister]
    private let registersByNumber: [Int: GDBRegister]
    /// `Hg`: the thread `g`, `p`, `m` and friends act on.
    private var generalThread = 1
    /// `Hc`: the thread the legacy `s`/`c` packets act on (0 or -1: the last to stop).
    private var continueThread = 0
    private var lastStop: GDBStopReason = .interrupted(thread: 1)

    public init(target: any GDBTarget, architecture: String = "riscv:rv64") {
        self.target = target
        let registers = target.registers
        targetXML = Array(GDBTargetDescription.xml(architecture: architecture, registers: registers).utf8)
        var byNumber: [Int: GDBRegister] = [:]
        for register in registers { byNumber[register.number] = register }
        registersByNumber = byNumber
        // The `g` packet carries the registers numbered 0, 1, 2, ... up to the first gap; GDB
        // fetches the rest one by one with `p` (remote.c: registers past the g reply's length).
        var core: [GDBRegister] = []
        while let next = byNumber[core.count] { core.append(next) }
        coreRegisters = core
    }

    /// The stop reply for `reason`, which also becomes the thread later packets act on.
    public func stopReply(for reason: GDBStopReason) -> [UInt8] {
        lastStop = reason
        switch reason {
        case .breakpoint(let thread, let hardware):
            generalThread = thread
            return Array("T05thread:\(hex(thread));\(hardware ? "hwbreak" : "swbreak"):;".utf8)
        case .watchpoint(let thread, let kind, let address):
            generalThread = thread
            let name = kind == .readWatchpoint ? "rwatch" : kind == .accessWatchpoint ? "awatch" : "watch"
            return Array("T05thread:\(hex(thread));\(name):\(String(address, radix: 16));".utf8)
        case .stepped(let thread):
            generalThread = thread
            return Array("T05thread:\(hex(thread));".utf8)
        case .interrupted(let thread):
            generalThread = thread
            return Array("T02thread:\(hex(thread));".utf8)  // SIGINT
        case .exited(let status):
            return Array("W\(GDBHex.encode([status]))".utf8)
        }
    }

    /// Answers one packet (its checksum already verified).
    public func handle(_ packet: [UInt8]) -> Outcome {
        guard let first = packet.first else { return Outcome("") }
        let body = packet.dropFirst()
        switch first {
        case UInt8(ascii: "?"):
            return Outcome(bytes: stopReply(for: lastStop))
        case UInt8(ascii: "g"):
            return readAllRegisters()
        case UInt8(ascii: "G"):
            return writeAllRegisters(body)
        case UInt8(ascii: "p"):
            return readRegister(body)
        case UInt8(ascii: "P"):
            return writeRegister(body)
        case UInt8(ascii: "m"):
            return readMemory(body)
        case UInt8(ascii: "M"):
            return writeMemory(body, binary: false)
        case UInt8(ascii: "X"):
            return writeMemory(body, binary: true)
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            return breakpoint(body, insert: first == UInt8(ascii: "Z"))
        case UInt8(ascii: "H"):
            return selectThread(body)
        case UInt8(ascii: "T"):
            guard let thread = parseThread(body), isThread(thread) else { return Outcome("E01") }
            return Outcome("OK")
        case UInt8(ascii: "c"), UInt8(ascii: "C"):
            // An address argument (`c addr`) is rare and deprecated; a signal (`C sig`) has no
            // meaning to a bare machine. Both run on from where the harts are.
            return Outcome(noReply: .resume(.continueAll))
        case UInt8(ascii: "s"), UInt8(ascii: "S"):
            return Outcome(noReply: .resume(GDBResume(stepThread: resolvedContinueThread, othersRun: false)))
        case UInt8(ascii: "D"):
            return Outcome("OK", .detach)
        case UInt8(ascii: "k"):
            return Outcome(noReply: .kill)
        case UInt8(ascii: "q"):
            return query(String(decoding: body, as: UTF8.self))
        case UInt8(ascii: "Q"):
            if String(decoding: body, as: UTF8.self) == "StartNoAckMode" {
                acknowledging = false
                return Outcome("OK")
            }
            return Outcome("")
        case UInt8(ascii: "v"):
            return verbose(String(decoding: body, as: UTF8.self))
        default:
            return Outcome("")  // Unsupported packets get the empty reply (E.1).
        }
    }

    // MARK: Registers

    private func readAllRegisters() -> Outcome {
        var reply = ""
        for register in coreRegisters { reply += registerHex(register, thread: generalThread) }
        return Outcome(reply)
    }

    private func writeAllRegisters(_ body: ArraySlice<UInt8>) -> Outcome {
        guard let bytes = GDBHex.decode(body) else { return Outcome("E01") }
        var offset = 0
        for register in coreRegisters where offset + register.byteSize <= bytes.count {
            let value = littleEndianValue(bytes[offset..<offset + register.byteSize])
            _ = target.writeRegister(register.number, value: value, thread: generalThread)
            offset += register.byteSize
        }
        return Outcome("OK")
    }

    private func readRegister(_ body: ArraySlice<UInt8>) -> Outcome {
        // A number is up to 16 hex digits: past Int.max it names no register (and must not trap).
        guard let number = GDBHex.number(body).flatMap({ Int(exactly: $0) }), let register = registersByNumber[number] else {
            return Outcome("E45")
        }
        return Outcome(registerHex(register, thread: generalThread))
    }

    private func writeRegister(_ body: ArraySlice<UInt8>) -> Outcome {
        let parts = body.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let number = GDBHex.number(parts[0]).flatMap({ Int(exactly: $0) }), let register = registersByNumber[number],
              let bytes = GDBHex.decode(parts[1]), bytes.count == register.byteSize else { return Outcome("E01") }
        return Outcome(target.writeRegister(register.number, value: littleEndianValue(bytes[...]), thread: generalThread) ? "OK" : "E01")
    }

    private func registerHex(_ register: GDBRegister, thread: Int) -> String {
        guard let value = target.readRegister(register.number, thread: thread) else {
            return String(repeating: "x", count: 2 * register.byteSize)  // "unavailable" (E.2 `g`)
        }
        return GDBHex.littleEndian(value, width: register.byteSize)
    }

    private func littleEndianValue(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var value: UInt64 = 0
        for (index, byte) in bytes.enumerated() where index < 8 { value |= UInt64(byte) << (8 * UInt64(index)) }
        return value
    }

    // MARK: Memory

    /// `m addr,length`: as many bytes as are readable from `addr` on; an error only when none is.
    private func readMemory(_ body: ArraySlice<UInt8>) -> Outcome {
        guard let (address, length) = addressAndLength(body) else { return Outcome("E01") }
        guard length > 0 else { return Outcome("") }
        // Each byte is two hex digits in the reply, which must fit our advertised packet size.
        // The length is clamped before it becomes an Int: a client may ask for up to 2^64 - 1.
        let bytes = target.readMemory(address: address, length: Int(min(length, UInt64(GDBPacket.maximumPayload / 2))), thread: generalThread)
        return bytes.isEmpty ? Outcome("E14") : Outcome(GDBHex.encode(bytes))
    }

    /// `M addr,length:hex` and `X addr,length:binary`.
    private func writeMemory(_ body: ArraySlice<UInt8>, binary: Bool) -> Outcome {
        guard let colon = body.firstIndex(of: UInt8(ascii: ":")),
              let (address, length) = addressAndLength(body[body.startIndex..<colon]) else { return Outcome("E01") }
        let encoded = body[(colon + 1)...]
        guard let data = binary ? GDBPacket.unescape(encoded) : GDBHex.decode(encoded), data.count == length else {
            return Outcome("E01")
        }
        if data.isEmpty { return Outcome("OK") }  // `X addr,0:` probes whether X is supported.
        return Outcome(target.writeMemory(address: address, bytes: data, thread: generalThread) ? "OK" : "E14")
    }

    private func addressAndLength(_ text: ArraySlice<UInt8>) -> (UInt64, UInt64)? {
        let parts = text.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
        guard parts.count == 2, let address = GDBHex.number(parts[0]), let length = GDBHex.number(parts[1]) else { return nil }
        return (address, length)
    }

    // MARK: Breakpoints

    /// `Z type,addr,kind` / `z type,addr,kind`: kind is the breakpoint's instruction length (2 or 4
    /// on RISC-V) or the watched length.
    private func breakpoint(_ body: ArraySlice<UInt8>, insert: Bool) -> Outcome {
        let parts = body.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
        guard parts.count >= 3, let typeNumber = GDBHex.number(parts[0]) else { return Outcome("E01") }
        guard let kind = Int(exactly: typeNumber).flatMap(GDBBreakpointKind.init(rawValue:)) else { return Outcome("") }
        // Conditions and commands (";X..." after kind) are target-side extensions we do not claim.
        let kindField = parts[2].split(separator: UInt8(ascii: ";"), maxSplits: 1, omittingEmptySubsequences: false)[0]
        guard let address = GDBHex.number(parts[1]), let length = GDBHex.number(kindField), length > 0 else {
            return Outcome("E01")
        }
        let done = insert ? target.insertBreakpoint(kind, address: address, length: length)
                          : target.removeBreakpoint(kind, address: address, length: length)
        return Outcome(done ? "OK" : "E22")
    }

    // MARK: Threads

    private func selectThread(_ body: ArraySlice<UInt8>) -> Outcome {
        guard let operation = body.first, let thread = parseThread(body.dropFirst()) else { return Outcome("E01") }
        guard thread <= 0 || isThread(thread) else { return Outcome("E01") }
        switch operation {
        case UInt8(ascii: "g"): generalThread = thread > 0 ? thread : generalThread
        case UInt8(ascii: "c"): continueThread = thread
        default: return Outcome("E01")
        }
        return Outcome("OK")
    }

    /// A thread id: hex, or -1 (all), 0 (any).
    private func parseThread(_ text: ArraySlice<UInt8>) -> Int? {
        if text.elementsEqual("-1".utf8) { return -1 }
        guard let value = GDBHex.number(text), value <= UInt64(Int32.max) else { return nil }
        return Int(value)
    }

    private func isThread(_ thread: Int) -> Bool { thread >= 1 && thread <= target.threadCount }

    private var resolvedContinueThread: Int { continueThread > 0 ? continueThread : generalThread }

    private func hex(_ thread: Int) -> String { String(thread, radix: 16) }

    // MARK: Queries

    private func query(_ text: String) -> Outcome {
        if text.hasPrefix("Supported") {
            return Outcome("PacketSize=\(String(GDBPacket.maximumPayload, radix: 16));qXfer:features:read+;swbreak+;hwbreak+;vContSupported+;QStartNoAckMode+")
        }
        if text.hasPrefix("Xfer:features:read:") { return transferFeatures(String(text.dropFirst("Xfer:features:read:".count))) }
        switch text {
        case "C": return Outcome("QC\(hex(generalThread))")
        case "fThreadInfo": return Outcome("m" + (1...target.threadCount).map(hex).joined(separator: ","))
        case "sThreadInfo": return Outcome("l")
        case "Attached": return Outcome("1")  // We attached to an existing machine: detach leaves it running.
        case "Symbol::": return Outcome("OK")
        default: break
        }
        if text.hasPrefix("ThreadExtraInfo,") {
            guard let thread = parseThread(ArraySlice(text.dropFirst("ThreadExtraInfo,".count).utf8)), isThread(thread) else {
                return Outcome("E01")
            }
            return Outcome(GDBHex.encode(target.threadDescription(thread).utf8))
        }
        if text.hasPrefix("Rcmd,") {
            guard let command = GDBHex.decode(Array(text.dropFirst("Rcmd,".count).utf8)) else { return Outcome("E01") }
            let output = target.monitor(String(decoding: command, as: UTF8.self))
            return output.isEmpty ? Outcome("OK") : Outcome(GDBHex.encode(output.utf8))
        }
        return Outcome("")
    }

    /// `qXfer:features:read:annex:offset,length` (E.4): `m` + a chunk while more follows, `l` + the
    /// last chunk.
    private func transferFeatures(_ request: String) -> Outcome {
        let parts = request.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0] == "target.xml" else { return Outcome("E00") }
        guard let (offset, length) = addressAndLength(ArraySlice(parts[1].utf8)) else { return Outcome("E01") }
        guard offset <= UInt64(targetXML.count) else { return Outcome("E01") }
        let start = Int(offset)
        let end = min(targetXML.count, start + Int(min(length, UInt64(GDBPacket.maximumPayload / 2))))
        let chunk = GDBPacket.escape(Array(targetXML[start..<end]))
        return Outcome(bytes: [UInt8(ascii: end < targetXML.count ? "m" : "l")] + chunk)
    }

    // MARK: v packets

    private func verbose(_ text: String) -> Outcome {
        if text == "Cont?" { return Outcome("vCont;c;C;s;S") }
        if text.hasPrefix("Cont;") { return vCont(text.dropFirst("Cont;".count)) }
        if text.hasPrefix("Kill") { return Outcome("OK", .kill) }
        return Outcome("")  // vMustReplyEmpty and everything we do not implement.
    }

    /// `vCont;action[:thread];...` (E.2): the leftmost action that names a thread applies to it;
    /// an action without a thread applies to every other thread.
    private func vCont(_ actions: Substring) -> Outcome {
        var step: Int?
        var othersRun = false
        for action in actions.split(separator: ";") {
            let parts = action.split(separator: ":", maxSplits: 1)
            guard let letter = parts.first?.first else { return Outcome("E01") }
            var thread: Int?
            if parts.count == 2 {
                guard let parsed = parseThread(ArraySlice(parts[1].utf8)) else { return Outcome("E01") }
                thread = parsed > 0 ? parsed : nil
            }
            switch letter {
            case "s", "S":
                if step == nil { step = thread ?? resolvedContinueThread }
            case "c", "C":
                if thread == nil { othersRun = true } else if step == nil { othersRun = true }
            case "t":
                break  // Stop requests are for non-stop mode; in all-stop everything is stopped.
            default:
                return Outcome("E01")
            }
        }
        if let step, !isThread(step) { return Outcome("E01") }
        return Outcome(noReply: .resume(GDBResume(stepThread: step, othersRun: othersRun || step == nil)))
    }
}

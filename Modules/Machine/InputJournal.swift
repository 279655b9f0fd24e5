import Devices
import Foundation
import IRQ
import Memory

/// Record and replay (`--record FILE`, `--replay FILE`; docs/architecture.md, "Record and
/// replay"): under the virtual clock a run is a function of its inputs, so writing down every
/// input that comes from outside, with the virtual time it arrived, is enough to run it again.
///
/// What comes from outside: bytes the guest's UART or HTIF console takes from the host, input
/// plugins hand the host through their external channels (plugin.h `host->external`, ABI 1.4),
/// and what `usb.host` devices answer (USBHostJournal.swift). Each is journaled at the clock's
/// units (instructions) when the machine delivered it, with how much the guest had printed by
/// then (a count and an FNV-1a hash), so a replay checks it is still on the recorded path at
/// every input, and at the end (the exit, the time and the whole output). What the guest sends
/// to a host device or the network is journaled too (`sent`), and a replay checks it. Frames of
/// user networking are journaled as well (JournaledNetwork.swift). Devices that take other host
/// input (`pci.host`) are refused by `InputJournal.refusal(for:)` until the journal covers them.
///
/// The file is text, one event per line, so a person can read and edit it:
///
///     backplane-journal 3
///     machine virt harts 1 ips 1000000000
///     serial 123456789/1 out 1234 9f3a0c1d22e4b5a6 68656c700d
///     input 123999000 out 1240 0a3a0c1d22e4b5a6 plugin:acme_feed/feed0 616263
///     end 987654321 out 5678 0123456789abcdef poweroff 0
///
/// `serial UNITS[/POLL] out COUNT HASH BYTES`: at `UNITS` (at the device poll numbered `POLL`
/// among that time's polls, 0 when absent; see `Event.poll`) the guest took `BYTES` (hex), having printed
/// `COUNT` bytes hashing to `HASH`. `input UNITS out COUNT HASH SOURCE BYTES`: at `UNITS` the
/// machine delivered `BYTES` (hex, `-` for none) from outside to `SOURCE`. `sent UNITS out COUNT
/// HASH SOURCE DIGEST`: the guest sent `DIGEST` (hex up to 64 bytes, else `LENGTH:FNV1A64`) to
/// `SOURCE`. `end UNITS out COUNT HASH EXIT`: how the run ended. Version 1 (console input only)
/// and 2 (no poll numbers) journals are read with every input at the first poll of its time.
public final class InputJournal {
    public enum Mode: Sendable { case record, replay }

    /// One journaled event.
    struct Event: Equatable {
        enum Kind: Equatable {
            case serial([UInt8])
            case input(source: String, bytes: [UInt8])
            /// What the guest sent out (checked, not fed): bytes in hex, or "LENGTH:HASH" when long.
            case sent(source: String, digest: String)
            case end(String)
        }
        var units: UInt64
        /// Which of the machine's device polls at `units` (0 for the first) delivered it: a
        /// run may poll several times at one time (a slice that takes an interrupt retires no
        /// instruction; an idle machine waiting for host input polls with its clock stopped),
        /// and a device's state can depend on how many polls it has seen (the UART's
        /// character timeout), so the input must come at the same one.
        var poll: Int = 0
        var outputCount: UInt64
        var outputHash: UInt64
        var kind: Kind
    }

    public let mode: Mode
    let path: String
    /// The header line after the magic: what the run was (board, harts, rate).
    let machineLine: String
    private var timebase: Timebase?
    /// The time of the latest device poll and how many polls have ended at that time.
    private var pollUnits: UInt64 = .max
    private var pollsDone = 0
    /// Output so far: byte count and FNV-1a 64 hash.
    private var outputCount: UInt64 = 0
    private var outputHash: UInt64 = InputJournal.fnvOffset
    // Recording.
    private var fd: Int32 = -1
    private var pending: Event?
    // Replaying.
    private var events: [Event] = []
    /// For each event, the index of the first input (serial or input) at or after it; events.count
    /// when none is left.
    private var nextInput: [Int] = []
    private var next = 0
    private var nextByte = 0
    /// The first divergence of a replay from its recording.
    public private(set) var divergence: String?
    /// Why the run cannot be journaled on (`refuse`), in either mode.
    public private(set) var refusal: String?

    static let magic = "backplane-journal 3"
    /// Journals this version reads: 1 (console input only) and 2 (no poll numbers: every
    /// input at the first poll of its time) are subsets of 3.
    static let readableVersions = [1, 2, 3]
    /// 256 MiB: about ten million input events.
    static let largestJournal = 256 << 20
    static let fnvOffset: UInt64 = 0xcbf2_9ce4_8422_2325
    static let fnvPrime: UInt64 = 0x0000_0100_0000_01b3

    /// Starts recording to `path` (created or truncated in place) for a machine described by
    /// `machine` (board name, harts, rate).
    public init(recordingTo path: String, machine: String) throws(JournalError) {
        mode = .record
        self.path = path
        machineLine = machine
        do { fd = try OutputFile.open(path) } catch { throw .cannotWrite(path: path, reason: "\(error)") }
        writeLine(InputJournal.magic)
        writeLine("machine " + machine)
    }

    /// Loads the recording at `path` for a machine described by `machine`, which must be the one
    /// it was recorded on.
    public init(replaying path: String, machine: String) throws(JournalError) {
        mode = .replay
        self.path = path
        machineLine = machine
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw .cannotRead(path: path, reason: String(cString: strerror(errno))) }
        var status = stat()
        let statted = fstat(descriptor, &status) == 0
        close(descriptor)
        // A journal is text read whole: an endless or huge file is refused, never read.
        guard statted, status.st_mode & S_IFMT == S_IFREG else { throw .cannotRead(path: path, reason: "not a regular file") }
        guard status.st_size <= InputJournal.largestJournal else {
            throw .cannotRead(path: path, reason: "\(status.st_size) bytes is more than a journal's \(InputJournal.largestJournal)")
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw .cannotRead(path: path, reason: "not a text file")
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let first = lines.first, first.hasPrefix("backplane-journal ") else {
            throw .malformed(path: path, line: 1, reason: "not a Backplane journal (expected '\(InputJournal.magic)')")
        }
        let version = first.dropFirst("backplane-journal ".count)
        guard let number = Int(version), InputJournal.readableVersions.contains(number) else {
            throw .malformed(path: path, line: 1, reason: "journal version \(version.prefix(20)); this Backplane reads versions \(InputJournal.readableVersions.dropLast().map(String.init).joined(separator: ", ")) and \(InputJournal.readableVersions.last!)")
        }
        guard lines.count > 1, lines[1].hasPrefix("machine ") else {
            throw .malformed(path: path, line: 2, reason: "expected 'machine BOARD harts N ips N'")
        }
        let recorded = String(lines[1].dropFirst("machine ".count))
        guard recorded == machine else {
            throw .otherMachine(path: path, recorded: recorded, this: machine)
        }
        for (index, line) in lines.enumerated().dropFirst(2) where !line.isEmpty && !line.hasPrefix("#") {
            guard let event = InputJournal.parse(line) else {
                throw .malformed(path: path, line: index + 1, reason: "cannot read '\(line.prefix(60))'")
            }
            if let last = events.last, event.units < last.units {
                throw .malformed(path: path, line: index + 1, reason: "time \(event.units) is before the previous event's \(last.units)")
            }
            if let last = events.last, case .end = last.kind {
                throw .malformed(path: path, line: index + 1, reason: "an event after the end")
            }
            events.append(event)
        }
        nextInput = [Int](repeating: events.count, count: events.count + 1)
        for index in stride(from: events.count - 1, through: 0, by: -1) {
            switch events[index].kind {
            case .serial, .input: nextInput[index] = index
            case .sent, .end: nextInput[index] = nextInput[index + 1]
            }
        }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// The clock the journal stamps and compares times with (the machine's, once it is built).
    public func attach(_ timebase: Timebase) { self.timebase = timebase }

    /// Wraps the console backend so its input goes through the journal.
    public func wrap(_ backend: any SerialBackend) -> any SerialBackend { JournaledSerialBackend(backend, journal: self) }

    private var now: UInt64 { timebase?.units ?? 0 }

    /// The machine polled its devices (Machine.pollDevices): inputs delivered from now on at
    /// this time come at the next poll.
    public func devicesPolled() {
        let units = now
        if units == pollUnits {
            pollsDone += 1
        } else {
            pollUnits = units
            pollsDone = 1
        }
    }

    /// The device poll running now (or, outside a poll, the next one) at the current time: how
    /// many polls have ended at this time.
    private var pollIndex: Int { pollUnits == now ? pollsDone : 0 }

    // MARK: Console traffic (JournaledSerialBackend)

    func noteOutput(_ byte: UInt8) {
        outputCount &+= 1
        outputHash = (outputHash ^ UInt64(byte)) &* InputJournal.fnvPrime
    }

    /// Recording: `byte` came from the host now.
    func recordInput(_ byte: UInt8) {
        let units = now
        let poll = pollIndex
        if var event = pending, event.units == units, event.poll == poll, event.outputCount == outputCount, case .serial(let bytes) = event.kind {
            event.kind = .serial(bytes + [byte])
            pending = event
            return
        }
        flush()
        pending = Event(units: units, poll: poll, outputCount: outputCount, outputHash: outputHash, kind: .serial([byte]))
    }

    /// Replaying: the byte the recording says the guest takes now, if any.
    func replayInput() -> UInt8? {
        guard divergence == nil, next < events.count, case .serial(let bytes) = events[next].kind else { return nil }
        let event = events[next]
        guard isDue(event, checkingOutput: nextByte == 0, before: "input \(InputJournal.describe(bytes))") else { return nil }
        let byte = bytes[nextByte]
        nextByte += 1
        if nextByte == bytes.count {
            next += 1
            nextByte = 0
        }
        return byte
    }

    /// Replaying: whether the recorded input `event` is due at this time and poll. Input whose
    /// time or poll has passed was missed, and input due after other output than the recording
    /// had printed by then (`checkingOutput`) arrives on another path: both are divergences.
    private func isDue(_ event: Event, checkingOutput: Bool, before input: @autoclosure () -> String) -> Bool {
        let units = now
        let poll = pollIndex
        guard event.units == units ? event.poll <= poll : event.units < units else { return false }
        guard event.units == units, event.poll == poll else {
            if let missed = missed(event) { diverge(missed) }
            return false
        }
        guard !checkingOutput || (event.outputCount == outputCount && event.outputHash == outputHash) else {
            diverge("at time \(units), before \(input()), the guest had printed \(outputCount) bytes (hash \(InputJournal.hex(outputHash))) where the recording says \(event.outputCount) (hash \(InputJournal.hex(event.outputHash)))")
            return false
        }
        return true
    }

    /// What a replay that has gone past `event` without meeting it reports (nil for the end).
    private func missed(_ event: Event) -> String? {
        switch event.kind {
        case .serial(let bytes):
            return "the recording gives the guest input \(InputJournal.describe(bytes)) at time \(InputJournal.describe(event)), but the guest did not take it before \(now)/\(pollIndex)"
        case .input(let source, let bytes):
            return "the recording delivers \(InputJournal.describe(bytes)) to \(source) at time \(InputJournal.describe(event)), but the run was not there to take it before \(now)/\(pollIndex)"
        case .sent(let source, let digest):
            return "the recording has the guest send \(InputJournal.describe(digest: digest)) to \(source) at time \(event.units), but it had not by \(now)"
        case .end:
            return nil
        }
    }

    /// Replaying, after the devices were polled: recorded input whose time has passed without
    /// the guest taking it is a divergence (the recorded run took it then).
    public func check() -> String? {
        if let refusal { return refusal }
        guard mode == .replay, divergence == nil, next < events.count else { return divergence }
        let event = events[next]
        switch event.kind {
        case .serial, .input:
            // Missed: its time has passed, or the poll that should have delivered it has ended.
            guard event.units < now || (event.units == now && event.poll < pollIndex) else { return divergence }
        case .sent, .end:
            guard event.units < now else { return divergence }
        }
        if let missed = missed(event) { diverge(missed) }
        return divergence
    }

    /// Replaying: units from now until the next recorded input (0: due now); nil when none is
    /// left. An idle machine jumps there instead of waiting for host input. Slices are not cut
    /// here: inputs are delivered at device polls, and a replay that follows the recording
    /// polls at the same times, by the same rules; cutting a slice the recording ran whole
    /// would change where the harts' slices end (with two harts, which one runs when).
    public func unitsUntilNextInput() -> UInt64? {
        guard mode == .replay, divergence == nil, next < events.count else { return nil }
        // What the guest sends happens inside slices (a doorbell write), not at their ends: no
        // deadline for it, or the replay would cut slices the recording ran whole.
        let index = nextInput[next]
        guard index < events.count else { return nil }
        let units = events[index].units
        return units > now ? units - now : 0
    }

    /// Replaying: the recorded run was stopped from outside (the user quit, `--timeout`) at this
    /// time, so this one stops here too.
    public func stopDue() -> MachineExit? {
        guard mode == .replay, divergence == nil, next < events.count, case .end(let exit) = events[next].kind,
              events[next].units <= now else { return nil }
        switch exit {
        case "quit": return .userQuit
        case "timeout": return .timeout
        default: return nil
        }
    }

    /// The run ended with `exit` (described as the journal writes it): records the end, or
    /// checks it against the recording. Returns a divergence, if any.
    public func finish(_ exit: String) -> String? {
        let units = now
        switch mode {
        case .record:
            flush()
            writeLine("end \(units) out \(outputCount) \(InputJournal.hex(outputHash)) \(exit)")
            return nil
        case .replay:
            if let divergence { return divergence }
            guard next < events.count else {
                return "the recording ends without an 'end' line"
            }
            let event = events[next]
            guard case .end(let recordedExit) = event.kind else {
                diverge("the run ended (\(exit)) at time \(units), but the recording still has input for time \(event.units)")
                return divergence
            }
            if recordedExit != exit || event.units != units || event.outputCount != outputCount || event.outputHash != outputHash {
                diverge("the run ended with \(exit) at time \(units) having printed \(outputCount) bytes (hash \(InputJournal.hex(outputHash))); the recording ended with \(recordedExit) at time \(event.units) having printed \(event.outputCount) (hash \(InputJournal.hex(event.outputHash)))")
            }
            return divergence
        }
    }

    // MARK: The file

    private func flush() {
        guard let event = pending else { return }
        pending = nil
        if case .serial(let bytes) = event.kind {
            writeLine("serial \(InputJournal.describe(event)) out \(event.outputCount) \(InputJournal.hex(event.outputHash)) \(bytes.map { InputJournal.hex($0) }.joined())")
        }
    }

    private func write(_ event: Event) {
        let prefix = "\(InputJournal.describe(event)) out \(event.outputCount) \(InputJournal.hex(event.outputHash))"
        switch event.kind {
        case .input(let source, let bytes):
            let text = bytes.isEmpty ? "-" : bytes.map { InputJournal.hex($0) }.joined()
            writeLine("input \(prefix) \(source) \(text)")
        case .sent(let source, let digest):
            writeLine("sent \(prefix) \(source) \(digest)")
        case .serial, .end:
            break
        }
    }

    /// Unbuffered, so a recording killed mid-run keeps everything up to its last input.
    private func writeLine(_ line: String) {
        guard fd >= 0 else { return }
        _ = OutputFile.writeAll(fd, Array((line + "\n").utf8))
    }

    static func parse(_ line: String) -> Event? {
        let words = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard words.count >= 6, words[2] == "out", let (units, poll) = time(words[1]), let count = UInt64(words[3]),
              words[4].count == 16, let hash = UInt64(words[4], radix: 16) else { return nil }
        guard poll == 0 || words[0] == "serial" || words[0] == "input" else { return nil }
        switch words[0] {
        case "serial":
            guard words.count == 6, let bytes = bytes(hex: words[5]), !bytes.isEmpty else { return nil }
            return Event(units: units, poll: poll, outputCount: count, outputHash: hash, kind: .serial(bytes))
        case "input":
            guard words.count == 7, isSource(words[5]) else { return nil }
            if words[6] == "-" { return Event(units: units, poll: poll, outputCount: count, outputHash: hash, kind: .input(source: words[5], bytes: [])) }
            guard let bytes = bytes(hex: words[6]), !bytes.isEmpty else { return nil }
            return Event(units: units, poll: poll, outputCount: count, outputHash: hash, kind: .input(source: words[5], bytes: bytes))
        case "sent":
            guard words.count == 7, isSource(words[5]), isDigest(words[6]) else { return nil }
            return Event(units: units, poll: poll, outputCount: count, outputHash: hash, kind: .sent(source: words[5], digest: words[6]))
        case "end":
            return Event(units: units, poll: poll, outputCount: count, outputHash: hash, kind: .end(words[5...].joined(separator: " ")))
        default:
            return nil
        }
    }

    /// The largest poll number a journal may give.
    static let largestPoll = 100_000_000

    /// `UNITS` or `UNITS/POLL`: a time and which device poll at it (0 when absent).
    static func time(_ word: String) -> (UInt64, Int)? {
        let parts = word.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let units = UInt64(parts[0]) else { return nil }
        guard parts.count == 2 else { return (units, 0) }
        // A replay makes that many polls at one time; a machine waiting for input with its clock
        // stopped polls about 200 times a second, so this is days of waiting.
        guard let poll = Int(parts[1]), poll > 0, poll <= largestPoll else { return nil }
        return (units, poll)
    }

    /// An event's time as the journal writes it: `UNITS`, or `UNITS/POLL` after the first poll.
    static func describe(_ event: Event) -> String { event.poll == 0 ? "\(event.units)" : "\(event.units)/\(event.poll)" }

    /// Payloads up to this many bytes are journaled whole when sent; longer ones as length and hash.
    static let largestWholeDigest = 64

    /// How a sent payload is journaled and compared: its bytes in hex (`-` for none), or
    /// `LENGTH:FNV1A64` when longer than `largestWholeDigest`.
    static func digest(_ bytes: [UInt8]) -> String {
        if bytes.isEmpty { return "-" }
        if bytes.count <= largestWholeDigest { return bytes.map { hex($0) }.joined() }
        var hash = fnvOffset
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* fnvPrime }
        return "\(bytes.count):\(hex(hash))"
    }

    static func isDigest(_ word: String) -> Bool {
        if word == "-" { return true }
        let parts = word.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 2 { return Int(parts[0]) != nil && parts[1].count == 16 && UInt64(parts[1], radix: 16) != nil }
        return bytes(hex: word).map { !$0.isEmpty && $0.count <= largestWholeDigest } ?? false
    }

    /// A digest as a divergence message shows it.
    static func describe(digest: String) -> String {
        if digest == "-" { return "no bytes" }
        if let colon = digest.firstIndex(of: ":") { return "\(digest[..<colon]) bytes (hash \(digest[digest.index(after: colon)...]))" }
        return bytes(hex: digest).map { describe($0) } ?? digest
    }

    /// A source name: printable, no spaces ("plugin:acme_feed/feed0").
    static func isSource(_ word: String) -> Bool {
        !word.isEmpty && word.utf8.count <= 200 && word.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7f }
    }

    static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }

    static func hex(_ value: UInt64) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: 16 - text.count) + text
    }

    static func hex(_ byte: UInt8) -> String { byte < 16 ? "0" + String(byte, radix: 16) : String(byte, radix: 16) }

    static func describe(_ bytes: [UInt8]) -> String {
        if bytes.isEmpty { return "no bytes" }
        if bytes.count > 32 { return describe(Array(bytes.prefix(32))) + " ... (\(bytes.count) bytes)" }
        let text = String(decoding: bytes, as: UTF8.self)
        return bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) ? "'\(text)'" : bytes.map { hex($0) }.joined(separator: " ")
    }
}

extension InputJournal: ExternalInputJournal {
    public var isReplaying: Bool { mode == .replay }

    public func recordInput(source: String, bytes: [UInt8]) {
        guard mode == .record else { return }
        flush()
        write(Event(units: now, poll: pollIndex, outputCount: outputCount, outputHash: outputHash, kind: .input(source: source, bytes: bytes)))
    }

    public func replayInput(prefix: String) -> (source: String, bytes: [UInt8])? {
        guard mode == .replay, divergence == nil, next < events.count, nextByte == 0,
              case .input(let source, let bytes) = events[next].kind, source.hasPrefix(prefix) else { return nil }
        guard isDue(events[next], checkingOutput: true, before: "input \(InputJournal.describe(bytes)) to \(source)") else { return nil }
        next += 1
        return (source, bytes)
    }

    public func checkSent(source: String, bytes: [UInt8]) {
        let digest = InputJournal.digest(bytes)
        switch mode {
        case .record:
            flush()
            write(Event(units: now, outputCount: outputCount, outputHash: outputHash, kind: .sent(source: source, digest: digest)))
        case .replay:
            guard divergence == nil, nextByte == 0 else { return }
            let units = now
            let what = "the guest sent \(InputJournal.describe(digest: digest)) to \(source) at time \(units)"
            guard next < events.count else { return diverge(what + ", after the end of the recording") }
            let event = events[next]
            switch event.kind {
            case .sent(let recordedSource, let recordedDigest) where recordedSource == source && event.units == units:
                guard recordedDigest == digest else {
                    return diverge(what + "; the recording has \(InputJournal.describe(digest: recordedDigest))")
                }
                guard event.outputCount == outputCount, event.outputHash == outputHash else {
                    return diverge(what + " having printed \(outputCount) bytes (hash \(InputJournal.hex(outputHash))) where the recording says \(event.outputCount) (hash \(InputJournal.hex(event.outputHash)))")
                }
                next += 1
            case .sent(let recordedSource, let recordedDigest):
                diverge(what + "; the recording has it send \(InputJournal.describe(digest: recordedDigest)) to \(recordedSource) at time \(event.units)")
            case .serial(let bytes):
                diverge(what + "; the recording gives console input \(InputJournal.describe(bytes)) at time \(event.units) first")
            case .input(let recordedSource, let bytes):
                diverge(what + "; the recording delivers \(InputJournal.describe(bytes)) to \(recordedSource) at time \(event.units) first")
            case .end(let exit):
                diverge(what + "; the recording ends (\(exit)) at time \(event.units)")
            }
        }
    }

    public func refuse(_ message: String) {
        if refusal == nil { refusal = "--\(mode == .record ? "record" : "replay"): " + message }
    }

    public func diverge(_ message: String) {
        if divergence == nil { divergence = "replay of \(path) diverged: " + message }
    }
}

extension InputJournal {
    /// Why a board cannot be recorded or replayed yet: the first device that takes input from the
    /// host that the journal does not cover. nil: every input is the console's.
    public static func refusal(for board: Board) -> String? {
        // usb.host (USBHostJournal.swift), user networking (JournaledNetwork.swift) and pci.host
        // (its description; with vfio: true its VFIO calls, VFIOJournal.swift) are journaled.
        // BAR access through sysfs (pci.host with bars: true) is not.
        guard let device = board.devices.first(where: {
            $0.type == HostPCIKind.name && $0.properties["bars"]?.boolean == true && $0.properties["vfio"]?.boolean != true
        }) else { return nil }
        return "device '\(device.name)' (\(device.type) with bars: true) reads the host device's BARs through sysfs, which the journal does not record (use vfio: true, or leave bars off)"
    }

    /// The first device of `board` that talks to something on the host that runs in host time
    /// (a passed-through device, the host's network), and what that is. Such a board runs under
    /// the host clock unless `--clock virtual` is asked for: a guest idling while a host device
    /// works would otherwise see the device take as long as the virtual clock skips.
    public static func hostInputDevice(in board: Board) -> (device: BoardDevice, what: String)? {
        let hostInput: [String: String] = [
            USBHostKind.name: "a host USB device",
            HostPCIKind.name: "a host PCI device",
            VirtioNetKind.name: "user networking",
        ]
        for device in board.devices {
            if let what = hostInput[device.type] { return (device, what) }
        }
        return nil
    }

    /// How the journal writes an exit.
    public static func describe(_ exit: MachineExit) -> String {
        switch exit {
        case .poweroff(let code): return "poweroff \(code)"
        case .timeout: return "timeout"
        case .userQuit: return "quit"
        case .killedByDebugger: return "killed"
        case .replayDiverged: return "diverged"
        }
    }
}

/// Why a journal could not be opened.
public enum JournalError: Error, Equatable, CustomStringConvertible {
    case cannotWrite(path: String, reason: String)
    case cannotRead(path: String, reason: String)
    case malformed(path: String, line: Int, reason: String)
    case otherMachine(path: String, recorded: String, this: String)

    public var description: String {
        switch self {
        case .cannotWrite(let path, let reason): return "--record: cannot write \(path): \(reason)"
        case .cannotRead(let path, let reason): return "--replay: cannot read \(path): \(reason)"
        case .malformed(let path, let line, let reason): return "--replay: \(path):\(line): \(reason)"
        case .otherMachine(let path, let recorded, let this):
            return "--replay: \(path) was recorded on '\(recorded)', this run is '\(this)'"
        }
    }
}

/// The console backend seen through the journal: output is counted and hashed; input is
/// recorded as it arrives, or (replaying) comes from the recording alone.
final class JournaledSerialBackend: SerialBackend {
    let inner: any SerialBackend
    let journal: InputJournal

    init(_ inner: any SerialBackend, journal: InputJournal) {
        self.inner = inner
        self.journal = journal
    }

    func write(_ byte: UInt8) {
        journal.noteOutput(byte)
        inner.write(byte)
    }

    func read() -> UInt8? {
        switch journal.mode {
        case .record:
            guard let byte = inner.read() else { return nil }
            journal.recordInput(byte)
            return byte
        case .replay:
            return journal.replayInput()
        }
    }

    var quitRequested: Bool { inner.quitRequested }
}

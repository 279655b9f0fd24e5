/// The framing layer of the GDB remote serial protocol (GDB manual, "Overview" of Appendix E):
/// packets are `$payload#cc` with `cc` the two-hex-digit modulo-256 sum of the payload bytes; the
/// receiver answers `+` (good checksum) or `-` (resend) until `QStartNoAckMode`; a lone 0x03 byte
/// outside a packet is the client's interrupt (Ctrl-C).

/// What one byte-stream chunk from the client turns into.
public enum GDBInput: Equatable, Sendable {
    /// A packet whose checksum matched; `payload` is still escaped (only binary packets such as
    /// `X` carry escapes, and they undo them on their data part: `GDBPacket.unescape`).
    case packet([UInt8])
    /// A packet whose checksum did not match: the client must be asked to resend (`-`).
    case corrupt
    /// The client's interrupt request (0x03 outside a packet).
    case interrupt
    /// `+` or `-` from the client acknowledging our last packet.
    case ack
    case nack
}

/// Incremental packet reader: feed it whatever the socket delivered, in chunks of any size.
/// Bounded: a packet longer than `maximumPayload` is dropped as corrupt instead of growing the
/// buffer, so a client that never sends `#` cannot make the host allocate without limit.
public struct GDBPacketReader: Sendable {
    public let maximumPayload: Int

    private enum State: Sendable { case idle, payload, checksumHigh, checksumLow }
    private var state: State = .idle
    private var payload: [UInt8] = []
    private var sum: UInt8 = 0
    private var received: UInt8 = 0
    private var overflowed = false

    public init(maximumPayload: Int = GDBPacket.maximumPayload) {
        self.maximumPayload = maximumPayload
    }

    /// Parses `bytes` and returns the inputs completed by them, in order.
    public mutating func feed<Bytes: Sequence>(_ bytes: Bytes) -> [GDBInput] where Bytes.Element == UInt8 {
        var inputs: [GDBInput] = []
        for byte in bytes {
            switch state {
            case .idle:
                switch byte {
                case UInt8(ascii: "$"): startPacket()
                case 0x03: inputs.append(.interrupt)
                case UInt8(ascii: "+"): inputs.append(.ack)
                case UInt8(ascii: "-"): inputs.append(.nack)
                default: break  // Noise between packets is ignored, as GDB's own stubs do.
                }
            case .payload:
                if byte == UInt8(ascii: "#") {
                    state = .checksumHigh
                } else if byte == UInt8(ascii: "$") {
                    startPacket()  // A new packet start abandons a truncated one.
                } else {
                    sum &+= byte
                    if payload.count < maximumPayload { payload.append(byte) } else { overflowed = true }
                }
            case .checksumHigh:
                guard let high = GDBHex.nibble(byte) else { state = .idle; inputs.append(.corrupt); continue }
                received = high << 4
                state = .checksumLow
            case .checksumLow:
                state = .idle
                guard let low = GDBHex.nibble(byte) else { inputs.append(.corrupt); continue }
                received |= low
                inputs.append(received == sum && !overflowed ? .packet(payload) : .corrupt)
            }
        }
        return inputs
    }

    private mutating func startPacket() {
        state = .payload
        payload.removeAll(keepingCapacity: true)
        sum = 0
        overflowed = false
    }
}

public enum GDBPacket {
    /// The largest payload we accept and advertise (`PacketSize` in qSupported, hex). Big enough
    /// for a `G` packet of every register and for GDB's default 16 KiB memory transfers.
    public static let maximumPayload = 0x4000

    /// `$payload#cc` for a payload that is already escaped where it needs to be.
    public static func frame(_ payload: [UInt8]) -> [UInt8] {
        var sum: UInt8 = 0
        for byte in payload { sum &+= byte }
        var framed: [UInt8] = [UInt8(ascii: "$")]
        framed.reserveCapacity(payload.count + 4)
        framed += payload
        framed.append(UInt8(ascii: "#"))
        framed += GDBHex.byte(sum)
        return framed
    }

    public static func frame(_ payload: String) -> [UInt8] { frame(Array(payload.utf8)) }

    /// Binary data escaping (GDB manual E.1): `#`, `$`, `}` and `*` are sent as `}` followed by the
    /// byte XOR 0x20 (`*` would otherwise start run-length encoding).
    public static func escape(_ data: [UInt8]) -> [UInt8] {
        var escaped: [UInt8] = []
        escaped.reserveCapacity(data.count)
        for byte in data {
            switch byte {
            case UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "}"), UInt8(ascii: "*"):
                escaped.append(UInt8(ascii: "}"))
                escaped.append(byte ^ 0x20)
            default:
                escaped.append(byte)
            }
        }
        return escaped
    }

    /// Undoes `escape`; nil for a trailing lone `}`.
    public static func unescape<Bytes: Collection>(_ data: Bytes) -> [UInt8]? where Bytes.Element == UInt8 {
        var plain: [UInt8] = []
        plain.reserveCapacity(data.count)
        var escaping = false
        for byte in data {
            if escaping {
                plain.append(byte ^ 0x20)
                escaping = false
            } else if byte == UInt8(ascii: "}") {
                escaping = true
            } else {
                plain.append(byte)
            }
        }
        return escaping ? nil : plain
    }
}

/// Hex as the protocol writes it: lower-case digits, bytes in memory order.
public enum GDBHex {
    static let digits = Array("0123456789abcdef".utf8)

    @inline(__always)
    public static func nibble(_ ascii: UInt8) -> UInt8? {
        switch ascii {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return ascii - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return ascii - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return ascii - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    public static func byte(_ value: UInt8) -> [UInt8] {
        [digits[Int(value >> 4)], digits[Int(value & 0xF)]]
    }

    /// `bytes` as hex, two digits each.
    public static func encode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var ascii: [UInt8] = []
        ascii.reserveCapacity(2 * bytes.underestimatedCount)
        for value in bytes {
            ascii.append(digits[Int(value >> 4)])
            ascii.append(digits[Int(value & 0xF)])
        }
        return String(decoding: ascii, as: UTF8.self)
    }

    /// An even-length hex string back to bytes; nil if it is odd or holds a non-hex digit.
    public static func decode<Bytes: Collection>(_ hex: Bytes) -> [UInt8]? where Bytes.Element == UInt8 {
        guard hex.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(hex.count / 2)
        var iterator = hex.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            guard let h = nibble(high), let l = nibble(low) else { return nil }
            bytes.append(h << 4 | l)
        }
        return bytes
    }

    /// A hex number as the protocol writes addresses, lengths and thread ids (no prefix, at most
    /// 16 digits); nil when empty, too long or not hex.
    public static func number<Bytes: Collection>(_ hex: Bytes) -> UInt64? where Bytes.Element == UInt8 {
        guard !hex.isEmpty, hex.count <= 16 else { return nil }
        var value: UInt64 = 0
        for digit in hex {
            guard let n = nibble(digit) else { return nil }
            value = value << 4 | UInt64(n)
        }
        return value
    }

    /// `value` as `width` bytes little-endian (the target's byte order), hex-encoded: how RISC-V
    /// registers travel in `g`/`p` packets.
    public static func littleEndian(_ value: UInt64, width: Int) -> String {
        encode((0..<width).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) })
    }
}

// libFuzzer target: the control socket's protocol (docs/debugging.md, docs/reliability.md) from
// both ends. A hostile client's bytes go through the server's line reader, whole and in chunks of
// 1 to 8 bytes, which must agree and keep every line within the bound; each command and its answer
// (as output and as an error) must encode to one line that `backplane ctl` decodes back to the
// same reply. Then the bytes are what a hostile server answers `backplane ctl` with: decoding
// anything must give a reply or "no answer", never a trap.
//
// Machine+Control's command parsing needs a running machine: `Fuzz/control_machine.py` drives it
// through the socket of the release binary.
import Control

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzControlProtocol(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    // A small line bound in some runs, so that overlong lines are reached.
    let maximum = data[0] & 1 != 0 ? 32 : ControlServer.maximumLine

    var whole = ControlLineReader(maximumLine: maximum)
    let lines = whole.feed(bytes)
    // The same bytes in chunks of 1 to 8 (as recv() may cut them) must give the same lines.
    let chunk = Int(data[0] >> 1 & 7) + 1
    var incremental = ControlLineReader(maximumLine: maximum)
    var chunked: [ControlLineReader.Line] = []
    for start in stride(from: 0, to: bytes.count, by: chunk) {
        chunked += incremental.feed(bytes[start..<min(bytes.count, start + chunk)])
    }
    precondition(lines == chunked, "the reader's result depends on how the bytes were split")
    let newlines = bytes.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
    precondition(lines.count == newlines, "\(lines.count) lines from \(newlines) newlines")

    for line in lines {
        guard case .command(let text) = line else { continue }
        precondition(text.utf8.count <= 3 * maximum && !text.contains("\n"), "a line past the bound, or with its newline")
        guard let command = ControlServer.command(text) else { continue }
        precondition(!command.isEmpty && command.first?.isWhitespace == false && command.last?.isWhitespace == false)
        for reply in [ControlReply.output(command + "\n"), .failure(command)] {
            let encoded = ControlServer.encode(reply)
            precondition(!encoded.utf8.contains(UInt8(ascii: "\n")), "an answer of more than one line")
            precondition(ControlClient.decode(Array(encoded.utf8)) == reply, "an answer did not decode to itself: \(encoded)")
        }
    }
    // Whatever a server at the path answers: a reply or nothing, never a trap.
    _ = ControlClient.decode(bytes)
    return 0
}

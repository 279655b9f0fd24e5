import Memory
import Virtio

/// A network backend under `--record` / `--replay` (docs/architecture.md "Record and replay").
///
/// Recording, it sits between the device and the real backend (libslirp): every frame the
/// guest transmits is journaled as `sent … net:NAME/tx DIGEST` (whole up to 64 bytes, else
/// length and FNV-1a hash) when the device hands it over, and every frame for the guest as
/// `input … net:NAME/rx FRAME` when it reaches the device. Frames the backend produces inside
/// `send` (slirp answers ARP and some ICMP at once) are held until the next `poll`, between
/// instruction slices, so every received frame arrives at a slice boundary, where a replay can
/// deliver it at the same instruction.
///
/// Replaying, there is no backend at all (no slirp, no sockets, no `hostfwd` listeners): frames
/// the guest transmits are checked against the journal and dropped, and the recorded frames
/// reach the device at their recorded times.
public final class JournaledNetwork: NetworkBackend, NetworkFrameReceiver {
    public weak var receiver: NetworkFrameReceiver?
    /// The real backend; nil when replaying.
    let inner: (any NetworkBackend)?
    let journal: any ExternalInputJournal
    let receivedSource: String
    let sentSource: String
    /// Recording: frames the backend delivered, waiting for the next poll.
    private var held: [[UInt8]] = []

    /// Recording: journals `inner`'s traffic as device `name`.
    public init(recording inner: any NetworkBackend, journal: any ExternalInputJournal, name: String) {
        self.inner = inner
        self.journal = journal
        receivedSource = "net:\(name)/rx"
        sentSource = "net:\(name)/tx"
        inner.receiver = self
    }

    /// Replaying: the journal is the network of device `name`.
    public init(replaying journal: any ExternalInputJournal, name: String) {
        inner = nil
        self.journal = journal
        receivedSource = "net:\(name)/rx"
        sentSource = "net:\(name)/tx"
    }

    public func send(_ frame: UnsafeRawBufferPointer) {
        journal.checkSent(source: sentSource, bytes: [UInt8](frame))
        inner?.send(frame)
    }

    /// From the real backend (recording): held for the next poll.
    public func receive(_ frame: UnsafeRawBufferPointer) { held.append([UInt8](frame)) }

    public func poll() {
        guard let inner else {
            while let (_, frame) = journal.replayInput(prefix: receivedSource) {
                frame.withUnsafeBytes { receiver?.receive($0) }
            }
            return
        }
        inner.poll()
        guard !held.isEmpty else { return }
        let frames = held
        held.removeAll()
        for frame in frames {
            journal.recordInput(source: receivedSource, bytes: frame)
            frame.withUnsafeBytes { receiver?.receive($0) }
        }
    }
}

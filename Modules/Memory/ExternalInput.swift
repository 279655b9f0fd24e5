/// Record and replay of input from outside the machine (docs/architecture.md, "Record and
/// replay"). The machine's `InputJournal` implements it; a device that takes input from the
/// host (a plugin's external channel, a host USB device, the host's network) is handed one when
/// the run records or replays, and holds nil otherwise. Every call is per input event on the
/// machine thread, never per guest instruction.
///
/// A source is a name without spaces that says which device the input belongs to
/// ("plugin:acme_feed/feed0", "usb:kbd0/done"); the journal writes it on every line.
public protocol ExternalInputJournal: AnyObject {
    /// Replaying: the device must not consult its outside source; its input comes from
    /// `replayInput(prefix:)` alone.
    var isReplaying: Bool { get }

    /// Recording: `bytes` from outside reached `source` at the machine's current time.
    func recordInput(source: String, bytes: [UInt8])

    /// Replaying: the next recorded input, if it is due now and its source starts with
    /// `prefix`; the journal moves past it. Inputs due now are handed out in recorded order.
    func replayInput(prefix: String) -> (source: String, bytes: [UInt8])?

    /// What the guest sent to `source` now (a USB transfer it submitted, a frame it
    /// transmitted): recording, it is journaled; replaying, it must be what the recording has
    /// next, at this time, or the replay diverges. Large payloads are kept as a length and hash.
    func checkSent(source: String, bytes: [UInt8])

    /// Replaying: the run left the recorded path (the first call's message is reported, with
    /// exit status 3, at the next slice boundary).
    func diverge(_ message: String)

    /// The run cannot be journaled from here on (a host device started doing something the
    /// journal cannot see): recording or replaying, the machine stops at the next slice boundary
    /// with `message` and exit status 3.
    func refuse(_ message: String)
}

extension ExternalInputJournal {
    /// A journal that cannot stop the run otherwise reports the refusal as a divergence.
    public func refuse(_ message: String) { diverge(message) }
}

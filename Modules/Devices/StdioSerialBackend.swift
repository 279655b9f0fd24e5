import Foundation

/// The QEMU-style escape layer on a stdio console (QEMU `chardev/char-mux.c`): Ctrl-A X quits,
/// Ctrl-A Ctrl-A sends one Ctrl-A, Ctrl-A H prints help; any other escaped key is dropped.
public struct ConsoleEscapeFilter: Sendable {
    public static let escapeKey: UInt8 = 0x01 // Ctrl-A

    public enum Action: Sendable, Equatable {
        /// Deliver this byte to the guest.
        case deliver(UInt8)
        /// The user asked to quit the emulator.
        case quit
        /// The user asked for the list of escapes.
        case help
        /// Nothing to do (the byte was part of an escape).
        case consumed
    }

    private var escaping = false

    public init() {}

    public mutating func feed(_ byte: UInt8) -> Action {
        if escaping {
            escaping = false
            switch byte {
            case Self.escapeKey: return .deliver(Self.escapeKey)
            case UInt8(ascii: "x"), UInt8(ascii: "X"): return .quit
            case UInt8(ascii: "h"), UInt8(ascii: "H"), UInt8(ascii: "?"): return .help
            default: return .consumed
            }
        }
        if byte == Self.escapeKey {
            escaping = true
            return .consumed
        }
        return .deliver(byte)
    }

    public static let helpText = "\r\nC-a h    print this help\r\nC-a x    exit emulator\r\nC-a C-a  sends C-a\r\n"
}

/// The terminal the emulator runs in: output to stdout, input from stdin.
///
/// While it exists, a terminal on stdin is in raw mode (no echo, no line editing, no signal keys:
/// Ctrl-C goes to the guest, as on QEMU `-nographic`); the previous settings come back at exit,
/// on SIGTERM/SIGHUP/SIGQUIT/SIGINT, and on `restoreTerminal()`. A reader thread blocks on stdin
/// and fills a locked buffer, so the emulator itself never waits for input.
public final class StdioSerialBackend: SerialBackend, @unchecked Sendable {
    /// The one stdio backend (there is one terminal); created, and the terminal made raw, on
    /// first use.
    public static let shared = StdioSerialBackend()

    private let lock = NSLock()
    private var buffer: [UInt8] = []
    private var head = 0
    private var filter = ConsoleEscapeFilter()
    private var quit = false

    private init() {
        enterRawMode()
        let thread = Thread { [self] in readLoop() }
        thread.name = "stdin reader"
        thread.start()
    }

    public func write(_ byte: UInt8) {
        var byte = byte
        while Foundation.write(STDOUT_FILENO, &byte, 1) < 0 && errno == EINTR {}
    }

    public func read() -> UInt8? {
        lock.lock()
        defer { lock.unlock() }
        guard head < buffer.count else { return nil }
        let byte = buffer[head]
        head += 1
        if head == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            head = 0
        }
        return byte
    }

    public var quitRequested: Bool {
        lock.lock()
        defer { lock.unlock() }
        return quit
    }

    /// Puts the terminal back as it was before the emulator started (idempotent).
    public static func restoreTerminal() { restoreSavedTerminal() }

    private func readLoop() {
        var chunk = [UInt8](repeating: 0, count: 256)
        while true {
            let count = Foundation.read(STDIN_FILENO, &chunk, chunk.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return } // end of input or an unreadable stdin: nothing more arrives
            var help = false
            lock.lock()
            for byte in chunk[0..<count] {
                switch filter.feed(byte) {
                case .deliver(let b): buffer.append(b)
                case .quit: quit = true
                case .help: help = true
                case .consumed: break
                }
            }
            lock.unlock()
            if help { for byte in ConsoleEscapeFilter.helpText.utf8 { write(byte) } }
        }
    }
}

// MARK: Terminal state (global because signal handlers can reach nothing else)

nonisolated(unsafe) private var savedTerminal = termios()
nonisolated(unsafe) private var terminalIsRaw: Int32 = 0

/// Raw mode as QEMU's stdio chardev sets it (`qemu_chr_set_echo_stdio`), keeping output
/// post-processing so the guest's "\n" still returns the carriage.
private func enterRawMode() {
    guard isatty(STDIN_FILENO) != 0, tcgetattr(STDIN_FILENO, &savedTerminal) == 0 else { return }
    var raw = savedTerminal
    raw.c_iflag &= ~tcflag_t(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON)
    raw.c_oflag |= tcflag_t(OPOST)
    raw.c_lflag &= ~tcflag_t(ECHO | ECHONL | ICANON | IEXTEN | ISIG)
    raw.c_cflag &= ~tcflag_t(CSIZE | PARENB)
    raw.c_cflag |= tcflag_t(CS8)
    withUnsafeMutableBytes(of: &raw.c_cc) { cc in
        cc[Int(VMIN)] = 1
        cc[Int(VTIME)] = 0
    }
    guard tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0 else { return }
    terminalIsRaw = 1
    atexit { restoreSavedTerminal() }
    for signal in [SIGTERM, SIGHUP, SIGQUIT, SIGINT] {
        Foundation.signal(signal, restoreTerminalAndReraise)
    }
}

/// Async-signal-safe: only tcsetattr.
private func restoreSavedTerminal() {
    guard terminalIsRaw != 0 else { return }
    terminalIsRaw = 0
    tcsetattr(STDIN_FILENO, TCSANOW, &savedTerminal)
}

private func restoreTerminalAndReraise(_ signal: Int32) {
    restoreSavedTerminal()
    Foundation.signal(signal, SIG_DFL)
    raise(signal)
}

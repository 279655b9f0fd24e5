import Foundation

/// Why an output file could not be opened or written: one line naming the file.
public struct OutputFileError: Error, Equatable, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "cannot write '\(path)': \(reason)" }
}

/// Every file Backplane writes (`dtb -o`, `--serial file:`) is opened and written **in place**:
/// never written to a temporary and renamed over the target, which would replace a device node
/// such as /dev/null (run as root) or a symbolic link with a regular file.
///
/// - A regular file is created (mode 0644 before the umask) or truncated, then written.
/// - A symbolic link is followed: its target is written and the link stays a link.
/// - A character device (/dev/null, a tty) or a FIFO is written as a stream, never truncated.
///   Opening a FIFO waits for a reader, as a shell redirection does; `--timeout` still ends it.
/// - A directory, a block device or a socket is refused with a clear error: a block device
///   would be a disk, and writing a device tree over one is never what the user meant.
public enum OutputFile {
    /// Opens `path` for writing as above; the caller owns the descriptor.
    public static func open(_ path: String) throws(OutputFileError) -> Int32 {
        guard !path.isEmpty else { throw OutputFileError(path: path, reason: "empty path") }
        var info = stat()
        if stat(path, &info) == 0 {
            try refuseKind(path, info.st_mode)
        }
        // No O_TRUNC here: truncate only once fstat says the file opened is a regular file.
        let fd = Foundation.open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0o644)
        guard fd >= 0 else { throw OutputFileError(path: path, reason: String(cString: strerror(errno))) }
        guard fstat(fd, &info) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw OutputFileError(path: path, reason: reason)
        }
        do { try refuseKind(path, info.st_mode) } catch {
            close(fd)
            throw error
        }
        if info.st_mode & S_IFMT == S_IFREG, ftruncate(fd, 0) != 0 {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw OutputFileError(path: path, reason: reason)
        }
        return fd
    }

    /// Writes all of `bytes` to `path` (opened as `open` does), retrying short writes.
    public static func write(_ path: String, bytes: [UInt8]) throws(OutputFileError) {
        let fd = try open(path)
        defer { close(fd) }
        if let failure = writeAll(fd, bytes) { throw OutputFileError(path: path, reason: failure) }
    }

    /// Writes every byte, retrying short writes and EINTR; the error text, or nil.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> String? {
        var done = 0
        while done < bytes.count {
            let count = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + done, bytes.count - done) }
            if count < 0 {
                if errno == EINTR { continue }
                return String(cString: strerror(errno))
            }
            done += count
        }
        return nil
    }

    private static func refuseKind(_ path: String, _ mode: mode_t) throws(OutputFileError) {
        switch mode & S_IFMT {
        case S_IFDIR: throw OutputFileError(path: path, reason: "it is a directory")
        case S_IFBLK: throw OutputFileError(path: path, reason: "it is a block device; write to a regular file")
        case S_IFSOCK: throw OutputFileError(path: path, reason: "it is a socket")
        default: return
        }
    }
}

/// Why an input file (firmware, kernel, initrd, device tree) cannot be used: one line naming it.
public struct InputFileError: Error, Equatable, CustomStringConvertible {
    public let path: String
    public let kind: String
    public var description: String { "'\(path)' is \(kind), not a regular file" }
}

public enum InputFile {
    /// Checks that an existing `path` is a regular file, so that /dev/zero (endless), a FIFO
    /// (blocks until a writer comes) or a directory gets a clear error instead of a hang or a
    /// vague one. A missing or unreadable file is left to the loader, which names it.
    public static func check(_ path: String) throws(InputFileError) {
        var info = stat()
        guard stat(path, &info) == 0 else { return }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return
        case S_IFDIR: throw InputFileError(path: path, kind: "a directory")
        case S_IFCHR: throw InputFileError(path: path, kind: "a character device")
        case S_IFBLK: throw InputFileError(path: path, kind: "a block device")
        case S_IFIFO: throw InputFileError(path: path, kind: "a FIFO")
        default: throw InputFileError(path: path, kind: "a socket")
        }
    }
}

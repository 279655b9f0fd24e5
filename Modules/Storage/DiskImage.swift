import Foundation

/// Why a disk image cannot be opened.
public struct DiskImageError: Error, Equatable, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "disk image '\(path)': \(reason)" }
}

/// A raw disk image file: byte n of the disk is byte n of the file. Writes go straight to the
/// file with pwrite (so a completed write survives the emulator being killed once the host
/// flushes its page cache); flush calls fsync.
public final class DiskImage {
    public let path: String
    public let readOnly: Bool
    /// Bytes; the file's size when opened.
    public let size: UInt64
    private let descriptor: Int32

    public init(path: String, readOnly: Bool) throws(DiskImageError) {
        self.path = path
        self.readOnly = readOnly
        let fd = open(path, (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC)
        guard fd >= 0 else { throw DiskImageError(path: path, reason: String(cString: strerror(errno))) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw DiskImageError(path: path, reason: reason)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw DiskImageError(path: path, reason: "not a regular file")
        }
        descriptor = fd
        size = UInt64(info.st_size)
    }

    deinit { close(descriptor) }

    /// Reads `buffer.count` bytes at byte `offset`; false on an I/O error or past the end.
    public func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard offset <= size, UInt64(buffer.count) <= size - offset else { return false }
        var done = 0
        while done < buffer.count {
            let count = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return false }
            done += count
        }
        return true
    }

    /// Writes `bytes` at byte `offset`; false on an I/O error, past the end, or read-only.
    public func write(at offset: UInt64, from bytes: UnsafeRawBufferPointer) -> Bool {
        guard !readOnly, offset <= size, UInt64(bytes.count) <= size - offset else { return false }
        var done = 0
        while done < bytes.count {
            let count = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return false }
            done += count
        }
        return true
    }

    /// Makes every completed write durable (fsync); false on an I/O error.
    public func flush() -> Bool {
        readOnly || fsync(descriptor) == 0
    }
}

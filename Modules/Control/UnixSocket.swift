#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The unix-domain stream sockets the host offers (`--control unix:PATH`, `--gdb unix:PATH`) and
/// connects to (`backplane ctl`): one place for the path rules both servers follow.
///
/// A listener never removes what is at its path: an existing file, socket or not, is the user's
/// to delete (unlike the usual unlink-then-bind, which would replace a file someone cared about).
public enum UnixSocket {
    /// Why a socket could not be made; `reason` is the text both servers print after their own
    /// "cannot listen on PATH: ".
    public struct Failure: Error, Equatable, Sendable {
        public let reason: String
    }

    /// The longest path `sockaddr_un` holds (its `sun_path` less the terminating NUL).
    public static var maximumPathLength: Int { MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1 }

    /// A bound, listening socket at `path` with `backlog` pending connections; the caller owns
    /// the descriptor and the file it creates.
    ///
    /// The file appears at `path` only once the socket listens, so a client that waits for the
    /// file to exist (scripts, tests, `backplane ctl`) never finds a socket that refuses it: the
    /// socket is bound and listening under a private name in the same directory first, then
    /// hard-linked to `path` (`link` never replaces anything: a file that appeared there
    /// meanwhile makes it fail) and the private name removed. A path too long for the private
    /// name is bound directly, with the short window between `bind` and `listen` that leaves.
    public static func listen(path: String, backlog: Int32) throws(Failure) -> Int32 {
        guard address(path) != nil else {
            throw Failure(reason: "the path is longer than \(maximumPathLength) bytes")
        }
        var status = stat()
        if lstat(path, &status) == 0 { throw Failure(reason: "\(path) already exists") }
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[...$0]) } ?? ""
        let hidden = directory + ".\(path[(slash.map(path.index(after:)) ?? path.startIndex)...]).\(getpid()).listening"
        guard address(hidden) != nil else { return try bindAndListen(path, backlog: backlog) }
        // A leftover of a crashed run with this pid (pids are reused) is ours to replace.
        if lstat(hidden, &status) == 0 && status.st_mode & S_IFMT == S_IFSOCK { unlink(hidden) }
        let fd = try bindAndListen(hidden, backlog: backlog)
        defer { unlink(hidden) }
        guard link(hidden, path) == 0 else {
            let reason = errno == EEXIST ? "\(path) already exists" : String(cString: strerror(errno))
            Glibc.close(fd)
            throw Failure(reason: reason)
        }
        return fd
    }

    private static func bindAndListen(_ path: String, backlog: Int32) throws(Failure) -> Int32 {
        guard var address = address(path) else { throw Failure(reason: "path too long") }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(reason: String(cString: strerror(errno))) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, Glibc.listen(fd, backlog) == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            if bound == 0 { unlink(path) }
            throw Failure(reason: reason)
        }
        return fd
    }

    /// A socket connected to the listener at `path`.
    public static func connect(path: String) throws(Failure) -> Int32 {
        guard var address = address(path) else { throw Failure(reason: "path too long") }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(reason: String(cString: strerror(errno))) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw Failure(reason: reason)
        }
        return fd
    }

    /// `path` as a socket address, NUL-terminated; nil when it does not fit.
    static func address(_ path: String) -> sockaddr_un? {
        guard path.utf8.count <= maximumPathLength else { return nil }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
            raw[path.utf8.count] = 0
        }
        return address
    }
}

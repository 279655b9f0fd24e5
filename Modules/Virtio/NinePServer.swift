#if canImport(Glibc)
import Glibc

/// A 9P2000.L file server (the protocol of Linux's v9fs, `Documentation/filesystems/9p.rst`
/// and diod's `protocol.md`) exporting one host directory read-write.
///
/// Containment: every fid is a list of validated names below the export's root, never a host
/// path. A name from the guest must be a single component ("", ".", ".." and anything with
/// "/" or NUL are refused; `..` in a walk pops a component and stops at the root). Each access
/// resolves the list again from the root's descriptor one `openat(O_NOFOLLOW | O_PATH)` at a
/// time, so no symlink (on the host or made by the guest) is ever followed by the server, and
/// no absolute path is ever formed. Symlinks are listed, created and read as links; the guest
/// resolves them in its own namespace. Set-user/group-ID bits are dropped and ownership changes
/// are ignored (QEMU's `security_model=none`), so a guest cannot make a privileged host file.
public final class NinePServer {
    /// Message types (9P2000.L).
    enum Message: UInt8 {
        case lerror = 7, statfs = 8, lopen = 12, lcreate = 14, symlink = 16, mknod = 18, rename = 20, readlink = 22
        case getattr = 24, setattr = 26, xattrwalk = 30, xattrcreate = 32, readdir = 40, fsync = 50, lock = 52
        case getlock = 54, link = 70, mkdir = 72, renameat = 74, unlinkat = 76, version = 100, auth = 102
        case attach = 104, flush = 108, walk = 110, read = 116, write = 118, clunk = 120, remove = 122
    }

    /// Largest message either way; the client may ask for less in Tversion.
    public static let maximumMessageSize: UInt32 = 512 * 1024
    /// Most fids a client may hold: each may keep a host descriptor open.
    public static let maximumFids = 4096
    /// Names per Twalk (P9_MAXWELEM).
    static let maximumWalk = 16

    private let rootDescriptor: Int32
    public private(set) var messageSize: UInt32 = NinePServer.maximumMessageSize
    private var fids: [UInt32: Fid] = [:]

    final class Fid {
        var path: [String]
        var descriptor: Int32 = -1
        var directoryEntries: [(name: String, type: UInt8, inode: UInt64)]?
        init(path: [String]) { self.path = path }
        deinit { if descriptor >= 0 { close(descriptor) } }
    }

    /// Opens the export; fails if `root` is not a directory.
    public init(root: String) throws {
        let descriptor = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw NinePError(description: "9p export '\(root)': \(String(cString: strerror(errno)))") }
        rootDescriptor = descriptor
    }

    deinit { close(rootDescriptor) }

    /// Number of fids the client holds (tests check that clunk releases them).
    public var fidCount: Int { fids.count }

    // MARK: Resolution below the root

    /// Whether `name` is one component the server may look up or create.
    static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.utf8.contains(UInt8(ascii: "/")) && !name.utf8.contains(0)
    }

    /// A descriptor for the directory `path` (every component a real directory, no symlink
    /// followed); the caller closes it. The root's is a duplicate.
    private func openDirectory(_ path: [String]) -> Result<Int32, Errno> {
        var current = fcntl(rootDescriptor, F_DUPFD_CLOEXEC, 0)
        guard current >= 0 else { return .failure(Errno(errno)) }
        for name in path {
            guard NinePServer.isPlainName(name) else { close(current); return .failure(Errno(EINVAL)) }
            let next = openat(current, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            let error = errno
            close(current)
            guard next >= 0 else { return .failure(Errno(error == ELOOP ? ENOTDIR : error)) }
            current = next
        }
        return .success(current)
    }

    /// Runs `body` with the parent directory of `path` and the last name (nil for the root,
    /// whose parent is itself with name ".").
    private func withParent<T>(_ path: [String], _ body: (Int32, String) -> Result<T, Errno>) -> Result<T, Errno> {
        let parentPath = Array(path.dropLast())
        let name = path.last ?? "."
        switch openDirectory(parentPath) {
        case .failure(let error): return .failure(error)
        case .success(let directory):
            defer { close(directory) }
            return body(directory, name)
        }
    }

    private func lstat(_ path: [String]) -> Result<stat, Errno> {
        withParent(path) { directory, name in
            var info = stat()
            guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return .failure(Errno(errno)) }
            return .success(info)
        }
    }

    static func qid(_ info: stat) -> [UInt8] {
        var writer = NineWriter()
        let kind = info.st_mode & S_IFMT
        writer.u8(kind == S_IFDIR ? 0x80 : kind == S_IFLNK ? 0x02 : 0)
        writer.u32(UInt32(truncatingIfNeeded: info.st_mtim.tv_sec ^ info.st_mtim.tv_nsec))
        writer.u64(UInt64(info.st_ino))
        return writer.bytes
    }

    // MARK: Requests

    /// Answers one T-message with its R-message (Rlerror for anything refused or malformed).
    public func handle(_ request: [UInt8]) -> [UInt8] {
        var reader = NineReader(request)
        guard let size = reader.u32(), size == request.count, let type = reader.u8(), let tag = reader.u16() else {
            return NinePServer.reply(tag: 0xffff, type: Message.lerror.rawValue + 0, body: NineWriter.errno(EPROTO))
        }
        let result: Result<[UInt8], Errno>
        if let message = Message(rawValue: type) {
            result = serve(message, &reader)
        } else {
            result = .failure(Errno(EOPNOTSUPP))
        }
        switch result {
        case .success(let body): return NinePServer.reply(tag: tag, type: type + 1, body: body)
        case .failure(let error): return NinePServer.reply(tag: tag, type: Message.lerror.rawValue, body: NineWriter.errno(error.code))
        }
    }

    static func reply(tag: UInt16, type: UInt8, body: [UInt8]) -> [UInt8] {
        var writer = NineWriter()
        writer.u32(UInt32(7 + body.count))
        writer.u8(type)
        writer.u16(tag)
        writer.bytes += body
        return writer.bytes
    }

    private func fid(_ number: UInt32?) -> Result<Fid, Errno> {
        guard let number, let fid = fids[number] else { return .failure(Errno(EBADF)) }
        return .success(fid)
    }

    private func serve(_ message: Message, _ r: inout NineReader) -> Result<[UInt8], Errno> {
        switch message {
        case .version:
            guard let size = r.u32(), let version = r.string() else { return .failure(Errno(EPROTO)) }
            messageSize = min(size, NinePServer.maximumMessageSize)
            fids.removeAll()
            var w = NineWriter()
            w.u32(messageSize)
            w.string(version == "9P2000.L" ? "9P2000.L" : "unknown")
            return .success(w.bytes)
        case .auth:
            return .failure(Errno(EOPNOTSUPP))
        case .attach:
            guard let number = r.u32() else { return .failure(Errno(EPROTO)) }
            guard fids[number] == nil else { return .failure(Errno(EBADF)) }
            guard fids.count < NinePServer.maximumFids else { return .failure(Errno(EMFILE)) }
            var info = stat()
            guard fstat(rootDescriptor, &info) == 0 else { return .failure(Errno(errno)) }
            fids[number] = Fid(path: [])
            return .success(NinePServer.qid(info))
        case .flush:
            return .success([])
        case .walk:
            return walk(&r)
        case .clunk:
            guard let number = r.u32(), fids.removeValue(forKey: number) != nil else { return .failure(Errno(EBADF)) }
            return .success([])
        case .remove:
            guard let number = r.u32(), let fid = fids.removeValue(forKey: number) else { return .failure(Errno(EBADF)) }
            return remove(fid.path).map { [] }
        case .getattr:
            return fid(r.u32()).flatMap { getattr($0) }
        case .setattr:
            return fid(r.u32()).flatMap { setattr($0, &r) }
        case .lopen:
            guard let number = r.u32(), let flags = r.u32() else { return .failure(Errno(EPROTO)) }
            return fid(number).flatMap { lopen($0, flags: Int32(bitPattern: flags)) }
        case .lcreate:
            return lcreate(&r)
        case .read:
            guard let number = r.u32(), let offset = r.u64(), let count = r.u32() else { return .failure(Errno(EPROTO)) }
            return fid(number).flatMap { read($0, offset: offset, count: count) }
        case .write:
            guard let number = r.u32(), let offset = r.u64(), let count = r.u32(), let data = r.bytes(Int(count)) else {
                return .failure(Errno(EPROTO))
            }
            return fid(number).flatMap { write($0, offset: offset, data: data) }
        case .readdir:
            guard let number = r.u32(), let offset = r.u64(), let count = r.u32() else { return .failure(Errno(EPROTO)) }
            return fid(number).flatMap { readdir($0, offset: offset, count: count) }
        case .mkdir:
            guard let number = r.u32(), let name = r.string(), let mode = r.u32() else { return .failure(Errno(EPROTO)) }
            return fid(number).flatMap { directory in
                create(in: directory.path, name) { parent, name in
                    mkdirat(parent, name, mode_t(mode & 0o1777)) == 0 ? .success(()) : .failure(Errno(errno))
                }
            }
        case .symlink:
            guard let number = r.u32(), let name = r.string(), let target = r.string() else { return .failure(Errno(EPROTO)) }
            return fid(number).flatMap { directory in
                create(in: directory.path, name) { parent, name in
                    symlinkat(target, parent, name) == 0 ? .success(()) : .failure(Errno(errno))
                }
            }
        case .mknod:
            // Device nodes and FIFOs on the host are not the guest's to make.
            return .failure(Errno(EPERM))
        case .readlink:
            return fid(r.u32()).flatMap { fid in
                withParent(fid.path) { parent, name in
                    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                    let length = readlinkat(parent, name, &buffer, Int(PATH_MAX))
                    guard length >= 0 else { return .failure(Errno(errno)) }
                    var w = NineWriter()
                    w.string(String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self))
                    return .success(w.bytes)
                }
            }
        case .link:
            guard let directoryNumber = r.u32(), let targetNumber = r.u32(), let name = r.string() else { return .failure(Errno(EPROTO)) }
            guard let directory = fids[directoryNumber], let target = fids[targetNumber] else { return .failure(Errno(EBADF)) }
            guard !target.path.isEmpty else { return .failure(Errno(EPERM)) }
            let linked: Result<[UInt8], Errno> = withParent(target.path) { oldParent, oldName in
                create(in: directory.path, name) { parent, name in
                    linkat(oldParent, oldName, parent, name, 0) == 0 ? .success(()) : .failure(Errno(errno))
                }
            }
            return linked.map { _ in [] }
        case .rename:
            guard let number = r.u32(), let directoryNumber = r.u32(), let name = r.string() else { return .failure(Errno(EPROTO)) }
            return fid(number).flatMap { source in
                fid(directoryNumber).flatMap { directory in
                    rename(from: source.path, to: directory.path, name).map { source.path = directory.path + [name]; return [] }
                }
            }
        case .renameat:
            guard let oldNumber = r.u32(), let oldName = r.string(), let newNumber = r.u32(), let newName = r.string() else {
                return .failure(Errno(EPROTO))
            }
            guard NinePServer.isPlainName(oldName) else { return .failure(Errno(EINVAL)) }
            return fid(oldNumber).flatMap { old in
                fid(newNumber).flatMap { new in rename(from: old.path + [oldName], to: new.path, newName).map { [] } }
            }
        case .unlinkat:
            guard let number = r.u32(), let name = r.string(), let flags = r.u32() else { return .failure(Errno(EPROTO)) }
            guard NinePServer.isPlainName(name) else { return .failure(Errno(EINVAL)) }
            return fid(number).flatMap { directory in
                withParent(directory.path + [name]) { parent, name in
                    unlinkat(parent, name, flags & 0x200 != 0 ? AT_REMOVEDIR : 0) == 0 ? .success([]) : .failure(Errno(errno))
                }
            }
        case .statfs:
            guard fid(r.u32()).isSuccess else { return .failure(Errno(EBADF)) }
            var info = statvfs()
            guard fstatvfs(rootDescriptor, &info) == 0 else { return .failure(Errno(errno)) }
            var w = NineWriter()
            w.u32(0x0102_1997)   // V9FS_MAGIC
            w.u32(UInt32(truncatingIfNeeded: info.f_bsize))
            w.u64(UInt64(info.f_blocks)); w.u64(UInt64(info.f_bfree)); w.u64(UInt64(info.f_bavail))
            w.u64(UInt64(info.f_files)); w.u64(UInt64(info.f_ffree)); w.u64(UInt64(info.f_fsid))
            w.u32(UInt32(truncatingIfNeeded: info.f_namemax))
            return .success(w.bytes)
        case .fsync:
            return fid(r.u32()).flatMap { fid in
                guard fid.descriptor >= 0 else { return .failure(Errno(EBADF)) }
                return fsync(fid.descriptor) == 0 ? .success([]) : .failure(Errno(errno))
            }
        case .lock:
            // Advisory locks are the guest's own business: granted (P9_LOCK_SUCCESS).
            return .success([0])
        case .getlock:
            guard r.u32() != nil, r.u8() != nil, let start = r.u64(), let length = r.u64(), let process = r.u32(),
                  let client = r.string() else { return .failure(Errno(EPROTO)) }
            var w = NineWriter()
            w.u8(2)   // F_UNLCK: nothing conflicts
            w.u64(start); w.u64(length); w.u32(process); w.string(client)
            return .success(w.bytes)
        case .xattrwalk, .xattrcreate:
            return .failure(Errno(EOPNOTSUPP))
        case .lerror:
            return .failure(Errno(EPROTO))
        }
    }

    private func walk(_ r: inout NineReader) -> Result<[UInt8], Errno> {
        guard let number = r.u32(), let newNumber = r.u32(), let count = r.u16() else { return .failure(Errno(EPROTO)) }
        guard Int(count) <= NinePServer.maximumWalk else { return .failure(Errno(E2BIG)) }
        var names: [String] = []
        for _ in 0..<count {
            guard let name = r.string() else { return .failure(Errno(EPROTO)) }
            names.append(name)
        }
        guard let start = fids[number] else { return .failure(Errno(EBADF)) }
        guard newNumber == number || fids[newNumber] == nil else { return .failure(Errno(EBADF)) }
        // An open fid keeps the file it opened: it may be cloned, not moved (walk(5)).
        guard newNumber != number || start.descriptor < 0 || names.isEmpty else { return .failure(Errno(EBADF)) }
        guard fids.count < NinePServer.maximumFids else { return .failure(Errno(EMFILE)) }
        var path = start.path
        var qids: [[UInt8]] = []
        var failure = Errno(ENOENT)
        names: for name in names {
            var next = path
            if name == ".." {
                if !next.isEmpty { next.removeLast() }   // the root's parent is the root
            } else if name != "." {
                guard NinePServer.isPlainName(name) else { failure = Errno(ENOENT); break names }
                next.append(name)
            }
            // Resolving `next` opens each earlier component as a directory without following
            // links, so a walk through a symlink or a file fails here (ENOTDIR).
            switch lstat(next) {
            case .success(let info):
                qids.append(NinePServer.qid(info))
                path = next
            case .failure(let error):
                failure = error
                break names
            }
        }
        if qids.isEmpty && !names.isEmpty { return .failure(failure) }
        // A partial walk returns the qids it found and creates no fid (9P walk(5)).
        if qids.count == names.count {
            if newNumber == number { start.path = path } else { fids[newNumber] = Fid(path: path) }
        }
        var w = NineWriter()
        w.u16(UInt16(qids.count))
        for qid in qids { w.bytes += qid }
        return .success(w.bytes)
    }

    private func getattr(_ fid: Fid) -> Result<[UInt8], Errno> {
        let info: stat
        if fid.path.isEmpty {
            var root = stat()
            guard fstat(rootDescriptor, &root) == 0 else { return .failure(Errno(errno)) }
            info = root
        } else {
            switch lstat(fid.path) {
            case .success(let found): info = found
            case .failure(let error): return .failure(error)
            }
        }
        var w = NineWriter()
        w.u64(0x7ff)   // P9_GETATTR_BASIC
        w.bytes += NinePServer.qid(info)
        w.u32(UInt32(info.st_mode)); w.u32(info.st_uid); w.u32(info.st_gid)
        w.u64(UInt64(info.st_nlink)); w.u64(UInt64(info.st_rdev)); w.u64(UInt64(info.st_size))
        w.u64(UInt64(info.st_blksize)); w.u64(UInt64(info.st_blocks))
        for time in [info.st_atim, info.st_mtim, info.st_ctim] {
            w.u64(UInt64(bitPattern: Int64(time.tv_sec))); w.u64(UInt64(bitPattern: Int64(time.tv_nsec)))
        }
        for _ in 0..<4 { w.u64(0) }   // btime, gen, data_version
        return .success(w.bytes)
    }

    private func setattr(_ fid: Fid, _ r: inout NineReader) -> Result<[UInt8], Errno> {
        guard let valid = r.u32(), let mode = r.u32(), r.u32() != nil, r.u32() != nil, let size = r.u64(),
              let atimeSeconds = r.u64(), let atimeNanoseconds = r.u64(), let mtimeSeconds = r.u64(),
              let mtimeNanoseconds = r.u64() else { return .failure(Errno(EPROTO)) }
        let info: stat
        switch lstat(fid.path) {
        case .success(let found): info = found
        case .failure(let error): return .failure(error)
        }
        let isLink = info.st_mode & S_IFMT == S_IFLNK
        return withParent(fid.path) { parent, name in
            if valid & 0x1 != 0 {   // P9_ATTR_MODE; no chmod through a symlink
                guard !isLink else { return .failure(Errno(EPERM)) }
                guard fchmodat(parent, name, mode_t(mode & 0o1777), 0) == 0 else { return .failure(Errno(errno)) }
            }
            if valid & 0x8 != 0 {   // P9_ATTR_SIZE
                guard !isLink else { return .failure(Errno(EINVAL)) }
                if fid.descriptor >= 0 {
                    guard ftruncate(fid.descriptor, off_t(size)) == 0 else { return .failure(Errno(errno)) }
                } else {
                    let file = openat(parent, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)
                    guard file >= 0 else { return .failure(Errno(errno)) }
                    defer { close(file) }
                    guard ftruncate(file, off_t(size)) == 0 else { return .failure(Errno(errno)) }
                }
            }
            if valid & (0x10 | 0x20) != 0 {   // P9_ATTR_ATIME / MTIME, with _SET for explicit values
                func time(_ changed: UInt32, _ set: UInt32, _ seconds: UInt64, _ nanoseconds: UInt64) -> timespec {
                    if valid & changed == 0 { return timespec(tv_sec: 0, tv_nsec: (1 << 30) - 2) }
                    if valid & set == 0 { return timespec(tv_sec: 0, tv_nsec: (1 << 30) - 1) }
                    return timespec(tv_sec: Int(truncatingIfNeeded: seconds), tv_nsec: Int(truncatingIfNeeded: nanoseconds % 1_000_000_000))
                }
                var times = [time(0x10, 0x80, atimeSeconds, atimeNanoseconds), time(0x20, 0x100, mtimeSeconds, mtimeNanoseconds)]
                guard utimensat(parent, name, &times, AT_SYMLINK_NOFOLLOW) == 0 else { return .failure(Errno(errno)) }
            }
            // P9_ATTR_UID/GID: ignored, files stay the server's user's (security_model=none).
            return .success([])
        }
    }

    /// The host's open flags for the guest's (9P2000.L sends Linux's asm-generic values);
    /// anything else (O_CREAT, O_PATH, O_TMPFILE...) is dropped.
    static func hostOpenFlags(_ guest: Int32) -> Int32 {
        var flags = guest & 3   // O_RDONLY/O_WRONLY/O_RDWR
        if guest & 0o2000 != 0 { flags |= O_APPEND }
        if guest & 0o1000 != 0 { flags |= O_TRUNC }
        if guest & 0o4000 != 0 { flags |= O_NONBLOCK }
        if guest & 0o10000 != 0 { flags |= O_DSYNC }
        if guest & 0o200000 != 0 { flags |= O_DIRECTORY }
        if guest & 0o4000000 != 0 { flags |= O_SYNC }
        return flags
    }

    private func lopen(_ fid: Fid, flags: Int32) -> Result<[UInt8], Errno> {
        guard fid.descriptor < 0 else { return .failure(Errno(EBADF)) }
        let flags = NinePServer.hostOpenFlags(flags)
        let opened: Result<Int32, Errno>
        if fid.path.isEmpty {
            opened = openDirectory([])
        } else {
            opened = withParent(fid.path) { parent, name in
                let descriptor = openat(parent, name, flags | O_NOFOLLOW | O_CLOEXEC)
                return descriptor >= 0 ? .success(descriptor) : .failure(Errno(errno == ELOOP ? EPERM : errno))
            }
        }
        return opened.flatMap { descriptor in
            var info = stat()
            fstat(descriptor, &info)
            fid.descriptor = descriptor
            fid.directoryEntries = nil
            var w = NineWriter()
            w.bytes += NinePServer.qid(info)
            w.u32(0)   // iounit: the client uses msize
            return .success(w.bytes)
        }
    }

    private func lcreate(_ r: inout NineReader) -> Result<[UInt8], Errno> {
        guard let number = r.u32(), let name = r.string(), let flags = r.u32(), let mode = r.u32(), r.u32() != nil else {
            return .failure(Errno(EPROTO))
        }
        guard NinePServer.isPlainName(name) else { return .failure(Errno(EINVAL)) }
        return fid(number).flatMap { fid in
            guard fid.descriptor < 0 else { return .failure(Errno(EBADF)) }
            let path = fid.path + [name]
            return withParent(path) { parent, name in
                let flags = (NinePServer.hostOpenFlags(Int32(bitPattern: flags)) & ~O_DIRECTORY) | O_CREAT | O_NOFOLLOW | O_CLOEXEC
                let descriptor = openat(parent, name, flags, mode_t(mode & 0o1777))
                guard descriptor >= 0 else { return .failure(Errno(errno == ELOOP ? EEXIST : errno)) }
                var info = stat()
                fstat(descriptor, &info)
                fid.path = path
                fid.descriptor = descriptor
                var w = NineWriter()
                w.bytes += NinePServer.qid(info)
                w.u32(0)
                return .success(w.bytes)
            }
        }
    }

    /// Creates `name` in the directory `directory` and answers its qid.
    private func create(in directory: [String], _ name: String, _ make: (Int32, String) -> Result<Void, Errno>) -> Result<[UInt8], Errno> {
        guard NinePServer.isPlainName(name) else { return .failure(Errno(EINVAL)) }
        return withParent(directory + [name]) { parent, name in
            make(parent, name).flatMap {
                var info = stat()
                guard fstatat(parent, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return .failure(Errno(errno)) }
                return .success(NinePServer.qid(info))
            }
        }
    }

    private func read(_ fid: Fid, offset: UInt64, count: UInt32) -> Result<[UInt8], Errno> {
        guard fid.descriptor >= 0, fid.directoryEntries == nil else { return .failure(Errno(EBADF)) }
        // Rread's header (4 size + 1 type + 2 tag + 4 count) and the data fit in msize.
        let limit = Int(min(count, messageSize > 11 ? messageSize - 11 : 0))
        var data = [UInt8](repeating: 0, count: limit)
        let got = data.withUnsafeMutableBytes { pread(fid.descriptor, $0.baseAddress, limit, off_t(Int64(bitPattern: offset))) }
        guard got >= 0 else { return .failure(Errno(errno)) }
        var w = NineWriter()
        w.u32(UInt32(got))
        w.bytes += data[0..<got]
        return .success(w.bytes)
    }

    private func write(_ fid: Fid, offset: UInt64, data: [UInt8]) -> Result<[UInt8], Errno> {
        guard fid.descriptor >= 0 else { return .failure(Errno(EBADF)) }
        let put = data.withUnsafeBytes { pwrite(fid.descriptor, $0.baseAddress, data.count, off_t(Int64(bitPattern: offset))) }
        guard put >= 0 else { return .failure(Errno(errno)) }
        var w = NineWriter()
        w.u32(UInt32(put))
        return .success(w.bytes)
    }

    /// Entries as qid, offset (index of the next entry), type, name; the listing is read
    /// whole when the client starts at offset 0 and served from that snapshot.
    private func readdir(_ fid: Fid, offset: UInt64, count: UInt32) -> Result<[UInt8], Errno> {
        guard fid.descriptor >= 0 else { return .failure(Errno(EBADF)) }
        if offset == 0 || fid.directoryEntries == nil {
            let copy = openat(fid.descriptor, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard copy >= 0, let stream = fdopendir(copy) else { return .failure(Errno(errno)) }
            defer { closedir(stream) }
            var entries: [(name: String, type: UInt8, inode: UInt64)] = []
            while let entry = Glibc.readdir(stream) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                entries.append((name, entry.pointee.d_type, UInt64(entry.pointee.d_ino)))
            }
            fid.directoryEntries = entries
        }
        let entries = fid.directoryEntries ?? []
        let limit = Int(min(count, messageSize > 11 ? messageSize - 11 : 0))
        var data = NineWriter()
        var index = Int(min(offset, UInt64(entries.count)))
        while index < entries.count {
            let entry = entries[index]
            var one = NineWriter()
            one.u8(entry.type == DT_DIR ? 0x80 : entry.type == DT_LNK ? 0x02 : 0)
            one.u32(0)
            one.u64(entry.inode)
            one.u64(UInt64(index + 1))
            one.u8(entry.type)
            one.string(entry.name)
            guard data.bytes.count + one.bytes.count <= limit else { break }
            data.bytes += one.bytes
            index += 1
        }
        var w = NineWriter()
        w.u32(UInt32(data.bytes.count))
        w.bytes += data.bytes
        return .success(w.bytes)
    }

    private func rename(from old: [String], to directory: [String], _ name: String) -> Result<Void, Errno> {
        guard !old.isEmpty, NinePServer.isPlainName(name) else { return .failure(Errno(EINVAL)) }
        return withParent(old) { oldParent, oldName in
            withParent(directory + [name]) { newParent, newName in
                renameat(oldParent, oldName, newParent, newName) == 0 ? .success(()) : .failure(Errno(errno))
            }
        }
    }

    private func remove(_ path: [String]) -> Result<Void, Errno> {
        guard !path.isEmpty else { return .failure(Errno(EBUSY)) }
        return withParent(path) { parent, name in
            var info = stat()
            guard fstatat(parent, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return .failure(Errno(errno)) }
            let flags = info.st_mode & S_IFMT == S_IFDIR ? AT_REMOVEDIR : 0
            return unlinkat(parent, name, flags) == 0 ? .success(()) : .failure(Errno(errno))
        }
    }
}

/// A host errno, the payload of Rlerror (Linux numbering, which 9P2000.L uses).
struct Errno: Error {
    let code: Int32
    init(_ code: Int32) { self.code = code }
}

/// Why a 9p export could not be opened.
public struct NinePError: Error, CustomStringConvertible {
    public let description: String
}

extension Result {
    var isSuccess: Bool { if case .success = self { return true } else { return false } }
}

/// Little-endian fields of a 9P message; every read is bounds-checked (nil past the end).
struct NineReader {
    let bytes: [UInt8]
    var at = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    private mutating func integer(_ size: Int) -> UInt64? {
        guard size <= bytes.count - at else { return nil }
        var value: UInt64 = 0
        for index in 0..<size { value |= UInt64(bytes[at + index]) << UInt64(8 * index) }
        at += size
        return value
    }
    mutating func u8() -> UInt8? { integer(1).map { UInt8($0) } }
    mutating func u16() -> UInt16? { integer(2).map { UInt16($0) } }
    mutating func u32() -> UInt32? { integer(4).map { UInt32($0) } }
    mutating func u64() -> UInt64? { integer(8) }
    mutating func bytes(_ count: Int) -> [UInt8]? {
        guard count >= 0, count <= bytes.count - at else { return nil }
        defer { at += count }
        return Array(bytes[at..<(at + count)])
    }
    /// A string is a 16-bit length and that many bytes (not NUL-terminated).
    mutating func string() -> String? {
        guard let length = u16(), let raw = bytes(Int(length)) else { return nil }
        return String(decoding: raw, as: UTF8.self)
    }
}

struct NineWriter {
    var bytes: [UInt8] = []
    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u16(_ value: UInt16) { for i in 0..<2 { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * i))) } }
    mutating func u32(_ value: UInt32) { for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * i))) } }
    mutating func u64(_ value: UInt64) { for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(8 * i))) } }
    mutating func string(_ value: String) {
        let utf8 = Array(value.utf8.prefix(Int(UInt16.max)))
        u16(UInt16(utf8.count))
        bytes += utf8
    }
    static func errno(_ code: Int32) -> [UInt8] {
        var w = NineWriter()
        w.u32(UInt32(bitPattern: code))
        return w.bytes
    }
}
#endif

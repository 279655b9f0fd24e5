import XCTest
import Foundation
@testable import Virtio

/// virtio-9p driven through its virtqueue as Linux's 9pnet_virtio does, against a temporary
/// host directory: protocol basics, both directions of file exchange, and every way out of the
/// export a guest could try.
final class Virtio9PTests: XCTestCase {
    private var base = ""      // holds the export and a sibling secret
    private var export = ""
    private var harness: VirtioHarness!
    private var device: Virtio9P!
    private var tag: UInt16 = 1

    override func setUpWithError() throws {
        base = FileManager.default.temporaryDirectory.appendingPathComponent("virtio9p-\(UUID().uuidString)").path
        export = base + "/export"
        try FileManager.default.createDirectory(atPath: export + "/sub", withIntermediateDirectories: true)
        try "outside".write(toFile: base + "/secret", atomically: false, encoding: .utf8)
        try "hello from the host\n".write(toFile: export + "/hello.txt", atomically: false, encoding: .utf8)
        device = try Virtio9P(root: export, tag: "share")
        harness = try VirtioHarness(device: device)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: base)
    }

    // MARK: A minimal 9P2000.L client

    /// Sends one T-message through the queue and returns (type, body) of the reply.
    private func call(_ type: UInt8, _ body: [UInt8], replyRoom: Int = 8192) -> (type: UInt8, body: [UInt8]) {
        tag &+= 1
        var message = NineWriter()
        message.u32(UInt32(7 + body.count))
        message.u8(type)
        message.u16(tag)
        message.bytes += body
        let (head, buffers) = harness.submit(queue: 0, readable: [message.bytes], writable: [replyRoom])
        let used = harness.takeUsed(queue: 0)
        XCTAssertEqual(used.first?.head, head)
        let reply = harness.read(buffers[0], Int(used.first?.written ?? 0))
        guard reply.count >= 7 else { return (0, []) }
        XCTAssertEqual(UInt16(reply[5]) | UInt16(reply[6]) << 8, tag, "reply tag")
        return (reply[4], Array(reply[7...]))
    }

    private func errno(_ reply: (type: UInt8, body: [UInt8])) -> Int32? {
        guard reply.type == 7 else { return nil }
        var r = NineReader(reply.body)
        return r.u32().map { Int32(bitPattern: $0) }
    }

    private func attach(fid: UInt32 = 1) {
        var w = NineWriter()
        w.u32(65536); w.string("9P2000.L")
        XCTAssertEqual(call(100, w.bytes).type, 101)
        w = NineWriter()
        w.u32(fid); w.u32(~0); w.string("root"); w.string(""); w.u32(0)
        XCTAssertEqual(call(104, w.bytes).type, 105)
    }

    private func walk(_ fid: UInt32, _ newFid: UInt32, _ names: [String]) -> (type: UInt8, body: [UInt8]) {
        var w = NineWriter()
        w.u32(fid); w.u32(newFid); w.u16(UInt16(names.count))
        for name in names { w.string(name) }
        return call(110, w.bytes)
    }

    private func lopen(_ fid: UInt32, flags: UInt32) -> (type: UInt8, body: [UInt8]) {
        var w = NineWriter()
        w.u32(fid); w.u32(flags)
        return call(12, w.bytes)
    }

    private func readAll(_ fid: UInt32) -> String {
        var w = NineWriter()
        w.u32(fid); w.u64(0); w.u32(4096)
        let reply = call(116, w.bytes)
        guard reply.type == 117 else { return "<error \(errno(reply) ?? -1)>" }
        var r = NineReader(reply.body)
        let count = Int(r.u32()!)
        return String(decoding: r.bytes(count)!, as: UTF8.self)
    }

    private func qidPath(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var r = NineReader(Array(bytes))
        _ = r.u8(); _ = r.u32()
        return r.u64()!
    }

    // MARK: Tests

    func testMountTagIsInConfigurationSpace() {
        XCTAssertEqual(harness.deviceConfig(0, size: 2), 5)
        XCTAssertEqual(String(decoding: (0..<5).map { UInt8(harness.deviceConfig(2 + UInt64($0), size: 1)) }, as: UTF8.self), "share")
        XCTAssertEqual(harness.function.config.read(offset: 0, size: 4), 0x1049_1af4)
    }

    func testVersionNegotiatesTheSmallerMessageSize() {
        var w = NineWriter()
        w.u32(8192); w.string("9P2000.L")
        let reply = call(100, w.bytes)
        var r = NineReader(reply.body)
        XCTAssertEqual(reply.type, 101)
        XCTAssertEqual(r.u32(), 8192)
        XCTAssertEqual(r.string(), "9P2000.L")
    }

    func testGuestReadsAFileTheHostWrote() {
        attach()
        XCTAssertEqual(walk(1, 2, ["hello.txt"]).type, 111)
        XCTAssertEqual(lopen(2, flags: 0).type, 13)

        XCTAssertEqual(readAll(2), "hello from the host\n")
    }

    func testHostSeesAFileTheGuestCreated() throws {
        attach()
        XCTAssertEqual(walk(1, 2, ["sub"]).type, 111)
        var w = NineWriter()
        w.u32(2); w.string("made-in-guest"); w.u32(0o1 | 0o100); w.u32(0o4644); w.u32(0)   // O_WRONLY|O_CREAT, setuid asked
        XCTAssertEqual(call(14, w.bytes).type, 15)
        w = NineWriter()
        let data = Array("written by the guest".utf8)
        w.u32(2); w.u64(0); w.u32(UInt32(data.count)); w.bytes += data
        XCTAssertEqual(call(118, w.bytes).type, 119)

        XCTAssertEqual(try String(contentsOfFile: export + "/sub/made-in-guest", encoding: .utf8), "written by the guest")
        let mode = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: export + "/sub/made-in-guest")[.posixPermissions] as? Int)
        XCTAssertEqual(mode & 0o4000, 0, "set-user-ID is never set on a host file")
    }

    func testReaddirListsTheHostsEntries() {
        attach()
        XCTAssertEqual(walk(1, 2, []).type, 111)
        XCTAssertEqual(lopen(2, flags: 0o200000).type, 13)
        var w = NineWriter()
        w.u32(2); w.u64(0); w.u32(4096)
        let reply = call(40, w.bytes)
        XCTAssertEqual(reply.type, 41)
        var r = NineReader(reply.body)
        let count = Int(r.u32()!)
        var entries = NineReader(r.bytes(count)!)
        var names: [String] = []
        while entries.bytes(13) != nil, entries.u64() != nil, entries.u8() != nil, let name = entries.string() { names.append(name) }
        XCTAssertEqual(Set(names), [".", "..", "hello.txt", "sub"])
    }

    func testDotDotFromTheRootStaysAtTheRoot() {
        attach()
        let root = walk(1, 2, [])
        XCTAssertEqual(root.type, 111)
        let up = walk(1, 3, ["..", "..", ".."])
        XCTAssertEqual(up.type, 111)
        var rootInfo = stat()
        stat(export, &rootInfo)
        XCTAssertEqual(qidPath(up.body[(2 + 26)...]), UInt64(rootInfo.st_ino))
        XCTAssertEqual(errno(walk(3, 4, ["secret"])), ENOENT, "the export's parent is not reachable")
    }

    func testNamesWithSlashesAreRefused() {
        attach()
        XCTAssertEqual(errno(walk(1, 2, ["../secret"])), ENOENT)
        XCTAssertEqual(errno(walk(1, 2, ["/etc"])), ENOENT)
        XCTAssertEqual(errno(walk(1, 2, ["sub/../../secret"])), ENOENT)
        var w = NineWriter()
        w.u32(1); w.string("../escape"); w.u32(0o101); w.u32(0o644); w.u32(0)
        XCTAssertEqual(errno(call(14, w.bytes)), EINVAL)
        XCTAssertFalse(FileManager.default.fileExists(atPath: base + "/escape"))
    }

    func testASymlinkOutOfTheExportIsNeverFollowed() throws {
        try FileManager.default.createSymbolicLink(atPath: export + "/link-to-base", withDestinationPath: base)
        try FileManager.default.createSymbolicLink(atPath: export + "/link-to-secret", withDestinationPath: base + "/secret")
        attach()

        XCTAssertEqual(errno(walk(1, 2, ["link-to-base", "secret"])), nil, "the first name resolves to the link itself")
        XCTAssertEqual(walk(1, 2, ["link-to-base", "secret"]).body.prefix(2), [1, 0], "only the link's qid: the walk stops there")
        XCTAssertEqual(walk(1, 3, ["link-to-secret"]).type, 111)
        XCTAssertNotNil(errno(lopen(3, flags: 0)), "opening a symlink fails instead of following it")
        var w = NineWriter()
        w.u32(3)
        let link = call(22, w.bytes)
        var r = NineReader(link.body)
        XCTAssertEqual(r.string(), base + "/secret", "readlink returns the text; the guest resolves it in its own tree")
    }

    func testASymlinkTheGuestMakesIsNotFollowedEither() {
        attach()
        var w = NineWriter()
        w.u32(1); w.string("escape"); w.string(base); w.u32(0)
        XCTAssertEqual(call(16, w.bytes).type, 17)
        XCTAssertEqual(walk(1, 2, ["escape", "secret"]).body.prefix(2), [1, 0])
        w = NineWriter()
        w.u32(1); w.string("escape"); w.u32(0o101); w.u32(0o644); w.u32(0)
        XCTAssertNotNil(errno(call(14, w.bytes)), "creating over a symlink does not write through it")
        XCTAssertEqual(try String(contentsOfFile: base + "/secret", encoding: .utf8), "outside")
    }

    func testRenameAndUnlinkStayInside() throws {
        attach()
        var w = NineWriter()
        w.u32(1); w.string("hello.txt"); w.u32(1); w.string("..")
        XCTAssertEqual(errno(call(74, w.bytes)), EINVAL)
        w = NineWriter()
        w.u32(1); w.string("hello.txt"); w.u32(1); w.string("renamed.txt")
        XCTAssertEqual(call(74, w.bytes).type, 75)
        XCTAssertTrue(FileManager.default.fileExists(atPath: export + "/renamed.txt"))
        w = NineWriter()
        w.u32(1); w.string(".."); w.u32(0x200)
        XCTAssertEqual(errno(call(76, w.bytes)), EINVAL)
        w = NineWriter()
        w.u32(1); w.string("renamed.txt"); w.u32(0)
        XCTAssertEqual(call(76, w.bytes).type, 77)
        XCTAssertFalse(FileManager.default.fileExists(atPath: export + "/renamed.txt"))
    }

    func testMalformedMessagesGetAnErrorNotACrash() {
        attach()
        // A walk claiming 16 names with none present, a read with no fields, an unknown type.
        var w = NineWriter()
        w.u32(1); w.u32(2); w.u16(16)
        XCTAssertEqual(errno(call(110, w.bytes)), EPROTO)
        XCTAssertEqual(errno(call(116, [1, 2])), EPROTO)
        XCTAssertEqual(errno(call(200, [])), EOPNOTSUPP)
        XCTAssertEqual(errno(walk(99, 100, [])), EBADF)
    }

    func testAReplyTooBigForTheBuffersBecomesAnError() {
        attach()
        XCTAssertEqual(walk(1, 2, ["hello.txt"]).type, 111)
        XCTAssertEqual(lopen(2, flags: 0).type, 13)
        var w = NineWriter()
        w.u32(2); w.u64(0); w.u32(4096)
        XCTAssertEqual(errno(call(116, w.bytes, replyRoom: 16)), 90)
    }

    func testAChainWithoutRoomForAReplyIsSkipped() {
        harness.submit(queue: 0, readable: [[7, 0, 0, 0, 100, 0, 0]], writable: [])
        XCTAssertEqual(harness.takeUsed(queue: 0).first?.written, 0)
        XCTAssertEqual(device.malformedRequests, 1)
    }

    func testAnOpenFidIsClonedNotMoved() {
        attach()
        XCTAssertEqual(walk(1, 2, ["sub"]).type, 111)
        XCTAssertEqual(lopen(2, flags: 0o200000).type, 13)
        XCTAssertEqual(errno(walk(2, 2, [".."])), EBADF)
        XCTAssertEqual(walk(2, 3, [".."]).type, 111)
    }

    func testClunkReleasesFids() {
        attach()
        XCTAssertEqual(walk(1, 2, ["sub"]).type, 111)
        XCTAssertEqual(device.server.fidCount, 2)
        var w = NineWriter()
        w.u32(2)
        XCTAssertEqual(call(120, w.bytes).type, 121)
        XCTAssertEqual(device.server.fidCount, 1)
    }
}

import Foundation
import XCTest

/// User networking under `--record` and `--replay` (JournaledNetwork.swift): the development
/// guest gets its DHCP lease from libslirp and fetches a file from an HTTP server on the host's
/// loopback, recorded; the replay runs with no slirp and the server gone, takes every frame
/// from the journal, and prints the same transcript. A journal with one received frame edited
/// diverges with status 3.
final class NetworkJournalGuestTests: XCTestCase {
    func testARecordedDHCPAndFetchReplaysWithoutTheNetwork() throws {
        guard case .backplane(let binary) = GuestHarness.emulator else { throw XCTSkip("a Backplane option") }
        let artifacts = try DevGuest.artifacts()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("net-journal-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "served by the host\n".write(to: folder.appendingPathComponent("file.txt"), atomically: false, encoding: .utf8)
        let httpPort = Int.random(in: 20000...29999)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory", folder.path, "\(httpPort)"]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        let journal = folder.appendingPathComponent("net.journal").path

        let shell = try DevGuestShell(board: "virt-linux", artifacts: artifacts, extra: ["--record", journal])
        XCTAssertTrue(shell.waitForShell(), "no shell:\n\(shell.console.transcript.suffix(3000))")
        XCTAssertTrue(shell.console.transcript.contains("dev-guest: eth0 10.0.2.15/24"), "DHCP lease at boot")
        var fetched = shell.run("wget -q -O - http://10.0.2.2:\(httpPort)/file.txt", timeout: 60)
        for _ in 0..<20 where fetched.output != "served by the host" {
            // The server may still be starting: try again (the retries are recorded too).
            Thread.sleep(forTimeInterval: 0.25)
            fetched = shell.run("wget -q -O - http://10.0.2.2:\(httpPort)/file.txt", timeout: 60)
        }
        XCTAssertEqual(fetched.output, "served by the host")
        shell.console.type("poweroff\n")
        XCTAssertEqual(shell.console.waitForExit(timeout: 120), 0, shell.console.transcript.suffix(2000).description)
        let recorded = shell.console.transcript
        server.terminate()
        server.waitUntilExit()

        let lines = try String(contentsOfFile: journal, encoding: .utf8).split(separator: "\n").map(String.init)
        let received = lines.filter { $0.hasPrefix("input ") && $0.contains(" net:net0/rx ") }
        XCTAssertGreaterThan(received.count, 4, "DHCP offer and ack, ARP, TCP")
        XCTAssertGreaterThan(lines.filter { $0.hasPrefix("sent ") && $0.contains(" net:net0/tx ") }.count, 4)

        // The server is gone and no slirp runs: the journal is the network.
        let replay = try GuestHarness.run([binary, "run", "virt-linux", "--kernel", artifacts.image, "--initrd", artifacts.initramfs,
                                           "--append", "console=ttyS0 earlycon quiet", "--memory", "256M", "--smp", "2",
                                           "--serial", "stdio", "--timeout", "600", "--replay", journal], timeout: 660)
        XCTAssertEqual(replay.status, 0, replay.output.split(separator: "\n").filter { $0.contains("backplane") }.joined(separator: "\n"))
        XCTAssertEqual(replay.output, recorded)

        // The HTTP answer's frame edited (one byte of the body): the guest prints another body,
        // and the replay stops where its output first differs from the recording's.
        let target = try XCTUnwrap(lines.firstIndex { $0.contains(" net:net0/rx ") && $0.contains(Self.hex("served by the host")) },
                                   "no received frame carries the file")
        var edited = lines
        edited[target] = edited[target].replacingOccurrences(of: Self.hex("served by the host"), with: Self.hex("served by the HOST"))
        let editedPath = folder.appendingPathComponent("edited.journal").path
        try (edited.joined(separator: "\n") + "\n").write(toFile: editedPath, atomically: false, encoding: .utf8)
        let diverged = try GuestHarness.run([binary, "run", "virt-linux", "--kernel", artifacts.image, "--initrd", artifacts.initramfs,
                                             "--append", "console=ttyS0 earlycon quiet", "--memory", "256M", "--smp", "2",
                                             "--serial", "stdio", "--timeout", "600", "--replay", editedPath], timeout: 660)
        XCTAssertEqual(diverged.status, 3, diverged.output.suffix(2000).description)
        XCTAssertTrue(diverged.output.contains("diverged: "), diverged.output.suffix(1500).description)
    }

    static func hex(_ text: String) -> String { text.utf8.map { String(format: "%02x", $0) }.joined() }
}

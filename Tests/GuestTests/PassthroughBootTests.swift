import Foundation
import XCTest

/// A real host PCI function mirrored into the guest with `pci.host` (docs/passthrough.md): U-Boot
/// and the Linux guest must see the vendor, device and class `lspci -n` shows on the host. The
/// CI machines have virtio functions; a host with none skips, saying so.
final class PassthroughBootTests: XCTestCase {
    /// One function as `lspci -n -D` prints it: "0000:00:03.0 0200: 1af4:1041 (rev 01)".
    struct HostFunction {
        var address: String
        var vendor: UInt16
        var device: UInt16
        /// Base class and sub-class, as lspci -n shows them.
        var classCode: UInt16
    }

    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("passthrough-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let scratch { try? FileManager.default.removeItem(at: scratch) }
    }

    /// Every endpoint `lspci -n -D` lists; fails when lspci is missing (Debian's pciutils).
    static func lspci(file: StaticString = #filePath, line: UInt = #line) throws -> [HostFunction] {
        guard FileManager.default.fileExists(atPath: "/usr/bin/lspci") else {
            XCTFail("lspci is missing: run scripts/setup.sh (Debian package pciutils)", file: file, line: line)
            return []
        }
        let run = try GuestHarness.run(["lspci", "-n", "-D"], timeout: 30)
        XCTAssertEqual(run.status, 0, run.output, file: file, line: line)
        return run.output.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count >= 3, fields[1].hasSuffix(":") else { return nil }
            let ids = fields[2].split(separator: ":")
            guard ids.count == 2, let vendor = UInt16(ids[0], radix: 16), let device = UInt16(ids[1], radix: 16),
                  let classCode = UInt16(fields[1].dropLast(), radix: 16) else { return nil }
            // Endpoints only (header type 0): bridges cannot be mirrored.
            let config = FileManager.default.contents(atPath: "/sys/bus/pci/devices/\(fields[0])/config") ?? Data()
            guard config.count > 0x0e, config[0x0e] & 0x7f == 0 else { return nil }
            return HostFunction(address: String(fields[0]), vendor: vendor, device: device, classCode: classCode)
        }
    }

    /// The function to mirror: the first that is not a host bridge (class 06) and has a class
    /// U-Boot and Linux name (not ff), else the first endpoint.
    static func pick(file: StaticString = #filePath, line: UInt = #line) throws -> HostFunction {
        let functions = try lspci(file: file, line: line)
        guard let chosen = functions.first(where: { $0.classCode >> 8 != 0x06 && $0.classCode >> 8 != 0xff }) ?? functions.first else {
            throw XCTSkip("this host has no PCI endpoint to mirror (lspci -n lists none)")
        }
        return chosen
    }

    /// Boards/virt.yaml plus `pci.host` at 00:03.0 mirroring `function`.
    private func writeBoard(_ function: HostFunction, properties: String = "") throws -> String {
        let virt = try String(contentsOf: GuestHarness.packageRoot.appendingPathComponent("Boards/virt.yaml"), encoding: .utf8)
        guard let boot = virt.range(of: "\nboot:") else { throw XCTSkip("virt.yaml has no boot section") }
        var board = virt
        board.insert(contentsOf: "\n  - name: host0\n    type: pci.host\n    at: pcie0/03.0\n    properties: { host: \"\(function.address)\"\(properties) }",
                     at: boot.lowerBound)
        let path = scratch.appendingPathComponent("passthrough.yaml").path
        try board.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func hex(_ value: UInt16, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }

    func testUBootSeesTheHostFunctionsIDsAndClass() throws {
        let function = try Self.pick()
        guard let uBoot = try UBootConsole.boot(board: try writeBoard(function)) else { return }
        _ = uBoot.run("pci enum")
        let header = uBoot.run("pci header 00.03.00")
        func field(_ name: String) -> UInt64? {
            // "  class code =                  0x01 (Mass storage controller)"
            header.split(separator: "\n").first { $0.hasPrefix("  \(name) =") }
                .flatMap { $0.split(separator: "=").last?.split(separator: " ").first }
                .flatMap { UInt64($0.dropFirst(2), radix: 16) }
        }
        XCTAssertEqual(field("vendor ID"), UInt64(function.vendor), header)
        XCTAssertEqual(field("device ID"), UInt64(function.device), header)
        XCTAssertEqual(field("class code"), UInt64(function.classCode >> 8), header)
        XCTAssertEqual(field("sub class code"), UInt64(function.classCode & 0xff), header)
        let list = uBoot.run("pci")
        XCTAssertTrue(list.contains("00.03.00   0x\(hex(function.vendor, digits: 4))     0x\(hex(function.device, digits: 4))"), list)
        uBoot.powerOff()
    }

    func testLinuxGuestSeesTheHostFunctionsIDsAndClass() throws {
        guard case .backplane(let binary) = GuestHarness.emulator, GuestHarness.command(board: "virt") != nil else {
            throw XCTSkip("pci.host is Backplane's; GUEST_EMULATOR=qemu has nothing to compare")
        }
        let function = try Self.pick()
        let artifacts: LinuxGuest.Artifacts
        do { artifacts = try LinuxGuest.artifacts() } catch {
            XCTFail("cannot build the Linux guest: \(error)")
            return
        }
        let board = try writeBoard(function)
        let run = try GuestHarness.run([binary, "run", board, "--kernel", artifacts.image, "--initrd", artifacts.initramfs,
                                        "--append", "console=ttyS0 earlycon", "--memory", "256M", "--serial", "stdio",
                                        "--timeout", "300"], timeout: 330)
        let boot = LinuxGuest.Boot(status: run.status, output: run.output, seconds: 0)
        XCTAssertEqual(boot.status, 0, "the guest did not power off:\n\(run.output.suffix(3000))")
        let classPrefix = hex(function.classCode, digits: 4)
        let line = boot.lines("pci 0000:00:03.0 ").first
        XCTAssertNotNil(line, "no BP: pci line for 00:03.0:\n\(boot.lines("pci").joined(separator: "\n"))")
        XCTAssertTrue(line?.hasPrefix("pci 0000:00:03.0 vendor=\(hex(function.vendor, digits: 4)) device=\(hex(function.device, digits: 4)) class=\(classPrefix)") == true,
                      line ?? "")
    }

    /// `--record` / `--replay` with a mirrored host function (docs/passthrough.md, "Record and
    /// replay" under VFIO): its description is journaled when the machine is built, and the
    /// replay builds it from the journal instead of sysfs: a journal whose recorded device ID is
    /// edited makes the guest see that ID, so its output (and the replay) diverges. `bars: true`
    /// (BARs read through sysfs, not journaled) is refused.
    func testAMirroredHostFunctionIsRecordedAndReplayedFromTheJournal() throws {
        guard case .backplane(let binary) = GuestHarness.emulator, GuestHarness.command(board: "virt") != nil else {
            throw XCTSkip("pci.host is Backplane's")
        }
        let function = try Self.pick()
        let artifacts: LinuxGuest.Artifacts
        do { artifacts = try LinuxGuest.artifacts() } catch {
            XCTFail("cannot build the Linux guest: \(error)")
            return
        }
        let board = try writeBoard(function)
        let journal = scratch.appendingPathComponent("host.journal").path
        func run(_ journalOption: String, _ path: String) throws -> (status: Int32, output: String) {
            let run = try GuestHarness.run([binary, "run", board, "--kernel", artifacts.image, "--initrd", artifacts.initramfs,
                                            "--append", "console=ttyS0 earlycon", "--memory", "256M", "--serial", "stdio",
                                            "--timeout", "300", journalOption, path], timeout: 330)
            return (run.status, run.output)
        }
        let recorded = try run("--record", journal)
        XCTAssertEqual(recorded.status, 0, recorded.output.suffix(2000).description)
        let expected = "pci 0000:00:03.0 vendor=\(hex(function.vendor, digits: 4)) device=\(hex(function.device, digits: 4))"
        XCTAssertTrue(recorded.output.contains(expected), recorded.output.suffix(3000).description)
        let lines = try String(contentsOfFile: journal, encoding: .utf8).split(separator: "\n").map(String.init)
        let host = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("input 0 out 0 ") && $0.contains(" pci:host0/host ") }, lines.prefix(5).joined(separator: "\n"))

        let replayed = try run("--replay", journal)
        XCTAssertEqual(replayed.status, 0, replayed.output.suffix(2000).description)
        XCTAssertEqual(replayed.output, recorded.output)

        // The description's configuration bytes start 9 bytes in (HostPCISnapshot.journalBytes);
        // the device ID is bytes 2 and 3 of them.
        var edited = lines
        var words = edited[host].split(separator: " ").map(String.init)
        var blob = Array(words[6])
        // Little-endian: 0xbeef, or 0xfeed for a host function that is 0xbeef already.
        let (other, otherID) = function.device == 0xbeef ? ("edfe", "feed") : ("efbe", "beef")
        blob.replaceSubrange(22..<26, with: Array(other))
        words[6] = String(blob)
        edited[host] = words.joined(separator: " ")
        let editedPath = scratch.appendingPathComponent("edited.journal").path
        try (edited.joined(separator: "\n") + "\n").write(toFile: editedPath, atomically: false, encoding: .utf8)
        let diverged = try run("--replay", editedPath)
        XCTAssertEqual(diverged.status, 3, diverged.output.suffix(2000).description)
        XCTAssertTrue(diverged.output.contains("pci 0000:00:03.0 vendor=\(hex(function.vendor, digits: 4)) device=\(otherID)"),
                      "the guest sees the journal's device, not the host's:\n\(diverged.output.suffix(3000))")
        XCTAssertTrue(diverged.output.contains("diverged: "), diverged.output.suffix(1500).description)

        let refused = try GuestHarness.run([binary, "run", try writeBoard(function, properties: ", bars: true"), "--record", journal,
                                            "--timeout", "5"], timeout: 30)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.output.contains("--record: device 'host0' (pci.host with bars: true) reads the host device's BARs through sysfs, which the journal does not record"),
                      refused.output)
    }

    /// `backplane host pci` lists what lspci lists, with the same IDs.
    func testHostPCIListsWhatLspciLists() throws {
        guard case .backplane(let binary) = GuestHarness.emulator else { throw XCTSkip("command-line test of Backplane itself") }
        let functions = try Self.lspci()
        guard !functions.isEmpty else { throw XCTSkip("this host has no PCI endpoints") }
        let run = try GuestHarness.run([binary, "host", "pci"], timeout: 30)
        XCTAssertEqual(run.status, 0, run.output)
        for function in functions {
            XCTAssertTrue(run.output.contains("\(function.address)  \(hex(function.vendor, digits: 4)):\(hex(function.device, digits: 4))  class \(hex(function.classCode, digits: 4))"),
                          "\(function.address) missing:\n\(run.output)")
        }
    }

    /// A driver-bound function with `bars: true`: one line naming the board line, status 2.
    func testBARAccessToADriverBoundFunctionStopsTheRun() throws {
        guard case .backplane(let binary) = GuestHarness.emulator else { throw XCTSkip("command-line test of Backplane itself") }
        let function = try Self.pick()
        guard let driver = try? FileManager.default.destinationOfSymbolicLink(atPath: "/sys/bus/pci/devices/\(function.address)/driver")
            .split(separator: "/").last.map(String.init) else {
            throw XCTSkip("\(function.address) is bound to no host driver here")
        }
        let board = try writeBoard(function, properties: ", bars: true")
        let text = try String(contentsOfFile: board, encoding: .utf8)
        let line = try XCTUnwrap(text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0 == "  - name: host0" }) + 1
        let run = try GuestHarness.run([binary, "run", board, "--timeout", "5"], timeout: 30)
        XCTAssertEqual(run.status, 2)
        XCTAssertEqual(run.output, "backplane: error: \(board):\(line):5: device 'host0': host PCI function \(function.address) is bound to host driver '\(driver)'; BAR access ('bars: true') would race it: unbind it first (echo \(function.address) > /sys/bus/pci/drivers/\(driver)/unbind) or set 'force: true'\n")
    }

    func testMissingUSBDeviceIsOneLine() throws {
        guard case .backplane(let binary) = GuestHarness.emulator else { throw XCTSkip("command-line test of Backplane itself") }
        let run = try GuestHarness.run([binary, "host", "usb", "--check", "ffff:fffe"], timeout: 30)
        XCTAssertEqual(run.status, 2)
        XCTAssertTrue(run.output.hasPrefix("backplane: error: host USB device ffff:fffe not found ("), run.output)
        XCTAssertEqual(run.output.filter { $0 == "\n" }.count, 1, run.output)
    }
}

import Foundation
import XCTest

/// The SDK as a plugin author outside this repository gets it: scripts/install.sh into a
/// temporary prefix, then `backplane plugin new` skeletons for each bus built with the
/// installed pkg-config file and run on their boards by the installed `backplane`.
final class PluginSDKTests: XCTestCase {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var installed: URL?

    /// Installs once per test process; returns the prefix.
    private func prefix() throws -> URL {
        Self.lock.lock()
        defer { Self.lock.unlock() }
        if let installed = Self.installed { return installed }
        guard case .backplane(let binary) = GuestHarness.emulator, FileManager.default.isExecutableFile(atPath: binary) else {
            throw XCTSkip("the SDK tests install Backplane's release binary (swift build -c release --product backplane)")
        }
        let prefix = FileManager.default.temporaryDirectory.appendingPathComponent("backplane-sdk-\(getpid())/usr")
        let run = try GuestHarness.run(["BACKPLANE=\(binary)", GuestHarness.packageRoot.appendingPathComponent("scripts/install.sh").path,
                                        "--prefix", prefix.path, "--no-build"], timeout: 60)
        XCTAssertEqual(run.status, 0, run.output)
        Self.installed = prefix
        return prefix
    }

    private func environment(_ prefix: URL) -> [String] {
        ["PATH=\(prefix.appendingPathComponent("bin").path):\(ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")",
         "PKG_CONFIG_PATH=\(prefix.appendingPathComponent("lib/pkgconfig").path)"]
    }

    func testPkgConfigPointsAtTheInstalledHeaders() throws {
        let prefix = try prefix()
        let cflags = try GuestHarness.run(environment(prefix) + ["pkg-config", "--cflags", "backplane-plugin"], timeout: 30)
        XCTAssertEqual(cflags.status, 0, cflags.output)
        XCTAssertEqual(cflags.output.trimmingCharacters(in: .whitespacesAndNewlines), "-I\(prefix.appendingPathComponent("include").path)")
        let version = try GuestHarness.run(environment(prefix) + ["pkg-config", "--modversion", "backplane-plugin"], timeout: 30)
        XCTAssertEqual(version.output, "\(try Self.headerABI())\n", "the installed pkg-config file carries plugin.h's ABI version")
    }

    /// "MAJOR.MINOR" from the repository's plugin.h (BP_ABI_MAJOR, BP_ABI_MINOR): the version the
    /// installed SDK and a skeleton built with it must carry.
    private static func headerABI() throws -> String {
        let header = try String(contentsOf: GuestHarness.packageRoot.appendingPathComponent("Plugins/include/backplane/plugin.h"), encoding: .utf8)
        func define(_ name: String) throws -> String {
            let line = try XCTUnwrap(header.split(separator: "\n").first { $0.hasPrefix("#define \(name) ") }, "plugin.h defines \(name)")
            return String(line.dropFirst("#define \(name) ".count)).trimmingCharacters(in: .whitespaces)
        }
        return "\(try define("BP_ABI_MAJOR")).\(try define("BP_ABI_MINOR"))"
    }

    private func skeleton(_ bus: String) throws -> (URL, GuestHarness.Run) {
        let prefix = try prefix()
        let folder = prefix.deletingLastPathComponent().appendingPathComponent("work-\(bus)")
        try? FileManager.default.removeItem(at: folder)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let name = "my_\(bus)"
        let new = try GuestHarness.run(environment(prefix) + ["backplane", "plugin", "new", name, "--bus", bus,
                                                               "--directory", folder.appendingPathComponent(name).path], timeout: 30)
        XCTAssertEqual(new.status, 0, new.output)
        let make = try GuestHarness.run(environment(prefix) + ["make", "-C", folder.appendingPathComponent(name).path, "run"], timeout: 180)
        return (folder.appendingPathComponent(name), make)
    }

    func testThePlatformSkeletonBuildsAgainstTheInstalledSDKAndItsGuestPasses() throws {
        let (_, run) = try skeleton("platform")
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("pkg-config --cflags backplane-plugin"), run.output)
        XCTAssertTrue(run.output.contains("my_platform guest\nPASS"), run.output)
    }

    func testThePCISkeletonBuildsAndItsGuestFindsTheFunctionAndGetsDMAAndINTx() throws {
        let (folder, run) = try skeleton("pci")
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("my_pci guest\nPASS"), run.output)
        let info = try GuestHarness.run(environment(try prefix()) + ["backplane", "plugin", "info", folder.appendingPathComponent("libmy_pci.so").path], timeout: 30)
        XCTAssertEqual(info.status, 0, info.output)
        XCTAssertTrue(info.output.contains("name: my_pci\n"), info.output)
        let abi = try Self.headerABI()
        XCTAssertTrue(info.output.contains("abi: \(abi) (this backplane: \(abi))\n"), info.output)
        XCTAssertTrue(info.output.contains("  my_pci.dev (PCI 1234:0b0a, BAR0 0x1000, snapshot hooks): my_pci PCI function\n"), info.output)
    }

    func testTheUSBSkeletonBuildsAndItsGuestSeesTheDeviceOnItsPort() throws {
        let (_, run) = try skeleton("usb")
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("device connected at high speed on port 1\nPASS"), run.output)
    }

    func testPluginInfoListsPropertiesExportsAndUses() throws {
        let server = try PluginGuestTests.plugin("qpp_srv")
        let client = try PluginGuestTests.plugin("qpp_client")
        let edu = try PluginGuestTests.plugin("acme_edu")
        guard case .backplane(let binary) = GuestHarness.emulator else { throw XCTSkip("Backplane only") }
        let serverInfo = try GuestHarness.run([binary, "plugin", "info", server], timeout: 30)
        XCTAssertEqual(serverInfo.status, 0, serverInfo.output)
        XCTAssertTrue(serverInfo.output.contains("exports: "), serverInfo.output)
        XCTAssertFalse(serverInfo.output.contains("exports: (none)"), serverInfo.output)
        let clientInfo = try GuestHarness.run([binary, "plugin", "info", client, "--plugin", server], timeout: 30)
        XCTAssertTrue(clientInfo.output.contains("uses: qpp_srv\n"), clientInfo.output)
        let eduInfo = try GuestHarness.run([binary, "plugin", "info", edu], timeout: 30)
        XCTAssertTrue(eduInfo.output.contains("    latency-ns (integer, default "), eduInfo.output)
    }

    private func binary() throws -> String {
        guard case .backplane(let binary) = GuestHarness.emulator, FileManager.default.isExecutableFile(atPath: binary) else {
            throw XCTSkip("Backplane's release binary")
        }
        return binary
    }

    func testADeviceOptionErrorNamesTheOptionNotTheBundledBoardsPath() throws {
        let run = try GuestHarness.run([try binary(), "run", "virt", "--bios", "none", "--device", "ns16550a,reg=0x10000000:0x100"], timeout: 30)
        XCTAssertEqual(run.status, 2)
        XCTAssertEqual(run.output, "backplane: error: --device #1 'ns16550a,reg=0x10000000:0x100', column 10: 'ns16550a0' [0x10000000,0x10000100) overlaps 'uart0' [0x10000000,0x10000100)\n")
    }

    /// Every `--device` error names the option (its place among the `--device` options), its text
    /// and the column of the key at fault: for a bad key, a check of the whole board, a clash with
    /// an earlier option, and a failure while the machine is built (the disk image). Never the
    /// bundled board's path, never a `:0:0` position.
    func testDeviceOptionErrorsPointAtTheOptionAndTheColumn() throws {
        let binary = try binary()
        let first = "edu,at=pcie0/03.0"
        func run(_ second: String) throws -> String {
            let run = try GuestHarness.run([binary, "run", "virt", "--bios", "none", "--timeout", "5",
                                            "--device", first, "--device", second], timeout: 30)
            XCTAssertEqual(run.status, 2, run.output)
            XCTAssertFalse(run.output.contains(":0:"), run.output)
            XCTAssertFalse(run.output.contains("virt.yaml"), run.output)
            return run.output
        }
        XCTAssertEqual(try run("edu,at=pcie0/02.0,bogus=1"),
                       "backplane: error: --device #2 'edu,at=pcie0/02.0,bogus=1', column 19: unknown property 'bogus' for device type 'edu'\n")
        XCTAssertEqual(try run("edu,at=pcie0/00.0"),
                       "backplane: error: --device #2 'edu,at=pcie0/00.0', column 5: slot pcie0/00.0 of 'edu1' is taken by the host bridge of 'pcie0'\n")
        XCTAssertEqual(try run("edu,name=e,at=pcie0/03.0"),
                       "backplane: error: --device #2 'edu,name=e,at=pcie0/03.0', column 12: slot pcie0/03.0 of 'e' is already taken by 'edu0' (--device #1)\n")
        XCTAssertEqual(try run("ns16550a,reg=0x10000000:0x100,irq=plic0@999"),
                       "backplane: error: --device #2 'ns16550a,reg=0x10000000:0x100,irq=plic0@999', column 10: 'ns16550a0' [0x10000000,0x10000100) overlaps 'uart0' [0x10000000,0x10000100)\n"
                       + "backplane: error: --device #2 'ns16550a,reg=0x10000000:0x100,irq=plic0@999', column 31: irq source 999 of 'ns16550a0' is out of range for 'plic0': sources are 1...96\n")
        // Found only while the machine is built, after every check of the board passed.
        let directory = FileManager.default.temporaryDirectory.path
        XCTAssertEqual(try run("virtio-blk-pci,at=pcie0/02.0,file=\(directory)"),
                       "backplane: error: --device #2 'virtio-blk-pci,at=pcie0/02.0,file=\(directory)', column 1: device 'virtio-blk-pci0': disk image '\(directory)': Is a directory\n")
    }

    func testCheckTakesDevicesAndShowsWherePCIAndUSBDevicesSit() throws {
        let run = try GuestHarness.run([try binary(), "check", "virt", "--device", "qemu-xhci,name=xhci0,at=pcie0/04.0",
                                        "--device", "usb-kbd,at=xhci0/port1"], timeout: 30)
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.hasSuffix("placement:\n  xhci0 (qemu-xhci) at pcie0/04.0\n  usb-kbd0 (usb-kbd) at xhci0/port1\n"), run.output)
    }

    func testTheSameLibraryInTheBoardAndOnTheCommandLineIsOnePlugin() throws {
        let (folder, make) = try skeleton("platform")
        XCTAssertEqual(make.status, 0, make.output)
        let run = try GuestHarness.run([try binary(), "check", folder.appendingPathComponent("board.yaml").path,
                                        "--plugin", folder.appendingPathComponent("./libmy_platform.so").path], timeout: 30)
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("dev0 (my_platform.dev)"), run.output)
    }

    func testAMissingPluginDoesNotHideTheBoardsOtherErrors() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("missing-plugin-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let board = folder.appendingPathComponent("b.yaml").path
        try """
            name: b
            plugins:
              - libmissing.so
            harts: { count: 1, isa: rv64imafdc, timebase-frequency: 10000000 }
            memory:
              - { name: ram, base: 0x80000001, size: 16M }
            devices:
              - { name: d0, type: missing.dev, reg: [0x10003000, 0x1000] }
            """.write(toFile: board, atomically: false, encoding: .utf8)
        let run = try GuestHarness.run([try binary(), "check", board], timeout: 30)
        XCTAssertEqual(run.status, 2)
        XCTAssertTrue(run.output.contains("is not a multiple of 4 KiB"), run.output)
        XCTAssertTrue(run.output.hasSuffix("backplane: error: plugin '\(folder.path)/libmissing.so': no such file\n"), run.output)
        XCTAssertFalse(run.output.contains("unknown device type"), run.output)
    }
}

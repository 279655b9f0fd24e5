import Foundation
import XCTest

/// Device-level tracing (`--trace`, docs/debugging.md) of Linux 6.12 driving virtio-blk on the AIA
/// PCI board, read back as JSON lines: what the driver did, in the order it did it.
final class DeviceTraceTests: XCTestCase {
    private func events(_ file: URL) throws -> [[String: Any]] {
        let text = try String(contentsOf: file, encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
            return try XCTUnwrap(object as? [String: Any], "not a JSON object: \(line)")
        }
    }

    func testLinuxVirtioBlockSetupIsTracedInOrder() throws {
        guard let backplane = GuestHarness.command(board: "virt")?.first else { return }
        let artifacts = try LinuxGuest.artifacts()
        let disk = try LinuxGuest.makeDisk()
        let directory = disk.deletingLastPathComponent()
        defer { try? FileManager.default.removeItem(at: directory) }
        let board = directory.appendingPathComponent("virt-aia-pci.yaml")
        try FileManager.default.copyItem(at: GuestHarness.packageRoot.appendingPathComponent("Guests/linux/boards/virt-aia-pci.yaml"), to: board)
        let trace = directory.appendingPathComponent("trace.jsonl")
        let run = try GuestHarness.run([
            "-C", directory.path, backplane, "run", board.path, "--kernel", artifacts.image, "--initrd", artifacts.initramfs,
            "--append", "console=ttyS0", "--memory", "256M", "--serial", "stdio", "--timeout", "200",
            "--trace", "mmio,pci,dma,irq:disk0,imsic-s", "--trace-format", "json", "--trace-file", trace.path,
        ], timeout: 260)
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("BP: blk vda rw ok"), run.output)
        let all = try events(trace)
        XCTAssertFalse(all.isEmpty)
        // Only the devices asked for, every event with its clock, and the hart and a kernel pc
        // for what a hart did.
        XCTAssertEqual(Set(all.compactMap { $0["device"] as? String }), ["disk0", "imsic-s"])
        XCTAssertTrue(all.allSatisfy { $0["t"] is Int })
        func index(_ predicate: ([String: Any]) -> Bool, after start: Int = -1, _ what: String) throws -> Int {
            let found = all.indices.first { $0 > start && predicate(all[$0]) }
            return try XCTUnwrap(found, "no \(what) after event \(start)")
        }
        func on(_ event: String, register: String? = nil) -> ([String: Any]) -> Bool {
            { object in
                object["device"] as? String == "disk0" && object["event"] as? String == event
                    && (register == nil || object["register"] as? String == register)
            }
        }
        // Enumeration reads the IDs (virtio 1.2 §4.1.2: vendor 0x1af4, device 0x1042 for block).
        let vendor = try index(on("config-read", register: "vendor-id"), "vendor-id read")
        XCTAssertEqual(all[vendor]["value"] as? Int, 0x1042_1af4)
        XCTAssertNotNil(all[vendor]["hart"])
        XCTAssertGreaterThan(try XCTUnwrap(all[vendor]["pc"] as? UInt64), 0xffff_ffff_0000_0000, "Linux's own code")
        // The BAR the common configuration lives in is mapped, then the driver negotiates features
        // through it: device_feature_select (offset 0) and device_feature (4) of the common config.
        let bar = try index(on("bar-map"), after: vendor, "BAR mapping")
        let featureSelect = try index({ on("write")($0) && ($0["offset"] as? Int) == 0 }, after: bar, "device_feature_select write")
        _ = try index({ on("read")($0) && ($0["offset"] as? Int) == 4 }, after: featureSelect, "device_feature read")
        // MSI-X is enabled, then vectors fire and the IMSIC receives them.
        let enable = try index({ on("msix-control")($0) && ($0["enable"] as? Bool) == true && ($0["function-mask"] as? Bool) == false },
                               after: bar, "MSI-X enable")
        let vector = try index(on("msix-vector"), after: enable, "an MSI-X vector firing")
        let message = try index(on("msi"), after: vector, "the MSI write")
        let received = try index({ ($0["device"] as? String) == "imsic-s" && ($0["event"] as? String) == "msi-received" },
                                 after: message, "the IMSIC receiving it")
        XCTAssertEqual(all[received]["identity"] as? Int, all[message]["data"] as? Int, "the message's data is the identity")
        XCTAssertFalse(all.contains { ($0["event"] as? String) == "msi-unanswered" })
        // The device reads its queues from guest RAM, all of which succeed.
        let dma = all.filter { ($0["group"] as? String) == "dma" }
        XCTAssertFalse(dma.isEmpty)
        XCTAssertTrue(dma.allSatisfy { ($0["result"] as? String) == "ok" }, "\(dma.filter { ($0["result"] as? String) != "ok" })")
    }

    /// Every MMIO event names the instruction that made the access, under the interpreter as
    /// under the JIT: a loop whose one block stores, loads and stores again the UART's scratch
    /// register (16550 SCR, offset 7: no side effects), then the sifive_test pass. Both engines
    /// give the same events, each at its own instruction's address (from the ELF's symbols), not
    /// at the start of the block.
    func testTracePCsAreTheAccessingInstructionsUnderBothEngines() throws {
        guard let backplane = GuestHarness.command(board: "virt")?.first else { return }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("trace-pc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = directory.appendingPathComponent("access.S"), elf = directory.appendingPathComponent("access.elf").path
        try """
                .section .text.init
                .globl _start, store_a, load_a, store_b, pass
            _start:
                li t0, 0x10000000
                li s1, 40
                li a0, 0x41
            loop:
                addi a0, a0, 1
            store_a:
                sb a0, 7(t0)
                addi a2, a0, 3
            load_a:
                lbu a1, 7(t0)
                xori a1, a1, 0x20
            store_b:
                sb a1, 7(t0)
                addi s1, s1, -1
                bnez s1, loop
                li t1, 0x100000
                li t2, 0x5555
            pass:
                sw t2, 0(t1)
            1:  j 1b
            """.write(to: source, atomically: false, encoding: .utf8)
        let build = try GuestHarness.run(["riscv64-unknown-elf-gcc", "-march=rv64gc", "-mabi=lp64d", "-nostdlib", "-nostartfiles",
                                          "-Wl,--no-warn-rwx-segments", "-T", GuestHarness.packageRoot.appendingPathComponent("Guests/isa/link.ld").path,
                                          source.path, "-o", elf], timeout: 120)
        XCTAssertEqual(build.status, 0, build.output)
        let nm = try GuestHarness.run(["riscv64-unknown-elf-nm", elf], timeout: 30)
        var symbols: [String: Int] = [:]
        for line in nm.output.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 3, let address = Int(fields[0], radix: 16) { symbols[String(fields[2])] = address }
        }
        let storeA = try XCTUnwrap(symbols["store_a"]), loadA = try XCTUnwrap(symbols["load_a"])
        let storeB = try XCTUnwrap(symbols["store_b"]), pass = try XCTUnwrap(symbols["pass"])

        var traces: [String: [[String: Any]]] = [:]
        for accel in ["interp", "jit"] {
            let trace = directory.appendingPathComponent("\(accel).jsonl")
            let run = try GuestHarness.run([backplane, "run", "virt", "--bios", "none", "--kernel", elf, "--accel", accel,
                                            "--serial", "none", "--timeout", "60", "--trace", "mmio", "--trace-format", "json",
                                            "--trace-file", trace.path], timeout: 90)
            XCTAssertEqual(run.status, 0, "\(accel): \(run.output)")
            traces[accel] = try events(trace).filter { ($0["device"] as? String) == "uart0" || ($0["device"] as? String) == "test0" }
        }
        // What each event says, with its pc: the engines must agree on all of it.
        func summary(_ event: [String: Any]) -> String {
            ["device", "event", "offset", "size", "value", "hart", "pc"].map { "\($0)=\(event[$0].map { "\($0)" } ?? "-")" }.joined(separator: " ")
        }
        let interpreted = try XCTUnwrap(traces["interp"]), translated = try XCTUnwrap(traces["jit"])
        XCTAssertEqual(interpreted.count, 40 * 3 + 1)
        XCTAssertEqual(interpreted.map(summary), translated.map(summary))
        for (index, event) in interpreted.enumerated() {
            let expected: Int
            switch index {
            case 120: expected = pass
            default: expected = [storeA, loadA, storeB][index % 3]
            }
            XCTAssertEqual(event["pc"] as? Int, expected, "event \(index): \(summary(event))")
        }
        let values = interpreted.prefix(6).map { $0["value"] as? Int }
        XCTAssertEqual(values, [0x42, 0x42, 0x62, 0x43, 0x43, 0x63], "SCR written, read back, written again")
    }

    func testTraceOptionsAreChecked() throws {
        guard let backplane = GuestHarness.command(board: "virt")?.first else { return }
        let bad = try GuestHarness.run([backplane, "run", "virt", "--trace", "pci,disk"], timeout: 30)
        XCTAssertEqual(bad.status, 2)
        XCTAssertEqual(bad.output, "backplane: error: --trace: 'disk' is not one of mmio, pci, dma, irq, usb, plugin, all, in_asm, out_asm\n")
        let noGroups = try GuestHarness.run([backplane, "run", "virt", "--trace-file", "/tmp/x"], timeout: 30)
        XCTAssertEqual(noGroups.output, "backplane: error: --trace-file needs --trace with device event groups\n")
        let format = try GuestHarness.run([backplane, "run", "virt", "--trace", "pci", "--trace-format", "xml"], timeout: 30)
        XCTAssertEqual(format.output, "backplane: error: --trace-format: 'xml' is not one of text, json\n")
    }

    /// Linux enumerating the USB board's devices, as the `usb` trace shows it: each port's
    /// connection, then per slot the device descriptor before the configuration descriptor before
    /// SET_CONFIGURATION (USB 2.0 §9.1.2, §9.4), with Enable Slot and Address Device commands
    /// completing successfully.
    func testLinuxUSBEnumerationIsTracedInOrder() throws {
        guard let backplane = GuestHarness.command(board: "virt")?.first else { return }
        let artifacts = try LinuxGuest.artifacts()
        let disk = try LinuxGuest.makeDisk()
        let folder = disk.deletingLastPathComponent()
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.moveItem(at: disk, to: folder.appendingPathComponent("usb-disk.img"))
        let board = folder.appendingPathComponent("virt-usb.yaml")
        try FileManager.default.copyItem(at: GuestHarness.packageRoot.appendingPathComponent("Guests/linux/boards/virt-usb.yaml"), to: board)
        let trace = folder.appendingPathComponent("usb.jsonl")
        let run = try GuestHarness.run([
            "-C", folder.path, backplane, "run", board.path, "--kernel", artifacts.image, "--initrd", artifacts.initramfs,
            "--append", "console=ttyS0 usb-storage.delay_use=0 bp.usb=4 bp.usbdisk=1", "--memory", "256M",
            "--serial", "stdio", "--timeout", "300", "--trace", "usb:xhci0", "--trace-format", "json", "--trace-file", trace.path,
        ], timeout: 360)
        XCTAssertEqual(run.status, 0, run.output)
        let all = try events(trace)
        XCTAssertTrue(all.allSatisfy { ($0["device"] as? String) == "xhci0" && ($0["group"] as? String) == "usb" })
        // The four devices of the board are connected at ports 1, 2, 3 and 5 before the driver
        // runs; the port events it causes say so.
        let connected = Set(all.filter { ($0["event"] as? String) == "port" && ($0["connected"] as? Bool) == true }
            .compactMap { $0["port"] as? Int })
        XCTAssertTrue(connected.isSuperset(of: [1, 2, 3, 5]), "\(connected)")
        // xHCI 1.2 §6.4.3: Enable Slot is TRB type 9, Address Device 11.
        let commands = all.filter { ($0["event"] as? String) == "command" }
        func slots(_ type: Int) -> Set<Int> {
            Set(commands.filter { ($0["trb-type"] as? Int) == type && ($0["completion"] as? String) == "success" }.compactMap { $0["slot"] as? Int })
        }
        // Every enabled slot was addressed (Linux may address a slot twice: first with BSR set).
        XCTAssertEqual(slots(9).count, 4)
        XCTAssertEqual(slots(11), slots(9))
        let controls = all.filter { ($0["event"] as? String) == "control" }
        let slots = Set(controls.compactMap { $0["slot"] as? Int })
        XCTAssertEqual(slots.count, 4)
        for slot in slots {
            let mine = controls.filter { ($0["slot"] as? Int) == slot }
            // GET_DESCRIPTOR (6) of DEVICE (0x01 in wValue's high byte), of CONFIGURATION (0x02);
            // SET_CONFIGURATION (9).
            let device = mine.firstIndex { ($0["request"] as? Int) == 6 && (($0["value"] as? Int) ?? 0) >> 8 == 1 }
            let configuration = mine.firstIndex { ($0["request"] as? Int) == 6 && (($0["value"] as? Int) ?? 0) >> 8 == 2 }
            let setConfiguration = mine.firstIndex { ($0["request"] as? Int) == 9 }
            let order = [device, configuration, setConfiguration]
            XCTAssertFalse(order.contains(nil), "slot \(slot): \(mine)")
            XCTAssertEqual(order.compactMap { $0 }, order.compactMap { $0 }.sorted(), "slot \(slot) out of order: \(mine)")
            XCTAssertEqual(mine[device ?? 0]["status"] as? String, "success")
        }
    }
}

import XCTest
import DeviceTree
@testable import Machine

/// The device tree generated from the bundled boards, checked with dtc and libfdt.
final class BoardDeviceTreeTests: XCTestCase {
    private func virtDTS(harts: Int = 1, bootArgs: String = "console=ttyS0",
                         initrd: (start: UInt64, end: UInt64)? = nil) throws -> DTC.Output {
        let board = try Board.bundled(name: "virt").withHarts(count: harts)
        return try DTC.decompile(try DeviceTreeGenerator.generate(board: board, bootArgs: bootArgs, initrd: initrd))
    }

    private func lines(_ dts: String) -> [String] {
        dts.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    func testVirtTreePassesDTCWithoutWarnings() throws {
        let output = try virtDTS()

        XCTAssertEqual(output.warnings, "")
    }

    func testFourHartVirtTreePassesDTCWithoutWarnings() throws {
        let output = try virtDTS(harts: 4, initrd: (0x8400_0000, 0x8480_0000))

        XCTAssertEqual(output.warnings, "")
    }

    func testSpikeTreePassesDTCWithoutWarnings() throws {
        let board = try Board.bundled(name: "spike")
        let output = try DTC.decompile(try DeviceTreeGenerator.generate(board: board, bootArgs: ""))

        XCTAssertEqual(output.warnings, "")
        XCTAssertTrue(lines(output.dts).contains("htif {"), output.dts)
        XCTAssertTrue(lines(output.dts).contains("stdout-path = \"/htif\";"), output.dts)
    }

    /// The lines of the node at `path` ("soc/serial@10000000"), properties only.
    private func node(_ path: String, in dts: String) -> [String] {
        var depth = 0
        var components = path.split(separator: "/").map { "\($0) {" }
        var result: [String] = []
        var inside = false
        for line in lines(dts) {
            if inside {
                if line.hasSuffix("{") { depth += 1 } else if line == "};" {
                    if depth == 0 { return result }
                    depth -= 1
                } else if depth == 0, !line.isEmpty { result.append(line) }
            } else if let first = components.first, line == first {
                components.removeFirst()
                inside = components.isEmpty
            }
        }
        return result
    }

    func testCPUNodesDescribeEachHart() throws {
        let dts = try virtDTS(harts: 2).dts

        XCTAssertEqual(node("cpus", in: dts), ["#address-cells = <0x01>;", "#size-cells = <0x00>;", "timebase-frequency = <0x989680>;"])
        XCTAssertEqual(node("cpus/cpu@1", in: dts), [
            "phandle = <0x03>;",
            "device_type = \"cpu\";",
            "reg = <0x01>;",
            "status = \"okay\";",
            "compatible = \"riscv\";",
            "riscv,isa = \"rv64imafdc_zicsr_zifencei_zicntr_sstc\";",
            "riscv,isa-base = \"rv64i\";",
            "riscv,isa-extensions = \"i\\0m\\0a\\0f\\0d\\0c\\0zicsr\\0zifencei\\0zicntr\\0sstc\";",
            "mmu-type = \"riscv,sv48\";",
        ])
        XCTAssertEqual(node("cpus/cpu@1/interrupt-controller", in: dts), [
            "#interrupt-cells = <0x01>;", "#address-cells = <0x00>;", "interrupt-controller;",
            "compatible = \"riscv,cpu-intc\";", "phandle = <0x04>;",
        ])
        XCTAssertEqual(node("cpus/cpu-map/cluster0/core1", in: dts), ["cpu = <0x03>;"])
    }

    func testMemoryNodeCoversRAM() throws {
        let board = try Board.bundled(name: "virt").withMemory(size: 1 << 30)
        let dts = try DTC.decompile(try DeviceTreeGenerator.generate(board: board, bootArgs: "")).dts

        XCTAssertEqual(node("memory@80000000", in: dts), ["device_type = \"memory\";", "reg = <0x00 0x80000000 0x00 0x40000000>;"])
    }

    func testChosenHasBootArgsStdoutAndInitrd() throws {
        let dts = try virtDTS(bootArgs: "console=ttyS0 earlycon", initrd: (0x8400_0000, 0x1_0480_0000)).dts

        XCTAssertEqual(node("chosen", in: dts), [
            "bootargs = \"console=ttyS0 earlycon\";",
            "stdout-path = \"/soc/serial@10000000\";",
            "linux,initrd-start = <0x00 0x84000000>;",
            "linux,initrd-end = <0x01 0x4800000>;",
        ])
        XCTAssertEqual(node("aliases", in: dts), ["serial0 = \"/soc/serial@10000000\";"])
    }

    func testEmptyBootArgsAreOmitted() throws {
        let dts = try virtDTS(bootArgs: "").dts

        XCTAssertEqual(node("chosen", in: dts), ["stdout-path = \"/soc/serial@10000000\";"])
    }

    func testCLINTAndPLICConnectToEveryHart() throws {
        let dts = try virtDTS(harts: 2).dts

        XCTAssertEqual(node("soc/clint@2000000", in: dts), [
            "compatible = \"sifive,clint0\\0riscv,clint0\";",
            "reg = <0x00 0x2000000 0x00 0x10000>;",
            "interrupts-extended = <0x02 0x03 0x02 0x07 0x04 0x03 0x04 0x07>;",
        ])
        XCTAssertEqual(node("soc/plic@c000000", in: dts), [
            "phandle = <0x06>;",
            "compatible = \"sifive,plic-1.0.0\\0riscv,plic0\";",
            "reg = <0x00 0xc000000 0x00 0x600000>;",
            "riscv,ndev = <0x60>;",
            "#address-cells = <0x00>;",
            "#interrupt-cells = <0x01>;",
            "interrupt-controller;",
            "interrupts-extended = <0x02 0x0b 0x02 0x09 0x04 0x0b 0x04 0x09>;",
        ])
    }

    func testDevicesPointAtThePLIC() throws {
        let dts = try virtDTS().dts

        XCTAssertEqual(node("soc/serial@10000000", in: dts), [
            "compatible = \"ns16550a\";",
            "reg = <0x00 0x10000000 0x00 0x100>;",
            "clock-frequency = \"\\08@\";",  // dtc prints 0x384000 (3686400) as a string
            "interrupts = <0x0a>;",
            "interrupt-parent = <0x04>;",
        ])
        XCTAssertEqual(node("soc/rtc@101000", in: dts), [
            "compatible = \"google,goldfish-rtc\";",
            "reg = <0x00 0x101000 0x00 0x1000>;",
            "interrupts = <0x0b>;",
            "interrupt-parent = <0x04>;",
        ])
    }

    func testTestDeviceGetsPoweroffAndRebootSyscons() throws {
        let dts = try virtDTS().dts

        XCTAssertEqual(node("soc/test@100000", in: dts), [
            "phandle = <0x03>;",
            "compatible = \"sifive,test1\\0sifive,test0\\0syscon\";",
            "reg = <0x00 0x100000 0x00 0x1000>;",
        ])
        XCTAssertEqual(node("poweroff", in: dts), ["compatible = \"syscon-poweroff\";", "regmap = <0x03>;", "offset = <0x00>;", "value = <0x5555>;"])
        XCTAssertEqual(node("reboot", in: dts), ["compatible = \"syscon-reboot\";", "regmap = <0x03>;", "offset = <0x00>;", "value = <0x7777>;"])
    }

    func testLibfdtReadsTheGeneratedTree() throws {
        let board = try Board.bundled(name: "virt")
        let reader = try FDTReader(try DeviceTreeGenerator.generate(board: board, bootArgs: "x"))

        XCTAssertEqual(reader.children(of: "/"), ["chosen", "aliases", "memory@80000000", "cpus", "poweroff", "reboot", "soc"])
        XCTAssertEqual(reader.children(of: "/soc"), ["test@100000", "rtc@101000", "clint@2000000", "plic@c000000", "serial@10000000", "pci@30000000"])
        XCTAssertEqual(reader.cells("clock-frequency", at: "/soc/serial@10000000"), [3_686_400])
        XCTAssertEqual(reader.bootCPU, 0)
    }

    func testExtraNodesAndRunTimeTypes() throws {
        let text = """
        name: ext
        harts: { isa: rv64gc, mmu: sv39, timebase-frequency: 1000000 }
        memory: [{ name: ram, base: 0x80000000, size: 16M }]
        devices:
          - { name: plic0, type: plic, reg: [0xc000000, 0x400000] }
          - { name: blk0, type: virtio_blk, reg: [0x10001000, 0x1000], irq: plic0@1 }

        """
        let board = try BoardLoader.load(yaml: text, path: "ext.yaml", extraDeviceTypes: ["virtio_blk"])
        let blob = try DeviceTreeGenerator.generate(
            board: board, bootArgs: "",
            extraNodes: [(parent: "/", node: DeviceTreeNode("extra", properties: [.u32("value", 7)]))],
            nodeBuilder: { device, context in
                DeviceTreeNode("virtio_mmio@\(String(device.base!, radix: 16))",
                               properties: [.strings("compatible", ["virtio,mmio"])] + context.interruptProperties(for: device))
            })
        let reader = try FDTReader(blob)

        XCTAssertEqual(reader.cells("value", at: "/extra"), [7])
        XCTAssertEqual(reader.cells("interrupts", at: "/soc/virtio_mmio@10001000"), [1])
        XCTAssertEqual(reader.cells("interrupt-parent", at: "/soc/virtio_mmio@10001000"), [3])
        XCTAssertEqual(reader.strings("riscv,isa", at: "/cpus/cpu@0"), ["rv64imafdc_zicsr_zifencei"])
    }

    func testToDTSDecompiles() throws {
        let blob = try DeviceTreeGenerator.generate(board: try Board.bundled(name: "virt"), bootArgs: "")

        XCTAssertTrue(try DeviceTreeGenerator.toDTS(blob).hasPrefix("/dts-v1/;\n"))
    }
}

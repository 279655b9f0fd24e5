import Devices
import DeviceTree
import IRQ
import XCTest
@testable import Machine

/// The AIA board (`Boards/virt-aia.yaml`): its device tree as Linux 6.12 and OpenSBI 1.1 read it,
/// the board-file checks of `imsic` and `aplic`, and the machine's wiring from a device's IRQ line
/// through both APLIC domains to a hart's IMSIC file.
final class AIABoardTests: XCTestCase {
    private func aiaDTS(harts: Int = 1) throws -> DTC.Output {
        let board = try Board.bundled(name: "virt-aia").withHarts(count: harts)
        try board.validate()
        return try DTC.decompile(try DeviceTreeGenerator.generate(board: board, bootArgs: ""))
    }

    /// The property lines of the node whose header line is `header` ("imsics@24000000 {").
    private func node(_ header: String, in dts: String) -> [String] {
        let lines = dts.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let start = lines.firstIndex(of: header) else { return [] }
        return Array(lines[(start + 1)...].prefix { $0 != "};" })
    }

    // MARK: Device tree

    func testVirtAIATreePassesDTCWithoutWarnings() throws {
        XCTAssertEqual(try aiaDTS().warnings, "")
        XCTAssertEqual(try aiaDTS(harts: 4).warnings, "")
    }

    func testIMSICNodesCoverOnePagePerHartAndPointAtEachHartsIntc() throws {
        let dts = try aiaDTS(harts: 2).dts

        XCTAssertEqual(node("imsics@24000000 {", in: dts), [
            "phandle = <0x08>;",
            "compatible = \"riscv,imsics\";",
            "reg = <0x00 0x24000000 0x00 0x2000>;",
            "riscv,num-ids = <0xff>;",
            "#address-cells = <0x00>;",
            "interrupt-controller;",
            "#interrupt-cells = <0x00>;",
            "msi-controller;",
            "interrupts-extended = <0x02 0x0b 0x04 0x0b>;",
        ])
        XCTAssertTrue(node("imsics@28000000 {", in: dts).contains("interrupts-extended = <0x02 0x09 0x04 0x09>;"))
    }

    func testRootAPLICDelegatesEverySourceToItsChild() throws {
        let dts = try aiaDTS().dts

        XCTAssertEqual(node("aplic@c000000 {", in: dts), [
            "phandle = <0x04>;",
            "compatible = \"riscv,aplic\";",
            "reg = <0x00 0xc000000 0x00 0x8000>;",
            "riscv,num-sources = <0x60>;",
            "#address-cells = <0x00>;",
            "interrupt-controller;",
            "#interrupt-cells = <0x02>;",
            "msi-parent = <0x06>;",
            "riscv,children = <0x05>;",
            "riscv,delegation = <0x05 0x01 0x60>;",
            "riscv,delegate = <0x05 0x01 0x60>;",
        ])
        XCTAssertTrue(node("aplic@d000000 {", in: dts).contains("msi-parent = <0x07>;"), "the S domain sends to the S-level IMSIC")
        XCTAssertTrue(node("imsics@24000000 {", in: dts).contains("phandle = <0x06>;"))
        XCTAssertTrue(node("imsics@28000000 {", in: dts).contains("phandle = <0x07>;"))
    }

    func testDevicesOnAnAPLICGiveSourceAndLevelHighTrigger() throws {
        let serial = node("serial@10000000 {", in: try aiaDTS().dts)

        XCTAssertTrue(serial.contains("interrupts = <0x0a 0x04>;"), "\(serial)")
        XCTAssertTrue(serial.contains("interrupt-parent = <0x05>;"), "\(serial)")
    }

    func testHartsGainSmaiaAndSsaiaOnlyWithIMSICs() throws {
        let aia = node("cpu@0 {", in: try aiaDTS().dts)
        let plic = node("cpu@0 {", in: try DTC.decompile(DeviceTreeGenerator.generate(board: Board.bundled(name: "virt"), bootArgs: "")).dts)

        XCTAssertTrue(aia.contains("riscv,isa = \"rv64imafdc_zicsr_zifencei_zicntr_sstc_smaia_ssaia\";"), "\(aia)")
        XCTAssertTrue(aia.contains("riscv,isa-extensions = \"i\\0m\\0a\\0f\\0d\\0c\\0zicsr\\0zifencei\\0zicntr\\0sstc\\0smaia\\0ssaia\";"), "\(aia)")
        XCTAssertFalse(plic.contains { $0.contains("smaia") || $0.contains("ssaia") }, "\(plic)")
    }

    func testTheSupervisorIMSICPhandleIsAvailableToOtherNodeBuilders() throws {
        let board = try Board.bundled(name: "virt-aia")
        let context = DeviceTreeGenerator.makeContext(board: board, catalog: .builtIn)

        XCTAssertEqual(context.devicePhandles["imsic-s"], 7)
        XCTAssertEqual(context.interruptSpecifier(controller: "aplic-s", source: 33), [33, 4])
    }

    // MARK: Board-file checks

    private func errors(_ devices: String, harts: Int = 1) -> String {
        let yaml = """
        name: t
        harts: { count: \(harts), isa: rv64gc, mmu: sv39, timebase-frequency: 10000000 }
        memory:
          - { name: ram, base: 0x80000000, size: 16M }
        devices:
        \(devices)
        """
        do {
            _ = try BoardLoader.load(yaml: yaml, path: "t.yaml")
            return ""
        } catch {
            return error.description
        }
    }

    private let imsics = """
      - { name: imsic-m, type: imsic, reg: [0x24000000, 0x4000], properties: { level: machine } }
      - { name: imsic-s, type: imsic, reg: [0x28000000, 0x4000], properties: { level: supervisor } }
    """

    func testAValidAIABoardLoads() {
        XCTAssertEqual(errors(imsics + """

          - { name: aplic-m, type: aplic, reg: [0xc000000, 0x8000], properties: { delivery: msi, msi-parent: imsic-m } }
          - { name: aplic-s, type: aplic, reg: [0xd000000, 0x8000], properties: { delivery: msi, msi-parent: imsic-s, parent: aplic-m } }
          - { name: uart0, type: ns16550a, reg: [0x10000000, 0x100], irq: aplic-s@10 }
        """), "")
    }

    func testIMSICLevelMustBeMachineOrSupervisor() {
        XCTAssertEqual(errors("  - { name: imsic0, type: imsic, reg: [0x24000000, 0x1000], properties: { level: hyper } }"),
                       "t.yaml:6:5: error: property 'level' of imsic 'imsic0' must be 'machine' or 'supervisor', got 'hyper'")
    }

    func testIMSICIdentityCountMustBeOneLessThanAMultipleOf64() {
        XCTAssertEqual(errors("  - { name: imsic0, type: imsic, reg: [0x24000000, 0x1000], properties: { level: machine, num-ids: 100 } }"),
                       "t.yaml:6:5: error: property 'num-ids' of imsic 'imsic0' must be one less than a multiple of 64 (63, 127, 255, …), got 100")
    }

    func testIMSICWindowMustHoldAPagePerHart() {
        XCTAssertEqual(errors("  - { name: imsic0, type: imsic, reg: [0x24000000, 0x1000], properties: { level: machine } }", harts: 2),
                       "t.yaml:6:39: error: size 0x1000 of imsic 'imsic0' holds 1 interrupt file(s) but the board has 2 harts (needs 0x2000)")
    }

    func testOnlyOneIMSICPerLevel() {
        XCTAssertEqual(errors(imsics + """

          - { name: imsic-x, type: imsic, reg: [0x30000000, 0x1000], properties: { level: machine } }
        """), "t.yaml:8:5: error: imsic 'imsic-x' is a second machine-level imsic ('imsic-m' is the first)")
    }

    func testMSIDeliveryNeedsAnMSIParent() {
        XCTAssertEqual(errors("  - { name: aplic0, type: aplic, reg: [0xc000000, 0x8000], properties: { delivery: msi } }"),
                       "t.yaml:6:5: error: aplic 'aplic0' delivers by MSI but names no 'msi-parent' imsic")
    }

    func testMSIParentMustServeTheDomainsLevel() {
        XCTAssertEqual(errors(imsics + """

          - { name: aplic-m, type: aplic, reg: [0xc000000, 0x8000], properties: { delivery: msi, msi-parent: imsic-s } }
        """), "t.yaml:8:5: error: msi-parent 'imsic-s' of machine-level aplic 'aplic-m' is a supervisor-level imsic")
    }

    func testMSIParentMustBeAnIMSIC() {
        XCTAssertEqual(errors("""
          - { name: uart0, type: ns16550a, reg: [0x10000000, 0x100] }
          - { name: aplic0, type: aplic, reg: [0xc000000, 0x8000], properties: { delivery: msi, msi-parent: uart0 } }
        """), "t.yaml:7:5: error: msi-parent 'uart0' of aplic 'aplic0' is a 'ns16550a', not an imsic")
    }

    func testDeliveryMustBeDirectOrMSI() {
        XCTAssertEqual(errors("  - { name: aplic0, type: aplic, reg: [0xc000000, 0x8000], properties: { delivery: msl } }"),
                       "t.yaml:6:5: error: property 'delivery' of aplic 'aplic0' must be 'direct' or 'msi', got 'msl'")
    }

    func testParentMustBeAKnownDevice() {
        XCTAssertEqual(errors("""
          - { name: aplic-m, type: aplic, reg: [0xc000000, 0x8000] }
          - { name: aplic-s, type: aplic, reg: [0xd000000, 0x8000], properties: { parent: aplic-n } }
        """), "t.yaml:7:5: error: parent of aplic 'aplic-s' names unknown device 'aplic-n'; did you mean 'aplic-m'?")
    }

    func testDirectModeWindowMustHoldAnIDCPerHart() {
        XCTAssertEqual(errors("  - { name: aplic0, type: aplic, reg: [0xc000000, 0x4000] }", harts: 2),
                       "t.yaml:6:39: error: size 0x4000 of direct-mode aplic 'aplic0' has no room for the interrupt delivery controls of 2 harts (needs 0x4040)")
    }

    func testAnIRQMayNameAnAPLICSourceInRange() {
        XCTAssertEqual(errors("""
          - { name: aplic0, type: aplic, reg: [0xc000000, 0x8000], properties: { sources: 8 } }
          - { name: uart0, type: ns16550a, reg: [0x10000000, 0x100], irq: aplic0@9 }
        """), "t.yaml:7:67: error: irq source 9 of 'uart0' is out of range for 'aplic0': sources are 1...8")
    }

    func testAPLICAndPLICCannotShareABoard() {
        XCTAssertEqual(errors("""
          - { name: plic0, type: plic, reg: [0xc000000, 0x400000] }
          - { name: aplic0, type: aplic, reg: [0xd000000, 0x8000] }
        """), "t.yaml:7:5: error: the board has both a plic ('plic0') and AIA interrupt controllers ('aplic0'); a hart's external interrupts come from one or the other")
    }

    func testSmaiaInTheISANeedsAMachineLevelIMSIC() {
        let yaml = """
        name: t
        harts: { isa: rv64gc_smaia, mmu: sv39, timebase-frequency: 10000000 }
        memory: [{ name: ram, base: 0x80000000, size: 16M }]
        """
        XCTAssertThrowsError(try BoardLoader.load(yaml: yaml, path: "t.yaml")) { error in
            XCTAssertEqual("\(error)", "t.yaml: error: ISA extension 'smaia' needs a machine-level imsic: without one the hart has no AIA CSRs")
        }
    }

    // MARK: Machine

    func testMachineGivesEveryHartItsInterruptFiles() throws {
        let machine = try Machine(board: Board.bundled(name: "virt-aia").withHarts(count: 2), serial: NullSerialBackend())

        XCTAssertTrue(machine.harts.allSatisfy { $0.interruptFile?.hasFile(level: .machine) == true })
        XCTAssertTrue(machine.harts.allSatisfy { $0.interruptFile?.hasFile(level: .supervisor) == true })
    }

    func testPLICBoardHartsHaveNoInterruptFile() throws {
        let machine = try Machine(board: Board.bundled(name: "virt"), serial: NullSerialBackend())

        XCTAssertNil(machine.harts[0].interruptFile)
    }

    /// What OpenSBI and Linux program, done through the bus; then the UART's line is raised.
    func testUARTInterruptReachesTheSupervisorFileOfTheTargetHart() throws {
        let machine = try Machine(board: Board.bundled(name: "virt-aia").withHarts(count: 2), serial: NullSerialBackend())
        let space = machine.space
        let root: UInt64 = 0xc00_0000, child: UInt64 = 0xd00_0000
        space.write(root + 0x4 + 4 * 9, size: 4, value: 1 << 10)          // sourcecfg[10]: delegate to child 0
        space.write(root + 0x1BC4, size: 4, value: 1 << 12)               // mmsiaddrcfgh: LHXW = 1
        space.write(root + 0x1BC8, size: 4, value: 0x2800_0000 >> 12)     // smsiaddrcfg
        space.write(child + 0x4 + 4 * 9, size: 4, value: 6)               // level high
        space.write(child + 0x3004 + 4 * 9, size: 4, value: 1 << 18 | 42) // hart 1, EIID 42
        space.write(child + 0x1EDC, size: 4, value: 10)                   // setienum
        space.write(child, size: 4, value: 1 << 8)                        // domaincfg.IE
        let file = try XCTUnwrap(machine.imsics["imsic-s"]?.files[1])

        machine.interruptController(named: "aplic-s")?.setLevel(source: 10, level: true)

        XCTAssertTrue(file.isPending(identity: 42))
        XCTAssertFalse(try XCTUnwrap(machine.imsics["imsic-s"]?.files[0]).isPending(identity: 42))
    }
}

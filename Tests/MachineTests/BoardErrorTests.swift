import XCTest
@testable import Machine

/// Every class of board-file error, with its exact text and position.
final class BoardErrorTests: XCTestCase {
    /// The text of the errors loading `yaml` reports, or "" if it loads.
    private func errors(_ yaml: String, extraDeviceTypes: Set<String> = []) -> String {
        do {
            _ = try BoardLoader.load(yaml: yaml, path: "t.yaml", extraDeviceTypes: extraDeviceTypes)
            return ""
        } catch {
            return error.description
        }
    }

    /// A valid board; tests append to or edit it. Lines: harts at 2, memory at 7, devices at 11.
    private let valid = """
    name: t
    harts:
      count: 1
      isa: rv64gc
      mmu: sv39
      timebase-frequency: 10000000
    memory:
      - name: ram
        base: 0x80000000
        size: 16M
    devices:
      - name: plic0
        type: plic
        reg: [0xc000000, 0x400000]
        properties: { sources: 31 }
      - name: uart0
        type: ns16550a
        reg: [0x10000000, 0x100]
        irq: plic0@10
    boot:
      stdout: uart0

    """

    private func replacing(_ old: String, with new: String) -> String {
        precondition(valid.contains(old), old)
        return valid.replacingOccurrences(of: old, with: new)
    }

    func testValidBoardLoads() {
        XCTAssertEqual(errors(valid), "")
    }

    // MARK: YAML and keys

    func testYAMLSyntaxErrorHasItsPosition() {
        XCTAssertEqual(errors(replacing("  mmu: sv39", with: "  mmu: [sv39")),
                       "t.yaml:6:21: error: YAML syntax: did not find expected ',' or ']' (while parsing a flow sequence)")
    }

    func testEmptyFile() {
        XCTAssertEqual(errors(""), "t.yaml:1:1: error: the board file is empty")
    }

    func testTopLevelMustBeAMapping() {
        XCTAssertEqual(errors("- a\n- b\n"), "t.yaml:1:1: error: a board file must be a mapping with the keys name, harts, memory, devices and boot")
    }

    func testUnknownTopLevelKeySuggestsNearest() {
        XCTAssertEqual(errors(replacing("devices:", with: "devcies:")), """
        t.yaml:11:1: error: unknown key 'devcies'; did you mean 'devices'?
        t.yaml:21:11: error: stdout names unknown device 'uart0'
        """)
    }

    func testUnknownKeyWithoutNearMatchListsValidKeys() {
        XCTAssertEqual(errors(replacing("  count: 1", with: "  colour: red")),
                       "t.yaml:3:3: error: unknown key 'colour'; expected one of: count, isa, mmu, timebase-frequency, ips")
    }

    func testUnknownDeviceKey() {
        XCTAssertEqual(errors(replacing("    irq: plic0@10", with: "    irqs: plic0@10")),
                       "t.yaml:19:5: error: unknown key 'irqs'; did you mean 'irq'?")
    }

    func testDuplicateKey() {
        XCTAssertEqual(errors(replacing("  mmu: sv39", with: "  mmu: sv39\n  mmu: sv48")),
                       "t.yaml:6:3: error: duplicate key 'mmu'; first given at line 5")
    }

    func testMissingRequiredKeys() {
        let yaml = replacing("  isa: rv64gc\n", with: "").replacingOccurrences(of: "    type: ns16550a\n", with: "")
        XCTAssertEqual(errors(yaml), """
        t.yaml:3:3: error: missing required key 'isa' in 'harts'
        t.yaml:15:5: error: missing required key 'type' in device 'uart0'
        """)
    }

    func testMissingTopLevelKeys() {
        XCTAssertEqual(errors("name: t\n"), """
        t.yaml:1:1: error: missing required key 'harts'
        t.yaml:1:1: error: missing required key 'memory'
        """)
    }

    func testWrongNodeKinds() {
        XCTAssertEqual(errors(replacing("    reg: [0x10000000, 0x100]", with: "    reg: 0x10000000")),
                       "t.yaml:18:10: error: 'reg' must be a list [BASE, SIZE]")
        XCTAssertEqual(errors(replacing("  mmu: sv39", with: "  mmu: { a: 1 }")),
                       "t.yaml:5:8: error: 'mmu' must be a single value, not a mapping")
    }

    // MARK: Device types and properties

    func testUnknownDeviceTypeSuggestsNearest() {
        XCTAssertEqual(errors(replacing("type: ns16550a", with: "type: ns16550")),
                       "t.yaml:17:11: error: unknown device type 'ns16550'; did you mean 'ns16550a'?")
    }

    func testUnknownDeviceTypeWithoutNearMatchListsTypes() {
        XCTAssertEqual(errors(replacing("type: ns16550a", with: "type: frobnicator")),
                       "t.yaml:17:11: error: unknown device type 'frobnicator'; known types: aclint, plic, ns16550a, goldfish_rtc, sifive_test, htif, imsic, aplic, pci-host-ecam-generic, virtio-blk-pci, virtio-net-pci, virtio-9p-pci, virtio-rng-pci, virtio-console-pci, edu, pci.host, qemu-xhci, xhci, usb-kbd, usb-tablet, usb-storage, usb-loopback, usb.host")
    }

    func testRunTimeTypeNamesAreAcceptedAndSuggested() {
        let yaml = replacing("type: ns16550a", with: "type: virtio_blk")
        XCTAssertEqual(errors(yaml, extraDeviceTypes: ["virtio_blk"]), "")
        XCTAssertEqual(errors(replacing("type: ns16550a", with: "type: virtio_blc"), extraDeviceTypes: ["virtio_blk"]),
                       "t.yaml:17:11: error: unknown device type 'virtio_blc'; did you mean 'virtio_blk'?")
    }

    func testUnknownPropertySuggestsNearest() {
        XCTAssertEqual(errors(replacing("properties: { sources: 31 }", with: "properties: { source: 31 }")),
                       "t.yaml:15:19: error: unknown property 'source' for device type 'plic'; did you mean 'sources'?")
    }

    func testPropertyOutOfRange() {
        XCTAssertEqual(errors(replacing("properties: { sources: 31 }", with: "properties: { sources: 2000 }")),
                       "t.yaml:15:28: error: property 'sources' must be in 1...1023, got 2000")
    }

    func testPropertyDefaultsAreFilledIn() throws {
        let board = try BoardLoader.load(yaml: valid, path: "t.yaml")

        XCTAssertEqual(board.device(named: "uart0")?.properties, ["clock-frequency": .integer(3_686_400), "reg-shift": .integer(0)])
    }

    func testRegRequiredAndForbidden() {
        let yaml = replacing("    reg: [0x10000000, 0x100]\n", with: "")
            .replacingOccurrences(of: "boot:", with: "  - name: htif0\n    type: htif\n    reg: [0x1000, 0x1000]\nboot:")
        XCTAssertEqual(errors(yaml), """
        t.yaml:16:5: error: device 'uart0' of type 'ns16550a' needs 'reg: [BASE, SIZE]'
        t.yaml:21:10: error: device 'htif0' of type 'htif' takes no 'reg'
        """)
    }

    func testDeviceSmallerThanItsRegisters() {
        XCTAssertEqual(errors(replacing("[0xc000000, 0x400000]", with: "[0xc000000, 0x1000]")),
                       "t.yaml:14:10: error: size 0x1000 of device 'plic0' is smaller than the 0x200000 a 'plic' needs")
    }

    func testTooManyIRQs() {
        XCTAssertEqual(errors(replacing("irq: plic0@10", with: "irq: [plic0@10, plic0@11]")),
                       "t.yaml:19:11: error: device 'uart0' of type 'ns16550a' takes at most 1 irq, got 2")
    }

    // MARK: Names and regions

    func testDuplicateNames() {
        XCTAssertEqual(errors(replacing("  - name: uart0", with: "  - name: plic0").replacingOccurrences(of: "stdout: uart0", with: "stdout: plic0")), """
        t.yaml:16:5: error: duplicate name 'plic0'; first used at line 12
        t.yaml:21:11: error: stdout device 'plic0' of type 'plic' is not a console
        """)
        XCTAssertEqual(errors(replacing("  - name: uart0", with: "  - name: ram").replacingOccurrences(of: "stdout: uart0", with: "stdout: ram")),
                       "t.yaml:16:5: error: duplicate name 'ram'; first used at line 8")
    }

    func testOverlappingRegionsNameBoth() {
        XCTAssertEqual(errors(replacing("[0x10000000, 0x100]", with: "[0xc3ff000, 0x1000]")),
                       "t.yaml:18:10: error: 'uart0' [0xc3ff000,0xc400000) overlaps 'plic0' [0xc000000,0xc400000)")
    }

    func testDeviceOverlappingRAM() {
        XCTAssertEqual(errors(replacing("[0x10000000, 0x100]", with: "[0x80fff000, 0x100]")),
                       "t.yaml:18:10: error: 'uart0' [0x80fff000,0x80fff100) overlaps 'ram' [0x80000000,0x81000000)")
    }

    // MARK: Numbers

    func testNotANumber() {
        XCTAssertEqual(errors(replacing("size: 16M", with: "size: lots")),
                       "t.yaml:10:11: error: invalid size 'lots'; expected a number such as 4096, 0x1000 or 4K")
        XCTAssertEqual(errors(replacing("base: 0x80000000", with: "base: 0x8000zz")),
                       "t.yaml:9:11: error: invalid address '0x8000zz'; expected a number such as 4096 or 0x1000")
    }

    func testNegativeSize() {
        XCTAssertEqual(errors(replacing("size: 16M", with: "size: -16M")), "t.yaml:10:11: error: size '-16M' is negative")
    }

    func testZeroSize() {
        XCTAssertEqual(errors(replacing("size: 16M", with: "size: 0")), "t.yaml:10:11: error: memory region 'ram' has size zero")
    }

    func testNotPageAligned() {
        XCTAssertEqual(errors(replacing("base: 0x80000000\n    size: 16M", with: "base: 0x80000100\n    size: 0x1800")), """
        t.yaml:8:5: error: base 0x80000100 of memory region 'ram' is not a multiple of 4 KiB (0x1000)
        t.yaml:10:11: error: size 0x1800 of memory region 'ram' is not a multiple of 4 KiB (0x1000)
        """)
    }

    func testNumberOverflowing64Bits() {
        XCTAssertEqual(errors(replacing("size: 16M", with: "size: 0x10000000000000000")),
                       "t.yaml:10:11: error: size '0x10000000000000000' does not fit in 64 bits")
        XCTAssertEqual(errors(replacing("size: 16M", with: "size: 20000000000G")),
                       "t.yaml:10:11: error: size '20000000000G' does not fit in 64 bits")
    }

    func testRegionPastTheEndOfTheAddressSpace() {
        XCTAssertEqual(errors(replacing("base: 0x80000000", with: "base: 0xffffffffff000000").replacingOccurrences(of: "size: 16M", with: "size: 32M")),
                       "t.yaml:8:5: error: memory region 'ram' at 0xffffffffff000000 with size 0x2000000 runs past the end of the 64-bit address space")
    }

    // MARK: IRQs

    func testIRQSyntax() {
        XCTAssertEqual(errors(replacing("irq: plic0@10", with: "irq: plic0-10")),
                       "t.yaml:19:10: error: invalid irq 'plic0-10'; expected CONTROLLER@SOURCE such as 'plic0@10'")
    }

    func testIRQSourceOutOfRange() {
        XCTAssertEqual(errors(replacing("irq: plic0@10", with: "irq: [plic0@0]")),
                       "t.yaml:19:11: error: irq source 0 of 'uart0' is out of range for 'plic0': sources are 1...31")
        XCTAssertEqual(errors(replacing("irq: plic0@10", with: "irq: plic0@32")),
                       "t.yaml:19:10: error: irq source 32 of 'uart0' is out of range for 'plic0': sources are 1...31")
    }

    func testIRQToADeviceThatIsNotAController() {
        let yaml = replacing("boot:", with: "  - name: rtc0\n    type: goldfish_rtc\n    reg: [0x101000, 0x1000]\n    irq: uart0@1\nboot:")
        XCTAssertEqual(errors(yaml), "t.yaml:23:10: error: irq of 'rtc0' names 'uart0', which is not an interrupt controller")
    }

    func testIRQToAnUnknownDevice() {
        XCTAssertEqual(errors(replacing("irq: plic0@10", with: "irq: plic1@10")),
                       "t.yaml:19:10: error: irq of 'uart0' names unknown device 'plic1'; did you mean 'plic0'?")
    }

    // MARK: Harts

    func testHartCountOutOfRange() {
        XCTAssertEqual(errors(replacing("count: 1", with: "count: 65")), "t.yaml:3:10: error: hart count 65 is out of range 1...64")
        XCTAssertEqual(errors(replacing("count: 1", with: "count: 0")), "t.yaml:3:10: error: hart count 0 is out of range 1...64")
    }

    func testUnknownISAExtensions() {
        XCTAssertEqual(errors(replacing("isa: rv64gc", with: "isa: rv64imafdcy_zicssr")), """
        t.yaml:4:8: error: unknown ISA extension 'y' in 'rv64imafdcy_zicssr'
        t.yaml:4:8: error: unknown ISA extension 'zicssr' in 'rv64imafdcy_zicssr'; did you mean 'zicsr'?
        """)
    }

    func testISAMustBeRV64() {
        XCTAssertEqual(errors(replacing("isa: rv64gc", with: "isa: rv32imac")),
                       "t.yaml:4:8: error: ISA 'rv32imac' must start with 'rv64': only 64-bit harts exist")
    }

    func testISAParsing() throws {
        let board = try BoardLoader.load(yaml: replacing("isa: rv64gc", with: "isa: RV64IMACFD_Zicsr_zifencei_sstc"), path: "t.yaml")

        XCTAssertEqual(board.harts.isa, "rv64imafdc_zicsr_zifencei_sstc")
        XCTAssertEqual(board.harts.extensions, ["i", "m", "a", "f", "d", "c", "zicsr", "zifencei", "sstc"])
    }

    func testUnknownMMU() {
        XCTAssertEqual(errors(replacing("mmu: sv39", with: "mmu: sv57")), "t.yaml:5:8: error: unknown mmu 'sv57'; expected 'sv39' or 'sv48'")
    }

    // MARK: Boot

    func testStdoutMustBeAConsole() {
        XCTAssertEqual(errors(replacing("stdout: uart0", with: "stdout: uart")),
                       "t.yaml:21:11: error: stdout names unknown device 'uart'; did you mean 'uart0'?")
    }

    // MARK: All at once

    func testEveryErrorIsReportedInFileOrder() {
        let yaml = replacing("count: 1", with: "count: 99")
            .replacingOccurrences(of: "mmu: sv39", with: "mmu: sv64")
            .replacingOccurrences(of: "irq: plic0@10", with: "irq: plic0@100")
            .replacingOccurrences(of: "devices:", with: "devices:\n  - name: x\n    tipe: plic")
        XCTAssertEqual(errors(yaml), """
        t.yaml:3:10: error: hart count 99 is out of range 1...64
        t.yaml:5:8: error: unknown mmu 'sv64'; expected 'sv39' or 'sv48'
        t.yaml:12:5: error: missing required key 'type' in device 'x'
        t.yaml:13:5: error: unknown key 'tipe'; did you mean 'type'?
        t.yaml:21:10: error: irq source 100 of 'uart0' is out of range for 'plic0': sources are 1...31
        """)
    }
}

final class BoardSuggestionTests: XCTestCase {
    func testNearestPrefersSmallEditDistance() {
        XCTAssertEqual(nearest("devcies", in: BoardKeys.top), "devices")
    }

    func testNearestFallsBackToAbbreviation() {
        XCTAssertEqual(nearest("clock-freq", in: ["clock-frequency", "reg-shift"]), "clock-frequency")
    }

    func testNearestGivesUpOnUnrelatedWords() {
        XCTAssertNil(nearest("frobnicator", in: DeviceTypeCatalog.builtIn.names))
    }
}

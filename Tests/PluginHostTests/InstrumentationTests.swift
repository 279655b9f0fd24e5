import CBackplane
import CPU
import Foundation
@testable import PluginHost
import IRQ
import Memory
import XCTest

/// Instrumentation (instrument.h, ABI 1.1) under both engines: a test plugin
/// (Fixtures/instrument_plugin.c) records every event as a text line; the guest is a small
/// hand-assembled RV64 program whose blocks, accesses and trap are known exactly.
final class InstrumentationTests: XCTestCase {
    static let base: UInt64 = 0x8000_0000

    /// The guest: a loop of 5 iterations storing and reloading its counter, then ECALL into a
    /// handler that spins. Blocks end after CSR writes, branches and ECALL (DecodedInstruction
    /// `endsBlock`): [0x00 ×3] [0x0c ×6] [0x14 ×4] ×4 more, [0x24 ×1]; 25 instructions retire
    /// before the ECALL traps, which uses the 26th unit of budget.
    static let program: [UInt32] = [
        auipc(7, 0),                 // 0x00 t2 = base
        addi(28, 7, 0x40),           // 0x04 t3 = base + 0x40
        0x305 << 20 | 28 << 15 | 1 << 12 | 0x73, // 0x08 csrw mtvec, t3
        addi(5, 0, 5),               // 0x0c t0 = 5
        addi(6, 0, 0),               // 0x10 t1 = 0
        addi(6, 6, 1),               // 0x14 loop: t1 += 1
        sd(6, 7, 0x100),             // 0x18 sd t1, 0x100(t2)
        ld(10, 7, 0x100),            // 0x1c ld a0, 0x100(t2)
        bne(6, 5, -12),              // 0x20 bne t1, t0, loop
        0x73,                        // 0x24 ecall
        0, 0, 0, 0, 0, 0,            // 0x28..0x3c
        0x6F,                        // 0x40 handler: j .
    ]

    static func auipc(_ rd: UInt32, _ imm: UInt32) -> UInt32 { imm << 12 | rd << 7 | 0x17 }
    static func addi(_ rd: UInt32, _ rs1: UInt32, _ imm: Int32) -> UInt32 {
        UInt32(bitPattern: imm) << 20 | rs1 << 15 | rd << 7 | 0x13
    }
    static func sd(_ rs2: UInt32, _ rs1: UInt32, _ imm: UInt32) -> UInt32 {
        (imm >> 5) << 25 | rs2 << 20 | rs1 << 15 | 3 << 12 | (imm & 31) << 7 | 0x23
    }
    static func ld(_ rd: UInt32, _ rs1: UInt32, _ imm: UInt32) -> UInt32 { imm << 20 | rs1 << 15 | 3 << 12 | rd << 7 | 0x03 }
    static func bne(_ rs1: UInt32, _ rs2: UInt32, _ offset: Int32) -> UInt32 {
        let imm = UInt32(bitPattern: offset)
        return (imm >> 12 & 1) << 31 | (imm >> 5 & 0x3F) << 25 | rs2 << 20 | rs1 << 15 | 1 << 12
            | (imm >> 1 & 0xF) << 8 | (imm >> 11 & 1) << 7 | 0x63
    }

    /// A loaded instrumentation plugin, one hart running `program`, and the plugin's exports.
    final class Rig {
        let host = PluginHost()
        let space = AddressSpace()
        let hart: Hart
        let register: @convention(c) (UnsafePointer<CChar>) -> Int32
        let unregister: @convention(c) (Int32) -> Int32
        let text: @convention(c) () -> UnsafePointer<CChar>
        let clear: @convention(c) () -> Void
        let probe: @convention(c) (UInt64, UnsafePointer<CChar>) -> Void
        let hartCount: @convention(c) () -> UInt32

        /// Each rig loads its own copy (dlopen shares a library's static state per path).
        nonisolated(unsafe) static var serial = 0

        init(_ accelerator: Accelerator, program: [UInt32] = InstrumentationTests.program) throws {
            Rig.serial += 1
            let name = "instr\(Rig.serial)"
            let path = try PluginBuilder.build(name, sources: [PluginBuilder.packageRoot.appendingPathComponent("Tests/PluginHostTests/Fixtures/instrument_plugin.c").path],
                                               defines: ["PLUGIN_NAME=\"\(name)\""])
            try host.load([PluginRequest(path: path)])
            _ = try space.mapRAM(name: "ram", base: InstrumentationTests.base, size: 0x1_0000)
            for (index, word) in program.enumerated() {
                _ = space.write(InstrumentationTests.base + UInt64(index * 4), size: 4, value: UInt64(word))
            }
            hart = Hart(hartID: 0, bus: space, timebase: Timebase())
            hart.accelerator = accelerator
            hart.reset(pc: InstrumentationTests.base, a0: 0, a1: 0)
            let qpp = host.qpp
            qpp.declare(plugin: "tester", uses: [name])
            func find<T>(_ function: String, _ signature: String, as type: T.Type) throws -> T {
                unsafeBitCast(try qpp.importFunction(by: "tester", from: name, name: function, signature: signature), to: type)
            }
            register = try find("register", "int(const char*)", as: (@convention(c) (UnsafePointer<CChar>) -> Int32).self)
            unregister = try find("unregister", "int(int)", as: (@convention(c) (Int32) -> Int32).self)
            text = try find("text", "const char*(void)", as: (@convention(c) () -> UnsafePointer<CChar>).self)
            clear = try find("clear", "void(void)", as: (@convention(c) () -> Void).self)
            probe = try find("probe", "void(uint64_t,const char*)", as: (@convention(c) (UInt64, UnsafePointer<CChar>) -> Void).self)
            hartCount = try find("hart_count", "unsigned(void)", as: (@convention(c) () -> UInt32).self)
            host.attach(harts: [hart])
        }

        deinit { host.shutdown() }

        @discardableResult
        func add(_ kind: String) -> Int32 { kind.withCString { register($0) } }

        var lines: [String] { String(cString: text()).split(separator: "\n").map(String.init) }

        /// Runs the program to the ECALL (26 units of budget) and returns the record.
        func runProgram() -> [String] {
            _ = hart.run(budget: 26)
            return lines
        }
    }

    static func hex(_ offset: UInt64) -> String { "0x" + String(base + offset, radix: 16) }

    // MARK: Each kind under both engines

    func checkBlockExecuted(_ accelerator: Accelerator) throws {
        let rig = try Rig(accelerator)
        rig.add("executed")
        let expected = ["E \(Self.hex(0)) 3", "E \(Self.hex(0xc)) 6"]
            + Array(repeating: "E \(Self.hex(0x14)) 4", count: 4) + ["E \(Self.hex(0x24)) 1"]
        XCTAssertEqual(rig.runProgram(), expected)
        XCTAssertEqual(rig.hart.state.pointee.instret, 25)
    }

    func testBlockExecutedInterpreter() throws { try checkBlockExecuted(.interpreter) }
    /// One registration: the JIT calls the plugin's function straight from translated code.
    func testBlockExecutedJITCallsASingleCallbackDirectly() throws {
        let rig = try Rig(.jit)
        rig.add("executed")
        XCTAssertNotNil(rig.host.instrumentation.directBlockExecuted)
        rig.add("executed")
        XCTAssertNil(rig.host.instrumentation.directBlockExecuted, "two: through the helper")
    }

    /// Host FP in a callback (inexact) does not reach the guest's fflags.
    func checkCallbackFloatingPointFlagsStayOutOfTheGuest(_ accelerator: Accelerator) throws {
        let rig = try Rig(accelerator)
        rig.add("executed_fp")
        XCTAssertEqual(rig.runProgram().count, 7)
        XCTAssertEqual(rig.hart.readRegister(named: "fflags"), 0)
    }

    func testCallbackFloatingPointFlagsStayOutOfTheGuestInterpreter() throws {
        try checkCallbackFloatingPointFlagsStayOutOfTheGuest(.interpreter)
    }
    func testCallbackFloatingPointFlagsStayOutOfTheGuestJIT() throws { try checkCallbackFloatingPointFlagsStayOutOfTheGuest(.jit) }

    /// Two registrations (the helper path under the JIT): each fires, in registration order.
    func checkTwoBlockExecutedRegistrations(_ accelerator: Accelerator) throws {
        let rig = try Rig(accelerator)
        rig.add("executed")
        rig.add("executed")
        let once = ["E \(Self.hex(0)) 3", "E \(Self.hex(0xc)) 6"]
            + Array(repeating: "E \(Self.hex(0x14)) 4", count: 4) + ["E \(Self.hex(0x24)) 1"]
        XCTAssertEqual(rig.runProgram(), once.flatMap { [$0, $0] })
    }

    func testTwoBlockExecutedRegistrationsInterpreter() throws { try checkTwoBlockExecutedRegistrations(.interpreter) }
    func testTwoBlockExecutedRegistrationsJIT() throws { try checkTwoBlockExecutedRegistrations(.jit) }
    func testBlockExecutedJIT() throws { try checkBlockExecuted(.jit) }

    func checkBlockTranslated(_ accelerator: Accelerator) throws {
        let rig = try Rig(accelerator)
        rig.add("translated")
        // The loop stores into its own page, and a write to a code page drops that page's
        // blocks: the loop block is translated again after each of the first four stores.
        XCTAssertEqual(rig.runProgram(), ["T \(Self.hex(0)) 3 12", "T \(Self.hex(0xc)) 6 24"]
                       + Array(repeating: "T \(Self.hex(0x14)) 4 16", count: 4) + ["T \(Self.hex(0x24)) 1 4"])
    }

    func testBlockTranslatedInterpreter() throws { try checkBlockTranslated(.interpreter) }
    func testBlockTranslatedJIT() throws { try checkBlockTranslated(.jit) }

    func checkInstruction(_ accelerator: Accelerator) throws {
        let rig = try Rig(accelerator)
        rig.add("instruction")
        var expected: [String] = []
        func note(_ offset: UInt64) { expected.append("I \(Self.hex(offset)) 0x" + String(format: "%08x", Self.program[Int(offset / 4)])) }
        for offset in stride(from: UInt64(0), through: 0x10, by: 4) { note(offset) }
        for _ in 0..<5 { for offset in stride(from: UInt64(0x14), through: 0x20, by: 4) { note(offset) } }
        note(0x24)
        XCTAssertEqual(rig.runProgram(), expected)
        XCTAssertEqual(rig.hart.state.pointee.instret, 25)
    }

    func testInstructionInterpreter() throws { try checkInstruction(.interpreter) }
    func testInstructionJIT() throws { try checkInstruction(.jit) }

    func checkMemory(_ accelerator: Accelerator) throws {
        let rig = try Rig(accelerator)
        rig.add("memory")
        let address = Self.hex(0x100)
        let expected = (1...5).flatMap { ["M S \(address) 8 0x\($0)", "M L \(address) 8 0x\($0)"] }
        XCTAssertEqual(rig.runProgram(), expected)
        XCTAssertEqual(rig.hart.readRegister(named: "a0"), 5, "the loads still load")
    }

    func testMemoryInterpreter() throws { try checkMemory(.interpreter) }

    /// An AMO reports its read and its write.
    func checkAtomic(_ accelerator: Accelerator) throws {
        let program: [UInt32] = [
            Self.auipc(7, 0),                                   // t2 = base
            Self.addi(28, 7, 0x100),                            // t3 = base + 0x100
            Self.addi(6, 0, 7),                                 // t1 = 7
            6 << 20 | 28 << 15 | 3 << 12 | 10 << 7 | 0x2F,     // amoadd.d a0, t1, (t3)
            6 << 20 | 28 << 15 | 3 << 12 | 10 << 7 | 0x2F,     // amoadd.d a0, t1, (t3)
        ]
        let rig = try Rig(accelerator, program: program)
        rig.add("memory")
        _ = rig.hart.run(budget: 5)
        let address = Self.hex(0x100)
        XCTAssertEqual(rig.lines, ["M L \(address) 8 0x0", "M S \(address) 8 0x7", "M L \(address) 8 0x7", "M S \(address) 8 0xe"])
        XCTAssertEqual(rig.hart.readRegister(named: "a0"), 7)
    }

    func testAtomicInterpreter() throws { try checkAtomic(.interpreter) }
    func testAtomicJIT() throws { try checkAtomic(.jit) }
    func testMemoryJIT() throws { try checkMemory(.jit) }

    func checkTrap(_ accelerator: Accelerator) throws {
        let rig = try Rig(accelerator)
        rig.add("trap")
        // ECALL from M: cause 11, tval 0, at the ECALL, from privilege 3.
        XCTAssertEqual(rig.runProgram(), ["X 0xb 0x0 \(Self.hex(0x24)) 3"])
        XCTAssertEqual(rig.hart.state.pointee.pc, Self.base + 0x40)
    }

    func testTrapInterpreter() throws { try checkTrap(.interpreter) }

    /// An interrupt: cause with bit 63 set, tval 0, the pc it interrupted.
    func checkInterrupt(_ accelerator: Accelerator) throws {
        let rig = try Rig(accelerator)
        rig.add("trap")
        _ = rig.hart.run(budget: 3) // through csrw mtvec
        rig.hart.state.pointee.mie = 1 << 7
        rig.hart.state.pointee.mstatus |= 1 << 3 // MIE
        rig.hart.setInterruptPending(bit: 7, true) // MTIP
        XCTAssertEqual(rig.hart.run(budget: 1), .exitRequested, "the controller's request is seen first")
        _ = rig.hart.run(budget: 1)
        XCTAssertEqual(rig.lines, ["X 0x8000000000000007 0x0 \(Self.hex(0xc)) 3"])
        XCTAssertEqual(rig.hart.state.pointee.mepc, Self.base + 0xc)
    }

    func testInterruptInterpreter() throws { try checkInterrupt(.interpreter) }
    func testInterruptJIT() throws { try checkInterrupt(.jit) }
    func testTrapJIT() throws { try checkTrap(.jit) }

    func testHartStartAndStopFireOnceEach() throws {
        let rig = try Rig(.jit)
        rig.add("start")
        rig.add("stop")
        rig.host.startHarts()
        rig.host.startHarts()
        XCTAssertEqual(rig.lines, ["start 0"])
        rig.host.shutdown()
        XCTAssertEqual(rig.lines, ["start 0", "stop 0"])
    }

    // MARK: Registers by name

    func checkRegisters(_ accelerator: Accelerator, kind: String) throws {
        let rig = try Rig(accelerator)
        rig.add(kind)
        "t1,x6,a0,pc,mtvec,minstret,t2,zero,f0,mhartid,bogus".withCString { rig.probe(Self.base + 0x24, $0) }
        let reads = rig.runProgram().filter { $0.hasPrefix("R ") }
        XCTAssertEqual(reads, ["R t1=0x5", "R x6=0x5", "R a0=0x5", "R pc=\(Self.hex(0x24))", "R mtvec=\(Self.hex(0x40))",
                               "R minstret=0x19", "R t2=\(Self.hex(0))", "R zero=0x0", "R f0=0x0", "R mhartid=0x0",
                               "R bogus=error -4"])
    }

    func testRegistersInAnInstructionCallbackInterpreter() throws { try checkRegisters(.interpreter, kind: "instruction") }
    func testRegistersInABlockCallbackInterpreter() throws { try checkRegisters(.interpreter, kind: "executed") }
    func testRegistersInABlockCallbackJIT() throws { try checkRegisters(.jit, kind: "executed") }

    func testReadRegisterOfAMissingHartIsInvalid() throws {
        let rig = try Rig(.interpreter)
        XCTAssertEqual(rig.hartCount(), 1)
        let instrument = try XCTUnwrap(rig.host.interface.host.pointee.instrument)
        var value: UInt64 = 0
        let plugin = try XCTUnwrap(rig.host.plugins.first)
        XCTAssertEqual(instrument.pointee.read_register(plugin.handle, 1, "pc", &value), BP_ERR_INVALID)
        XCTAssertEqual(instrument.pointee.read_register(plugin.handle, 0, "pc", &value), BP_OK)
        XCTAssertEqual(value, Self.base)
    }

    // MARK: Registration

    func testRegistrationIDsAreDistinctAndUnregisterFindsEachOnce() throws {
        let rig = try Rig(.interpreter)
        let first = rig.add("executed"), second = rig.add("trap")
        XCTAssertGreaterThan(first, 0)
        XCTAssertGreaterThan(second, first)
        XCTAssertEqual(rig.host.instrumentation.events, [.blockExecuted, .trap])
        XCTAssertEqual(rig.unregister(first), BP_OK)
        XCTAssertEqual(rig.unregister(first), BP_ERR_NOT_FOUND)
        XCTAssertEqual(rig.unregister(9999), BP_ERR_NOT_FOUND)
        XCTAssertEqual(rig.host.instrumentation.events, [.trap])
    }

    func testANullCallbackIsRefused() throws {
        let rig = try Rig(.interpreter)
        XCTAssertEqual(rig.add("null"), BP_ERR_INVALID)
        XCTAssertEqual(rig.host.instrumentation.events, [])
    }

    func checkUnregisteredCallbacksStopFiring(_ accelerator: Accelerator) throws {
        let rig = try Rig(accelerator)
        let id = rig.add("executed")
        _ = rig.hart.run(budget: 3)
        XCTAssertEqual(rig.lines, ["E \(Self.hex(0)) 3"])
        XCTAssertEqual(rig.unregister(id), BP_OK)
        _ = rig.hart.run(budget: 23)
        XCTAssertEqual(rig.lines, ["E \(Self.hex(0)) 3"], "nothing after unregistering")
        XCTAssertEqual(rig.hart.state.pointee.instret, 25)
    }

    func testUnregisteredCallbacksStopFiringInterpreter() throws { try checkUnregisteredCallbacksStopFiring(.interpreter) }
    func testUnregisteredCallbacksStopFiringJIT() throws { try checkUnregisteredCallbacksStopFiring(.jit) }

    func testAnotherPluginsRegistrationIsNotFound() throws {
        let rig = try Rig(.interpreter)
        let id = rig.add("executed")
        let host = rig.host
        let plugin = try XCTUnwrap(host.plugins.first)
        // The registry checks the owner: a different LoadedPlugin cannot remove it.
        let stranger = LoadedPlugin(name: "stranger", path: "", descriptor: plugin.descriptor, arguments: [], host: host)
        XCTAssertFalse(host.instrumentation.remove(id, by: stranger))
        XCTAssertTrue(host.instrumentation.remove(id, by: plugin))
    }

    // MARK: Versions

    /// Negotiation end to end: the plugin declaring 1.0 gets the table without `instrument`.
    func testPluginsDeclaring10And11SeeTheirOwnHostTable() throws {
        let log = PluginBuilder.directory.appendingPathComponent("negotiation-\(getpid()).log").path
        try? FileManager.default.removeItem(atPath: log)
        let old = try PluginBuilder.testPlugin("declares10", extra: ["REPORT_INSTRUMENT", "DESCRIPTOR_MAJOR=1", "DESCRIPTOR_MINOR=0"])
        let new = try PluginBuilder.testPlugin("declares11", extra: ["REPORT_INSTRUMENT"])
        let host = PluginHost()
        defer { host.shutdown() }
        try host.load([PluginRequest(path: old, arguments: [(key: "log", value: log)]), PluginRequest(path: new, arguments: [(key: "log", value: log)])])
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").filter { $0.hasPrefix("instrument") }
        XCTAssertEqual(lines, ["instrument-null declares10", "instrument-present declares11"])
    }

    func testA11PluginGetsTheInstrumentInterfaceAnd10PluginsDoNot() throws {
        let host = PluginHost()
        defer { host.shutdown() }
        XCTAssertNotNil(host.interface.host(forMinor: 1).pointee.instrument)
        XCTAssertNil(host.interface.host(forMinor: 0).pointee.instrument)
        XCTAssertEqual(host.interface.host(forMinor: 0).pointee.abi_minor, UInt16(BP_ABI_MINOR), "the host still says which version it is")
        let table = try XCTUnwrap(host.interface.host(forMinor: 1).pointee.instrument)
        XCTAssertEqual(Int(table.pointee.struct_size), MemoryLayout<bp_instrument_interface>.size)
    }
}

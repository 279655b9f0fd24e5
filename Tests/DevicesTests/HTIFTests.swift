import Devices
import Memory
import XCTest

final class HTIFTests: XCTestCase {
    // As a riscv-tests ELF lays them out: tohost, then fromhost 8 bytes later... but outside RAM
    // here so the windows can be mapped without carving RAM.
    let tohost: UInt64 = 0x4000_1000
    var fromhost: UInt64 { tohost + 8 }
    var console: MemorySerialBackend!
    var power: PowerControl!
    var space: AddressSpace!
    var htif: HTIF!

    override func setUpWithError() throws {
        console = MemorySerialBackend()
        power = PowerControl()
        space = AddressSpace()
        try space.mapRAM(name: "ram", base: 0x8000_0000, size: 0x10000)
        htif = HTIF(tohost: tohost, fromhost: fromhost, console: console, power: power, dma: space.dma)
        for mapping in htif.mappings {
            try space.mapMMIO(name: mapping.name, base: mapping.base, size: mapping.size, device: mapping.device)
        }
    }

    func testAdjacentMailboxesShareOneWindow() {
        XCTAssertEqual(htif.mappings.map(\.name), ["htif"])
        XCTAssertEqual(htif.mappings.map(\.base), [tohost])
        XCTAssertEqual(htif.mappings.map(\.size), [16])
    }

    func testDistantMailboxesGetOneWindowEach() {
        let other = HTIF(tohost: 0x1000, fromhost: 0x2000, console: console, power: power, dma: space.dma)
        XCTAssertEqual(other.mappings.map(\.name), ["htif-tohost", "htif-fromhost"])
        XCTAssertEqual(other.mappings.map(\.base), [0x1000, 0x2000])
    }

    func testWriteOfOneIsPass() {
        space.write(tohost, size: 8, value: 1)
        XCTAssertEqual(power.event, .poweroff(exitCode: 0))
        XCTAssertEqual(space.read(tohost, size: 8), 0)
    }

    func testWriteOfSevenExitsThree() {
        space.write(tohost, size: 8, value: 7)
        XCTAssertEqual(power.event, .poweroff(exitCode: 3))
    }

    func testLowHalfAloneDoesNothingUntilHighHalf() {
        space.write(tohost, size: 4, value: 7)
        XCTAssertNil(power.event)
        XCTAssertEqual(space.read(tohost, size: 8), 7)
        space.write(tohost + 4, size: 4, value: 0)
        XCTAssertEqual(power.event, .poweroff(exitCode: 3))
    }

    func testConsolePutcharOutputsAndAnswers() {
        space.write(tohost, size: 8, value: 1 << 56 | 1 << 48 | 0x41)
        XCTAssertEqual(console.output, [0x41])
        XCTAssertEqual(space.read(tohost, size: 8), 0)
        XCTAssertEqual(space.read(fromhost, size: 8), 1 << 56 | 1 << 48 | 0x141)
    }

    func testConsolePutcharInHalves() {
        space.write(tohost, size: 4, value: 0x42)
        space.write(tohost + 4, size: 4, value: 0x0101_0000)
        XCTAssertEqual(console.output, [0x42])
        XCTAssertEqual(space.read(fromhost + 4, size: 4), 0x0101_0000)
        XCTAssertEqual(space.read(fromhost, size: 4), 0x142)
    }

    func testLowHalfIsRefusedWhileTohostIsBusy() {
        space.write(tohost, size: 4, value: 0x43)     // taken: tohost = 0x43
        space.write(tohost, size: 4, value: 0x44)     // refused: tohost is not 0
        space.write(tohost + 4, size: 4, value: 0x0101_0000) // refused with it
        XCTAssertEqual(console.output, [])
        XCTAssertEqual(space.read(tohost, size: 8), 0x43)
    }

    func testGuestClearsFromhost() {
        space.write(tohost, size: 8, value: 1 << 56 | 1 << 48 | 0x41)
        space.write(fromhost, size: 8, value: 0)
        XCTAssertEqual(space.read(fromhost, size: 8), 0)
    }

    func testConsoleReadIsAnsweredWhenInputArrives() {
        space.write(tohost, size: 8, value: 1 << 56)
        XCTAssertEqual(space.read(fromhost, size: 8), 0)
        console.inject("z")
        htif.poll()
        XCTAssertEqual(space.read(fromhost, size: 8), 1 << 56 | 0x100 | 0x7a)
    }

    func testSysWriteCopiesBufferToConsole() {
        let block: UInt64 = 0x8000_0100, buffer: UInt64 = 0x8000_0200
        writeWords(block, [64, 1, buffer, 5, 0, 0, 0, 0])
        _ = space.dma.write(buffer, bytes: Array("hello".utf8))
        space.write(tohost, size: 8, value: block)
        XCTAssertEqual(console.outputString, "hello")
        XCTAssertEqual(space.read(block, size: 8), 5) // spike returns the byte count
        XCTAssertEqual(space.read(fromhost, size: 8), 1)
    }

    func testSysWriteToOtherDescriptorIsEBADF() {
        let block: UInt64 = 0x8000_0100
        writeWords(block, [64, 3, 0x8000_0200, 1, 0, 0, 0, 0])
        space.write(tohost, size: 8, value: block)
        XCTAssertEqual(console.output, [])
        XCTAssertEqual(space.read(block, size: 8), UInt64(bitPattern: -9))
    }

    func testUnsupportedSyscallAnswersENOSYS() {
        let block: UInt64 = 0x8000_0100
        writeWords(block, [57, 3, 0, 0, 0, 0, 0, 0])
        space.write(tohost, size: 8, value: block)
        XCTAssertEqual(space.read(block, size: 8), UInt64(bitPattern: -38))
        XCTAssertEqual(htif.lastUnsupported, "HTIF system call 57 is not supported")
        XCTAssertNil(power.event)
    }

    func testSyscallBlockOutsideRAMIsReported() {
        space.write(tohost, size: 8, value: 0x10)
        XCTAssertEqual(htif.lastUnsupported, "HTIF system call block at 0x10 is outside guest RAM")
        XCTAssertEqual(space.read(tohost, size: 8), 0)
    }

    private func writeWords(_ address: UInt64, _ words: [UInt64]) {
        for (index, word) in words.enumerated() { space.write(address + UInt64(8 * index), size: 8, value: word) }
    }
}

/// spike's placement: the mailboxes are RAM and `poll()` takes commands from them.
final class HTIFMemoryPlacementTests: XCTestCase {
    let tohost: UInt64 = 0x8000_1000
    var console: MemorySerialBackend!
    var power: PowerControl!
    var space: AddressSpace!
    var htif: HTIF!

    override func setUpWithError() throws {
        console = MemorySerialBackend()
        power = PowerControl()
        space = AddressSpace()
        try space.mapRAM(name: "ram", base: 0x8000_0000, size: 0x10000)
        htif = HTIF(tohost: tohost, fromhost: tohost + 8, console: console, power: power, dma: space.dma, placement: .memory)
    }

    func testNoMappings() {
        XCTAssertTrue(htif.mappings.isEmpty)
    }

    func testPollTakesExitCommandAndClearsTohost() {
        space.write(tohost, size: 8, value: 7)
        XCTAssertNil(power.event)
        htif.poll()
        XCTAssertEqual(power.event, .poweroff(exitCode: 3))
        XCTAssertEqual(space.read(tohost, size: 8), 0)
    }

    func testPollAnswersPutcharInRAM() {
        space.write(tohost, size: 8, value: 1 << 56 | 1 << 48 | 0x21)
        htif.poll()
        XCTAssertEqual(console.output, [0x21])
        XCTAssertEqual(space.read(tohost + 8, size: 8), 1 << 56 | 1 << 48 | 0x121)
    }
}

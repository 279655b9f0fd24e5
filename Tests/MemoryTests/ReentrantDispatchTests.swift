import XCTest
import Memory

/// A device that, like edu with its MSI-X vector aimed at its own interrupt-raise register,
/// answers every write by issuing `fanOut` writes of its own to `target` on the same bus.
private final class EchoDevice: MMIODevice {
    let implementedSizes: AccessSizes = .word
    unowned let space: AddressSpace
    var target: UInt64 = 0
    var fanOut = 1
    var writes = 0
    var reads = 0
    var deepest = 0
    var depth = 0
    var lastNestedWriteAnswered = true
    var someNestedWriteRefused = false
    init(space: AddressSpace) { self.space = space }
    func read(offset: UInt64, size: Int) -> UInt64 {
        reads += 1
        return space.read(target, size: 4) ?? 0xdead
    }
    func write(offset: UInt64, size: Int, value: UInt64) {
        writes += 1
        depth += 1
        deepest = max(deepest, depth)
        for _ in 0..<fanOut {
            lastNestedWriteAnswered = space.write(target, size: 4, value: value)
            if !lastNestedWriteAnswered { someNestedWriteRefused = true }
        }
        depth -= 1
    }
}

final class ReentrantDispatchTests: XCTestCase {
    func testAWriteThatWritesItselfEndsAtTheDepthLimit() throws {
        let space = AddressSpace()
        let device = EchoDevice(space: space)
        try space.mapMMIO(name: "edu", base: 0x4000_0000, size: 0x1000, device: device)
        device.target = 0x4000_0060

        XCTAssertTrue(space.write(0x4000_0060, size: 4, value: 1), "the CPU's own write is answered")

        XCTAssertEqual(device.writes, AddressSpace.maxDispatchDepth)
        XCTAssertEqual(device.deepest, AddressSpace.maxDispatchDepth)
        XCTAssertTrue(device.someNestedWriteRefused, "the write past the limit is a master abort")
        XCTAssertEqual(space.refusedNestedAccesses, 1)
    }

    func testAReadThatReadsItselfEndsAtTheDepthLimitWithNoAnswer() throws {
        let space = AddressSpace()
        let device = EchoDevice(space: space)
        try space.mapMMIO(name: "loop", base: 0x1000, size: 0x1000, device: device)
        device.target = 0x1000

        XCTAssertEqual(space.read(0x1000, size: 4), 0xdead, "the innermost read got no answer")
        XCTAssertEqual(device.reads, AddressSpace.maxDispatchDepth)
    }

    func testTheLimitResetsForTheNextOutermostAccess() throws {
        let space = AddressSpace()
        let device = EchoDevice(space: space)
        try space.mapMMIO(name: "edu", base: 0x4000_0000, size: 0x1000, device: device)
        device.target = 0x4000_0060

        space.write(0x4000_0060, size: 4, value: 1)
        space.write(0x4000_0060, size: 4, value: 1)

        XCTAssertEqual(device.writes, 2 * AddressSpace.maxDispatchDepth)
        XCTAssertEqual(space.refusedNestedAccesses, 2)
    }

    func testAFanningOutDeviceIsBoundedByTheBudgetNotTheDepth() throws {
        let space = AddressSpace()
        let device = EchoDevice(space: space)
        device.fanOut = 4   // (4^8 - 1) / 3 = 21,845 writes within the depth limit alone
        try space.mapMMIO(name: "fan", base: 0x2000, size: 0x1000, device: device)
        device.target = 0x2000

        space.write(0x2000, size: 4, value: 1)

        XCTAssertGreaterThan(device.writes, AddressSpace.maxDispatchDepth, "the device did fan out")
        XCTAssertLessThanOrEqual(device.writes, 1 + AddressSpace.nestedDispatchBudget)
    }

    func testShallowNestingLikeCPUToDeviceToIMSICIsDelivered() throws {
        let space = AddressSpace()
        let device = EchoDevice(space: space)
        let imsic = RecordingDevice(sizes: .word)
        try space.mapMMIO(name: "dev", base: 0x4000_0000, size: 0x1000, device: device)
        try space.mapMMIO(name: "imsic", base: 0x2400_0000, size: 0x1000, device: imsic)
        device.target = 0x2400_0000

        space.write(0x4000_0000, size: 4, value: 5)

        XCTAssertEqual(imsic.log, ["w4@0=0x5"])
        XCTAssertFalse(device.someNestedWriteRefused)
        XCTAssertEqual(space.refusedNestedAccesses, 0)
    }

    func testNestedWritesIntoRAMAreNotCounted() throws {
        let space = AddressSpace()
        let device = EchoDevice(space: space)
        try space.mapRAM(name: "ram", base: 0x8000_0000, size: 0x1000)
        try space.mapMMIO(name: "dev", base: 0x1000, size: 0x1000, device: device)
        device.target = 0x8000_0010
        device.fanOut = 10_000

        space.write(0x1000, size: 4, value: 7)

        XCTAssertEqual(space.read(0x8000_0010, size: 4), 7)
        XCTAssertEqual(space.refusedNestedAccesses, 0)
    }
}

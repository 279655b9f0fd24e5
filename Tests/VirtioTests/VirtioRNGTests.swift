import XCTest
@testable import Virtio

final class VirtioRNGTests: XCTestCase {
    func testBuffersAreFilledFromTheSource() throws {
        var counter: UInt8 = 0
        let rng = VirtioRNG { buffer in
            for index in buffer.indices { counter &+= 1; buffer[index] = counter }
        }
        let harness = try VirtioHarness(device: rng)
        let (head, buffers) = harness.submit(queue: 0, writable: [5, 3])
        XCTAssertEqual(harness.takeUsed(queue: 0).map { [$0.head: $0.written] }, [[head: 8]])
        XCTAssertEqual(harness.read(buffers[0], 5), [1, 2, 3, 4, 5])
        XCTAssertEqual(harness.read(buffers[1], 3), [6, 7, 8])
        XCTAssertEqual(harness.function.config.read(offset: 0, size: 4), 0x1044_1af4)
    }

    func testHostEntropyIsNotConstant() throws {
        let harness = try VirtioHarness(device: VirtioRNG())
        let (_, buffers) = harness.submit(queue: 0, writable: [64])
        XCTAssertEqual(harness.takeUsed(queue: 0).first?.written, 64)
        XCTAssertGreaterThan(Set(harness.read(buffers[0], 64)).count, 8)
    }

    func testAHugeRequestGetsABoundedFill() throws {
        let harness = try VirtioHarness(device: VirtioRNG { _ in })
        harness.submit(queue: 0, writable: [VirtioRNG.maximumRequestBytes * 2])
        XCTAssertEqual(harness.takeUsed(queue: 0).first?.written, UInt32(VirtioRNG.maximumRequestBytes))
    }
}

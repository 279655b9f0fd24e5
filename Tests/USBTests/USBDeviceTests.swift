import Foundation
import XCTest
import Storage
@testable import USB

/// The device core's standard requests and the built-in devices, driven packet by packet.
final class USBDeviceTests: XCTestCase {
    private func control(_ core: USBDeviceCore, _ setup: USBSetupPacket, data: [UInt8] = []) -> USBPacket {
        let packet = USBPacket(endpoint: setup.isIn ? 0x80 : 0, setup: setup, length: Int(setup.length), data: data)
        core.submit(packet)
        return packet
    }

    private func configured(_ device: any USBDevice, speed: USBSpeed) -> USBDeviceCore {
        let core = USBDeviceCore(device: device, speed: speed)
        XCTAssertEqual(control(core, USBSetupPacket(requestType: 0, request: USBRequest.setConfiguration, value: 1)).status, .success)
        return core
    }

    // MARK: Standard requests

    func testStringDescriptorsAreUTF16WithUSEnglishAtIndexZero() {
        let core = USBDeviceCore(device: USBKeyboard(), speed: .full)
        XCTAssertEqual(control(core, USBSetupPacket(requestType: 0x80, request: USBRequest.getDescriptor, value: 0x0300, length: 255)).data,
                       [4, 3, 0x09, 0x04])
        let product = control(core, USBSetupPacket(requestType: 0x80, request: USBRequest.getDescriptor, value: 0x0302, length: 255)).data
        XCTAssertEqual(product[0], UInt8(2 + 2 * USBKeyboard.productName.utf16.count))
        XCTAssertEqual(String(decoding: stride(from: 2, to: product.count, by: 2).map { UInt16(product[$0]) | UInt16(product[$0 + 1]) << 8 }, as: UTF16.self),
                       "Backplane USB Keyboard")
    }

    func testSuperSpeedDeviceDescriptorHasExponentPacketSizeAndBOS() {
        let core = USBDeviceCore(device: USBLoopback(), speed: .superSpeed)
        let device = control(core, USBSetupPacket(requestType: 0x80, request: USBRequest.getDescriptor, value: 0x0100, length: 18)).data
        XCTAssertEqual(device[2...3], [0x20, 0x03], "bcdUSB 3.2")
        XCTAssertEqual(device[7], 9, "2^9 = 512 bytes")
        let bos = control(core, USBSetupPacket(requestType: 0x80, request: USBRequest.getDescriptor, value: 0x0f00, length: 255)).data
        XCTAssertEqual(bos[1], USBDescriptorType.bos)
        XCTAssertEqual(Int(bos[2]) | Int(bos[3]) << 8, bos.count)
        let config = control(core, USBSetupPacket(requestType: 0x80, request: USBRequest.getDescriptor, value: 0x0200, length: 255)).data
        XCTAssertTrue(config.contains(USBDescriptorType.superSpeedEndpointCompanion))
    }

    func testSetConfigurationWithAnUnknownValueStalls() {
        let core = USBDeviceCore(device: USBKeyboard(), speed: .full)
        XCTAssertEqual(control(core, USBSetupPacket(requestType: 0, request: USBRequest.setConfiguration, value: 7)).status, .stall)
        XCTAssertEqual(core.configuration, 0)
    }

    func testEndpointHaltIsSetReportedAndCleared() {
        let core = configured(USBLoopback(), speed: .high)
        let halt = USBSetupPacket(requestType: 0x02, request: USBRequest.setFeature, value: USBFeature.endpointHalt, index: 0x81)
        XCTAssertEqual(control(core, halt).status, .success)
        let status = USBSetupPacket(requestType: 0x82, request: USBRequest.getStatus, index: 0x81, length: 2)
        XCTAssertEqual(control(core, status).data, [1, 0])
        let data = USBPacket(endpoint: 0x81, length: 64)
        core.submit(data)
        XCTAssertEqual(data.status, .stall, "a halted endpoint stalls")

        var clear = halt
        clear.request = USBRequest.clearFeature
        XCTAssertEqual(control(core, clear).status, .success)
        XCTAssertEqual(control(core, status).data, [0, 0])
    }

    func testDataToAnUnconfiguredDeviceStalls() {
        let core = USBDeviceCore(device: USBLoopback(), speed: .high)
        let packet = USBPacket(endpoint: 0x01, length: 4, data: [1, 2, 3, 4])
        core.submit(packet)
        XCTAssertEqual(packet.status, .stall)
    }

    func testHighSpeedBulkEndpointsAre512Bytes() {
        let core = USBDeviceCore(device: USBLoopback(), speed: .high)
        let endpoints = core.endpoints(ofConfiguration: 1)
        XCTAssertEqual(endpoints.filter { $0.attributes & 3 == 2 }.map(\.maxPacketSize), [512, 512])
    }

    // MARK: Loopback (asynchronous completion)

    func testLoopbackInPacketPendsUntilDataArrives() {
        let core = configured(USBLoopback(), speed: .high)
        let read = USBPacket(endpoint: 0x81, length: 64)
        core.submit(read)
        XCTAssertNil(read.status, "pending: nothing queued")

        let write = USBPacket(endpoint: 0x01, length: 3, data: [7, 8, 9])
        core.submit(write)

        XCTAssertEqual(write.status, .success)
        XCTAssertEqual(read.status, .success)
        XCTAssertEqual(read.data, [7, 8, 9])
    }

    // MARK: HID

    func testKeyboardTypesScriptedKeysOneReportPerPacket() throws {
        let script = try HIDInputScript(text: "type Hi\nkey CTRL+C\n")
        let core = configured(USBKeyboard(script: script), speed: .full)
        var reports: [[UInt8]] = []
        for _ in 0..<6 {
            let packet = USBPacket(endpoint: 0x81, length: 8)
            core.submit(packet)
            reports.append(packet.data)
        }
        XCTAssertEqual(reports, [
            [0x02, 0, 0x0b, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0],   // H = shift + h
            [0x00, 0, 0x0c, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0],   // i
            [0x01, 0, 0x06, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0],   // ctrl + c
        ])
        let idle = USBPacket(endpoint: 0x81, length: 8)
        core.submit(idle)
        XCTAssertNil(idle.status, "no more input: the packet waits")
    }

    func testTabletReportsAbsolutePositionAndClicks() throws {
        let core = configured(USBTablet(script: try HIDInputScript(text: "move 16384 8192\nclick\n")), speed: .full)
        var reports: [[UInt8]] = []
        for _ in 0..<3 {
            let packet = USBPacket(endpoint: 0x81, length: 8)
            core.submit(packet)
            reports.append(packet.data)
        }
        XCTAssertEqual(reports, [[0, 0x00, 0x40, 0x00, 0x20, 0], [1, 0x00, 0x40, 0x00, 0x20, 0], [0, 0x00, 0x40, 0x00, 0x20, 0]])
    }

    func testHIDReportDescriptorIsAnsweredForTheInterface() {
        let core = USBDeviceCore(device: USBKeyboard(), speed: .full)
        let packet = control(core, USBSetupPacket(requestType: 0x81, request: USBRequest.getDescriptor, value: 0x2200, length: 255))
        XCTAssertEqual(packet.data, USBKeyboard.report)
    }

    func testScriptErrorsNameTheLine() {
        XCTAssertThrowsError(try HIDInputScript(text: "type ok\n\njump 3\n", path: "keys.txt")) { error in
            XCTAssertEqual("\(error)", "keys.txt:3: unknown command 'jump'; expected type, key, move, click or wait")
        }
        XCTAssertThrowsError(try HIDInputScript(text: "move 1 40000", path: "m.txt")) { error in
            XCTAssertEqual("\(error)", "m.txt:1: 'move' needs two positions 0...32767, got '1 40000'")
        }
    }

    // MARK: Mass storage (Bulk-Only Transport + SCSI)

    private var imagePath = ""

    override func setUp() {
        imagePath = FileManager.default.temporaryDirectory.appendingPathComponent("usb-storage-\(UUID().uuidString).img").path
        // 16 blocks; block n is filled with byte n + 1.
        let bytes = (0..<16).flatMap { [UInt8](repeating: UInt8($0 + 1), count: 512) }
        _ = FileManager.default.createFile(atPath: imagePath, contents: Data(bytes))
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: imagePath) }

    private func storage(readOnly: Bool = false) throws -> USBDeviceCore {
        configured(USBMassStorage(image: try DiskImage(path: imagePath, readOnly: readOnly)), speed: .high)
    }

    private func cbw(tag: UInt32, length: Int, toHost: Bool, _ cdb: [UInt8]) -> [UInt8] {
        var bytes = bytes32(USBMassStorage.cbwSignature) + bytes32(tag) + bytes32(UInt32(length))
        bytes += [toHost ? 0x80 : 0, 0, UInt8(cdb.count)]
        return bytes + cdb + [UInt8](repeating: 0, count: 16 - cdb.count)
    }

    /// One BOT command: CBW, data phase, CSW. Returns (data in, CSW).
    private func run(_ core: USBDeviceCore, tag: UInt32 = 1, length: Int, toHost: Bool = true, out: [UInt8] = [], _ cdb: [UInt8]) -> ([UInt8], [UInt8]) {
        let command = USBPacket(endpoint: 0x02, length: 31, data: cbw(tag: tag, length: length, toHost: toHost, cdb))
        core.submit(command)
        XCTAssertEqual(command.status, .success)
        var data: [UInt8] = []
        if length > 0 && toHost {
            let packet = USBPacket(endpoint: 0x81, length: length)
            core.submit(packet)
            data = packet.data
        } else if length > 0 {
            let packet = USBPacket(endpoint: 0x02, length: out.count, data: out)
            core.submit(packet)
            XCTAssertEqual(packet.status, .success)
        }
        let status = USBPacket(endpoint: 0x81, length: 13)
        core.submit(status)
        return (data, status.data)
    }

    func testInquiryNamesADirectAccessDevice() throws {
        let core = try storage()
        let (data, csw) = run(core, tag: 0x1234, length: 36, [SCSIOpcode.inquiry, 0, 0, 0, 36, 0])
        XCTAssertEqual(data.count, 36)
        XCTAssertEqual(data[0], 0, "direct access block device")
        XCTAssertEqual(String(decoding: data[8..<16], as: UTF8.self), "Backplne")
        XCTAssertEqual(csw, bytes32(USBMassStorage.cswSignature) + bytes32(0x1234) + bytes32(0) + [0])
    }

    func testReadCapacityGivesTheLastBlockAndBlockSize() throws {
        let core = try storage()
        let (data, _) = run(core, length: 8, [SCSIOpcode.readCapacity10] + [UInt8](repeating: 0, count: 9))
        XCTAssertEqual(data, [0, 0, 0, 15, 0, 0, 2, 0])
        let (sixteen, _) = run(core, length: 32, [SCSIOpcode.serviceActionIn16, 0x10] + [UInt8](repeating: 0, count: 8) + [0, 0, 0, 32, 0, 0])
        XCTAssertEqual(Array(sixteen[0..<12]), [0, 0, 0, 0, 0, 0, 0, 15, 0, 0, 2, 0])
    }

    func testRead10ReturnsTheImageBlocks() throws {
        let core = try storage()
        let (data, csw) = run(core, length: 1024, [SCSIOpcode.read10, 0, 0, 0, 0, 3, 0, 0, 2, 0])
        XCTAssertEqual(data, [UInt8](repeating: 4, count: 512) + [UInt8](repeating: 5, count: 512))
        XCTAssertEqual(csw.last, 0)
    }

    func testWrite10IsInTheImageWhenTheCSWArrives() throws {
        let core = try storage()
        let (_, csw) = run(core, length: 512, toHost: false, out: [UInt8](repeating: 0xab, count: 512),
                           [SCSIOpcode.write10, 0, 0, 0, 0, 2, 0, 0, 1, 0])
        XCTAssertEqual(csw.last, 0)
        let file = try Data(contentsOf: URL(fileURLWithPath: imagePath))
        XCTAssertEqual(Array(file[1024..<1536]), [UInt8](repeating: 0xab, count: 512))
        XCTAssertEqual(file[1536], 4, "the next block is untouched")
    }

    func testReadPastTheEndFailsWithLBAOutOfRangeSense() throws {
        let core = try storage()
        let (data, csw) = run(core, length: 512, [SCSIOpcode.read10, 0, 0, 0, 0, 16, 0, 0, 1, 0])
        XCTAssertEqual(data, [], "no data: a zero-length packet ends the data phase")
        XCTAssertEqual(csw.last, 1, "command failed")
        XCTAssertEqual(Array(csw[8..<12]), bytes32(512), "residue: nothing was transferred")
        let (sense, _) = run(core, length: 18, [SCSIOpcode.requestSense, 0, 0, 0, 18, 0])
        XCTAssertEqual(sense[2], 0x05, "ILLEGAL REQUEST")
        XCTAssertEqual(sense[12], 0x21, "LOGICAL BLOCK ADDRESS OUT OF RANGE")
    }

    func testWriteToAReadOnlyImageFailsWithDataProtect() throws {
        let core = try storage(readOnly: true)
        let (_, csw) = run(core, length: 512, toHost: false, out: [UInt8](repeating: 0, count: 512),
                           [SCSIOpcode.write10, 0, 0, 0, 0, 0, 0, 0, 1, 0])
        XCTAssertEqual(csw.last, 1)
        let (sense, _) = run(core, length: 18, [SCSIOpcode.requestSense, 0, 0, 0, 18, 0])
        XCTAssertEqual(sense[2], 0x07, "DATA PROTECT")
        let (mode, _) = run(core, length: 4, [SCSIOpcode.modeSense6, 0, 0x3f, 0, 4, 0])
        XCTAssertEqual(mode[2] & 0x80, 0x80, "write protect bit")
    }

    func testUnknownSCSICommandFailsWithInvalidOpcodeSense() throws {
        let core = try storage()
        let (_, csw) = run(core, length: 0, [0xd7, 0, 0, 0, 0, 0])
        XCTAssertEqual(csw.last, 1)
        let (sense, _) = run(core, length: 18, [SCSIOpcode.requestSense, 0, 0, 0, 18, 0])
        XCTAssertEqual(sense[12], 0x20)
    }

    func testGetMaxLUNIsZeroAndACorruptCBWStalls() throws {
        let core = try storage()
        XCTAssertEqual(control(core, USBSetupPacket(requestType: 0xa1, request: USBMassStorage.Request.getMaxLUN, length: 1)).data, [0])
        let bad = USBPacket(endpoint: 0x02, length: 31, data: [UInt8](repeating: 0, count: 31))
        core.submit(bad)
        XCTAssertEqual(bad.status, .stall)
        XCTAssertTrue(core.isHalted(0x02))
    }
}

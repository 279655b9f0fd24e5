import Foundation
import XCTest
@testable import Passthrough

/// The replay backend against the recorded devices in Recordings/usb.
final class ReplayUSBTests: XCTestCase {
    /// Collects completions (they arrive on the replay's queue).
    final class Completions: @unchecked Sendable {
        private let lock = NSLock()
        private var values: [UInt64: USBTransferCompletion] = [:]
        var handler: USBCompletionHandler { { completion in self.lock.lock(); self.values[completion.id] = completion; self.lock.unlock() } }
        subscript(id: UInt64) -> USBTransferCompletion? { lock.lock(); defer { lock.unlock() }; return values[id] }
    }

    private func open(_ name: String, _ selector: HostUSBSelector? = nil) throws -> ReplayUSBDevice {
        let recording = try Recordings.usb(name)
        let backend = ReplayUSBBackend([recording])
        let info = try XCTUnwrap(try backend.devices().first)
        let device = try backend.open(selector ?? .ids(vendor: info.vendorID, product: info.productID), options: HostUSBOpenOptions())
        return try XCTUnwrap(device as? ReplayUSBDevice)
    }

    /// Submits and waits for the completion (nil if it stays pending).
    private func run(_ device: ReplayUSBDevice, _ request: USBTransferRequest) -> USBTransferCompletion? {
        let completions = Completions()
        let id = device.submit(request, completion: completions.handler)
        device.drain()
        return completions[id]
    }

    private func bytes(_ text: String) -> [UInt8] { USBRecording.bytes(text)! }

    // MARK: Enumeration

    func testDevicesAreListedFromTheirDescriptors() throws {
        let recordings = try ["flash-drive", "keyboard", "microphone"].map(Recordings.usb)
        let infos = try ReplayUSBBackend(recordings).devices()
        XCTAssertEqual(infos.map(\.location), ["1-2", "1-1.3", "2-1"])
        for (info, recording) in zip(infos, recordings) {
            let descriptor = try XCTUnwrap(USBDeviceDescriptor(bytes: bytes(recording.device)))
            XCTAssertEqual(info.vendorID, descriptor.vendorID)
            XCTAssertEqual(info.productID, descriptor.productID)
            XCTAssertEqual(info.deviceClass, descriptor.deviceClass)
        }
    }

    func testOpenByBusAndPorts() throws {
        let device = try open("keyboard", HostUSBSelector("1-1.3"))
        XCTAssertEqual(device.info.ports, [1, 3])
    }

    func testMissingDeviceIsReported() throws {
        let backend = ReplayUSBBackend([try Recordings.usb("keyboard")])
        XCTAssertThrowsError(try backend.open(.ids(vendor: 0x1234, product: 0x5678), options: HostUSBOpenOptions())) { error in
            XCTAssertEqual("\(error)", "host USB device 1234:5678 not found (1 USB device present; see `backplane host usb`)")
        }
    }

    func testConfigurationDescriptorIsParsed() throws {
        let device = try open("flash-drive")
        let configuration = try device.configuration(index: 0)
        XCTAssertEqual(configuration.interfaces.count, 1)
        let interface = configuration.interfaces[0]
        XCTAssertEqual([interface.interfaceClass, interface.interfaceSubClass, interface.interfaceProtocol], [0x08, 0x06, 0x50])
        XCTAssertEqual(interface.endpoints.map(\.address), [0x81, 0x02])
        XCTAssertEqual(interface.endpoints.map(\.transferType), [.bulk, .bulk])
        XCTAssertEqual(interface.endpoints.map(\.maxPacketSize), [512, 512])
    }

    func testConfigurationsWithClassDescriptorsKeepThemInTheBytes() throws {
        let device = try open("keyboard")
        let configuration = try device.configuration(index: 0)
        XCTAssertEqual(configuration.bytes.count, 0x22)
        XCTAssertEqual(configuration.interfaces[0].endpoints.map(\.transferType), [.interrupt])
    }

    // MARK: Control

    func testRecordedControlRequestIsAnswered() throws {
        let device = try open("flash-drive")
        let getMaxLUN = USBSetupPacket(requestType: 0xa1, request: 0xfe, value: 0, index: 0, length: 1)
        XCTAssertEqual(run(device, .control(getMaxLUN)), USBTransferCompletion(id: 1, status: .completed, data: [0]))
    }

    func testUnrecordedDeviceDescriptorRequestIsAnsweredShort() throws {
        let device = try open("flash-drive")
        let completion = run(device, .control(.getDescriptor(type: USBDescriptorType.device, index: 0, length: 8)))
        XCTAssertEqual(completion?.data, Array(device.deviceDescriptor.bytes.prefix(8)))
    }

    func testUnrecordedRequestStalls() throws {
        let device = try open("flash-drive")
        let setFeature = USBSetupPacket(requestType: 0x00, request: USBSetupPacket.setFeature, value: 1, index: 0, length: 0)
        XCTAssertEqual(run(device, .control(setFeature))?.status, .stall)
    }

    func testStringDescriptorFromTheRecording() throws {
        let device = try open("flash-drive")
        let completion = run(device, .control(.getDescriptor(type: USBDescriptorType.string, index: 2, language: 0x0409, length: 255)))
        let data = try XCTUnwrap(completion?.data)
        XCTAssertEqual(String(decoding: stride(from: 2, to: data.count, by: 2).map { UInt16(data[$0]) | UInt16(data[$0 + 1]) << 8 },
                              as: UTF16.self), device.info.product)
    }

    // MARK: Bulk

    func testBulkOutMatchingTheRecordingCompletes() throws {
        let device = try open("flash-drive")
        let recording = try Recordings.usb("flash-drive")
        let cbw = bytes(try XCTUnwrap(recording.transfers[3].out))
        let completion = run(device, USBTransferRequest(type: .bulk, endpoint: 0x02, data: cbw))
        XCTAssertEqual(completion?.status, .completed)
        XCTAssertEqual(completion?.actualLength, cbw.count)
    }

    func testBulkOutDifferingFromTheRecordingFails() throws {
        let device = try open("flash-drive")
        let completion = run(device, USBTransferRequest(type: .bulk, endpoint: 0x02, data: [0x55, 0x53]))
        XCTAssertEqual(completion?.status, .error("replay: OUT data 55 53 differs from the recorded 55 53 42 43 01 00 00 00 24 00 00 00 80 00 06 12 00 00 00 24 00 00 00 00 00 00 00 00 00 00 00"))
    }

    func testBulkInReturnsTheRecordedDataInOrder() throws {
        let device = try open("flash-drive")
        let inquiry = run(device, USBTransferRequest(type: .bulk, endpoint: 0x81, length: 512))
        let status = run(device, USBTransferRequest(type: .bulk, endpoint: 0x81, length: 13))
        XCTAssertEqual(inquiry.map { String(decoding: $0.data[8..<15], as: UTF8.self) }, "SanDisk")
        XCTAssertEqual(status?.data.prefix(4), [0x55, 0x53, 0x42, 0x53])
    }

    func testBulkInLargerThanTheBufferOverflows() throws {
        let device = try open("flash-drive")
        let completion = run(device, USBTransferRequest(type: .bulk, endpoint: 0x81, length: 8))
        XCTAssertEqual(completion?.status, .overflow)
        XCTAssertEqual(completion?.data.count, 8)
    }

    func testStallHaltsTheEndpointUntilCleared() throws {
        let device = try open("flash-drive")
        for _ in 0..<2 { _ = run(device, USBTransferRequest(type: .bulk, endpoint: 0x81, length: 512)) }
        let stalled = run(device, USBTransferRequest(type: .bulk, endpoint: 0x81, length: 512))
        XCTAssertEqual(stalled?.status, .stall)
        XCTAssertEqual(device.halted, [0x81])
        try device.clearHalt(endpoint: 0x81)
        XCTAssertEqual(device.halted, [])
    }

    // MARK: Interrupt, isochronous

    func testInterruptInWithNothingRecordedStaysPendingUntilCancelled() throws {
        let device = try open("keyboard")
        XCTAssertEqual(run(device, USBTransferRequest(type: .interrupt, endpoint: 0x81, length: 8))?.data, [0, 0, 4, 0, 0, 0, 0, 0])
        XCTAssertEqual(run(device, USBTransferRequest(type: .interrupt, endpoint: 0x81, length: 8))?.data, [0, 0, 0, 0, 0, 0, 0, 0])
        let completions = Completions()
        let id = device.submit(USBTransferRequest(type: .interrupt, endpoint: 0x81, length: 8), completion: completions.handler)
        device.drain()
        XCTAssertNil(completions[id])
        device.cancel(id)
        device.drain()
        XCTAssertEqual(completions[id]?.status, .cancelled)
    }

    func testIsochronousPacketsCarryTheirOwnStatus() throws {
        let device = try open("microphone")
        try device.setConfiguration(1)
        try device.setAlternateSetting(interface: 1, alternate: 1)
        let completion = run(device, USBTransferRequest(type: .isochronous, endpoint: 0x84, length: 64, isochronousPackets: [32, 32]))
        XCTAssertEqual(completion?.isochronousPackets.map(\.status), [.completed, .error("recorded error")])
        XCTAssertEqual(completion?.isochronousPackets[0].data, Array(0..<32))
    }

    func testAlternateSettingMustExist() throws {
        let device = try open("microphone")
        try device.setConfiguration(1)
        XCTAssertThrowsError(try device.setAlternateSetting(interface: 1, alternate: 2)) { error in
            XCTAssertEqual("\(error)", "interface 1 has no alternate setting 2 in configuration 1")
        }
    }

    // MARK: Unplug

    func testUnplugNotifiesAndEndsEveryLaterTransfer() throws {
        let device = try open("flash-drive")
        let disconnected = expectation(description: "disconnect")
        device.onDisconnect = { disconnected.fulfill() }
        let recording = try Recordings.usb("flash-drive")
        for transfer in recording.transfers where transfer.unplug != true {
            let endpoint = UInt8(transfer.endpoint.map { $0.dropFirst(2) } ?? "0", radix: 16)!
            if endpoint == 0 {
                _ = run(device, .control(USBSetupPacket(bytes: bytes(transfer.setup!))!))
            } else if endpoint & 0x80 != 0 {
                _ = run(device, USBTransferRequest(type: .bulk, endpoint: endpoint, length: 512))
            } else {
                _ = run(device, USBTransferRequest(type: .bulk, endpoint: endpoint, data: bytes(transfer.out!)))
            }
        }
        wait(for: [disconnected], timeout: 5)
        XCTAssertEqual(device.unusedTransfers, 0)
        XCTAssertEqual(run(device, USBTransferRequest(type: .bulk, endpoint: 0x81, length: 512))?.status, .noDevice)
        XCTAssertThrowsError(try device.setConfiguration(1)) { XCTAssertEqual($0 as? HostUSBError, .noDevice) }
    }

    func testPendingTransferEndsWithNoDeviceAtUnplug() throws {
        let device = try open("flash-drive")
        let completions = Completions()
        // Nothing recorded for endpoint 0x83: it waits, until the unplug ends it.
        let waiting = device.submit(USBTransferRequest(type: .interrupt, endpoint: 0x83, length: 8), completion: completions.handler)
        let recording = try Recordings.usb("flash-drive")
        for transfer in recording.transfers where transfer.unplug != true {
            let endpoint = UInt8(transfer.endpoint.map { $0.dropFirst(2) } ?? "0", radix: 16)!
            if endpoint == 0 {
                _ = run(device, .control(USBSetupPacket(bytes: bytes(transfer.setup!))!))
            } else if endpoint & 0x80 != 0 {
                _ = run(device, USBTransferRequest(type: .bulk, endpoint: endpoint, length: 512))
            } else {
                _ = run(device, USBTransferRequest(type: .bulk, endpoint: endpoint, data: bytes(transfer.out!)))
            }
        }
        device.drain()
        XCTAssertEqual(completions[waiting]?.status, .noDevice)
    }

    // MARK: Recordings

    func testBadHexInARecordingIsReported() throws {
        var recording = try Recordings.usb("keyboard")
        recording.transfers[1].in = "00 zz"
        XCTAssertThrowsError(try ReplayUSBDevice(recording)) { error in
            XCTAssertEqual("\(error)", "USB recording: transfer 1: in is not hex: 00 zz")
        }
    }

    func testSetupAndSelectorsRoundTrip() {
        let setup = USBSetupPacket.getDescriptor(type: USBDescriptorType.configuration, index: 1, length: 9)
        XCTAssertEqual(USBSetupPacket(bytes: setup.bytes), setup)
        XCTAssertEqual(setup.bytes, [0x80, 0x06, 0x01, 0x02, 0x00, 0x00, 0x09, 0x00])
        XCTAssertEqual(HostUSBSelector("046d:c31c"), .ids(vendor: 0x046d, product: 0xc31c))
        XCTAssertEqual(HostUSBSelector("1-1.3"), .location(bus: 1, ports: [1, 3]))
        XCTAssertNil(HostUSBSelector("1-0"))
        XCTAssertNil(HostUSBSelector("46d:c31c"))
    }
}

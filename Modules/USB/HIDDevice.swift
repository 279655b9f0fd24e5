import Memory
import Foundation
import IRQ

/// HID class constants (Device Class Definition for HID 1.11).
public enum HID {
    public static let interfaceClass: UInt8 = 3
    /// Boot interface subclass (§4.2).
    public static let bootSubclass: UInt8 = 1
    public static let keyboardProtocol: UInt8 = 1
    public static let mouseProtocol: UInt8 = 2

    /// Class requests (§7.2).
    public enum Request {
        public static let getReport: UInt8 = 0x01
        public static let getIdle: UInt8 = 0x02
        public static let getProtocol: UInt8 = 0x03
        public static let setReport: UInt8 = 0x09
        public static let setIdle: UInt8 = 0x0a
        public static let setProtocol: UInt8 = 0x0b
    }

    /// The HID descriptor (§6.2.1) announcing one report descriptor of `reportLength` bytes.
    static func descriptor(reportLength: Int) -> [UInt8] {
        [9, USBDescriptorType.hid, 0x11, 0x01, 0, 1, USBDescriptorType.hidReport] + le16(UInt16(reportLength))
    }
}

/// What the keyboard and the tablet share: the HID interface's class requests, the report
/// descriptor, and a queue of reports fed by the input script and delivered one per interrupt
/// IN packet. A packet with no report to give stays pending (the host sees NAKs) until one is
/// due, which is what makes it an asynchronous endpoint.
public class HIDDevice: USBDevice {
    public let speeds: Set<USBSpeed> = [.full]
    public let descriptors: USBDescriptorSet
    let reportDescriptor: [UInt8]
    /// Reports and pauses not yet delivered.
    enum Item { case report([UInt8]), wait(UInt64) }
    var queue: [Item] = []
    private var queueIndex = 0
    /// When the pause at the head of the queue ends, in machine nanoseconds.
    private var waitUntil: UInt64?
    /// The machine's clock (virtual or host) that scripted pauses count in; nil: the host's
    /// monotonic clock (a device built alone, in tests).
    public var timebase: Timebase?

    /// Nanoseconds until a scripted pause that has started ends (0: due); nil when none runs.
    /// The machine waits no longer than this while the guest idles.
    public var nanosecondsUntilDue: UInt64? {
        guard let waitUntil else { return nil }
        let now = machineNanoseconds()
        return waitUntil > now ? waitUntil - now : 0
    }

    private func machineNanoseconds() -> UInt64 { timebase?.nanoseconds() ?? DispatchTime.now().uptimeNanoseconds }
    private var pending: USBPacket?
    private var configured = false
    private var idleRate: UInt8 = 0
    private var bootProtocol = false
    /// The last report, for GET_REPORT.
    var lastReport: [UInt8]

    init(descriptors: USBDescriptorSet, reportDescriptor: [UInt8], idleReport: [UInt8]) {
        self.descriptors = descriptors
        self.reportDescriptor = reportDescriptor
        lastReport = idleReport
    }

    /// One endpoint: interrupt IN 0x81, 8 bytes, every 10 ms.
    static func configuration(protocol: UInt8, reportLength: Int) -> USBConfigurationDescriptor {
        USBConfigurationDescriptor(attributes: 0xa0, maxPower: 50, interfaces: [
            USBInterfaceDescriptor(number: 0, interfaceClass: HID.interfaceClass, interfaceSubClass: HID.bootSubclass,
                                   interfaceProtocol: `protocol`, classDescriptors: HID.descriptor(reportLength: reportLength),
                                   endpoints: [USBEndpointDescriptor(address: 0x81, type: .interrupt, maxPacketSize: 8, interval: 10)]),
        ])
    }

    /// Reports still to be delivered.
    public var queuedReports: Int { queue[queueIndex...].filter { if case .report = $0 { return true } else { return false } }.count }

    func enqueue(_ items: [Item]) {
        queue += items
        deliver()
    }

    public func handleControl(_ packet: USBPacket) {
        guard let setup = packet.setup else { return packet.complete(.stall) }
        switch (setup.kind, setup.request) {
        case (.standard, USBRequest.getDescriptor) where setup.recipient == .interface:
            switch UInt8(setup.value >> 8) {
            case USBDescriptorType.hidReport: packet.complete(with: reportDescriptor)
            case USBDescriptorType.hid: packet.complete(with: HID.descriptor(reportLength: reportDescriptor.count))
            default: packet.complete(.stall)
            }
        case (.class, HID.Request.getReport):
            packet.complete(with: lastReport)
        case (.class, HID.Request.setReport):
            // Output report: keyboard LEDs. Accepted and ignored.
            packet.complete()
        case (.class, HID.Request.getIdle):
            packet.complete(with: [idleRate])
        case (.class, HID.Request.setIdle):
            idleRate = UInt8(setup.value >> 8)
            packet.complete()
        case (.class, HID.Request.getProtocol):
            packet.complete(with: [bootProtocol ? 0 : 1])
        case (.class, HID.Request.setProtocol):
            bootProtocol = setup.value == 0
            packet.complete()
        default:
            packet.complete(.stall)
        }
    }

    public func handleData(_ packet: USBPacket) {
        guard packet.endpoint == 0x81 else { return packet.complete(.stall) }
        pending = packet
        deliver()
    }

    public func cancel(_ packet: USBPacket) {
        if pending === packet { pending = nil }
    }

    public func reset() {
        pending = nil
        configured = false
    }

    public func configurationChanged(_ value: UInt8) {
        // The script starts when the host has configured the device.
        configured = value != 0
    }

    public func poll() { deliver() }

    /// Completes the pending packet with the next report if one is due.
    private func deliver() {
        guard configured else { return }
        while let packet = pending, queueIndex < queue.count {
            switch queue[queueIndex] {
            case .wait(let nanoseconds):
                // The pause starts when the queue reaches it.
                let now = machineNanoseconds()
                if waitUntil == nil {
                    waitUntil = now + nanoseconds
                    // Reached from a guest transfer, usually: the pause ends at its instruction.
                    timebase?.deadlineArmed(inNanoseconds: nanoseconds)
                }
                if now < waitUntil! { return }
                waitUntil = nil
                queueIndex += 1
            case .report(let report):
                queueIndex += 1
                lastReport = report
                pending = nil
                packet.complete(with: report)
            }
        }
    }
}

/// A USB boot keyboard (HID 1.11 Appendix B.1): 8-byte reports of modifiers and up to six keys.
public final class USBKeyboard: HIDDevice {
    /// The boot keyboard report descriptor (HID 1.11 Appendix E.6).
    static let report: [UInt8] = [
        0x05, 0x01, 0x09, 0x06, 0xa1, 0x01, 0x05, 0x07, 0x19, 0xe0, 0x29, 0xe7, 0x15, 0x00, 0x25, 0x01,
        0x75, 0x01, 0x95, 0x08, 0x81, 0x02, 0x95, 0x01, 0x75, 0x08, 0x81, 0x01, 0x95, 0x05, 0x75, 0x01,
        0x05, 0x08, 0x19, 0x01, 0x29, 0x05, 0x91, 0x02, 0x95, 0x01, 0x75, 0x03, 0x91, 0x01, 0x95, 0x06,
        0x75, 0x08, 0x15, 0x00, 0x25, 0x65, 0x05, 0x07, 0x19, 0x00, 0x29, 0x65, 0x81, 0x00, 0xc0,
    ]

    public static let vendorID: UInt16 = 0x1209
    public static let productID: UInt16 = 0x0001
    public static let productName = "Backplane USB Keyboard"

    public init(script: HIDInputScript = HIDInputScript(commands: [])) {
        let descriptors = USBDescriptorSet(
            device: USBDeviceDescriptor(maxPacketSize0: 8, vendorID: USBKeyboard.vendorID, productID: USBKeyboard.productID,
                                        manufacturerString: 1, productString: 2, serialNumberString: 3),
            configurations: [HIDDevice.configuration(protocol: HID.keyboardProtocol, reportLength: USBKeyboard.report.count)],
            strings: ["Backplane", USBKeyboard.productName, "KBD0001"], speeds: [.full])
        super.init(descriptors: descriptors, reportDescriptor: USBKeyboard.report, idleReport: [UInt8](repeating: 0, count: 8))
        var items: [Item] = []
        for command in script.commands {
            switch command {
            case let .key(modifiers, usage):
                // Press, then release: two reports per key (HID 1.11 Appendix C).
                items.append(.report([modifiers, 0, usage, 0, 0, 0, 0, 0]))
                items.append(.report([UInt8](repeating: 0, count: 8)))
            case let .wait(milliseconds):
                items.append(.wait(UInt64(milliseconds) * 1_000_000))
            case .move, .click:
                continue
            }
        }
        queue = items
    }

    /// Queues the press and release of a key (for the monitor or tests).
    public func press(usage: UInt8, modifiers: UInt8 = 0) {
        enqueue([.report([modifiers, 0, usage, 0, 0, 0, 0, 0]), .report([UInt8](repeating: 0, count: 8))])
    }
}

/// An absolute pointing device (QEMU's usb-tablet report layout): 6-byte reports of buttons,
/// X and Y in 0...32767 and a wheel.
public final class USBTablet: HIDDevice {
    static let report: [UInt8] = [
        0x05, 0x01, 0x09, 0x02, 0xa1, 0x01, 0x09, 0x01, 0xa1, 0x00, 0x05, 0x09, 0x19, 0x01, 0x29, 0x03,
        0x15, 0x00, 0x25, 0x01, 0x95, 0x03, 0x75, 0x01, 0x81, 0x02, 0x95, 0x01, 0x75, 0x05, 0x81, 0x01,
        0x05, 0x01, 0x09, 0x30, 0x09, 0x31, 0x15, 0x00, 0x26, 0xff, 0x7f, 0x35, 0x00, 0x46, 0xff, 0x7f,
        0x75, 0x10, 0x95, 0x02, 0x81, 0x02, 0x05, 0x01, 0x09, 0x38, 0x15, 0x81, 0x25, 0x7f, 0x35, 0x00,
        0x45, 0x00, 0x75, 0x08, 0x95, 0x01, 0x81, 0x06, 0xc0, 0xc0,
    ]

    public static let vendorID: UInt16 = 0x1209
    public static let productID: UInt16 = 0x0002
    public static let productName = "Backplane USB Tablet"

    public init(script: HIDInputScript = HIDInputScript(commands: [])) {
        let descriptors = USBDescriptorSet(
            device: USBDeviceDescriptor(maxPacketSize0: 8, vendorID: USBTablet.vendorID, productID: USBTablet.productID,
                                        manufacturerString: 1, productString: 2, serialNumberString: 3),
            configurations: [HIDDevice.configuration(protocol: 0, reportLength: USBTablet.report.count)],
            strings: ["Backplane", USBTablet.productName, "TAB0001"], speeds: [.full])
        super.init(descriptors: descriptors, reportDescriptor: USBTablet.report, idleReport: [0, 0, 0, 0, 0, 0])
        var x: UInt16 = 0
        var y: UInt16 = 0
        var items: [Item] = []
        func report(_ buttons: UInt8) -> [UInt8] {
            [buttons, UInt8(x & 0xff), UInt8(x >> 8), UInt8(y & 0xff), UInt8(y >> 8), 0]
        }
        for command in script.commands {
            switch command {
            case let .move(newX, newY):
                x = newX
                y = newY
                items.append(.report(report(0)))
            case let .click(buttons):
                items.append(.report(report(buttons)))
                items.append(.report(report(0)))
            case let .wait(milliseconds):
                items.append(.wait(UInt64(milliseconds) * 1_000_000))
            case .key:
                continue
            }
        }
        queue = items
    }
}

/// Snapshots: where the input script is, the time left in a pause, the class-request state
/// and the last report. The pending packet is the controller's to hand over again.
extension HIDDevice: USBDeviceSnapshot {
    public func saveDevice(to state: inout DeviceStateWriter) {
        state.put(queueIndex)
        let now = machineNanoseconds()
        state.put(waitUntil != nil)
        state.put(waitUntil.map { $0 > now ? $0 - now : 0 } ?? 0)
        state.put(configured)
        state.put(idleRate)
        state.put(bootProtocol)
        state.put(lastReport)
    }

    public func restoreDevice(from state: inout DeviceStateReader) throws(DeviceStateError) {
        let index = try state.int(in: 0...queue.count, "HID input script position")
        let waiting = try state.bool()
        let remaining = try state.uint64()
        let flags = (try state.bool(), try state.uint8("idle rate"), try state.bool())
        let report = try state.data()
        queueIndex = index
        waitUntil = waiting ? machineNanoseconds() + remaining : nil
        (configured, idleRate, bootProtocol) = flags
        lastReport = report
        pending = nil
    }
}

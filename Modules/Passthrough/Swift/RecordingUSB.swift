import Foundation
import USB

/// A `HostUSBDevice` that forwards everything to a real one (libusb) and records what the device
/// answered, in the replay format (`USBRecording`, docs/passthrough.md): descriptors, then every
/// completed transfer with its setup packet, OUT data, IN data and status, in completion order.
/// Written when the device is closed (at exit). This is how the recordings in
/// Tests/PassthroughTests/Recordings/usb are captured from real devices: set
/// `BACKPLANE_USB_RECORD=FOLDER` and run a board with `usb.host` devices; each device is written
/// to `FOLDER/VVVV-PPPP.json`.
///
/// Transfers still in flight at close (an interrupt IN waiting for a key press) and cancelled
/// ones are not recorded: replayed, they stay pending, which is what they were.
public final class RecordingUSBDevice: HostUSBDevice, @unchecked Sendable {
    private let inner: any HostUSBDevice
    private let path: String
    /// Read at open: the device may not answer once closed.
    private let configurations: [String]
    private let lock = NSLock()
    private var transfers: [USBRecording.Transfer] = []
    private var written = false

    /// The environment variable naming the folder recordings go to.
    public static let environmentVariable = "BACKPLANE_USB_RECORD"

    public init(_ inner: any HostUSBDevice, folder: String) {
        self.inner = inner
        let info = inner.info
        path = "\(folder)/\(hex(UInt64(info.vendorID), digits: 4))-\(hex(UInt64(info.productID), digits: 4)).json"
        configurations = (0..<Int(inner.deviceDescriptor.configurationCount)).compactMap { index in
            (try? inner.configuration(index: index)).map { USBRecording.text($0.bytes) }
        }
    }

    public var info: HostUSBDeviceInfo { inner.info }
    public var deviceDescriptor: USBDeviceDescriptor { inner.deviceDescriptor }
    public func configuration(index: Int) throws(HostUSBError) -> USBConfigurationDescriptor { try inner.configuration(index: index) }
    public func setConfiguration(_ value: UInt8) throws(HostUSBError) { try inner.setConfiguration(value) }
    public func setAlternateSetting(interface: UInt8, alternate: UInt8) throws(HostUSBError) {
        try inner.setAlternateSetting(interface: interface, alternate: alternate)
    }
    public func clearHalt(endpoint: UInt8) throws(HostUSBError) { try inner.clearHalt(endpoint: endpoint) }
    public func cancel(_ id: UInt64) { inner.cancel(id) }
    public var onDisconnect: (@Sendable () -> Void)? {
        get { inner.onDisconnect }
        set {
            let next = newValue
            inner.onDisconnect = { [weak self] in
                self?.append(USBRecording.Transfer(unplug: true))
                next?()
            }
        }
    }

    @discardableResult
    public func submit(_ request: USBTransferRequest, completion: @escaping USBCompletionHandler) -> UInt64 {
        inner.submit(request) { [weak self] done in
            self?.record(request, done)
            completion(done)
        }
    }

    public func close() {
        inner.close()
        write()
    }

    private func append(_ transfer: USBRecording.Transfer) {
        lock.lock()
        transfers.append(transfer)
        lock.unlock()
    }

    private func record(_ request: USBTransferRequest, _ done: USBTransferCompletion) {
        let status: String?
        switch done.status {
        case .completed: status = nil
        case .cancelled: return
        case .stall: status = "stall"
        case .timeout: status = "timeout"
        case .overflow: status = "overflow"
        case .noDevice: status = "no-device"
        case .error: status = "error"
        }
        var transfer = USBRecording.Transfer()
        switch request.type {
        case .control:
            if let setup = request.setup {
                let raw: [UInt8] = [setup.requestType, setup.request, UInt8(setup.value & 0xff), UInt8(setup.value >> 8),
                                    UInt8(setup.index & 0xff), UInt8(setup.index >> 8), UInt8(setup.length & 0xff), UInt8(setup.length >> 8)]
                transfer.setup = USBRecording.text(raw)
            }
        case .bulk: transfer.type = "bulk"
        case .interrupt: transfer.type = "interrupt"
        case .isochronous: transfer.type = "isochronous"
        }
        if request.type != .control { transfer.endpoint = "0x" + hex(UInt64(request.endpoint), digits: 2) }
        if request.isIn {
            if request.type == .isochronous {
                transfer.packets = done.isochronousPackets.map { packet in
                    USBRecording.Transfer.Packet(in: USBRecording.text(packet.data), status: packet.status == .completed ? nil : "error")
                }
            } else if status == nil {
                transfer.in = USBRecording.text(Array(done.data.prefix(done.actualLength)))
            }
        } else if !request.data.isEmpty {
            transfer.out = USBRecording.text(request.data)
        }
        transfer.status = status
        append(transfer)
    }

    /// String descriptor `index` as the device answered it during the recording (UTF-16LE after
    /// the 2-byte header, USB 2.0 §9.6.7); nil if it was not asked for.
    private func recordedString(index: UInt8) -> String? {
        guard index != 0 else { return nil }
        let prefix = "80 06 " + hex(UInt64(index), digits: 2) + " 03"
        guard let answer = transfers.first(where: { $0.setup?.hasPrefix(prefix) == true && $0.in != nil })?.in,
              let bytes = USBRecording.bytes(answer), bytes.count >= 2 else { return nil }
        let units = stride(from: 2, to: bytes.count - 1, by: 2).map { UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8 }
        return String(decoding: units, as: UTF16.self)
    }

    /// Writes the recording once (close may be called again at exit).
    private func write() {
        lock.lock()
        defer { lock.unlock() }
        guard !written else { return }
        written = true
        let info = inner.info
        let product = info.product ?? recordedString(index: inner.deviceDescriptor.productIndex)
        let recording = USBRecording(
            description: "\(hex(UInt64(info.vendorID), digits: 4)):\(hex(UInt64(info.productID), digits: 4)) \(product ?? "(no product string)"): captured by RecordingUSBDevice (usb.host over libusb) from what a guest driver exchanged with the device",
            bus: info.bus, ports: info.ports, address: info.address, speed: info.speed, product: product,
            device: USBRecording.text(inner.deviceDescriptor.bytes), configurations: configurations, transfers: transfers)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(recording) else { return }
        // Written in place (never a rename over an existing file).
        guard let handle = FileHandle(forWritingAtPath: path) ?? {
            FileManager.default.createFile(atPath: path, contents: nil)
            return FileHandle(forWritingAtPath: path)
        }() else { return }
        try? handle.truncate(atOffset: 0)
        try? handle.write(contentsOf: data + Data("\n".utf8))
        try? handle.close()
    }
}

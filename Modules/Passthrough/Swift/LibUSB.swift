#if canImport(Glibc)
import Glibc
#endif
import CLibUSB
import Foundation

/// The only file that calls libusb (libusb-1.0 API reference): enumeration, opening with clear
/// not-found and permission errors, descriptors, asynchronous transfers completed on one event
/// thread, and hot-unplug through libusb's hotplug callbacks.
public final class LibUSBBackend: HostUSBBackend, @unchecked Sendable {
    public let name = "libusb"
    let context: OpaquePointer
    /// Where sysfs lists USB devices and interfaces (drivers bound); a parameter for tests.
    let sysfsPath: String
    private let lock = NSLock()
    private var eventThread: Thread?
    private var stopping = false
    private var openDevices = 0

    /// Initialises a libusb context (libusb_init). Works on a host without USB: the list is
    /// then empty.
    public init(sysfsPath: String = "/sys/bus/usb/devices") throws(HostUSBError) {
        var context: OpaquePointer?
        let result = libusb_init(&context)
        guard result == 0, let context else { throw LibUSBBackend.error(Int32(result), "libusb_init") }
        self.context = context
        self.sysfsPath = sysfsPath
    }

    deinit {
        stopEvents()
        libusb_exit(context)
    }

    /// "libusb_open: LIBUSB_ERROR_ACCESS (Access denied (insufficient permissions))".
    static func error(_ code: Int32, _ call: String) -> HostUSBError {
        if code == LIBUSB_ERROR_NO_DEVICE.rawValue { return .noDevice }
        return .backend("\(call): \(String(cString: libusb_error_name(code))) (\(String(cString: libusb_strerror(code))))")
    }

    static func speed(_ value: Int32) -> USBSpeed {
        switch value {
        case Int32(LIBUSB_SPEED_LOW.rawValue): return .low
        case Int32(LIBUSB_SPEED_FULL.rawValue): return .full
        case Int32(LIBUSB_SPEED_HIGH.rawValue): return .high
        case Int32(LIBUSB_SPEED_SUPER.rawValue): return .super
        case Int32(LIBUSB_SPEED_SUPER_PLUS.rawValue): return .superPlus
        default: return .unknown
        }
    }

    /// Drivers bound to the interfaces of the device at `location` ("1-2.3:1.0/driver").
    func drivers(location: String) -> [String] {
        directoryEntries(sysfsPath).filter { $0.hasPrefix(location + ":") }.sorted()
            .compactMap { linkName("\(sysfsPath)/\($0)/driver") }
    }

    /// Every device, with product strings where the device could be opened.
    public func devices() throws(HostUSBError) -> [HostUSBDeviceInfo] {
        try withDeviceList { list throws(HostUSBError) in
            list.map { device in
                var info = describe(device)
                var handle: OpaquePointer?
                let opened = libusb_open(device, &handle)
                if opened == 0, let handle {
                    var descriptor = libusb_device_descriptor()
                    if libusb_get_device_descriptor(device, &descriptor) == 0, descriptor.iProduct != 0 {
                        var buffer = [UInt8](repeating: 0, count: 256)
                        let count = libusb_get_string_descriptor_ascii(handle, descriptor.iProduct, &buffer, Int32(buffer.count))
                        if count > 0 { info.product = String(decoding: buffer[0..<Int(count)], as: UTF8.self) }
                    }
                    libusb_close(handle)
                    if info.deviceClass == 9 { info.problem = "a hub: Backplane forwards devices, not hubs" }
                } else if opened == LIBUSB_ERROR_ACCESS.rawValue {
                    info.problem = "permission denied on \(info.deviceNode); udev rule: "
                        + HostUSBError.udevRule(vendor: info.vendorID, product: info.productID)
                } else {
                    info.problem = LibUSBBackend.error(opened, "libusb_open").description
                }
                return info
            }
        }
    }

    private func describe(_ device: OpaquePointer) -> HostUSBDeviceInfo {
        var descriptor = libusb_device_descriptor()
        _ = libusb_get_device_descriptor(device, &descriptor)
        var ports = [UInt8](repeating: 0, count: 7)
        let count = libusb_get_port_numbers(device, &ports, Int32(ports.count))
        var info = HostUSBDeviceInfo(bus: libusb_get_bus_number(device), ports: Array(ports.prefix(max(0, Int(count)))),
                                     address: libusb_get_device_address(device), vendorID: descriptor.idVendor,
                                     productID: descriptor.idProduct, deviceClass: descriptor.bDeviceClass,
                                     speed: LibUSBBackend.speed(libusb_get_device_speed(device)))
        info.drivers = drivers(location: info.location)
        return info
    }

    private func withDeviceList<T>(_ body: ([OpaquePointer]) throws(HostUSBError) -> T) throws(HostUSBError) -> T {
        var list: UnsafeMutablePointer<OpaquePointer?>?
        let count = libusb_get_device_list(context, &list)
        guard count >= 0, let list else { throw LibUSBBackend.error(Int32(count), "libusb_get_device_list") }
        defer { libusb_free_device_list(list, 1) }
        return try body((0..<Int(count)).compactMap { list[$0] })
    }

    public func open(_ selector: HostUSBSelector, options: HostUSBOpenOptions) throws(HostUSBError) -> any HostUSBDevice {
        let device = try withDeviceList { list throws(HostUSBError) -> LibUSBDevice in
            guard let match = list.first(where: { selector.matches(describe($0)) }) else {
                throw .notFound(selector, present: list.count)
            }
            let info = describe(match)
            var handle: OpaquePointer?
            let opened = libusb_open(match, &handle)
            guard opened == 0, let handle else {
                if opened == LIBUSB_ERROR_ACCESS.rawValue {
                    throw .permissionDenied(node: info.deviceNode, rule: HostUSBError.udevRule(vendor: info.vendorID, product: info.productID))
                }
                throw LibUSBBackend.error(opened, "libusb_open")
            }
            do throws(HostUSBError) { return try LibUSBDevice(backend: self, device: match, handle: handle, info: info, options: options) } catch {
                libusb_close(handle)
                throw error
            }
        }
        startEvents()
        // Capturing a real device's exchange for the replay backend (RecordingUSB.swift).
        if let folder = ProcessInfo.processInfo.environment[RecordingUSBDevice.environmentVariable], !folder.isEmpty {
            return RecordingUSBDevice(device, folder: folder)
        }
        return device
    }

    // MARK: Event thread

    /// One thread runs libusb's event handling while devices are open: transfer callbacks
    /// and hotplug notifications run there.
    private func startEvents() {
        lock.lock(); defer { lock.unlock() }
        openDevices += 1
        guard eventThread == nil else { return }
        stopping = false
        let thread = Thread { [self] in
            var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
            while !self.isStopping { libusb_handle_events_timeout_completed(self.context, &timeout, nil) }
        }
        thread.name = "backplane.usb.libusb"
        eventThread = thread
        thread.start()
    }

    private var isStopping: Bool { lock.lock(); defer { lock.unlock() }; return stopping }

    func deviceClosed() {
        lock.lock()
        openDevices -= 1
        let last = openDevices == 0
        lock.unlock()
        if last { stopEvents() }
    }

    private func stopEvents() {
        lock.lock()
        let thread = eventThread
        stopping = true
        eventThread = nil
        lock.unlock()
        // The loop wakes at least every 100 ms; wait for it so libusb_exit never races it.
        while let thread, !thread.isFinished { usleep(1000) }
    }
}

/// A device opened through libusb.
final class LibUSBDevice: HostUSBDevice, @unchecked Sendable {
    let info: HostUSBDeviceInfo
    let deviceDescriptor: USBDeviceDescriptor
    /// Strong: the backend (its context and event thread) must outlive every device it opened.
    private let backend: LibUSBBackend
    private let device: OpaquePointer
    private let handle: OpaquePointer
    private let options: HostUSBOpenOptions
    private let lock = NSLock()
    private var inFlight: [UInt64: UnsafeMutablePointer<libusb_transfer>] = [:]
    private var nextID: UInt64 = 1
    private var claimed: [UInt8] = []
    private var disconnectHandler: (@Sendable () -> Void)?
    private var hotplugHandle: libusb_hotplug_callback_handle = 0
    private var closed = false

    init(backend: LibUSBBackend, device: OpaquePointer, handle: OpaquePointer, info: HostUSBDeviceInfo,
         options: HostUSBOpenOptions) throws(HostUSBError) {
        self.backend = backend
        self.device = device
        self.handle = handle
        self.info = info
        self.options = options
        var raw = [UInt8](repeating: 0, count: 18)
        let count = libusb_control_transfer(handle, 0x80, USBSetupPacket.getDescriptor, UInt16(USBDescriptorType.device) << 8, 0,
                                            &raw, 18, 1000)
        guard count == 18, let descriptor = USBDeviceDescriptor(bytes: raw) else {
            throw LibUSBBackend.error(count < 0 ? count : Int32(LIBUSB_ERROR_IO.rawValue), "GET_DESCRIPTOR(DEVICE)")
        }
        deviceDescriptor = descriptor
        libusb_ref_device(device)
        // Detach on claim, reattach on release (libusb_set_auto_detach_kernel_driver).
        if options.detachKernelDriver { _ = libusb_set_auto_detach_kernel_driver(handle, 1) }
        if libusb_has_capability(UInt32(LIBUSB_CAP_HAS_HOTPLUG.rawValue)) != 0 {
            let callback: libusb_hotplug_callback_fn = { _, leaving, _, userData in
                guard let userData else { return 1 }
                let me = Unmanaged<LibUSBDevice>.fromOpaque(userData).takeUnretainedValue()
                guard leaving == me.device else { return 0 }
                me.lock.lock()
                let handler = me.disconnectHandler
                me.lock.unlock()
                handler?()
                return 1  // deregister: the device will not come back as this handle
            }
            _ = libusb_hotplug_register_callback(backend.context, Int32(LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT.rawValue), 0,
                                                 Int32(info.vendorID), Int32(info.productID), LIBUSB_HOTPLUG_MATCH_ANY,
                                                 callback, Unmanaged.passUnretained(self).toOpaque(), &hotplugHandle)
        }
    }

    func configuration(index: Int) throws(HostUSBError) -> USBConfigurationDescriptor {
        func get(_ length: Int) throws(HostUSBError) -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: length)
            let count = libusb_control_transfer(handle, 0x80, USBSetupPacket.getDescriptor,
                                                UInt16(USBDescriptorType.configuration) << 8 | UInt16(index), 0,
                                                &bytes, UInt16(length), 1000)
            guard count >= 0 else { throw LibUSBBackend.error(count, "GET_DESCRIPTOR(CONFIGURATION \(index))") }
            return Array(bytes.prefix(Int(count)))
        }
        let header = try get(9)
        guard header.count == 9 else { throw .backend("configuration \(index): short header (\(header.count) bytes)") }
        let all = try get(Int(header[2]) | Int(header[3]) << 8)
        guard let configuration = USBConfigurationDescriptor(bytes: all) else {
            throw .backend("configuration \(index): inconsistent descriptor set")
        }
        return configuration
    }

    func setConfiguration(_ value: UInt8) throws(HostUSBError) {
        releaseInterfaces()
        let result = libusb_set_configuration(handle, Int32(value))
        guard result == 0 else { throw LibUSBBackend.error(result, "libusb_set_configuration(\(value))") }
        guard value != 0 else { return }
        var configurations: [USBConfigurationDescriptor] = []
        for index in 0..<Int(deviceDescriptor.configurationCount) { configurations.append(try configuration(index: index)) }
        let interfaces = Set(configurations.first { $0.configurationValue == value }?.interfaces.map(\.number) ?? [])
        for number in interfaces.sorted() {
            let claim = libusb_claim_interface(handle, Int32(number))
            if claim == LIBUSB_ERROR_BUSY.rawValue {
                let driver = backend.drivers(location: info.location).first ?? "another program"
                throw .busy(interface: number, reason: "held by '\(driver)'" + (options.detachKernelDriver ? "" : "; set 'detach-driver: true' to detach the host driver"))
            }
            guard claim == 0 else { throw LibUSBBackend.error(claim, "libusb_claim_interface(\(number))") }
            lock.lock(); claimed.append(number); lock.unlock()
        }
    }

    func setAlternateSetting(interface: UInt8, alternate: UInt8) throws(HostUSBError) {
        let result = libusb_set_interface_alt_setting(handle, Int32(interface), Int32(alternate))
        guard result == 0 else { throw LibUSBBackend.error(result, "libusb_set_interface_alt_setting(\(interface), \(alternate))") }
    }

    func clearHalt(endpoint: UInt8) throws(HostUSBError) {
        let result = libusb_clear_halt(handle, endpoint)
        guard result == 0 else { throw LibUSBBackend.error(result, "libusb_clear_halt(0x\(hex(UInt64(endpoint), digits: 2)))") }
    }

    var onDisconnect: (@Sendable () -> Void)? {
        get { lock.lock(); defer { lock.unlock() }; return disconnectHandler }
        set { lock.lock(); disconnectHandler = newValue; lock.unlock() }
    }

    /// What a libusb transfer carries back to Swift (its user_data).
    private final class Context {
        let id: UInt64
        let request: USBTransferRequest
        let completion: USBCompletionHandler
        let device: LibUSBDevice
        init(id: UInt64, request: USBTransferRequest, completion: @escaping USBCompletionHandler, device: LibUSBDevice) {
            self.id = id
            self.request = request
            self.completion = completion
            self.device = device
        }
    }

    @discardableResult
    func submit(_ request: USBTransferRequest, completion: @escaping USBCompletionHandler) -> UInt64 {
        lock.lock()
        let id = nextID
        nextID += 1
        lock.unlock()
        let packets = request.type == .isochronous ? request.isochronousPackets.count : 0
        guard let transfer = libusb_alloc_transfer(Int32(packets)) else {
            DispatchQueue.global().async { completion(USBTransferCompletion(id: id, status: .error("libusb_alloc_transfer failed"))) }
            return id
        }
        let setupBytes = request.type == .control ? 8 : 0
        let dataLength = request.isIn ? request.length : request.data.count
        let buffer = malloc(max(1, setupBytes + dataLength))!.assumingMemoryBound(to: UInt8.self)
        if let setup = request.setup { for (index, byte) in setup.bytes.enumerated() { buffer[index] = byte } }
        if !request.isIn { for (index, byte) in request.data.enumerated() { buffer[setupBytes + index] = byte } }
        let typeCode: UInt8
        switch request.type {
        case .control: typeCode = UInt8(LIBUSB_TRANSFER_TYPE_CONTROL.rawValue)
        case .isochronous: typeCode = UInt8(LIBUSB_TRANSFER_TYPE_ISOCHRONOUS.rawValue)
        case .bulk: typeCode = UInt8(LIBUSB_TRANSFER_TYPE_BULK.rawValue)
        case .interrupt: typeCode = UInt8(LIBUSB_TRANSFER_TYPE_INTERRUPT.rawValue)
        }
        transfer.pointee.dev_handle = handle
        transfer.pointee.endpoint = request.endpoint
        transfer.pointee.type = typeCode
        transfer.pointee.timeout = 0
        transfer.pointee.buffer = buffer
        transfer.pointee.length = Int32(setupBytes + dataLength)
        transfer.pointee.flags = UInt8(LIBUSB_TRANSFER_FREE_BUFFER.rawValue)
        transfer.pointee.num_iso_packets = Int32(packets)
        for (index, length) in request.isochronousPackets.enumerated() where packets > 0 {
            bp_usb_iso_packet(transfer, Int32(index)).pointee.length = UInt32(length)
        }
        transfer.pointee.user_data = Unmanaged.passRetained(Context(id: id, request: request, completion: completion, device: self)).toOpaque()
        transfer.pointee.callback = { transfer in
            guard let transfer, let userData = transfer.pointee.user_data else { return }
            let context = Unmanaged<Context>.fromOpaque(userData).takeRetainedValue()
            context.device.finish(transfer, context)
        }
        lock.lock()
        inFlight[id] = transfer
        lock.unlock()
        let result = libusb_submit_transfer(transfer)
        if result != 0 {
            lock.lock(); inFlight[id] = nil; lock.unlock()
            Unmanaged<Context>.fromOpaque(transfer.pointee.user_data!).release()
            libusb_free_transfer(transfer)
            let status: USBTransferStatus = result == LIBUSB_ERROR_NO_DEVICE.rawValue ? .noDevice
                : result == LIBUSB_ERROR_PIPE.rawValue ? .stall : .error(LibUSBBackend.error(result, "libusb_submit_transfer").description)
            DispatchQueue.global().async { completion(USBTransferCompletion(id: id, status: status)) }
        }
        return id
    }

    /// On the event thread: turn a finished libusb transfer into a completion.
    private func finish(_ transfer: UnsafeMutablePointer<libusb_transfer>, _ context: Context) {
        lock.lock(); inFlight[context.id] = nil; lock.unlock()
        let status: USBTransferStatus
        switch transfer.pointee.status {
        case LIBUSB_TRANSFER_COMPLETED: status = .completed
        case LIBUSB_TRANSFER_STALL: status = .stall
        case LIBUSB_TRANSFER_TIMED_OUT: status = .timeout
        case LIBUSB_TRANSFER_CANCELLED: status = .cancelled
        case LIBUSB_TRANSFER_NO_DEVICE: status = .noDevice
        case LIBUSB_TRANSFER_OVERFLOW: status = .overflow
        default: status = .error("libusb transfer error")
        }
        let request = context.request
        let setupBytes = request.type == .control ? 8 : 0
        let actual = Int(transfer.pointee.actual_length)
        var completion = USBTransferCompletion(id: context.id, status: status, actualLength: actual)
        if request.type == .isochronous {
            var offset = 0
            for index in 0..<Int(transfer.pointee.num_iso_packets) {
                let packet = bp_usb_iso_packet(transfer, Int32(index)).pointee
                let data = request.isIn ? Array(UnsafeBufferPointer(start: transfer.pointee.buffer + offset, count: Int(packet.actual_length))) : []
                completion.isochronousPackets.append(USBIsochronousPacketResult(
                    status: packet.status == LIBUSB_TRANSFER_COMPLETED ? .completed : .error("isochronous packet status \(packet.status.rawValue)"),
                    data: data))
                offset += Int(packet.length)
            }
            completion.data = completion.isochronousPackets.flatMap(\.data)
        } else if request.isIn {
            completion.data = Array(UnsafeBufferPointer(start: transfer.pointee.buffer + setupBytes, count: actual))
        }
        libusb_free_transfer(transfer)
        context.completion(completion)
    }

    func cancel(_ id: UInt64) {
        lock.lock()
        let transfer = inFlight[id]
        lock.unlock()
        if let transfer { _ = libusb_cancel_transfer(transfer) }
    }

    private func releaseInterfaces() {
        lock.lock()
        let interfaces = claimed
        claimed = []
        lock.unlock()
        // With auto-detach on, releasing reattaches the kernel driver it detached.
        for number in interfaces { _ = libusb_release_interface(handle, Int32(number)) }
    }

    func close() {
        lock.lock()
        if closed { lock.unlock(); return }
        closed = true
        let transfers = Array(inFlight.values)
        lock.unlock()
        for transfer in transfers { _ = libusb_cancel_transfer(transfer) }
        // Cancellations complete on the event thread; wait for them before freeing the handle.
        var waited = 0
        while waited < 2000 {
            lock.lock(); let left = inFlight.count; lock.unlock()
            if left == 0 { break }
            usleep(1000); waited += 1
        }
        if hotplugHandle != 0 { libusb_hotplug_deregister_callback(backend.context, hotplugHandle) }
        releaseInterfaces()
        libusb_close(handle)
        libusb_unref_device(device)
        backend.deviceClosed()
    }

    deinit { close() }
}

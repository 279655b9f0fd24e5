#if canImport(Glibc)
import Glibc
#endif
import CVFIO
import Memory

/// A VFIO function under `--record` / `--replay` (docs/passthrough.md, "Record and replay"):
/// the system calls of one `pci.host` function with `vfio: true`, journaled.
///
/// Everything the host's device tells the machine comes through `VFIOKernel`, so journaling
/// that one interface covers it: the device and region descriptions, configuration-space
/// reads, BAR reads, interrupts (which eventfds were readable at a poll and what they held),
/// and the outcome of every call that can fail (reset, interrupt routing, DMA mapping).
/// Recording, each call goes to the real kernel and its answer is journaled as
/// `input … pci:NAME/CALL BYTES`; every write to the device (BAR and configuration writes) is
/// journaled as `sent … pci:NAME/write OFFSET+BYTES`. Replaying, there is no kernel at all:
/// nothing under /dev/vfio is opened, no IOMMU mapping is made, and every answer comes from the
/// journal in the recorded order; a write the recording does not have is a divergence.
///
/// Two things keep the record complete:
/// - Regions are reported as not mappable, so no BAR page is mapped directly into the guest:
///   every guest access traps and reaches `read`/`write` here (a direct window's loads would
///   reach the device unseen).
/// - DMA: the device writes guest RAM through the IOMMU, which the machine cannot see. Writes
///   enabling bus mastering (PCI 3.0 §6.2.2, command bit 2) are therefore refused: the bit is
///   not passed to the device, so it never masters, and the run stops with an error naming
///   the function (`ExternalInputJournal.refuse`). Recording a driver that uses DMA is not
///   supported.
public final class JournaledVFIOKernel: VFIOKernel {
    /// The real kernel; nil when replaying.
    let inner: (any VFIOKernel)?
    let journal: any ExternalInputJournal
    /// `pci:NAME/`.
    let prefix: String
    /// The function's PCI address (for the bus-master refusal).
    let function: String
    /// The configuration region's place in the device file, once its region info was read.
    private var configRegion: Range<UInt64>?
    /// Replaying: the next stand-in file descriptor (none is a real one).
    private var nextFD: Int32 = 1000

    /// VFIO_PCI_CONFIG_REGION_INDEX (vfio.h).
    static let configRegionIndex = 7
    /// PCI command register: bus master enable (PCI 3.0 §6.2.2).
    static let busMaster: UInt8 = 0x04

    /// Recording: forwards to `inner`, journaling as device `name`.
    public init(recording inner: any VFIOKernel, journal: any ExternalInputJournal, name: String, function: String) {
        self.inner = inner
        self.journal = journal
        prefix = "pci:\(name)/"
        self.function = function
    }

    /// Replaying: the journal plays device `name`.
    public init(replaying journal: any ExternalInputJournal, name: String, function: String) {
        inner = nil
        self.journal = journal
        prefix = "pci:\(name)/"
        self.function = function
    }

    // MARK: The journal

    /// Recording: `live()`'s answer, journaled as `call`. Replaying: the journaled answer;
    /// nil when the journal does not have `call` next (a divergence, already reported).
    private func answer(_ call: String, _ live: (any VFIOKernel) -> [UInt8]) -> [UInt8]? {
        if let inner {
            let bytes = live(inner)
            journal.recordInput(source: prefix + call, bytes: bytes)
            return bytes
        }
        guard let (source, bytes) = journal.replayInput(prefix: prefix) else {
            journal.diverge("\(prefix.dropLast()) asks the device for '\(call)', which the recording does not have here")
            return nil
        }
        guard source == prefix + call else {
            journal.diverge("\(prefix.dropLast()) asks the device for '\(call)' where the recording has \(source)")
            return nil
        }
        return bytes
    }

    /// A call that succeeds or fails with an errno, journaled as no bytes or the errno.
    private func outcome(_ call: String, _ live: (any VFIOKernel) -> VFIOErrno?) -> VFIOErrno? {
        guard let bytes = answer(call, { kernel in live(kernel).map { Coding.u32(UInt32(bitPattern: $0.code)) } ?? [] }) else {
            return VFIOErrno(EIO)
        }
        return bytes.isEmpty ? nil : VFIOErrno(Int32(bitPattern: Coding.readU32(bytes, 0) ?? UInt32(EIO)))
    }

    /// A `Result` journaled as 0 and its bytes, or 1 and the errno.
    private func result<T>(_ call: String, _ live: (any VFIOKernel) -> Result<T, VFIOErrno>,
                           encode: (T) -> [UInt8], decode: ([UInt8]) -> T?) -> Result<T, VFIOErrno> {
        let bytes = answer(call) { kernel in
            switch live(kernel) {
            case .success(let value): return [0] + encode(value)
            case .failure(let error): return [1] + Coding.u32(UInt32(bitPattern: error.code))
            }
        }
        guard let bytes, let tag = bytes.first else { return .failure(VFIOErrno(EIO)) }
        let rest = Array(bytes.dropFirst())
        if tag == 1 { return .failure(VFIOErrno(Int32(bitPattern: Coding.readU32(rest, 0) ?? UInt32(EIO)))) }
        guard tag == 0, let value = decode(rest) else {
            journal.diverge("the recording's answer to \(prefix)\(call) cannot be read")
            return .failure(VFIOErrno(EIO))
        }
        return .success(value)
    }

    private func standIn() -> Int32 {
        nextFD += 1
        return nextFD
    }

    // MARK: Opening (replaying: stand-ins; the host is never asked)

    public func open(_ path: String, writable: Bool) -> Result<Int32, VFIOErrno> {
        inner?.open(path, writable: writable) ?? .success(standIn())
    }
    public func close(_ fd: Int32) { inner?.close(fd) }
    public func exists(_ path: String) -> Bool { inner?.exists(path) ?? true }
    public func apiVersion(container: Int32) -> Int32 { inner?.apiVersion(container: container) ?? bp_vfio_expected_api_version() }
    public func checkExtension(container: Int32, _ extensionID: Int32) -> Bool { inner?.checkExtension(container: container, extensionID) ?? true }
    public func setIOMMU(container: Int32, type: Int32) -> VFIOErrno? { inner?.setIOMMU(container: container, type: type) }
    public func groupViable(group: Int32) -> Result<Bool, VFIOErrno> { inner?.groupViable(group: group) ?? .success(true) }
    public func setContainer(group: Int32, container: Int32) -> VFIOErrno? { inner?.setContainer(group: group, container: container) }
    public func unsetContainer(group: Int32) { inner?.unsetContainer(group: group) }
    public func deviceFD(group: Int32, name: String) -> Result<Int32, VFIOErrno> {
        inner?.deviceFD(group: group, name: name) ?? .success(standIn())
    }
    public func mapDMA(container: Int32, host: UnsafeMutableRawPointer, iova: UInt64, size: UInt64) -> VFIOErrno? {
        outcome("dma-map") { $0.mapDMA(container: container, host: host, iova: iova, size: size) }
    }
    public func unmapDMA(container: Int32, iova: UInt64, size: UInt64) -> VFIOErrno? {
        inner?.unmapDMA(container: container, iova: iova, size: size)
    }
    public func eventfd() -> Result<Int32, VFIOErrno> { inner?.eventfd() ?? .success(standIn()) }

    // MARK: What the device says

    public func deviceInfo(device: Int32) -> Result<VFIODeviceInfo, VFIOErrno> {
        result("info", { $0.deviceInfo(device: device) }, encode: { info in
            Coding.u32(UInt32(info.regions)) + Coding.u32(UInt32(info.irqs)) + [info.canReset ? 1 : 0, info.isPCI ? 1 : 0]
        }, decode: { bytes in
            guard bytes.count == 10, let regions = Coding.readU32(bytes, 0), let irqs = Coding.readU32(bytes, 4),
                  regions <= 64, irqs <= 64 else { return nil }
            return VFIODeviceInfo(regions: Int(regions), irqs: Int(irqs), canReset: bytes[8] != 0, isPCI: bytes[9] != 0)
        })
    }

    public func regionInfo(device: Int32, index: Int) -> Result<VFIORegionInfo, VFIOErrno> {
        let answer = result("region", { $0.regionInfo(device: device, index: index) }, encode: { info in
            Coding.u32(UInt32(info.index)) + Coding.u64(info.size) + Coding.u64(info.offset) + [info.readable ? 1 : 0, info.writable ? 1 : 0]
        }, decode: { bytes in
            guard bytes.count == 22, let recorded = Coding.readU32(bytes, 0), Int(recorded) == index,
                  let size = Coding.readU64(bytes, 4), let offset = Coding.readU64(bytes, 12) else { return nil }
            return VFIORegionInfo(index: index, size: size, offset: offset, readable: bytes[20] != 0, writable: bytes[21] != 0,
                                  mappable: false)
        })
        // Never mappable: every BAR access must trap to be journaled.
        guard case .success(var info) = answer else { return answer }
        info.mappable = false
        info.sparseAreas = nil
        info.msixMappable = false
        if index == JournaledVFIOKernel.configRegionIndex { configRegion = info.offset..<(info.offset &+ info.size) }
        return .success(info)
    }

    public func irqCount(device: Int32, index: VFIOIRQIndex) -> Int {
        guard let bytes = answer("irq-count", { Coding.u32(UInt32(clamping: $0.irqCount(device: device, index: index))) }),
              let count = Coding.readU32(bytes, 0), count <= 2048 else { return 0 }
        return Int(count)
    }

    public func setIRQs(device: Int32, index: VFIOIRQIndex, start: Int, eventfds: [Int32]) -> VFIOErrno? {
        outcome("irq-set") { $0.setIRQs(device: device, index: index, start: start, eventfds: eventfds) }
    }

    public func unmask(device: Int32, index: VFIOIRQIndex, vector: Int) -> VFIOErrno? {
        outcome("unmask") { $0.unmask(device: device, index: index, vector: vector) }
    }

    public func reset(device: Int32) -> VFIOErrno? { outcome("reset") { $0.reset(device: device) } }

    public func read(device: Int32, offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, VFIOErrno> {
        let count = buffer.count
        let answer: Result<[UInt8], VFIOErrno> = result("read", { kernel in
            let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 8)
            defer { scratch.deallocate() }
            return kernel.read(device: device, offset: offset, into: scratch).map { Array(scratch.prefix(max(0, min($0, count)))) }
        }, encode: { Coding.u64(offset) + $0 }, decode: { bytes in
            // The offset is journaled so a replay reading elsewhere is caught, not fed.
            guard bytes.count >= 8, Coding.readU64(bytes, 0) == offset, bytes.count - 8 <= count else { return nil }
            return Array(bytes.dropFirst(8))
        })
        switch answer {
        case .success(let bytes):
            buffer.copyBytes(from: bytes)
            return .success(bytes.count)
        case .failure(let error):
            return .failure(error)
        }
    }

    public func write(device: Int32, offset: UInt64, from buffer: UnsafeRawBufferPointer) -> Result<Int, VFIOErrno> {
        var bytes = [UInt8](buffer)
        // The command register's low byte (offset 4 of configuration space).
        if let configRegion, configRegion.count > 4, case let command = configRegion.lowerBound + 4,
           offset <= command, command - offset < UInt64(bytes.count) {
            let at = Int(command - offset)
            if bytes[at] & JournaledVFIOKernel.busMaster != 0 {
                bytes[at] &= ~JournaledVFIOKernel.busMaster
                journal.refuse("device '\(prefix.dropFirst(4).dropLast())' (pci.host, VFIO \(function)): the guest enabled bus mastering; the device's DMA into guest RAM goes through the IOMMU where the journal cannot see it, so this run cannot be recorded or replayed (docs/passthrough.md, \"Record and replay\")")
            }
        }
        journal.checkSent(source: prefix + "write", bytes: Coding.u64(offset) + bytes)
        guard let inner else { return .success(bytes.count) }
        return bytes.withUnsafeBytes { inner.write(device: device, offset: offset, from: $0) }
    }

    // MARK: No mappings

    public func mmap(device: Int32, offset: UInt64, size: UInt64, writable: Bool) -> Result<UnsafeMutableRawPointer, VFIOErrno> {
        .failure(VFIOErrno(ENODEV))
    }
    public func munmap(_ pointer: UnsafeMutableRawPointer, size: UInt64) {}
    public func remap(_ pointer: UnsafeMutableRawPointer, device: Int32, offset: UInt64, size: UInt64, writable: Bool) -> VFIOErrno? {
        VFIOErrno(ENODEV)
    }
    public func park(_ pointer: UnsafeMutableRawPointer, size: UInt64) -> VFIOErrno? { VFIOErrno(ENODEV) }

    // MARK: Interrupts

    /// Which eventfds were readable, journaled only when any was (a poll where none fired
    /// journals nothing; replaying, no `fired` record here means none fired).
    public func pollReadable(_ fds: UnsafeMutablePointer<pollfd>, count: Int) -> Int {
        if let inner {
            let ready = inner.pollReadable(fds, count: count)
            guard ready > 0 else { return 0 }
            var indices: [UInt8] = []
            for index in 0..<count where fds[index].revents & Int16(POLLIN) != 0 { indices += Coding.u16(UInt16(clamping: index)) }
            journal.recordInput(source: prefix + "fired", bytes: indices)
            return ready
        }
        guard let (source, bytes) = journal.replayInput(prefix: prefix + "fired") else { return 0 }
        guard source == prefix + "fired", bytes.count % 2 == 0 else {
            journal.diverge("the recording's \(source) cannot be read")
            return 0
        }
        var ready = 0
        for index in stride(from: 0, to: bytes.count, by: 2) {
            guard let vector = Coding.readU16(bytes, index), Int(vector) < count else {
                journal.diverge("the recording fires vector \(Coding.readU16(bytes, index) ?? 0) of \(prefix.dropLast()), which has \(count) routed now")
                return 0
            }
            fds[Int(vector)].revents |= Int16(POLLIN)
            ready += 1
        }
        return ready
    }

    public func takeEvents(_ fd: Int32) -> UInt64 {
        guard let bytes = answer("events", { Coding.u64($0.takeEvents(fd)) }), let count = Coding.readU64(bytes, 0) else { return 0 }
        return count
    }

    /// Little-endian fields of the journaled answers.
    enum Coding {
        static func u16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xff), UInt8(value >> 8)] }
        static func u32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
        static func u64(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) } }
        static func readU16(_ bytes: [UInt8], _ at: Int) -> UInt16? {
            guard at >= 0, at + 2 <= bytes.count else { return nil }
            return UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8
        }
        static func readU32(_ bytes: [UInt8], _ at: Int) -> UInt32? {
            guard at >= 0, at + 4 <= bytes.count else { return nil }
            return (0..<4).reduce(0) { $0 | UInt32(bytes[at + $1]) << (8 * UInt32($1)) }
        }
        static func readU64(_ bytes: [UInt8], _ at: Int) -> UInt64? {
            guard at >= 0, at + 8 <= bytes.count else { return nil }
            return (0..<8).reduce(0) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) }
        }
    }
}

extension HostPCISnapshot {
    /// The snapshot as the journal keeps it (`input … pci:NAME/host`): what a replay builds the
    /// function from instead of reading sysfs. Little-endian: the address's domain (u32), bus,
    /// device, function (u8 each), the configuration bytes (u16 count, bytes), the resources
    /// (u8 count; start, end, flags as u64 each), the driver and the IOMMU group (u8 length,
    /// UTF-8; 255 for none).
    public var journalBytes: [UInt8] {
        typealias C = JournaledVFIOKernel.Coding
        var bytes = C.u32(address.domain) + [address.bus, address.device, address.function]
        bytes += C.u16(UInt16(clamping: config.count)) + config
        bytes.append(UInt8(clamping: resources.count))
        for resource in resources.prefix(255) { bytes += C.u64(resource.start) + C.u64(resource.end) + C.u64(resource.flags) }
        for text in [driver, iommuGroup] {
            if let text, text.utf8.count < 255 { bytes += [UInt8(text.utf8.count)] + Array(text.utf8) } else { bytes.append(255) }
        }
        return bytes
    }

    /// Reads `journalBytes`; nil when malformed.
    public init?(journalBytes bytes: [UInt8]) {
        typealias C = JournaledVFIOKernel.Coding
        guard let domain = C.readU32(bytes, 0), bytes.count >= 7, let configCount = C.readU16(bytes, 7) else { return nil }
        var at = 9
        guard at + Int(configCount) < bytes.count else { return nil }
        let config = Array(bytes[at..<(at + Int(configCount))])
        at += Int(configCount)
        let resourceCount = Int(bytes[at])
        at += 1
        var resources: [HostPCIResource] = []
        for _ in 0..<resourceCount {
            guard let start = C.readU64(bytes, at), let end = C.readU64(bytes, at + 8), let flags = C.readU64(bytes, at + 16) else { return nil }
            resources.append(HostPCIResource(start: start, end: end, flags: flags))
            at += 24
        }
        var texts: [String?] = []
        for _ in 0..<2 {
            guard at < bytes.count else { return nil }
            let length = Int(bytes[at])
            at += 1
            if length == 255 { texts.append(nil); continue }
            guard at + length <= bytes.count else { return nil }
            texts.append(String(decoding: bytes[at..<(at + length)], as: UTF8.self))
            at += length
        }
        guard at == bytes.count, bytes[5] < 32, bytes[6] < 8 else { return nil }
        self.init(address: HostPCIAddress(domain: domain, bus: bytes[4], device: bytes[5], function: bytes[6]),
                  config: config, resources: resources, driver: texts[0], iommuGroup: texts[1])
    }
}

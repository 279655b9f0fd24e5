import Memory
import Trace

/// The memory-mapped side of one level of IMSICs (RISC-V AIA 1.0 §3.6): one 4 KiB page per hart,
/// hart h's interrupt file at `base + h * 0x1000`, as QEMU's `virt` lays out its M-level files
/// at 0x24000000 and its S-level files at 0x28000000 (no guest files, so each hart has one page).
///
/// A page has two registers: `seteipnum_le` at 0 and `seteipnum_be` at 4. A 32-bit write of an
/// identity makes it pending in the file (that is what an MSI is); reads return 0.
public final class IMSIC: MMIODevice {
    /// The device's name in traces (its board entry's name, set by its kind).
    public var traceName = "imsic"
    /// Register offsets within a page (§3.6).
    public enum Layout {
        public static let pageSize: UInt64 = 0x1000
        public static let setPendingLittleEndian: UInt64 = 0x0
        public static let setPendingBigEndian: UInt64 = 0x4
    }

    public let level: InterruptLevel
    /// Interrupt files by hart index.
    public let files: [IMSICFile]
    /// Bytes the pages of all harts take (`reg` size in the device tree).
    public var regionSize: UInt64 { Layout.pageSize * UInt64(files.count) }

    public var implementedSizes: AccessSizes { .word }

    /// Builds one file at `level` for each hart, in order.
    public init(harts: [any HartInterruptInputs], level: InterruptLevel, identityCount: Int = 255) throws(IMSICFile.ConfigurationError) {
        self.level = level
        var files: [IMSICFile] = []
        for hart in harts { files.append(try IMSICFile(hart: hart, level: level, identityCount: identityCount)) }
        self.files = files
    }

    public func read(offset: UInt64, size: Int) -> UInt64 { 0 }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        let page = Int(offset / Layout.pageSize)
        guard page < files.count else { return }
        let value = UInt32(truncatingIfNeeded: value)
        if Trace.mask & TraceGroup.irq.bit != 0 {
            Trace.emit(.irq, device: traceName, "msi-received", ["hart-file": .number(UInt64(page)), "identity": .number(UInt64(value))])
        }
        switch offset % Layout.pageSize {
        case Layout.setPendingLittleEndian: files[page].setPending(identity: value)
        case Layout.setPendingBigEndian: files[page].setPending(identity: value.byteSwapped)
        default: break
        }
    }
}

/// A machine reset resets every interrupt file of the level (`IMSICFile.reset()`).
extension IMSIC: DeviceLifecycle {
    public func reset() {
        for file in files { file.reset() }
    }
}

/// Snapshots (docs/snapshots.md): every hart's interrupt file of this level, in hart order.
extension IMSIC {
    public func save(to state: inout DeviceStateWriter) {
        state.put(UInt64(files.count))
        for file in files { file.save(to: &state) }
    }

    public func restore(from state: inout DeviceStateReader) throws(DeviceStateError) {
        let count = try state.uint64()
        guard count == UInt64(files.count) else { throw .mismatch("IMSIC files: \(count) saved, \(files.count) here") }
        for file in files { try file.restore(from: &state) }
    }
}

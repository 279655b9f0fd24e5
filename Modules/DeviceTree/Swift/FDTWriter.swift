import CLibFDT

/// A libfdt call that failed, with the function and libfdt's own explanation of the code.
public struct DeviceTreeError: Error, Equatable, CustomStringConvertible {
    /// The libfdt function that failed ("fdt_begin_node").
    public let function: String
    /// libfdt's negative error code (`-FDT_ERR_*`).
    public let code: Int32
    /// What was being written or read, for the message ("node 'cpus'").
    public let subject: String

    public init(function: String, code: Int32, subject: String) {
        self.function = function
        self.code = code
        self.subject = subject
    }

    public var description: String {
        "\(function) failed for \(subject): \(String(cString: fdt_strerror(code))) (\(code))"
    }
}

/// Thin wrapper over libfdt's sequential-write API (libfdt.h "Sequential write functions"):
/// `fdt_create`, `fdt_begin_node`, `fdt_property`, `fdt_end_node`, `fdt_finish`. The buffer
/// doubles with `fdt_resize` whenever libfdt reports `FDT_ERR_NOSPACE`, so callers never size it.
public final class FDTWriter {
    private var buffer: UnsafeMutableRawPointer
    private var capacity: Int
    private var depth = 0

    /// Starts an empty tree with an empty memory-reservation block (Devicetree Spec v0.4 §5.3).
    public init(initialCapacity: Int = 4096) throws(DeviceTreeError) {
        capacity = max(initialCapacity, 256)
        buffer = .allocate(byteCount: capacity, alignment: 8)
        try check(fdt_create(buffer, Int32(capacity)), "fdt_create", "the header")
        try retrying("fdt_finish_reservemap", "the reservation map") { fdt_finish_reservemap($0) }
    }

    deinit { buffer.deallocate() }

    /// Opens a node; nodes nest until the matching `endNode()`. The root's name is "".
    public func beginNode(_ name: String) throws(DeviceTreeError) {
        try retrying("fdt_begin_node", "node '\(name)'") { fdt in
            name.withCString { fdt_begin_node(fdt, $0) }
        }
        depth += 1
    }

    /// Writes a property of the open node with its raw (already big-endian) value.
    public func property(_ name: String, _ value: [UInt8]) throws(DeviceTreeError) {
        try retrying("fdt_property", "property '\(name)'") { fdt in
            name.withCString { cName in
                value.withUnsafeBytes { fdt_property(fdt, cName, $0.baseAddress, Int32($0.count)) }
            }
        }
    }

    /// Closes the innermost open node.
    public func endNode() throws(DeviceTreeError) {
        // libfdt does not track nesting in sequential-write mode; an extra end would corrupt the
        // structure block, so refuse it here.
        guard depth > 0 else {
            throw DeviceTreeError(function: "fdt_end_node", code: -FDT_ERR_BADSTRUCTURE, subject: "endNode() without an open node")
        }
        try retrying("fdt_end_node", "node at depth \(depth)") { fdt_end_node($0) }
        depth -= 1
    }

    /// Ends the structure block and returns the blob, packed to its final size
    /// (`fdt_finish` then `fdt_open_into` + `fdt_pack` for a read-write-ready, minimal copy).
    public func finish(bootCPU: UInt32 = 0) throws(DeviceTreeError) -> [UInt8] {
        try retrying("fdt_finish", "the tree") { fdt_finish($0) }
        // Sequential-write output is already a valid tree; re-open it into a fresh buffer so the
        // header fields are normalised, set the boot CPU, and pack away the slack.
        let size = Int(fdt_totalsize_swift(buffer))
        let packed = UnsafeMutableRawPointer.allocate(byteCount: size + 64, alignment: 8)
        defer { packed.deallocate() }
        try check(fdt_open_into(buffer, packed, Int32(size + 64)), "fdt_open_into", "the tree")
        fdt_set_boot_cpuid_phys(packed, bootCPU)
        try check(fdt_pack(packed), "fdt_pack", "the tree")
        let packedSize = Int(fdt_totalsize_swift(packed))
        return Array(UnsafeRawBufferPointer(start: packed, count: packedSize))
    }

    private func retrying(_ function: String, _ subject: @autoclosure () -> String,
                          _ call: (UnsafeMutableRawPointer) -> Int32) throws(DeviceTreeError) {
        while true {
            let result = call(buffer)
            if result == -FDT_ERR_NOSPACE {
                try grow(subject())
                continue
            }
            try check(result, function, subject())
            return
        }
    }

    private func grow(_ subject: String) throws(DeviceTreeError) {
        let newCapacity = capacity * 2
        let newBuffer = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 8)
        let result = fdt_resize(buffer, newBuffer, Int32(newCapacity))
        guard result == 0 else {
            newBuffer.deallocate()
            throw DeviceTreeError(function: "fdt_resize", code: result, subject: subject)
        }
        buffer.deallocate()
        buffer = newBuffer
        capacity = newCapacity
    }

    private func check(_ result: Int32, _ function: String, _ subject: String) throws(DeviceTreeError) {
        if result < 0 { throw DeviceTreeError(function: function, code: result, subject: subject) }
    }
}

/// `fdt_totalsize` is a macro over `fdt_get_header`; read the header field directly
/// (big-endian u32 at offset 4, Devicetree Spec v0.4 §5.2).
func fdt_totalsize_swift(_ fdt: UnsafeRawPointer) -> UInt32 {
    UInt32(bigEndian: fdt.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
}

import CLibFDT

/// Read access to a DTB through libfdt (`fdt_check_full`, `fdt_path_offset`, `fdt_getprop`,
/// `fdt_first_subnode`): used to check generated trees and to read trees supplied by users.
public struct FDTReader {
    public let bytes: [UInt8]

    /// Validates the whole blob with `fdt_check_full` before any lookup.
    public init(_ bytes: [UInt8]) throws(DeviceTreeError) {
        self.bytes = bytes
        // Blobs older than version 16 store node names differently (full paths), and Debian's
        // libfdt 1.6 `fdt_check_full` reads through a NULL name on such a blob (found by the
        // fdt_reader fuzzer). Every dtc since 2008 writes version 17, so an older blob is
        // refused here, before libfdt sees it. Header: magic at 0, version at 20 (DTSpec §5.2).
        if bytes.count >= 24 && Self.bigEndian32(bytes, 0) == 0xd00d_feed && Self.bigEndian32(bytes, 20) < 16 {
            throw DeviceTreeError(function: "fdt_check_full", code: -FDT_ERR_BADVERSION,
                                  subject: "the blob (version \(Self.bigEndian32(bytes, 20)); versions 16 and 17 are read)")
        }
        let result = bytes.withUnsafeBytes { fdt_check_full($0.baseAddress, $0.count) }
        if result < 0 { throw DeviceTreeError(function: "fdt_check_full", code: result, subject: "the blob") }
    }

    private static func bigEndian32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// The raw value of property `name` of the node at `path`; nil when either is missing.
    public func property(_ name: String, at path: String) -> [UInt8]? {
        bytes.withUnsafeBytes { raw -> [UInt8]? in
            let offset = fdt_path_offset(raw.baseAddress, path)
            guard offset >= 0 else { return nil }
            var length: Int32 = 0
            guard let value = fdt_getprop(raw.baseAddress, offset, name, &length), length >= 0 else { return nil }
            return Array(UnsafeRawBufferPointer(start: value, count: Int(length)))
        }
    }

    /// The property decoded as cells.
    public func cells(_ name: String, at path: String) -> [UInt32]? {
        property(name, at: path).flatMap { DeviceTreeProperty(name, bytes: $0).cellValues }
    }

    /// The property decoded as a string list.
    public func strings(_ name: String, at path: String) -> [String]? {
        property(name, at: path).flatMap { DeviceTreeProperty(name, bytes: $0).stringValues }
    }

    /// Whether a node exists at `path`.
    public func hasNode(_ path: String) -> Bool {
        bytes.withUnsafeBytes { fdt_path_offset($0.baseAddress, path) >= 0 }
    }

    /// Names of the direct children of the node at `path`, in blob order; nil when it is missing.
    public func children(of path: String) -> [String]? {
        bytes.withUnsafeBytes { raw -> [String]? in
            let base = raw.baseAddress
            let parent = fdt_path_offset(base, path)
            guard parent >= 0 else { return nil }
            var names: [String] = []
            var child = fdt_first_subnode(base, parent)
            while child >= 0 {
                if let name = fdt_get_name(base, child, nil) { names.append(String(cString: name)) }
                child = fdt_next_subnode(base, child)
            }
            return names
        }
    }

    /// `boot_cpuid_phys` from the header (Devicetree Spec v0.4 §5.2).
    public var bootCPU: UInt32 {
        bytes.withUnsafeBytes { UInt32(bigEndian: $0.loadUnaligned(fromByteOffset: 28, as: UInt32.self)) }
    }
}

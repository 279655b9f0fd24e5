/// A device-tree node held as a value: its properties and children in the order they will be
/// written. Generators build a tree of these, callers may add or edit nodes, and `flatten()` turns
/// it into a DTB with libfdt's sequential-write API.
public struct DeviceTreeNode: Equatable, Sendable {
    /// Node name including its unit address ("serial@10000000"); empty for the root.
    public var name: String
    public var properties: [DeviceTreeProperty]
    public var children: [DeviceTreeNode]

    public init(_ name: String, properties: [DeviceTreeProperty] = [], children: [DeviceTreeNode] = []) {
        self.name = name
        self.properties = properties
        self.children = children
    }

    /// The property called `name`, if present.
    public subscript(property name: String) -> DeviceTreeProperty? {
        properties.first { $0.name == name }
    }

    /// The direct child called `name`, if present.
    public subscript(child name: String) -> DeviceTreeNode? {
        children.first { $0.name == name }
    }

    /// The node at `path` ("/soc/serial@10000000"), relative to this node.
    public func node(at path: String) -> DeviceTreeNode? {
        var node = self
        for component in path.split(separator: "/") {
            guard let child = node[child: String(component)] else { return nil }
            node = child
        }
        return node
    }

    /// Appends `child` under the node at `path`; returns false when there is no such node.
    @discardableResult
    public mutating func insert(_ child: DeviceTreeNode, at path: String) -> Bool {
        let components = path.split(separator: "/").map(String.init)
        return insert(child, components: components[...])
    }

    private mutating func insert(_ child: DeviceTreeNode, components: ArraySlice<String>) -> Bool {
        guard let first = components.first else {
            children.append(child)
            return true
        }
        guard let index = children.firstIndex(where: { $0.name == first }) else { return false }
        return children[index].insert(child, components: components.dropFirst())
    }

    /// Writes the tree (this node is the root) into a flattened device tree blob.
    public func flatten(bootCPU: UInt32 = 0) throws(DeviceTreeError) -> [UInt8] {
        let writer = try FDTWriter()
        try write(to: writer)
        return try writer.finish(bootCPU: bootCPU)
    }

    private func write(to writer: FDTWriter) throws(DeviceTreeError) {
        try writer.beginNode(name)
        for property in properties {
            try writer.property(property.name, property.value)
        }
        for child in children {
            try child.write(to: writer)
        }
        try writer.endNode()
    }
}

/// One property: a name and its raw big-endian value, with constructors for the encodings the
/// Devicetree Specification v0.4 §2.2.4 defines.
public struct DeviceTreeProperty: Equatable, Sendable {
    public var name: String
    public var value: [UInt8]

    public init(_ name: String, bytes: [UInt8]) {
        self.name = name
        self.value = bytes
    }

    /// `<empty>`: a boolean property whose presence is the information ("interrupt-controller").
    public static func empty(_ name: String) -> Self { Self(name, bytes: []) }

    /// One `<u32>` cell.
    public static func u32(_ name: String, _ value: UInt32) -> Self { cells(name, [value]) }

    /// A `<u64>`, written as two cells (high, low).
    public static func u64(_ name: String, _ value: UInt64) -> Self {
        cells(name, [UInt32(truncatingIfNeeded: value >> 32), UInt32(truncatingIfNeeded: value)])
    }

    /// A `<prop-encoded-array>` of cells.
    public static func cells(_ name: String, _ values: [UInt32]) -> Self {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.count * 4)
        for value in values {
            bytes.append(UInt8(truncatingIfNeeded: value >> 24))
            bytes.append(UInt8(truncatingIfNeeded: value >> 16))
            bytes.append(UInt8(truncatingIfNeeded: value >> 8))
            bytes.append(UInt8(truncatingIfNeeded: value))
        }
        return Self(name, bytes: bytes)
    }

    /// A `<string>`: the UTF-8 bytes and a terminating NUL.
    public static func string(_ name: String, _ value: String) -> Self { strings(name, [value]) }

    /// A `<stringlist>`: each string NUL-terminated, concatenated ("compatible").
    public static func strings(_ name: String, _ values: [String]) -> Self {
        var bytes: [UInt8] = []
        for value in values {
            bytes.append(contentsOf: Array(value.utf8))
            bytes.append(0)
        }
        return Self(name, bytes: bytes)
    }

    /// The value read as big-endian cells; nil when its length is not a multiple of 4.
    public var cellValues: [UInt32]? {
        guard value.count % 4 == 0 else { return nil }
        return stride(from: 0, to: value.count, by: 4).map { index in
            UInt32(value[index]) << 24 | UInt32(value[index + 1]) << 16 | UInt32(value[index + 2]) << 8 | UInt32(value[index + 3])
        }
    }

    /// The value read as a NUL-separated string list; nil when it does not end with a NUL.
    public var stringValues: [String]? {
        guard value.last == 0 else { return nil }
        return value.dropLast().split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    }
}

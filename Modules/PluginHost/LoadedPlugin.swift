import CBackplane
import Foundation
import QPP

/// One plugin the host opened: its descriptor (copied, so a plugin built against an older
/// minor version reads as zero past its struct_size) and its state in the host.
public final class LoadedPlugin {
    public let name: String
    public let path: String
    public let summary: String
    public let uses: [String]
    /// The ABI version the plugin was built against.
    public let abiMajor: Int
    public let abiMinor: Int
    public let arguments: [(key: String, value: String)]
    let descriptor: bp_plugin_descriptor
    unowned let host: PluginHost
    /// Every error recorded during install (set_error, refused registrations), in order: an
    /// install that fails reports all of them, not just the first.
    var installErrors: [String] = []
    /// The recorded errors, one per line (`PluginError.installFailed` prefixes each), nil when
    /// there are none.
    var installError: String? { installErrors.isEmpty ? nil : installErrors.joined(separator: "\n") }
    var qppError: QPPError?
    public internal(set) var isInstalled = false
    /// Names the plugin in refusals of its calls (PluginHandles).
    let identity: PluginIdentity
    /// NUL-terminated copy of `name` for `plugin_name`.
    let cName: UnsafeMutablePointer<CChar>

    init(name: String, path: String, descriptor: bp_plugin_descriptor, arguments: [(key: String, value: String)], host: PluginHost) {
        self.name = name
        self.path = path
        self.descriptor = descriptor
        self.arguments = arguments
        self.host = host
        summary = descriptor.summary.map { String(cString: $0) } ?? ""
        var uses: [String] = []
        if var cursor = descriptor.uses {
            while let entry = cursor.pointee {
                uses.append(String(cString: entry))
                cursor += 1
            }
        }
        self.uses = uses
        abiMajor = Int(descriptor.abi_major)
        abiMinor = Int(descriptor.abi_minor)
        cName = strdup(name)!
        identity = PluginIdentity(name: name)
    }

    deinit { free(cName) }

    /// The `bp_plugin *` handed to the plugin: a checked token (PluginHandles), valid until
    /// the plugin's exit returns.
    lazy var handle: OpaquePointer = PluginHandles.shared.issue(self, kind: .plugin, owner: identity)

    /// The plugin `handle` names; nil (and one log line) for a stale, foreign or NULL handle.
    static func from(_ handle: OpaquePointer?, in function: String = "a host function") -> LoadedPlugin? {
        PluginHandles.shared.resolve(handle, .plugin, as: LoadedPlugin.self, in: function)
    }

    /// Keeps a reason install fails for (each distinct one once).
    func record(_ message: String) {
        if !installErrors.contains(message) { installErrors.append(message) }
    }

    func log(_ level: Int32, _ text: String) {
        let prefix: String
        switch level {
        case BP_LOG_WARNING: prefix = "warning: "
        case BP_LOG_ERROR: prefix = "error: "
        default: prefix = ""
        }
        FileHandle.standardError.write(Data("backplane: plugin \(name): \(prefix)\(text)\n".utf8))
    }
}

/// Runs `body` with a C `bp_args` copy of `arguments`, valid only during the call.
func withCArguments<R>(_ arguments: [(key: String, value: String)], _ body: (UnsafePointer<bp_args>) throws -> R) rethrows -> R {
    let items = UnsafeMutablePointer<bp_arg>.allocate(capacity: max(1, arguments.count))
    var strings: [UnsafeMutablePointer<CChar>] = []
    for (index, argument) in arguments.enumerated() {
        let key = strdup(argument.key)!
        let value = strdup(argument.value)!
        strings += [key, value]
        items[index] = bp_arg(key: key, value: value)
    }
    defer {
        for string in strings { free(string) }
        items.deallocate()
    }
    var args = bp_args(count: UInt32(arguments.count), items: items)
    return try withUnsafePointer(to: &args) { try body($0) }
}

/// Copies a C struct that begins with `uint32_t struct_size` from a plugin: the first
/// min(struct_size, our size) bytes, the rest zero, so fields newer than the plugin read as
/// zero/NULL (the stability promise in plugin.h).
func copyVersioned<T>(_ pointer: UnsafeRawPointer, as type: T.Type, zero: T) -> T {
    var value = zero
    let declared = Int(pointer.load(as: UInt32.self))
    withUnsafeMutableBytes(of: &value) { destination in
        destination.copyMemory(from: UnsafeRawBufferPointer(start: pointer, count: min(declared, destination.count)))
    }
    return value
}

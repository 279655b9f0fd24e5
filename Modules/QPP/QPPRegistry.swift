import Foundation
import Trace

/// A callback function as C sees it: `void f(void *evdata, void *udata)`.
public typealias QPPCallbackFunction = @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void

/// One named callback a plugin created. Other plugins register functions on it; its owner runs
/// them. Registration may race with a run on another thread: `run` takes a snapshot of the
/// list under the lock and calls the functions outside it, so a concurrent change applies to
/// the next run and a function may itself register or unregister without deadlocking.
public final class QPPCallback: @unchecked Sendable {
    public let owner: String
    public let name: String

    struct Registration {
        let plugin: String
        let function: QPPCallbackFunction
        let udata: UnsafeMutableRawPointer?
    }

    private let lock = NSLock()
    /// Copy-on-write: a run's snapshot keeps the old storage alive while a registration
    /// replaces it.
    private var registrations: [Registration] = []

    init(owner: String, name: String) {
        self.owner = owner
        self.name = name
    }

    /// Adds `function` with `udata` for plugin `plugin` (after the existing ones).
    public func register(plugin: String, function: QPPCallbackFunction, udata: UnsafeMutableRawPointer?) {
        lock.lock()
        registrations.append(Registration(plugin: plugin, function: function, udata: udata))
        lock.unlock()
    }

    /// Removes the first registration of `function` by `plugin`; whether there was one.
    public func unregister(plugin: String, function: QPPCallbackFunction) -> Bool {
        let target = unsafeBitCast(function, to: UnsafeRawPointer.self)
        lock.lock()
        defer { lock.unlock() }
        guard let position = registrations.firstIndex(where: {
            $0.plugin == plugin && unsafeBitCast($0.function, to: UnsafeRawPointer.self) == target
        }) else { return false }
        registrations.remove(at: position)
        return true
    }

    /// Calls every registered function in registration order; returns how many ran.
    @discardableResult
    public func run(evdata: UnsafeMutableRawPointer?) -> Int {
        lock.lock()
        let snapshot = registrations
        lock.unlock()
        if Trace.mask & TraceGroup.plugin.bit != 0 {
            Trace.emit(.plugin, device: owner, "qpp-callback", ["name": .text(name), "functions": .number(UInt64(snapshot.count))])
        }
        for registration in snapshot { registration.function(evdata, registration.udata) }
        return snapshot.count
    }

    /// Registrations currently on the list.
    public var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return registrations.count
    }
}

/// Exported functions and named callbacks of every loaded plugin, and who may reach whom.
/// Thread-safe: plugins may call into it from any thread.
public final class QPPRegistry: @unchecked Sendable {
    private struct Export {
        let function: UnsafeRawPointer
        let signature: String
    }

    private let lock = NSLock()
    private var uses: [String: Set<String>] = [:]
    private var exports: [String: [String: Export]] = [:]
    private var callbacks: [String: [String: QPPCallback]] = [:]

    public init() {}

    /// Declares a plugin and the plugins it may import from or register on.
    public func declare(plugin: String, uses: [String]) {
        lock.lock()
        self.uses[plugin] = Set(uses)
        lock.unlock()
    }

    /// Exports `function` as `plugin`'s `name` with `signature`.
    public func export(plugin: String, name: String, function: UnsafeRawPointer, signature: String) throws(QPPError) {
        lock.lock()
        defer { lock.unlock() }
        if exports[plugin]?[name] != nil { throw .duplicateExport(plugin: plugin, name: name) }
        exports[plugin, default: [:]][name] = Export(function: function, signature: signature)
    }

    /// `target`'s export `name` for `importer`, checking `uses` and, unless nil, the signature.
    public func importFunction(by importer: String, from target: String, name: String, signature: String?) throws(QPPError) -> UnsafeRawPointer {
        lock.lock()
        defer { lock.unlock() }
        guard uses[importer]?.contains(target) == true else { throw .notUsed(importer: importer, target: target, name: name) }
        guard let export = exports[target]?[name] else { throw .notExported(importer: importer, target: target, name: name) }
        if let signature, signature != export.signature {
            throw .signatureMismatch(importer: importer, target: target, name: name, imported: signature, exported: export.signature)
        }
        if Trace.mask & TraceGroup.plugin.bit != 0 {
            Trace.emit(.plugin, device: importer, "qpp-import", ["from": .text(target), "name": .text(name), "signature": .text(export.signature)])
        }
        return export.function
    }

    /// Creates `plugin`'s callback `name`; nil if it already exists.
    public func createCallback(plugin: String, name: String) -> QPPCallback? {
        lock.lock()
        defer { lock.unlock() }
        guard callbacks[plugin]?[name] == nil else { return nil }
        let callback = QPPCallback(owner: plugin, name: name)
        callbacks[plugin, default: [:]][name] = callback
        return callback
    }

    /// `plugin`'s exports as (name, signature), sorted by name (`backplane plugin info`).
    public func exports(of plugin: String) -> [(name: String, signature: String)] {
        lock.lock()
        defer { lock.unlock() }
        return (exports[plugin] ?? [:]).map { ($0.key, $0.value.signature) }.sorted { $0.name < $1.name }
    }

    /// The names of `plugin`'s callbacks, sorted.
    public func callbackNames(of plugin: String) -> [String] {
        lock.lock()
        defer { lock.unlock() }
        return (callbacks[plugin] ?? [:]).keys.sorted()
    }

    /// `target`'s callback `name` as `plugin` may reach it.
    public func callback(for plugin: String, target: String, name: String) throws(QPPError) -> QPPCallback {
        lock.lock()
        defer { lock.unlock() }
        guard uses[plugin]?.contains(target) == true else { throw .notUsed(importer: plugin, target: target, name: name) }
        guard let callback = callbacks[target]?[name] else { throw .noSuchCallback(plugin: plugin, target: target, name: name) }
        return callback
    }
}

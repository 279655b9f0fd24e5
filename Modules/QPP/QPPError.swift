/// Why a plugin-to-plugin operation or the load order failed. The messages name every plugin
/// involved, since the user has to fix their plugin list or rebuild one of them.
public enum QPPError: Error, Equatable, CustomStringConvertible, Sendable {
    /// `plugin` lists `missing` in its `uses`, but no loaded plugin has that name.
    case missingDependency(plugin: String, missing: String)
    /// The plugins use each other in a cycle: `path` starts and ends with the same name.
    case cycle(path: [String])
    /// `importer` reached `target` without listing it in its `uses`.
    case notUsed(importer: String, target: String, name: String)
    /// `target` exports no function `name`.
    case notExported(importer: String, target: String, name: String)
    /// The import's signature string differs from the export's.
    case signatureMismatch(importer: String, target: String, name: String, imported: String, exported: String)
    /// `plugin` already exports a function called `name`.
    case duplicateExport(plugin: String, name: String)
    /// `target` has no callback `name`.
    case noSuchCallback(plugin: String, target: String, name: String)

    public var description: String {
        switch self {
        case let .missingDependency(plugin, missing):
            return "plugin '\(plugin)' uses '\(missing)', which is not loaded"
        case let .cycle(path):
            return "plugins use each other in a cycle: " + path.map { "'\($0)'" }.joined(separator: " -> ")
        case let .notUsed(importer, target, name):
            return "plugin '\(importer)' reaches '\(target).\(name)' but does not list '\(target)' in its uses"
        case let .notExported(importer, target, name):
            return "plugin '\(importer)' imports '\(target).\(name)', which '\(target)' does not export"
        case let .signatureMismatch(importer, target, name, imported, exported):
            return "plugin '\(importer)' imports '\(target).\(name)' as '\(imported)', but '\(target)' exports it as '\(exported)'"
        case let .duplicateExport(plugin, name):
            return "plugin '\(plugin)' exports '\(name)' twice"
        case let .noSuchCallback(plugin, target, name):
            return "plugin '\(plugin)' registers on '\(target).\(name)', which '\(target)' has not created"
        }
    }
}

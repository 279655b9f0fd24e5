import QPP

/// Why plugins could not be loaded, installed or instantiated. Each stops the run before the
/// guest starts with this one message (exit status 2); the texts are checked word for word by
/// Tests/PluginHostTests and listed in docs/plugins.md.
public enum PluginError: Error, Equatable, CustomStringConvertible, Sendable {
    case missingFile(path: String)
    /// dlopen refused the file (not a shared library, wrong architecture, missing dependency).
    case notLoadable(path: String, reason: String)
    /// A shared library without `backplane_plugin_descriptor`.
    case notAPlugin(path: String)
    /// The entry returned NULL or a descriptor without the magic word or too small.
    case badDescriptor(path: String)
    case invalidName(path: String, name: String)
    /// Built for another major version or a newer minor one.
    case abiMismatch(name: String, path: String, major: Int, minor: Int, hostMajor: Int, hostMinor: Int)
    case duplicateName(name: String, firstPath: String, secondPath: String)
    /// A `uses` problem: missing dependency or cycle.
    case dependency(QPPError)
    case installFailed(name: String, reason: String)
    /// `--plugin` text that does not parse.
    case badArgument(text: String, reason: String)
    /// A device instance could not be built.
    case createFailed(device: String, type: String, reason: String)

    public var description: String {
        switch self {
        case let .missingFile(path):
            return "plugin '\(path)': no such file"
        case let .notLoadable(path, reason):
            return "plugin '\(path)': cannot be loaded: \(reason)"
        case let .notAPlugin(path):
            return "plugin '\(path)': not a Backplane plugin (it does not export 'backplane_plugin_descriptor')"
        case let .badDescriptor(path):
            return "plugin '\(path)': not a Backplane plugin (its descriptor lacks the magic word or is truncated)"
        case let .invalidName(path, name):
            return "plugin '\(path)': invalid plugin name '\(name)'; use lower-case letters, digits, '_', '.' and '-'"
        case let .abiMismatch(name, path, major, minor, hostMajor, hostMinor):
            return "plugin '\(name)' (\(path)) was built for plugin ABI \(major).\(minor), but this backplane provides ABI \(hostMajor).\(hostMinor); it loads plugins built for \(hostMajor).0 to \(hostMajor).\(hostMinor)"
        case let .duplicateName(name, firstPath, secondPath):
            return "plugins '\(firstPath)' and '\(secondPath)' are both named '\(name)'"
        case let .dependency(error):
            return error.description
        case let .installFailed(name, reason):
            // Every refusal of the install on a line of its own (a type with three bad fields
            // gives three lines), each naming the plugin.
            return reason.split(separator: "\n", omittingEmptySubsequences: true)
                .map { "plugin '\(name)' failed to install: \($0)" }.joined(separator: "\n")
        case let .badArgument(text, reason):
            return "--plugin '\(text)': \(reason)"
        case let .createFailed(device, type, reason):
            return "device '\(device)' of plugin type '\(type)': \(reason)"
        }
    }
}

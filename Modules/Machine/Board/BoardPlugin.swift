/// One entry of a board file's `plugins:` list: a plugin library and the arguments its
/// install entry receives (docs/plugins.md).
public struct BoardPlugin: Equatable, Sendable {
    /// As written, made relative to the board file's folder when not absolute.
    public var path: String
    public var arguments: [BoardPluginArgument]
    public var location: SourceLocation?

    public init(path: String, arguments: [BoardPluginArgument] = [], location: SourceLocation? = nil) {
        self.path = path
        self.arguments = arguments
        self.location = location
    }
}

public struct BoardPluginArgument: Equatable, Sendable {
    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// A plugin to load and the arguments its install entry receives: `--plugin PATH,key=value,...`
/// or one entry of a board file's `plugins:` list.
public struct PluginRequest: Sendable, Equatable {
    public var path: String
    /// In the order given; keys may repeat (the plugin decides what that means).
    public var arguments: [(key: String, value: String)]

    public init(path: String, arguments: [(key: String, value: String)] = []) {
        self.path = path
        self.arguments = arguments
    }

    public static func == (lhs: PluginRequest, rhs: PluginRequest) -> Bool {
        lhs.path == rhs.path && lhs.arguments.elementsEqual(rhs.arguments) { $0.key == $1.key && $0.value == $1.value }
    }

    /// Parses `PATH[,key=value...]` (a value may contain '='; neither may contain ',').
    public static func parse(_ text: String) throws(PluginError) -> PluginRequest {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard let path = parts.first, !path.isEmpty else { throw .badArgument(text: text, reason: "no plugin path") }
        var request = PluginRequest(path: path)
        for part in parts.dropFirst() {
            guard let equals = part.firstIndex(of: "="), equals != part.startIndex else {
                throw .badArgument(text: text, reason: "'\(part)' is not key=value")
            }
            request.arguments.append((String(part[..<equals]), String(part[part.index(after: equals)...])))
        }
        return request
    }
}

/// The order plugins are installed in, computed from what each one `uses` so that the order
/// they were given in (command line, board file) does not matter. Exit runs in reverse.
public enum LoadOrder {
    /// One plugin as the order sees it.
    public struct Node: Sendable, Equatable {
        public let name: String
        public let uses: [String]
        public init(name: String, uses: [String]) {
            self.name = name
            self.uses = uses
        }
    }

    /// Indices into `nodes`, every plugin after the plugins it uses; independent plugins keep
    /// their given order. Names are unique (the caller checked).
    /// - Throws: `.missingDependency` for the first plugin (in given order) using an unknown
    ///   name; `.cycle` with the path of the first cycle found.
    public static func resolve(_ nodes: [Node]) throws(QPPError) -> [Int] {
        var index: [String: Int] = [:]
        for (position, node) in nodes.enumerated() { index[node.name] = position }
        for node in nodes {
            for used in node.uses where index[used] == nil {
                throw .missingDependency(plugin: node.name, missing: used)
            }
        }
        enum Mark { case unvisited, visiting, done }
        var marks = [Mark](repeating: .unvisited, count: nodes.count)
        var order: [Int] = []
        var stack: [Int] = []

        // Depth-first, dependencies first; a node met again while still on the stack closes a cycle.
        func visit(_ position: Int) throws(QPPError) {
            switch marks[position] {
            case .done: return
            case .visiting:
                let start = stack.firstIndex(of: position)!
                throw .cycle(path: stack[start...].map { nodes[$0].name } + [nodes[position].name])
            case .unvisited: break
            }
            marks[position] = .visiting
            stack.append(position)
            for used in nodes[position].uses { try visit(index[used]!) }
            stack.removeLast()
            marks[position] = .done
            order.append(position)
        }
        for position in nodes.indices { try visit(position) }
        return order
    }
}

import Foundation
import Yams

/// Reads board files. Every problem in a file is collected and reported at once as
/// `BoardErrors` (one `file:line:col: error: message` line each), the file's structure first
/// (`BoardLoader`), then its consistency (`Board.validate`).
public enum BoardLoader {
    /// Loads and validates the board file at `path`.
    /// - Parameters:
    ///   - catalog: device types with their keys checked (`DeviceTypeCatalog.builtIn`, plus any
    ///     registered ones).
    ///   - extraDeviceTypes: further type names to accept without checking their properties
    ///     (types a plugin registers at run time).
    public static func load(path: String, catalog: DeviceTypeCatalog = .builtIn,
                            extraDeviceTypes: Set<String> = []) throws(BoardErrors) -> Board {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw BoardErrors([BoardError(path: path, location: nil, message: "cannot read the board file: \(error.localizedDescription)")])
        }
        return try load(yaml: text, path: path, catalog: catalog, extraDeviceTypes: extraDeviceTypes)
    }

    /// The `plugins:` list of the board file at `path`, read before the board itself since
    /// the plugins provide device types it may use. Empty when the file has none.
    public static func plugins(path: String) throws(BoardErrors) -> [BoardPlugin] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw BoardErrors([BoardError(path: path, location: nil, message: "cannot read the board file: \(error.localizedDescription)")])
        }
        let diagnostics = BoardDiagnostics(path: path)
        let parser = BoardParser(diagnostics: diagnostics, catalog: .builtIn, extraDeviceTypes: [])
        let plugins = parser.parsePluginsOnly(text, path: path) ?? []
        if !diagnostics.errors.isEmpty { throw BoardErrors(diagnostics.sorted) }
        return plugins
    }

    /// Loads and validates a board from YAML text; `path` is only used in messages.
    public static func load(yaml text: String, path: String, catalog: DeviceTypeCatalog = .builtIn,
                            extraDeviceTypes: Set<String> = []) throws(BoardErrors) -> Board {
        let diagnostics = BoardDiagnostics(path: path)
        let parser = BoardParser(diagnostics: diagnostics, catalog: catalog, extraDeviceTypes: extraDeviceTypes)
        let board = parser.parse(text, path: path)
        if let board {
            board.check(into: diagnostics, catalog: catalog, extraDeviceTypes: extraDeviceTypes)
        }
        if !diagnostics.errors.isEmpty { throw BoardErrors(diagnostics.sorted) }
        return board!
    }
}

/// Keys of each level of the format (docs/boards.md), in documentation order.
enum BoardKeys {
    static let top = ["name", "description", "model", "compatible", "harts", "memory", "devices", "boot", "plugins"]
    static let plugin = ["path", "args"]
    static let harts = ["count", "isa", "mmu", "timebase-frequency", "ips"]
    static let memory = ["name", "base", "size"]
    static let device = ["name", "type", "reg", "at", "irq", "properties"]
    static let boot = ["firmware", "kernel", "initrd", "append", "stdout"]
}

/// Turns a Yams node tree into a `Board`, reporting structural problems.
private final class BoardParser {
    let diagnostics: BoardDiagnostics
    let catalog: DeviceTypeCatalog
    let extraDeviceTypes: Set<String>

    /// A constructor without maps: board nodes are only read as text (see `parse`).
    static var constructor: Constructor { Constructor([:], [:], [:]) }

    init(diagnostics: BoardDiagnostics, catalog: DeviceTypeCatalog, extraDeviceTypes: Set<String>) {
        self.diagnostics = diagnostics
        self.catalog = catalog
        self.extraDeviceTypes = extraDeviceTypes
    }

    /// The board, possibly incomplete when errors were reported; nil when nothing usable parsed.
    func parse(_ text: String, path: String) -> Board? {
        guard let root = Self.recall(text) ?? compose(text) else { return nil }
        guard let mapping = root.mapping else {
            diagnostics.error("a board file must be a mapping with the keys name, harts, memory, devices and boot", at: location(root))
            return nil
        }
        let fields = self.fields(of: mapping, allowed: BoardKeys.top, required: ["name", "harts", "memory"], context: nil)

        let name = fields["name"].flatMap { scalar($0.value, key: "name") }?.text ?? ""
        var board = Board(name: name, sourcePath: path,
                          harts: BoardHarts(count: 1, isa: "rv64i", extensions: ["i"], mmu: .sv39, timebaseFrequency: 10_000_000),
                          memory: [])
        if let description = fields["description"].flatMap({ scalar($0.value, key: "description") }) {
            board.description = description.text
        }
        if let model = fields["model"].flatMap({ scalar($0.value, key: "model") }) {
            board.model = model.text
        }
        if let compatible = fields["compatible"] {
            board.compatible = stringList(compatible.value, key: "compatible")
        }
        if let harts = fields["harts"] {
            board.harts = parseHarts(harts.value) ?? board.harts
        }
        if let memory = fields["memory"] {
            board.memory = parseMemory(memory.value)
        }
        if let devices = fields["devices"] {
            board.devices = parseDevices(devices.value)
        }
        if let boot = fields["boot"] {
            board.boot = parseBoot(boot.value)
        }
        if let plugins = fields["plugins"] {
            board.plugins = parsePlugins(plugins.value, path: path)
        }
        return board
    }

    /// The YAML tree of `text`, remembered for `recall`; nil, with the error reported, when it
    /// nests too deep, does not parse or is empty.
    private func compose(_ text: String) -> Node? {
        if let deep = YAMLNesting.firstTooDeep(text) {
            diagnostics.error("nesting deeper than \(YAMLNesting.limit) levels", at: deep)
            return nil
        }
        let root: Node?
        do {
            // `.basic`: every scalar is read as text and interpreted by the board schema, so
            // Yams's default tag resolver (seven ICU regular expressions compiled on first use,
            // about a millisecond of every start) would be paid for nothing. For the same
            // reason the constructor (which turns nodes into Swift values) has no maps: nothing
            // here asks for one, and Yams's default maps are built on first use. The encoding is
            // Yams's default for Swift strings, named so that Yams does not read the process's
            // whole environment (for YAMS_DEFAULT_ENCODING) to find it.
            root = try Yams.compose(yaml: text, .basic, Self.constructor, .utf8)
        } catch let error as YamlError {
            reportSyntax(error)
            return nil
        } catch {
            diagnostics.error("YAML: \(error)", at: nil)
            return nil
        }
        guard let root else {
            diagnostics.error("the board file is empty", at: SourceLocation(line: 1, column: 1))
            return nil
        }
        Self.remember(text, root)
        return root
    }

    /// The last text composed without error and its tree. `backplane run` reads its board twice,
    /// its `plugins:` first and then the whole board with the types they registered; composing
    /// it once saves a few percent of a trivial run's start-up (docs/jit.md, Start-up).
    nonisolated(unsafe) private static var lastComposed: (text: String, root: Node)?
    private static let lastComposedLock = NSLock()

    private static func recall(_ text: String) -> Node? {
        lastComposedLock.lock()
        defer { lastComposedLock.unlock() }
        guard let lastComposed, lastComposed.text == text else { return nil }
        return lastComposed.root
    }

    private static func remember(_ text: String, _ root: Node) {
        lastComposedLock.lock()
        lastComposed = (text, root)
        lastComposedLock.unlock()
    }

    /// Only the `plugins:` list of a board file (read before the rest, whose device types
    /// the plugins may provide); nil when the file does not parse as YAML.
    func parsePluginsOnly(_ text: String, path: String) -> [BoardPlugin]? {
        // Errors are reported by the whole board's parse, which follows.
        guard let root = Self.recall(text) ?? BoardParser(diagnostics: BoardDiagnostics(path: path), catalog: catalog,
                                                           extraDeviceTypes: extraDeviceTypes).compose(text),
              let mapping = root.mapping else { return nil }
        guard let node = mapping["plugins"] else { return [] }
        return parsePlugins(node, path: path)
    }

    /// `plugins:` entries: `- PATH` or `- {path: PATH, args: {key: value}}`; a relative path
    /// is relative to the board file's folder.
    func parsePlugins(_ node: Node, path boardPath: String) -> [BoardPlugin] {
        guard let sequence = sequence(node, key: "plugins") else { return [] }
        let folder = (boardPath as NSString).deletingLastPathComponent
        func resolve(_ text: String) -> String {
            text.hasPrefix("/") || folder.isEmpty ? text : (folder as NSString).appendingPathComponent(text)
        }
        var plugins: [BoardPlugin] = []
        for (index, item) in sequence.enumerated() {
            if let scalar = item.scalar {
                plugins.append(BoardPlugin(path: resolve(scalar.string), location: location(item)))
                continue
            }
            guard let mapping = mapping(item, key: "plugin #\(index + 1)", plural: false) else { continue }
            let fields = self.fields(of: mapping, allowed: BoardKeys.plugin, required: ["path"], context: "plugin #\(index + 1)")
            guard let pathValue = fields["path"].flatMap({ scalar($0.value, key: "path") }) else { continue }
            var plugin = BoardPlugin(path: resolve(pathValue.text), location: location(item))
            if let args = fields["args"], let argsMapping = self.mapping(args.value, key: "args") {
                for (key, value) in argsMapping {
                    guard let keyText = scalar(key, key: "args")?.text, let valueText = scalar(value, key: keyText)?.text else { continue }
                    plugin.arguments.append(BoardPluginArgument(key: keyText, value: valueText))
                }
            }
            plugins.append(plugin)
        }
        return plugins
    }

    // MARK: Sections

    private func parseHarts(_ node: Node) -> BoardHarts? {
        guard let mapping = mapping(node, key: "harts") else { return nil }
        let fields = self.fields(of: mapping, allowed: BoardKeys.harts, required: ["isa", "mmu", "timebase-frequency"], context: "'harts'")
        var harts = BoardHarts(count: 1, isa: "rv64i", extensions: ["i"], mmu: .sv39, timebaseFrequency: 10_000_000)
        if let count = fields["count"], let value = scalar(count.value, key: "count") {
            if let number = number(value, what: "hart count", allowSuffix: false) {
                // Out-of-range counts are reported by validate(); keep the value so it can say which.
                harts.count = Int(clamping: number)
                harts.countLocation = value.location
            }
        }
        if let isa = fields["isa"], let value = scalar(isa.value, key: "isa") {
            switch ISAString.parse(value.text) {
            case .success(let parsed):
                harts.isa = parsed.canonical
                harts.extensions = parsed.extensions
            case .failure(let errors):
                for message in errors.messages { diagnostics.error(message, at: value.location) }
            }
        }
        if let mmu = fields["mmu"], let value = scalar(mmu.value, key: "mmu") {
            if let mode = MMUMode(rawValue: value.text.lowercased()) {
                harts.mmu = mode
            } else {
                diagnostics.error("unknown mmu '\(value.text)'; expected 'sv39' or 'sv48'", at: value.location)
            }
        }
        if let timebase = fields["timebase-frequency"], let value = scalar(timebase.value, key: "timebase-frequency") {
            if let frequency = number(value, what: "timebase-frequency", allowSuffix: false) {
                if frequency == 0 || frequency > UInt64(UInt32.max) {
                    // The device tree property is one cell.
                    diagnostics.error("timebase-frequency \(frequency) is out of range 1...\(UInt32.max)", at: value.location)
                } else {
                    harts.timebaseFrequency = frequency
                }
            }
        }
        if let ips = fields["ips"], let value = scalar(ips.value, key: "ips") {
            if let rate = number(value, what: "ips", allowSuffix: false) {
                // At least one instruction per mtime tick, so the timebase never stands still
                // while a hart runs; at most 10^12 (a nanosecond of time is then 1000 units).
                if rate < harts.timebaseFrequency || rate > 1_000_000_000_000 {
                    diagnostics.error("ips \(rate) is out of range \(harts.timebaseFrequency)...1000000000000 (at least timebase-frequency)", at: value.location)
                } else {
                    harts.instructionsPerSecond = rate
                }
            }
        }
        return harts
    }

    private func parseMemory(_ node: Node) -> [BoardMemoryRegion] {
        guard let sequence = sequence(node, key: "memory") else { return [] }
        if sequence.isEmpty {
            diagnostics.error("'memory' needs at least one region", at: location(node))
        }
        var regions: [BoardMemoryRegion] = []
        for (index, item) in sequence.enumerated() {
            guard let mapping = mapping(item, key: "memory region #\(index + 1)", plural: false) else { continue }
            let name = mapping["name"].flatMap { $0.scalar?.string }
            let context = name.map { "memory region '\($0)'" } ?? "memory region #\(index + 1)"
            let fields = self.fields(of: mapping, allowed: BoardKeys.memory, required: BoardKeys.memory, context: context)
            guard let nameValue = fields["name"].flatMap({ scalar($0.value, key: "name") }),
                  let baseValue = fields["base"].flatMap({ scalar($0.value, key: "base") }),
                  let sizeValue = fields["size"].flatMap({ scalar($0.value, key: "size") }) else { continue }
            let base = number(baseValue, what: "address", allowSuffix: false)
            let size = number(sizeValue, what: "size", allowSuffix: true)
            guard let base, let size else { continue }
            regions.append(BoardMemoryRegion(name: nameValue.text, base: base, size: size,
                                             location: location(item), sizeLocation: sizeValue.location))
        }
        return regions
    }

    private func parseDevices(_ node: Node) -> [BoardDevice] {
        guard let sequence = sequence(node, key: "devices") else { return [] }
        var devices: [BoardDevice] = []
        for (index, item) in sequence.enumerated() {
            guard let mapping = mapping(item, key: "device #\(index + 1)", plural: false) else { continue }
            let name = mapping["name"].flatMap { $0.scalar?.string }
            let context = name.map { "device '\($0)'" } ?? "device #\(index + 1)"
            let fields = self.fields(of: mapping, allowed: BoardKeys.device, required: ["name", "type"], context: context)
            guard let nameValue = fields["name"].flatMap({ scalar($0.value, key: "name") }) else { continue }
            // A device without a type is kept (type "") so references to it do not cascade into
            // more errors; the missing key is already reported.
            let typeValue = fields["type"].flatMap { scalar($0.value, key: "type") }
            var device = BoardDevice(name: nameValue.text, type: typeValue?.text ?? "", location: location(item))
            device.typeLocation = typeValue?.location
            if let reg = fields["reg"] {
                device.regLocation = location(reg.value)
                if let (base, size) = parseReg(reg.value) {
                    device.base = base
                    device.size = size
                }
            }
            if let at = fields["at"] {
                device.atLocation = location(at.value)
            }
            if let at = fields["at"], let value = scalar(at.value, key: "at") {
                if let port = BoardUSBPort.parse(value.text, location: value.location) {
                    device.usbPort = port
                } else if let address = BoardPCIAddress.parse(value.text, location: value.location) {
                    device.pciAddress = address
                } else {
                    diagnostics.error("invalid PCI address '\(value.text)'; expected BUS/DEVICE.FUNCTION such as 'pcie0/02.0'", at: value.location)
                }
            }
            if let irq = fields["irq"] {
                device.irqs = parseIRQs(irq.value)
            }
            let spec = catalog.spec(named: device.type)
            if let spec {
                device.properties = parseProperties(fields["properties"]?.value, spec: spec, device: device.name, at: location(item))
            } else if extraDeviceTypes.contains(device.type), let properties = fields["properties"] {
                device.properties = parseFreeProperties(properties.value)
            }
            devices.append(device)
        }
        return devices
    }

    private func parseReg(_ node: Node) -> (UInt64, UInt64)? {
        guard let items = node.sequence, items.count == 2 else {
            diagnostics.error("'reg' must be a list [BASE, SIZE]", at: location(node))
            return nil
        }
        let baseValue = scalar(items[0], key: "reg")
        let sizeValue = scalar(items[1], key: "reg")
        let base = baseValue.flatMap { number($0, what: "address", allowSuffix: false) }
        let size = sizeValue.flatMap { number($0, what: "size", allowSuffix: true) }
        guard let base, let size else { return nil }
        return (base, size)
    }

    private func parseIRQs(_ node: Node) -> [IRQReference] {
        let items: [Node]
        if let sequence = node.sequence {
            items = Array(sequence)
        } else {
            items = [node]
        }
        var irqs: [IRQReference] = []
        for item in items {
            guard let value = scalar(item, key: "irq") else { continue }
            let parts = value.text.split(separator: "@", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty,
                  case .success(let source) = BoardNumber.parse(String(parts[1]), allowSuffix: false),
                  source <= UInt64(UInt32.max) else {
                diagnostics.error("invalid irq '\(value.text)'; expected CONTROLLER@SOURCE such as 'plic0@10'", at: value.location)
                continue
            }
            irqs.append(IRQReference(controller: String(parts[0]), source: UInt32(source), location: value.location))
        }
        return irqs
    }

    private func parseProperties(_ node: Node?, spec: DeviceTypeSpec, device: String, at deviceLocation: SourceLocation?) -> [String: BoardValue] {
        var values: [String: BoardValue] = [:]
        if let node, let mapping = mapping(node, key: "properties") {
            let names = spec.properties.map(\.name)
            for (key, valueNode) in mapping {
                guard let keyName = scalar(key, key: "properties")?.text else { continue }
                guard let property = spec.property(named: keyName) else {
                    let message: String
                    if names.isEmpty {
                        message = "unknown property '\(keyName)': device type '\(spec.name)' takes no properties"
                    } else if let near = nearest(keyName, in: names) {
                        message = "unknown property '\(keyName)' for device type '\(spec.name)'; did you mean '\(near)'?"
                    } else {
                        message = "unknown property '\(keyName)' for device type '\(spec.name)'; expected one of: \(names.joined(separator: ", "))"
                    }
                    diagnostics.error(message, at: location(key))
                    continue
                }
                guard let value = scalar(valueNode, key: keyName) else { continue }
                if values[keyName] != nil {
                    diagnostics.error("duplicate key '\(keyName)'", at: location(key))
                    continue
                }
                switch property.parse(value.text) {
                case .success(let parsed): values[keyName] = parsed
                case .failure(let error): diagnostics.error(error.description, at: value.location)
                }
            }
        }
        for property in spec.properties where values[property.name] == nil {
            if let defaultValue = property.defaultValue {
                values[property.name] = defaultValue
            } else if values[property.name] == nil, !(node?.mapping?.keys.contains { $0.scalar?.string == property.name } ?? false) {
                // Required (no default) and not given at all; a given but invalid value is already reported.
                diagnostics.error("missing required property '\(property.name)' in device '\(device)'", at: deviceLocation)
            }
        }
        return values
    }

    /// Properties of a run-time registered type: kept as written, numbers as integers.
    private func parseFreeProperties(_ node: Node) -> [String: BoardValue] {
        guard let mapping = mapping(node, key: "properties") else { return [:] }
        var values: [String: BoardValue] = [:]
        for (key, valueNode) in mapping {
            guard let keyName = scalar(key, key: "properties")?.text, let value = scalar(valueNode, key: keyName) else { continue }
            if case .success(let number) = BoardNumber.parse(value.text, allowSuffix: false) {
                values[keyName] = .integer(number)
            } else if ["true", "false"].contains(value.text) {
                values[keyName] = .boolean(value.text == "true")
            } else {
                values[keyName] = .string(value.text)
            }
        }
        return values
    }

    private func parseBoot(_ node: Node) -> BoardBoot {
        var boot = BoardBoot()
        guard let mapping = mapping(node, key: "boot") else { return boot }
        let fields = self.fields(of: mapping, allowed: BoardKeys.boot, required: [], context: "'boot'")
        func path(_ key: String) -> String? {
            guard let value = fields[key].flatMap({ scalar($0.value, key: key) }) else { return nil }
            return value.text == "none" || value.text.isEmpty ? nil : value.text
        }
        boot.firmware = path("firmware")
        boot.kernel = path("kernel")
        boot.initrd = path("initrd")
        boot.append = fields["append"].flatMap { scalar($0.value, key: "append") }?.text ?? ""
        if let stdout = fields["stdout"].flatMap({ scalar($0.value, key: "stdout") }) {
            boot.stdout = stdout.text
            boot.stdoutLocation = stdout.location
        }
        return boot
    }

    // MARK: Node helpers

    struct Scalar {
        let text: String
        let location: SourceLocation?
    }

    private func location(_ node: Node) -> SourceLocation? {
        node.mark.map { SourceLocation(line: $0.line, column: $0.column) }
    }

    private func kindName(_ node: Node) -> String {
        switch node {
        case .scalar: return "a value"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        }
    }

    private func scalar(_ node: Node, key: String) -> Scalar? {
        guard let scalar = node.scalar else {
            diagnostics.error("'\(key)' must be a single value, not \(kindName(node))", at: location(node))
            return nil
        }
        return Scalar(text: scalar.string, location: location(node))
    }

    private func mapping(_ node: Node, key: String, plural: Bool = true) -> Node.Mapping? {
        guard let mapping = node.mapping else {
            let subject = plural ? "'\(key)'" : key
            diagnostics.error("\(subject) must be a mapping of keys, not \(kindName(node))", at: location(node))
            return nil
        }
        return mapping
    }

    private func sequence(_ node: Node, key: String) -> Node.Sequence? {
        guard let sequence = node.sequence else {
            diagnostics.error("'\(key)' must be a list, not \(kindName(node))", at: location(node))
            return nil
        }
        return sequence
    }

    private func stringList(_ node: Node, key: String) -> [String] {
        if let sequence = node.sequence {
            return sequence.compactMap { scalar($0, key: key)?.text }
        }
        return scalar(node, key: key).map { [$0.text] } ?? []
    }

    private func number(_ value: Scalar, what: String, allowSuffix: Bool) -> UInt64? {
        switch BoardNumber.parse(value.text, allowSuffix: allowSuffix) {
        case .success(let number):
            return number
        case .failure(.notANumber):
            let example = allowSuffix ? "4096, 0x1000 or 4K" : "4096 or 0x1000"
            diagnostics.error("invalid \(what) '\(value.text)'; expected a number such as \(example)", at: value.location)
        case .failure(.negative):
            diagnostics.error("\(what) '\(value.text)' is negative", at: value.location)
        case .failure(.tooLarge):
            diagnostics.error("\(what) '\(value.text)' does not fit in 64 bits", at: value.location)
        }
        return nil
    }

    /// The keys of `mapping` by name, after reporting unknown, duplicate and missing keys.
    private func fields(of mapping: Node.Mapping, allowed: [String], required: [String], context: String?) -> [String: (key: Node, value: Node)] {
        var result: [String: (key: Node, value: Node)] = [:]
        for (key, value) in mapping {
            guard let name = key.scalar?.string else {
                diagnostics.error("keys must be plain names, not \(kindName(key))", at: location(key))
                continue
            }
            guard allowed.contains(name) else {
                if let near = nearest(name, in: allowed) {
                    diagnostics.error("unknown key '\(name)'; did you mean '\(near)'?", at: location(key))
                } else {
                    diagnostics.error("unknown key '\(name)'; expected one of: \(allowed.joined(separator: ", "))", at: location(key))
                }
                continue
            }
            if let first = result[name] {
                let line = location(first.key).map { " at line \($0.line)" } ?? ""
                diagnostics.error("duplicate key '\(name)'; first given\(line)", at: location(key))
                continue
            }
            result[name] = (key, value)
        }
        for name in required where result[name] == nil {
            diagnostics.error("missing required key '\(name)'" + (context.map { " in \($0)" } ?? ""), at: location(.mapping(mapping)))
        }
        return result
    }

    private func reportSyntax(_ error: YamlError) {
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _), let .composer(context, problem, mark, _):
            let while_ = context.map { " (\($0.text))" } ?? ""
            diagnostics.error("YAML syntax: \(problem)\(while_)", at: SourceLocation(line: mark.line, column: mark.column))
        case let .reader(problem, offset, _, _):
            diagnostics.error("YAML: \(problem)" + (offset.map { " at byte \($0)" } ?? ""), at: nil)
        default:
            diagnostics.error("YAML: \(error)", at: nil)
        }
    }
}

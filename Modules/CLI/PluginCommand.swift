import ArgumentParser
import Foundation
import PluginHost

/// `backplane plugin new|info`: what a plugin author needs beside the installed SDK
/// (scripts/install.sh, docs/plugins.md "Installing the SDK").
struct PluginCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugin", abstract: "Write a plugin skeleton or describe a built plugin.",
        subcommands: [PluginNew.self, PluginInfo.self])
}

struct PluginNew: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new",
        abstract: "Write a buildable plugin skeleton: C source, Makefile (pkg-config), board file and a bare-metal guest program.")

    @Argument(help: "Plugin name: lower-case letters, digits and '_' (also the folder written).")
    var name: String

    @Option(help: ArgumentHelp("The bus the device sits on.", valueName: "pci|usb|platform"))
    var bus: String

    @Option(name: .shortAndLong, help: ArgumentHelp("Folder to write (default: ./NAME).", valueName: "DIR"))
    var directory: String?

    func run() throws {
        guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }), name.first!.isLetter else {
            fail("plugin new: '\(name)' is not a plugin name; use lower-case letters, digits and '_', starting with a letter")
        }
        guard let kind = PluginSkeleton.Bus(rawValue: bus) else {
            fail("plugin new --bus: '\(bus)' is not pci, usb or platform")
        }
        let folder = URL(fileURLWithPath: directory ?? name)
        if FileManager.default.fileExists(atPath: folder.path) {
            let contents = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            if !contents.isEmpty { fail("plugin new: '\(folder.path)' exists and is not empty") }
        }
        do {
            for file in PluginSkeleton(name: name, bus: kind).files {
                let url = folder.appendingPathComponent(file.path)
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                guard FileManager.default.createFile(atPath: url.path, contents: Data(file.text.utf8)) else {
                    fail("plugin new: cannot write '\(url.path)'")
                }
            }
        } catch { fail("plugin new: \(error.localizedDescription)") }
        print("wrote \(folder.path): `make` builds lib\(name).so and guest.elf, `make run` runs the guest on board.yaml")
    }
}

struct PluginInfo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Load a plugin and print its name, ABI version, uses, exports, callbacks and device types.")

    @Argument(help: "The plugin's shared library.")
    var library: String

    @Option(name: .customLong("plugin"), help: ArgumentHelp("Another plugin it uses (repeatable).", valueName: "PATH[,key=value...]"))
    var plugins: [String] = []

    func run() throws {
        var requests: [PluginRequest] = []
        for text in plugins + [library] {
            do { requests.append(try PluginRequest.parse(text)) } catch { fail("\(error)") }
        }
        let host = PluginHost()
        defer { host.shutdown() }
        do { try host.load(requests) } catch { fail("\(error)") }
        let target = URL(fileURLWithPath: requests.last!.path).standardizedFileURL.path
        guard let plugin = host.plugins.first(where: { URL(fileURLWithPath: $0.path).standardizedFileURL.path == target }) else {
            fail("plugin info: '\(library)' did not load")
        }
        print(PluginInfo.describe(plugin, in: host), terminator: "")
    }

    /// The text `plugin info` prints.
    static func describe(_ plugin: LoadedPlugin, in host: PluginHost) -> String {
        var lines = ["name: \(plugin.name)", "path: \(plugin.path)", "abi: \(plugin.abiMajor).\(plugin.abiMinor) (this backplane: \(PluginHost.abiMajor).\(PluginHost.abiMinor))"]
        if !plugin.summary.isEmpty { lines.append("summary: \(plugin.summary)") }
        lines.append("uses: " + (plugin.uses.isEmpty ? "(none)" : plugin.uses.joined(separator: ", ")))
        let exports = host.qpp.exports(of: plugin.name)
        lines.append("exports: " + (exports.isEmpty ? "(none)" : exports.map { "\($0.name) \"\($0.signature)\"" }.joined(separator: ", ")))
        let callbacks = host.qpp.callbackNames(of: plugin.name)
        lines.append("callbacks: " + (callbacks.isEmpty ? "(none)" : callbacks.joined(separator: ", ")))
        var types: [(String, String, String, [PluginProperty])] = []
        // ABI 1.3: a type without save/restore hooks makes a snapshot of its machine refuse.
        func snapshot(_ hooks: Bool) -> String { hooks ? ", snapshot hooks" : ", no snapshot hooks" }
        for type in host.pciTypes where type.plugin === plugin {
            let bars = type.bars.enumerated().compactMap { index, bar in bar.map { "BAR\(index) 0x\(String($0.size, radix: 16))" } }
            types.append((type.name, "PCI \(String(format: "%04x:%04x", type.identity.vendorID, type.identity.deviceID)), \(bars.joined(separator: ", "))\(snapshot(type.hasSnapshotHooks))",
                          type.summary, type.properties))
        }
        for type in host.platformTypes where type.plugin === plugin {
            types.append((type.name, "platform, compatible \"\(type.compatible)\", at least 0x\(String(type.minimumSize, radix: 16)) bytes, \(type.irqCount.lowerBound)...\(type.irqCount.upperBound) IRQs\(snapshot(type.hasSnapshotHooks))",
                          type.summary, type.properties))
        }
        for type in host.usbTypes where type.plugin === plugin {
            types.append((type.name, "USB, speeds " + type.speeds.sorted().map(\.description).joined(separator: ", ") + snapshot(type.hasSnapshotHooks),
                          type.summary, type.properties))
        }
        lines.append("device types:" + (types.isEmpty ? " (none)" : ""))
        for (name, shape, summary, properties) in types {
            lines.append("  \(name) (\(shape))" + (summary.isEmpty ? "" : ": \(summary)"))
            for property in properties {
                let kind: String
                switch property.kind {
                case .integer: kind = "integer"
                case .string: kind = "string"
                case .boolean: kind = "boolean"
                }
                let value = property.defaultValue.map { "default \($0)" } ?? "required"
                lines.append("    \(property.name) (\(kind), \(value))" + (property.summary.isEmpty ? "" : ": \(property.summary)"))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

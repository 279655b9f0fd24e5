import Foundation
import Machine
import PluginHost

/// The board file's `plugins:` then every `--plugin PATH[,key=value...]`, loaded, ordered and
/// installed, and the catalog with their device types. Any error stops here (exit status 2),
/// before a guest starts (docs/plugins.md "Lifecycle").
func loadPlugins(board: String, plugins: [String]) -> (PluginHost, DeviceTypeCatalog) {
    var requests: [PluginRequest] = []
    if let path = isBoardPath(board) ? board : Board.bundledPath(name: board) {
        do {
            for plugin in try BoardLoader.plugins(path: path) {
                requests.append(PluginRequest(path: plugin.path, arguments: plugin.arguments.map { ($0.key, $0.value) }))
            }
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            exit(2)
        }
    }
    for text in plugins {
        do { requests.append(try PluginRequest.parse(text)) } catch { fail("\(error)") }
    }
    let host = PluginHost()
    do { try host.load(requests) } catch {
        // The board's own mistakes are still worth reporting: check it without the plugins'
        // types (errors about those types are the plugin's fault, already being reported).
        if let path = isBoardPath(board) ? board : Board.bundledPath(name: board) {
            do { _ = try BoardLoader.load(path: path) } catch let errors {
                for other in errors.errors where !other.message.hasPrefix("unknown device type") {
                    FileHandle.standardError.write(Data("\(other)\n".utf8))
                }
            }
        }
        fail("\(error)")
    }
    do { return (host, try DeviceTypeCatalog.builtIn.registering(pluginTypes: host)) } catch { fail("\(error)") }
}

/// The board with every `--device` added, each checked as it is added: an error names the
/// option and its text ("--device 'edu,at=pcie0/33.0': ..."), never the board file it was
/// added to (for a bundled board that is a path inside the build's resource bundle).
func addDevices(_ devices: [String], to board: Board, catalog: DeviceTypeCatalog) -> Board {
    var board = board
    for text in devices {
        do {
            board = try board.addingDevice(text, catalog: catalog)
            try board.validate(catalog: catalog)
        } catch let error as MachineError {
            fail(error.description.hasPrefix("--device ") ? error.description : "--device '\(text)': \(error.reason)")
        } catch let errors as BoardErrors {
            // Validation of the board with the device: each problem is the option's, not a line
            // of the board file.
            for error in errors.errors.dropLast() {
                FileHandle.standardError.write(Data("backplane: error: --device '\(text)': \(error.message)\n".utf8))
            }
            fail("--device '\(text)': \(errors.errors.last?.message ?? "\(errors)")")
        } catch {
            fail("--device '\(text)': \(error)")
        }
    }
    return board
}

/// Where PCI functions and USB devices sit (`backplane check`): they have no fixed registers,
/// so the memory map alone does not show them.
func placementReport(_ board: Board) -> String {
    var lines: [String] = []
    for device in board.devices {
        if let address = device.pciAddress { lines.append("  \(device.name) (\(device.type)) at \(address)") }
        if let port = device.usbPort { lines.append("  \(device.name) (\(device.type)) at \(port)") }
    }
    return lines.isEmpty ? "" : "placement:\n" + lines.joined(separator: "\n") + "\n"
}

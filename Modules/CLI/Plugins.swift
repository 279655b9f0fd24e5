import Foundation
import Machine
import PluginHost

/// The board file's `plugins:` then every `--plugin PATH[,key=value...]`, loaded, ordered and
/// installed, and the catalog with their device types. Any error stops here (exit status 2),
/// before a guest starts (docs/plugins.md "Lifecycle").
func loadPlugins(board: String, plugins: [String], externalMode: ExternalInputMode = .live) -> (PluginHost, DeviceTypeCatalog) {
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
    // Plugins ask in install whether to open their outside sources (plugin.h external->mode).
    host.externalMode = externalMode
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
/// option, its text and the column of the key at fault ("--device #2 'edu,at=pcie0/33.0', column
/// 5: ..."), never the board file it was added to (for a bundled board that is a path inside the
/// build's resource bundle).
func addDevices(_ devices: [String], to board: Board, catalog: DeviceTypeCatalog) -> Board {
    var board = board
    for (index, text) in devices.enumerated() {
        do {
            board = try board.addingDevice(text, catalog: catalog, option: index + 1)
            try board.validate(catalog: catalog)
        } catch let error as MachineError {
            fail(error.description.hasPrefix("--device ") ? error.description : "--device #\(index + 1) '\(text)': \(error.reason)")
        } catch let errors as BoardErrors {
            // Validation of the board with the device: each problem is the option's, not a line
            // of the board file.
            for error in errors.errors.dropLast() {
                let place = deviceOptionPlace(error.location, devices: devices) ?? "--device #\(index + 1) '\(text)'"
                FileHandle.standardError.write(Data("backplane: error: \(place): \(error.message)\n".utf8))
            }
            let last = errors.errors.last
            let place = deviceOptionPlace(last?.location, devices: devices) ?? "--device #\(index + 1) '\(text)'"
            fail("\(place): \(last?.message ?? "\(errors)")")
        } catch {
            fail("--device #\(index + 1) '\(text)': \(error)")
        }
    }
    return board
}

/// "--device #N 'TEXT', column C" for a place in the text of a `--device` option, nil for any
/// other place.
func deviceOptionPlace(_ location: SourceLocation?, devices: [String]) -> String? {
    guard let location, let option = location.option, option >= 1, option <= devices.count else { return nil }
    return "--device #\(option) '\(devices[option - 1])', column \(location.column)"
}

/// A machine-building error about a device added with `--device`, placed at the option instead of
/// the board file (whose name would point at a line that does not hold the device); nil for any
/// other error.
func deviceOptionError(_ error: any Error, board: Board, devices: [String]) -> String? {
    guard let error = error as? MachineError else { return nil }
    var location = error.location
    // Errors raised by a device's lifecycle name the device but no place.
    if location == nil, let name = error.device { location = board.device(named: name)?.location }
    guard let place = deviceOptionPlace(location, devices: devices) else { return nil }
    return "\(place): " + (error.device.map { "device '\($0)': \(error.reason)" } ?? error.reason)
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

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
    do { try host.load(requests) } catch { fail("\(error)") }
    do { return (host, try DeviceTypeCatalog.builtIn.registering(pluginTypes: host)) } catch { fail("\(error)") }
}

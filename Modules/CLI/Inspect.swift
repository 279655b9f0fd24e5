import ArgumentParser
import Foundation
import Devices
import Machine

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a board and print its memory map and IRQ wiring.")

    @Argument(help: "A bundled board name or a path to a board file.")
    var board: String

    @Option(help: ArgumentHelp("Number of harts.", valueName: "N"))
    var smp: Int?

    @Option(help: ArgumentHelp("RAM size of the first memory region.", valueName: "SIZE"))
    var memory: String?

    @Option(name: .customLong("plugin"), help: ArgumentHelp("Load a plugin for its device types (repeatable).", valueName: "PATH[,key=value...]"))
    var plugins: [String] = []

    @Option(name: .customLong("device"),
            help: ArgumentHelp("Add a device as `run --device` does (repeatable).", valueName: "TYPE,key=value..."))
    var devices: [String] = []

    func run() throws {
        let (host, catalog) = loadPlugins(board: self.board, plugins: plugins)
        defer { host.shutdown() }
        let loaded = addDevices(devices, to: loadBoard(self.board, catalog: catalog), catalog: catalog)
        let board = applyOverrides(loaded, harts: smp, memory: memory, catalog: catalog)
        print(BoardReport(board).text + placementReport(board), terminator: "")
    }
}

struct DTB: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dtb", abstract: "Write the device tree generated from a board.")

    @Argument(help: "A bundled board name or a path to a board file.")
    var board: String

    @Option(name: .shortAndLong, help: ArgumentHelp("Output file (default: standard output).", valueName: "FILE"))
    var output: String?

    @Flag(help: "Write source (DTS, through dtc) instead of a blob.")
    var dts = false

    @Option(help: ArgumentHelp("Kernel command line for /chosen/bootargs.", valueName: "ARGS"))
    var append: String?

    @Option(help: ArgumentHelp("Number of harts.", valueName: "N"))
    var smp: Int?

    @Option(help: ArgumentHelp("RAM size of the first memory region.", valueName: "SIZE"))
    var memory: String?

    @Option(name: .customLong("plugin"), help: ArgumentHelp("Load a plugin for its device types (repeatable).", valueName: "PATH[,key=value...]"))
    var plugins: [String] = []

    func run() throws {
        let (host, catalog) = loadPlugins(board: self.board, plugins: plugins)
        defer { host.shutdown() }
        let board = applyOverrides(loadBoard(self.board, catalog: catalog), harts: smp, memory: memory, catalog: catalog)
        var bytes: [UInt8]
        do {
            bytes = try DeviceTreeGenerator.generate(board: board, bootArgs: append ?? board.boot.append, catalog: catalog)
            if dts { bytes = Array(try DeviceTreeGenerator.toDTS(bytes).utf8) }
        } catch { fail("\(error)") }
        if let output {
            // In place, never through a temporary renamed over the target (OutputFile).
            signal(SIGPIPE, SIG_IGN)
            do { try OutputFile.write(output, bytes: bytes) } catch { fail("-o: \(error)") }
        } else {
            FileHandle.standardOutput.write(Data(bytes))
        }
    }
}

struct Boards: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "boards", abstract: "List the bundled boards.")

    func run() throws {
        for name in Board.bundledNames {
            let description = (try? Board.bundled(name: name).description) ?? "(does not load: run `backplane check \(name)`)"
            print("\(name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(description)")
        }
    }
}

import ArgumentParser
import Foundation
import Machine

/// `backplane`: run, check and describe boards.
///
/// Every command names itself (`commandName`): otherwise ArgumentParser derives the name with
/// `String(describing:)`, whose dynamic casts scan every protocol conformance in the statically
/// linked binary at each start (docs/jit.md, "Start-up").
@main
struct Backplane: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backplane",
        abstract: "A RISC-V machine emulator whose boards are description files.",
        version: BackplaneVersion.string,
        subcommands: [Run.self, Check.self, DTB.self, Boards.self, Host.self, Ctl.self, PluginCommand.self],
        defaultSubcommand: Run.self)

    /// Usage errors exit 2 with one line (not ArgumentParser's 64), as every other user error does.
    static func main() {
        do {
            // `backplane run ...`, the common case, skips the parse of the whole command tree.
            var command: any ParsableCommand = try Run.parseDirectly(Array(CommandLine.arguments.dropFirst())) ?? parseAsRoot()
            try command.run()
        } catch let exit as ExitCode {
            Foundation.exit(exit.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            fail(message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)")
        }
    }
}

/// Prints `backplane: error: MESSAGE` on stderr and exits 2.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("backplane: error: \(message)\n".utf8))
    exit(2)
}

/// A board by bundled name or by path; errors print as the loader formats them (file:line:col).
func loadBoard(_ nameOrPath: String, catalog: DeviceTypeCatalog = .builtIn) -> Board {
    do {
        if isBoardPath(nameOrPath) {
            return try BoardLoader.load(path: nameOrPath, catalog: catalog)
        }
        return try Board.bundled(name: nameOrPath, catalog: catalog)
    } catch {
        FileHandle.standardError.write(Data("\(error)\n".utf8))
        exit(2)
    }
}

/// Whether the board argument names a file rather than a bundled board.
func isBoardPath(_ nameOrPath: String) -> Bool {
    // contains(Character): the String overload is Foundation's range(of:), slower to start.
    nameOrPath.hasSuffix(".yaml") || nameOrPath.hasSuffix(".yml") || nameOrPath.contains("/" as Character)
}

/// Applies `--smp` and `--memory`, then validates the result (an override can make it invalid).
func applyOverrides(_ board: Board, harts: Int?, memory: String?, catalog: DeviceTypeCatalog = .builtIn) -> Board {
    var board = board
    if let harts { board = board.withHarts(count: harts) }
    if let memory {
        guard let size = parseSize(memory) else { fail("--memory: '\(memory)' is not a size (e.g. 256M, 1G)") }
        board = board.withMemory(size: size)
    }
    do { try board.validate(catalog: catalog) } catch {
        FileHandle.standardError.write(Data("\(error)\n".utf8))
        exit(2)
    }
    return board
}

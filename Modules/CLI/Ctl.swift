import ArgumentParser
import Control
import Foundation

/// `backplane ctl PATH COMMAND...`: one command to a running machine's control socket
/// (`run --control unix:PATH`); its output on stdout, an error on stderr with status 1.
struct Ctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ctl",
        abstract: "Send a command to a running machine's control socket.",
        discussion: """
            Commands: info harts|pci|usb|devices|memory, pause, resume, step [N], read ADDR [LEN], \
            write ADDR HEX, usb attach PORT TYPE [key=value...], usb detach PORT, snapshot save FILE, quit, help. \
            See docs/debugging.md.
            """)

    @Argument(help: ArgumentHelp("The socket given to run --control.", valueName: "PATH"))
    var path: String

    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp("The command and its arguments.", valueName: "COMMAND"))
    var command: [String] = []

    @Option(help: ArgumentHelp("Give up waiting for an answer after this many seconds.", valueName: "SECONDS"))
    var timeout: Double = 30

    func run() throws {
        guard !command.isEmpty else { fail("ctl: no command (try 'help')") }
        let socket = path.hasPrefix("unix:") ? String(path.dropFirst(5)) : path
        switch ControlClient.send(command.joined(separator: " "), to: socket, timeout: timeout) {
        case .output(let text):
            FileHandle.standardOutput.write(Data(text.utf8))
        case .failure(let message):
            FileHandle.standardError.write(Data("backplane ctl: \(message)\n".utf8))
            throw ExitCode(1)
        }
    }
}

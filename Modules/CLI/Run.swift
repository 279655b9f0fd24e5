import ArgumentParser
import CPU
import Devices
import Foundation
import GDB
import Machine
import PluginHost
import Trace
import Memory
import IRQ

struct Run: ParsableCommand {
    static var configuration: CommandConfiguration {
        var configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Boot a board.",
            discussion: """
                The exit status is the guest's: sifive_test pass gives 0 and fail the code it carries; an HTIF \
                tohost write of 1 gives 0 and another odd value v gives v >> 1; --timeout expiry gives 124. \
                A bad file or option gives 2. On the terminal console, Ctrl-A X quits.
                """)
        // Only while `parseDirectly` parses: a command with a super-command is one ArgumentParser
        // does not check for `--generate-completion-script` (two trial parses of its own types).
        if parsingDirectly { configuration._superCommandName = "backplane" }
        return configuration
    }

    /// Set only inside `parseDirectly` (the process's first moments, one thread).
    nonisolated(unsafe) private static var parsingDirectly = false

    /// `backplane run ARGS` parsed as `Run` alone, or nil when `arguments` (without the program
    /// name) do not start with `run` or do not parse that way; the caller then parses them
    /// through `Backplane`, which gives every answer (help, version, completion scripts, error
    /// messages) exactly as before. What parses here parses the same there: `Backplane` itself
    /// has no options, and `run` is a leaf command, so the same `Run` type reads the same
    /// arguments. It saves ArgumentParser reflecting over `Backplane`, its command tree and the
    /// completion-script request types at every start (docs/jit.md, Start-up).
    static func parseDirectly(_ arguments: [String]) -> Run? {
        guard arguments.first == "run" else { return nil }
        let rest = Array(arguments.dropFirst())
        // Built-in flags are answered by the full parse, with the whole command stack.
        for argument in rest {
            if argument == "--" { break }
            if argument == "-h" || argument == "--help" || argument == "-help" || argument == "--version"
                || argument.hasPrefix("--experimental") || argument.hasPrefix("--generate-completion") {
                return nil
            }
        }
        parsingDirectly = true
        defer { parsingDirectly = false }
        return try? Run.parse(rest)
    }

    @Argument(help: "A bundled board name (see `backplane boards`) or a path to a board file.")
    var board: String = "virt"

    @Option(help: ArgumentHelp("M-mode firmware to load at the start of RAM, or 'none'.", valueName: "FILE|none"))
    var bios: String?

    @Option(help: ArgumentHelp("Kernel or payload (ELF or raw image).", valueName: "FILE"))
    var kernel: String?

    @Option(help: ArgumentHelp("Initial ramdisk.", valueName: "FILE"))
    var initrd: String?

    @Option(help: ArgumentHelp("Kernel command line.", valueName: "ARGS"))
    var append: String?

    @Option(help: ArgumentHelp("Use this device tree blob instead of the generated one.", valueName: "FILE"))
    var dtb: String?

    @Option(help: ArgumentHelp("RAM size of the board's first memory region (e.g. 256M, 1G).", valueName: "SIZE"))
    var memory: String?

    @Option(help: ArgumentHelp("Number of harts.", valueName: "N"))
    var smp: Int?

    @Option(help: ArgumentHelp("Console: stdio, file:PATH or none.", valueName: "stdio|file:PATH|none"))
    var serial: String = "stdio"

    @Option(help: ArgumentHelp("CPU engine: interp (the reference interpreter) or jit (the default on x86-64 hosts).",
                               valueName: "interp|jit"))
    var accel: String = Accelerator.hostDefault.rawValue

    @Option(help: ArgumentHelp("""
        Trace device events (mmio, pci, dma, irq, usb, plugin, all), optionally only of some devices \
        (pci,dma:nic0), and JIT output (in_asm, out_asm) on stderr.
        """, valueName: "GROUPS[:DEVICES]"))
    var trace: String?

    @Option(help: ArgumentHelp("Write device trace events to this file instead of stderr.", valueName: "FILE"))
    var traceFile: String?

    @Option(help: ArgumentHelp("Device trace lines as text or JSON objects.", valueName: "text|json"))
    var traceFormat: String = "text"

    @Flag(help: "Write /tmp/perf-PID.map naming the JIT's blocks, for perf.")
    var perfMap = false

    @Option(help: ArgumentHelp("Stop after this many seconds of host time (exit status 124).", valueName: "SECONDS"))
    var timeout: Double?

    @Option(help: ArgumentHelp("""
        The machine's clock: virtual (the default: time advances with retired instructions at the board's \
        ips, idle time is skipped, runs are reproducible) or host (the host's monotonic clock, for interactive use; \
        the default for boards with passed-through devices or user networking).
        """, valueName: "virtual|host"))
    var clock: String?

    @Option(help: ArgumentHelp("Record every input from outside (console, plugin external input, usb.host, user networking) with its virtual time to FILE (needs the virtual clock).",
                               valueName: "FILE"))
    var record: String?

    @Option(help: ArgumentHelp("Replay the inputs FILE recorded, at the same virtual times, ignoring new input; exit status 3 and the first difference if the run diverges.",
                               valueName: "FILE"))
    var replay: String?

    @Option(name: .customLong("plugin"),
            help: ArgumentHelp("Load a plugin (repeatable); its install entry receives the key=value arguments.",
                               valueName: "PATH[,key=value...]"))
    var plugins: [String] = []

    @Option(name: .customLong("device"),
            help: ArgumentHelp("Add a device (repeatable): built-in or plugin type, with name=, at=BUS/DD.F, reg=BASE:SIZE, irq=CTRL@N and properties.",
                               valueName: "TYPE[,key=value...]"))
    var devices: [String] = []

    @Option(help: ArgumentHelp("User-mode networking for the board's virtio-net-pci device (virt-linux has one): forwarded ports, repeatable within the option; they listen on 127.0.0.1 only.",
                               valueName: "user[,hostfwd=tcp::HOSTPORT-:GUESTPORT...]"))
    var netdev: String?

    @Option(help: ArgumentHelp("Listen for a GDB client: tcp::PORT (loopback), tcp:HOST:PORT, or a unix socket path.",
                               valueName: "tcp::PORT|unix:PATH"))
    var gdb: String?

    @Flag(help: "With --gdb: stop before the first instruction until the client connects and continues.")
    var gdbWait = false

    @Option(help: ArgumentHelp("Listen for control commands (backplane ctl, docs/debugging.md) on a unix socket.",
                               valueName: "unix:PATH"))
    var control: String?

    @Option(help: ArgumentHelp("Resume from a snapshot saved on the same board with the same options (docs/snapshots.md).",
                               valueName: "FILE"))
    var snapshotLoad: String?

    @Option(help: ArgumentHelp("Save a snapshot to FILE at the first round boundary at or after --snapshot-at (it says when); the run goes on unchanged (docs/snapshots.md).",
                               valueName: "FILE"))
    var snapshotSave: String?

    @Option(help: ArgumentHelp("When to save --snapshot-save: seconds of virtual time (e.g. 0.25), or instructions with a trailing 'i' (e.g. 5000000i).",
                               valueName: "TIME"))
    var snapshotAt: String?


    func run() throws {
        guard let accelerator = Accelerator(rawValue: accel) else { fail("--accel: '\(accel)' is not one of interp, jit") }
        if let clock, clock != "virtual" && clock != "host" { fail("--clock: '\(clock)' is not one of virtual, host") }
        var debug = JITDebugOptions(perfMap: perfMap)
        var deviceTrace = TraceConfiguration()
        if let trace {
            let jitItems: [String]
            do throws(TraceError) { (deviceTrace, jitItems) = try TraceConfiguration.parse(trace) } catch { fail("\(error)") }
            debug.traceGuest = jitItems.contains("in_asm")
            debug.traceHost = jitItems.contains("out_asm")
        }
        guard let format = TraceFormat(rawValue: traceFormat) else { fail("--trace-format: '\(traceFormat)' is not one of text, json") }
        deviceTrace.format = format
        if traceFile != nil && deviceTrace.groups == 0 { fail("--trace-file needs --trace with device event groups") }
        JITDebugOptions.current = debug
        validateTimeout(timeout)
        // A reader that goes away (a FIFO or pipe as --serial file:) is an error on write, not a
        // signal that ends the process.
        signal(SIGPIPE, SIG_IGN)
        // From here on --timeout holds whatever the machine, a plugin or a file open does.
        let watchdog = timeout.map { Watchdog(seconds: $0, restoreTerminal: serial == "stdio") }
        // Before plugins load: their installs are traced too.
        if deviceTrace.groups != 0 {
            var fd: Int32 = 2
            if let traceFile {
                // Written in place like every output file (OutputFile), never replaced.
                do throws(OutputFileError) { fd = try OutputFile.open(traceFile) } catch { fail("--trace-file: \(error)") }
            }
            Trace.configure(deviceTrace, fd: fd)
        }
        // Plugins first: they provide device types the board file may use.
        let (host, catalog) = loadPlugins(board: board, plugins: plugins,
                                          externalMode: record != nil ? .record : replay != nil ? .replay : .live)
        var loaded = addDevices(devices, to: loadBoard(self.board, catalog: catalog), catalog: catalog)
        if let netdev { loaded = applyNetdev(netdev, to: loaded) }
        let board = applyOverrides(loaded, harts: smp, memory: memory, catalog: catalog)

        var boot = BootConfiguration(board: board)
        if let bios { boot.firmware = bios == "none" ? nil : bios }
        if let kernel { boot.kernel = kernel }
        if let initrd { boot.initrd = initrd }
        if let append { boot.append = append }
        boot.dtb = dtb
        // A kernel given on the command line replaces the board's; without firmware the board's
        // default S-mode payload would make no sense.
        if bios == "none" && kernel == nil { boot.kernel = nil }
        // Images must be regular files: /dev/zero never ends, a FIFO blocks, a directory is no image.
        for (option, path) in [("--bios", boot.firmware), ("--kernel", boot.kernel), ("--initrd", boot.initrd), ("--dtb", boot.dtb),
                               ("--replay", replay), ("--snapshot-load", snapshotLoad)] {
            guard let path else { continue }
            do { try InputFile.check(path) } catch { fail("\(option): \(error)") }
        }

        var backend: any SerialBackend
        do { backend = try serial == "stdio" ? StdioSerialBackend.shared : makeSerialBackend(serial) }
        catch { fail("--serial: \(error)") }

        // Virtual unless the board talks to something on the host that keeps host time.
        // A recording or replay runs under the virtual clock unless told otherwise (and refused then).
        let machineClock: Timebase.Clock? = (clock ?? (record != nil || replay != nil || InputJournal.hostInputDevice(in: board) == nil ? "virtual" : "host")) == "host"
            ? .host : nil  // nil: virtual at the board's ips
        var journal: InputJournal?
        if record != nil || replay != nil {
            let option = record != nil ? "--record" : "--replay"
            if record != nil && replay != nil { fail("--record and --replay: one run cannot do both") }
            if machineClock == .host { fail("\(option) needs the virtual clock (drop --clock host)") }
            if let refusal = InputJournal.refusal(for: board) { fail("\(option): \(refusal)") }
            let description = "\(board.name) harts \(board.harts.count) ips \(board.harts.instructionsPerSecond)"
            do throws(JournalError) {
                if let record {
                    journal = try InputJournal(recordingTo: record, machine: description)
                } else if let replay {
                    journal = try InputJournal(replaying: replay, machine: description)
                }
            } catch { fail("\(error)") }
            backend = journal!.wrap(backend)
            host.externalInputs.journal = journal
        }

        let machine: Machine
        do {
            machine = try Machine(board: board, serial: backend, plugins: host, clock: machineClock, journal: journal)
            try machine.boot(boot)
            if let snapshotLoad { try machine.loadSnapshot(from: snapshotLoad) }
        } catch {
            if serial == "stdio" { StdioSerialBackend.restoreTerminal() }
            // RAM the host cannot reserve was asked for by --memory when it was given.
            if let memory, let reservation = (error as? MachineError)?.underlying as? RegionReservationError {
                fail("--memory \(memory): \(reservation)")
            }
            fail(deviceOptionError(error, board: board, devices: devices) ?? "\(error)")
        }
        for hart in machine.harts { hart.accelerator = accelerator }
        if snapshotSave != nil || snapshotAt != nil {
            guard let snapshotSave, let snapshotAt else { fail("--snapshot-save and --snapshot-at go together") }
            guard machine.timebase.isVirtual else { fail("--snapshot-at counts virtual time: drop --clock host (or save through the control socket)") }
            let refusals = machine.snapshotRefusals()
            if !refusals.isEmpty { fail("--snapshot-save: " + refusals.joined(separator: "; ")) }
            let rate = Double(board.harts.instructionsPerSecond)
            let units: UInt64
            if snapshotAt.hasSuffix("i"), let count = UInt64(snapshotAt.dropLast()) {
                units = count
            } else if let seconds = Double(snapshotAt), seconds.isFinite, seconds >= 0, seconds * rate < 1.8e19 {
                units = UInt64((seconds * rate).rounded())
            } else {
                fail("--snapshot-at: '\(snapshotAt)' is neither seconds of virtual time (0.25) nor instructions (5000000i)")
            }
            machine.scheduledSnapshot = ScheduledSnapshot(path: snapshotSave, units: units, asked: snapshotAt)
        }
        if gdbWait && gdb == nil { fail("--gdb-wait needs --gdb") }
        if let gdb {
            let endpoint: GDBEndpoint
            do { endpoint = try GDBEndpoint(parsing: gdb) } catch { fail("\(error)") }
            do throws(MachineError) { try machine.attachGDB(at: endpoint, waitForClient: gdbWait) } catch { fail("\(error)") }
        }
        if let control {
            let path = control.hasPrefix("unix:") ? String(control.dropFirst(5)) : control
            guard !path.isEmpty else { fail("--control: expected unix:PATH") }
            do throws(MachineError) { try machine.attachControl(path: path) } catch { fail("\(error)") }
        }
        let exit = machine.run(timeout: timeout)
        if let scheduled = machine.scheduledSnapshot {
            // The run ended (or stopped for good) before the machine reached the time.
            FileHandle.standardError.write(Data(("backplane: --snapshot-at \(scheduled.asked): the run ended at "
                                                 + "\(machine.timebase.units) instructions of machine time, before it; no snapshot saved\n").utf8))
        }
        watchdog?.finish()
        machine.detachGDB()
        machine.detachControl()
        if serial == "stdio" { StdioSerialBackend.restoreTerminal() }
        host.shutdown()
        if exit == .timeout {
            FileHandle.standardError.write(Data("\nbackplane: timeout after \(timeout ?? 0) s\n".utf8))
        }
        if case .replayDiverged(let message) = exit {
            FileHandle.standardError.write(Data("\nbackplane: \(message)\n".utf8))
        }
        throw ExitCode(exit.status)
    }
}

/// `--netdev user,hostfwd=RULE,...` (QEMU's spelling): the forwarded ports of the board's first
/// virtio-net-pci device, replacing its `hostfwd` property.
func applyNetdev(_ text: String, to board: Board) -> Board {
    let parts = text.split(separator: ",").map(String.init)
    guard parts.first == "user" else { fail("--netdev: '\(parts.first ?? "")' is not a backend (the one backend is 'user')") }
    var rules: [String] = []
    for part in parts.dropFirst() {
        guard part.hasPrefix("hostfwd=") else { fail("--netdev: '\(part)' is not hostfwd=RULE") }
        rules.append(String(part.dropFirst("hostfwd=".count)))
    }
    let joined = rules.joined(separator: ";")
    do { _ = try VirtioNetKind.forwards(joined) } catch { fail("--netdev: \(error)") }
    guard let index = board.devices.firstIndex(where: { $0.type == VirtioNetKind.name }) else {
        fail("--netdev: the board has no virtio-net-pci device (use board virt-linux, or add --device virtio-net-pci,at=pcie0/DD.F)")
    }
    var board = board
    board.devices[index].properties["hostfwd"] = .string(joined)
    return board
}

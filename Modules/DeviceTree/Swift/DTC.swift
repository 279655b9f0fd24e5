import Foundation

/// Runs the Device Tree Compiler (`dtc`, Debian package device-tree-compiler) to decompile a
/// blob to source. Its warnings (stderr) are returned separately so tests can insist on none.
public enum DTC {
    public struct Output: Sendable {
        /// The decompiled source.
        public let dts: String
        /// Everything dtc printed on stderr; empty when the tree passes all its checks.
        public let warnings: String
    }

    public struct Failure: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// `dtc -I dtb -O dts` on `blob`.
    public static func decompile(_ blob: [UInt8], executable: String = "dtc") throws -> Output {
        let directory = FileManager.default.temporaryDirectory
        let input = directory.appendingPathComponent("backplane-\(ProcessInfo.processInfo.processIdentifier)-\(UInt64.random(in: 0...UInt64.max)).dtb")
        let output = input.deletingPathExtension().appendingPathExtension("dts")
        try Data(blob).write(to: input)
        defer {
            try? FileManager.default.removeItem(at: input)
            try? FileManager.default.removeItem(at: output)
        }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable, "-I", "dtb", "-O", "dts", "-o", output.path, input.path]
        // The source goes to a file and only stderr to a pipe, so a large tree cannot fill a
        // pipe nobody is reading.
        let stderr = Pipe()
        process.standardError = stderr
        do {
            try process.run()
        } catch {
            throw Failure(message: "cannot run \(executable): \(error)")
        }
        let errorData = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let warnings = String(decoding: errorData, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw Failure(message: "\(executable) exited with status \(process.terminationStatus): \(warnings)")
        }
        let source = try String(contentsOf: output, encoding: .utf8)
        return Output(dts: source, warnings: warnings)
    }
}

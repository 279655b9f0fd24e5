import Foundation

/// The board files that ship with Backplane (the repository's Boards/ folder, copied next to the
/// binary as the Machine target's resources).
extension Board {
    /// The board `Boards/NAME.yaml`, loaded and validated.
    public static func bundled(name: String, catalog: DeviceTypeCatalog = .builtIn,
                               extraDeviceTypes: Set<String> = []) throws(BoardErrors) -> Board {
        guard let path = bundledPath(name: name) else {
            let names = bundledNames
            let hint = nearest(name, in: names).map { "; did you mean '\($0)'?" }
                ?? "; bundled boards: \(names.joined(separator: ", "))"
            throw BoardErrors([BoardError(path: "\(name).yaml", location: nil, message: "no bundled board named '\(name)'\(hint)")])
        }
        return try BoardLoader.load(path: path, catalog: catalog, extraDeviceTypes: extraDeviceTypes)
    }

    /// Path of `NAME.yaml` in the first boards folder that has it.
    public static func bundledPath(name: String) -> String? {
        // Paths as strings and access(2): every run asks this once or twice, and Foundation's
        // URL and FileManager cost a few percent of a trivial run's start-up (docs/jit.md, Start-up).
        for directory in bundledDirectoryPaths {
            let path = directory + "/" + name + ".yaml"
            if access(path, F_OK) == 0 { return path }
        }
        return nil
    }

    /// Names of every bundled board, sorted.
    public static var bundledNames: [String] {
        var names = Set<String>()
        for directory in bundledDirectoryPaths {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            for file in files where file.hasSuffix(".yaml") { names.insert(String(file.dropLast(5))) }
        }
        return names.sorted()
    }

    /// Where bundled boards are looked for, in order: `$BACKPLANE_BOARDS`; the resource folder
    /// SwiftPM puts next to the executable (`Backplane_Machine.resources/Boards`, found through
    /// `/proc/self/exe` with symlinks resolved); the repository this file was compiled from.
    /// Neither `Bundle.module` (its accessor stops the process when the resource folder is
    /// missing) nor `Bundle.main` (initialising it costs about 5% of a trivial run's start-up)
    /// is used.
    static var bundledDirectoryPaths: [String] {
        var directories: [String] = []
        if let override = getenv("BACKPLANE_BOARDS").map({ String(cString: $0) }), !override.isEmpty {
            // As URL(fileURLWithPath:) took it: relative to the working directory, no trailing "/".
            var path = override.hasPrefix("/") ? override : FileManager.default.currentDirectoryPath + "/" + override
            while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
            directories.append(path)
        }
        let resources = "Backplane_Machine.resources/Boards"
        if let executable = realpath("/proc/self/exe", nil) {
            defer { free(executable) }
            directories.append(parentDirectory(of: String(cString: executable)) + "/" + resources)
        }
        // Modules/Machine/Board/Board+Bundled.swift → the repository root is three folders up.
        var repository = "\(#filePath)"
        for _ in 0..<4 { repository = parentDirectory(of: repository) }
        directories.append(repository + "/Boards")
        return directories
    }

    /// `path` without its last component ("/a/b/c" → "/a/b", "/a" → "/"); paths here are absolute.
    private static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}

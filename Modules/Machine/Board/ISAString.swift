/// Parses RISC-V ISA strings ("rv64imafdc_zicsr_zifencei") as the unprivileged spec's
/// "ISA Extension Naming Conventions" chapter writes them: base, single letters, then
/// multi-letter extensions separated by underscores.
enum ISAString {
    /// Single-letter extensions a board may name. `g` is shorthand for `imafd_zicsr_zifencei`.
    static let singleLetter: [String] = ["i", "m", "a", "f", "d", "q", "c", "b", "v", "h"]

    /// Multi-letter extensions with a ratified name (the ones Linux's `riscv,isa-extensions`
    /// binding lists). Naming one says the hart has it; the CPU model decides what it implements.
    static let multiLetter: [String] = [
        "zicsr", "zifencei", "zicntr", "zihpm", "zihintpause", "zihintntl", "zicbom", "zicboz", "zicbop",
        "zicond", "zimop", "zawrs", "zacas", "zabha", "zfa", "zfh", "zfhmin", "zba", "zbb", "zbc", "zbs",
        "zbkb", "zbkc", "zbkx", "zknd", "zkne", "zknh", "zkr", "zksed", "zksh", "zkt", "zca", "zcb", "zcd",
        "zcf", "zcmop", "zve32f", "zve32x", "zve64d", "zve64f", "zve64x", "zvfh", "zvfhmin",
        "smaia", "smstateen", "ssaia", "sscofpmf", "sstc", "svinval", "svnapot", "svpbmt", "svadu",
    ]

    struct Parsed: Equatable {
        /// "rv64" + letters + "_"-joined multi-letter names, `g` expanded.
        var canonical: String
        var extensions: [String]
    }

    /// The parsed string, or the problems with it (one message each).
    static func parse(_ text: String) -> Result<Parsed, ISAErrors> {
        let isa = text.lowercased()
        var problems: [String] = []
        guard isa.hasPrefix("rv64") else {
            return .failure(ISAErrors(messages: ["ISA '\(text)' must start with 'rv64': only 64-bit harts exist"]))
        }
        var parts = isa.dropFirst(4).split(separator: "_", omittingEmptySubsequences: false).map(String.init)
        var letters = parts.removeFirst()
        // A multi-letter extension may follow the letters without an underscore ("rv64gczicsr").
        if let start = letters.firstIndex(where: { "zsx".contains($0) }) {
            parts.insert(String(letters[start...]), at: 0)
            letters = String(letters[..<start])
        }
        var extensions: [String] = []
        func add(_ ext: String) {
            if extensions.contains(ext) {
                problems.append("ISA extension '\(ext)' is given twice in '\(text)'")
            } else {
                extensions.append(ext)
            }
        }
        guard let first = letters.first, first == "i" || first == "g" else {
            return .failure(ISAErrors(messages: ["ISA '\(text)' must start with 'rv64i' or 'rv64g'"]))
        }
        for letter in letters {
            let name = String(letter)
            if name == "g" {
                for ext in ["i", "m", "a", "f", "d", "zicsr", "zifencei"] { add(ext) }
            } else if singleLetter.contains(name) {
                add(name)
            } else {
                problems.append("unknown ISA extension '\(name)' in '\(text)'")
            }
        }
        for part in parts {
            if part.isEmpty {
                problems.append("empty extension name (two underscores in a row?) in '\(text)'")
            } else if multiLetter.contains(part) {
                add(part)
            } else {
                problems.append("unknown ISA extension '\(part)' in '\(text)'" + suggestion(part, in: multiLetter))
            }
        }
        if extensions.contains("d") && !extensions.contains("f") {
            problems.append("ISA extension 'd' requires 'f' in '\(text)'")
        }
        guard problems.isEmpty else { return .failure(ISAErrors(messages: problems)) }

        // Canonical order of the letters (unprivileged spec, Table "Standard ISA extension
        // names"): the order of `singleLetter`.
        let letterExtensions = singleLetter.filter { extensions.contains($0) }
        let multi = extensions.filter { $0.count > 1 }
        let canonical = "rv64" + letterExtensions.joined() + multi.map { "_" + $0 }.joined()
        return .success(Parsed(canonical: canonical, extensions: letterExtensions + multi))
    }

    struct ISAErrors: Error, Equatable {
        let messages: [String]
    }
}

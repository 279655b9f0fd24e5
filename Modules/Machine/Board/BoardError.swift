/// One problem in a board file, printed like a compiler diagnostic:
/// `Boards/virt.yaml:12:9: error: unknown key 'devcies'; did you mean 'devices'?`
public struct BoardError: Error, Equatable, Sendable, CustomStringConvertible {
    public let path: String
    /// nil for problems that come from an override (`--smp`, `--memory`) rather than the file.
    public let location: SourceLocation?
    public let message: String

    public init(path: String, location: SourceLocation?, message: String) {
        self.path = path
        self.location = location
        self.message = message
    }

    public var description: String {
        // A device added with --device has no place in the file: the option is the place.
        if let location, location.option != nil { return "\(location): error: \(message)" }
        if let location { return "\(path):\(location.line):\(location.column): error: \(message)" }
        return "\(path): error: \(message)"
    }
}

/// Every problem found in a board file, in file order: the loader reports them all at once.
public struct BoardErrors: Error, Equatable, Sendable, CustomStringConvertible {
    public let errors: [BoardError]

    public init(_ errors: [BoardError]) {
        self.errors = errors
    }

    /// One line per error.
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// Collects errors while a board is parsed and checked.
public final class BoardDiagnostics {
    let path: String
    private(set) var errors: [BoardError] = []

    init(path: String) {
        self.path = path
    }

    public func error(_ message: String, at location: SourceLocation?) {
        errors.append(BoardError(path: path, location: location, message: message))
    }

    /// File order; errors without a location (from overrides) last. The sort is stable so errors
    /// at one position keep the order they were found in.
    var sorted: [BoardError] {
        errors.enumerated().sorted { lhs, rhs in
            switch (lhs.element.location, rhs.element.location) {
            case let (left?, right?): return left != right ? left < right : lhs.offset < rhs.offset
            case (.some, nil): return true
            case (nil, .some): return false
            case (nil, nil): return lhs.offset < rhs.offset
            }
        }.map(\.element)
    }
}

/// Levenshtein distance, for "did you mean" suggestions.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.lowercased().unicodeScalars)
    let b = Array(b.lowercased().unicodeScalars)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
            current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}

/// The candidate closest to `word`, if close enough to be a plausible typo (at most a third of
/// the word's length, and at least 1, edits away; ties go to the earlier candidate), else the
/// first candidate that the word abbreviates ("clock-freq" → "clock-frequency").
func nearest(_ word: String, in candidates: [String]) -> String? {
    let limit = max(1, (word.count + 2) / 3)
    var best: (String, Int)?
    for candidate in candidates {
        let distance = editDistance(word, candidate)
        if distance <= limit, distance < (best?.1 ?? Int.max) { best = (candidate, distance) }
    }
    if let best { return best.0 }
    guard word.count >= 3 else { return nil }
    return candidates.first { $0.lowercased().hasPrefix(word.lowercased()) }
}

/// "; did you mean 'x'?" or "".
func suggestion(_ word: String, in candidates: [String]) -> String {
    nearest(word, in: candidates).map { "; did you mean '\($0)'?" } ?? ""
}

/// A bound on how deeply a board file nests, checked before the YAML parser sees it.
///
/// libyaml (behind Yams) recurses once per nesting level, so a 10 KB file of `[[[[…]]]]` overflows
/// the host's stack. No board needs more than a handful of levels; this scanner estimates the
/// depth of every position from below the parser (block indentation levels, `- ` entries that
/// open a nested sequence on one line, and flow `[`/`{` outside quotes and comments), erring on
/// the side of counting too many, and names the first place past the limit.
enum YAMLNesting {
    /// Far beyond any real board (virt nests 5 deep), far below what the parser's stack takes.
    static let limit = 100

    /// Where the text first nests deeper than `limit`, or nil.
    static func firstTooDeep(_ text: String, limit: Int = limit) -> SourceLocation? {
        var flowDepth = 0
        var indents: [Int] = []
        var line = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            line += 1
            let characters = Array(rawLine.utf8)
            var column = 0
            var blockDepth = indents.count
            if flowDepth == 0 {
                while column < characters.count && characters[column] == UInt8(ascii: " ") { column += 1 }
                let isContent = column < characters.count && characters[column] != UInt8(ascii: "#")
                    && characters[column] != UInt8(ascii: "\r")
                if isContent {
                    while let last = indents.last, last >= column { indents.removeLast() }
                    indents.append(column)
                    // "- - - x": each dash opens a sequence nested in the previous one.
                    while column + 1 < characters.count, characters[column] == UInt8(ascii: "-"),
                          characters[column + 1] == UInt8(ascii: " ") {
                        indents.append(column + 1)
                        column += 2
                        while column < characters.count && characters[column] == UInt8(ascii: " ") { column += 1 }
                    }
                    blockDepth = indents.count
                    if blockDepth > limit { return SourceLocation(line: line, column: column + 1) }
                }
            }
            var quote: UInt8?
            while column < characters.count {
                let byte = characters[column]
                if let open = quote {
                    if byte == open { quote = nil }
                } else if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                    quote = byte
                } else if byte == UInt8(ascii: "#") && (column == 0 || characters[column - 1] == UInt8(ascii: " ")) {
                    break  // A comment runs to the end of the line.
                } else if byte == UInt8(ascii: "[") || byte == UInt8(ascii: "{") {
                    flowDepth += 1
                    if blockDepth + flowDepth > limit { return SourceLocation(line: line, column: column + 1) }
                } else if byte == UInt8(ascii: "]") || byte == UInt8(ascii: "}") {
                    flowDepth = max(0, flowDepth - 1)
                }
                column += 1
            }
        }
        return nil
    }
}

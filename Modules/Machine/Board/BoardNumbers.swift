import Foundation

/// Numbers in board files: decimal, hex (`0x`), binary (`0b`), `_` separators allowed; sizes may
/// end in K, M, G or T (binary multiples: 128M = 128 × 2^20).
enum BoardNumber {
    enum Problem: Error, Equatable {
        case notANumber
        case negative
        case tooLarge
    }

    /// Parses `text`; `allowSuffix` enables the K/M/G/T multipliers.
    static func parse(_ text: String, allowSuffix: Bool) -> Result<UInt64, Problem> {
        // Foundation's trimmingCharacters(in: .whitespaces) and replacingOccurrences(of:with:)
        // on the same unicode scalars: spaces (category Zs) and tabs at either end; every "_".
        // Those two bridge through NSString, whose first use costs a few percent of a trivial
        // run's start-up (docs/jit.md, Start-up).
        let scalars = text.unicodeScalars
        let isSpace = { (scalar: Unicode.Scalar) in scalar == "\t" || scalar.properties.generalCategory == .spaceSeparator }
        let first = scalars.firstIndex { !isSpace($0) } ?? scalars.endIndex
        let end = first == scalars.endIndex ? first : scalars.index(after: scalars.lastIndex { !isSpace($0) }!)
        var digits = String(String.UnicodeScalarView(scalars[first..<end].filter { $0 != "_" }))
        if digits.hasPrefix("-") {
            return parse(String(digits.dropFirst()), allowSuffix: allowSuffix).flatMap { _ in .failure(.negative) }
        }
        if digits.hasPrefix("+") { digits.removeFirst() }
        var shift: UInt64 = 0
        if allowSuffix {
            var body = digits
            for suffix in ["iB", "B"] where body.hasSuffix(suffix) && body.count > suffix.count {
                body = String(body.dropLast(suffix.count))
                break
            }
            let multipliers: [Character: UInt64] = ["K": 10, "M": 20, "G": 30, "T": 40]
            if let last = body.last, let bits = multipliers[Character(last.uppercased())], body.count > 1 {
                shift = bits
                digits = String(body.dropLast())
            }
        }
        var radix = 10
        let lower = digits.lowercased()
        if lower.hasPrefix("0x") {
            radix = 16
            digits = String(digits.dropFirst(2))
        } else if lower.hasPrefix("0b") {
            radix = 2
            digits = String(digits.dropFirst(2))
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isHexDigit && Int(String($0), radix: radix) != nil }) else {
            return .failure(.notANumber)
        }
        guard let value = UInt64(digits, radix: radix) else { return .failure(.tooLarge) }
        guard shift == 0 || value <= UInt64.max >> shift else { return .failure(.tooLarge) }
        return .success(value << shift)
    }
}

/// "0x8000000": how board errors print addresses and sizes.
func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

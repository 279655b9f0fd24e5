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
        var digits = withoutBlanksAndUnderscores(text)
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
            if let last = body.last, let bits = multiplierBits(last), body.count > 1 {
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

extension BoardNumber {
    /// `text` without spaces (category Zs) and tabs at either end and without any "_": what
    /// Foundation's `trimmingCharacters(in: .whitespaces)` and `replacingOccurrences(of: "_",
    /// with: "")` made of it, without their NSString bridging or Unicode tables for ASCII text
    /// (their first use cost a few percent of a trivial run's start-up; docs/jit.md, Start-up).
    static func withoutBlanksAndUnderscores(_ text: String) -> String {
        let bytes = text.utf8
        if bytes.allSatisfy({ $0 < 0x80 }) {
            // ASCII: the one space separator is the space itself.
            let isBlank = { (byte: UInt8) in byte == 0x20 || byte == 0x09 }
            guard let first = bytes.firstIndex(where: { !isBlank($0) }), let last = bytes.lastIndex(where: { !isBlank($0) }) else {
                return ""
            }
            return String(decoding: bytes[first...last].filter { $0 != UInt8(ascii: "_") }, as: UTF8.self)
        }
        let scalars = text.unicodeScalars
        let isBlank = { (scalar: Unicode.Scalar) in scalar == "\t" || scalar.properties.generalCategory == .spaceSeparator }
        guard let first = scalars.firstIndex(where: { !isBlank($0) }), let last = scalars.lastIndex(where: { !isBlank($0) }) else {
            return ""
        }
        var result = String.UnicodeScalarView()
        for scalar in scalars[first...last] where scalar != "_" { result.append(scalar) }
        return String(result)
    }

    /// The shift of a size suffix, either case (K, M, G, T: binary multiples). Only ASCII
    /// letters upper-case to these, so no case mapping tables are needed.
    static func multiplierBits(_ suffix: Character) -> UInt64? {
        switch suffix {
        case "K", "k": 10
        case "M", "m": 20
        case "G", "g": 30
        case "T", "t": 40
        default: nil
        }
    }
}

/// "0x8000000": how board errors print addresses and sizes.
func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

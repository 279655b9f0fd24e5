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
        var digits = text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "_", with: "")
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

/// The one parser of device property values, shared by board files (`properties:`), the
/// command line (`--device TYPE,key=value`) and the defaults a plugin declares for its types,
/// so the three accept the same words and report the same errors.
extension DevicePropertySpec {
    /// `text` as a value of this property: an integer (decimal, `0x`, `0b`, `_` separators) in
    /// the property's range, `true`/`yes`/`on` or `false`/`no`/`off` (any case) for a boolean,
    /// or the text itself for a string.
    public func parse(_ text: String) -> Result<BoardValue, PropertyValueError> {
        switch kind {
        case .integer(let range):
            switch BoardNumber.parse(text, allowSuffix: false) {
            case .success(let number):
                return range.contains(number) ? .success(.integer(number)) : .failure(.outOfRange(property: name, value: number, range: range))
            case .failure(.notANumber): return .failure(.notANumber(property: name, text: text))
            case .failure(.negative): return .failure(.negative(property: name, text: text))
            case .failure(.tooLarge): return .failure(.tooLarge(property: name, text: text))
            }
        case .boolean:
            switch text.lowercased() {
            case "true", "yes", "on": return .success(.boolean(true))
            case "false", "no", "off": return .success(.boolean(false))
            default: return .failure(.notABoolean(property: name, text: text))
            }
        case .string:
            return .success(.string(text))
        }
    }
}

/// Why a property value does not parse (`DevicePropertySpec.parse`).
public enum PropertyValueError: Error, Equatable, CustomStringConvertible {
    case notANumber(property: String, text: String)
    case negative(property: String, text: String)
    case tooLarge(property: String, text: String)
    case outOfRange(property: String, value: UInt64, range: ClosedRange<UInt64>)
    case notABoolean(property: String, text: String)

    public var description: String {
        switch self {
        case .notANumber(let property, let text):
            return "invalid value of '\(property)' '\(text)'; expected a number such as 4096 or 0x1000"
        case .negative(let property, let text):
            return "value of '\(property)' '\(text)' is negative"
        case .tooLarge(let property, let text):
            return "value of '\(property)' '\(text)' does not fit in 64 bits"
        case .outOfRange(let property, let value, let range):
            return "property '\(property)' must be in \(range.lowerBound)...\(range.upperBound), got \(value)"
        case .notABoolean(let property, let text):
            return "property '\(property)' must be true or false, got '\(text)'"
        }
    }
}

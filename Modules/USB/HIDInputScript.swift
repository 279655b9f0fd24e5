import Foundation

/// Why an input script cannot be used.
public struct HIDInputScriptError: Error, Equatable, CustomStringConvertible {
    public let path: String
    public let line: Int
    public let message: String
    public var description: String { line > 0 ? "\(path):\(line): \(message)" : "\(path): \(message)" }
}

/// Scripted input for the HID devices (the board property `input: FILE`), one command per line:
///
///     type hello world      keys for each character (shift added for capitals and symbols)
///     key ENTER             one named key, optionally with modifiers: key CTRL+ALT+DELETE
///     move 16384 8192       tablet: absolute position, 0...32767 on each axis
///     click                 tablet: left button press and release (click right, click middle)
///     wait 500              milliseconds before the next command
///
/// Blank lines and lines starting with '#' are ignored. A keyboard ignores tablet commands and
/// the reverse, so one file can drive both.
public struct HIDInputScript: Sendable, Equatable {
    public enum Command: Sendable, Equatable {
        /// Modifier bits (HID boot keyboard byte 0) and a usage ID (HID Usage Tables §10), 0 for none.
        case key(modifiers: UInt8, usage: UInt8)
        case move(x: UInt16, y: UInt16)
        /// Button bits: 1 left, 2 right, 4 middle.
        case click(buttons: UInt8)
        case wait(milliseconds: Int)
    }

    public var commands: [Command]

    public init(commands: [Command]) { self.commands = commands }

    public init(path: String) throws(HIDInputScriptError) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw HIDInputScriptError(path: path, line: 0, message: "cannot read the input script")
        }
        try self.init(text: text, path: path)
    }

    public init(text: String, path: String = "<input>") throws(HIDInputScriptError) {
        var commands: [Command] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let verb = line.prefix { $0 != " " }
            let rest = line.dropFirst(verb.count).drop { $0 == " " }
            func fail(_ message: String) -> HIDInputScriptError { HIDInputScriptError(path: path, line: index + 1, message: message) }
            switch verb {
            case "type":
                for character in rest {
                    guard let key = HIDKeys.key(for: character) else { throw fail("cannot type '\(character)'") }
                    commands.append(.key(modifiers: key.shift ? HIDKeys.leftShift : 0, usage: key.usage))
                }
            case "key":
                var modifiers: UInt8 = 0
                var usage: UInt8 = 0
                for part in rest.split(separator: "+") {
                    let name = part.uppercased()
                    if let bit = HIDKeys.modifiers[name] {
                        modifiers |= bit
                    } else if let code = HIDKeys.named[name] {
                        usage = code
                    } else if part.count == 1, let key = HIDKeys.key(for: part.first!) {
                        usage = key.usage
                    } else {
                        throw fail("unknown key '\(part)'")
                    }
                }
                guard modifiers != 0 || usage != 0 else { throw fail("'key' needs a key name such as ENTER") }
                commands.append(.key(modifiers: modifiers, usage: usage))
            case "move":
                let numbers = rest.split(separator: " ").map { Int($0) }
                guard numbers.count == 2, let x = numbers[0], let y = numbers[1], (0...32767).contains(x), (0...32767).contains(y) else {
                    throw fail("'move' needs two positions 0...32767, got '\(rest)'")
                }
                commands.append(.move(x: UInt16(x), y: UInt16(y)))
            case "click":
                switch rest {
                case "", "left": commands.append(.click(buttons: 1))
                case "right": commands.append(.click(buttons: 2))
                case "middle": commands.append(.click(buttons: 4))
                default: throw fail("'click' takes left, right or middle, got '\(rest)'")
                }
            case "wait":
                guard let milliseconds = Int(rest), milliseconds >= 0 else { throw fail("'wait' needs milliseconds, got '\(rest)'") }
                commands.append(.wait(milliseconds: milliseconds))
            default:
                throw fail("unknown command '\(verb)'; expected type, key, move, click or wait")
            }
        }
        self.commands = commands
    }
}

/// Boot keyboard usage IDs (HID Usage Tables 1.4 §10, Keyboard/Keypad page 0x07).
enum HIDKeys {
    static let leftShift: UInt8 = 0x02
    static let modifiers: [String: UInt8] = [
        "CTRL": 0x01, "SHIFT": 0x02, "ALT": 0x04, "META": 0x08,
        "RCTRL": 0x10, "RSHIFT": 0x20, "RALT": 0x40, "RMETA": 0x80,
    ]
    static let named: [String: UInt8] = {
        var keys: [String: UInt8] = [
            "ENTER": 0x28, "ESC": 0x29, "BACKSPACE": 0x2a, "TAB": 0x2b, "SPACE": 0x2c,
            "CAPSLOCK": 0x39, "RIGHT": 0x4f, "LEFT": 0x50, "DOWN": 0x51, "UP": 0x52,
            "INSERT": 0x49, "HOME": 0x4a, "PAGEUP": 0x4b, "DELETE": 0x4c, "END": 0x4d, "PAGEDOWN": 0x4e,
        ]
        for n in 1...12 { keys["F\(n)"] = UInt8(0x3a + n - 1) }
        return keys
    }()

    /// Unshifted and shifted characters of the US layout, by usage.
    private static let layout: [(UInt8, Character, Character)] = [
        (0x1e, "1", "!"), (0x1f, "2", "@"), (0x20, "3", "#"), (0x21, "4", "$"), (0x22, "5", "%"),
        (0x23, "6", "^"), (0x24, "7", "&"), (0x25, "8", "*"), (0x26, "9", "("), (0x27, "0", ")"),
        (0x28, "\n", "\n"), (0x2b, "\t", "\t"), (0x2c, " ", " "), (0x2d, "-", "_"), (0x2e, "=", "+"),
        (0x2f, "[", "{"), (0x30, "]", "}"), (0x31, "\\", "|"), (0x33, ";", ":"), (0x34, "'", "\""),
        (0x35, "`", "~"), (0x36, ",", "<"), (0x37, ".", ">"), (0x38, "/", "?"),
    ]

    static func key(for character: Character) -> (usage: UInt8, shift: Bool)? {
        if let ascii = character.asciiValue {
            if (97...122).contains(ascii) { return (UInt8(0x04 + ascii - 97), false) }
            if (65...90).contains(ascii) { return (UInt8(0x04 + ascii - 65), true) }
        }
        for (usage, plain, shifted) in layout {
            if character == plain { return (usage, false) }
            if character == shifted { return (usage, true) }
        }
        return nil
    }
}

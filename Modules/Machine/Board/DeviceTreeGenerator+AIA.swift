import DeviceTree
import IRQ

/// What the AIA devices change outside their own nodes (those are `IMSICKind` and `APLICKind`):
/// the harts' ISA strings and the trigger-type cell of APLIC interrupt specifiers.
extension DeviceTreeGenerator {
    /// `IRQ_TYPE_LEVEL_HIGH` of `dt-bindings/interrupt-controller/irq.h`: every wired device
    /// here drives a level-high line.
    public static let levelHigh: UInt32 = 4

    /// The multi-letter extensions an IMSIC gives the harts (AIA §2): `smaia` with a
    /// machine-level IMSIC, `ssaia` with a supervisor-level one, unless the ISA names them.
    static func aiaExtensions(_ board: Board) -> [String] {
        var extensions: [String] = []
        if board.imsic(level: .machine) != nil && !board.harts.has("smaia") { extensions.append("smaia") }
        if board.imsic(level: .supervisor) != nil && !board.harts.has("ssaia") { extensions.append("ssaia") }
        return extensions
    }

    /// `riscv,isa` with the AIA extensions appended (QEMU names them there too).
    static func aiaISA(_ board: Board) -> String {
        board.harts.isa + aiaExtensions(board).map { "_" + $0 }.joined()
    }
}

import Memory

/// The resolved memory map and interrupt wiring of a board, as `backplane check` prints it.
public struct BoardReport {
    public let text: String

    public init(_ board: Board) {
        var lines = ["board \(board.name) (\(board.sourcePath)): valid",
                     "harts: \(board.harts.count) × \(board.harts.isa), \(board.harts.mmu.rawValue), timebase \(board.harts.timebaseFrequency) Hz",
                     "memory map:"]
        var entries: [(base: UInt64, line: String)] = board.memory.map {
            ($0.base, "  \(formatRange($0.base, $0.size).padding(toLength: 28, withPad: " ", startingAt: 0)) \($0.name) (ram, \(BoardReport.humanSize($0.size)))")
        }
        var unmapped: [String] = []
        for device in board.devices {
            if let base = device.base, let size = device.size {
                entries.append((base, "  \(formatRange(base, size).padding(toLength: 28, withPad: " ", startingAt: 0)) \(device.name) (\(device.type))"))
            } else {
                unmapped.append("  \(device.name) (\(device.type)): no fixed registers")
            }
        }
        lines += entries.sorted { $0.base < $1.base }.map(\.line) + unmapped
        let wired = board.devices.filter { !$0.irqs.isEmpty }
        lines.append("interrupts:" + (wired.isEmpty ? " none" : ""))
        for device in wired {
            lines.append("  \(device.name) -> \(device.irqs.map(\.description).joined(separator: ", "))")
        }
        text = lines.joined(separator: "\n") + "\n"
    }

    static func humanSize(_ bytes: UInt64) -> String {
        for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] where bytes >= 1 << shift && bytes % (1 << shift) == 0 {
            return "\(bytes >> UInt64(shift)) \(unit)"
        }
        return "\(bytes) bytes"
    }
}

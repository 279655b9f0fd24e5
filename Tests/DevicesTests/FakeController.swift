import IRQ

/// Records the level of every source a device drives, and each transition.
final class FakeController: InterruptController {
    let sourceCount = 32
    private(set) var levels = [Bool](repeating: false, count: 33)
    private(set) var transitions: [(source: Int, level: Bool)] = []

    func setLevel(source: Int, level: Bool) {
        levels[source] = level
        transitions.append((source, level))
    }

    func line(_ source: Int) -> IRQLine { IRQLine(controller: self, source: source) }
}

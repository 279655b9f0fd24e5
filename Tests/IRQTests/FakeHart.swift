import IRQ

/// Records every pin change a controller makes, and the current level of each `mip` bit.
final class FakeHart: HartInterruptInputs {
    private(set) var changes: [(bit: Int, level: Bool)] = []
    private(set) var pins: UInt64 = 0

    func setInterruptPending(bit: Int, _ level: Bool) {
        changes.append((bit, level))
        if level { pins |= 1 << UInt64(bit) } else { pins &= ~(1 << UInt64(bit)) }
    }

    /// How often a timer compare value of this hart changed.
    private(set) var deadlineChanges = 0

    func timerDeadlineChanged() { deadlineChanges += 1 }

    func isSet(_ bit: Int) -> Bool { pins & (1 << UInt64(bit)) != 0 }

    func clearLog() { changes = [] }
}

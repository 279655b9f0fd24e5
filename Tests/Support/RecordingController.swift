import IRQ

/// The interrupt controller test targets wire devices to: it records the level driven into each
/// source and every transition, and decides nothing (one fake for the Devices, PCI, USB and
/// PluginHost tests).
public final class RecordingController: InterruptController {
    public let sourceCount: Int
    /// The last level driven into each source; nil for a source never driven.
    public private(set) var levels: [Int: Bool] = [:]
    /// Every `setLevel`, in order.
    public private(set) var transitions: [(source: Int, level: Bool)] = []

    public init(sourceCount: Int = 64) {
        self.sourceCount = sourceCount
    }

    public func setLevel(source: Int, level: Bool) {
        levels[source] = level
        transitions.append((source, level))
    }

    /// The level of `source` (false when never driven).
    public func level(_ source: Int) -> Bool { levels[source] ?? false }

    /// A line into `source`.
    public func line(_ source: Int) -> IRQLine { IRQLine(controller: self, source: source) }
}

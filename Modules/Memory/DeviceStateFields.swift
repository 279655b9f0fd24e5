/// Field helpers for saved device state (snapshots, docs/snapshots.md): arrays and narrow
/// integers on top of `DeviceStateWriter`/`DeviceStateReader`'s little-endian 64-bit fields.
///
/// An array is written as its count and then its elements; reading it back checks the count
/// against what the device has as built, so a snapshot taken with another source count or hart
/// count is a `mismatch` naming both numbers, never an out-of-bounds write.
extension DeviceStateWriter {
    public mutating func put(_ value: UInt32) { put(UInt64(value)) }
    public mutating func put(_ value: UInt16) { put(UInt64(value)) }
    public mutating func put(_ value: UInt8) { put(UInt64(value)) }
    public mutating func put(_ value: Int) { put(UInt64(bitPattern: Int64(value))) }

    public mutating func put(words values: [UInt32]) {
        put(UInt64(values.count))
        for value in values { put(UInt64(value)) }
    }

    public mutating func put(words values: [UInt64]) {
        put(UInt64(values.count))
        for value in values { put(value) }
    }

    public mutating func put(flags values: [Bool]) {
        put(UInt64(values.count))
        for value in values { put(value) }
    }
}

extension DeviceStateReader {
    public mutating func uint32(_ what: @autoclosure () -> String = "value") throws(DeviceStateError) -> UInt32 {
        let value = try uint64()
        guard value <= UInt64(UInt32.max) else { throw .mismatch("\(what()) \(value) does not fit 32 bits") }
        return UInt32(value)
    }

    public mutating func uint16(_ what: @autoclosure () -> String = "value") throws(DeviceStateError) -> UInt16 {
        let value = try uint64()
        guard value <= UInt64(UInt16.max) else { throw .mismatch("\(what()) \(value) does not fit 16 bits") }
        return UInt16(value)
    }

    public mutating func uint8(_ what: @autoclosure () -> String = "value") throws(DeviceStateError) -> UInt8 {
        let value = try uint64()
        guard value <= UInt64(UInt8.max) else { throw .mismatch("\(what()) \(value) does not fit 8 bits") }
        return UInt8(value)
    }

    /// An `Int` in `range` (a count, an index, a head position).
    public mutating func int(in range: ClosedRange<Int>, _ what: @autoclosure () -> String = "value") throws(DeviceStateError) -> Int {
        let value = Int64(bitPattern: try uint64())
        guard value >= Int64(range.lowerBound), value <= Int64(range.upperBound) else {
            throw .mismatch("\(what()) \(value) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return Int(value)
    }

    /// The count an array was saved with; it must be `expected`.
    private mutating func count(_ expected: Int, _ what: () -> String) throws(DeviceStateError) {
        let count = try uint64()
        guard count == UInt64(expected) else { throw .mismatch("\(what()): \(count) saved, \(expected) here") }
    }

    public mutating func words32(count expected: Int, _ what: @autoclosure () -> String = "array") throws(DeviceStateError) -> [UInt32] {
        try count(expected, what)
        var values: [UInt32] = []
        values.reserveCapacity(expected)
        for _ in 0..<expected { values.append(try uint32(what())) }
        return values
    }

    public mutating func words64(count expected: Int, _ what: @autoclosure () -> String = "array") throws(DeviceStateError) -> [UInt64] {
        try count(expected, what)
        var values: [UInt64] = []
        values.reserveCapacity(expected)
        for _ in 0..<expected { values.append(try uint64()) }
        return values
    }

    public mutating func flags(count expected: Int, _ what: @autoclosure () -> String = "array") throws(DeviceStateError) -> [Bool] {
        try count(expected, what)
        var values: [Bool] = []
        values.reserveCapacity(expected)
        for _ in 0..<expected { values.append(try bool()) }
        return values
    }
}

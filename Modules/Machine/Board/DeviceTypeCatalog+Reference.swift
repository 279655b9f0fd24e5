/// The catalog as docs/boards.md prints it ("Every type"): generated from the kinds, and checked
/// against the document by `BoardDocsTests`, so the two cannot disagree.
extension DeviceTypeCatalog {
    /// One Markdown table row per kind, in catalog order, under a header.
    public var referenceTable: String {
        var lines = [
            "| type | placed | `reg` | irqs | properties (default) | what |",
            "|---|---|---|---|---|---|",
        ]
        for spec in types {
            let placed: String
            if spec.usbSpeeds != nil {
                placed = "`at: CONTROLLER/portN`"
            } else if spec.pciBARs != nil {
                placed = "`at: BUS/DD.F`"
            } else if case .required = spec.registers {
                placed = "`reg`"
            } else {
                placed = "—"
            }
            let reg: String
            switch spec.registers {
            case .required(let minimumSize, let pageAligned):
                reg = "≥ \(hex(minimumSize))" + (pageAligned ? ", 4 KiB aligned" : "")
            case .none, .pciFunction:
                reg = "—"
            }
            let irqs = spec.irqCount.lowerBound == spec.irqCount.upperBound ? "\(spec.irqCount.lowerBound)"
                : "\(spec.irqCount.lowerBound)–\(spec.irqCount.upperBound)"
            let properties = spec.properties.map { property -> String in
                let kind: String
                switch property.kind {
                case .integer(let range): kind = "\(range.lowerBound)…\(range.upperBound == UInt64.max ? "2^64−1" : String(range.upperBound))"
                case .string: kind = "string"
                case .boolean: kind = "boolean"
                }
                let value = property.defaultValue.map { value -> String in
                    if case .string(let text) = value { return text.isEmpty ? "\"\"" : text }
                    return "\(value)"
                } ?? "required"
                return "`\(property.name)` \(kind) (\(value))"
            }.joined(separator: "; ")
            lines.append("| `\(spec.name)` | \(placed) | \(reg) | \(irqs) | \(properties.isEmpty ? "—" : properties) | \(spec.summary.replacingOccurrences(of: "|", with: "\\|")) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

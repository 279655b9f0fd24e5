/// Parses a size as the command line takes it ("128M", "0x8000000", "1G"): the same syntax as
/// board files, so `--memory` and `size:` accept the same words.
public func parseSize(_ text: String) -> UInt64? {
    try? BoardNumber.parse(text, allowSuffix: true).get()
}

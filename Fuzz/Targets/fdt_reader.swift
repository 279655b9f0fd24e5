// libFuzzer target: the device-tree reader (`FDTReader`, used on a user's --dtb): a blob that
// passes fdt_check_full is walked node by node and every property looked up as cells and strings.
import DeviceTree

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFDTReader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let reader = try? FDTReader(Array(UnsafeBufferPointer(start: data, count: size))) else { return 0 }
    _ = reader.bootCPU
    var pending = ["/"]
    var visited = 0
    while let path = pending.popLast(), visited < 4096 {
        visited += 1
        for name in ["compatible", "reg", "#address-cells", "#size-cells", "interrupts", "ranges", "bootargs", "phandle"] {
            _ = reader.cells(name, at: path)
            _ = reader.strings(name, at: path)
        }
        for child in reader.children(of: path) ?? [] where !child.isEmpty {
            pending.append(path == "/" ? "/" + child : path + "/" + child)
        }
    }
    return 0
}

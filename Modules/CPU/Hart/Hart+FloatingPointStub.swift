// Placeholder until Hart+FloatingPoint.swift (the FP engineer's file) lands: every F/D
// instruction is illegal. The coordinator deletes this file when merging the FP branch.
extension Hart {
    /// Executes one F or D instruction given as its 32-bit encoding. (Stub: always illegal.)
    func executeFloatingPoint(_ instruction: UInt32) throws(Trap) {
        throw .illegalInstruction(instruction)
    }
}

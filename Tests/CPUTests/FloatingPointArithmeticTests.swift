import CHartState
import XCTest

// The C arithmetic helpers (CHartState/FloatingPoint.c). Expected bits and flags were checked
// against qemu-riscv64 (QEMU's RISC-V softfloat) executing the same instructions.

private let NX = UInt32(BP_FFLAG_NX), UF = UInt32(BP_FFLAG_UF), OF = UInt32(BP_FFLAG_OF)
private let DZ = UInt32(BP_FFLAG_DZ), NV = UInt32(BP_FFLAG_NV)
private let RNE = UInt32(BP_RM_RNE), RTZ = UInt32(BP_RM_RTZ), RDN = UInt32(BP_RM_RDN)
private let RUP = UInt32(BP_RM_RUP), RMM = UInt32(BP_RM_RMM)
private let W = UInt32(BP_INT_W), WU = UInt32(BP_INT_WU), L = UInt32(BP_INT_L), LU = UInt32(BP_INT_LU)

/// Result bits and the flags one call raised.
private struct Outcome<T: Equatable>: Equatable, CustomStringConvertible {
    let bits: T
    let flags: UInt32
    init(_ bits: T, _ flags: UInt32) { self.bits = bits; self.flags = flags }
    var description: String { "bits 0x\(hex(bits)) flags 0x\(String(flags, radix: 16))" }
}

private func hex<T>(_ value: T) -> String {
    if let v = value as? UInt32 { return String(v, radix: 16) }
    if let v = value as? UInt64 { return String(v, radix: 16) }
    return "\(value)"
}

private func outcome<T>(_ body: (UnsafeMutablePointer<UInt32>) -> T) -> Outcome<T> {
    var flags: UInt32 = 0
    let bits = body(&flags)
    return Outcome(bits, flags)
}

final class FloatingPointArithmeticTests: XCTestCase {
    // MARK: Rounding modes and RMM ties

    func testSingleAddTieRoundsToEvenUnderRNE() {
        // 1 + 2^-24 is exactly halfway between 1 and 1 + 2^-23.
        XCTAssertEqual(outcome { bp_f32_add(0x3f80_0000, 0x3380_0000, RNE, $0) }, Outcome(UInt32(0x3f80_0000), NX))
    }

    func testSingleAddTieRoundsAwayUnderRMM() {
        XCTAssertEqual(outcome { bp_f32_add(0x3f80_0000, 0x3380_0000, RMM, $0) }, Outcome(UInt32(0x3f80_0001), NX))
        XCTAssertEqual(outcome { bp_f32_add(0xbf80_0000, 0xb380_0000, RMM, $0) }, Outcome(UInt32(0xbf80_0001), NX))
    }

    func testDoubleAddTieRoundsAwayUnderRMM() {
        // 1 + 2^-53.
        XCTAssertEqual(outcome { bp_f64_add(0x3ff0_0000_0000_0000, 0x3ca0_0000_0000_0000, RMM, $0) },
                       Outcome(UInt64(0x3ff0_0000_0000_0001), NX))
        XCTAssertEqual(outcome { bp_f64_add(0x3ff0_0000_0000_0000, 0x3ca0_0000_0000_0000, RNE, $0) },
                       Outcome(UInt64(0x3ff0_0000_0000_0000), NX))
    }

    func testRoundUpOfSmallAddend() {
        // 1 + 2^-30 under RUP.
        XCTAssertEqual(outcome { bp_f32_add(0x3f80_0000, 0x3080_0000, RUP, $0) }, Outcome(UInt32(0x3f80_0001), NX))
    }

    func testConvertToWordInEveryRoundingMode() {
        XCTAssertEqual(outcome { bp_f32_to_int(0x4020_0000, W, RMM, $0) }, Outcome(UInt64(3), NX))                      // 2.5
        XCTAssertEqual(outcome { bp_f32_to_int(0xc020_0000, W, RMM, $0) }, Outcome(UInt64(bitPattern: -3), NX))        // -2.5
        XCTAssertEqual(outcome { bp_f32_to_int(0x4020_0000, W, RNE, $0) }, Outcome(UInt64(2), NX))                      // 2.5
        XCTAssertEqual(outcome { bp_f32_to_int(0x4060_0000, W, RNE, $0) }, Outcome(UInt64(4), NX))                      // 3.5
        XCTAssertEqual(outcome { bp_f32_to_int(0xc020_0000, W, RDN, $0) }, Outcome(UInt64(bitPattern: -3), NX))        // -2.5
        XCTAssertEqual(outcome { bp_f32_to_int(0x4006_6666, W, RUP, $0) }, Outcome(UInt64(3), NX))                      // 2.1
        XCTAssertEqual(outcome { bp_f32_to_int(0xc039_999a, W, RTZ, $0) }, Outcome(UInt64(bitPattern: -2), NX))        // -2.9
    }

    func testIntegerToSingleTiesInRNEAndRMM() {
        // 2^24 + 1 is halfway between 2^24 and 2^24 + 2.
        XCTAssertEqual(outcome { bp_int_to_f32(0x100_0001, W, RNE, $0) }, Outcome(UInt32(0x4b80_0000), NX))
        XCTAssertEqual(outcome { bp_int_to_f32(0x100_0001, W, RMM, $0) }, Outcome(UInt32(0x4b80_0001), NX))
        XCTAssertEqual(outcome { bp_int_to_f32(0x100_0003, W, RNE, $0) }, Outcome(UInt32(0x4b80_0002), NX))
        XCTAssertEqual(outcome { bp_int_to_f32(UInt64.max, W, RMM, $0) }, Outcome(UInt32(0xbf80_0000), 0))   // low word: -1
    }

    func testUnsignedLongToDoubleRounding() {
        XCTAssertEqual(outcome { bp_int_to_f64(UInt64.max, LU, RMM, $0) }, Outcome(UInt64(0x43f0_0000_0000_0000), NX))
        XCTAssertEqual(outcome { bp_int_to_f64(0x20_0000_0000_0001, LU, RNE, $0) }, Outcome(UInt64(0x4340_0000_0000_0000), NX))
        XCTAssertEqual(outcome { bp_int_to_f64(0x20_0000_0000_0001, LU, RMM, $0) }, Outcome(UInt64(0x4340_0000_0000_0001), NX))
    }

    func testDoubleToSingleTies() {
        // 0x3ff0000010000000 is 1 + 2^-24, a tie in binary32.
        XCTAssertEqual(outcome { bp_f64_to_f32(0x3ff0_0000_1000_0000, RNE, $0) }, Outcome(UInt32(0x3f80_0000), NX))
        XCTAssertEqual(outcome { bp_f64_to_f32(0x3ff0_0000_1000_0000, RMM, $0) }, Outcome(UInt32(0x3f80_0001), NX))
        XCTAssertEqual(outcome { bp_f64_to_f32(0x3ff0_0000_0000_0001, RNE, $0) }, Outcome(UInt32(0x3f80_0000), NX))
    }

    // MARK: Conversions at and beyond the integer limits (spec Table 11.4)

    func testDoubleToWordLimits() {
        XCTAssertEqual(outcome { bp_f64_to_int(0x41df_ffff_ffc0_0000, W, RNE, $0) }, Outcome(UInt64(0x7fff_ffff), 0))   // 2^31-1
        XCTAssertEqual(outcome { bp_f64_to_int(0x41df_ffff_ffe0_0000, W, RNE, $0) }, Outcome(UInt64(0x7fff_ffff), NV))  // 2^31-0.5 → 2^31
        XCTAssertEqual(outcome { bp_f64_to_int(0x41df_ffff_ffd9_999a, W, RNE, $0) }, Outcome(UInt64(0x7fff_ffff), NX))  // 2^31-0.6
        XCTAssertEqual(outcome { bp_f64_to_int(0xc1e0_0000_001c_cccd, W, RTZ, $0) },
                       Outcome(UInt64(0xffff_ffff_8000_0000), NX))                                                  // -2^31-0.9
        XCTAssertEqual(outcome { bp_f64_to_int(0xc1e0_0000_0020_0000, W, RNE, $0) },
                       Outcome(UInt64(0xffff_ffff_8000_0000), NV))                                                  // -2^31-1
        XCTAssertEqual(outcome { bp_f64_to_int(0x7ff8_0000_0000_0000, W, RNE, $0) }, Outcome(UInt64(0x7fff_ffff), NV))  // NaN
    }

    func testUnsignedConversionLimits() {
        XCTAssertEqual(outcome { bp_f64_to_int(0xbff0_0000_0000_0000, WU, RNE, $0) }, Outcome(UInt64(0), NV))       // -1
        XCTAssertEqual(outcome { bp_f64_to_int(0xbfe0_0000_0000_0000, WU, RTZ, $0) }, Outcome(UInt64(0), NX))       // -0.5
        XCTAssertEqual(outcome { bp_f64_to_int(0x41ef_ffff_ffe0_0000, WU, RNE, $0) }, Outcome(UInt64.max, 0))       // 2^32-1, sign-extended
        XCTAssertEqual(outcome { bp_f32_to_int(0x5f80_0000, LU, RNE, $0) }, Outcome(UInt64.max, NV))                // 2^64
    }

    func testLongConversionLimits() {
        XCTAssertEqual(outcome { bp_f64_to_int(0x43e0_0000_0000_0000, L, RNE, $0) }, Outcome(UInt64(Int64.max), NV))               // 2^63
        XCTAssertEqual(outcome { bp_f64_to_int(0xfff0_0000_0000_0000, L, RNE, $0) }, Outcome(UInt64(bitPattern: Int64.min), NV))   // -inf
    }

    // MARK: Flags

    func testExactSubnormalResultRaisesNothing() {
        // 2^-100 × 2^-40 = 2^-140, representable as a subnormal.
        XCTAssertEqual(outcome { bp_f32_mul(0x0d80_0000, 0x2b80_0000, RNE, $0) }, Outcome(UInt32(0x200), 0))
    }

    func testInexactSubnormalResultRaisesUnderflowAndInexact() {
        // min subnormal × 0.5: a tie between 0 and the min subnormal.
        XCTAssertEqual(outcome { bp_f32_mul(0x0000_0001, 0x3f00_0000, RNE, $0) }, Outcome(UInt32(0), UF | NX))
        XCTAssertEqual(outcome { bp_f32_mul(0x0000_0001, 0x3f00_0000, RMM, $0) }, Outcome(UInt32(1), UF | NX))
        XCTAssertEqual(outcome { bp_f64_mul(0x0000_0000_0000_0001, 0x3fe0_0000_0000_0000, RMM, $0) }, Outcome(UInt64(1), UF | NX))
    }

    func testTininessIsDetectedAfterRounding() {
        // (1 - 2^-23) × 2^-126(1 + 2^-23) = 2^-126(1 - 2^-46): below 2^-126, but rounds to 2^-126
        // even with an unbounded exponent, so it is not tiny: NX without UF.
        XCTAssertEqual(outcome { bp_f32_mul(0x3f7f_fffe, 0x0080_0001, RNE, $0) }, Outcome(UInt32(0x0080_0000), NX))
        XCTAssertEqual(outcome { bp_f32_mul(0x3f7f_fffe, 0x0080_0001, RMM, $0) }, Outcome(UInt32(0x0080_0000), NX))
        // 2^-126(1 - 2^-24) is exact with an unbounded exponent, hence tiny, however it rounds.
        XCTAssertEqual(outcome { bp_f32_mul(0x3f7f_ffff, 0x0080_0000, RNE, $0) }, Outcome(UInt32(0x0080_0000), UF | NX))
        XCTAssertEqual(outcome { bp_f32_mul(0x3f7f_ffff, 0x0080_0000, RUP, $0) }, Outcome(UInt32(0x0080_0000), UF | NX))
        XCTAssertEqual(outcome { bp_f32_mul(0x3f7f_ffff, 0x0080_0000, RTZ, $0) }, Outcome(UInt32(0x007f_ffff), UF | NX))
        XCTAssertEqual(outcome { bp_f64_mul(0x3fef_ffff_ffff_ffff, 0x0010_0000_0000_0000, RNE, $0) },
                       Outcome(UInt64(0x0010_0000_0000_0000), UF | NX))
    }

    func testOverflowDependsOnRoundingDirection() {
        XCTAssertEqual(outcome { bp_f32_mul(0x7f7f_ffff, 0x4000_0000, RNE, $0) }, Outcome(UInt32(0x7f80_0000), OF | NX))
        XCTAssertEqual(outcome { bp_f32_mul(0x7f7f_ffff, 0x4000_0000, RTZ, $0) }, Outcome(UInt32(0x7f7f_ffff), OF | NX))
        XCTAssertEqual(outcome { bp_f32_mul(0x7f7f_ffff, 0x4000_0000, RDN, $0) }, Outcome(UInt32(0x7f7f_ffff), OF | NX))
        XCTAssertEqual(outcome { bp_f32_mul(0xff7f_ffff, 0x4000_0000, RUP, $0) }, Outcome(UInt32(0xff7f_ffff), OF | NX))
    }

    func testDivisionByZero() {
        XCTAssertEqual(outcome { bp_f32_div(0x3f80_0000, 0, RNE, $0) }, Outcome(UInt32(0x7f80_0000), DZ))
        XCTAssertEqual(outcome { bp_f32_div(0xbf80_0000, 0, RNE, $0) }, Outcome(UInt32(0xff80_0000), DZ))
        XCTAssertEqual(outcome { bp_f64_div(0x3ff0_0000_0000_0000, 0, RMM, $0) }, Outcome(UInt64(0x7ff0_0000_0000_0000), DZ))
        XCTAssertEqual(outcome { bp_f32_div(0, 0, RNE, $0) }, Outcome(UInt32(0x7fc0_0000), NV))
    }

    func testSquareRoot() {
        XCTAssertEqual(outcome { bp_f64_sqrt(0x4000_0000_0000_0000, RNE, $0) }, Outcome(UInt64(0x3ff6_a09e_667f_3bcd), NX))
        XCTAssertEqual(outcome { bp_f64_sqrt(0xbff0_0000_0000_0000, RNE, $0) }, Outcome(UInt64(0x7ff8_0000_0000_0000), NV))
        XCTAssertEqual(outcome { bp_f32_sqrt(0x4080_0000, RMM, $0) }, Outcome(UInt32(0x4000_0000), 0))
    }

    // MARK: Fused multiply-add

    func testFusedMultiplyAddRoundsOnce() {
        // (1 + 2^-12)² - (1 + 2^-11) = 2^-24 exactly; separate rounding would give 0.
        XCTAssertEqual(outcome { bp_f32_fma(0x3f80_0800, 0x3f80_0800, 0xbf80_1000, RNE, $0) }, Outcome(UInt32(0x3380_0000), 0))
    }

    func testFusedMultiplyAddInfinityTimesZeroIsInvalidEvenWithQuietNaNAddend() {
        XCTAssertEqual(outcome { bp_f32_fma(0x7f80_0000, 0, 0x7fc0_0000, RNE, $0) }, Outcome(UInt32(0x7fc0_0000), NV))
    }

    // MARK: NaNs

    func testSignalingNaNOperandGivesCanonicalNaNAndInvalid() {
        XCTAssertEqual(outcome { bp_f32_add(0x7f81_2345, 0x3f80_0000, RNE, $0) }, Outcome(UInt32(0x7fc0_0000), NV))
    }

    func testQuietNaNPayloadIsNotPropagated() {
        XCTAssertEqual(outcome { bp_f32_add(0x7fc1_2345, 0x3f80_0000, RNE, $0) }, Outcome(UInt32(0x7fc0_0000), 0))
    }

    func testNarrowingSignalingNaN() {
        XCTAssertEqual(outcome { bp_f64_to_f32(0x7ff4_0000_0000_0000, RNE, $0) }, Outcome(UInt32(0x7fc0_0000), NV))
        XCTAssertEqual(outcome { bp_f32_to_f64(0x7f80_0001, $0) }, Outcome(UInt64(0x7ff8_0000_0000_0000), NV))
        XCTAssertEqual(outcome { bp_f32_to_f64(0x0000_0001, $0) }, Outcome(UInt64(0x36a0_0000_0000_0000), 0))
    }

    // MARK: Min/max and comparisons

    func testMinMaxOfZeros() {
        XCTAssertEqual(outcome { bp_f32_min(0x8000_0000, 0, $0) }, Outcome(UInt32(0x8000_0000), 0))
        XCTAssertEqual(outcome { bp_f32_max(0x8000_0000, 0, $0) }, Outcome(UInt32(0), 0))
    }

    func testMinMaxWithNaNs() {
        XCTAssertEqual(outcome { bp_f32_min(0x7fc0_0000, 0x3f80_0000, $0) }, Outcome(UInt32(0x3f80_0000), 0))
        XCTAssertEqual(outcome { bp_f32_min(0x7f80_0001, 0x3f80_0000, $0) }, Outcome(UInt32(0x3f80_0000), NV))
        XCTAssertEqual(outcome { bp_f32_min(0x7fc0_0000, 0x7fc0_0000, $0) }, Outcome(UInt32(0x7fc0_0000), 0))
    }

    func testEqualityIsQuietButOrderingIsSignaling() {
        XCTAssertEqual(outcome { bp_f32_eq(0x7fc0_0000, 0x7fc0_0000, $0) }, Outcome(UInt64(0), 0))
        XCTAssertEqual(outcome { bp_f32_eq(0x7f80_0001, 0x3f80_0000, $0) }, Outcome(UInt64(0), NV))
        XCTAssertEqual(outcome { bp_f32_lt(0x7fc0_0000, 0x3f80_0000, $0) }, Outcome(UInt64(0), NV))
        XCTAssertEqual(outcome { bp_f32_le(0x3f80_0000, 0x7fc0_0000, $0) }, Outcome(UInt64(0), NV))
    }

    func testClassifiesEveryClass() {
        let singles: [(UInt32, UInt64)] = [
            (0xff80_0000, 1 << 0), (0xbf80_0000, 1 << 1), (0x8000_0001, 1 << 2), (0x8000_0000, 1 << 3),
            (0x0000_0000, 1 << 4), (0x0000_0001, 1 << 5), (0x3f80_0000, 1 << 6), (0x7f80_0000, 1 << 7),
            (0x7f80_0001, 1 << 8), (0x7fc0_0000, 1 << 9),
        ]
        for (bits, mask) in singles { XCTAssertEqual(bp_f32_class(bits), mask, "0x\(String(bits, radix: 16))") }
        let doubles: [(UInt64, UInt64)] = [
            (0xfff0_0000_0000_0000, 1 << 0), (0xbff0_0000_0000_0000, 1 << 1), (0x8000_0000_0000_0001, 1 << 2),
            (0x8000_0000_0000_0000, 1 << 3), (0, 1 << 4), (1, 1 << 5), (0x3ff0_0000_0000_0000, 1 << 6),
            (0x7ff0_0000_0000_0000, 1 << 7), (0x7ff0_0000_0000_0001, 1 << 8), (0x7ff8_0000_0000_0000, 1 << 9),
        ]
        for (bits, mask) in doubles { XCTAssertEqual(bp_f64_class(bits), mask, "0x\(String(bits, radix: 16))") }
    }

    // MARK: The exact implementation agrees with the host FPU

    /// Random finite operands (biased towards small significands, which make ties and exact
    /// results, and towards exponents that reach the subnormal and overflow ranges): the integer
    /// implementation must match the x86 host FPU bit for bit, flags included, in the four
    /// modes both implement.
    func testExactImplementationMatchesHostInSharedModes() throws {
        #if !arch(x86_64)
        throw XCTSkip("the host FPU is a valid reference only where it detects tininess after rounding")
        #endif
        var random = SplitMix64(seed: 0x5eed)
        for _ in 0..<20000 {
            let rm = UInt32(random.next() % 4)
            let a = random.finiteSingle(), b = random.finiteSingle(), c = random.finiteSingle()
            XCTAssertEqual(outcome { bp_soft_f32_add(a, b, rm, $0) }, outcome { bp_host_f32_add(a, b, rm, $0) }, "add \(a) \(b) rm \(rm)")
            XCTAssertEqual(outcome { bp_soft_f32_mul(a, b, rm, $0) }, outcome { bp_host_f32_mul(a, b, rm, $0) }, "mul \(a) \(b) rm \(rm)")
            XCTAssertEqual(outcome { bp_soft_f32_fma(a, b, c, rm, $0) }, outcome { bp_host_f32_fma(a, b, c, rm, $0) }, "fma \(a) \(b) \(c) rm \(rm)")
            if b & 0x7fff_ffff != 0 {
                XCTAssertEqual(outcome { bp_soft_f32_div(a, b, rm, $0) }, outcome { bp_host_f32_div(a, b, rm, $0) }, "div \(a) \(b) rm \(rm)")
            }
            let x = random.finiteDouble(), y = random.finiteDouble(), z = random.finiteDouble()
            XCTAssertEqual(outcome { bp_soft_f64_add(x, y, rm, $0) }, outcome { bp_host_f64_add(x, y, rm, $0) }, "add \(x) \(y) rm \(rm)")
            XCTAssertEqual(outcome { bp_soft_f64_mul(x, y, rm, $0) }, outcome { bp_host_f64_mul(x, y, rm, $0) }, "mul \(x) \(y) rm \(rm)")
            XCTAssertEqual(outcome { bp_soft_f64_fma(x, y, z, rm, $0) }, outcome { bp_host_f64_fma(x, y, z, rm, $0) }, "fma \(x) \(y) \(z) rm \(rm)")
            if y & 0x7fff_ffff_ffff_ffff != 0 {
                XCTAssertEqual(outcome { bp_soft_f64_div(x, y, rm, $0) }, outcome { bp_host_f64_div(x, y, rm, $0) }, "div \(x) \(y) rm \(rm)")
            }
            XCTAssertEqual(outcome { bp_soft_f64_to_f32(x, rm, $0) }, outcome { bp_host_f64_to_f32(x, rm, $0) }, "narrow \(x) rm \(rm)")
        }
    }
}

/// Deterministic generator (SplitMix64) so a failure reproduces.
private struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// A finite binary32/binary64 encoding with a significand of 0–8 random top bits (or all
    /// random bits) and an exponent field anywhere in [0, max-1].
    mutating func finiteBits(exponentBits: Int, fractionBits: Int) -> UInt64 {
        let sign = next() & 1
        let maxField = (UInt64(1) << exponentBits) - 2
        let bias = (UInt64(1) << (exponentBits - 1)) - 1
        let field: UInt64
        switch next() % 4 {
        case 0: field = next() % (maxField + 1)
        case 1: field = next() % 4                                   // subnormal boundary
        case 2: field = maxField - next() % 4                        // overflow boundary
        default: field = bias &+ next() % 64 &- 32
        }
        let fraction: UInt64
        if next() % 2 == 0 {
            fraction = next() & ((1 << fractionBits) - 1)
        } else {
            let kept = Int(next() % 9)
            fraction = kept == 0 ? 0 : (next() >> (64 - kept)) << (fractionBits - kept)
        }
        return sign << (exponentBits + fractionBits) | field << fractionBits | fraction
    }

    mutating func finiteSingle() -> UInt32 { UInt32(finiteBits(exponentBits: 8, fractionBits: 23)) }
    mutating func finiteDouble() -> UInt64 { finiteBits(exponentBits: 11, fractionBits: 52) }
}

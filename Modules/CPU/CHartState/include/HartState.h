// The architectural state of one RV64GC hart, in one C-layout struct.
//
// Why C: the interpreter reaches this struct through one UnsafeMutablePointer, and the JIT
// addresses its fields by fixed offsets from a pinned host register. A C struct makes that
// layout explicit and stable; Swift struct layout is not guaranteed.
//
// Invariants: x[0] is always 0 between instructions; f[] holds raw IEEE bits, single-precision
// values NaN-boxed (upper 32 bits all ones) as RISC-V unprivileged spec §12.2 requires.
#ifndef BACKPLANE_HART_STATE_H
#define BACKPLANE_HART_STATE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Entries in each direct-mapped software TLB (one per access kind). Power of two.
#define BP_TLB_ENTRIES 256
/// Per-site probe slots of each kind (loads, stores) in `HartState.jitSiteSlots`.
#define BP_SITE_SLOTS 1024

/// One software-TLB entry. A hit means `tag == (vaddr >> 12)` and the host address of the
/// guest virtual address `vaddr` is `vaddr + addend`. `tag == UINT64_MAX` marks an empty entry.
/// RAM and ROM pages are entered for loads and fetches, RAM pages for stores unless the page
/// holds decoded code; MMIO pages never are (they, stores to ROM and stores to code pages always
/// take the slow path).
typedef struct BPTLBEntry {
    uint64_t tag;
    int64_t addend;
} BPTLBEntry;

/// Privilege levels as encoded in mstatus.MPP (RISC-V privileged spec §1.2).
enum {
    BP_PRIV_U = 0,
    BP_PRIV_S = 1,
    BP_PRIV_M = 3,
};

typedef struct HartState {
    // --- Unprivileged state -------------------------------------------------------------------
    uint64_t x[32];          ///< Integer registers; x[0] reads as zero.
    uint64_t f[32];          ///< FP registers as raw bits (NaN-boxed singles).
    uint64_t pc;             ///< Address of the next instruction to execute.
    uint32_t fflags;         ///< Accrued FP exception flags (NV DZ OF UF NX, bits 4..0).
    uint32_t frm;            ///< Dynamic rounding mode (0..4 valid; 5..7 reserved).

    // --- Privilege and counters ---------------------------------------------------------------
    uint64_t privilege;      ///< BP_PRIV_U / BP_PRIV_S / BP_PRIV_M.
    uint64_t cycle;          ///< mcycle.
    uint64_t instret;        ///< minstret.
    uint64_t hartid;         ///< mhartid.

    // --- Machine-level CSRs (privileged spec §3.1) --------------------------------------------
    uint64_t mstatus;
    uint64_t misa;
    uint64_t medeleg;
    uint64_t mideleg;
    uint64_t mie;
    uint64_t mip;            ///< Software-writable bits plus lines driven by interrupt controllers.
    uint64_t mtvec;
    uint64_t mscratch;
    uint64_t mepc;
    uint64_t mcause;
    uint64_t mtval;
    uint64_t mcounteren;
    uint64_t mcountinhibit;
    uint64_t menvcfg;
    uint64_t mseccfg;

    // --- Supervisor-level CSRs (privileged spec §4.1) -----------------------------------------
    uint64_t stvec;
    uint64_t sscratch;
    uint64_t sepc;
    uint64_t scause;
    uint64_t stval;
    uint64_t satp;
    uint64_t scounteren;
    uint64_t senvcfg;

    // --- Physical memory protection (privileged spec §3.7): 16 entries ------------------------
    uint64_t pmpcfg[2];      ///< pmpcfg0 and pmpcfg2 (RV64 uses even-numbered registers only).
    uint64_t pmpaddr[16];

    // --- LR/SC reservation ---------------------------------------------------------------------
    uint64_t reservationAddress;
    uint64_t reservationValid;

    // --- Execution control ---------------------------------------------------------------------
    /// Non-zero asks the run loop to leave at the next block boundary (an interrupt became
    /// pending, the machine wants to stop, a device needs service). Written by devices and the
    /// machine loop; read by the hart between blocks.
    uint64_t exitRequest;
    /// Non-zero while the hart sleeps in WFI waiting for an interrupt.
    uint64_t waitingForInterrupt;
    /// mip bits driven by interrupt controllers: MEIP, MTIP, MSIP and the controller's SEIP.
    /// Software reads mip as `mip | mipExternal`; `mip` itself holds only the software-writable
    /// bits (SSIP, STIP, SEIP), so the controller's SEIP and the software-written SEIP stay
    /// separate as privileged spec 1.12 §3.1.9 requires.
    uint64_t mipExternal;

    // --- JIT bookkeeping (never architecturally visible) ---------------------------------------
    /// Instructions generated code may still start: each translated block subtracts its length
    /// on entry and leaves to the run loop when the result is negative.
    int64_t jitBudget;
    /// The `Hart` that owns this state (unretained), for helpers called from generated code.
    void *jitContext;

    // --- Software TLB (translation cache; never architecturally visible) ----------------------
    BPTLBEntry tlbLoad[BP_TLB_ENTRIES];
    BPTLBEntry tlbStore[BP_TLB_ENTRIES];
    BPTLBEntry tlbFetch[BP_TLB_ENTRIES];

    // --- AIA (RISC-V AIA 1.0 §2.1): indirect-register selectors of Smaia/Ssaia ----------------
    // Kept last so that adding them moved no earlier field's offset.
    uint64_t miselect;
    uint64_t siselect;

    // --- JIT bookkeeping, continued (never architecturally visible) ---------------------------
    /// Bumped whenever the fetch TLB is flushed (SFENCE.VMA, satp/privilege/PMP changes, reset):
    /// a chained jump across a page boundary is followed only while this equals the value it
    /// was linked under, since the target page's virtual-to-physical mapping may differ now.
    uint64_t jitFetchGeneration;
    /// `jitBudget` when minstret/mcycle were last brought up to date: generated code only
    /// subtracts from `jitBudget`, and the run loop and every helper add `jitBudgetBase -
    /// jitBudget` to both counters before anything can read them (`Hart.syncJITCounters`).
    int64_t jitBudgetBase;
    /// Return-address prediction for generated code: a ring of 16 (guest return address + 1,
    /// host landing) pairs. A call (jal/jalr with rd = x1 or x5, unprivileged spec §2.5.1's
    /// hints) pushes the address after it and the host address of a guarded chain to it; a
    /// return (jalr x0, 0(x1/x5)) whose target equals the top entry pops it and jumps to that
    /// landing instead of probing the fetch TLB and the dispatch table. The address is stored
    /// plus one so that a zeroed entry (reset, flush) never matches an (even) target.
    uint64_t jitReturnStack[32];
    /// Byte offset of the top entry in `jitReturnStack` (a multiple of 16 below 256).
    uint64_t jitReturnTop;

    // --- The virtual clock's view of the hart (never architecturally visible) -----------------
    /// Budget left before the instruction now executing, counted as every run loop counts it
    /// (one per retired instruction, one per trap). The interpreter writes it before each
    /// instruction; the JIT's helpers write it before a device access or an instruction they
    /// interpret. The machine's virtual clock (`Timebase`) reads it while a device or the `time`
    /// CSR asks for the time, so a hart's time advances instruction by instruction, identically
    /// under both engines (docs/architecture.md, "Virtual time").
    int64_t clockBudget;
    /// What the last `run(budget:)` left of its budget: the budget minus what it used.
    int64_t budgetLeft;

    // --- Sstc (RISC-V privileged spec 1.12, chapter "Sstc"): supervisor timer compare --------
    // Kept last so that adding it moved no earlier field's offset.
    /// `stimecmp`: while `menvcfg.STCE` is 1, mip.STIP is `time >= stimecmp` (unsigned).
    uint64_t stimecmp;

    // --- JIT bookkeeping, continued (never architecturally visible) ---------------------------
    /// Self-loops' copies of data-TLB entries: 8 slots of (page address with the low 12 bits
    /// clear, host addend), slots 0-4 copies of `tlbLoad` entries and 5-7 of `tlbStore`
    /// entries, each used by one base register of a loop (the addend also in a host register
    /// while a loop leaves one free). They outlive the loop: every removal of a TLB entry
    /// (`flushTLBs`, `dropStoreTranslations`, an LR taking its pages out of the store TLB) sets
    /// them all invalid (~0), so a slot only ever holds a mapping the TLB would give (see
    /// docs/jit.md, "Sixth round" and "Seventh round").
    uint64_t jitLoopProbe[16];
    /// The addends that groups of loads or stores through one base share within a block
    /// (docs/jit.md, "Seventh round"; 1 when the group's range was not in one mapped page).
    uint64_t jitProbeGroup[16];
    /// Budget a self-loop in a page run holds back from the budget register (docs/jit.md,
    /// "Tenth round"): the loop's back edge then fails where its loads and stores could leave
    /// the pages their probe slots hold, and every way out of the loop adds this back.
    int64_t jitBudgetHeld;
    /// What generated code ORs into a masked address before comparing it with a site slot's
    /// tag (`jitSiteSlots`): bit 3 always set (so a zeroed slot never matches), bits 4-11 a
    /// generation that every removal of a TLB entry advances (`Hart.invalidateLoopProbes`),
    /// so a slot filled before it no longer matches; when the 8 bits wrap, the slots are
    /// zeroed. Bits 0-2 of the masked address are an access's misalignment, bits 12 and up
    /// its page: neither collides with these bits.
    uint64_t jitSiteSlotGeneration;
    /// Per-site probe slots for loads and stores outside self-loops (docs/jit.md, "Tenth
    /// round"): BP_SITE_SLOTS of (page address | generation bits, host addend) copied from
    /// `tlbLoad`, then as many copied from `tlbStore`. Translated sites are given slots in turn
    /// and share them once there are more sites than slots (a slot is only a cache: its tag
    /// is compared at every access).
    uint64_t jitSiteSlots[2 * 2 * BP_SITE_SLOTS];
} HartState;

/// What a JIT load helper returns (in rax:rdx under the System V ABI): the loaded value,
/// already sign- or zero-extended, and `leave`: 0 to go on, 1 when the access raised a trap that
/// the helper has already entered, 2 when the load completed and a device asked for an exit (the
/// helper has retired the instruction and set pc; generated code writes rd, then leaves).
typedef struct BPJITLoadResult {
    uint64_t value;
    uint64_t leave;
} BPJITLoadResult;

#ifdef __cplusplus
}
#endif

#endif

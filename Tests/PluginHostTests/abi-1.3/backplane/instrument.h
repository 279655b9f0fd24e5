/*
 * Backplane plugin ABI 1.1: instrumentation, in the spirit of QEMU's TCG plugins
 * (docs/plugins.md "Instrumentation"). `host->instrument` is non-NULL for a plugin built
 * against 1.1 or later (check BP_HAS before calling a function added after 1.1).
 *
 * WHAT FIRES WHEN (both engines, `--accel interp` and `--accel jit`):
 *  - block translated: when an engine decodes (interpreter) or translates (JIT) a block of
 *    guest code: guest pc of its first instruction, its instruction count and byte length.
 *    The same guest code may be translated several times (each engine has its own cache;
 *    caches are flushed by code writes, FENCE.I, reset and by a change of the registered
 *    callback kinds). An instruction that cannot be cached (it straddles a page, or its page
 *    has mixed PMP permissions) is "translated" each time it runs, as a 1-instruction block.
 *  - block executed: before the first instruction of a block runs, with the number of its
 *    instructions that are about to run. A block left early by a trap, an interrupt-raising
 *    device write or a taken exit still counted all of them: summing `instructions` over
 *    block executions gives the retired count exactly when no trap cuts a block short.
 *  - instruction: before each instruction executes (pc and encoding: 16 bits for compressed
 *    instructions, 32 otherwise). Also for an instruction that then traps.
 *  - memory: after each completed data access (load, store, LR/SC, AMO read and write,
 *    floating-point load/store; not instruction fetches or page-table walks): guest virtual
 *    address, size in bytes (1, 2, 4, 8), BP_MEM_LOAD or BP_MEM_STORE, and the value loaded or
 *    stored (zero-extended). A faulting access does not fire; its trap does.
 *  - trap: when the hart enters a trap handler, before any CSR changes: cause as mcause
 *    encodes it (bit 63 set for interrupts), tval, pc of the trapping instruction (or of the
 *    interrupted one), and the privilege the hart was in (BP_PRIVILEGE_*).
 *  - hart start: once per hart, when the machine starts running; hart stop: once per started
 *    hart at shutdown, before any plugin's exit.
 *
 * THREADING AND TIMING: every callback runs on the machine thread, synchronously, in the
 * middle of the hart's execution: keep it short and never block. Register and unregister
 * only on the machine thread (in install, or from any callback, timer or device callback);
 * a change takes effect for each hart at the start of its next run slice (at most 50,000
 * instructions later) and flushes that hart's translated code, so new block-translated
 * callbacks see every block again. Callbacks of one kind run in registration order.
 *
 * COST: with no callback registered, none of this costs anything measurable (one test per
 * run slice). Block-translated, block-executed and trap callbacks keep both engines at full
 * speed apart from the calls themselves. Memory callbacks disable the data TLB fast path
 * (every access takes the slow path, which reports it). Per-instruction callbacks make the
 * hart run the interpreter one instruction at a time, whatever `--accel` says.
 */
#ifndef BACKPLANE_INSTRUMENT_H
#define BACKPLANE_INSTRUMENT_H

#include "plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Privilege levels (as in mstatus.MPP). */
#define BP_PRIVILEGE_U 0
#define BP_PRIVILEGE_S 1
#define BP_PRIVILEGE_M 3

/* Memory access kinds. */
#define BP_MEM_LOAD 0
#define BP_MEM_STORE 1

/* `hart` in every callback is the hart's mhartid (0 .. hart_count-1). `udata` is the pointer
 * given at registration. */
typedef void (*bp_block_translated_fn)(void *udata, uint32_t hart, uint64_t pc, uint32_t instructions, uint32_t bytes);
typedef void (*bp_block_executed_fn)(void *udata, uint32_t hart, uint64_t pc, uint32_t instructions);
typedef void (*bp_instruction_fn)(void *udata, uint32_t hart, uint64_t pc, uint32_t encoding);
typedef void (*bp_memory_fn)(void *udata, uint32_t hart, uint64_t vaddr, uint32_t size, uint32_t kind, uint64_t value);
typedef void (*bp_trap_fn)(void *udata, uint32_t hart, uint64_t cause, uint64_t tval, uint64_t pc, uint32_t privilege);
typedef void (*bp_hart_fn)(void *udata, uint32_t hart);

typedef struct bp_instrument_interface {
    uint32_t struct_size;
    /* Each register_* adds `fn` (with `udata`) for every hart and returns a registration id
     * (> 0) for unregister, or BP_ERR_INVALID when fn is NULL. The same function may be
     * registered several times (it then runs once per registration). */
    int (*register_block_translated)(bp_plugin *self, bp_block_translated_fn fn, void *udata);
    int (*register_block_executed)(bp_plugin *self, bp_block_executed_fn fn, void *udata);
    int (*register_instruction)(bp_plugin *self, bp_instruction_fn fn, void *udata);
    int (*register_memory)(bp_plugin *self, bp_memory_fn fn, void *udata);
    int (*register_trap)(bp_plugin *self, bp_trap_fn fn, void *udata);
    int (*register_hart_start)(bp_plugin *self, bp_hart_fn fn, void *udata);
    int (*register_hart_stop)(bp_plugin *self, bp_hart_fn fn, void *udata);
    /* Removes registration `id` of this plugin. BP_OK, or BP_ERR_NOT_FOUND when `id` is not a
     * live registration of `self` (already removed, another plugin's, never given out). */
    int (*unregister)(bp_plugin *self, int id);
    /* Number of harts of the machine (0 before the machine is built, e.g. during install). */
    uint32_t (*hart_count)(bp_plugin *self);
    /* Reads guest register `name` of hart `hart` into *value. Names: "pc"; "x0".."x31" and
     * their ABI names ("zero", "ra", "sp", "gp", "tp", "t0".."t6", "s0"/"fp", "s1".."s11",
     * "a0".."a7"); "f0".."f31" and "ft0".."ft11", "fs0".."fs11", "fa0".."fa7" (raw IEEE bits,
     * singles NaN-boxed); CSRs by their lower-case name ("mstatus", "mepc", "satp",
     * "minstret", "cycle", "time", "fcsr", ... every CSR the hart implements). Values are
     * exact inside any callback of that hart; for another hart they are as of the end of its
     * last slice. Machine thread only. BP_OK; BP_ERR_INVALID for a NULL argument or a hart
     * that does not exist; BP_ERR_NOT_FOUND for an unknown name. */
    int (*read_register)(bp_plugin *self, uint32_t hart, const char *name, uint64_t *value);
} bp_instrument_interface;

#ifdef __cplusplus
}
#endif

#endif /* BACKPLANE_INSTRUMENT_H */

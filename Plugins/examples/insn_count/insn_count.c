/*
 * insn_count: counts the instructions each hart executes and prints the per-hart counts at
 * exit, through the instrumentation interface (instrument.h, ABI 1.1).
 *
 * The cheap way (default, `mode=block`): one block-executed callback adds the block's length,
 * so the cost is one call per block, not per instruction, and the JIT keeps running natively.
 * `mode=insn` counts with a per-instruction callback instead (exact even when a trap cuts a
 * block short, but the hart then runs the interpreter one instruction at a time).
 *
 * Output (standard error, one line per hart that started, at exit):
 *     backplane: plugin insn_count: hart 0: 123456 instructions
 */
#include <backplane/backplane.h>
#include <inttypes.h>
#include <stdio.h>

#define MAX_HARTS 256

static const bp_host *host;
static uint64_t counts[MAX_HARTS];
static bool started[MAX_HARTS];

static void on_block(void *udata, uint32_t hart, uint64_t pc, uint32_t instructions) {
    (void)udata; (void)pc;
    if (hart < MAX_HARTS) counts[hart] += instructions;
}

static void on_instruction(void *udata, uint32_t hart, uint64_t pc, uint32_t encoding) {
    (void)udata; (void)pc; (void)encoding;
    if (hart < MAX_HARTS) counts[hart] += 1;
}

static void on_start(void *udata, uint32_t hart) {
    (void)udata;
    if (hart < MAX_HARTS) started[hart] = true;
}

static int install(const bp_host *h, bp_plugin *self, const bp_args *args) {
    host = h;
    if (!BP_HAS(h->instrument, register_block_executed)) {
        h->set_error(self, "this backplane has no instrumentation interface (ABI 1.1 needed)");
        return 1;
    }
    const char *mode = bp_args_get(args, "mode");
    int id;
    if (!mode || strcmp(mode, "block") == 0) {
        id = h->instrument->register_block_executed(self, on_block, NULL);
    } else if (strcmp(mode, "insn") == 0) {
        id = h->instrument->register_instruction(self, on_instruction, NULL);
    } else {
        h->set_error(self, "mode must be 'block' or 'insn'");
        return 1;
    }
    if (id <= 0 || h->instrument->register_hart_start(self, on_start, NULL) <= 0) {
        h->set_error(self, "registering the callbacks failed");
        return 1;
    }
    return 0;
}

static void plugin_exit(bp_plugin *self) {
    for (uint32_t hart = 0; hart < MAX_HARTS; hart++) {
        if (!started[hart]) continue;
        char text[96];
        snprintf(text, sizeof text, "hart %" PRIu32 ": %" PRIu64 " instructions", hart, counts[hart]);
        host->log->message(self, BP_LOG_INFO, text);
    }
}

BP_PLUGIN_DEFINE("insn_count", "counts the instructions each hart executes; prints per-hart counts at exit", NULL, install,
                 plugin_exit)

/* Instrumentation test plugin (ABI 1.1): records every event it is registered for as a text
 * line, and exports QPP functions the tests call to register/unregister kinds, read the
 * record and set a register probe. Lines:
 *   T pc count bytes | E pc count | I pc encoding | M L|S vaddr size value
 *   X cause tval pc privilege | start hart | stop hart | R name=value | R name=error N
 */
#include <backplane/backplane.h>
#include <inttypes.h>
#include <stdio.h>

static const bp_host *host;
static bp_plugin *me;
static char record[1 << 16];
static size_t used;
static uint64_t probe_pc = ~0ull;
static char probe_names[256];

static void add(const char *format, ...) __attribute__((format(printf, 1, 2)));
#include <stdarg.h>
static void add(const char *format, ...) {
    va_list list;
    va_start(list, format);
    int n = vsnprintf(record + used, sizeof record - used, format, list);
    va_end(list);
    if (n > 0 && used + (size_t)n < sizeof record) used += (size_t)n;
}

static void probe(uint32_t hart, uint64_t pc) {
    if (pc != probe_pc) return;
    char names[256];
    snprintf(names, sizeof names, "%s", probe_names);
    for (char *name = strtok(names, ","); name; name = strtok(NULL, ",")) {
        uint64_t value = 0;
        int status = host->instrument->read_register(me, hart, name, &value);
        if (status == BP_OK) add("R %s=0x%" PRIx64 "\n", name, value);
        else add("R %s=error %d\n", name, status);
    }
}

static void on_translated(void *u, uint32_t hart, uint64_t pc, uint32_t count, uint32_t bytes) {
    (void)u; (void)hart;
    add("T 0x%" PRIx64 " %u %u\n", pc, count, bytes);
}
static void on_executed(void *u, uint32_t hart, uint64_t pc, uint32_t count) {
    (void)u;
    add("E 0x%" PRIx64 " %u\n", pc, count);
    probe(hart, pc);
}
/* Does host floating point that raises inexact: must not leak into the guest's fflags. */
static void on_executed_fp(void *u, uint32_t hart, uint64_t pc, uint32_t count) {
    volatile double third = 1.0;
    third /= 3.0;
    on_executed(u, hart, pc, count + (third > 1.0));
}
static void on_instruction(void *u, uint32_t hart, uint64_t pc, uint32_t encoding) {
    (void)u;
    add("I 0x%" PRIx64 " 0x%08x\n", pc, encoding);
    probe(hart, pc);
}
static void on_memory(void *u, uint32_t hart, uint64_t vaddr, uint32_t size, uint32_t kind, uint64_t value) {
    (void)u; (void)hart;
    add("M %s 0x%" PRIx64 " %u 0x%" PRIx64 "\n", kind == BP_MEM_STORE ? "S" : "L", vaddr, size, value);
}
static void on_trap(void *u, uint32_t hart, uint64_t cause, uint64_t tval, uint64_t pc, uint32_t privilege) {
    (void)u; (void)hart;
    add("X 0x%" PRIx64 " 0x%" PRIx64 " 0x%" PRIx64 " %u\n", cause, tval, pc, privilege);
}
static void on_start(void *u, uint32_t hart) { (void)u; add("start %u\n", hart); }
static void on_stop(void *u, uint32_t hart) { (void)u; add("stop %u\n", hart); }

/* QPP exports. */
static int do_register(const char *kind) {
    const bp_instrument_interface *i = host->instrument;
    if (strcmp(kind, "translated") == 0) return i->register_block_translated(me, on_translated, NULL);
    if (strcmp(kind, "executed") == 0) return i->register_block_executed(me, on_executed, NULL);
    if (strcmp(kind, "instruction") == 0) return i->register_instruction(me, on_instruction, NULL);
    if (strcmp(kind, "memory") == 0) return i->register_memory(me, on_memory, NULL);
    if (strcmp(kind, "trap") == 0) return i->register_trap(me, on_trap, NULL);
    if (strcmp(kind, "start") == 0) return i->register_hart_start(me, on_start, NULL);
    if (strcmp(kind, "stop") == 0) return i->register_hart_stop(me, on_stop, NULL);
    if (strcmp(kind, "executed_fp") == 0) return i->register_block_executed(me, on_executed_fp, NULL);
    if (strcmp(kind, "null") == 0) return i->register_block_executed(me, NULL, NULL);
    return 0;
}
static int do_unregister(int id) { return host->instrument->unregister(me, id); }
static const char *do_text(void) { return record; }
static void do_clear(void) { used = 0; record[0] = 0; }
static void do_probe(uint64_t pc, const char *names) {
    probe_pc = pc;
    snprintf(probe_names, sizeof probe_names, "%s", names);
}
static unsigned do_hart_count(void) { return host->instrument->hart_count(me); }

static int install(const bp_host *h, bp_plugin *self, const bp_args *args) {
    (void)args;
    host = h;
    me = self;
    if (!BP_HAS(h->instrument, read_register)) {
        h->set_error(self, "no instrument interface");
        return 1;
    }
    h->qpp->export_function(self, "register", (bp_qpp_fn)do_register, "int(const char*)");
    h->qpp->export_function(self, "unregister", (bp_qpp_fn)do_unregister, "int(int)");
    h->qpp->export_function(self, "text", (bp_qpp_fn)do_text, "const char*(void)");
    h->qpp->export_function(self, "clear", (bp_qpp_fn)do_clear, "void(void)");
    h->qpp->export_function(self, "probe", (bp_qpp_fn)do_probe, "void(uint64_t,const char*)");
    h->qpp->export_function(self, "hart_count", (bp_qpp_fn)do_hart_count, "unsigned(void)");
    return 0;
}

BP_PLUGIN_DEFINE(PLUGIN_NAME, "instrumentation test plugin", NULL, install, NULL)

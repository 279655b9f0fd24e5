/* Test plugin template: compiled with -DPLUGIN_NAME="x" -DUSES='"a","b",' and optionally
 * FAIL_MESSAGE, FAIL_SILENTLY, IMPORT_SIGNATURE, EXPORT_ADD, DESCRIPTOR_MAJOR/MINOR, NO_DESCRIPTOR,
 * REPORT_INSTRUMENT.
 * With a `log=PATH` argument it appends "install NAME" / "exit NAME" lines there. */
#include <backplane/backplane.h>
#include <stdio.h>

#ifndef NO_DESCRIPTOR
static char log_path[512];

static void note(const char *what) {
    if (!log_path[0]) return;
    FILE *file = fopen(log_path, "a");
    if (!file) return;
    fprintf(file, "%s %s\n", what, PLUGIN_NAME);
    fclose(file);
}

#ifdef EXPORT_ADD
static int do_add(int x) { return x + 1; }
typedef int (*add_fn)(int);
#endif

static int install(const bp_host *host, bp_plugin *self, const bp_args *args) {
    const char *path = bp_args_get(args, "log");
    if (path) snprintf(log_path, sizeof log_path, "%s", path);
    note("install");
    const char *greeting = bp_args_get(args, "greeting");
    if (greeting) {
        char text[128];
        snprintf(text, sizeof text, "greeting=%s count=%u", greeting, args->count);
        host->log->message(self, BP_LOG_INFO, text);
    }
#ifdef EXPORT_ADD
    if (host->qpp->export_function(self, "do_add", (bp_qpp_fn)(add_fn)do_add, "int(int)") != BP_OK) return 1;
#endif
#ifdef IMPORT_SIGNATURE
    bp_qpp_fn found = NULL;
    (void)host->qpp->import_function(self, "srv", "do_add", IMPORT_SIGNATURE, &found);
    /* Deliberately not checking the result: the host refuses the plugin anyway. */
#endif
#ifdef REGISTER_PCI_SIZE
    bp_pci_device_type type;
    memset(&type, 0, sizeof type);
    type.struct_size = sizeof type;
#ifdef PCI_TYPE_NAME
    type.name = PCI_TYPE_NAME;
#else
    type.name = "bad.pci";
#endif
    type.bars[0] = (bp_pci_bar_spec){BP_PCI_BAR_MEM32, 0, REGISTER_PCI_SIZE, 0, 0};
    if (host->pci->register_type(self, &type) != BP_OK) return 1;
#endif
#ifdef REPORT_INSTRUMENT
    /* Notes which host table it received: "instrument-present NAME" or "instrument-null NAME". */
    note(host->instrument ? "instrument-present" : "instrument-null");
#endif
#ifdef FAIL_MESSAGE
    host->set_error(self, FAIL_MESSAGE);
    return 1;
#endif
#ifdef FAIL_SILENTLY
    return 7;
#endif
    return 0;
}

static void exit_plugin(bp_plugin *self) {
    (void)self;
    note("exit");
}

static const char *const uses[] = {USES NULL};

#ifndef DESCRIPTOR_MAJOR
BP_PLUGIN_DEFINE(PLUGIN_NAME, "test plugin", uses, install, exit_plugin)
#else
static const bp_plugin_descriptor descriptor = {BP_PLUGIN_MAGIC, sizeof(bp_plugin_descriptor), DESCRIPTOR_MAJOR,
                                                DESCRIPTOR_MINOR, PLUGIN_NAME, "test plugin", uses, install, exit_plugin};
BP_EXPORT const bp_plugin_descriptor *backplane_plugin_descriptor(void) { return &descriptor; }
#endif
#else
/* A shared library that is not a Backplane plugin. */
BP_EXPORT int something_else(void) { return 1; }
#endif

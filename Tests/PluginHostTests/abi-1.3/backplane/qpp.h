/*
 * Backplane plugin ABI 1.0: QPP, calls between plugins (after the QEMU plugin-to-plugin
 * proposal), with its known weaknesses fixed:
 *  - the host orders installs by each plugin's `uses` list (command-line order is irrelevant);
 *    a missing dependency or a cycle stops the run with a message naming the plugins;
 *  - imports are checked against a signature string and fail with an error code, refusing
 *    the importing plugin cleanly instead of aborting the process;
 *  - callbacks may be registered and unregistered while another thread runs them.
 *
 * Functions. The exporting plugin ships a header with one prototype per function:
 *     BP_QPP_FUN_PROTOTYPE(qpp_srv, int, do_add, int);
 * which declares the pointer `qpp_srv_do_add_qpp`, its type `qpp_srv_do_add_fn`, its
 * signature string `qpp_srv_do_add_signature` ("int(int)", as the preprocessor spells the
 * prototype) and `qpp_srv_do_add_qpp_import(host, self)`. The exporter calls, in install,
 *     BP_QPP_EXPORT(host, self, qpp_srv, do_add, my_do_add);
 * an importer lists "qpp_srv" in `uses` and calls `qpp_srv_do_add_qpp_import(host, self)` in
 * install (0 on success, else the BP_ERR_* and the run stops with a message naming both
 * plugins), then calls `qpp_srv_do_add_qpp(1)`.
 *
 * Callbacks. A plugin creates named callbacks and runs them with an event pointer; other
 * plugins register functions on them, each with its own user pointer:
 *     void on_tick(void *evdata, void *udata);
 *
 * Threading: every function here may be called from any thread. A registration or
 * unregistration that races with run_callback takes effect for the next run; the running one
 * finishes with the list it started with (it never sees a half-updated list).
 */
#ifndef BACKPLANE_QPP_H
#define BACKPLANE_QPP_H

#include "plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A function pointer of any type, as exported; cast back to the prototype's type. */
typedef void (*bp_qpp_fn)(void);
/* A callback function: `evdata` from the plugin running the callback, `udata` from the
 * registration. */
typedef void (*bp_qpp_cb_fn)(void *evdata, void *udata);

typedef struct bp_qpp_interface {
    uint32_t struct_size;
    /* Exports `function` as `name` of the calling plugin with `signature` (both copied).
     * BP_OK, BP_ERR_INVALID, BP_ERR_EXISTS (name already exported). Any time after install
     * starts; importers installed later see it. */
    int (*export_function)(bp_plugin *self, const char *name, bp_qpp_fn function, const char *signature);
    /* Looks up `name` exported by plugin `plugin`, which must be in the caller's `uses`.
     * Stores the pointer in *function and returns BP_OK; otherwise leaves *function NULL and
     * returns BP_ERR_NOT_USED, BP_ERR_NOT_FOUND or BP_ERR_SIGNATURE (signature differs from
     * the export's; NULL skips the check). A failed import also records the reason as the
     * plugin's install error. */
    int (*import_function)(bp_plugin *self, const char *plugin, const char *name, const char *signature,
                           bp_qpp_fn *function);
    /* Creates callback `name` of the calling plugin; returns its handle (valid until exit),
     * or NULL if the name is taken or invalid. */
    bp_qpp_callback *(*create_callback)(bp_plugin *self, const char *name);
    /* Runs every function registered on `callback`, in registration order, with `evdata`
     * and its own udata; returns how many ran. Reentrant; any thread. */
    uint32_t (*run_callback)(bp_qpp_callback *callback, void *evdata);
    /* Registers `function` (with `udata`) on callback `name` of plugin `plugin` (which must
     * be in the caller's `uses`). BP_OK, BP_ERR_NOT_USED, BP_ERR_NOT_FOUND, BP_ERR_INVALID. */
    int (*register_callback)(bp_plugin *self, const char *plugin, const char *name, bp_qpp_cb_fn function, void *udata);
    /* Removes the caller's first registration of `function` on that callback. Returns true
     * if it found one, false otherwise. */
    bool (*unregister_callback)(bp_plugin *self, const char *plugin, const char *name, bp_qpp_cb_fn function);
} bp_qpp_interface;

/* Declares an exported function (put these in the exporting plugin's public header). */
#define BP_QPP_FUN_PROTOTYPE(PLUGIN, RET, NAME, ...)                                                 \
    typedef RET (*PLUGIN##_##NAME##_fn)(__VA_ARGS__);                                                 \
    static const char PLUGIN##_##NAME##_signature[] = #RET "(" #__VA_ARGS__ ")";                      \
    static PLUGIN##_##NAME##_fn PLUGIN##_##NAME##_qpp __attribute__((unused));                        \
    static inline __attribute__((unused)) int PLUGIN##_##NAME##_qpp_import(const bp_host *host, bp_plugin *self) { \
        bp_qpp_fn found = NULL;                                                                       \
        int status = host->qpp->import_function(self, #PLUGIN, #NAME, PLUGIN##_##NAME##_signature, &found); \
        PLUGIN##_##NAME##_qpp = (PLUGIN##_##NAME##_fn)found;                                          \
        return status;                                                                                \
    }

/* Exports IMPLEMENTATION (a function of the prototype's type) as PLUGIN's NAME; evaluates to
 * the export_function result. */
#define BP_QPP_EXPORT(HOST, SELF, PLUGIN, NAME, IMPLEMENTATION)                                     \
    ((HOST)->qpp->export_function((SELF), #NAME,                                                      \
        (bp_qpp_fn)(PLUGIN##_##NAME##_fn)(IMPLEMENTATION), PLUGIN##_##NAME##_signature))

#ifdef __cplusplus
}
#endif

#endif /* BACKPLANE_QPP_H */

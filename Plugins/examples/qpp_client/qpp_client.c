/*
 * qpp_client: the importing half of the QPP example. Uses qpp_srv: imports do_add/do_sub
 * through the prototypes in qpp_srv.h (signature-checked), registers on its on_tick callback
 * and at exit reports what it saw and unregisters.
 */
#include <stdio.h>
#include "qpp_srv.h"

static const bp_host *host;
static bp_plugin *me;
static uint32_t ticks_seen;
static uint32_t last_srv_count;

static void on_tick(void *evdata, void *udata) {
    const qpp_srv_event *event = evdata;
    ticks_seen++;
    last_srv_count = event->ticks;
    (void)udata;
}

static int install(const bp_host *h, bp_plugin *self, const bp_args *args) {
    (void)args;
    host = h;
    me = self;
    if (qpp_srv_do_add_qpp_import(host, self) != BP_OK) return 1;
    if (qpp_srv_do_sub_qpp_import(host, self) != BP_OK) return 1;
    if (host->qpp->register_callback(self, "qpp_srv", "on_tick", on_tick, NULL) != BP_OK) return 1;
    char text[64];
    snprintf(text, sizeof text, "installed; do_add(1) = %d", qpp_srv_do_add_qpp(1));
    host->log->message(self, BP_LOG_INFO, text);
    return 0;
}

/* Exits before qpp_srv (which it uses): unregisters, so qpp_srv never calls into a plugin
 * that has exited. */
static void exit_plugin(bp_plugin *self) {
    bool found = host->qpp->unregister_callback(self, "qpp_srv", "on_tick", on_tick);
    bool again = host->qpp->unregister_callback(self, "qpp_srv", "on_tick", on_tick);
    char text[160];
    snprintf(text, sizeof text, "saw %u tick(s), qpp_srv counted %u; do_add(41) = %d, do_sub(43) = %d; unregister: %s, then %s",
             ticks_seen, last_srv_count, qpp_srv_do_add_qpp(41), qpp_srv_do_sub_qpp(43),
             found ? "found" : "not found", again ? "found" : "not found");
    host->log->message(self, BP_LOG_INFO, text);
}

static const char *const uses[] = {"qpp_srv", NULL};

BP_PLUGIN_DEFINE("qpp_client", "QPP example: imports from qpp_srv and registers on its callbacks", uses, install, exit_plugin)

/*
 * qpp_client: the importing half of the QPP example. Uses qpp_srv: imports do_add/do_sub
 * through the prototypes in qpp_srv.h (signature-checked), registers on its callbacks and
 * reports what it saw when qpp_srv's on_exit runs.
 */
#include <stdio.h>
#include "qpp_srv.h"

static const bp_host *host;
static bp_plugin *me;
static uint32_t ticks_seen;

static void on_tick(void *evdata, void *udata) {
    (void)evdata;
    (void)udata;
    ticks_seen++;
}

static void on_exit(void *evdata, void *udata) {
    const qpp_srv_event *event = evdata;
    char text[128];
    snprintf(text, sizeof text, "%s: on_exit after %u tick(s) (qpp_srv counted %u); do_add(41) = %d, do_sub(43) = %d",
             (const char *)udata, ticks_seen, event->ticks, qpp_srv_do_add_qpp(41), qpp_srv_do_sub_qpp(43));
    host->log->message(me, BP_LOG_INFO, text);
}

static int install(const bp_host *h, bp_plugin *self, const bp_args *args) {
    (void)args;
    host = h;
    me = self;
    if (qpp_srv_do_add_qpp_import(host, self) != BP_OK) return 1;
    if (qpp_srv_do_sub_qpp_import(host, self) != BP_OK) return 1;
    if (host->qpp->register_callback(self, "qpp_srv", "on_tick", on_tick, NULL) != BP_OK) return 1;
    if (host->qpp->register_callback(self, "qpp_srv", "on_exit", on_exit, (void *)"qpp_client") != BP_OK) return 1;
    char text[64];
    snprintf(text, sizeof text, "installed; do_add(1) = %d", qpp_srv_do_add_qpp(1));
    host->log->message(self, BP_LOG_INFO, text);
    return 0;
}

static const char *const uses[] = {"qpp_srv", NULL};

BP_PLUGIN_DEFINE("qpp_client", "QPP example: imports from qpp_srv and registers on its callbacks", uses, install, NULL)

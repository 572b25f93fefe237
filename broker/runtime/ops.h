/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

/*
 * The operations of the runtime itself: ping, health (per-tenant readiness with reasons) and
 * stats (admin socket only). hello is part of dispatch (it changes the connection's state).
 */

/* Registers the built-in handlers with dispatch. event is borrowed for the process life. */
void ops_register_builtin(sd_event *event);

/* Undoes ops_register_builtin (at exit). */
void ops_unregister_builtin(void);

/* The one provider of health's optional detail (metrics/: JWKS age, the last upstream error;
 * NULL removes it): it fills those fields of h for tenant t, with strings that live until
 * the reply is encoded (its own storage, or t's). */
struct tenant;
struct sb_health_result;
typedef void (*ops_health_detail_t)(const struct tenant *t, struct sb_health_result *h);
void ops_set_health_detail(ops_health_detail_t fn);

/* TEST ONLY: delay every ping reply (the hidden [broker] test_ping_delay key). 0 disables. */
void ops_set_test_ping_delay(uint64_t usec);

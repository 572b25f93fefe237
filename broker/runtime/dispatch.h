/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "proto/message.h"
#include "runtime/request.h"

/*
 * Dispatch: turns one frame into a request and calls its operation's handler, in the
 * connection's state (before hello only `hello`; after it what the operation table of
 * proto/message.h and the tenant's allow_operations permit), refusing new requests while
 * the daemon drains and those over the tenant's rate limit. The handler's contract is in
 * runtime/request.h.
 *
 * Handlers are bound by the module that implements them (modules.c lists the modules), so
 * that runtime/ never includes the layers above it:
 *
 *   static int op_get_records(struct request_ctx *rc) { ... }
 *   dispatch_register(SB_OP_GET_RECORDS, op_get_records);
 */

struct conn;

typedef int (*dispatch_handler)(struct request_ctx *rc);

/* Registers the handler of op (replacing a previous one). Call before the daemon runs. */
void dispatch_register(enum sb_op op, dispatch_handler h);
bool dispatch_has_handler(enum sb_op op);
/* Forgets every handler (at exit, and between tests). */
void dispatch_reset(void);

/* The connection's frame handler (conn_frame_handler): one frame payload, borrowed. */
void dispatch_frame(struct conn *c, const uint8_t *payload, size_t len);

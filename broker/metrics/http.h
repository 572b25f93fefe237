/* SPDX-License-Identifier: MIT */
#pragma once

#include <systemd/sd-event.h>

#include "metrics/text.h"

/*
 * The metrics HTTP listener ([broker] metrics_listen): a minimal, bounded HTTP/1.x server on
 * the daemon's sd-event loop that answers `GET /metrics` with the exposition and closes.
 * It is an input path like the client sockets and is bounded the same way:
 *  - at most HTTP_MAX_CLIENTS connections at once; one more gets "503" and is closed;
 *  - a request head of at most HTTP_MAX_REQUEST bytes (431 beyond, 400 for anything that is
 *    not "METHOD SP TARGET SP HTTP/1.x"), the body ignored, only GET (405) and only /metrics
 *    (404, a query string allowed);
 *  - each connection has HTTP_DEADLINE_USEC from accept to the last byte written, whatever it
 *    sends or reads (a slow client is closed, a slowloris gains nothing);
 *  - every socket is non-blocking, every answer ends with Connection: close.
 * It serves no authentication data, and the exposition holds no token or request value.
 */

#define HTTP_MAX_CLIENTS 8u
#define HTTP_MAX_REQUEST 2048u
#define HTTP_DEADLINE_USEC (5u * 1000u * 1000u)

struct mhttp;

/* Writes the exposition into t (the module's renderer). */
typedef void (*mhttp_render_t)(struct text *t);

/* Binds addr ("HOST:PORT", util/inetaddr.h) and listens on event e (a reference taken).
 * 0 and *ret, or -errno (logged). */
int mhttp_new(sd_event *e, const char *addr, mhttp_render_t render, struct mhttp **ret);
/* Closes the listener and every connection. NULL is fine; returns NULL. */
struct mhttp *mhttp_free(struct mhttp *h);
/* The address it was created with (borrowed from h). */
const char *mhttp_addr(const struct mhttp *h);

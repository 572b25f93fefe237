/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Internal to libskybroker: the handle, the result, and the seams between the library's
 * files (conn.c: the socket and its frames; call.c: one operation with its retries;
 * result.c: results and values; json_out.c, json_in.c: JSON text out of and into msgpack;
 * error.c: struct skybroker_error). Nothing here is exported (libskybroker.map).
 */

#include <pthread.h>
#include <stdarg.h>

#include "client/skybroker.h"
#include "proto/buf.h"
#include "proto/limits.h"
#include "proto/message.h"

#define SKYBROKER_DEFAULT_ATTEMPTS 3u
#define SKYBROKER_DEFAULT_BACKOFF_MS 50u
#define SKYBROKER_MAX_BACKOFF_MS 2000u
/* The largest JSON text accepted for records or fields (the request frame cap bounds the
 * rest). */
#define SKYBROKER_MAX_JSON_IN (1024u * 1024u)

struct skybroker {
	pthread_mutex_t lock; /* serialises calls: everything below */
	int fd;               /* -1 while disconnected */
	char path[108];       /* sun_path */
	char client[SB_MAX_CLIENT_NAME + 1];
	int timeout_ms;
	unsigned attempts, backoff_ms;
	uint64_t next_id;
	uint64_t inflight_id; /* the request awaiting its reply, 0 when none */
	enum sb_op inflight_op;
	size_t max_request, max_reply; /* payload caps from hello */
	char tenant[SB_MAX_NAME_LEN + 1];
	char server[SB_MAX_CLIENT_NAME + 1];
	unsigned allowed; /* bit (1 << enum sb_op) per operation hello listed */
	struct sb_buf in, out;
};

struct skybroker_result {
	struct sb_reply rep; /* owns the decoded tree (its zone) */
	char *strings;       /* NUL-terminated copies of every string of the tree */
	size_t strings_len;
};

/* ---- error.c ---- */

/* Fills err (may be NULL) with a local code and a printf-style message; returns code. */
int client_error(struct skybroker_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Fills err from a broker's error reply; returns the code. */
int client_error_reply(struct skybroker_error *err, const struct sb_error *e);
/* The code of a wire error code. */
int client_code_of(enum sb_errcode c);

/* ---- conn.c ---- */

/* Milliseconds on CLOCK_MONOTONIC, and what is left until a deadline (never negative). */
int64_t client_now_ms(void);
int client_left_ms(int64_t deadline);

/* Connects h->path and says hello before deadline. 0, or a code with err filled (h->fd is
 * then -1). */
int conn_open(struct skybroker *h, int64_t deadline, struct skybroker_error *err);
/* Closes the connection, if any, and wipes both buffers. */
void conn_close(struct skybroker *h);
/* Whether the idle connection was closed by the broker or holds a frame nobody asked for
 * (either way it is no longer usable). Checks without waiting. */
bool conn_stale(struct skybroker *h);
/* Encodes req (its id assigned here) and writes it before deadline. *sent_any tells whether
 * any byte reached the socket. 0 or a code. */
int conn_send(struct skybroker *h, struct sb_request *req, int64_t deadline, bool *sent_any,
	      struct skybroker_error *err);
/* Reads the reply to the request in flight before deadline into rep (released by the
 * caller with sb_reply_done). An error reply is still 0 (rep->ok false). A code on a broken
 * stream, a timeout or a reply this side cannot trust; the connection is then closed. */
int conn_recv(struct skybroker *h, int64_t deadline, struct sb_reply *rep,
	      struct skybroker_error *err);

/* ---- call.c ---- */

/* Sends req and waits for its reply, reconnecting and retrying as skybroker.h says. On
 * success, *res (may be NULL) takes the result. The request's secrets are the caller's. */
int client_call(struct skybroker *h, struct sb_request *req, int timeout_ms,
		skybroker_result **res, struct skybroker_error *err);

/* ---- result.c ---- */

/* Takes over rep (a successful reply) as a result; rep is left empty. 0 or a code. */
int result_from_reply(struct sb_reply *rep, skybroker_result **ret);

/* ---- json_out.c ---- */

/* Appends v as JSON to out (pretty: indented by two spaces per level, starting at depth).
 * 0, -EMSGSIZE or -ENOMEM. */
int json_render(const msgpack_object *v, bool pretty, unsigned depth, struct sb_buf *out);

/* ---- json_in.c ---- */

/* A JSON text parsed into a msgpack_object tree held in an arena that is wiped when freed. */
struct json_doc;
/* Parses text (NUL-terminated, at most SKYBROKER_MAX_JSON_IN bytes) into *ret. The tree is
 * (*ret)->root; want is MSGPACK_OBJECT_ARRAY or _MAP, the type the root must have. 0, or
 * -EBADMSG / -EMSGSIZE with a message (no value in it) in why. */
int json_parse(const char *text, msgpack_object_type want, struct json_doc **ret, char *why,
	       size_t why_size);
const msgpack_object *json_doc_root(const struct json_doc *d);
/* Wipes and frees. NULL is fine. */
void json_doc_free(struct json_doc *d);

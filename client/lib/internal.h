/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Internal to libskybroker: the handle, the result, and the seams between the library's
 * files (conn.c: the socket, hello, frames out and bytes in; pipe.c: the requests in flight
 * and the reader that hands out replies; call.c: one operation with its retries; result.c:
 * results and values; json_out.c, json_in.c: JSON text out of and into msgpack; error.c:
 * struct skybroker_error). Nothing here is exported (libskybroker.map).
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

/* A request sent (or being sent) on the handle's connection, whose reply is awaited. Owned by
 * the call that made it, or, once that call gave up waiting (abandoned), by the handle, which
 * frees it when its reply arrives or the connection closes. */
struct pending {
	struct pending *next;
	uint64_t id;
	enum sb_op op;
	pthread_cond_t cond; /* signalled when state changes or the reader steps down */
	enum { P_WAITING, P_DONE, P_FAILED } state;
	bool abandoned;
	struct sb_reply rep;        /* P_DONE: the reply (ok or an error reply) */
	struct skybroker_error err; /* P_FAILED: why no reply will come */
};

/*
 * One connection shared by every thread that calls on the handle. Requests are pipelined:
 * each call registers a pending entry, writes its frame (one writer at a time, send_lock), and
 * waits; one waiting caller at a time is the reader, which reads frames for everyone and hands
 * each reply to its entry (leader/follower). `lock` guards the state; fd and generation
 * change only under both locks (lock first), so a writer holding send_lock may read them.
 */
struct skybroker {
	pthread_mutex_t lock;
	pthread_mutex_t send_lock;
	pthread_cond_t idle; /* broadcast when reading or greeting ends, or the connection closes */
	int fd;              /* -1 while disconnected */
	uint64_t generation; /* of the connection, bumped when it closes */
	bool reading;        /* a caller reads for everyone: it owns `in` until it stops */
	bool greeting;       /* hello in progress: nobody else may send */
	bool dead;           /* the stream cannot be trusted: closed at the first chance */
	struct skybroker_error dead_err; /* why, for the requests that will get no reply */
	struct pending *pending;
	char path[108]; /* sun_path */
	char client[SB_MAX_CLIENT_NAME + 1];
	int timeout_ms;
	unsigned attempts, backoff_ms;
	uint64_t next_id;
	size_t max_request, max_reply; /* payload caps from hello */
	char tenant[SB_MAX_NAME_LEN + 1];
	char server[SB_MAX_CLIENT_NAME + 1];
	unsigned allowed; /* bit (1 << enum sb_op) per operation hello listed */
	struct sb_buf in;
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
/* Waits on cond (lock held) until signalled or deadline: false when the deadline passed. */
bool client_cond_wait(pthread_cond_t *cond, pthread_mutex_t *lock, int64_t deadline);

/* With lock held: makes sure the handle has a connection that has said hello and is not
 * known to be broken, replacing a dead or stale one. 0 or a code. */
int conn_usable(struct skybroker *h, int64_t deadline, struct skybroker_error *err);
/* With lock held and nobody reading: fails every request still waiting (with the reason the
 * connection died, else "closed"), closes the socket and wipes the input. */
void conn_close(struct skybroker *h);
/* Without lock: writes one encoded frame on connection `gen` before deadline, under
 * send_lock. *sent_any tells whether any byte reached the socket. 0 or a code. */
int conn_send(struct skybroker *h, uint64_t gen, const struct sb_buf *frame, int64_t deadline,
	      bool *sent_any, struct skybroker_error *err);
/* Without lock, by the reader: reads what fd has into in (at least `want` bytes of room
 * asked) before deadline. 1 when bytes came, 0 on timeout, -1 on EOF or an error. */
int conn_read(int fd, struct sb_buf *in, size_t want, int64_t deadline);

/* ---- pipe.c ---- */

/* With lock held: a new entry for a request of op, with a fresh id. NULL when out of memory. */
struct pending *pipe_add(struct skybroker *h, enum sb_op op);
/* With lock held: unlinks and frees p (and any reply it still holds). */
void pipe_drop(struct skybroker *h, struct pending *p);
/* With lock held: the stream cannot be trusted any more (keeps the first reason). Wakes the
 * reader (shutdown of the socket) and every waiter. */
void pipe_mark_dead(struct skybroker *h, const struct skybroker_error *why);
/* With lock held: every waiting request fails with why; abandoned ones are freed. */
void pipe_fail_all(struct skybroker *h, const struct skybroker_error *why);
/* With lock held: waits for p's reply before deadline, reading for everyone when nobody else
 * does. 0: p->rep holds the reply (the caller takes it and drops p). A code otherwise: on a
 * timeout p is abandoned (the handle frees it), else it was dropped. */
int pipe_await(struct skybroker *h, struct pending *p, int64_t deadline,
	       struct skybroker_error *err);

/* ---- call.c ---- */

/* Sends req and waits for its reply, reconnecting and retrying as skybroker.h says. On
 * success, *res (may be NULL) takes the result. The request's secrets are the caller's. */
int client_call(struct skybroker *h, struct sb_request *req, int timeout_ms,
		skybroker_result **res, struct skybroker_error *err);

/* ---- result.c ---- */

/* Releases a reply nobody takes as a result: its tree wiped (numbers too), then its zone. */
void result_reply_done(struct sb_reply *rep);
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

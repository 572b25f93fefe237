/* SPDX-License-Identifier: MIT */
#ifndef SKYBROKER_H
#define SKYBROKER_H

/*
 * libskybroker: the client library of skybrokerd (proto/PROTOCOL.md, libskybroker(3)).
 *
 * A handle is one connection to the broker's Unix socket, greeted with `hello` when it is
 * made. Every v1 operation is one call with its own timeout; its result is a tree of typed
 * values (skybroker_value) and, on request, JSON text. Failures are a code, a message, the
 * retryable flag, upstream's HTTP status and request id (struct skybroker_error).
 *
 * Thread model: a handle may be shared by any number of threads, and their calls are
 * pipelined on its one connection: each call sends its request and waits for its own reply,
 * which may come before or after the others' (a slow call holds up nobody). Opening one
 * handle per thread works too (a connection each). Results are independent of their handle:
 * they may be read, passed to another thread and freed after the handle is freed. The library
 * keeps no global state, installs no signal handler (it writes with MSG_NOSIGNAL), logs
 * nothing, and opens its descriptors close-on-exec.
 *
 * Reconnection: when the connection is found broken before a request is sent, the call
 * reconnects first, whatever the operation. After a request was sent, only idempotent
 * operations (everything but insert, update and delete) are sent again, on a new connection,
 * when the connection broke or the broker answered a retryable error; with exponential backoff,
 * at most `attempts` times in all, and never past the call's timeout.
 *
 * Secrets: subject tokens, record values and the JSON the library renders are wiped from its
 * buffers when they are released.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SKYBROKER_DEFAULT_SOCKET "/run/skybroker/skybroker.sock"
#define SKYBROKER_DEFAULT_TIMEOUT_MS 30000

/* What a call returns: 0 on success, else one of these (also in skybroker_error.code). */
enum skybroker_code {
	SKYBROKER_OK = 0,
	/* the broker's error codes (PROTOCOL.md section 9) */
	SKYBROKER_E_BAD_REQUEST,
	SKYBROKER_E_UNSUPPORTED_VERSION,
	SKYBROKER_E_UNAUTHENTICATED,
	SKYBROKER_E_TOKEN_EXPIRED,
	SKYBROKER_E_FORBIDDEN,
	SKYBROKER_E_UPSTREAM_DENIED,
	SKYBROKER_E_NOT_FOUND,
	SKYBROKER_E_UPSTREAM_UNAVAILABLE,
	SKYBROKER_E_RATE_LIMITED,
	SKYBROKER_E_TOO_LARGE,
	SKYBROKER_E_SHUTTING_DOWN,
	SKYBROKER_E_INTERNAL,
	/* found on this side */
	SKYBROKER_E_INVALID_ARGUMENT, /* a bad argument to the call; nothing was sent */
	SKYBROKER_E_UNREACHABLE,      /* the socket could not be connected */
	SKYBROKER_E_TIMEOUT,          /* no answer within the call's timeout */
	SKYBROKER_E_DISCONNECTED,     /* the connection broke; a write's outcome is unknown */
	SKYBROKER_E_PROTOCOL,         /* the broker sent something this library cannot trust */
	SKYBROKER_E_NO_MEMORY,
};

struct skybroker_error {
	int code;              /* enum skybroker_code */
	char code_name[32];    /* "unauthenticated", "unreachable", ... */
	char message[1040];    /* one sentence; never a token or a record value */
	bool retryable;        /* the same call later may succeed */
	unsigned upstream_status; /* Skyflow's or Descope's HTTP status, 0 when none */
	char request_id[136];  /* Skyflow's X-Request-ID, "" when none */
};

typedef struct skybroker skybroker;
typedef struct skybroker_result skybroker_result;
typedef struct skybroker_value skybroker_value;

/* ---- connecting ---- */

/*
 * Connects to socket_path (NULL: $SKYBROKER_SOCKET, else SKYBROKER_DEFAULT_SOCKET) and says
 * hello as client_name ("name/version"; NULL: "libskybroker/<version>"), within timeout_ms
 * (<= 0: SKYBROKER_DEFAULT_TIMEOUT_MS), which also becomes the handle's default per call.
 * Returns 0 and *ret (free with skybroker_free), or a code with err filled (err may be NULL).
 */
int skybroker_connect(const char *socket_path, const char *client_name, int timeout_ms,
		      skybroker **ret, struct skybroker_error *err);

/* Closes the connection and frees the handle. NULL is fine. No call may be running on it. */
void skybroker_free(skybroker *h);

/* Attempts per idempotent call, at least 1 (default 3), and the first backoff (default 50 ms,
 * doubled after each attempt). */
void skybroker_set_retry(skybroker *h, unsigned attempts, unsigned backoff_ms);

/* What hello said: the tenant, the server's "skybrokerd/<version>", and whether the tenant
 * allows an operation ("get_records"). Borrowed from h until it is freed. */
const char *skybroker_tenant(const skybroker *h);
const char *skybroker_server(const skybroker *h);
bool skybroker_allows(const skybroker *h, const char *operation);

/* The library's version, "0.1.0". */
const char *skybroker_version(void);

/* The wire name of a code ("bad_request", ...; "unreachable" etc. for local ones). */
const char *skybroker_code_name(int code);

/* ---- operations ----
 *
 * Each takes timeout_ms (<= 0: the handle's default), fills *res on success (free with
 * skybroker_result_free; res may be NULL when the result is not wanted) and err on failure.
 * subject_token is the user's Descope session token; it is never copied anywhere but the
 * request, which is wiped once sent. String arrays are (pointer, count) pairs.
 */

int skybroker_ping(skybroker *h, int timeout_ms, struct skybroker_error *err);
int skybroker_health(skybroker *h, int timeout_ms, skybroker_result **res,
		     struct skybroker_error *err);
/* Admin socket only. */
int skybroker_stats(skybroker *h, int timeout_ms, skybroker_result **res,
		    struct skybroker_error *err);
/* Admin socket only: {text: str}, the Prometheus text exposition (format 0.0.4), the same
 * text the broker's metrics_listen serves. */
int skybroker_metrics(skybroker *h, int timeout_ms, skybroker_result **res,
		      struct skybroker_error *err);
int skybroker_exchange(skybroker *h, const char *subject_token, int timeout_ms,
		       skybroker_result **res, struct skybroker_error *err);

/* An optional boolean: leave it SKYBROKER_UNSET to not send the field. */
enum skybroker_tristate { SKYBROKER_UNSET = 0, SKYBROKER_FALSE = 1, SKYBROKER_TRUE = 2 };

struct skybroker_get_records_args {
	const char *table;
	const char *const *skyflow_ids;
	size_t n_skyflow_ids;
	const char *redaction; /* DEFAULT REDACTED MASKED PLAIN_TEXT, or NULL */
	const char *const *fields;
	size_t n_fields;
	bool has_offset;
	uint64_t offset;
	uint64_t limit; /* 0: not sent */
	const char *column_name;
	const char *const *column_values;
	size_t n_column_values;
	const char *order_by; /* ASCENDING DESCENDING NONE, or NULL */
	enum skybroker_tristate tokenization;
	enum skybroker_tristate download_url;
};

struct skybroker_get_record_args {
	const char *table;
	const char *skyflow_id;
	const char *redaction;
	const char *const *fields;
	size_t n_fields;
	enum skybroker_tristate tokenization;
	enum skybroker_tristate download_url;
};

struct skybroker_insert_args {
	const char *table;
	const char *records_json; /* a JSON array of objects, column -> value */
	enum skybroker_tristate tokenization;
	const char *upsert; /* a unique column, or NULL */
};

struct skybroker_update_args {
	const char *table;
	const char *skyflow_id;
	const char *fields_json; /* a JSON object, column -> value */
	enum skybroker_tristate tokenization;
};

struct skybroker_delete_args {
	const char *table;
	const char *const *skyflow_ids;
	size_t n_skyflow_ids;
};

struct skybroker_detokenize_args {
	const char *const *tokens;
	size_t n_tokens;
	const char *redaction;
	enum skybroker_tristate continue_on_error;
};

struct skybroker_tokenize_args {
	const char *column_group;
	const char *const *values;
	size_t n_values;
};

int skybroker_get_records(skybroker *h, const char *subject_token,
			  const struct skybroker_get_records_args *args, int timeout_ms,
			  skybroker_result **res, struct skybroker_error *err);
int skybroker_get_record(skybroker *h, const char *subject_token,
			 const struct skybroker_get_record_args *args, int timeout_ms,
			 skybroker_result **res, struct skybroker_error *err);
/* Not retried once sent (a resent insert inserts twice). */
int skybroker_insert_records(skybroker *h, const char *subject_token,
			     const struct skybroker_insert_args *args, int timeout_ms,
			     skybroker_result **res, struct skybroker_error *err);
/* Not retried once sent. */
int skybroker_update_record(skybroker *h, const char *subject_token,
			    const struct skybroker_update_args *args, int timeout_ms,
			    skybroker_result **res, struct skybroker_error *err);
/* Not retried once sent. */
int skybroker_delete_records(skybroker *h, const char *subject_token,
			     const struct skybroker_delete_args *args, int timeout_ms,
			     skybroker_result **res, struct skybroker_error *err);
int skybroker_detokenize(skybroker *h, const char *subject_token,
			 const struct skybroker_detokenize_args *args, int timeout_ms,
			 skybroker_result **res, struct skybroker_error *err);
int skybroker_tokenize(skybroker *h, const char *subject_token,
		       const struct skybroker_tokenize_args *args, int timeout_ms,
		       skybroker_result **res, struct skybroker_error *err);
int skybroker_query(skybroker *h, const char *subject_token, const char *query, int timeout_ms,
		    skybroker_result **res, struct skybroker_error *err);

/* ---- results ---- */

enum skybroker_type {
	SKYBROKER_NIL,
	SKYBROKER_BOOL,
	SKYBROKER_INT,   /* a negative integer */
	SKYBROKER_UINT,  /* a non-negative integer */
	SKYBROKER_FLOAT,
	SKYBROKER_STRING,
	SKYBROKER_ARRAY,
	SKYBROKER_MAP,
};

/* The result map of the operation (e.g. {"records": [...]}). Borrowed from r. */
const skybroker_value *skybroker_result_root(const skybroker_result *r);

/* Flags of skybroker_result_json. */
#define SKYBROKER_JSON_PRETTY 1u

/*
 * The result as JSON text (UTF-8, NUL-terminated, compact or with SKYBROKER_JSON_PRETTY
 * two-space indentation). *json is the caller's, to release with skybroker_json_free, which
 * wipes it. *len (may be NULL) is its length. 0 or a code.
 */
int skybroker_result_json(const skybroker_result *r, unsigned flags, char **json, size_t *len);
/* Wipes and frees JSON from this library. NULL is fine. */
void skybroker_json_free(char *json);

/* Wipes and frees a result and every value in it. NULL is fine. */
void skybroker_result_free(skybroker_result *r);

/* Values are borrowed from their result. Every accessor accepts NULL and a value of the
 * wrong type, and then answers the zero value (NIL, false, 0, NULL). */
enum skybroker_type skybroker_value_type(const skybroker_value *v);
bool skybroker_value_bool(const skybroker_value *v);
/* An integer as int64_t; 0 when it is not an integer or does not fit. */
int64_t skybroker_value_int(const skybroker_value *v);
/* A non-negative integer; 0 otherwise. */
uint64_t skybroker_value_uint(const skybroker_value *v);
/* A float or an integer as a double. */
double skybroker_value_double(const skybroker_value *v);
/* A string: NUL-terminated (strings never contain NUL), its byte length in *len (may be
 * NULL). */
const char *skybroker_value_string(const skybroker_value *v, size_t *len);
/* Entries of an array, pairs of a map; 0 for anything else. */
size_t skybroker_value_count(const skybroker_value *v);
/* The i-th entry of an array, or the i-th value of a map. */
const skybroker_value *skybroker_value_at(const skybroker_value *v, size_t i);
/* The i-th key of a map (keys are strings). */
const char *skybroker_value_key(const skybroker_value *v, size_t i);
/* The value of key in a map, or NULL. */
const skybroker_value *skybroker_value_get(const skybroker_value *v, const char *key);

#ifdef __cplusplus
}
#endif
#endif

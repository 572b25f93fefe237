/* server: libmicrohttpd glue — one epoll thread pool, request bodies bounded, routing to the
 * handlers, X-Request-ID on every response, call counters and fault injection. Delays suspend
 * the connection and a timer thread resumes it, so a delayed reply never blocks others. */
#pragma once

#include "emu.h"

struct emu_server;

/* Starts serving on listen_fd (ownership transferred). cert/key PEM (borrowed, copied by
 * the library) enable TLS when both are non-NULL. Returns 0 or -errno. */
int server_start(struct emu *emu, int listen_fd, const char *cert_pem, const char *key_pem,
		 unsigned threads, unsigned conn_limit, struct emu_server **ret);
/* Resumes every delayed connection, stops the daemon and frees. NULL is fine. */
void server_stop(struct emu_server *s);

/* Routes one complete request (exposed for unit tests). */
void server_dispatch(struct emu *emu, struct emu_request *req, struct emu_response *resp);
/* The counter name of a request ("GET /v1/vaults/{vault_id}/{table}"), or NULL for the
 * emulator's own controls. */
const char *server_endpoint_name(const struct emu_request *req);
/* Splits req->path into req->segs using buf (size buf_len) as storage. */
void server_split_path(struct emu_request *req, char *buf, size_t buf_len);

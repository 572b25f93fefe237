#include "server.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controls.h"
#include "util.h"

#define MAX_ARGS 256

struct delayed {
	struct MHD_Connection *conn;
	struct timespec due;
	struct delayed *next;
};

struct emu_server {
	struct emu *emu;
	struct MHD_Daemon *daemon;
	pthread_t timer;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct delayed *pending;
	bool stopping;
};

enum conn_state { CS_READING, CS_DELAYED, CS_RESUMED };

struct conn_ctx {
	bool started;   /* on_request has seen the request's first call */
	char *raw_path; /* the request's path as sent, before any percent-decoding */
	struct sbuf body;
	bool too_large;
	enum conn_state state;
	bool has_fault;
	struct fault fault;
};

/* ---- responses ---- */

static const char *status_text(unsigned status, int *grpc)
{
	switch (status) {
	case 400: *grpc = 3; return "Bad Request";
	case 401: *grpc = 16; return "Unauthorized";
	case 403: *grpc = 7; return "Forbidden";
	case 404: *grpc = 5; return "Not Found";
	case 405: *grpc = 12; return "Method Not Allowed";
	case 409: *grpc = 6; return "Conflict";
	case 413: *grpc = 3; return "Payload Too Large";
	case 414: *grpc = 3; return "URI Too Long";
	case 431: *grpc = 3; return "Request Header Fields Too Large";
	case 429: *grpc = 8; return "Too Many Requests";
	case 500: *grpc = 13; return "Internal Server Error";
	case 501: *grpc = 12; return "Not Implemented";
	case 502: *grpc = 14; return "Bad Gateway";
	case 503: *grpc = 14; return "Service Unavailable";
	case 504: *grpc = 4; return "Gateway Timeout";
	case 505: *grpc = 12; return "HTTP Version Not Supported";
	default: *grpc = status >= 500 ? 13 : status >= 400 ? 3 : 0;
		return status >= 500 ? "Internal Server Error" : status >= 400 ? "Bad Request" : "OK";
	}
}

json_t *skyflow_error_json(unsigned status, const char *message)
{
	int grpc;
	const char *text = status_text(status, &grpc);
	return json_pack("{s:{s:i, s:i, s:s, s:s, s:[]}}", "error", "grpc_code", grpc, "http_code",
			 (int)status, "http_status", text, "message", message, "details");
}

void resp_json(struct emu_response *resp, unsigned status, json_t *j)
{
	free(resp->body);
	resp->status = status;
	resp->content_type = "application/json";
	resp->body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!resp->body) {
		resp->status = 500;
		resp->body = strdup("{\"error\":{\"grpc_code\":13,\"http_code\":500,"
				    "\"http_status\":\"Internal Server Error\",\"message\":"
				    "\"out of memory\",\"details\":[]}}");
	}
}

void resp_error(struct emu_response *resp, unsigned status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* messages may quote request bytes: keep them printable ASCII (and valid UTF-8) */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	resp_json(resp, status, skyflow_error_json(status, msg));
}

const char *req_arg(const struct emu_request *req, const char *name)
{
	for (size_t i = 0; i < req->nargs; i++)
		if (!strcmp(req->args[i].key, name))
			return req->args[i].value;
	return NULL;
}

json_t *req_json_body(const struct emu_request *req, struct emu_response *resp)
{
	json_error_t err;
	json_t *j;

	if (!req->body_len) {
		resp_error(resp, 400, "Invalid request body: empty");
		return NULL;
	}
	j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &err);
	if (!j) {
		resp_error(resp, 400, "Invalid request body: malformed JSON at line %d: %s", err.line,
			   err.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		resp_error(resp, 400, "Invalid request body: expected a JSON object");
		return NULL;
	}
	return j;
}

/* ---- routing ---- */

/* Percent-decodes s in place (%XX; anything else, and %00, is left as it is). */
static void percent_decode(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '%' && isxdigit((unsigned char)s[1]) && isxdigit((unsigned char)s[2]) &&
		    !(s[1] == '0' && s[2] == '0')) {
			char hex[3] = {s[1], s[2], '\0'};

			*o++ = (char)strtol(hex, NULL, 16);
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

void server_split_path(struct emu_request *req, char *buf, size_t buf_len)
{
	char *s = buf, *save;

	req->nsegs = 0;
	/* Split what was sent, then decode each segment: "a%2Fb" is one segment "a/b", as a
	 * server that routes on the raw path sees it. */
	snprintf(buf, buf_len, "%s", req->raw_path ? req->raw_path : req->path ? req->path : "");
	while (*s) {
		while (*s == '/')
			s++;
		if (!*s)
			break;
		save = strchr(s, '/');
		if (req->nsegs == sizeof(req->segs) / sizeof(req->segs[0])) {
			req->nsegs++; /* too deep: no route has this many segments */
			return;
		}
		req->segs[req->nsegs++] = s;
		if (!save)
			break;
		*save = '\0';
		s = save + 1;
	}
	if (req->raw_path)
		for (size_t i = 0; i < req->nsegs; i++)
			percent_decode(req->segs[i]);
}

static bool segs_are(const struct emu_request *req, size_t n, ...)
{
	va_list ap;
	bool ok = req->nsegs == n;

	va_start(ap, n);
	for (size_t i = 0; i < n && ok; i++) {
		const char *want = va_arg(ap, const char *);
		if (want && strcmp(req->segs[i], want) != 0)
			ok = false;
	}
	va_end(ap);
	return ok;
}

const char *server_endpoint_name(const struct emu_request *req)
{
	const char *m = req->method;

	if (req->nsegs >= 1 && req->nsegs <= 8 && !strcmp(req->segs[0], "emulator"))
		return NULL;
	if (segs_are(req, 3, NULL, ".well-known", "jwks.json"))
		return "GET /{project}/.well-known/jwks.json";
	if (segs_are(req, 3, "v2", "keys", NULL))
		return "GET /v2/keys/{project}";
	if (segs_are(req, 5, "v1", "auth", "sa", "oauth", "token"))
		return "POST /v1/auth/sa/oauth/token";
	if (segs_are(req, 4, "v1", "auth", "sts", "token"))
		return "POST /v1/auth/sts/token";
	if (req->nsegs >= 3 && req->nsegs <= 5 && !strcmp(req->segs[0], "v1") &&
	    !strcmp(req->segs[1], "vaults")) {
		static const char *const names[][4] = {
			{"GET /v1/vaults/{vault_id}/{table}", "POST /v1/vaults/{vault_id}/{table}",
			 "DELETE /v1/vaults/{vault_id}/{table}", NULL},
			{"GET /v1/vaults/{vault_id}/{table}/{skyflow_id}", NULL,
			 "DELETE /v1/vaults/{vault_id}/{table}/{skyflow_id}",
			 "PUT /v1/vaults/{vault_id}/{table}/{skyflow_id}"},
		};
		if (req->nsegs == 3)
			return "POST /v1/vaults/{vault_id}";
		if (req->nsegs == 4 && !strcmp(m, "POST")) {
			if (!strcmp(req->segs[3], "detokenize"))
				return "POST /v1/vaults/{vault_id}/detokenize";
			if (!strcmp(req->segs[3], "tokenize"))
				return "POST /v1/vaults/{vault_id}/tokenize";
			if (!strcmp(req->segs[3], "query"))
				return "POST /v1/vaults/{vault_id}/query";
		}
		int mi = !strcmp(m, "GET") ? 0 : !strcmp(m, "POST") ? 1 : !strcmp(m, "DELETE") ? 2
						: !strcmp(m, "PUT")		       ? 3
										       : -1;
		const char *name = mi >= 0 ? names[req->nsegs - 4][mi] : NULL;
		return name ? name : "other";
	}
	return "other";
}

static void handle_controls(struct emu *emu, struct emu_request *req, struct emu_response *resp)
{
	const char *m = req->method;
	json_t *body;

	if (segs_are(req, 2, "emulator", "health") && !strcmp(m, "GET")) {
		resp_json(resp, 200, json_pack("{s:s}", "status", "ok"));
	} else if (segs_are(req, 2, "emulator", "stats") && !strcmp(m, "GET")) {
		resp_json(resp, 200, stats_json());
	} else if (segs_are(req, 3, "emulator", "stats", "reset") && !strcmp(m, "POST")) {
		stats_reset();
		resp_json(resp, 200, json_pack("{s:b}", "reset", 1));
	} else if (segs_are(req, 2, "emulator", "faults")) {
		if (!strcmp(m, "GET")) {
			resp_json(resp, 200, faults_json());
		} else if (!strcmp(m, "DELETE")) {
			faults_clear();
			resp_json(resp, 200, json_pack("{s:b}", "cleared", 1));
		} else if (!strcmp(m, "POST")) {
			char err[128];
			int id;
			body = req_json_body(req, resp);
			if (!body)
				return;
			id = faults_add(body, err, sizeof(err));
			json_decref(body);
			if (id < 0)
				resp_error(resp, 400, "Invalid fault: %s", err);
			else
				resp_json(resp, 200, json_pack("{s:i}", "id", id));
		} else {
			resp_error(resp, 405, "Method Not Allowed");
		}
	} else if (segs_are(req, 2, "emulator", "clock")) {
		if (!strcmp(m, "POST")) {
			json_t *off;
			body = req_json_body(req, resp);
			if (!body)
				return;
			off = json_object_get(body, "offset_s");
			if (!json_is_integer(off) || json_integer_value(off) < -1000000000 ||
			    json_integer_value(off) > 1000000000) {
				json_decref(body);
				resp_error(resp, 400, "offset_s must be an integer number of seconds");
				return;
			}
			emu_clock_set_offset((long)json_integer_value(off));
			json_decref(body);
		} else if (strcmp(m, "GET") != 0) {
			resp_error(resp, 405, "Method Not Allowed");
			return;
		}
		resp_json(resp, 200, json_pack("{s:I, s:I}", "offset_s",
					       (json_int_t)emu_clock_offset(), "now",
					       (json_int_t)emu_now()));
	} else if (segs_are(req, 3, "emulator", "descope", "token") && !strcmp(m, "POST")) {
		handle_descope_token(emu, req, resp);
	} else if (segs_are(req, 3, "emulator", "descope", "rotate") && !strcmp(m, "POST")) {
		handle_descope_rotate(emu, req, resp);
	} else {
		resp_error(resp, 404, "Not Found");
	}
}

void server_dispatch(struct emu *emu, struct emu_request *req, struct emu_response *resp)
{
	const char *m = req->method;
	bool get = !strcmp(m, "GET"), post = !strcmp(m, "POST");

	if (req->nsegs >= 1 && req->nsegs <= 8 && !strcmp(req->segs[0], "emulator")) {
		handle_controls(emu, req, resp);
	} else if (segs_are(req, 3, NULL, ".well-known", "jwks.json")) {
		if (get)
			handle_jwks(emu, req, resp, req->segs[0]);
		else
			resp_error(resp, 405, "Method Not Allowed");
	} else if (segs_are(req, 3, "v2", "keys", NULL)) {
		if (get)
			handle_jwks(emu, req, resp, req->segs[2]);
		else
			resp_error(resp, 405, "Method Not Allowed");
	} else if (segs_are(req, 5, "v1", "auth", "sa", "oauth", "token")) {
		if (post)
			handle_sa_token(emu, req, resp);
		else
			resp_error(resp, 405, "Method Not Allowed");
	} else if (segs_are(req, 4, "v1", "auth", "sts", "token")) {
		if (post)
			handle_sts_token(emu, req, resp);
		else
			resp_error(resp, 405, "Method Not Allowed");
	} else if (req->nsegs >= 2 && req->nsegs <= 8 && !strcmp(req->segs[0], "v1") &&
		   !strcmp(req->segs[1], "vaults")) {
		handle_vault(emu, req, resp);
	} else {
		resp_error(resp, 404, "Not Found");
	}
}

/* ---- delays ---- */

static void timespec_add_ms(struct timespec *ts, long ms)
{
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static bool ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void *timer_main(void *arg)
{
	struct emu_server *s = arg;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		/* resume everything due (or everything, when stopping) */
		struct delayed **pp = &s->pending;
		while (*pp) {
			struct delayed *d = *pp;
			if (s->stopping || !ts_before(&now, &d->due)) {
				*pp = d->next;
				MHD_resume_connection(d->conn);
				free(d);
			} else {
				pp = &d->next;
			}
		}
		if (s->stopping)
			break;
		if (!s->pending) {
			pthread_cond_wait(&s->cond, &s->lock);
		} else {
			struct timespec due = s->pending->due;
			for (struct delayed *d = s->pending; d; d = d->next)
				if (ts_before(&d->due, &due))
					due = d->due;
			pthread_cond_timedwait(&s->cond, &s->lock, &due);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static int delay_connection(struct emu_server *s, struct MHD_Connection *conn, long ms)
{
	struct delayed *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	d->conn = conn;
	clock_gettime(CLOCK_MONOTONIC, &d->due);
	timespec_add_ms(&d->due, ms);
	pthread_mutex_lock(&s->lock);
	if (s->stopping) {
		pthread_mutex_unlock(&s->lock);
		free(d);
		return -ECANCELED;
	}
	MHD_suspend_connection(conn);
	d->next = s->pending;
	s->pending = d;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* ---- MHD callbacks ---- */

struct arg_vec {
	struct emu_arg *args;
	size_t n;
	bool overflow;
};

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				   const char *value)
{
	struct arg_vec *v = cls;

	if (v->n >= MAX_ARGS) {
		v->overflow = true;
		return MHD_NO;
	}
	v->args[v->n].key = (char *)(key ? key : "");
	v->args[v->n].value = (char *)(value ? value : "");
	v->n++;
	return MHD_YES;
}

static enum MHD_Result send_response(struct MHD_Connection *conn, struct emu_response *resp)
{
	struct MHD_Response *r;
	char rid[37];
	enum MHD_Result ret;
	size_t len = resp->body ? strlen(resp->body) : 0;

	r = MHD_create_response_from_buffer(len, resp->body ? resp->body : (char *)"",
					    resp->body ? MHD_RESPMEM_MUST_FREE
						       : MHD_RESPMEM_PERSISTENT);
	if (!r) {
		free(resp->body);
		resp->body = NULL;
		return MHD_NO;
	}
	resp->body = NULL; /* transferred */
	if (emu_uuid(rid) == 0)
		MHD_add_response_header(r, "X-Request-ID", rid);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				resp->content_type ? resp->content_type : "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(conn, resp->status ? resp->status : 500, r);
	MHD_destroy_response(r);
	return ret;
}

/* ---- the replies libmicrohttpd makes itself ----
 *
 * libmicrohttpd answers malformed HTTP on its own, before any handler runs (a bad
 * Content-Length or chunk, a header block over the memory limit, an unsupported HTTP version,
 * a missing Host): it builds an HTML response and queues it with its public
 * MHD_queue_response, which the shared library calls through its PLT. The definition below,
 * in the executable, takes precedence over the library's (ordinary ELF symbol interposition),
 * so every queued response passes here. One without our X-Request-ID is one of those: it is
 * replaced by a Skyflow error of the same status with X-Request-ID, and the library's own
 * function (dlsym RTLD_NEXT) queues it. If a future libmicrohttpd bound those calls
 * internally, emulator_fuzz_http's http_layer_replies would fail. */

typedef enum MHD_Result (*queue_fn)(struct MHD_Connection *, unsigned int, struct MHD_Response *);

static queue_fn real_queue;
static pthread_once_t real_queue_once = PTHREAD_ONCE_INIT;

static void resolve_real_queue(void)
{
	real_queue = (queue_fn)dlsym(RTLD_NEXT, "MHD_queue_response");
}

static const char *http_layer_message(unsigned status)
{
	switch (status) {
	case 400: return "Malformed HTTP request";
	case 413: return "Request content too large";
	case 414: return "Request URI too long";
	case 431: return "Request header fields too large";
	case 505: return "HTTP version not supported";
	default: return "The HTTP request could not be processed";
	}
}

/* A Skyflow error response of this status with X-Request-ID and Connection: close, or NULL. */
static struct MHD_Response *http_layer_response(unsigned status)
{
	struct MHD_Response *r;
	char rid[37];
	char *body = NULL;
	json_t *j = skyflow_error_json(status, http_layer_message(status));

	if (j)
		body = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!body || emu_uuid(rid) < 0) {
		free(body);
		return NULL;
	}
	r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return NULL;
	}
	MHD_add_response_header(r, "X-Request-ID", rid);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	return r;
}

enum MHD_Result MHD_queue_response(struct MHD_Connection *connection, unsigned int status_code,
				   struct MHD_Response *response)
{
	struct MHD_Response *ours;
	enum MHD_Result ret;

	pthread_once(&real_queue_once, resolve_real_queue);
	if (!real_queue)
		return MHD_NO;
	if (status_code < 400 || MHD_get_response_header(response, "X-Request-ID"))
		return real_queue(connection, status_code, response);
	ours = http_layer_response(status_code);
	if (!ours) /* out of memory: the library's own reply is better than none */
		return real_queue(connection, status_code, response);
	ret = real_queue(connection, status_code, ours);
	MHD_destroy_response(ours); /* the library holds its own reference */
	return ret;
}

static struct conn_ctx *new_conn_ctx(const char *uri)
{
	struct conn_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return NULL;
	sbuf_init(&ctx->body, EMU_MAX_BODY);
	if (uri) {
		ctx->raw_path = strndup(uri, strcspn(uri, "?"));
		if (!ctx->raw_path) {
			free(ctx);
			return NULL;
		}
	}
	return ctx;
}

/* MHD_OPTION_URI_LOG_CALLBACK: the request line's URI before libmicrohttpd decodes it; what
 * it returns is the request's context. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	(void)cls;
	(void)conn;
	return new_conn_ctx(uri);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct emu_server *s = cls;
	struct conn_ctx *ctx = *con_cls;
	struct emu_response resp = {0};
	struct emu_request req = {0};
	struct emu_arg argbuf[MAX_ARGS];
	struct arg_vec av = {argbuf, 0, false};
	char pathbuf[2048];
	const char *endpoint;

	if (!ctx || !ctx->started) {
		if (!ctx) /* no URI callback ran: the path is only known decoded */
			ctx = new_conn_ctx(NULL);
		if (!ctx)
			return MHD_NO;
		ctx->started = true;
		*con_cls = ctx;
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!ctx->too_large && sbuf_append(&ctx->body, upload_data, *upload_data_size) < 0)
			ctx->too_large = true;
		*upload_data_size = 0;
		return MHD_YES;
	}

	req.method = method;
	req.path = url;
	req.raw_path = ctx->raw_path;
	server_split_path(&req, pathbuf, sizeof(pathbuf));
	endpoint = server_endpoint_name(&req);

	if (ctx->state == CS_READING) {
		if (endpoint) {
			stats_count(endpoint);
			ctx->has_fault = faults_match(url, &ctx->fault);
		}
		if (ctx->has_fault && ctx->fault.delay_ms > 0) {
			ctx->state = CS_DELAYED;
			if (delay_connection(s, conn, ctx->fault.delay_ms) == 0)
				return MHD_YES;
		}
		ctx->state = CS_RESUMED;
	}
	if (ctx->has_fault && ctx->fault.drop) {
		log_debug("fault: dropping %s %s", method, url);
		return MHD_NO;
	}
	if (ctx->has_fault && ctx->fault.status) {
		if (ctx->fault.body) {
			resp.status = ctx->fault.status;
			resp.body = ctx->fault.body;
			ctx->fault.body = NULL;
			resp.content_type = "application/json";
		} else {
			resp_error(&resp, ctx->fault.status, "Injected fault");
		}
		return send_response(conn, &resp);
	}

	if (ctx->too_large) {
		resp_error(&resp, 413, "Request body too large");
		return send_response(conn, &resp);
	}
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &av);
	if (av.overflow) {
		resp_error(&resp, 400, "Too many query parameters");
		return send_response(conn, &resp);
	}
	req.args = av.args;
	req.nargs = av.n;
	req.authorization = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							 MHD_HTTP_HEADER_AUTHORIZATION);
	req.content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							MHD_HTTP_HEADER_CONTENT_TYPE);
	if (sbuf_append(&ctx->body, "", 0) < 0) {
		resp_error(&resp, 500, "out of memory");
		return send_response(conn, &resp);
	}
	req.body = ctx->body.p ? ctx->body.p : "";
	req.body_len = ctx->body.len;
	server_dispatch(s->emu, &req, &resp);
	log_debug("%s %s -> %u", method, url, resp.status);
	return send_response(conn, &resp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct conn_ctx *ctx = *con_cls;

	if (!ctx)
		return;
	fault_release(&ctx->fault);
	sbuf_free(&ctx->body);
	free(ctx->raw_path);
	free(ctx);
	*con_cls = NULL;
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	if (!emu_verbose)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_debug("microhttpd: %s", line);
}

int server_start(struct emu *emu, int listen_fd, const char *cert_pem, const char *key_pem,
		 unsigned threads, unsigned conn_limit, struct emu_server **ret)
{
	struct emu_server *s;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
			 MHD_USE_ERROR_LOG;
	pthread_condattr_t ca;

	*ret = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->emu = emu;
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&s->timer, NULL, timer_main, s) != 0) {
		pthread_cond_destroy(&s->cond);
		pthread_mutex_destroy(&s->lock);
		free(s);
		return -EAGAIN;
	}
	if (cert_pem && key_pem)
		flags |= MHD_USE_TLS;
	pthread_once(&real_queue_once, resolve_real_queue);
	if (!real_queue) {
		log_err("cannot find libmicrohttpd's MHD_queue_response: %s", dlerror());
		server_stop(s);
		return -EIO;
	}

	struct MHD_OptionItem opts[] = {
		{MHD_OPTION_LISTEN_SOCKET, listen_fd, NULL},
		{MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)threads, NULL},
		{MHD_OPTION_CONNECTION_LIMIT, (intptr_t)conn_limit, NULL},
		{MHD_OPTION_CONNECTION_TIMEOUT, 60, NULL},
		{MHD_OPTION_CONNECTION_MEMORY_LIMIT, 128 * 1024, NULL},
		{MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL},
		{MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, NULL},
		{MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_logger, NULL},
		{cert_pem ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, (void *)key_pem},
		{MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)cert_pem},
		{MHD_OPTION_END, 0, NULL},
	};
	s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, opts,
				     MHD_OPTION_END);
	if (!s->daemon) {
		log_err("libmicrohttpd failed to start (bad TLS certificate or key?)");
		server_stop(s);
		return -EIO;
	}
	*ret = s;
	return 0;
}

void server_stop(struct emu_server *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->timer, NULL);
	if (s->daemon)
		MHD_stop_daemon(s->daemon);
	while (s->pending) {
		struct delayed *d = s->pending;
		s->pending = d->next;
		free(d);
	}
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

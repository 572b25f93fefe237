/* fuzz_conn: a client's bytes through a socketpair into conn and dispatch, in one process. */
/*
 * libFuzzer harness for the connection layer as a client drives it, in process, the way
 * systemd's fuzz-varlink drives sd-varlink: each input becomes one connection of the real
 * runtime (conn_new with dispatch_frame, the built-in operations, a tenant from a config text)
 * over a socketpair; the harness writes the input as the client, half-closes (or closes), runs
 * the event loop and reads what the daemon answers.
 *
 * Input: byte 0 is a set of flags, byte 1 the chunk size, the rest what the client sends.
 *   bit 0  FUZZ_HELLO       a valid hello goes first, to reach the paths after hello
 *   bit 1  FUZZ_ADMIN       the admin socket (no tenant) instead of a tenant's
 *   bit 2  FUZZ_TENANT_B    tenant b (ping, health, query; rate_limit 1, burst 2), else tenant a
 *                           (the defaults: every operation, none but the built-ins implemented)
 *   bit 3  FUZZ_CHUNKED     written byte 1 + 1 bytes at a time, the loop running in between
 *                           (partial frames, pipelining across reads)
 *   bit 4  FUZZ_PING_DELAY  ping answers from a timer (the TEST-ONLY delay): 1 us, completions
 *                           outside the I/O callback and backpressure on max_inflight; with
 *                           FUZZ_CLOSE an hour, so the close finds them in flight
 *   bit 5  FUZZ_CLOSE       the client closes instead of half-closing, right after its last
 *                           write: the daemon reads that chunk after the hang-up, in-flight
 *                           requests are cancelled and late replies dropped
 *   bit 6  FUZZ_LATE_READ   the client reads nothing until its last write (or until stuck), and
 *                           both ends have the smallest send buffers: the daemon's writes
 *                           fall short and it stops reading (backpressure)
 *   bit 7  FUZZ_SMALL       the smallest limits the config accepts: 4 KiB request and reply
 *                           frames, one request in flight
 * Inputs shorter than two bytes are sent as they are with no flags.
 *
 * `query` has a stub handler here (stub_query), so that the rate limit, a handler's error and
 * a reply over max_reply_frame are reached; `exchange` and the vault operations have no
 * handler (operation not available).
 *
 * Oracles (abort): every reply is a frame within max_reply_frame that sb_reply_decode reads;
 * an ok reply answers a request the client sent with that id and an operation the daemon
 * implements, no ok reply precedes the ok hello, at most one hello succeeds, no id is answered
 * more often than it was sent; no log line carries a control byte; the connection closes once
 * its client has half-closed and read everything, with no partial reply left and, unless a
 * protocol error closed it, every whole frame answered; at the latest it closes once the
 * client has closed; nothing is left in the event loop after that; its slot, in-flight count
 * and tenant accounting are given back (the set allows one connection per uid, so a leaked
 * slot refuses the next input); the loop always goes idle (no busy loop). Leaks are
 * LeakSanitizer's (valgrind's in replay_conn): everything global is freed at exit.
 *
 * The event loop, the set and the config are made once; the tenant is made per input, so that
 * its rate-limit bucket starts full and an input behaves the same whenever it runs.
 * FUZZ_CONN_VERBOSE=1 in the environment prints the daemon's log lines and every reply.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "proto/frame.h"
#include "proto/limits.h"
#include "proto/message.h"
#include "runtime/admission.h"
#include "runtime/conn.h"
#include "runtime/dispatch.h"
#include "runtime/ops.h"
#include "runtime/stats.h"
#include "tenancy/config.h"
#include "tenancy/ratelimit.h"
#include "tenancy/tenant.h"
#include "util/clock.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	FUZZ_HELLO = 1u << 0,
	FUZZ_ADMIN = 1u << 1,
	FUZZ_TENANT_B = 1u << 2,
	FUZZ_CHUNKED = 1u << 3,
	FUZZ_PING_DELAY = 1u << 4,
	FUZZ_CLOSE = 1u << 5,
	FUZZ_LATE_READ = 1u << 6,
	FUZZ_SMALL = 1u << 7,
};

#define FUZZ_HEADER 2u
#define FUZZ_HELLO_ID 1u
#define FUZZ_MAX_SENT 1024u         /* requests tracked for the reply checks; more: relaxed */
#define FUZZ_PUMP_ROUNDS 256        /* event-loop iterations per pump */
#define FUZZ_SETTLE_ROUNDS 10000    /* pumps before "the loop never goes idle" */
#define FUZZ_IDLE_ROUNDS 3          /* idle waits in a row before "nothing more will happen" */
#define FUZZ_IDLE_WAIT_USEC 2000u
#define FUZZ_STALL_ROUNDS 8         /* idle waits with the client unable to write: give up */
#define FUZZ_SMALL_FRAME 4096u      /* the config's minimum of both frame caps */
#define FUZZ_LONG_DELAY_USEC (3600u * 1000000ull)

static struct {
	sd_event *event;
	struct conn_set *set;
	struct broker_config *config;
} fz;

/* What the client sent: one entry per whole frame whose id the daemon can read. */
struct sent {
	uint64_t id;
	enum sb_op op;     /* SB_OP_INVALID when the frame does not decode */
	unsigned replies;  /* replies with this id, counted on its first entry */
};

struct client {
	int fd;
	bool reading; /* FUZZ_LATE_READ: false until the last write */
	bool eof;     /* the daemon's end is closed and everything was read */
	bool admin;
	const char *tenant;
	const struct conn_limits *limits;
	struct sb_buf in; /* what the daemon wrote, not yet a whole reply */
	struct sent sent[FUZZ_MAX_SENT];
	size_t n_sent;
	bool overflow; /* more requests than FUZZ_MAX_SENT: only the framing checks hold */
	size_t n_frames, n_replies, n_id0_errors;
	bool hello_ok;
};

static __attribute__((noreturn)) void fail(const char *what)
{
	log_flush();
	fprintf(stderr, "fuzz_conn: %s\n", what);
	abort();
}

static bool verbose; /* FUZZ_CONN_VERBOSE set: the daemon's log lines and the replies on stderr */

/* Every log and audit line goes here instead of stderr: formatted, never forged. */
static void check_log_line(const char *line, void *userdata)
{
	(void)userdata;
	if (verbose)
		fprintf(stderr, "%s\n", line);
	for (const unsigned char *p = (const unsigned char *)line; *p; p++)
		if (*p < 0x20 || *p >= 0x7f) {
			fprintf(stderr, "fuzz_conn: log line with byte 0x%02x: %s\n", *p, line);
			abort();
		}
}

/* Stands in for a module's handler of an operation that carries a subject token. A query
 * starting with "ok" is answered at once with {records: [{query: <the text>}, the same again]},
 * which is over max_reply_frame with FUZZ_SMALL and a text of over 2 KiB; any other fails
 * without finishing rc, with an errno the request id picks. */
static int stub_query(struct request_ctx *rc)
{
	static const int errs[] = {-EIO, -EACCES, -ENOENT, -EKEYREJECTED, -EUSERS, -ENOTTY};
	const char *q = request_ctx_request(rc)->u.query.query;
	msgpack_object_kv kv = {
		.key = {.type = MSGPACK_OBJECT_STR, .via.str = {.size = 5, .ptr = "query"}},
		.val = {.type = MSGPACK_OBJECT_STR, .via.str = {.size = (uint32_t)strlen(q), .ptr = q}},
	};
	msgpack_object record[2] = {
		{.type = MSGPACK_OBJECT_MAP, .via.map = {.size = 1, .ptr = &kv}},
		{.type = MSGPACK_OBJECT_MAP, .via.map = {.size = 1, .ptr = &kv}},
	};
	msgpack_object records = {.type = MSGPACK_OBJECT_ARRAY, .via.array = {.size = 2, .ptr = record}};
	struct sb_reply rep = {.op = SB_OP_QUERY, .u.records.records = &records};

	if (strncmp(q, "ok", 2) != 0)
		return errs[request_ctx_id(rc) % (sizeof(errs) / sizeof(errs[0]))];
	request_ctx_reply_ok(rc, &rep);
	return 0;
}

static void fuzz_done(void)
{
	fz.set = conn_set_free(fz.set);
	ops_unregister_builtin();
	dispatch_reset();
	fz.event = sd_event_unref(fz.event);
	fz.config = config_free(fz.config);
	tenant_hooks_reset();
	ratelimit_done();
	log_set_capture(NULL, NULL);
}

static void fuzz_init(void)
{
	static const char tenant_keys[] =
		"descope_project_id = P2fuzz\nvault_url = https://vault.example\nvault_id = v1\n"
		"sts_url = https://sts.example\nservice_account_id = sa\n";
	char uids[64], text[1024];
	unsigned uid = (unsigned)getuid();

	if (fz.event)
		return;
	verbose = getenv("FUZZ_CONN_VERBOSE") != NULL;
	log_set_max_level(LOG_DEBUG); /* format every line, for check_log_line */
	log_set_capture(check_log_line, NULL);
	if (uid == 0)
		snprintf(uids, sizeof(uids), "0");
	else
		snprintf(uids, sizeof(uids), "0, %u", uid);
	snprintf(text, sizeof(text),
		 "[tenant.a]\n%sallow_uids = %s\n"
		 "[tenant.b]\n%sallow_uids = %s\nallow_operations = query\n"
		 "rate_limit = 1\nrate_burst = 2\n",
		 tenant_keys, uids, tenant_keys, uids);
	if (config_load_string("fuzz_conn.conf", text, stderr, &fz.config) < 0)
		fail("the config does not load");
	if (ratelimit_init() < 0 || sd_event_new(&fz.event) < 0 ||
	    conn_set_new(fz.event, &fz.set) < 0)
		fail("setup");
	conn_set_set_limits(fz.set, 1, 1);
	stats_init(clock_now_usec(fz.event));
	ops_register_builtin(fz.event);
	dispatch_register(SB_OP_QUERY, stub_query);
	atexit(fuzz_done);
}

/* ---------------------------------------------------------------- what the client sent */

static struct sent *first_sent(struct client *cl, uint64_t id)
{
	for (size_t i = 0; i < cl->n_sent; i++)
		if (cl->sent[i].id == id)
			return &cl->sent[i];
	return NULL;
}

static size_t count_sent(const struct client *cl, uint64_t id)
{
	size_t n = 0;

	for (size_t i = 0; i < cl->n_sent; i++)
		n += cl->sent[i].id == id;
	return n;
}

/* Cuts the stream into frames as the daemon does (with the largest cap, so a superset of what
 * it reads) and records the id and op of each. */
static void record_requests(struct client *cl, const uint8_t *p, size_t n)
{
	size_t off = 0;

	while (n - off >= SB_FRAME_HEADER_SIZE) {
		uint32_t len = sb_be32_get(p + off);
		struct sb_request req = {0};
		struct sb_proto_error e = {0};
		bool id_known = false;
		enum sb_op op = SB_OP_INVALID;

		if (len == 0 || len > SB_MAX_REQUEST_FRAME_LIMIT || len > n - off - SB_FRAME_HEADER_SIZE)
			break;
		cl->n_frames++;
		if (sb_request_decode(&req, p + off + SB_FRAME_HEADER_SIZE, len, &id_known, &e) == 0) {
			op = req.op;
			id_known = true;
		}
		if (id_known) {
			if (cl->n_sent < FUZZ_MAX_SENT)
				cl->sent[cl->n_sent++] = (struct sent){.id = req.id, .op = op};
			else
				cl->overflow = true;
		}
		sb_request_done(&req);
		off += SB_FRAME_HEADER_SIZE + len;
	}
}

/* ---------------------------------------------------------------- what the daemon answered */

/* The op a reply is decoded with: the k-th of the ops the client sent with its id (then, with
 * the table overflowed, every op); `none` once there is no k-th. */
struct pick {
	struct client *cl;
	size_t k;
	bool called, none;
};

static enum sb_op op_of_id(uint64_t id, void *userdata)
{
	struct pick *pk = userdata;
	size_t seen = 0;

	pk->called = true;
	for (size_t i = 0; i < pk->cl->n_sent; i++) {
		if (pk->cl->sent[i].id != id || pk->cl->sent[i].op == SB_OP_INVALID)
			continue;
		if (seen++ == pk->k)
			return pk->cl->sent[i].op;
	}
	if (pk->cl->overflow && pk->k - seen < (size_t)_SB_OP_MAX)
		return (enum sb_op)(pk->k - seen);
	pk->none = true;
	return SB_OP_INVALID;
}

/* An ok reply must be one the daemon can give, in this connection's state. */
static void check_ok(struct client *cl, const struct sb_reply *rep)
{
	if (!cl->hello_ok && rep->op != SB_OP_HELLO)
		fail("an ok reply before hello was answered");
	switch (rep->op) {
	case SB_OP_HELLO:
		if (cl->hello_ok)
			fail("hello answered ok twice");
		cl->hello_ok = true;
		if (rep->u.hello.version != SB_PROTOCOL_VERSION ||
		    rep->u.hello.max_request_frame != cl->limits->max_request_frame ||
		    rep->u.hello.max_reply_frame != cl->limits->max_reply_frame ||
		    rep->u.hello.max_inflight != cl->limits->max_inflight ||
		    strcmp(rep->u.hello.tenant, cl->tenant) != 0)
			fail("hello reply with the wrong version, limits or tenant");
		break;
	case SB_OP_PING:
		break;
	case SB_OP_HEALTH:
		if (cl->admin || strcmp(rep->u.health.tenant, cl->tenant) != 0)
			fail("health answered on the admin socket or for another tenant");
		break;
	case SB_OP_STATS:
		if (!cl->admin)
			fail("stats answered on a tenant socket");
		break;
	case SB_OP_QUERY:
		if (cl->admin || !rep->u.records.records)
			fail("query answered on the admin socket, or without records");
		break;
	default:
		fail("an ok reply for an operation nothing implements");
	}
}

/* No id is answered more often than requests carried it. */
static void count_reply(struct client *cl, uint64_t id, bool ok)
{
	struct sent *s = first_sent(cl, id);

	if (cl->overflow)
		return;
	if (id == 0 && !ok) {
		/* framing errors and requests whose id cannot be read are answered with id 0,
		 * fatally: at most one more than the requests with id 0 */
		if (++cl->n_id0_errors > count_sent(cl, 0) + 1)
			fail("more error replies with id 0 than requests with id 0, plus one");
		return;
	}
	if (!s)
		fail("a reply to an id the client never sent");
	if (++s->replies > count_sent(cl, id))
		fail("an id answered more often than it was sent");
}

static void check_reply(struct client *cl, const uint8_t *p, size_t n)
{
	struct pick pk = {.cl = cl};
	struct sb_proto_error e = {0};
	struct sb_reply rep;

	if (++cl->n_replies > cl->n_frames + 1)
		fail("more replies than request frames, plus one");
	/* an error reply decodes whatever op it is given; an ok one only with its request's */
	for (;; pk.k++) {
		pk.called = pk.none = false;
		if (sb_reply_decode(&rep, p, n, op_of_id, &pk, &e) == 0)
			break;
		if (!pk.called || pk.none) {
			fprintf(stderr, "fuzz_conn: %s\n", e.message);
			fail("a reply that does not decode");
		}
	}
	if (verbose)
		fprintf(stderr, "reply id=%llu %s %s\n", (unsigned long long)rep.id,
			rep.ok ? "ok" : sb_errcode_name(rep.error.code),
			rep.ok ? sb_op_name(rep.op) : rep.error.message);
	if (rep.ok)
		check_ok(cl, &rep);
	count_reply(cl, rep.id, rep.ok);
	sb_reply_done(&rep);
}

/* Checks every whole reply in the client's buffer. */
static void take_replies(struct client *cl)
{
	for (;;) {
		const uint8_t *p;
		size_t n;
		int r = sb_frame_next(&cl->in, cl->limits->max_reply_frame, &p, &n, NULL);

		if (r == SB_FRAME_MORE)
			return;
		if (r == -EMSGSIZE)
			fail("a reply frame larger than max_reply_frame");
		if (r < 0)
			fail("an empty reply frame");
		check_reply(cl, p, n);
		sb_frame_consume(&cl->in, n);
	}
}

/* Reads what the daemon wrote, if the client reads now. */
static void client_read(struct client *cl)
{
	uint8_t buf[16384];

	while (cl->fd >= 0 && cl->reading && !cl->eof) {
		ssize_t n = recv(cl->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0 && errno != ECONNRESET)
			fail("recv on the client end");
		if (n <= 0) {
			/* ECONNRESET: the daemon closed with requests unread; what it wrote
			 * before was delivered first */
			cl->eof = true;
			return;
		}
		if (sb_buf_append(&cl->in, buf, (size_t)n) < 0)
			fail("out of memory");
		take_replies(cl);
	}
}

/* ---------------------------------------------------------------- driving the connection */

/* Runs the loop until nothing is ready (or a bound), waiting up to wait_usec the first time.
 * Returns how many sources ran. */
static unsigned loop_run(uint64_t wait_usec)
{
	unsigned n = 0;

	for (int i = 0; i < FUZZ_PUMP_ROUNDS; i++) {
		int r = sd_event_run(fz.event, i == 0 ? wait_usec : 0);

		if (r < 0)
			fail("sd_event_run");
		if (r == 0)
			break;
		n++;
	}
	return n;
}

/* Writes the stream in chunks, the daemon running in between; stops early when the daemon
 * closed or has not read anything for a while. close_after: the client is about to close, so
 * the loop does not run after the last chunk. True when the whole stream was written. */
static bool client_write(struct client *cl, const struct sb_buf *stream, size_t chunk,
			 bool close_after)
{
	const uint8_t *p = sb_buf_ptr(stream);
	size_t len = sb_buf_len(stream), off = 0;
	unsigned stalled = 0;

	while (off < len && stalled < FUZZ_STALL_ROUNDS) {
		size_t n = len - off < chunk ? len - off : chunk;
		ssize_t w = send(cl->fd, p + off, n, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w < 0 && (errno == EPIPE || errno == ECONNRESET))
			return false; /* the daemon closed */
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			fail("send on the client end");
		if (w > 0)
			off += (size_t)w;
		if (off == len && close_after)
			return true; /* closed before the daemon sees the last chunk */
		if (loop_run(w > 0 ? 0 : FUZZ_IDLE_WAIT_USEC) > 0 || w > 0)
			stalled = 0;
		else {
			stalled++;
			cl->reading = true; /* a client that never reads may stop the daemon */
		}
		client_read(cl);
	}
	return off == len;
}

/* Runs the loop, reading replies, until the connection is gone or nothing happens any more. */
static void settle(struct client *cl)
{
	unsigned idle = 0;
	int i;

	for (i = 0; i < FUZZ_SETTLE_ROUNDS && conn_set_count(fz.set) > 0 && idle < FUZZ_IDLE_ROUNDS; i++) {
		idle = loop_run(idle ? FUZZ_IDLE_WAIT_USEC : 0) > 0 ? 0 : idle + 1;
		client_read(cl);
	}
	if (i == FUZZ_SETTLE_ROUNDS)
		fail("the event loop never goes idle");
	client_read(cl);
}

/* The connection's limits: the config's, or the smallest it accepts. The budget of bytes in
 * flight is always the smallest (4 KiB, about four requests), so that it binds before
 * max_inflight does. */
static struct conn_limits limits_for(unsigned flags)
{
	const struct broker_config *c = fz.config;
	bool small = flags & FUZZ_SMALL;

	return (struct conn_limits){
		.max_request_frame = small ? FUZZ_SMALL_FRAME : c->max_request_frame,
		.max_reply_frame = small ? FUZZ_SMALL_FRAME : c->max_reply_frame,
		.max_inflight = small ? 1 : (unsigned)c->max_inflight_per_connection,
		.max_inflight_bytes = FUZZ_SMALL_FRAME,
		.hello_timeout_usec = c->hello_timeout_usec,
		.idle_timeout_usec = c->idle_timeout_usec,
	};
}

/* Admits the daemon's end as the listener would: peer, tenant, slot; then the connection. */
static void open_conn(int fd, unsigned flags, struct tenant **ret_tenant,
		      const struct conn_limits *limits)
{
	bool admin = flags & FUZZ_ADMIN;
	struct tenant *t = NULL;
	struct peer peer;

	if (peer_from_socket(fd, &peer) < 0)
		fail("peer_from_socket");
	if (admin) {
		if (!admission_admin_admits(&peer))
			fail("the admin socket does not admit the harness");
	} else {
		const struct tenant_config *tc = &fz.config->tenants[flags & FUZZ_TENANT_B ? 1 : 0];

		if (tenant_new(fz.config, tc, fz.event, &t) < 0)
			fail("tenant_new");
		if (!admission_tenant_admits(tc, &peer))
			fail("the tenant does not admit the harness");
	}
	if (conn_set_reserve(fz.set, peer.uid, admin) != CONN_SET_ADMITTED)
		fail("no connection slot: a previous connection did not give its slot back");
	if (conn_new(fz.set, fd, &peer, t, admin, "fuzz", limits, dispatch_frame, NULL) < 0)
		fail("conn_new");
	*ret_tenant = t;
}

/* After the client is gone: nothing of the connection may be left. */
static void check_gone(struct client *cl, struct tenant *t, bool half_closed)
{
	if (conn_set_count(fz.set) > 0 || conn_set_inflight(fz.set) > 0)
		fail("the connection outlived its client");
	if (half_closed && (!cl->eof || sb_buf_len(&cl->in) > 0))
		fail("the connection closed with a partial reply");
	if (loop_run(0) > 0)
		fail("event sources still ran after the connection closed");
	if (t && tenant_connections(t) != 0)
		fail("the tenant still counts the connection");
}

/* The client's bytes: a valid hello first with FUZZ_HELLO, then the input. */
static void build_stream(struct sb_buf *stream, unsigned flags, const uint8_t *data, size_t size)
{
	static uint64_t versions[] = {SB_PROTOCOL_VERSION};
	struct sb_request hello = {.id = FUZZ_HELLO_ID, .op = SB_OP_HELLO};

	sb_buf_init(stream, size + SB_MAX_HELLO_FRAME + SB_FRAME_HEADER_SIZE);
	hello.u.hello.versions = (struct sb_u64v){.set = true, .n = 1, .v = versions};
	hello.u.hello.client = "fuzz_conn/1";
	if (flags & FUZZ_HELLO && sb_request_encode(&hello, stream, SB_MAX_HELLO_FRAME) < 0)
		fail("cannot encode hello");
	if (sb_buf_append(stream, data, size) < 0)
		fail("out of memory");
}

/*
 * After a half-close, with everything read: the connection must be gone, and unless it was
 * closed for a protocol error (after which nothing more is answered), every whole frame the
 * client sent got its one reply (PROTOCOL.md section 6: "each request gets exactly one reply,
 * unless the connection closes first"; a half-close is not a close).
 */
static void check_half_closed(struct client *cl, struct tenant *t, bool all_written,
			      uint64_t protocol_errors_before)
{
	if (conn_set_count(fz.set) > 0)
		fail("the connection stays open after its client half-closed and read everything");
	check_gone(cl, t, true);
	if (all_written &&
	    stats_get_conn_event(STATS_CONN_CLOSED_PROTOCOL_ERROR) == protocol_errors_before &&
	    cl->n_replies != cl->n_frames) {
		fprintf(stderr, "fuzz_conn: %zu request frames, %zu replies\n", cl->n_frames,
			cl->n_replies);
		fail("requests sent before the half-close went unanswered");
	}
}

static void run_case(unsigned flags, size_t chunk, const uint8_t *data, size_t size)
{
	struct conn_limits limits = limits_for(flags);
	struct client *cl = calloc(1, sizeof(*cl));
	uint64_t protocol_errors = stats_get_conn_event(STATS_CONN_CLOSED_PROTOCOL_ERROR);
	struct tenant *t = NULL;
	struct sb_buf stream;
	bool all_written;
	int sv[2];

	if (!cl)
		fail("out of memory");
	build_stream(&stream, flags, data, size);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
		fail("no socket pair: descriptors leaked?");
	if (flags & FUZZ_LATE_READ)
		for (int i = 0; i < 2; i++) /* the kernel raises it to its minimum */
			(void)setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &(int){1}, sizeof(int));
	cl->fd = sv[0];
	cl->reading = !(flags & FUZZ_LATE_READ);
	cl->admin = flags & FUZZ_ADMIN;
	cl->limits = &limits;
	sb_buf_init(&cl->in, limits.max_reply_frame + SB_FRAME_HEADER_SIZE + 16384);
	record_requests(cl, sb_buf_ptr(&stream), sb_buf_len(&stream));
	if (flags & FUZZ_PING_DELAY)
		ops_set_test_ping_delay(flags & FUZZ_CLOSE ? FUZZ_LONG_DELAY_USEC : 1);
	else
		ops_set_test_ping_delay(0);
	open_conn(sv[1], flags, &t, &limits);
	cl->tenant = t ? tenant_name(t) : "@admin";

	all_written = client_write(cl, &stream, chunk, flags & FUZZ_CLOSE);
	cl->reading = true;
	if (flags & FUZZ_CLOSE) {
		close(cl->fd);
		cl->fd = -1;
	} else if (shutdown(cl->fd, SHUT_WR) < 0)
		fail("shutdown");
	settle(cl);
	if (flags & FUZZ_CLOSE)
		check_gone(cl, t, false);
	else {
		check_half_closed(cl, t, all_written, protocol_errors);
		close(cl->fd);
	}

	tenant_unref(t);
	sb_buf_free(&cl->in);
	sb_buf_free(&stream);
	free(cl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned flags = 0;
	size_t chunk = SIZE_MAX;

	fuzz_init();
	if (size >= FUZZ_HEADER) {
		flags = data[0];
		if (flags & FUZZ_CHUNKED)
			chunk = (size_t)data[1] + 1;
		data += FUZZ_HEADER;
		size -= FUZZ_HEADER;
	}
	run_case(flags, chunk, data, size);
	return 0;
}

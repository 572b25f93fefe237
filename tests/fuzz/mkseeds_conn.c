/* mkseeds_conn: writes the seed corpus of fuzz_conn (flags, chunk size, a client's bytes). */
/*
 * One seed per path through conn and dispatch worth starting from: hello then each built-in,
 * the admin socket, a pipelined batch, the framing errors of PROTOCOL.md section 8, delayed
 * pings under backpressure and cancelled by a close, tenant b's allow list and rate limit.
 * Run by hand when the protocol or the harness's flags change:
 *   build/default/tests/fuzz/mkseeds_conn tests/fuzz/corpus/conn
 * The flag values must match fuzz_conn.c.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proto/frame.h"
#include "proto/limits.h"
#include "proto/message.h"

enum {
	F_HELLO = 1u << 0,
	F_ADMIN = 1u << 1,
	F_TENANT_B = 1u << 2,
	F_CHUNKED = 1u << 3,
	F_PING_DELAY = 1u << 4,
	F_CLOSE = 1u << 5,
	F_LATE_READ = 1u << 6,
	F_SMALL = 1u << 7,
};

static const char *dir;
static const char tok[] = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJVMSJ9.c2ln";

/* Writes flags, chunk and the stream in b to dir/name, and empties b. */
static void emit(const char *name, unsigned flags, unsigned chunk, struct sb_buf *b)
{
	uint8_t head[2] = {(uint8_t)flags, (uint8_t)chunk};
	char path[1024];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, head, 2) != 2 ||
	    write(fd, sb_buf_ptr(b), sb_buf_len(b)) != (ssize_t)sb_buf_len(b)) {
		perror(path);
		_exit(1);
	}
	close(fd);
	sb_buf_free(b);
}

static void put(struct sb_buf *b, const struct sb_request *req)
{
	if (sb_request_encode(req, b, SB_MAX_REQUEST_FRAME_DEFAULT) < 0)
		_exit(1);
}

static void hello(struct sb_buf *b, uint64_t id, uint64_t version)
{
	static uint64_t v[1];
	struct sb_request req = {.id = id, .op = SB_OP_HELLO};

	v[0] = version;
	req.u.hello.versions = (struct sb_u64v){.set = true, .n = 1, .v = v};
	req.u.hello.client = "seed/1";
	put(b, &req);
}

static void query(struct sb_buf *b, uint64_t id, const char *text)
{
	struct sb_request req = {.id = id, .op = SB_OP_QUERY};

	req.u.query = (struct sb_query_args){.subject_token = tok, .query = text};
	put(b, &req);
}

/* ping, health, stats: no arguments; exchange and query with a token. */
static void op(struct sb_buf *b, uint64_t id, enum sb_op o)
{
	struct sb_request req = {.id = id, .op = o};

	if (o == SB_OP_EXCHANGE)
		req.u.exchange.subject_token = tok;
	if (o == SB_OP_QUERY)
		req.u.query = (struct sb_query_args){.subject_token = tok, .query = "SELECT 1"};
	if (o == SB_OP_DELETE_RECORDS) {
		static const char *ids[] = {"id1"};
		req.u.delete_records = (struct sb_delete_records_args){
			.subject_token = tok, .table = "persons", .skyflow_ids = {true, 1, ids}};
	}
	put(b, &req);
}

static void raw(struct sb_buf *b, const void *p, size_t n)
{
	if (sb_buf_append(b, p, n) < 0)
		_exit(1);
}

static void basics(void)
{
	struct sb_buf b;

	sb_buf_init(&b, 1 << 20);
	hello(&b, 1, 1);
	op(&b, 2, SB_OP_PING);
	emit("hello-ping", 0, 0, &b);

	sb_buf_init(&b, 1 << 20);
	op(&b, 2, SB_OP_HEALTH);
	emit("hello-health", F_HELLO, 0, &b);

	sb_buf_init(&b, 1 << 20);
	op(&b, 2, SB_OP_STATS);
	op(&b, 3, SB_OP_PING);
	op(&b, 4, SB_OP_HEALTH);   /* forbidden on the admin socket */
	op(&b, 5, SB_OP_EXCHANGE); /* forbidden on the admin socket */
	emit("admin-stats", F_HELLO | F_ADMIN, 0, &b);

	sb_buf_init(&b, 1 << 20);
	op(&b, 2, SB_OP_PING);
	emit("before-hello", 0, 0, &b);

	sb_buf_init(&b, 1 << 20);
	hello(&b, 1, 2);
	emit("hello-bad-version", 0, 0, &b);
}

static void pipelined(void)
{
	/* {id:9, op:"nope"}: unknown op, kept serving; {id:10, op:"exchange"}: no token */
	static const uint8_t unknown[] = {0, 0, 0, 13, 0x82, 0xa2, 'i', 'd', 0x09, 0xa2, 'o', 'p',
					  0xa4, 'n', 'o', 'p', 'e'};
	static const uint8_t notoken[] = {0, 0, 0, 17, 0x82, 0xa2, 'i', 'd', 0x0a, 0xa2, 'o', 'p',
					  0xa8, 'e', 'x', 'c', 'h', 'a', 'n', 'g', 'e'};
	struct sb_buf b;

	sb_buf_init(&b, 1 << 20);
	op(&b, 2, SB_OP_PING);
	op(&b, 3, SB_OP_PING);
	op(&b, 4, SB_OP_HEALTH);
	op(&b, 5, SB_OP_EXCHANGE);       /* not available: no tokensvc module */
	op(&b, 6, SB_OP_DELETE_RECORDS); /* not available */
	op(&b, 7, SB_OP_STATS);          /* forbidden for a tenant */
	hello(&b, 8, 1);                 /* hello twice */
	raw(&b, unknown, sizeof(unknown));
	raw(&b, notoken, sizeof(notoken));
	op(&b, 11, SB_OP_PING);
	emit("pipelined", F_HELLO, 0, &b);

	sb_buf_init(&b, 1 << 20);
	for (uint64_t id = 2; id < 10; id++)
		op(&b, id, SB_OP_STATS);
	emit("admin-late-read", F_HELLO | F_ADMIN | F_LATE_READ, 0, &b);

	sb_buf_init(&b, 1 << 20);
	for (uint64_t id = 2; id < 6; id++)
		op(&b, id, SB_OP_PING);
	emit("delayed-backpressure", F_HELLO | F_PING_DELAY | F_SMALL | F_CHUNKED, 0, &b);

	sb_buf_init(&b, 1 << 20);
	for (uint64_t id = 2; id < 8; id++)
		op(&b, id, id % 3 ? SB_OP_PING : SB_OP_HEALTH);
	emit("delayed-pipelined", F_HELLO | F_PING_DELAY, 0, &b);

	sb_buf_init(&b, 1 << 20);
	for (uint64_t id = 2; id < 5; id++)
		op(&b, id, SB_OP_PING);
	emit("delayed-then-close", F_HELLO | F_PING_DELAY | F_CLOSE, 0, &b);

	sb_buf_init(&b, 1 << 20);
	for (uint64_t id = 2; id < 6; id++)
		op(&b, id, SB_OP_QUERY); /* burst 2, then rate_limited */
	op(&b, 6, SB_OP_EXCHANGE);       /* not allowed for tenant b */
	op(&b, 7, SB_OP_HEALTH);
	emit("tenant-b-rate-limit", F_HELLO | F_TENANT_B, 0, &b);

	/* the harness's stub answers a query starting with "ok" with its text twice: over 4 KiB
	 * of reply from a request under 4 KiB, too_large */
	char big[3000];
	memset(big, 'x', sizeof(big) - 1);
	big[0] = 'o';
	big[1] = 'k';
	big[sizeof(big) - 1] = '\0';
	sb_buf_init(&b, 1 << 20);
	query(&b, 2, "ok");
	query(&b, 3, big);
	op(&b, 4, SB_OP_PING);
	emit("query-reply-too-large", F_HELLO | F_SMALL, 0, &b);

	/* more replies in one read than the output buffer takes (4 KiB of reply room with the
	 * smallest limits): the rest of the batch waits in the input buffer for that room, and
	 * must be answered once the replies are written, with no more bytes coming */
	sb_buf_init(&b, 1 << 20);
	for (uint64_t id = 2; id < 300; id++)
		op(&b, id, SB_OP_HEALTH);
	emit("pipelined-over-output-room", F_HELLO | F_SMALL, 0, &b);

	/* many replies, nobody reading, the smallest socket buffers */
	sb_buf_init(&b, 1 << 20);
	for (uint64_t id = 2; id < 200; id++)
		op(&b, id, id % 2 ? SB_OP_STATS : SB_OP_PING);
	emit("admin-flood-late-read", F_HELLO | F_ADMIN | F_LATE_READ | F_SMALL, 0, &b);

	sb_buf_init(&b, 1 << 20);
	op(&b, 2, SB_OP_PING);
	op(&b, 3, SB_OP_PING);
	sb_buf_truncate(&b, sb_buf_len(&b) - 3); /* the second one never completes */
	emit("partial-frame", F_HELLO | F_CHUNKED, 2, &b);
}

static void framing(void)
{
	static const uint8_t over_hello[] = {0, 0, 0x10, 0x01, 0x80, 0x80, 0x80};
	static const uint8_t over_small[] = {0, 0, 0x10, 0x01, 0x81, 0xa2, 'i', 'd'};
	static const uint8_t empty[] = {0, 0, 0, 0, 0, 0, 0, 1, 0x80};
	static const uint8_t garbage[] = {0, 0, 0, 9, 'n', 'o', 't', ' ', 'm', 's', 'g', 'p', 'k',
					  0xde, 0xad, 0xbe, 0xef};
	static const uint8_t noid[] = {0, 0, 0, 9, 0x81, 0xa2, 'o', 'p', 0xa4, 'p', 'i', 'n', 'g'};
	struct sb_buf b;

	sb_buf_init(&b, 1 << 20);
	raw(&b, over_hello, sizeof(over_hello)); /* 4097 bytes before hello: too_large, closes */
	emit("over-cap-hello", 0, 0, &b);

	sb_buf_init(&b, 1 << 20);
	op(&b, 2, SB_OP_PING);
	raw(&b, over_small, sizeof(over_small)); /* over max_request_frame 4096 after hello */
	emit("over-cap-small", F_HELLO | F_SMALL, 0, &b);

	sb_buf_init(&b, 1 << 20);
	raw(&b, empty, sizeof(empty));
	emit("empty-frame", F_HELLO, 0, &b);

	sb_buf_init(&b, 1 << 20);
	raw(&b, garbage, sizeof(garbage));
	emit("garbage", F_HELLO, 0, &b);

	sb_buf_init(&b, 1 << 20);
	raw(&b, noid, sizeof(noid));
	emit("no-id", F_HELLO | F_CHUNKED, 4, &b);
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	dir = argv[1];
	basics();
	pipelined();
	framing();
	return 0;
}

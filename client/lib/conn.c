/* SPDX-License-Identifier: MIT */
/* conn: the connection of a handle: connect, hello, one framed request out and its reply in. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client/lib/internal.h"
#include "proto/frame.h"

/* The reply cap before hello has told us the broker's: a hello reply or an early error. */
#define HELLO_REPLY_CAP (64u * 1024u)
/* The most one recv asks for beyond what the frame in progress still needs. */
#define READ_CHUNK (64u * 1024u)

int64_t client_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int client_left_ms(int64_t deadline)
{
	int64_t left = deadline - client_now_ms();

	if (left < 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

/* Waits until fd has one of events or deadline passes: 1, 0 on timeout, -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		int r = poll(&p, 1, client_left_ms(deadline));

		if (r < 0 && errno == EINTR)
			continue;
		return r < 0 ? -errno : r;
	}
}

void conn_close(struct skybroker *h)
{
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	h->inflight_id = 0;
	sb_buf_free(&h->in);
	sb_buf_free(&h->out);
}

/* The sentence for a connect(2) failure: what is wrong and what to do. */
static int connect_error(struct skybroker *h, int e, struct skybroker_error *err)
{
	switch (e) {
	case ENOENT:
		return client_error(err, SKYBROKER_E_UNREACHABLE,
				    "no socket at %s: is skybrokerd running? (the socket is chosen "
				    "by --socket or $SKYBROKER_SOCKET)", h->path);
	case ECONNREFUSED:
		return client_error(err, SKYBROKER_E_UNREACHABLE,
				    "nothing listens on %s: skybrokerd is not running", h->path);
	case EACCES:
	case EPERM:
		return client_error(err, SKYBROKER_E_UNREACHABLE,
				    "permission denied on %s: this user may not open the broker's "
				    "socket" " (see its socket_mode and socket_group)", h->path);
	default:
		errno = e;
		return client_error(err, SKYBROKER_E_UNREACHABLE, "cannot connect to %s: %m",
				    h->path);
	}
}

/* Opens h->fd connected to h->path, non-blocking. A full listen queue (EAGAIN) is waited out
 * until deadline. 0 or a code. */
static int socket_connect(struct skybroker *h, int64_t deadline, struct skybroker_error *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	memcpy(sa.sun_path, h->path, strlen(h->path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return client_error(err, SKYBROKER_E_NO_MEMORY, "cannot create a socket: %m");
	while (connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		if (e == EINTR)
			continue;
		if (e == EAGAIN && client_left_ms(deadline) > 0) {
			poll(NULL, 0, 5); /* the broker's accept queue is full: wait a little */
			continue;
		}
		close(fd);
		if (e == EAGAIN)
			return client_error(err, SKYBROKER_E_TIMEOUT,
					    "the broker's queue of connections on %s stayed full",
					    h->path);
		return connect_error(h, e, err);
	}
	h->fd = fd;
	return 0;
}

/* op_of_id for sb_reply_decode: only the request in flight is known. */
static enum sb_op op_of_id(uint64_t id, void *userdata)
{
	const struct skybroker *h = userdata;

	return id != 0 && id == h->inflight_id ? h->inflight_op : SB_OP_INVALID;
}

/* Keeps what the hello reply says. 0 or a code. */
static int hello_take(struct skybroker *h, const struct sb_hello_result *res,
		      struct skybroker_error *err)
{
	if (res->version != SB_PROTOCOL_VERSION)
		return client_error(err, SKYBROKER_E_PROTOCOL,
				    "the broker chose protocol version %llu, which this library "
				    "does not speak", (unsigned long long)res->version);
	if (res->max_request_frame < SB_MAX_HELLO_FRAME || res->max_reply_frame < 64)
		return client_error(err, SKYBROKER_E_PROTOCOL, "the broker's frame caps are unusable");
	snprintf(h->tenant, sizeof(h->tenant), "%s", res->tenant);
	snprintf(h->server, sizeof(h->server), "%s", res->server);
	h->max_request = res->max_request_frame < SB_MAX_REQUEST_FRAME_LIMIT
				 ? res->max_request_frame : SB_MAX_REQUEST_FRAME_LIMIT;
	h->max_reply = res->max_reply_frame < SB_MAX_REPLY_FRAME_LIMIT
			       ? res->max_reply_frame : SB_MAX_REPLY_FRAME_LIMIT;
	h->in.max = h->max_reply + SB_FRAME_HEADER_SIZE;
	h->out.max = h->max_request + SB_FRAME_HEADER_SIZE;
	h->allowed = 0;
	for (uint32_t i = 0; i < res->operations.n; i++) {
		enum sb_op op = sb_op_from_name(res->operations.v[i]);

		if (op != SB_OP_INVALID)
			h->allowed |= 1u << op;
	}
	return 0;
}

/* Sends hello and reads its reply. 0 or a code. */
static int say_hello(struct skybroker *h, int64_t deadline, struct skybroker_error *err)
{
	uint64_t versions[] = {SB_PROTOCOL_VERSION};
	struct sb_request req = {.op = SB_OP_HELLO};
	struct sb_reply rep;
	bool sent_any;
	int r;

	req.u.hello.versions = (struct sb_u64v){.set = true, .n = 1, .v = versions};
	req.u.hello.client = h->client;
	r = conn_send(h, &req, deadline, &sent_any, err);
	if (r != 0)
		return r;
	r = conn_recv(h, deadline, &rep, err);
	if (r != 0)
		return r;
	if (!rep.ok)
		r = client_error_reply(err, &rep.error);
	else
		r = hello_take(h, &rep.u.hello, err);
	sb_reply_done(&rep);
	return r;
}

int conn_open(struct skybroker *h, int64_t deadline, struct skybroker_error *err)
{
	int r;

	conn_close(h);
	sb_buf_init(&h->in, HELLO_REPLY_CAP + SB_FRAME_HEADER_SIZE);
	sb_buf_init(&h->out, SB_MAX_HELLO_FRAME + SB_FRAME_HEADER_SIZE);
	h->max_request = SB_MAX_HELLO_FRAME;
	h->max_reply = HELLO_REPLY_CAP;
	r = socket_connect(h, deadline, err);
	if (r == 0)
		r = say_hello(h, deadline, err);
	if (r != 0)
		conn_close(h);
	return r;
}

bool conn_stale(struct skybroker *h)
{
	struct pollfd p = {.fd = h->fd, .events = POLLIN};

	if (h->fd < 0 || sb_buf_len(&h->in) > 0)
		return true;
	/* nothing is in flight: anything readable is an EOF, an error or a frame nobody asked
	 * for (the broker's goodbye after a reload or its idle timeout) */
	return poll(&p, 1, 0) != 0;
}

/* Encodes req with a fresh id into h->out. 0 or a code (nothing appended). */
static int encode_request(struct skybroker *h, struct sb_request *req,
			  struct skybroker_error *err)
{
	int r;

	if (++h->next_id == 0)
		h->next_id = 1;
	req->id = h->next_id;
	r = sb_request_encode(req, &h->out, h->max_request);
	if (r == -EMSGSIZE)
		return client_error(err, SKYBROKER_E_TOO_LARGE,
				    "the request is larger than the broker's %zu-byte frame cap; "
				    "send fewer or smaller values per call", h->max_request);
	if (r == -ENOMEM)
		return client_error(err, SKYBROKER_E_NO_MEMORY, "out of memory");
	if (r < 0)
		return client_error(err, SKYBROKER_E_INVALID_ARGUMENT,
				    "a required argument of %s is missing", sb_op_name(req->op));
	return 0;
}

int conn_send(struct skybroker *h, struct sb_request *req, int64_t deadline, bool *sent_any,
	      struct skybroker_error *err)
{
	int r;

	*sent_any = false;
	r = encode_request(h, req, err);
	if (r != 0)
		return r;
	h->inflight_id = req->id;
	h->inflight_op = req->op;
	while (sb_buf_len(&h->out) > 0) {
		ssize_t n = send(h->fd, sb_buf_ptr(&h->out), sb_buf_len(&h->out),
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			sb_buf_consume(&h->out, (size_t)n); /* wipes what was sent */
			*sent_any = true;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(h->fd, POLLOUT, deadline) > 0)
				continue;
			conn_close(h);
			return client_error(err, SKYBROKER_E_TIMEOUT,
					    "the broker did not take the request in time");
		}
		conn_close(h);
		return client_error(err, SKYBROKER_E_DISCONNECTED,
				    "the broker closed the connection while the request was sent");
	}
	return 0;
}

/* Reads what the socket has into h->in, at least `want` bytes worth of room asked. 1 when
 * bytes came, 0 on timeout, or a code (connection closed). */
static int read_some(struct skybroker *h, size_t want, int64_t deadline,
		     struct skybroker_error *err)
{
	uint8_t *dst;
	size_t room = sb_buf_room(&h->in), ask = room < READ_CHUNK ? room : READ_CHUNK;
	ssize_t n;

	if (ask < want)
		ask = want;
	if (sb_buf_reserve(&h->in, ask, &dst) < 0)
		return client_error(err, SKYBROKER_E_NO_MEMORY, "out of memory");
	for (;;) {
		n = recv(h->fd, dst, ask, MSG_DONTWAIT);
		if (n > 0) {
			sb_buf_commit(&h->in, (size_t)n);
			return 1;
		}
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return client_error(err, SKYBROKER_E_DISCONNECTED,
					    "the broker closed the connection before answering");
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return client_error(err, SKYBROKER_E_DISCONNECTED,
					    "the connection to the broker broke: %m");
		if (wait_fd(h->fd, POLLIN, deadline) <= 0)
			return 0;
	}
}

/* Decodes the frame payload[0..len) as the reply to the request in flight. 0 (rep filled,
 * possibly an error reply) or a code. */
static int take_reply(struct skybroker *h, const uint8_t *payload, size_t len,
		      struct sb_reply *rep, struct skybroker_error *err)
{
	struct sb_proto_error pe = {0};
	int r = sb_reply_decode(rep, payload, len, op_of_id, h, &pe);

	if (r == -ENOMEM)
		return client_error(err, SKYBROKER_E_NO_MEMORY, "out of memory");
	if (r < 0)
		return client_error(err, SKYBROKER_E_PROTOCOL,
				    "the broker's reply could not be decoded: %s", pe.message);
	if (rep->id == h->inflight_id || (rep->id == 0 && !rep->ok))
		return 0; /* ours, or the broker's word about the whole connection */
	sb_reply_done(rep);
	return client_error(err, SKYBROKER_E_PROTOCOL,
			    "the broker answered a request this client did not send");
}

int conn_recv(struct skybroker *h, int64_t deadline, struct sb_reply *rep,
	      struct skybroker_error *err)
{
	for (;;) {
		const uint8_t *payload;
		size_t len, need;
		int r = sb_frame_next(&h->in, h->max_reply, &payload, &len, &need);

		if (r == SB_FRAME_READY) {
			r = take_reply(h, payload, len, rep, err);
			sb_frame_consume(&h->in, len);
			/* an error with id 0 ends the connection: the broker closes it */
			if (r != 0 || rep->id == 0)
				conn_close(h);
			h->inflight_id = 0;
			return r;
		}
		if (r < 0) {
			conn_close(h);
			if (r == -EMSGSIZE)
				return client_error(err, SKYBROKER_E_PROTOCOL,
						    "the broker sent a reply over the %zu bytes it "
						    "announced", h->max_reply);
			return client_error(err, SKYBROKER_E_PROTOCOL,
					    "the broker sent an empty frame");
		}
		r = read_some(h, need - sb_buf_len(&h->in), deadline, err);
		if (r == 0) {
			conn_close(h);
			return client_error(err, SKYBROKER_E_TIMEOUT,
					    "no answer from the broker in time");
		}
		if (r != 1) {
			conn_close(h);
			return r;
		}
	}
}

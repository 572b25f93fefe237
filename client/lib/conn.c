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
				    "socket; see its socket_mode and socket_group", h->path);
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
	pthread_mutex_lock(&h->send_lock);
	h->fd = fd;
	pthread_mutex_unlock(&h->send_lock);
	return 0;
}

bool client_cond_wait(pthread_cond_t *cond, pthread_mutex_t *lock, int64_t deadline)
{
	struct timespec ts = {.tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000};

	if (client_left_ms(deadline) == 0)
		return false;
	pthread_cond_timedwait(cond, lock, &ts); /* the cond runs on CLOCK_MONOTONIC */
	return client_left_ms(deadline) > 0;
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
	if (h->fd < 0 || h->dead || sb_buf_len(&h->in) > 0) /* the caps below must hold */
		return client_error(err, SKYBROKER_E_PROTOCOL,
				    "the broker sent more than the hello reply, or closed the "
				    "connection, right after hello");
	snprintf(h->tenant, sizeof(h->tenant), "%s", res->tenant);
	snprintf(h->server, sizeof(h->server), "%s", res->server);
	h->max_request = res->max_request_frame < SB_MAX_REQUEST_FRAME_LIMIT
				 ? res->max_request_frame : SB_MAX_REQUEST_FRAME_LIMIT;
	h->max_reply = res->max_reply_frame < SB_MAX_REPLY_FRAME_LIMIT
			       ? res->max_reply_frame : SB_MAX_REPLY_FRAME_LIMIT;
	h->in.max = h->max_reply + SB_FRAME_HEADER_SIZE;
	h->allowed = 0;
	for (uint32_t i = 0; i < res->operations.n; i++) {
		enum sb_op op = sb_op_from_name(res->operations.v[i]);

		if (op != SB_OP_INVALID)
			h->allowed |= 1u << op;
	}
	return 0;
}

/* Sends hello on the new connection and reads its reply, as any request. With lock held;
 * nobody else sends meanwhile (greeting). 0 or a code. */
static int say_hello(struct skybroker *h, int64_t deadline, struct skybroker_error *err)
{
	uint64_t versions[] = {SB_PROTOCOL_VERSION};
	struct sb_request req = {.op = SB_OP_HELLO};
	struct pending *p = pipe_add(h, SB_OP_HELLO);
	struct sb_buf frame;
	bool sent_any;
	int r;

	if (!p)
		return client_error(err, SKYBROKER_E_NO_MEMORY, "out of memory");
	req.id = p->id;
	req.u.hello.versions = (struct sb_u64v){.set = true, .n = 1, .v = versions};
	req.u.hello.client = h->client;
	sb_buf_init(&frame, SB_MAX_HELLO_FRAME + SB_FRAME_HEADER_SIZE);
	r = sb_request_encode(&req, &frame, SB_MAX_HELLO_FRAME);
	if (r < 0) {
		pipe_drop(h, p);
		sb_buf_free(&frame);
		return client_error(err, SKYBROKER_E_INVALID_ARGUMENT, "hello could not be encoded");
	}
	r = conn_send(h, h->generation, &frame, deadline, &sent_any, err);
	sb_buf_free(&frame);
	if (r != 0) {
		pipe_drop(h, p);
		return r;
	}
	r = pipe_await(h, p, deadline, err);
	if (r != 0)
		return r;
	if (!p->rep.ok)
		r = client_error_reply(err, &p->rep.error);
	else
		r = hello_take(h, &p->rep.u.hello, err);
	pipe_drop(h, p);
	return r;
}

/* Connects h->path and says hello. With lock held, nobody reading, no connection. */
static int conn_open(struct skybroker *h, int64_t deadline, struct skybroker_error *err)
{
	int r;

	sb_buf_init(&h->in, HELLO_REPLY_CAP + SB_FRAME_HEADER_SIZE);
	h->max_request = SB_MAX_HELLO_FRAME;
	h->max_reply = HELLO_REPLY_CAP;
	r = socket_connect(h, deadline, err);
	if (r != 0)
		return r;
	h->greeting = true;
	r = say_hello(h, deadline, err);
	h->greeting = false;
	if (r != 0 && !h->reading)
		conn_close(h);
	else if (r != 0)
		pipe_mark_dead(h, err); /* a reader still runs: it closes */
	pthread_cond_broadcast(&h->idle);
	return r;
}

void conn_close(struct skybroker *h)
{
	struct skybroker_error closed;

	if (h->fd >= 0 || h->pending) {
		if (!h->dead)
			client_error(&closed, SKYBROKER_E_DISCONNECTED,
				     "the connection to the broker was closed before the answer");
		pipe_fail_all(h, h->dead ? &h->dead_err : &closed);
	}
	if (h->fd >= 0) {
		shutdown(h->fd, SHUT_RDWR); /* a writer blocked on it lets go of send_lock */
		pthread_mutex_lock(&h->send_lock);
		close(h->fd);
		h->fd = -1;
		h->generation++;
		pthread_mutex_unlock(&h->send_lock);
	}
	sb_buf_free(&h->in);
	h->dead = false;
	pthread_cond_broadcast(&h->idle);
}

/* Whether an idle connection was closed by the broker or holds a frame nobody asked for (its
 * goodbye after a reload or its idle timeout). Only when nothing is awaited on it. */
static bool conn_stale(struct skybroker *h)
{
	struct pollfd p = {.fd = h->fd, .events = POLLIN};

	if (h->pending || h->reading)
		return false;
	return sb_buf_len(&h->in) > 0 || poll(&p, 1, 0) != 0;
}

int conn_usable(struct skybroker *h, int64_t deadline, struct skybroker_error *err)
{
	for (;;) {
		if (h->greeting || (h->reading && (h->dead || h->fd < 0))) {
			/* wait for hello, or for the reader to close what died */
			if (!client_cond_wait(&h->idle, &h->lock, deadline))
				return client_error(err, SKYBROKER_E_TIMEOUT,
						    "no answer from the broker in time");
			continue;
		}
		if (h->fd >= 0 && !h->dead && !conn_stale(h))
			return 0;
		conn_close(h);
		return conn_open(h, deadline, err);
	}
}

int conn_send(struct skybroker *h, uint64_t gen, const struct sb_buf *frame, int64_t deadline,
	      bool *sent_any, struct skybroker_error *err)
{
	size_t off = 0, len = sb_buf_len(frame);
	int r = 0;

	*sent_any = false;
	pthread_mutex_lock(&h->send_lock);
	if (h->generation != gen || h->fd < 0)
		r = client_error(err, SKYBROKER_E_DISCONNECTED,
				 "the connection to the broker was closed before the request was "
				 "sent");
	while (r == 0 && off < len) {
		ssize_t n = send(h->fd, sb_buf_ptr(frame) + off, len - off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			off += (size_t)n;
			*sent_any = true;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(h->fd, POLLOUT, deadline) <= 0)
				r = client_error(err, SKYBROKER_E_TIMEOUT,
						 "the broker did not take the request in time");
		} else {
			r = client_error(err, SKYBROKER_E_DISCONNECTED,
					 "the broker closed the connection while the request was "
					 "sent");
		}
	}
	pthread_mutex_unlock(&h->send_lock);
	return r;
}

int conn_read(int fd, struct sb_buf *in, size_t want, int64_t deadline)
{
	size_t room = sb_buf_room(in), ask = room < READ_CHUNK ? room : READ_CHUNK;
	uint8_t *dst;

	if (ask < want)
		ask = want;
	if (sb_buf_reserve(in, ask, &dst) < 0)
		return -1;
	for (;;) {
		ssize_t n = recv(fd, dst, ask, MSG_DONTWAIT);

		if (n > 0) {
			sb_buf_commit(in, (size_t)n);
			return 1;
		}
		if (n == 0)
			return -1;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (wait_fd(fd, POLLIN, deadline) <= 0)
			return 0;
	}
}

/* SPDX-License-Identifier: MIT */
/* handle: making and freeing a handle, its settings and what hello told it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/lib/internal.h"

const char *skybroker_version(void)
{
	return SKYBROKER_VERSION;
}

/* The socket path: the argument, else $SKYBROKER_SOCKET, else the default; it must fit
 * sun_path. 0 or SKYBROKER_E_INVALID_ARGUMENT. */
static int choose_path(struct skybroker *h, const char *socket_path, struct skybroker_error *err)
{
	const char *path = socket_path && *socket_path ? socket_path : secure_getenv("SKYBROKER_SOCKET");

	if (!path || !*path)
		path = SKYBROKER_DEFAULT_SOCKET;
	if (strlen(path) >= sizeof(h->path))
		return client_error(err, SKYBROKER_E_INVALID_ARGUMENT,
				    "the socket path is longer than %zu bytes", sizeof(h->path) - 1);
	memcpy(h->path, path, strlen(path) + 1);
	return 0;
}

/* The handle's locks and its condition (on CLOCK_MONOTONIC, as every deadline). 0 or a code
 * (nothing left to destroy). */
static int sync_init(struct skybroker *h, struct skybroker_error *err)
{
	pthread_condattr_t attr;
	int r = 0;

	if (pthread_condattr_init(&attr) != 0)
		return client_error(err, SKYBROKER_E_NO_MEMORY, "cannot create a condition");
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (pthread_mutex_init(&h->lock, NULL) != 0)
		r = client_error(err, SKYBROKER_E_NO_MEMORY, "cannot create a mutex");
	else if (pthread_mutex_init(&h->send_lock, NULL) != 0) {
		pthread_mutex_destroy(&h->lock);
		r = client_error(err, SKYBROKER_E_NO_MEMORY, "cannot create a mutex");
	} else if (pthread_cond_init(&h->idle, &attr) != 0) {
		pthread_mutex_destroy(&h->send_lock);
		pthread_mutex_destroy(&h->lock);
		r = client_error(err, SKYBROKER_E_NO_MEMORY, "cannot create a condition");
	}
	pthread_condattr_destroy(&attr);
	return r;
}

int skybroker_connect(const char *socket_path, const char *client_name, int timeout_ms,
		      skybroker **ret, struct skybroker_error *err)
{
	struct skybroker *h;
	int r;

	if (!ret)
		return client_error(err, SKYBROKER_E_INVALID_ARGUMENT, "ret is NULL");
	*ret = NULL;
	if (client_name && (strlen(client_name) == 0 || strlen(client_name) > SB_MAX_CLIENT_NAME))
		return client_error(err, SKYBROKER_E_INVALID_ARGUMENT,
				    "the client name must be 1 to %u bytes", SB_MAX_CLIENT_NAME);
	h = calloc(1, sizeof(*h));
	if (!h)
		return client_error(err, SKYBROKER_E_NO_MEMORY, "out of memory");
	h->fd = -1;
	h->timeout_ms = timeout_ms > 0 ? timeout_ms : SKYBROKER_DEFAULT_TIMEOUT_MS;
	h->attempts = SKYBROKER_DEFAULT_ATTEMPTS;
	h->backoff_ms = SKYBROKER_DEFAULT_BACKOFF_MS;
	snprintf(h->client, sizeof(h->client), "%s",
		 client_name ? client_name : "libskybroker/" SKYBROKER_VERSION);
	r = choose_path(h, socket_path, err);
	if (r == 0)
		r = sync_init(h, err);
	if (r != 0) {
		free(h);
		return r;
	}
	pthread_mutex_lock(&h->lock);
	r = conn_usable(h, client_now_ms() + h->timeout_ms, err);
	pthread_mutex_unlock(&h->lock);
	if (r != 0) {
		skybroker_free(h);
		return r;
	}
	*ret = h;
	return 0;
}

void skybroker_free(skybroker *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	conn_close(h);
	pthread_mutex_unlock(&h->lock);
	pthread_cond_destroy(&h->idle);
	pthread_mutex_destroy(&h->send_lock);
	pthread_mutex_destroy(&h->lock);
	explicit_bzero(h, sizeof(*h));
	free(h);
}

void skybroker_set_retry(skybroker *h, unsigned attempts, unsigned backoff_ms)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->attempts = attempts ? attempts : 1;
	h->backoff_ms = backoff_ms;
	pthread_mutex_unlock(&h->lock);
}

/* tenant and server are rewritten when a reconnect says hello again (under the lock, inside a
 * call): libskybroker(3) asks for them while no call runs on h, e.g. right after connect. */
const char *skybroker_tenant(const skybroker *h)
{
	return h ? h->tenant : NULL;
}

const char *skybroker_server(const skybroker *h)
{
	return h ? h->server : NULL;
}

bool skybroker_allows(const skybroker *h, const char *operation)
{
	enum sb_op op;

	if (!h || !operation)
		return false;
	op = sb_op_from_name(operation);
	return op != SB_OP_INVALID && (h->allowed & (1u << op));
}

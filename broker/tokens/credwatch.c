/* SPDX-License-Identifier: MIT */
/* credwatch: inotify on a credentials file's directory, settled into one reload of the key. */
#include "tokens/credwatch.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>

#include "util/log.h"

/* What can replace or rewrite a file in the directory, or a link leading to it. */
#define CREDWATCH_MASK                                                                   \
	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB | \
	 IN_ONLYDIR)
#define CREDWATCH_NAME_MAX 64
#define CREDWATCH_ID_MAX 128

struct credwatch {
	sd_event *event;
	sd_event_source *inotify;
	sd_event_source *settle; /* armed while a burst of events settles */
	char tenant[CREDWATCH_NAME_MAX];
	char file[PATH_MAX]; /* as configured: credentials_load resolves it again each time */
	char key_id[CREDWATCH_ID_MAX]; /* of the key in use; "" when none */
	char fingerprint[HASH_FINGERPRINT_LEN + 1];
	credwatch_rotated_t rotated;
	void *userdata;
};

static void remember(struct credwatch *w, const struct credentials *c)
{
	(void)snprintf(w->key_id, sizeof(w->key_id), "%s", c && c->key_id ? c->key_id : "");
	(void)snprintf(w->fingerprint, sizeof(w->fingerprint), "%s", c ? c->fingerprint : "");
}

static int on_settled(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct credwatch *w = userdata;
	struct error_detail why = { 0 };
	struct credentials *fresh = NULL;
	int r;

	(void)s;
	(void)usec;
	r = credentials_load(w->file, NULL, &fresh, &why);
	if (r < 0) {
		log_warning("tenant=%s: the credentials file changed but does not load; "
			    "key id %s stays in use: %s", w->tenant,
			    *w->key_id ? w->key_id : "(none)", why.message);
		return 0;
	}
	if (strcmp(fresh->key_id, w->key_id) == 0 &&
	    strcmp(fresh->fingerprint, w->fingerprint) == 0) {
		log_debug("tenant=%s: credentials file touched, same key (key id %s)", w->tenant,
			  w->key_id);
		credentials_free(fresh);
		return 0;
	}
	log_notice("tenant=%s: credentials rotated: key id %s -> %s (public key %s -> %s)",
		   w->tenant, *w->key_id ? w->key_id : "(none)", fresh->key_id,
		   *w->fingerprint ? w->fingerprint : "(none)", fresh->fingerprint);
	remember(w, fresh);
	w->rotated(fresh, w->userdata); /* transferred */
	return 0;
}

static int on_inotify(sd_event_source *s, const struct inotify_event *ev, void *userdata)
{
	struct credwatch *w = userdata;
	uint64_t now;

	(void)s;
	(void)ev;
	if (sd_event_now(w->event, CLOCK_MONOTONIC, &now) < 0)
		return 0;
	/* Re-arm: the reload runs once the directory has been quiet for the settle time. */
	(void)sd_event_source_set_time(w->settle, now + CREDWATCH_SETTLE_USEC);
	(void)sd_event_source_set_enabled(w->settle, SD_EVENT_ONESHOT);
	return 0;
}

/* The directory part of path into dir ("/" for a file at the root). */
static int dir_of(const char *path, char dir[static PATH_MAX])
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return -EINVAL;
	if (slash == path)
		return snprintf(dir, PATH_MAX, "/") < 0 ? -EINVAL : 0;
	if ((size_t)snprintf(dir, PATH_MAX, "%.*s", (int)(slash - path), path) >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

int credwatch_new(sd_event *event, const char *tenant, const char *file,
		  const struct credentials *current, credwatch_rotated_t rotated, void *userdata,
		  struct credwatch **ret)
{
	struct credwatch *w;
	char path[PATH_MAX], dir[PATH_MAX];
	int r;

	*ret = NULL;
	if (!event || !tenant || !file || !rotated)
		return -EINVAL;
	r = credentials_path(file, NULL, path);
	if (r < 0)
		return r;
	r = dir_of(path, dir);
	if (r < 0)
		return r;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->event = event;
	w->rotated = rotated;
	w->userdata = userdata;
	(void)snprintf(w->tenant, sizeof(w->tenant), "%s", tenant);
	(void)snprintf(w->file, sizeof(w->file), "%s", file);
	remember(w, current);
	r = sd_event_add_time(event, &w->settle, CLOCK_MONOTONIC, UINT64_MAX,
			      CREDWATCH_SETTLE_USEC / 4, on_settled, w);
	if (r >= 0) {
		(void)sd_event_source_set_enabled(w->settle, SD_EVENT_OFF);
		r = sd_event_add_inotify(event, &w->inotify, dir, CREDWATCH_MASK, on_inotify, w);
	}
	if (r < 0)
		return credwatch_free(w), r;
	*ret = w;
	return 0;
}

struct credwatch *credwatch_free(struct credwatch *w)
{
	if (!w)
		return NULL;
	sd_event_source_disable_unref(w->inotify);
	sd_event_source_disable_unref(w->settle);
	free(w);
	return NULL;
}

/* controls: the test controls — call counters per endpoint and injected faults. Both are
 * shared by every HTTP thread and guarded by their own mutex. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

struct fault {
	int id;
	char path_prefix[256];
	unsigned status;   /* 0: no status override */
	char *body;        /* raw body to send (may be invalid JSON); NULL: default */
	long delay_ms;
	bool drop;         /* close the connection without a reply */
	long count;        /* remaining matches; -1: unlimited */
};

void controls_init(void);
void controls_shutdown(void);

/* Counts one call to a named endpoint ("POST /v1/auth/sts/token"). */
void stats_count(const char *endpoint);
json_t *stats_json(void); /* new reference */
void stats_reset(void);

/* Adds a fault from its JSON description; returns its id (> 0) or -EINVAL. */
int faults_add(json_t *spec, char *err, size_t err_len);
void faults_clear(void);
json_t *faults_json(void);
/* If a fault matches path, consumes one use and copies it into *out (out->body malloc'd,
 * free with fault_release). Returns true on a match. */
bool faults_match(const char *path, struct fault *out);
void fault_release(struct fault *f);

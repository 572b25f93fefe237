/* SPDX-License-Identifier: MIT */
/* uidcount: open connections per peer uid (max_connections_per_uid). */
#include <stdlib.h>

#include "runtime/uidcount.h"

struct uidcount_entry {
	uid_t uid;
	uint64_t n;
	struct uidcount_entry *next;
};

static struct uidcount_entry **slot(struct uidcount *u, uid_t uid)
{
	struct uidcount_entry **pp = &u->buckets[uid % UIDCOUNT_BUCKETS];

	while (*pp && (*pp)->uid != uid)
		pp = &(*pp)->next;
	return pp;
}

bool uidcount_take(struct uidcount *u, uid_t uid, uint64_t max)
{
	struct uidcount_entry **pp = slot(u, uid);

	if (!*pp) {
		*pp = calloc(1, sizeof(**pp));
		if (!*pp)
			return false;
		(*pp)->uid = uid;
	}
	if ((*pp)->n >= max) {
		if ((*pp)->n == 0) {
			free(*pp);
			*pp = NULL;
		}
		return false;
	}
	(*pp)->n++;
	return true;
}

void uidcount_release(struct uidcount *u, uid_t uid)
{
	struct uidcount_entry **pp = slot(u, uid);
	struct uidcount_entry *e = *pp;

	if (!e)
		return;
	if (e->n > 0)
		e->n--;
	if (e->n == 0) {
		*pp = e->next;
		free(e);
	}
}

void uidcount_clear(struct uidcount *u)
{
	for (size_t i = 0; i < UIDCOUNT_BUCKETS; i++)
		while (u->buckets[i]) {
			struct uidcount_entry *e = u->buckets[i];
			u->buckets[i] = e->next;
			free(e);
		}
}

/* state: the emulator's persistent secrets in --state-dir: the Descope signing keys (newest
 * signs; all are published in the JWKS), the Skyflow service-account key pair (whose private
 * half goes to credentials.json) and the emulator's own key for the Skyflow tokens it issues.
 * Kept in DIR/state.json (mode 0600) so a restart keeps every key and id. Thread-safe. */
#pragma once

#include <jansson.h>
#include <pthread.h>
#include <time.h>

#include "keys.h"
#include "util.h"

struct emu_state {
	char *dir;
	pthread_rwlock_t lock;          /* guards descope[] and ndescope */
	struct emu_key *descope[EMU_MAX_KEYS];
	size_t ndescope;                /* descope[ndescope - 1] signs */
	struct emu_key *sa_key;         /* kid = keyID */
	char sa_key_id[33];
	time_t sa_valid_after, sa_valid_before;
	struct emu_key *issuer_key;     /* signs issued Skyflow tokens */
};

/* Loads DIR/state.json or creates fresh keys and writes it. *ret owned by caller. */
int state_open(const char *dir, struct emu_state **ret);
void state_free(struct emu_state *s);

/* Writes DIR/credentials.json (mode 0600) for this service account and token URI. */
int state_write_credentials(struct emu_state *s, const char *client_id, const char *client_name,
			    const char *token_uri);

/* JWKS document {"keys":[...]} of the current Descope keys; new reference. */
json_t *state_jwks(struct emu_state *s);
/* Signs claims with the newest Descope key (header alg, kid, typ). */
int state_descope_sign(struct emu_state *s, json_t *claims, char **ret);
/* Verifies a Descope-signed token: the kid from its header must be one of the current keys.
 * Returns 0, -EBADMSG, -EKEYREJECTED (bad signature or unknown kid). */
int state_descope_verify(struct emu_state *s, const char *token, json_t **claims);
/* Adds a new Descope key (which then signs); drop_old removes all others. Writes new kid
 * into kid_out. Persists. */
int state_descope_rotate(struct emu_state *s, int drop_old, char kid_out[static 64]);

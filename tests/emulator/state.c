#include "state.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define STATE_MAX_BYTES (1024 * 1024)

static int new_descope_kid(char kid[static 64])
{
	/* Descope kids look like "SK" + 27 alphanumerics (29 characters). */
	char rnd[28];
	int r = emu_random_alnum(rnd, 27);
	if (r < 0)
		return r;
	snprintf(kid, 64, "SK%s", rnd);
	return 0;
}

static int state_path(const struct emu_state *s, const char *name, char out[static PATH_MAX])
{
	if ((size_t)snprintf(out, PATH_MAX, "%s/%s", s->dir, name) >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* Caller holds the lock (read is enough). */
static int state_save(struct emu_state *s)
{
	char path[PATH_MAX];
	json_t *root, *keys;
	char *text;
	int r;

	r = state_path(s, "state.json", path);
	if (r < 0)
		return r;
	keys = json_array();
	for (size_t i = 0; i < s->ndescope; i++)
		json_array_append_new(keys, json_pack("{s:s, s:s}", "kid", s->descope[i]->kid, "pem",
						      s->descope[i]->priv_pem));
	root = json_pack("{s:o, s:{s:s, s:s, s:I, s:I}, s:{s:s, s:s}}", "descope_keys", keys,
			 "service_account_key", "key_id", s->sa_key_id, "pem", s->sa_key->priv_pem,
			 "valid_after", (json_int_t)s->sa_valid_after, "valid_before",
			 (json_int_t)s->sa_valid_before, "issuer_key", "kid", s->issuer_key->kid,
			 "pem", s->issuer_key->priv_pem);
	if (!root)
		return -ENOMEM;
	text = json_dumps(root, JSON_INDENT(1));
	json_decref(root);
	if (!text)
		return -ENOMEM;
	r = emu_write_file(path, text, strlen(text), 0600);
	emu_free_secret(text);
	return r;
}

static int state_load(struct emu_state *s, const char *text)
{
	json_t *root = json_loads(text, 0, NULL), *keys, *k;
	size_t i;
	int r = -EBADMSG;

	if (!root)
		return -EBADMSG;
	keys = json_object_get(root, "descope_keys");
	if (!json_is_array(keys) || json_array_size(keys) == 0 ||
	    json_array_size(keys) > EMU_MAX_KEYS)
		goto out;
	json_array_foreach(keys, i, k) {
		const char *kid = json_string_value(json_object_get(k, "kid"));
		const char *pem = json_string_value(json_object_get(k, "pem"));
		if (!kid || !pem)
			goto out;
		r = key_from_pem(pem, kid, &s->descope[s->ndescope]);
		if (r < 0)
			goto out;
		s->ndescope++;
	}
	json_t *sa = json_object_get(root, "service_account_key");
	const char *key_id = json_string_value(json_object_get(sa, "key_id"));
	const char *sa_pem = json_string_value(json_object_get(sa, "pem"));
	if (!key_id || strlen(key_id) != 32 || !sa_pem) {
		r = -EBADMSG;
		goto out;
	}
	snprintf(s->sa_key_id, sizeof(s->sa_key_id), "%s", key_id);
	s->sa_valid_after = (time_t)json_integer_value(json_object_get(sa, "valid_after"));
	s->sa_valid_before = (time_t)json_integer_value(json_object_get(sa, "valid_before"));
	r = key_from_pem(sa_pem, key_id, &s->sa_key);
	if (r < 0)
		goto out;
	json_t *iss = json_object_get(root, "issuer_key");
	const char *ikid = json_string_value(json_object_get(iss, "kid"));
	const char *ipem = json_string_value(json_object_get(iss, "pem"));
	if (!ikid || !ipem) {
		r = -EBADMSG;
		goto out;
	}
	r = key_from_pem(ipem, ikid, &s->issuer_key);
out:
	json_decref(root);
	return r;
}

static int state_create(struct emu_state *s)
{
	char kid[64];
	int r;

	r = new_descope_kid(kid);
	if (r < 0)
		return r;
	r = key_generate(kid, &s->descope[0]);
	if (r < 0)
		return r;
	s->ndescope = 1;
	r = emu_random_hex(s->sa_key_id, 32);
	if (r < 0)
		return r;
	r = key_generate(s->sa_key_id, &s->sa_key);
	if (r < 0)
		return r;
	s->sa_valid_after = time(NULL);
	s->sa_valid_before = s->sa_valid_after + 365L * 24 * 3600;
	char ikid[40];
	memcpy(ikid, "emu-", 4);
	r = emu_random_hex(ikid + 4, 16);
	if (r < 0)
		return r;
	r = key_generate(ikid, &s->issuer_key);
	if (r < 0)
		return r;
	return state_save(s);
}

void state_free(struct emu_state *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->ndescope; i++)
		key_free(s->descope[i]);
	key_free(s->sa_key);
	key_free(s->issuer_key);
	pthread_rwlock_destroy(&s->lock);
	free(s->dir);
	free(s);
}

int state_open(const char *dir, struct emu_state **ret)
{
	struct emu_state *s;
	char path[PATH_MAX], *text = NULL;
	int r;

	*ret = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_rwlock_init(&s->lock, NULL);
	s->dir = strdup(dir);
	if (!s->dir) {
		state_free(s);
		return -ENOMEM;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		log_err("cannot create state dir %s: %s", dir, strerror(-r));
		state_free(s);
		return r;
	}
	r = state_path(s, "state.json", path);
	if (r == 0)
		r = emu_read_file(path, STATE_MAX_BYTES, &text, NULL);
	if (r == 0) {
		r = state_load(s, text);
		emu_free_secret(text);
		if (r < 0)
			log_err("state file %s is corrupt; remove it to start fresh", path);
		else
			log_info("reloaded %zu Descope key(s) and the service-account key from %s",
				 s->ndescope, path);
	} else if (r == -ENOENT) {
		r = state_create(s);
		if (r < 0)
			log_err("cannot create state in %s: %s", dir, strerror(-r));
	} else {
		log_err("cannot read %s: %s", path, strerror(-r));
	}
	if (r < 0) {
		state_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

int state_write_credentials(struct emu_state *s, const char *client_id, const char *client_name,
			    const char *token_uri)
{
	char path[PATH_MAX], after[32], before[32];
	json_t *root;
	char *text;
	int r;

	r = state_path(s, "credentials.json", path);
	if (r < 0)
		return r;
	emu_iso8601(s->sa_valid_after, after);
	emu_iso8601(s->sa_valid_before, before);
	root = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "clientID", client_id,
			 "clientName", client_name, "tokenURI", token_uri, "keyID", s->sa_key_id,
			 "privateKey", s->sa_key->priv_pem, "keyValidAfterTime", after,
			 "keyValidBeforeTime", before, "keyAlgorithm", "KEY_ALG_RSA_2048");
	if (!root)
		return -ENOMEM;
	text = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	if (!text)
		return -ENOMEM;
	r = emu_write_file(path, text, strlen(text), 0600);
	emu_free_secret(text);
	return r;
}

json_t *state_jwks(struct emu_state *s)
{
	json_t *keys = json_array();

	pthread_rwlock_rdlock(&s->lock);
	/* newest first, as a rotated Descope JWKS lists the current key first */
	for (size_t i = s->ndescope; i-- > 0;)
		json_array_append_new(keys, key_jwk(s->descope[i]));
	pthread_rwlock_unlock(&s->lock);
	return json_pack("{s:o}", "keys", keys);
}

int state_descope_sign(struct emu_state *s, json_t *claims, char **ret)
{
	int r;

	pthread_rwlock_rdlock(&s->lock);
	r = jwt_sign_rs256(s->descope[s->ndescope - 1], 1, claims, ret);
	pthread_rwlock_unlock(&s->lock);
	return r;
}

int state_descope_verify(struct emu_state *s, const char *token, json_t **claims)
{
	json_t *header = NULL;
	const char *kid;
	int r;

	*claims = NULL;
	r = jwt_peek(token, &header, NULL);
	if (r < 0)
		return r;
	kid = json_string_value(json_object_get(header, "kid"));
	r = -EKEYREJECTED;
	pthread_rwlock_rdlock(&s->lock);
	for (size_t i = 0; kid && i < s->ndescope; i++)
		if (!strcmp(s->descope[i]->kid, kid)) {
			r = jwt_verify_rs256(token, s->descope[i], claims);
			break;
		}
	pthread_rwlock_unlock(&s->lock);
	json_decref(header);
	return r;
}

int state_descope_rotate(struct emu_state *s, int drop_old, char kid_out[static 64])
{
	struct emu_key *k;
	char kid[64];
	int r;

	r = new_descope_kid(kid);
	if (r < 0)
		return r;
	r = key_generate(kid, &k);
	if (r < 0)
		return r;
	pthread_rwlock_wrlock(&s->lock);
	if (drop_old) {
		for (size_t i = 0; i < s->ndescope; i++)
			key_free(s->descope[i]);
		s->ndescope = 0;
	} else if (s->ndescope == EMU_MAX_KEYS) {
		/* keep a bounded history, like Descope invalidating keys after 12 rotations */
		key_free(s->descope[0]);
		memmove(&s->descope[0], &s->descope[1], (EMU_MAX_KEYS - 1) * sizeof(s->descope[0]));
		s->ndescope--;
	}
	s->descope[s->ndescope++] = k;
	r = state_save(s);
	pthread_rwlock_unlock(&s->lock);
	snprintf(kid_out, 64, "%s", kid);
	return r;
}

/* SPDX-License-Identifier: MIT */
/* credentials: Skyflow service-account credentials.json, read from a private file and parsed. */
#include "tokens/credentials.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tokens/libcleanup.h"
#include "util/hash.h"
#include "util/jsonbound.h"
#include "util/log.h"
#include "util/secretfile.h"

struct credentials *credentials_free(struct credentials *c)
{
	if (!c)
		return NULL;
	EVP_PKEY_free(c->key); /* OpenSSL clears private numbers when freeing them */
	free(c->client_id);
	free(c->key_id);
	free(c->token_uri);
	explicit_bzero(c, sizeof(*c));
	free(c);
	return NULL;
}

/*
 * One field that may be spelled several ways. Returns the value (borrowed from obj), NULL
 * if absent; sets *dup when two spellings are present.
 */
static json_t *field(json_t *obj, const char *const *names, int *dup)
{
	json_t *found = NULL;

	for (; *names; names++) {
		json_t *v = json_object_get(obj, *names);

		if (!v)
			continue;
		if (found)
			*dup = 1;
		found = v;
	}
	return found;
}

static int string_field(json_t *obj, const char *const *names, char **ret, struct error_detail *err)
{
	int dup = 0;
	json_t *v = field(obj, names, &dup);

	if (dup)
		return error_detail_set(err, -EBADMSG, "credentials: '%s' is given twice",
				names[0]);
	if (!v)
		return error_detail_set(err, -EBADMSG, "credentials: '%s' is missing", names[0]);
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > CREDENTIALS_MAX_FIELD ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return error_detail_set(err, -EBADMSG,
				"credentials: '%s' is not a non-empty string", names[0]);
	*ret = strdup(json_string_value(v));
	return *ret ? 0 : -ENOMEM;
}

/* Never prompt for a pass phrase: an encrypted key is an error. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

/* The unencrypted PEM RSA private key (>= 2048 bits) of pem[0..len) into *ret (owned). */
static int parse_private_key(const char *pem, size_t len, EVP_PKEY **ret, struct error_detail *err)
{
	_cleanup_(BIO_freep) BIO *bio = BIO_new_mem_buf(pem, (int)len);
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
	unsigned long e;
	char ssl_error[256] = "";

	if (!bio)
		return -ENOMEM;
	key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	if (!key) {
		e = ERR_get_error();
		if (e)
			ERR_error_string_n(e, ssl_error, sizeof(ssl_error));
		ERR_clear_error();
		return error_detail_set(err, -EBADMSG,
				"credentials: privateKey is not an unencrypted PEM private key (%s)",
				ssl_error);
	}
	if (!EVP_PKEY_is_a(key, "RSA"))
		return error_detail_set(err, -EBADMSG,
				"credentials: privateKey is not an RSA key");
	if (EVP_PKEY_get_bits(key) < 2048)
		return error_detail_set(err, -EBADMSG,
				"credentials: privateKey is shorter than 2048 bits");
	*ret = TAKE_PTR(key);
	return 0;
}

/* The fingerprint of key's public half (DER SubjectPublicKeyInfo), or "unknown". */
static void key_fingerprint(EVP_PKEY *key, char out[static HASH_FINGERPRINT_LEN + 1])
{
	_cleanup_(openssl_freep) unsigned char *der = NULL;
	int n = i2d_PUBKEY(key, &der);

	if (n > 0)
		(void)hash_fingerprint(der, (size_t)n, out);
	else
		(void)snprintf(out, HASH_FINGERPRINT_LEN + 1, "unknown");
}

static const char *const names_private_key[] = { "privateKey", "private_key", NULL };

/* Frees a parsed credentials.json after wiping jansson's copies of the PEM text, under any
 * spelling: they are ours to wipe before they return to the heap. */
static void credentials_json_freep(json_t **p)
{
	if (!*p)
		return;
	for (const char *const *n = names_private_key; json_is_object(*p) && *n; n++) {
		json_t *v = json_object_get(*p, *n);

		if (json_is_string(v))
			explicit_bzero((char *)json_string_value(v), json_string_length(v));
	}
	json_decref(*p);
}

int credentials_parse(const char *text, size_t len, struct credentials **ret, struct error_detail *err)
{
	static const struct jsonbound_limits lim = { .max_size = CREDENTIALS_MAX_FILE,
						     .max_depth = 4 };
	static const char *const n_client[] = { "clientID", "clientId", "client_id", NULL };
	static const char *const n_key[] = { "keyID", "keyId", "key_id", NULL };
	static const char *const n_uri[] = { "tokenURI", "tokenUri", "token_uri", NULL };
	_cleanup_(credentials_json_freep) json_t *root = NULL;
	_cleanup_(credentials_freep) struct credentials *c = NULL;
	json_t *pk;
	int r, dup = 0;

	*ret = NULL;
	r = jsonbound_parse(text, len, &lim, &root, NULL);
	if (r < 0)
		return error_detail_set(err, r, "credentials: not a JSON document%s",
				r == -EMSGSIZE ? " within the size limits" : "");
	if (!json_is_object(root))
		return error_detail_set(err, -EBADMSG, "credentials: not a JSON object");
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	r = string_field(root, n_client, &c->client_id, err);
	if (r >= 0)
		r = string_field(root, n_key, &c->key_id, err);
	if (r >= 0)
		r = string_field(root, n_uri, &c->token_uri, err);
	if (r < 0)
		return r;
	pk = field(root, names_private_key, &dup);
	if (dup)
		return error_detail_set(err, -EBADMSG, "credentials: 'privateKey' is given twice");
	if (!json_is_string(pk) || json_string_length(pk) == 0)
		return error_detail_set(err, -EBADMSG, "credentials: 'privateKey' is missing");
	r = parse_private_key(json_string_value(pk), json_string_length(pk), &c->key, err);
	if (r < 0)
		return r;
	key_fingerprint(c->key, c->fingerprint);
	*ret = TAKE_PTR(c);
	return 0;
}

/* *ret gets path, or, when path is a bare name, credentials_dir/path written into joined. */
static int resolve_path(const char *path, const char *credentials_dir, char joined[static PATH_MAX],
			const char **ret, struct error_detail *err)
{
	if (!path || !*path)
		return error_detail_set(err, -EINVAL, "credentials: no file configured");
	*ret = path;
	if (strchr(path, '/'))
		return 0;
	if (!credentials_dir || !*credentials_dir)
		return error_detail_set(err, -ENOENT,
				"credentials: '%s' is a bare name but $CREDENTIALS_DIRECTORY is not set",
				path);
	if ((size_t)snprintf(joined, PATH_MAX, "%s/%s", credentials_dir, path) >= PATH_MAX)
		return error_detail_set(err, -ENAMETOOLONG, "credentials: path too long");
	*ret = joined;
	return 0;
}

/* Opens path (*ret, owned) after the file rule of credentials.h: a regular file of at most
 * CREDENTIALS_MAX_FILE bytes that passes secretfile_check for the user we run as, with
 * credentials_dir as the shared directory. */
static int open_checked(const char *path, const char *credentials_dir, int *ret, struct error_detail *err)
{
	_cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct error_detail rule = {0};
	struct stat st;
	int r;

	if (fd < 0)
		return error_detail_set(err, -errno, "credentials: cannot open %s: %s", path,
				strerror(errno));
	if (fstat(fd, &st) < 0)
		return error_detail_set(err, -errno, "credentials: cannot stat %s: %s", path,
				strerror(errno));
	if (!S_ISREG(st.st_mode))
		return error_detail_set(err, -EINVAL, "credentials: %s is not a regular file",
				path);
	/* the opened file's own status, and the directories of its path */
	r = secretfile_check(path, &st, geteuid(), credentials_dir, &secretfile_sys, &rule);
	if (r < 0)
		return error_detail_set(err, r, "credentials: %s", rule.message);
	if (st.st_size > (off_t)CREDENTIALS_MAX_FILE)
		return error_detail_set(err, -EMSGSIZE, "credentials: %s is larger than %u bytes",
				path, CREDENTIALS_MAX_FILE);
	*ret = fd;
	fd = -1;
	return 0;
}

/* A file's contents: a buffer locked in memory where RLIMIT_MEMLOCK allows, wiped when done. */
struct locked_buf {
	char *p; /* owned */
	size_t cap, len;
	bool locked;
};

static void locked_buf_done(struct locked_buf *b)
{
	if (!b->p)
		return;
	explicit_bzero(b->p, b->cap);
	if (b->locked)
		(void)munlock(b->p, b->cap);
	free(b->p);
}

/* Reads all of fd (path for messages), at most CREDENTIALS_MAX_FILE bytes, into b. */
static int read_locked(int fd, const char *path, struct locked_buf *b, struct error_detail *err)
{
	b->cap = CREDENTIALS_MAX_FILE + 1;
	b->p = malloc(b->cap);
	if (!b->p)
		return -ENOMEM;
	/* Best effort: a low RLIMIT_MEMLOCK only means the bytes may be swapped briefly. */
	b->locked = mlock(b->p, b->cap) == 0;
	for (;;) {
		ssize_t n = read(fd, b->p + b->len, b->cap - b->len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return error_detail_set(err, -errno, "credentials: cannot read %s: %s",
					path, strerror(errno));
		if (n == 0)
			return 0;
		b->len += (size_t)n;
		if (b->len >= b->cap)
			return error_detail_set(err, -EMSGSIZE,
					"credentials: %s is larger than %u bytes", path,
					CREDENTIALS_MAX_FILE);
	}
}

int credentials_load(const char *path, const char *credentials_dir, struct credentials **ret,
		     struct error_detail *err)
{
	_cleanup_(locked_buf_done) struct locked_buf buf = { 0 };
	_cleanup_(closep) int fd = -1;
	char joined[PATH_MAX];
	int r;

	*ret = NULL;
	if (!credentials_dir)
		credentials_dir = getenv("CREDENTIALS_DIRECTORY");
	r = resolve_path(path, credentials_dir, joined, &path, err);
	if (r < 0)
		return r;
	r = open_checked(path, credentials_dir, &fd, err);
	if (r < 0)
		return r;
	r = read_locked(fd, path, &buf, err);
	if (r < 0)
		return r;
	r = credentials_parse(buf.p, buf.len, ret, err);
	if (r < 0)
		return r;
	log_printf(LOG_INFO, "credentials loaded from %s: public key fingerprint %s", path,
		   (*ret)->fingerprint);
	return 0;
}

int credentials_path(const char *path, const char *credentials_dir, char buf[static PATH_MAX])
{
	char joined[PATH_MAX];
	const char *p;
	int r;

	if (!credentials_dir)
		credentials_dir = getenv("CREDENTIALS_DIRECTORY");
	r = resolve_path(path, credentials_dir, joined, &p, NULL);
	if (r < 0)
		return r;
	if ((size_t)snprintf(buf, PATH_MAX, "%s", p) >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

int credentials_secure_heap_init(size_t size)
{
	int r;

	if (CRYPTO_secure_malloc_initialized())
		return 1;
	r = CRYPTO_secure_malloc_init(size, 32);
	if (r == 1)
		return 1;
	if (r == 2)
		log_printf(LOG_WARNING,
		      "OpenSSL's secure heap (%zu bytes) could not be locked in memory (RLIMIT_MEMLOCK?); "
		      "private keys are kept out of core dumps but may be swapped",
		      size);
	else
		log_printf(LOG_WARNING, "OpenSSL's secure heap is unavailable; private keys stay in ordinary memory");
	return 0;
}

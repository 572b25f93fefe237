/* SPDX-License-Identifier: MIT */
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

#include "util/hash.h"
#include "util/log.h"
#include "util/jsonbound.h"

static int why_fail(char *why, size_t why_len, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int why_fail(char *why, size_t why_len, int r, const char *fmt, ...)
{
	va_list ap;

	if (why && why_len) {
		va_start(ap, fmt);
		(void)vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return r;
}

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

static int string_field(json_t *obj, const char *const *names, char **ret, char *why,
			size_t why_len)
{
	int dup = 0;
	json_t *v = field(obj, names, &dup);

	if (dup)
		return why_fail(why, why_len, -EBADMSG, "credentials: '%s' is given twice",
				names[0]);
	if (!v)
		return why_fail(why, why_len, -EBADMSG, "credentials: '%s' is missing", names[0]);
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > CREDENTIALS_MAX_FIELD ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return why_fail(why, why_len, -EBADMSG,
				"credentials: '%s' is not a non-empty string", names[0]);
	*ret = strdup(json_string_value(v));
	return *ret ? 0 : -ENOMEM;
}

/* Never prompt for a pass phrase: an encrypted key is an error. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

static int parse_private_key(const char *pem, size_t len, EVP_PKEY **ret, char *why,
			     size_t why_len)
{
	BIO *bio;
	EVP_PKEY *key;
	unsigned long e;
	char err[256] = "";

	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio)
		return -ENOMEM;
	key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (!key) {
		e = ERR_get_error();
		if (e)
			ERR_error_string_n(e, err, sizeof(err));
		ERR_clear_error();
		return why_fail(why, why_len, -EBADMSG,
				"credentials: privateKey is not an unencrypted PEM private key (%s)",
				err);
	}
	if (!EVP_PKEY_is_a(key, "RSA")) {
		EVP_PKEY_free(key);
		return why_fail(why, why_len, -EBADMSG, "credentials: privateKey is not an RSA key");
	}
	if (EVP_PKEY_get_bits(key) < 2048) {
		EVP_PKEY_free(key);
		return why_fail(why, why_len, -EBADMSG,
				"credentials: privateKey is shorter than 2048 bits");
	}
	*ret = key;
	return 0;
}

static void key_fingerprint(EVP_PKEY *key, char out[13])
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(key, &der);

	if (n > 0)
		(void)hash_fingerprint(der, (size_t)n, out);
	else
		(void)snprintf(out, 13, "unknown");
	OPENSSL_free(der);
}

int credentials_parse(const char *text, size_t len, struct credentials **ret, char *why,
		      size_t why_len)
{
	static const struct jsonbound_limits lim = { .max_size = CREDENTIALS_MAX_FILE,
						     .max_depth = 4 };
	static const char *const n_client[] = { "clientID", "clientId", "client_id", NULL };
	static const char *const n_key[] = { "keyID", "keyId", "key_id", NULL };
	static const char *const n_uri[] = { "tokenURI", "tokenUri", "token_uri", NULL };
	static const char *const n_pk[] = { "privateKey", "private_key", NULL };
	struct credentials *c = NULL;
	json_t *root = NULL, *pk;
	int r, dup = 0;

	*ret = NULL;
	r = jsonbound_parse(text, len, &lim, &root, NULL);
	if (r < 0)
		return why_fail(why, why_len, r, "credentials: not a JSON document%s",
				r == -EMSGSIZE ? " within the size limits" : "");
	if (!json_is_object(root)) {
		r = why_fail(why, why_len, -EBADMSG, "credentials: not a JSON object");
		goto out;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		r = -ENOMEM;
		goto out;
	}
	r = string_field(root, n_client, &c->client_id, why, why_len);
	if (r >= 0)
		r = string_field(root, n_key, &c->key_id, why, why_len);
	if (r >= 0)
		r = string_field(root, n_uri, &c->token_uri, why, why_len);
	if (r < 0)
		goto out;
	pk = field(root, n_pk, &dup);
	if (dup) {
		r = why_fail(why, why_len, -EBADMSG, "credentials: 'privateKey' is given twice");
		goto out;
	}
	if (!json_is_string(pk) || json_string_length(pk) == 0) {
		r = why_fail(why, why_len, -EBADMSG, "credentials: 'privateKey' is missing");
		goto out;
	}
	r = parse_private_key(json_string_value(pk), json_string_length(pk), &c->key, why,
			      why_len);
	if (r < 0)
		goto out;
	key_fingerprint(c->key, c->fingerprint);
	*ret = c;
	c = NULL;
	r = 0;
out:
	/* jansson's copy of the PEM text is ours to wipe before it returns to the heap. */
	pk = json_is_object(root) ? field(root, n_pk, &dup) : NULL;
	if (json_is_string(pk))
		explicit_bzero((char *)json_string_value(pk), json_string_length(pk));
	json_decref(root);
	credentials_free(c);
	return r;
}

/* Whether the real path of file lies inside the real path of dir. */
static int path_inside(const char *file, const char *dir)
{
	char rf[PATH_MAX], rd[PATH_MAX];
	size_t n;

	if (!dir || !*dir || !realpath(file, rf) || !realpath(dir, rd))
		return 0;
	n = strlen(rd);
	return strncmp(rf, rd, n) == 0 && (rf[n] == '/' || (n == 1 && rd[0] == '/'));
}

int credentials_load(const char *path, const char *credentials_dir, struct credentials **ret,
		     char *why, size_t why_len)
{
	char joined[PATH_MAX];
	struct stat st;
	char *buf = NULL;
	size_t got = 0, cap = 0;
	bool locked = false;
	int fd, r;

	*ret = NULL;
	if (!credentials_dir)
		credentials_dir = getenv("CREDENTIALS_DIRECTORY");
	if (!path || !*path)
		return why_fail(why, why_len, -EINVAL, "credentials: no file configured");
	if (!strchr(path, '/')) {
		if (!credentials_dir || !*credentials_dir)
			return why_fail(why, why_len, -ENOENT,
					"credentials: '%s' is a bare name but $CREDENTIALS_DIRECTORY is not set",
					path);
		if ((size_t)snprintf(joined, sizeof(joined), "%s/%s", credentials_dir, path) >=
		    sizeof(joined))
			return why_fail(why, why_len, -ENAMETOOLONG, "credentials: path too long");
		path = joined;
	}

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return why_fail(why, why_len, -errno, "credentials: cannot open %s: %s", path,
				strerror(errno));
	if (fstat(fd, &st) < 0) {
		r = why_fail(why, why_len, -errno, "credentials: cannot stat %s: %s", path,
			     strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = why_fail(why, why_len, -EINVAL, "credentials: %s is not a regular file", path);
		goto out;
	}
	if ((st.st_mode & 077) && !path_inside(path, credentials_dir)) {
		r = why_fail(why, why_len, -EACCES,
			     "credentials: %s is accessible by group or others (mode %04o); "
			     "chmod 600 it, or load it through $CREDENTIALS_DIRECTORY",
			     path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_size > (off_t)CREDENTIALS_MAX_FILE) {
		r = why_fail(why, why_len, -EMSGSIZE, "credentials: %s is larger than %u bytes",
			     path, CREDENTIALS_MAX_FILE);
		goto out;
	}
	cap = CREDENTIALS_MAX_FILE + 1;
	buf = malloc(cap);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	/* Best effort: a low RLIMIT_MEMLOCK only means the bytes may be swapped briefly. */
	locked = mlock(buf, cap) == 0;
	for (;;) {
		ssize_t n = read(fd, buf + got, cap - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = why_fail(why, why_len, -errno, "credentials: cannot read %s: %s", path,
				     strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got >= cap) {
			r = why_fail(why, why_len, -EMSGSIZE,
				     "credentials: %s is larger than %u bytes", path,
				     CREDENTIALS_MAX_FILE);
			goto out;
		}
	}
	r = credentials_parse(buf, got, ret, why, why_len);
	if (r >= 0)
		log_printf(LOG_INFO, "credentials loaded from %s: public key fingerprint %s", path,
		      (*ret)->fingerprint);
out:
	if (buf) {
		explicit_bzero(buf, cap);
		if (locked)
			(void)munlock(buf, cap);
		free(buf);
	}
	close(fd);
	return r;
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

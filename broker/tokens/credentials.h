/* SPDX-License-Identifier: MIT */
#pragma once

#include "util/error.h"

#include <limits.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "util/cleanup.h"
#include "util/hash.h"

/*
 * Skyflow service-account credentials (credentials.json, reference/skyflow-api.md §1.1).
 *
 * Field names: Skyflow's own (clientID, keyID, tokenURI, privateKey) and the aliases the SDKs
 * accept (clientId/client_id, keyId/key_id, tokenUri/token_uri, private_key); two spellings of
 * one field in one file are refused as ambiguous. The private key is a PEM RSA key (PKCS#8
 * "PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY", at least 2048 bits, never encrypted: there is
 * nobody to type a pass phrase).
 *
 * Secrets: the file is read into a buffer locked with mlock() where RLIMIT_MEMLOCK allows and
 * wiped after parsing, as is jansson's copy of the PEM text. The key itself lives in an
 * EVP_PKEY; with credentials_secure_heap_init() called at start-up, OpenSSL keeps private
 * key numbers in its secure heap (locked, excluded from core dumps, wiped on free).
 *
 * File rule: a regular file of at most CREDENTIALS_MAX_FILE bytes that passes
 * secretfile_check (util/secretfile.h) for the user the daemon runs as: owned by root or that
 * user, no access for group or others (read access allowed in $CREDENTIALS_DIRECTORY,
 * systemd LoadCredential=, whose files are the service's own by construction), and every
 * directory above it owned by root or that user and writable by nobody else.
 */

#define CREDENTIALS_MAX_FILE (64u * 1024u)
#define CREDENTIALS_MAX_FIELD 2048u

struct credentials {
	char *client_id;  /* owned */
	char *key_id;     /* owned */
	char *token_uri;  /* owned */
	EVP_PKEY *key;    /* owned RSA private key */
	char fingerprint[HASH_FINGERPRINT_LEN + 1]; /* hash_fingerprint of the DER public key,
						     * safe to log */
};

/*
 * Parses credentials.json text. err (may be NULL) gets a reason without secret content.
 * Returns 0, -EBADMSG (missing/mistyped field, bad key), -EMSGSIZE, -ENOMEM.
 * *ret is owned by the caller (credentials_free).
 */
int credentials_parse(const char *text, size_t len, struct credentials **ret, struct error_detail *err);

/*
 * Loads a file. path may be a bare name, looked up in credentials_dir. credentials_dir is the
 * value of $CREDENTIALS_DIRECTORY (pass NULL to read the environment; "" for none).
 * Returns what credentials_parse returns, plus -EACCES (the file rule), -ENOENT, -errno of
 * open or of a lookup of a directory above the file.
 */
int credentials_load(const char *path, const char *credentials_dir, struct credentials **ret,
		     struct error_detail *err);

/*
 * The file credentials_load(path, credentials_dir) opens, into buf: path itself when it holds
 * a '/', else credentials_dir/path (NULL reads $CREDENTIALS_DIRECTORY). Returns 0, -EINVAL
 * (no path), -ENOENT (a bare name and no directory), -ENAMETOOLONG.
 */
int credentials_path(const char *path, const char *credentials_dir, char buf[static PATH_MAX]);

/* Wipes and frees. NULL is fine. Returns NULL. */
struct credentials *credentials_free(struct credentials *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct credentials *, credentials_free)

/*
 * Initialises OpenSSL's secure heap (size bytes, a power of two) so that private keys live in
 * locked memory, excluded from core dumps. Size it generously: OpenSSL also takes TLS
 * ephemeral keys from it, and an exhausted secure heap makes allocations fail (1 MiB holds
 * thousands). Returns 1 when active and locked, 0 otherwise (a warning is logged; when only
 * the lock failed the heap still works), never fails hard. Call before any key is loaded.
 */
int credentials_secure_heap_init(size_t size);

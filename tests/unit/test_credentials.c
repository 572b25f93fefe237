/* SPDX-License-Identifier: MIT */
/* credentials.json: field names and aliases, key formats, file permission rule, size bound. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/crypto.h>

#include "tokens/credentials.h"
#include "util/log.h"
#include "util/jsonalloc.h"
#include "testjwt.h"

static EVP_PKEY *rsa_key, *ec_key, *rsa_small;
static char *pkcs8, *pkcs1;
static char dir[64], creddir[128];

static int setup(void **state)
{
	jsonalloc_init(); /* as the daemon does */
	log_set_max_level(LOG_WARNING);
	rsa_key = tj_rsa(2048);
	ec_key = tj_ec();
	rsa_small = tj_rsa(1024);
	pkcs8 = tj_private_pem(rsa_key, 0);
	pkcs1 = tj_private_pem(rsa_key, 1);
	snprintf(dir, sizeof(dir), "/tmp/unit_credentials.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(creddir, sizeof(creddir), "%s/creds", dir);
	assert_int_equal(mkdir(creddir, 0700), 0);
	return 0;
}

static int teardown(void **state)
{
	char cmd[256];

	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(ec_key);
	EVP_PKEY_free(rsa_small);
	free(pkcs8);
	free(pkcs1);
	/* Remove what the tests created (known names only). */
	static const char *const names[] = {
		"a.json", "open.json", "big.json", "link.json", "creds/b.json", "creds/open.json",
		"creds/link.json", "creds", "d-ok/sa.json", "d-ok/other.json", "d-ok",
		"d-open/sa.json", "d-open/inner/sa.json", "d-open/inner", "d-open",
		"d-sticky/sa.json", "d-sticky/inner/sa.json", "d-sticky/inner", "d-sticky",
		"d-foreign/sa.json", "d-foreign", "d-creds/sa.json", "d-creds",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(cmd, sizeof(cmd), "%s/%s", dir, names[i]);
		(void)unlink(cmd);
		(void)rmdir(cmd);
	}
	(void)rmdir(dir);
	return 0;
}

static char *doc(const char *client_name, const char *key_name, const char *uri_name,
		 const char *pk_name, const char *pem)
{
	json_t *j = json_object();
	char *s;

	if (client_name)
		json_object_set_new(j, client_name, json_string("c0ffee"));
	if (key_name)
		json_object_set_new(j, key_name, json_string("k3y"));
	if (uri_name)
		json_object_set_new(j, uri_name,
				    json_string("https://manage.example/v1/auth/sa/oauth/token"));
	if (pk_name)
		json_object_set_new(j, pk_name, json_string(pem));
	json_object_set_new(j, "clientName", json_string("Service Account"));
	json_object_set_new(j, "keyAlgorithm", json_string("KEY_ALG_RSA_2048"));
	s = json_dumps(j, JSON_INDENT(2));
	json_decref(j);
	return s;
}

static int parse(const char *text, struct credentials **c)
{
	struct error_detail why_e = {0};
	const char *why = why_e.message;
	int r = credentials_parse(text, strlen(text), c, &why_e);

	if (r < 0) {
		assert_true(why[0] != '\0');
		/* No secret in the reason. */
		assert_null(strstr(why, "BEGIN"));
		assert_null(strstr(why, "MII"));
	}
	return r;
}

static void test_skyflow_names_and_aliases(void **state)
{
	static const char *const sets[][4] = {
		{ "clientID", "keyID", "tokenURI", "privateKey" },
		{ "clientId", "keyId", "tokenUri", "privateKey" },
		{ "client_id", "key_id", "token_uri", "private_key" },
	};

	for (size_t i = 0; i < 3; i++) {
		char *text = doc(sets[i][0], sets[i][1], sets[i][2], sets[i][3], pkcs8);
		struct credentials *c = NULL;

		assert_int_equal(parse(text, &c), 0);
		assert_string_equal(c->client_id, "c0ffee");
		assert_string_equal(c->key_id, "k3y");
		assert_string_equal(c->token_uri, "https://manage.example/v1/auth/sa/oauth/token");
		assert_true(EVP_PKEY_is_a(c->key, "RSA"));
		assert_int_equal(EVP_PKEY_eq(c->key, rsa_key), 1);
		assert_int_equal(strlen(c->fingerprint), 12);
		credentials_free(c);
		free(text);
	}
}

static void test_pkcs1(void **state)
{
	char *text = doc("clientID", "keyID", "tokenURI", "privateKey", pkcs1);
	struct credentials *c = NULL;

	assert_non_null(strstr(pkcs1, "BEGIN RSA PRIVATE KEY"));
	assert_int_equal(parse(text, &c), 0);
	assert_int_equal(EVP_PKEY_eq(c->key, rsa_key), 1);
	credentials_free(c);
	free(text);
}

static void test_refusals(void **state)
{
	struct credentials *c = NULL;
	char *ec_pem = tj_private_pem(ec_key, 0), *small_pem = tj_private_pem(rsa_small, 0);
	char *text, *enc_pem;
	size_t pl;
	char *pub = tj_public_pem(rsa_key, &pl);

	/* Each required field missing. */
	text = doc(NULL, "keyID", "tokenURI", "privateKey", pkcs8);
	assert_int_equal(parse(text, &c), -EBADMSG);
	free(text);
	text = doc("clientID", NULL, "tokenURI", "privateKey", pkcs8);
	assert_int_equal(parse(text, &c), -EBADMSG);
	free(text);
	text = doc("clientID", "keyID", NULL, "privateKey", pkcs8);
	assert_int_equal(parse(text, &c), -EBADMSG);
	free(text);
	text = doc("clientID", "keyID", "tokenURI", NULL, pkcs8);
	assert_int_equal(parse(text, &c), -EBADMSG);
	free(text);
	/* Wrong key kinds. */
	text = doc("clientID", "keyID", "tokenURI", "privateKey", ec_pem);
	assert_int_equal(parse(text, &c), -EBADMSG);
	free(text);
	text = doc("clientID", "keyID", "tokenURI", "privateKey", small_pem);
	assert_int_equal(parse(text, &c), -EBADMSG);
	free(text);
	text = doc("clientID", "keyID", "tokenURI", "privateKey", pub);
	assert_int_equal(parse(text, &c), -EBADMSG);
	free(text);
	text = doc("clientID", "keyID", "tokenURI", "privateKey", "not a pem");
	assert_int_equal(parse(text, &c), -EBADMSG);
	free(text);
	/* An encrypted key is refused (and never prompts). */
	{
		BIO *b = BIO_new(BIO_s_mem());
		char *data;
		long n;

		PEM_write_bio_PKCS8PrivateKey(b, rsa_key, EVP_aes_128_cbc(), "pw", 2, NULL, NULL);
		n = BIO_get_mem_data(b, &data);
		enc_pem = strndup(data, (size_t)n);
		BIO_free(b);
	}
	text = doc("clientID", "keyID", "tokenURI", "privateKey", enc_pem);
	assert_int_equal(parse(text, &c), -EBADMSG);
	free(text);
	free(enc_pem);
	/* Two spellings of one field are ambiguous. */
	text = doc("clientID", "keyID", "tokenURI", "privateKey", pkcs8);
	{
		json_t *j = json_loads(text, 0, NULL);

		json_object_set_new(j, "client_id", json_string("other"));
		free(text);
		text = json_dumps(j, 0);
		json_decref(j);
	}
	assert_int_equal(parse(text, &c), -EBADMSG);
	free(text);
	/* Not JSON / not an object / wrong types. */
	assert_int_equal(parse("garbage", &c), -EBADMSG);
	assert_int_equal(parse("[1]", &c), -EBADMSG);
	assert_int_equal(parse("{\"clientID\":1,\"keyID\":\"k\",\"tokenURI\":\"u\",\"privateKey\":\"p\"}",
			       &c), -EBADMSG);
	assert_null(c);
	free(ec_pem);
	free(small_pem);
	free(pub);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_file_permissions(void **state)
{
	char *text = doc("clientID", "keyID", "tokenURI", "privateKey", pkcs8);
	char path[256];
	struct error_detail why_e = {0};
	const char *why = why_e.message;
	struct credentials *c = NULL;

	snprintf(path, sizeof(path), "%s/a.json", dir);
	write_file(path, text, 0600);
	assert_int_equal(credentials_load(path, "", &c, &why_e), 0);
	c = credentials_free(c);
	write_file(path, text, 0400);
	assert_int_equal(credentials_load(path, "", &c, &why_e), 0);
	c = credentials_free(c);

	snprintf(path, sizeof(path), "%s/open.json", dir);
	write_file(path, text, 0640);
	assert_int_equal(credentials_load(path, "", &c, &why_e), -EACCES);
	assert_non_null(strstr(why, "group or others"));
	write_file(path, text, 0604);
	assert_int_equal(credentials_load(path, "", &c, &why_e), -EACCES);
	/* Not even when a credentials directory exists elsewhere. */
	assert_int_equal(credentials_load(path, creddir, &c, &why_e), -EACCES);

	/* Inside $CREDENTIALS_DIRECTORY the mode is systemd's business. */
	snprintf(path, sizeof(path), "%s/open.json", creddir);
	write_file(path, text, 0644);
	assert_int_equal(credentials_load(path, creddir, &c, &why_e), 0);
	c = credentials_free(c);
	/* A bare name resolves inside it. */
	assert_int_equal(credentials_load("open.json", creddir, &c, &why_e), 0);
	c = credentials_free(c);
	assert_int_equal(credentials_load("open.json", "", &c, &why_e), -ENOENT);
	/* A symlink in the directory that points outside does not inherit its trust. */
	{
		char target[256];

		snprintf(target, sizeof(target), "%s/open.json", dir);
		snprintf(path, sizeof(path), "%s/link.json", creddir);
		assert_int_equal(symlink(target, path), 0);
		assert_int_equal(credentials_load(path, creddir, &c, &why_e), -EACCES);
	}
	/* Missing file, directory. */
	snprintf(path, sizeof(path), "%s/missing.json", dir);
	assert_int_equal(credentials_load(path, "", &c, &why_e), -ENOENT);
	assert_int_equal(credentials_load(dir, "", &c, &why_e), -EINVAL);
	assert_null(c);
	free(text);
}

/* A directory dir/rel with mode and owner (made if missing). */
static void dir_as(const char *rel, mode_t mode, uid_t uid)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (mkdir(path, 0700) < 0)
		assert_int_equal(errno, EEXIST);
	assert_int_equal(chown(path, uid, 0), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* credentials_load of dir/rel (written with text, mode and owner uid) with creddir_arg. */
static int load_as(const char *rel, const char *text, mode_t mode, uid_t uid,
		   const char *creddir_arg, struct error_detail *why_e)
{
	struct credentials *c = NULL;
	char path[256];
	int r;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	write_file(path, text, 0600);
	assert_int_equal(chown(path, uid, 0), 0);
	assert_int_equal(chmod(path, mode), 0);
	r = credentials_load(path, creddir_arg, &c, why_e);
	credentials_free(c);
	return r;
}

/* The rule of credentials.h: owner, and the directories above (issue 9: only the mode was
 * checked, so each refusal below used to load). */
static void test_file_owner_and_directories(void **state)
{
	char *text = doc("clientID", "keyID", "tokenURI", "privateKey", pkcs8);
	char sub[128];
	struct error_detail why_e = {0};
	const char *why = why_e.message;

	if (geteuid() != 0)
		skip(); /* chown */
	dir_as("d-ok", 0700, 0);
	assert_int_equal(load_as("d-ok/sa.json", text, 0600, 0, "", &why_e), 0);
	assert_int_equal(load_as("d-ok/other.json", text, 0600, 12345, "", &why_e),
			 -EACCES);
	assert_non_null(strstr(why, "is owned by uid 12345, neither root nor the daemon's user"));
	dir_as("d-open", 0777, 0);
	assert_int_equal(load_as("d-open/sa.json", text, 0600, 0, "", &why_e), -EACCES);
	assert_non_null(strstr(why, "d-open is writable by group or others (mode 0777)"));
	dir_as("d-sticky", 01777, 0);
	assert_int_equal(load_as("d-sticky/sa.json", text, 0600, 0, "", &why_e), -EACCES);
	assert_non_null(strstr(why, "d-sticky is writable by group or others (mode 1777)"));
	dir_as("d-foreign", 0700, 12345);
	assert_int_equal(load_as("d-foreign/sa.json", text, 0600, 0, "", &why_e), -EACCES);
	assert_non_null(strstr(why, "d-foreign is owned by uid 12345"));
	dir_as("d-open/inner", 0700, 0);
	assert_int_equal(load_as("d-open/inner/sa.json", text, 0600, 0, "", &why_e),
			 -EACCES);
	assert_non_null(strstr(why, "d-open is writable by group or others"));
	dir_as("d-sticky/inner", 0700, 0); /* a root-owned sticky directory further up: fine */
	assert_int_equal(load_as("d-sticky/inner/sa.json", text, 0600, 0, "", &why_e), 0);

	/* $CREDENTIALS_DIRECTORY: group read allowed, write and other owners are not */
	snprintf(sub, sizeof(sub), "%s/d-creds", dir);
	dir_as("d-creds", 0500, 0);
	assert_int_equal(load_as("d-creds/sa.json", text, 0440, 0, sub, &why_e), 0);
	assert_int_equal(load_as("d-creds/sa.json", text, 0620, 0, sub, &why_e), -EACCES);
	assert_non_null(strstr(why, "is writable by group or others (mode 0620)"));
	assert_int_equal(load_as("d-creds/sa.json", text, 0400, 12345, sub, &why_e),
			 -EACCES);
	dir_as("d-creds", 0777, 0);
	assert_int_equal(load_as("d-creds/sa.json", text, 0400, 0, sub, &why_e), -EACCES);
	assert_non_null(strstr(why, "d-creds is writable by group or others (mode 0777)"));
	free(text);
}

/* A symbolic link on the path owned by someone else: in a sticky directory they may replace
 * their own link at any time and point it at another file (review of issue 9: the link's
 * owner was never looked at, since stat follows it). */
static void test_foreign_link_refused(void **state)
{
	char *text = doc("clientID", "keyID", "tokenURI", "privateKey", pkcs8);
	char target[512], link[300], file_link[600];
	struct error_detail why = {0};
	struct credentials *c = NULL;

	if (geteuid() != 0)
		skip(); /* chown */
	dir_as("d-links", 01777, 0);   /* a root-owned sticky directory, like /tmp */
	dir_as("d-private", 0700, 0);
	assert_int_equal(load_as("d-private/sa.json", text, 0600, 0, "", &why), 0);
	snprintf(target, sizeof(target), "%s/d-private", dir);
	snprintf(link, sizeof(link), "%s/d-links/L", dir);
	(void)unlink(link);
	assert_int_equal(symlink(target, link), 0);
	/* a link to a good directory, owned by root: fine */
	snprintf(file_link, sizeof(file_link), "%s/sa.json", link);
	assert_int_equal(credentials_load(file_link, "", &c, &why), 0);
	c = credentials_free(c);
	/* the same link owned by another user: refused, whatever it points at */
	assert_int_equal(lchown(link, 12345, 0), 0);
	assert_int_equal(credentials_load(file_link, "", &c, &why), -EACCES);
	assert_non_null(strstr(why.message, "symbolic link"));
	assert_non_null(strstr(why.message, "is owned by uid 12345"));
	/* a link as the file's own name, owned by another user */
	snprintf(file_link, sizeof(file_link), "%s/d-links/sa.json", dir);
	snprintf(target, sizeof(target), "%s/d-private/sa.json", dir);
	(void)unlink(file_link);
	assert_int_equal(symlink(target, file_link), 0);
	assert_int_equal(lchown(file_link, 12345, 0), 0);
	assert_int_equal(credentials_load(file_link, "", &c, &why), -EACCES);
	assert_non_null(strstr(why.message, "symbolic link"));
	free(text);
}

static void test_file_size_bound(void **state)
{
	char path[256];
	struct error_detail why_e = {0};
	struct credentials *c = NULL;
	char *big = malloc(CREDENTIALS_MAX_FILE + 10);

	memset(big, ' ', CREDENTIALS_MAX_FILE + 9);
	big[0] = '{';
	big[CREDENTIALS_MAX_FILE + 8] = '}';
	big[CREDENTIALS_MAX_FILE + 9] = '\0';
	snprintf(path, sizeof(path), "%s/big.json", dir);
	write_file(path, big, 0600);
	assert_int_equal(credentials_load(path, "", &c, &why_e), -EMSGSIZE);
	free(big);
}

static void test_secure_heap(void **state)
{
	/* Either active or a logged warning; never fatal. */
	int r = credentials_secure_heap_init(64 * 1024);

	assert_true(r == 0 || r == 1);
	if (r == 1) {
		char *text = doc("clientID", "keyID", "tokenURI", "privateKey", pkcs8);
		struct credentials *c = NULL;

		size_t before = CRYPTO_secure_used();

		assert_int_equal(parse(text, &c), 0);
		/* The private numbers went to the locked heap, and come back when freed. */
		assert_true(CRYPTO_secure_used() > before);
		credentials_free(c);
		assert_int_equal(CRYPTO_secure_used(), before);
		free(text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_skyflow_names_and_aliases),
		cmocka_unit_test(test_pkcs1),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_file_permissions),
		cmocka_unit_test(test_file_owner_and_directories),
		cmocka_unit_test(test_foreign_link_refused),
		cmocka_unit_test(test_file_size_bound),
		cmocka_unit_test(test_secure_heap),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

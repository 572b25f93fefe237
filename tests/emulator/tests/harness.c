#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stddef.h>
#include <cmocka.h>

#include "util.h"

extern char **environ;
static CURL *shared_curl;
bool harness_fresh_connect;

static int run_wait(char *const argv[])
{
	pid_t pid;
	int st;

	if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0)
		return -1;
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int harness_init(struct emu_proc *e)
{
	const char *tmp = getenv("TMPDIR");
	char *argv[4];

	memset(e, 0, sizeof(*e));
	e->pid = -1;
	snprintf(e->dir, sizeof(e->dir), "%s/skyemu-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(e->dir))
		return -1;
	snprintf(e->state_dir, sizeof(e->state_dir), "%s/state", e->dir);
	char tls[1100];
	snprintf(tls, sizeof(tls), "%s/tls", e->dir);
	snprintf(e->ca, sizeof(e->ca), "%s/ca.pem", tls);
	argv[0] = (char *)"/bin/sh";
	argv[1] = (char *)MKCA_SH;
	argv[2] = tls;
	argv[3] = NULL;
	if (run_wait(argv) != 0) {
		fprintf(stderr, "harness: mkca.sh failed\n");
		return -1;
	}
	return 0;
}

static void parse_ready(struct emu_proc *e, const char *line)
{
	const char *p;
	if ((p = strstr(line, "url=")))
		sscanf(p, "url=%127s", e->url);
	if ((p = strstr(line, "vault_id=")))
		sscanf(p, "vault_id=%63s", e->vault_id);
	if ((p = strstr(line, "project_id=")))
		sscanf(p, "project_id=%63s", e->project_id);
}

int harness_spawn(struct emu_proc *e, const char *config)
{
	posix_spawn_file_actions_t fa;
	char cert[PATH_MAX], key[PATH_MAX], buf[4096];
	char *argv[16];
	int pfd[2], n = 0;
	size_t have = 0;
	bool ready = false;

	snprintf(cert, sizeof(cert), "%s/tls/server.pem", e->dir);
	snprintf(key, sizeof(key), "%s/tls/server.key", e->dir);
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	argv[n++] = (char *)EMULATOR_BIN;
	argv[n++] = (char *)"--config";
	argv[n++] = (char *)(config ? config : DEMO_JSON);
	argv[n++] = (char *)"--listen";
	argv[n++] = (char *)"127.0.0.1:0";
	argv[n++] = (char *)"--state-dir";
	argv[n++] = e->state_dir;
	if (!e->plain_http) {
		argv[n++] = (char *)"--tls-cert";
		argv[n++] = cert;
		argv[n++] = (char *)"--tls-key";
		argv[n++] = key;
	}
	argv[n] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], STDOUT_FILENO);
	if (posix_spawn(&e->pid, argv[0], &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	/* read stdout until the ready line, 30 s at most (key generation under ASan) */
	for (int waited = 0; waited < 300 && !ready;) {
		struct pollfd p = {pfd[0], POLLIN, 0};
		int r = poll(&p, 1, 100);
		if (r == 0) {
			waited++;
			continue;
		}
		ssize_t k = read(pfd[0], buf + have, sizeof(buf) - 1 - have);
		if (k <= 0)
			break;
		have += (size_t)k;
		buf[have] = '\0';
		char *line = strstr(buf, "ready ");
		if (line && strchr(line, '\n')) {
			parse_ready(e, line);
			ready = true;
		}
	}
	close(pfd[0]);
	if (!ready) {
		fprintf(stderr, "harness: emulator did not become ready\n");
		harness_kill(e);
		return -1;
	}
	const char *colon = strrchr(e->url, ':');
	e->port = colon ? (unsigned)strtoul(colon + 1, NULL, 10) : 0;
	snprintf(e->vault_path, sizeof(e->vault_path), "/v1/vaults/%s", e->vault_id);
	/* the service account id comes from credentials.json */
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/credentials.json", e->state_dir);
	json_t *cred = json_load_file(path, 0, NULL);
	if (cred) {
		snprintf(e->sa_id, sizeof(e->sa_id), "%s",
			 json_string_value(json_object_get(cred, "clientID")));
		json_decref(cred);
	}
	return 0;
}

int harness_kill(struct emu_proc *e)
{
	int st = 0;

	if (e->pid <= 0)
		return 0;
	kill(e->pid, SIGTERM);
	if (waitpid(e->pid, &st, 0) < 0)
		return -1;
	e->pid = -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	fprintf(stderr, "harness: emulator died with signal %d\n", WTERMSIG(st));
	return 128 + WTERMSIG(st);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

void harness_cleanup(struct emu_proc *e)
{
	if (e->dir[0])
		nftw(e->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	e->dir[0] = '\0';
	if (shared_curl) {
		curl_easy_cleanup(shared_curl);
		shared_curl = NULL;
	}
}

int harness_start(struct emu_proc *e)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (harness_init(e) < 0)
		return -1;
	if (harness_spawn(e, NULL) < 0) {
		harness_cleanup(e);
		return -1;
	}
	return 0;
}

int harness_stop(struct emu_proc *e)
{
	int st = harness_kill(e);
	harness_cleanup(e);
	return st;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct sbuf *b = ud;
	return sbuf_append(b, ptr, size * nmemb) < 0 ? 0 : size * nmemb;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct http_resp *r = ud;
	size_t n = size * nmemb;
	char line[256];

	if (n >= sizeof(line))
		return n;
	memcpy(line, ptr, n);
	line[n] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (!strncasecmp(line, "X-Request-ID: ", 14))
		/* truncated to the field, on purpose */
		snprintf(r->request_id, sizeof(r->request_id), "%.*s",
			 (int)sizeof(r->request_id) - 1, line + 14);
	else if (!strncasecmp(line, "Content-Type: ", 14))
		snprintf(r->content_type, sizeof(r->content_type), "%.*s",
			 (int)sizeof(r->content_type) - 1, line + 14);
	return n;
}

const char *harness_extra_header;

CURLcode http_req(struct emu_proc *e, const char *method, const char *path, const char *bearer,
		  const char *content_type, const char *body, struct http_resp *out)
{
	struct curl_slist *hdrs = NULL;
	struct sbuf b;
	char url[4096], h[EMU_MAX_TOKEN_LEN + 64];
	CURL *c;

	memset(out, 0, sizeof(*out));
	if (!shared_curl)
		shared_curl = curl_easy_init();
	c = shared_curl;
	curl_easy_reset(c);
	sbuf_init(&b, 64 * 1024 * 1024);
	snprintf(url, sizeof(url), "%s%s", e->url, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, e->ca);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	if (harness_fresh_connect)
		curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
	if (bearer) {
		snprintf(h, sizeof(h), "Authorization: Bearer %s", bearer);
		hdrs = curl_slist_append(hdrs, h);
	}
	if (content_type) {
		snprintf(h, sizeof(h), "Content-Type: %s", content_type);
		hdrs = curl_slist_append(hdrs, h);
	}
	if (harness_extra_header)
		hdrs = curl_slist_append(hdrs, harness_extra_header);
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	if (!strcmp(method, "GET"))
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	out->rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &out->seconds);
	curl_slist_free_all(hdrs);
	out->len = b.len;
	out->body = sbuf_steal(&b);
	return out->rc;
}

void http_resp_free(struct http_resp *r)
{
	free(r->body);
	r->body = NULL;
}

json_t *http_json(struct emu_proc *e, const char *method, const char *path, const char *bearer,
		  json_t *body, long *status)
{
	struct http_resp r;
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_t *j = NULL;

	http_req(e, method, path, bearer, body ? "application/json" : NULL, text, &r);
	free(text);
	if (status)
		*status = r.rc == CURLE_OK ? r.status : -1;
	if (r.rc == CURLE_OK) {
		/* every response carries a UUID request id */
		assert_int_equal(strlen(r.request_id), 36);
		j = json_loadb(r.body, r.len, 0, NULL);
	}
	http_resp_free(&r);
	return j;
}

char *mint_descope(struct emu_proc *e, json_t *spec)
{
	long st;
	json_t *j = http_json(e, "POST", "/emulator/descope/token", NULL, spec, &st);
	char *tok = NULL;

	if (st == 200 && json_string_value(json_object_get(j, "token")))
		tok = strdup(json_string_value(json_object_get(j, "token")));
	json_decref(j);
	return tok;
}

json_t *sts_exchange(struct emu_proc *e, const char *subject, const char *sa_id, long *status)
{
	json_t *body = json_pack("{s:s, s:s, s:s}", "grant_type",
				 "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token",
				 subject, "subject_token_type", "urn:ietf:params:oauth:token-type:jwt");
	json_t *j;

	if (sa_id)
		json_object_set_new(body, "service_account_id", json_string(sa_id));
	j = http_json(e, "POST", "/v1/auth/sts/token", NULL, body, status);
	json_decref(body);
	return j;
}

char *sts_token_for(struct emu_proc *e, const char *role, ...)
{
	json_t *roles = json_array(), *spec, *j;
	va_list ap;
	char *subject, *tok = NULL;
	long st;

	va_start(ap, role);
	for (const char *r = role; r; r = va_arg(ap, const char *))
		json_array_append_new(roles, json_string(r));
	va_end(ap);
	spec = json_pack("{s:s, s:o}", "sub", "U2testuser000000000000000001", "roles", roles);
	subject = mint_descope(e, spec);
	json_decref(spec);
	if (!subject)
		return NULL;
	j = sts_exchange(e, subject, e->sa_id, &st);
	if (st == 200 && json_string_value(json_object_get(j, "accessToken")))
		tok = strdup(json_string_value(json_object_get(j, "accessToken")));
	json_decref(j);
	free(subject);
	return tok;
}

const char *assert_skyflow_error(json_t *j, long status)
{
	json_t *err;

	assert_non_null(j);
	err = json_object_get(j, "error");
	assert_true(json_is_object(err));
	assert_int_equal(json_integer_value(json_object_get(err, "http_code")), status);
	assert_true(json_is_integer(json_object_get(err, "grpc_code")));
	assert_true(json_is_string(json_object_get(err, "http_status")));
	assert_true(json_is_string(json_object_get(err, "message")));
	assert_true(json_is_array(json_object_get(err, "details")));
	return json_string_value(json_object_get(err, "message"));
}

static json_t *jwt_part(const char *token, int which)
{
	const char *d1 = strchr(token, '.');
	const char *start = which == 0 ? token : d1 ? d1 + 1 : NULL;
	const char *end = start ? strchr(start, '.') : NULL;
	uint8_t *raw;
	size_t len;
	json_t *j;

	if (!end)
		return NULL;
	if (b64url_decode(start, (size_t)(end - start), 65536, &raw, &len) < 0)
		return NULL;
	j = json_loadb((const char *)raw, len, 0, NULL);
	free(raw);
	return j;
}

json_t *jwt_payload(const char *token)
{
	return jwt_part(token, 1);
}

json_t *jwt_header(const char *token)
{
	return jwt_part(token, 0);
}

static uint64_t rnd_state;

uint64_t test_seed(void)
{
	const char *s = getenv("EMU_TEST_SEED");
	uint64_t seed = 0;

	if (s && *s)
		seed = strtoull(s, NULL, 0);
	else if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)time(NULL);
	if (!seed)
		seed = 1;
	fprintf(stderr, "random seed: EMU_TEST_SEED=%llu\n", (unsigned long long)seed);
	rnd_state = seed;
	return seed;
}

/* xorshift64*: reproducible from the printed seed */
uint64_t rnd_next(void)
{
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return rnd_state * 2685821657736338717ULL;
}

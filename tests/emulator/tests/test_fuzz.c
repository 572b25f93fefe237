/* emulator_fuzz_http: thousands of random requests (methods, paths, query strings, headers,
 * bodies: mutated valid bodies and raw bytes) over real HTTPS, then raw garbage on the TCP
 * port; the emulator must answer every HTTP request with a sane status and a Skyflow-shaped
 * error, keep serving, and exit cleanly (leak-free under ASan). Reproduce a run with the
 * printed EMU_TEST_SEED. EMU_FUZZ_ITERATIONS overrides the request count. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"
#include "util.h"

static struct emu_proc E;
static char *admin, *viewer;

static int setup(void **state)
{
	test_seed();
	if (harness_start(&E) < 0)
		return -1;
	admin = sts_token_for(&E, "Admin", NULL);
	viewer = sts_token_for(&E, "Viewer", NULL);
	return admin && viewer ? 0 : -1;
}

static int teardown(void **state)
{
	free(admin);
	free(viewer);
	return harness_stop(&E) == 0 ? 0 : -1;
}

static size_t rn(size_t n)
{
	return n ? (size_t)(rnd_next() % n) : 0;
}

static const char *pick(const char *const *v, size_t n)
{
	return v[rn(n)];
}
#define PICK(arr) pick(arr, sizeof(arr) / sizeof(arr[0]))

static void add_random_bytes(struct sbuf *b, size_t n, bool url_safe)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)rnd_next();
		if (url_safe) {
			char enc[3] = {'%', hex[c >> 4], hex[c & 15]};
			if (c >= 'a' && c <= 'z')
				sbuf_append(b, &c, 1);
			else
				sbuf_append(b, enc, 3);
		} else {
			sbuf_append(b, &c, 1);
		}
	}
}

static const char *const segs[] = {
	"v1", "v2", "vaults", "auth", "sa", "oauth", "token", "sts", "keys", "persons", "detokenize",
	"tokenize", "query", "emulator", "stats", "descope", ".well-known", "jwks.json", "health",
	"reset", "..", ".", "", "bf9a1506-5b6a-4016-ac62-7c534db47460", "nosuch", "%00", "%2F",
	"d1e2m3o4v5a6u7l8t9000000000000aa", "P2EmuDemoProj000000000000000"};
static const char *const templates[] = {
	"/v1/vaults/{V}/persons", "/v1/vaults/{V}/persons/{ID}", "/v1/vaults/{V}/detokenize",
	"/v1/vaults/{V}/tokenize", "/v1/vaults/{V}/query", "/v1/vaults/{V}",
	"/v1/auth/sa/oauth/token", "/v1/auth/sts/token", "/v2/keys/{P}",
	"/{P}/.well-known/jwks.json", "/emulator/stats", "/emulator/descope/token",
	"/emulator/health", "/emulator/faults", "/emulator/clock"};
static const char *const params[] = {
	"skyflow_ids", "fields", "column_values", "column_name", "redaction", "tokenization",
	"offset", "limit", "order_by", "downloadURL", "returnFileMetadata", "x", ""};
static const char *const values[] = {
	"PLAIN_TEXT", "MASKED", "REDACTED", "DEFAULT", "true", "false", "25", "26", "0", "-1",
	"99999999999999999999", "ssn", "state", "name", "ASCENDING", "DESCENDING", "NONE",
	"bf9a1506-5b6a-4016-ac62-7c534db47460", "100-10-1000", "", "%00", "%ff%fe"};
static const char *const bodies[] = {
	"{\"records\":[{\"fields\":{\"name\":\"F\",\"ssn\":\"111-22-3333\"}}],\"tokenization\":true}",
	"{\"records\":[{\"fields\":{\"state\":\"CA\"}}],\"upsert\":\"ssn\"}",
	"{\"record\":{\"fields\":{\"name\":\"G\"}},\"tokenization\":true}",
	"{\"skyflow_ids\":[\"bf9a1506-5b6a-4016-ac62-7c534db47460\"]}",
	"{\"detokenizationParameters\":[{\"token\":\"t\",\"redaction\":\"PLAIN_TEXT\"}],\"continueOnError\":true}",
	"{\"tokenizationParameters\":[{\"value\":\"1\",\"columnGroup\":\"ssn\"}]}",
	"{\"query\":\"SELECT * FROM persons WHERE state = 'CA' LIMIT 2 OFFSET 1\"}",
	"{\"grant_type\":\"urn:ietf:params:oauth:grant-type:jwt-bearer\",\"assertion\":\"a.b.c\",\"scope\":\"role:admin\"}",
	("{\"grant_type\":\"urn:ietf:params:oauth:grant-type:token-exchange\",\"subject_token\":\"x.y.z\","
	 "\"subject_token_type\":\"urn:ietf:params:oauth:token-type:jwt\"}"),
	"grant_type=urn%3Aietf&subject_token=%41&subject_token_type=x&a&&=b",
	"{\"sub\":\"U1\",\"roles\":[\"Admin\"],\"tenants\":{\"t\":{}},\"claims\":{\"x\":[1,{}]},\"exp_in\":-5}",
	"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
	"{\"a\":\"\\ud800\"}", "null", "{}", "",
	("{\"records\":[{\"method\":\"POST\",\"quorum\":true,\"tableName\":\"persons\","
	 "\"fields\":{\"name\":\"B\",\"ssn\":\"222-33-4444\"},\"tokenization\":true},"
	 "{\"method\":\"GET\",\"tableName\":\"persons\",\"ID\":\"$responses.0.records.0.skyflow_id\","
	 "\"redaction\":\"PLAIN_TEXT\"}],\"continueOnError\":true}"),
	("{\"records\":[{\"method\":\"PUT\",\"tableName\":\"persons\",\"ID\":"
	 "\"bf9a1506-5b6a-4016-ac62-7c534db47460\",\"fields\":{\"state\":\"WA\"}},"
	 "{\"method\":\"DELETE\",\"tableName\":\"persons\",\"ID\":\"$responses.9.x\"}]}"),
	("{\"records\":[{\"method\":\"GET\",\"tableName\":\"persons\",\"ID\":"
	 "\"$responses.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0\",\"tokens\":{}}],\"byot\":\"ENABLE\"}")};

/* Builds one random request. Returns the body (malloc'd or NULL). */
static char *random_request(struct sbuf *path, const char **method, const char **ctype,
			    const char **bearer, char *badtok, size_t badtok_len)
{
	static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS",
					      "HEAD", "GET", "POST", "BREW"};
	static const char *const ctypes[] = {"application/json",
					     "application/x-www-form-urlencoded", NULL,
					     "text/plain", "application/json; charset=utf-8"};
	struct sbuf body;
	size_t r = rn(10);

	*method = PICK(methods);
	*ctype = PICK(ctypes);
	/* path */
	if (r < 6) {
		const char *t = PICK(templates);
		for (const char *p = t; *p; p++) {
			if (!strncmp(p, "{V}", 3)) {
				sbuf_puts(path, rn(4) ? E.vault_id : PICK(segs));
				p += 2;
			} else if (!strncmp(p, "{ID}", 4)) {
				if (rn(3))
					sbuf_puts(path, PICK(segs));
				else
					add_random_bytes(path, rn(40), true);
				p += 3;
			} else if (!strncmp(p, "{P}", 3)) {
				sbuf_puts(path, rn(3) ? E.project_id : PICK(segs));
				p += 2;
			} else {
				sbuf_append(path, p, 1);
			}
		}
	} else if (r < 9) {
		size_t n = rn(12);
		for (size_t i = 0; i < n; i++) {
			sbuf_puts(path, "/");
			sbuf_puts(path, PICK(segs));
		}
		if (!n)
			sbuf_puts(path, "/");
	} else {
		sbuf_puts(path, "/");
		add_random_bytes(path, rn(rn(8) ? 64 : 3000), true);
	}
	/* query string */
	if (rn(2)) {
		size_t n = rn(5) ? rn(8) : rn(300);
		for (size_t i = 0; i < n; i++) {
			sbuf_puts(path, i ? "&" : "?");
			if (rn(10)) {
				sbuf_puts(path, PICK(params));
				if (rn(8)) {
					sbuf_puts(path, "=");
					if (rn(6))
						sbuf_puts(path, PICK(values));
					else
						add_random_bytes(path, rn(20), true);
				}
			} else {
				add_random_bytes(path, rn(10), true);
			}
		}
	}
	/* controls that change global state would make later requests meaningless */
	if (strstr(path->p, "emulator/faults") || strstr(path->p, "emulator/clock") ||
	    strstr(path->p, "emulator/descope/rotate"))
		*method = "GET";
	/* auth */
	switch (rn(5)) {
	case 0: *bearer = NULL; break;
	case 1: *bearer = viewer; break;
	case 2: {
		snprintf(badtok, badtok_len, "%s", admin);
		size_t len = strlen(badtok);
		for (size_t k = rn(4); k > 0; k--)
			badtok[rn(len)] = (char)('A' + rn(58));
		*bearer = badtok;
		break;
	}
	default: *bearer = admin; break;
	}
	/* body */
	if (!rn(4))
		return NULL;
	sbuf_init(&body, 4 * EMU_MAX_BODY);
	const char *base = PICK(bodies);
	switch (rn(4)) {
	case 0: /* valid-ish body */
		sbuf_puts(&body, base);
		break;
	case 1: { /* mutated */
		size_t len = strlen(base);
		sbuf_puts(&body, base);
		for (size_t k = rn(6) + 1; k > 0 && len; k--) {
			char c = (char)(1 + rn(126));
			body.p[rn(len)] = c;
		}
		if (rn(2) && body.len)
			body.len = rn(body.len); /* truncated */
		body.p[body.len] = '\0';
		break;
	}
	case 2: { /* random bytes without NUL (curl sends strlen bytes) */
		size_t n = rn(rn(50) ? 512 : 2 * EMU_MAX_BODY);
		for (size_t i = 0; i < n; i++) {
			char c = (char)(1 + rn(255));
			sbuf_append(&body, &c, 1);
		}
		break;
	}
	default: /* deep or wide JSON */
		for (size_t i = 0, n = rn(5000); i < n; i++)
			sbuf_puts(&body, rn(2) ? "[" : "{\"a\":");
		break;
	}
	return sbuf_steal(&body);
}

static void random_requests(void **state)
{
	const char *env = getenv("EMU_FUZZ_ITERATIONS");
	long iterations = 3000, statuses[6] = {0};
	char *badtok = malloc(EMU_MAX_TOKEN_LEN);

	if (env)
		emu_parse_long(env, 1, 10000000, &iterations);
	for (long i = 0; i < iterations; i++) {
		struct sbuf path;
		struct http_resp r;
		const char *method, *ctype, *bearer;
		char *body;

		sbuf_init(&path, 64 * 1024);
		body = random_request(&path, &method, &ctype, &bearer, badtok, EMU_MAX_TOKEN_LEN);
		http_req(&E, method, path.p, bearer, ctype, body, &r);
		if (r.rc != CURLE_OK || r.status < 200 || r.status > 599) {
			fprintf(stderr, "iteration %ld: %s %.200s -> curl %d status %ld\n", i, method,
				path.p, (int)r.rc, r.status);
			fail();
		}
		statuses[r.status / 100]++;
		/* a healthy emulator gives no 5xx without faults */
		if (r.status >= 500) {
			fprintf(stderr, "iteration %ld: %s %.200s -> %ld: %.300s\n", i, method, path.p,
				r.status, r.body);
			fail();
		}
		assert_int_equal(strlen(r.request_id), 36);
		if (r.status >= 400 && strcmp(method, "HEAD") != 0) {
			json_t *j = json_loadb(r.body, r.len, 0, NULL);
			if (!j)
				fprintf(stderr, "iteration %ld: %s %.200s -> %ld non-JSON\n", i, method,
					path.p, r.status);
			assert_skyflow_error(j, r.status);
			json_decref(j);
		}
		http_resp_free(&r);
		free(body);
		sbuf_free(&path);
	}
	free(badtok);
	fprintf(stderr, "%ld requests: 2xx %ld, 4xx %ld, 5xx %ld\n", iterations, statuses[2],
		statuses[4], statuses[5]);
}

static int tcp_connect_port(unsigned port)
{
	struct sockaddr_in a = {0};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Raw bytes, half-sent requests, oversized lines and idle connections against a port; then
 * the emulator e must still serve. */
static void hammer(struct emu_proc *e)
{
	int idle[100];
	unsigned char buf[4096];

	/* idle connections that never speak, held open through the rest */
	for (int i = 0; i < 100; i++)
		idle[i] = tcp_connect_port(e->port);
	for (int i = 0; i < 300; i++) {
		int fd = tcp_connect_port(e->port);
		assert_true(fd >= 0);
		size_t n = rn(sizeof(buf));
		if (i % 3 == 0) {
			n = (size_t)snprintf((char *)buf, sizeof(buf),
					     "GET /emulator/health HTTP/1.1\r\nHost: x\r\n\r\n");
		} else {
			for (size_t k = 0; k < n; k++)
				buf[k] = (unsigned char)rnd_next();
			if (i % 3 == 1 && n > 5) { /* looks like a TLS handshake record */
				buf[0] = 0x16;
				buf[1] = 0x03;
				buf[2] = 0x01;
			}
		}
		if (write(fd, buf, n) < 0) {
			/* the peer may already have closed: fine */
		}
		if (i % 2)
			shutdown(fd, SHUT_WR);
		close(fd);
	}
	/* oversized request line and headers (libmicrohttpd answers those itself) */
	for (int i = 0; i < 4; i++) {
		int fd = tcp_connect_port(e->port);
		struct sbuf big;
		assert_true(fd >= 0);
		sbuf_init(&big, 1 << 20);
		sbuf_puts(&big, i % 2 ? "GET /emulator/health HTTP/1.1\r\nX-Big: "
				      : "GET /emulator/health?");
		for (int k = 0; k < 300 * 1024; k++)
			sbuf_append(&big, "a", 1);
		sbuf_puts(&big, i % 2 ? "\r\n\r\n" : " HTTP/1.1\r\n\r\n");
		if (write(fd, big.p, big.len) < 0) {
			/* closed early by the server: fine */
		}
		sbuf_free(&big);
		close(fd);
	}
	/* still serving, with the idle connections open */
	long st;
	json_t *j = http_json(e, "GET", "/emulator/health", NULL, NULL, &st);
	assert_int_equal(st, 200);
	json_decref(j);
	char *tok = sts_token_for(e, "Admin", NULL);
	char path[256];
	snprintf(path, sizeof(path), "%s/persons?limit=3", e->vault_path);
	j = http_json(e, "GET", path, tok, NULL, &st);
	assert_int_equal(st, 200);
	json_decref(j);
	free(tok);
	for (int i = 0; i < 100; i++)
		if (idle[i] >= 0)
			close(idle[i]);
}

static void raw_garbage(void **state)
{
	hammer(&E);
}

/* The same over plain HTTP, where the bytes reach the HTTP parser instead of TLS. */
static void raw_garbage_plain_http(void **state)
{
	struct emu_proc p;

	assert_int_equal(harness_init(&p), 0);
	p.plain_http = true;
	assert_int_equal(harness_spawn(&p, NULL), 0);
	hammer(&p);
	assert_int_equal(harness_kill(&p), 0);
	harness_cleanup(&p);
}

/* Sends raw bytes on a fresh plain-HTTP connection and reads the reply until the server
 * closes or 5 s pass. Returns the malloc'd reply (NUL-terminated). */
static char *raw_exchange(struct emu_proc *e, const char *data, size_t len)
{
	struct timeval tv = {5, 0};
	struct sbuf in;
	char buf[4096];
	ssize_t n;
	int fd = tcp_connect_port(e->port);

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (size_t off = 0; off < len; off += (size_t)n) {
		n = write(fd, data + off, len - off);
		if (n <= 0)
			break; /* the server may answer and close before reading it all */
	}
	shutdown(fd, SHUT_WR);
	sbuf_init(&in, 1 << 20);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		sbuf_append(&in, buf, (size_t)n);
	close(fd);
	sbuf_append(&in, "", 1);
	return sbuf_steal(&in);
}

/* The replies libmicrohttpd makes itself for malformed HTTP carry X-Request-ID and a Skyflow
 * error body, like every other reply. */
static struct emu_proc plain;

static int plain_start(void **state)
{
	if (harness_init(&plain) < 0)
		return -1;
	plain.plain_http = true;
	return harness_spawn(&plain, NULL);
}

static int plain_stop(void **state)
{
	return harness_stop(&plain) == 0 ? 0 : -1;
}

static void http_layer_replies(void **state)
{
	struct emu_proc *p = &plain;
	struct sbuf big;
	/* body: false where libmicrohttpd 0.9.75 itself sends the header block twice (a bad
	 * Content-Length; with its own HTML reply too), so only the first block is checked */
	static const struct {
		const char *req;
		unsigned status;
		bool body;
	} cases[] = {
		{"POST /emulator/health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		 "zz\r\n\r\n", 400, true},
		{"GET /emulator/health HTTP/1.1\r\nHost: x\r\nbad header line\r\n\r\n", 400, true},
		{"GET /emulator/health HTTP/2.0\r\nHost: x\r\n\r\n", 505, true},
		{"GET /emulator/health HTTP/0.9\r\n\r\n", 505, true},
		{"GET /emulator/health HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, false},
		{NULL, 431, true}, /* a header block over the limit, built below */
		{NULL, 414, true}, /* a request line over the limit, built below */
	};
	struct sbuf uri;

	sbuf_init(&big, 1 << 20);
	sbuf_init(&uri, 1 << 20);
	sbuf_puts(&big, "GET /emulator/health HTTP/1.1\r\nHost: x\r\nX-Big: ");
	sbuf_puts(&uri, "GET /emulator/health?");
	for (int k = 0; k < 200 * 1024; k++) {
		sbuf_append(&big, "a", 1);
		sbuf_append(&uri, "a", 1);
	}
	sbuf_puts(&big, "\r\n\r\n");
	sbuf_puts(&uri, " HTTP/1.1\r\nHost: x\r\n\r\n");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct sbuf *raw = cases[i].status == 431 ? &big : &uri;
		const char *req = cases[i].req ? cases[i].req : raw->p;
		char *reply = raw_exchange(p, req, cases[i].req ? strlen(req) : raw->len);
		char *body = strstr(reply, "\r\n\r\n"), *rid;
		unsigned status = 0;
		sscanf(reply, "HTTP/1.%*d %u", &status);
		if (body)
			*body = '\0'; /* headers of the first block only */
		rid = strcasestr(reply, "\r\nX-Request-ID: ");
		if (status != cases[i].status || !rid || !body)
			fprintf(stderr, "case %zu: %.300s\n", i, reply);
		assert_int_equal(status, cases[i].status);
		assert_non_null(rid);
		assert_int_equal(strcspn(rid + 16, "\r"), 36);
		assert_non_null(body);
		if (cases[i].body) {
			json_t *j = json_loads(body + 4, 0, NULL);
			assert_skyflow_error(j, status);
			json_decref(j);
		}
		free(reply);
	}
	sbuf_free(&uri);
	sbuf_free(&big);
}

/* The same over TLS, through libcurl: a header block over the limit is libmicrohttpd's 431. */
static void http_layer_replies_tls(void **state)
{
	struct sbuf big;
	struct http_resp r;

	sbuf_init(&big, 1 << 20);
	sbuf_puts(&big, "X-Big: ");
	for (int k = 0; k < 200 * 1024; k++)
		sbuf_append(&big, "a", 1);
	harness_extra_header = big.p;
	http_req(&E, "GET", "/emulator/health", NULL, NULL, NULL, &r);
	harness_extra_header = NULL;
	sbuf_free(&big);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 431);
	assert_int_equal(strlen(r.request_id), 36);
	json_t *j = json_loadb(r.body, r.len, 0, NULL);
	assert_skyflow_error(j, 431);
	json_decref(j);
	http_resp_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(random_requests),
		cmocka_unit_test(raw_garbage),
		cmocka_unit_test(raw_garbage_plain_http),
		cmocka_unit_test_setup_teardown(http_layer_replies, plain_start, plain_stop),
		cmocka_unit_test(http_layer_replies_tls),
	};
	return cmocka_run_group_tests_name("emulator_fuzz_http", tests, setup, teardown);
}

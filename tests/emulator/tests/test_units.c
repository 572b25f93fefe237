/* emulator_unit: the parsers and helpers without a server — CEL conditions, policy sentences,
 * masks, base64url, JWT parsing guards, config validation. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cel.h"
#include "harness.h"
#include "config.h"
#include "keys.h"
#include "policy.h"
#include "util.h"

static int eval(const char *src, const char *ctx_json)
{
	struct cel_expr *e;
	char err[128];
	json_t *ctx = ctx_json ? json_loads(ctx_json, 0, NULL) : NULL;
	int r;

	assert_int_equal(cel_parse(src, &e, err, sizeof(err)), 0);
	r = cel_eval(e, ctx);
	cel_free(e);
	json_decref(ctx);
	return r;
}

static void cel_conditions(void **state)
{
	const char *ctx = "{\"roles\":[\"Viewer\",\"Ops\"],\"dept\":\"finance\",\"level\":3,"
			  "\"tenants\":{\"T1\":{}}}";
	assert_true(eval("'Viewer' in request.context.roles", ctx));
	assert_false(eval("'Admin' in request.context.roles", ctx));
	assert_true(eval("\"Ops\" in request.context.roles", ctx));
	assert_true(eval("request.context.dept == 'finance'", ctx));
	assert_false(eval("request.context.dept != 'finance'", ctx));
	assert_true(eval("request.context.level == 3", ctx));
	assert_true(eval("'T1' in request.context.tenants", ctx));
	assert_true(eval("'Admin' in request.context.roles || request.context.dept == 'finance'", ctx));
	assert_false(eval("'Viewer' in request.context.roles && !(request.context.dept == 'finance')",
			  ctx));
	assert_true(eval("!('Admin' in request.context.roles)", ctx));
	assert_true(eval("request.context.dept in ['hr', 'finance']", ctx));
	assert_true(eval("((('Viewer' in request.context.roles)))", ctx));
	assert_true(eval("", ctx)); /* no condition: always */
	assert_true(eval("   ", NULL));
	/* absent context and wrong types are false, never an error */
	assert_false(eval("'Viewer' in request.context.roles", NULL));
	assert_false(eval("'Viewer' in request.context.roles", "\"a string ctx\""));
	assert_false(eval("request.context.missing.deeper == 'x'", ctx));
	assert_true(eval("request.context.missing == null", ctx));
	assert_false(eval("'x' in request.context.dept", ctx));
	/* precedence: && binds tighter than || */
	assert_true(eval("'Admin' in request.context.roles && false || true", ctx));
}

static void cel_rejects(void **state)
{
	const char *bad[] = {"'Viewer' in", "request.ctx.roles", "foo == 'x'", "'unterminated",
			     "(('a' == 'a')", "'a' == 'a')", "'a' === 'a'", "&& 'a'",
			     "'a' in request.context.roles extra", "[1, 2", "request.context.",
			     "@"};
	struct cel_expr *e;
	char err[128];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(cel_parse(bad[i], &e, err, sizeof(err)), -EBADMSG);
		assert_null(e);
		assert_true(strlen(err) > 0);
	}
	/* nesting and size are bounded */
	char deep[256];
	memset(deep, '(', 100);
	snprintf(deep + 100, sizeof(deep) - 100, "true");
	assert_int_equal(cel_parse(deep, &e, err, sizeof(err)), -EBADMSG);
	memset(deep, '!', 100);
	snprintf(deep + 100, sizeof(deep) - 100, "true");
	assert_int_equal(cel_parse(deep, &e, err, sizeof(err)), -EBADMSG);
	char *wide = malloc(EMU_MAX_CEL_LEN + 10);
	memset(wide, ' ', EMU_MAX_CEL_LEN + 9);
	wide[EMU_MAX_CEL_LEN + 9] = '\0';
	assert_int_equal(cel_parse(wide, &e, err, sizeof(err)), -EBADMSG);
	struct sbuf b;
	sbuf_init(&b, 1 << 20);
	for (int i = 0; i < 300; i++)
		sbuf_puts(&b, i ? " || true" : "true");
	assert_int_equal(cel_parse(b.p, &e, err, sizeof(err)), -EBADMSG); /* > CEL_MAX_NODES */
	sbuf_free(&b);
	free(wide);
}

static void policies(void **state)
{
	struct policy p;
	char err[128];

	assert_int_equal(policy_parse("ALLOW READ ON persons.name, persons.state WITH REDACTION = "
				      "PLAIN_TEXT WHERE persons.state = 'CA'",
				      &p, err, sizeof(err)),
			 0);
	assert_int_equal(p.actions, ACT_READ);
	assert_int_equal(p.nres, 2);
	assert_int_equal(p.redaction, RED_PLAIN);
	assert_int_equal(p.nwhere, 1);
	assert_string_equal(p.where[0].column, "state");
	assert_string_equal(p.where[0].value, "CA");
	assert_true(policy_covers(&p, "persons", "name"));
	assert_false(policy_covers(&p, "persons", "ssn"));
	policy_clear(&p);
	assert_int_equal(policy_parse("allow read on persons.* with redaction = masked", &p, err,
				      sizeof(err)),
			 0);
	assert_true(policy_covers(&p, "persons", "anything"));
	assert_int_equal(p.redaction, RED_MASKED);
	policy_clear(&p);
	assert_int_equal(policy_parse("ALLOW READ ON persons.ssn", &p, err, sizeof(err)), 0);
	assert_int_equal(p.redaction, RED_DEFAULT);
	policy_clear(&p);
	assert_int_equal(policy_parse("ALLOW CREATE, UPDATE, DELETE ON persons.*", &p, err,
				      sizeof(err)),
			 0);
	assert_int_equal(p.actions, ACT_CREATE | ACT_UPDATE | ACT_DELETE);
	policy_clear(&p);
	assert_int_equal(policy_parse("ALLOW UPDATE ON payments.consumers.* WHERE consumers.region = "
				      "'North America'",
				      &p, err, sizeof(err)),
			 0);
	assert_string_equal(p.res[0].table, "consumers");
	assert_string_equal(p.where[0].value, "North America");
	policy_clear(&p);
	assert_int_equal(policy_parse("ALLOW TOKENIZATION", &p, err, sizeof(err)), 0);
	assert_int_equal(p.actions, ACT_TOKENIZATION);
	policy_clear(&p);
	assert_int_equal(policy_parse("ALLOW DETOKENIZATION", &p, err, sizeof(err)), 0);
	policy_clear(&p);
	assert_int_equal(policy_parse("ALLOW READ ON t.c WHERE t.c = 'it''s'", &p, err, sizeof(err)),
			 0);
	assert_string_equal(p.where[0].value, "it's");
	policy_clear(&p);
	/* DENY, OR, LIKE, parentheses */
	assert_int_equal(policy_parse("DENY READ, UPDATE ON persons.ssn WHERE persons.state = 'CA' OR "
				      "(name LIKE 'B%' AND state != 'NY')",
				      &p, err, sizeof(err)),
			 0);
	assert_true(p.deny);
	assert_int_equal(p.actions, ACT_READ | ACT_UPDATE);
	assert_int_equal(p.nwhere, 5); /* 3 predicates, AND, OR */
	assert_int_equal(p.where[p.where_root].kind, W_OR);
	policy_clear(&p);
	assert_int_equal(policy_parse("ALLOW READ ON t.c WHERE t.c NOT LIKE 'x' AND t.d <> 'y'", &p, err,
				      sizeof(err)),
			 0);
	assert_int_equal(p.where[0].kind, W_NOT_LIKE);
	assert_int_equal(p.where[1].kind, W_NE);
	policy_clear(&p);
	const char *bad[] = {"DENY READ ON t.c WITH REDACTION = MASKED", "ALLOW", "ALLOW READ",
			     "ALLOW FLY ON t.c", "ALLOW READ ON t.c WHERE t.c < '5'",
			     "ALLOW READ ON t.c WHERE t.c ILIKE 'x'", "ALLOW READ ON t.c WHERE t.c IN 'x'",
			     "ALLOW READ ON t.c WHERE t.c = 'a' OR", "ALLOW READ ON t.c WHERE (t.c = 'a'",
			     "ALLOW READ ON t.c WHERE t.c NOT = 'a'", "ALLOW READ ON t.c WHERE t.c ! 'a'",
			     "ALLOW READ ON t.c WHERE ((((((((((t.c = 'a'))))))))))",
			     "ALLOW READ ON t.c WHERE c = '1' OR c = '2' OR c = '3' OR c = '4' OR c = '5' OR "
			     "c = '6' OR c = '7' OR c = '8' OR c = '9' OR c = '10' OR c = '11' OR c = '12' "
			     "OR c = '13' OR c = '14' OR c = '15' OR c = '16' OR c = '17'",
			     "ALLOW READ ON t", "ALLOW READ ON t.c WITH REDACTION = SOME",
			     "ALLOW READ ON t.c WHERE t.c = x", "ALLOW READ ON t.c WHERE u.c = 'x'",
			     "ALLOW READ ON t.c junk", "ALLOW READ ON t.c WHERE t.c = 'open",
			     "ALLOW READ ON a.b.c.d", "ALLOW READ ON t.* WITH REDACTION PLAIN_TEXT"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (policy_parse(bad[i], &p, err, sizeof(err)) != -EBADMSG)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		assert_int_equal(policy_parse(bad[i], &p, err, sizeof(err)), -EBADMSG);
		policy_clear(&p);
	}
	assert_int_equal(policy_parse("ALLOW READ ON t.c WHERE t.c < '5'", &p, err, sizeof(err)),
			 -EBADMSG);
	assert_non_null(strstr(err, "not supported by the emulator"));
}

static const char *kv_get(void *ctx, const char *col)
{
	const char *const *kv = ctx;
	for (; kv[0]; kv += 2)
		if (!strcmp(kv[0], col))
			return kv[1];
	return NULL;
}

static void row_filters(void **state)
{
	struct policy p;
	char err[128];
	const char *ada[] = {"name", "Ada", "state", "CA", NULL};
	const char *brook[] = {"name", "Brook", "state", "NY", NULL};
	const char *nameless[] = {"state", "NY", NULL};

	assert_true(policy_like("", ""));
	assert_true(policy_like("abc", "abc"));
	assert_true(policy_like("abc", "a%"));
	assert_true(policy_like("abc", "%c"));
	assert_true(policy_like("abc", "_b_"));
	assert_true(policy_like("abc", "%%"));
	assert_true(policy_like("a%c", "a\\%c"));
	assert_false(policy_like("abc", "a\\%c"));
	assert_true(policy_like("a_c", "a\\_c"));
	assert_false(policy_like("abc", "a\\_c"));
	assert_false(policy_like("abc", "ABC")); /* case-sensitive */
	assert_false(policy_like("abc", "ab"));
	assert_false(policy_like("ab", "a_c"));
	assert_true(policy_like("mississippi", "%iss%ppi"));
	assert_false(policy_like("mississippi", "%iss%ppx"));
	assert_false(policy_like("abc", "abc\\"));

	assert_int_equal(policy_parse("ALLOW READ ON p.* WHERE p.state = 'CA' OR (p.name LIKE 'B%' AND "
				      "state != 'CA')",
				      &p, err, sizeof(err)),
			 0);
	assert_true(policy_where_eval(&p, kv_get, (void *)ada));
	assert_true(policy_where_eval(&p, kv_get, (void *)brook));
	assert_false(policy_where_eval(&p, kv_get, (void *)nameless)); /* NULL LIKE: false */
	policy_clear(&p);
	assert_int_equal(policy_parse("ALLOW READ ON p.* WHERE p.name NOT LIKE 'A%' AND p.state <> 'TX'",
				      &p, err, sizeof(err)),
			 0);
	assert_false(policy_where_eval(&p, kv_get, (void *)ada));
	assert_true(policy_where_eval(&p, kv_get, (void *)brook));
	assert_false(policy_where_eval(&p, kv_get, (void *)nameless));
	policy_clear(&p);
	assert_int_equal(policy_parse("ALLOW READ ON p.*", &p, err, sizeof(err)), 0);
	assert_true(policy_where_eval(&p, kv_get, (void *)nameless));
	policy_clear(&p);
}

static char *mask(const char *find, const char *replace, const char *value)
{
	struct column_def col = {0};
	char *out;
	assert_int_equal(regcomp(&col.find, find, REG_EXTENDED), 0);
	col.has_mask = true;
	col.replace = (char *)replace;
	assert_int_equal(column_mask(&col, value, &out), 0);
	regfree(&col.find);
	return out;
}

static void masks(void **state)
{
	const char *ssn = "^[0-9]{3}([- ])?[0-9]{2}([- ])?([0-9]{4})$";
	const char *dob = "^$|([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])"
			  "(-(0[1-9]|[1-2][0-9]|3[0-1])))";
	char *o;
	o = mask(ssn, "XXX${1}XX${2}${3}", "123-45-6789");
	assert_string_equal(o, "XXX-XX-6789");
	free(o);
	o = mask(ssn, "XXX${1}XX${2}${3}", "123456789");
	assert_string_equal(o, "XXXXX6789");
	free(o);
	o = mask(ssn, "XXX${1}XX${2}${3}", "not an ssn"); /* no match: unchanged */
	assert_string_equal(o, "not an ssn");
	free(o);
	o = mask(dob, "XXXX-${5}${6}", "1990-05-17");
	assert_string_equal(o, "XXXX-05-17");
	free(o);
	o = mask("^(.)(.*)(.)@(.+)$", "$1******$3@$4", "jane@x.com");
	assert_string_equal(o, "j******e@x.com");
	free(o);
	o = mask("[0-9 -]*([0-9 -]{4}$)", "XXXXXXXXXXXX${1}", "4111 1111 1111 1234");
	assert_string_equal(o, "XXXXXXXXXXXX1234");
	free(o);
	o = mask("a*", "-", "baaac"); /* empty matches make progress */
	assert_non_null(o);
	free(o);
	struct column_def plain = {0};
	assert_int_equal(column_mask(&plain, "x", &o), 0);
	assert_string_equal(o, "*REDACTED*");
	free(o);
}

static void base64url(void **state)
{
	char *enc;
	uint8_t *dec;
	size_t len;
	for (size_t n = 0; n < 40; n++) {
		uint8_t in[40];
		for (size_t i = 0; i < n; i++)
			in[i] = (uint8_t)(i * 37 + n);
		assert_int_equal(b64url_encode(in, n, &enc), 0);
		assert_null(strchr(enc, '='));
		assert_int_equal(b64url_decode(enc, strlen(enc), 64, &dec, &len), 0);
		assert_int_equal(len, n);
		assert_memory_equal(dec, in, n);
		free(enc);
		free(dec);
	}
	assert_int_equal(b64url_decode("a+b/", 4, 64, &dec, &len), -EBADMSG);
	assert_int_equal(b64url_decode("abc=", 4, 64, &dec, &len), -EBADMSG);
	assert_int_equal(b64url_decode("a", 1, 64, &dec, &len), -EBADMSG);
	assert_int_equal(b64url_decode("AAAAAAAA", 8, 3, &dec, &len), -EMSGSIZE);
}

static void jwt_guards(void **state)
{
	struct emu_key *k;
	json_t *claims = json_pack("{s:s}", "sub", "x"), *out;
	char *tok;

	assert_int_equal(key_generate("kid1", &k), 0);
	assert_int_equal(jwt_sign_rs256(k, 1, claims, &tok), 0);
	assert_int_equal(jwt_verify_rs256(tok, k, &out), 0);
	assert_string_equal(json_string_value(json_object_get(out, "sub")), "x");
	json_decref(out);
	/* four segments, two segments, empty signature, oversize */
	struct sbuf b;
	sbuf_init(&b, 1 << 20);
	sbuf_puts(&b, tok);
	sbuf_puts(&b, ".x");
	assert_int_equal(jwt_verify_rs256(b.p, k, &out), -EBADMSG);
	sbuf_free(&b);
	char *two = strdup(tok);
	*strrchr(two, '.') = '\0';
	assert_int_equal(jwt_verify_rs256(two, k, &out), -EBADMSG);
	size_t tl = strlen(two); /* two lost its signature, so it has room for the dot */
	two[tl] = '.';
	two[tl + 1] = '\0';
	assert_int_equal(jwt_verify_rs256(two, k, &out), -EBADMSG);
	free(two);
	char *big = malloc(EMU_MAX_TOKEN_LEN + 2);
	memset(big, 'a', EMU_MAX_TOKEN_LEN + 1);
	big[EMU_MAX_TOKEN_LEN + 1] = '\0';
	assert_int_equal(jwt_verify_rs256(big, k, &out), -EMSGSIZE);
	free(big);
	/* alg none, HS256 and lowercase rs256 headers are refused */
	const char *headers[] = {"{\"alg\":\"none\"}", "{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
				 "{\"alg\":\"rs256\"}", "{\"alg\":\"RS256\",\"typ\":\"at+jwt\"}"};
	for (size_t i = 0; i < 4; i++) {
		char *h, forged[4096];
		b64url_encode(headers[i], strlen(headers[i]), &h);
		snprintf(forged, sizeof(forged), "%s%s", h, strchr(tok, '.'));
		assert_int_equal(jwt_verify_rs256(forged, k, &out), -EKEYREJECTED);
		free(h);
	}
	/* another key */
	struct emu_key *k2;
	assert_int_equal(key_generate("kid2", &k2), 0);
	assert_int_equal(jwt_verify_rs256(tok, k2, &out), -EKEYREJECTED);
	key_free(k2);
	json_t *jwk = key_jwk(k);
	assert_string_equal(json_string_value(json_object_get(jwk, "kid")), "kid1");
	json_decref(jwk);
	free(tok);
	json_decref(claims);
	key_free(k);
}

static void config_validation(void **state)
{
	const char *base = "{\"descope\":{\"project_id\":\"P1\"},\"vault\":{\"id\":\"v\","
			   "\"tables\":[{\"name\":\"t\",\"columns\":[{\"name\":\"c\"}]}]}";
	char text[2048], err[256];
	struct emu_config *c;
	json_t *j;

	snprintf(text, sizeof(text), "%s}", base);
	j = json_loads(text, 0, NULL);
	assert_int_equal(config_from_json(j, &c, err, sizeof(err)), 0);
	assert_string_equal(c->descope_issuer, "P1");
	assert_int_equal(strlen(c->sa_id), 32);
	config_free(c);
	json_decref(j);
	const char *bad_tail[] = {
		",\"roles\":[{\"name\":\"r\",\"policies\":[\"ALLOW EVERYTHING\"]}]}",
		",\"role_assignments\":[{\"role\":\"nope\"}]}",
		(",\"roles\":[{\"name\":\"r\",\"policies\":[]}],\"role_assignments\":[{\"role\":\"r\","
		 "\"condition\":\"'x' in\"}]}"),
		",\"sts_configs\":[{\"contextClaims\":\"roles\"}]}",
		/* names that do not exist: a nested column path reads as vault.table.column */
		",\"roles\":[{\"name\":\"r\",\"policies\":[\"ALLOW READ ON t.c.last_name\"]}]}",
		",\"roles\":[{\"name\":\"r\",\"policies\":[\"ALLOW READ ON t.nope\"]}]}",
		",\"roles\":[{\"name\":\"r\",\"policies\":[\"DENY READ ON t.* WHERE t.nope = 'x'\"]}]}",
		",\"roles\":[{\"name\":\"r\",\"policies\":[\"ALLOW READ ON t.c WHERE t.c > 'x'\"]}]}",
	};
	for (size_t i = 0; i < sizeof(bad_tail) / sizeof(bad_tail[0]); i++) {
		snprintf(text, sizeof(text), "%s%s", base, bad_tail[i]);
		j = json_loads(text, 0, NULL);
		assert_non_null(j);
		assert_int_equal(config_from_json(j, &c, err, sizeof(err)), -EINVAL);
		assert_true(strlen(err) > 0);
		json_decref(j);
	}
	snprintf(text, sizeof(text), "%s%s", base,
		 ",\"roles\":[{\"name\":\"r\",\"policies\":[\"ALLOW READ ON t.c.last_name\"]}]}");
	j = json_loads(text, 0, NULL);
	assert_int_equal(config_from_json(j, &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not supported by the emulator"));
	json_decref(j);
	/* DENY and a filter with OR and LIKE over existing names load */
	snprintf(text, sizeof(text), "%s%s", base,
		 ",\"roles\":[{\"name\":\"r\",\"policies\":[\"DENY READ ON v.t.c WHERE c LIKE 'a%' "
		 "OR skyflow_id = 'x'\"]}]}");
	j = json_loads(text, 0, NULL);
	assert_int_equal(config_from_json(j, &c, err, sizeof(err)), 0);
	assert_true(c->roles[0].policies[0].deny);
	config_free(c);
	json_decref(j);
	const char *bad_whole[] = {"[]", "{}", "{\"descope\":{\"project_id\":\"P\"}}",
				   ("{\"descope\":{\"project_id\":\"P\"},\"vault\":{\"id\":\"v\","
				    "\"tables\":[{\"name\":\"t\",\"columns\":[{\"name\":\"c\","
				    "\"mask\":{\"find\":\"(\",\"replace\":\"\"}}]}]}}"),
				   ("{\"descope\":{\"project_id\":\"P\"},\"vault\":{\"id\":\"v\","
				    "\"tables\":[{\"name\":\"t\",\"columns\":[{\"name\":\"c\","
				    "\"default_redaction\":\"DEFAULT\"}]}]}}"),
				   ("{\"descope\":{\"project_id\":\"P\"},\"vault\":{\"id\":\"v\","
				    "\"tables\":[{\"name\":\"t\",\"columns\":[{\"name\":\"c\","
				    "\"tokenization\":true,\"token_policy\":\"DETERMINISTIC_FPT\"}]}]}}"),
				   ("{\"descope\":{\"project_id\":\"P\"},\"vault\":{\"id\":\"v\","
				    "\"tables\":[{\"name\":\"t\",\"columns\":[{\"name\":\"c\","
				    "\"token_policy\":\"DETERMINISTIC_UUID\"}]}]}}")};
	for (size_t i = 0; i < sizeof(bad_whole) / sizeof(bad_whole[0]); i++) {
		j = json_loads(bad_whole[i], 0, NULL);
		assert_int_equal(config_from_json(j, &c, err, sizeof(err)), -EINVAL);
		json_decref(j);
	}
	/* the shipped demo config loads */
	assert_int_equal(config_load(DEMO_JSON, &c), 0);
	assert_int_equal(c->nroles, 3);
	assert_int_equal(c->roles[config_role_index(c, "marketing")].npolicies, 3);
	config_free(c);
}

static const char *const filter_junk[] = {
	"(", ")", "AND", "OR", "LIKE", "NOT", "!=", "<>", "<", "'x'", "'", "IN", "u.c", "!", ","};

/* Appends a random WHERE filter of depth at most d to buf. */
static void random_filter(char *buf, size_t size, int d)
{
	static const char *const cols[] = {"c", "t.c", "d", "t.d"};
	static const char *const ops[] = {"=", "!=", "<>", "LIKE", "NOT LIKE"};
	static const char *const vals[] = {"'x'", "'%'", "'x%'", "'_'", "'\\%'", "''", "'y'"};
	size_t len = strlen(buf);
	unsigned k = (unsigned)(rnd_next() % 4);

	if (d <= 0 || k == 0) {
		snprintf(buf + len, size - len, " %s %s %s", cols[rnd_next() % 4], ops[rnd_next() % 5],
			 vals[rnd_next() % 7]);
	} else if (k == 1) {
		snprintf(buf + len, size - len, " (");
		random_filter(buf, size, d - 1);
		len = strlen(buf);
		snprintf(buf + len, size - len, " )");
	} else {
		random_filter(buf, size, d - 1);
		len = strlen(buf);
		snprintf(buf + len, size - len, " %s", k == 2 ? "AND" : "OR");
		random_filter(buf, size, d - 1);
	}
}

/* Random WHERE filters from the grammar, some with a junk token appended or the text cut
 * short: every one parses or is refused with -EBADMSG, and every accepted filter evaluates
 * (ASan watches). */
static void policy_garbage(void **state)
{
	const char *rows[][5] = {{"c", "x", "d", "y", NULL}, {"c", "%", NULL}, {NULL}};
	size_t accepted = 0;

	test_seed();
	for (int i = 0; i < 20000; i++) {
		char buf[4096];
		struct policy p;
		char err[128];

		snprintf(buf, sizeof(buf), "%s READ ON t.* WHERE", rnd_next() % 2 ? "ALLOW" : "DENY");
		random_filter(buf, sizeof(buf), (int)(rnd_next() % 7));
		if (rnd_next() % 3 == 0) {
			size_t len = strlen(buf);
			snprintf(buf + len, sizeof(buf) - len, " %s",
				 filter_junk[rnd_next() % (sizeof(filter_junk) / sizeof(filter_junk[0]))]);
		} else if (rnd_next() % 5 == 0) {
			buf[rnd_next() % (strlen(buf) + 1)] = '\0';
		}
		int r = policy_parse(buf, &p, err, sizeof(err));
		assert_true(r == 0 || r == -EBADMSG);
		if (r == 0) {
			accepted++;
			for (size_t k = 0; k < 3; k++)
				(void)policy_where_eval(&p, kv_get, (void *)rows[k]);
		}
		policy_clear(&p);
	}
	fprintf(stderr, "policy_garbage: %zu of 20000 accepted\n", accepted);
	assert_true(accepted > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cel_conditions), cmocka_unit_test(cel_rejects),
		cmocka_unit_test(policies),	  cmocka_unit_test(row_filters),
		cmocka_unit_test(policy_garbage),
		cmocka_unit_test(masks),	  cmocka_unit_test(base64url),
		cmocka_unit_test(jwt_guards),	  cmocka_unit_test(config_validation),
	};
	return cmocka_run_group_tests_name("emulator_unit", tests, NULL, NULL);
}

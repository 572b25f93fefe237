/* auth: Skyflow's service-account token endpoint (jwt-bearer grant), the STS token exchange
 * (RFC 8693), and validation of the bearer tokens the emulator issues. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu.h"
#include "util.h"

#define GRANT_JWT_BEARER "urn:ietf:params:oauth:grant-type:jwt-bearer"
#define GRANT_EXCHANGE   "urn:ietf:params:oauth:grant-type:token-exchange"
#define TOKEN_TYPE_JWT   "urn:ietf:params:oauth:token-type:jwt"
#define ISSUED_TTL       3600
#define LEEWAY           5

/* A JSON number claim as seconds, or -1 when absent or not a number. */
static long claim_time(json_t *claims, const char *name)
{
	json_t *v = json_object_get(claims, name);
	if (json_is_integer(v))
		return (long)json_integer_value(v);
	if (json_is_real(v))
		return (long)json_real_value(v);
	return -1;
}

/* Adds to who every role assigned to sa_id whose condition holds for ctx; when scope_roles
 * (borrowed array of role indexes, may be NULL) is given, only those. */
static void grant_roles(struct emu *emu, const char *sa_id, json_t *ctx, json_t *scope_roles,
			struct principal *who)
{
	who->nroles = 0;
	for (size_t i = 0; i < emu->cfg->nassignments; i++) {
		const struct assignment *a = &emu->cfg->assignments[i];
		bool dup = false;
		if (strcmp(a->sa_id, sa_id) != 0 || !cel_eval(a->cond, ctx))
			continue;
		if (scope_roles) {
			bool wanted = false;
			size_t k;
			json_t *r;
			json_array_foreach(scope_roles, k, r)
				wanted |= (size_t)json_integer_value(r) == a->role;
			if (!wanted)
				continue;
		}
		for (size_t k = 0; k < who->nroles; k++)
			dup |= who->roles[k] == a->role;
		if (!dup && who->nroles < PRINCIPAL_MAX_ROLES)
			who->roles[who->nroles++] = a->role;
	}
}

/* Issues a Skyflow bearer token. ctx (borrowed, may be NULL) goes into the "ctx" claim. */
static int issue_token(struct emu *emu, const char *mode, const char *subject, json_t *ctx,
		       const struct principal *who, long exp, char **ret)
{
	json_t *claims, *roles = json_array();
	struct sbuf scope;
	char jti[37];
	time_t now = emu_now();
	int r;

	sbuf_init(&scope, 4096);
	for (size_t i = 0; i < who->nroles; i++) {
		const char *id = emu->cfg->roles[who->roles[i]].id;
		json_array_append_new(roles, json_string(id));
		if (i)
			sbuf_puts(&scope, " ");
		sbuf_puts(&scope, "role:");
		sbuf_puts(&scope, id);
	}
	emu_uuid(jti);
	claims = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:o, s:s}", "iss",
			   emu->token_issuer, "aud", emu->base_url, "sub", emu->cfg->sa_id,
			   "clientID", emu->cfg->sa_id, "clientName", emu->cfg->sa_name, "keyID",
			   emu->state->sa_key_id, "iat", (json_int_t)now, "exp", (json_int_t)exp,
			   "jti", jti, "scope", scope.p ? scope.p : "", "emu_roles", roles,
			   "auth_mode", mode);
	sbuf_free(&scope);
	if (!claims)
		return -ENOMEM;
	if (ctx)
		json_object_set(claims, "ctx", ctx);
	if (subject)
		json_object_set_new(claims, "subject", json_string(subject));
	r = jwt_sign_rs256(emu->state->issuer_key, 1, claims, ret);
	json_decref(claims);
	return r;
}

/* Parses "role:<id> role:<id>" (surrounding and repeated whitespace tolerated) into role
 * indexes. Returns 0, -EBADMSG (format) or -ENOENT (unknown role). */
static int parse_scope(struct emu *emu, const char *scope, json_t **ret)
{
	json_t *out = json_array();
	const char *p = scope;

	*ret = NULL;
	for (;;) {
		char word[160];
		size_t n = 0;
		int idx;
		while (*p && isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		while (p[n] && !isspace((unsigned char)p[n]))
			n++;
		if (n >= sizeof(word) || n <= 5 || strncmp(p, "role:", 5) != 0) {
			json_decref(out);
			return -EBADMSG;
		}
		memcpy(word, p + 5, n - 5);
		word[n - 5] = '\0';
		p += n;
		idx = config_role_index(emu->cfg, word);
		if (idx < 0) {
			json_decref(out);
			return -ENOENT;
		}
		bool dup = false;
		size_t k;
		json_t *have;
		json_array_foreach(out, k, have)
			dup |= json_integer_value(have) == idx;
		if (!dup)
			json_array_append_new(out, json_integer(idx));
	}
	*ret = out;
	return 0;
}

void handle_sa_token(struct emu *emu, const struct emu_request *req, struct emu_response *resp)
{
	json_t *body = req_json_body(req, resp), *claims = NULL, *scope_roles = NULL, *ctx;
	const char *grant, *assertion, *scope, *iss, *sub, *key, *aud;
	struct principal who;
	char *token = NULL;
	time_t now = emu_now();
	long exp;
	int r;

	if (!body)
		return;
	grant = json_string_value(json_object_get(body, "grant_type"));
	assertion = json_string_value(json_object_get(body, "assertion"));
	scope = json_string_value(json_object_get(body, "scope"));
	if (!grant || strcmp(grant, GRANT_JWT_BEARER) != 0) {
		resp_error(resp, 400, "Invalid grant_type: expected %s", GRANT_JWT_BEARER);
		goto out;
	}
	if (!assertion || !*assertion) {
		resp_error(resp, 400, "Missing assertion");
		goto out;
	}
	if (json_object_get(body, "scope") && !scope) {
		resp_error(resp, 400, "Scopes in request token in wrong format");
		goto out;
	}
	r = jwt_verify_rs256(assertion, emu->state->sa_key, &claims);
	if (r < 0) {
		resp_error(resp, 401, r == -EKEYREJECTED ? "Error: Invalid JWT signature"
							 : "Key expired or JWT token unparseable");
		goto out;
	}
	iss = json_string_value(json_object_get(claims, "iss"));
	sub = json_string_value(json_object_get(claims, "sub"));
	key = json_string_value(json_object_get(claims, "key"));
	aud = json_string_value(json_object_get(claims, "aud"));
	exp = claim_time(claims, "exp");
	if (!iss || !sub || strcmp(iss, emu->cfg->sa_id) || strcmp(sub, emu->cfg->sa_id)) {
		resp_error(resp, 401, "Error: iss and sub must be the service account's clientID");
		goto out;
	}
	if (!key || strcmp(key, emu->state->sa_key_id)) {
		resp_error(resp, 401, "Error: key does not match the service account's keyID");
		goto out;
	}
	if (!aud || strcmp(aud, emu->token_uri)) {
		resp_error(resp, 401, "Error: Invalid audience; aud must be the token URI");
		goto out;
	}
	if (exp < 0 || exp + LEEWAY < now) {
		resp_error(resp, 401, "Error: JWT token expired");
		goto out;
	}
	if (now < emu->state->sa_valid_after - LEEWAY || now > emu->state->sa_valid_before) {
		resp_error(resp, 401, "Error: Key expired, consider rotating.");
		goto out;
	}
	if (scope) {
		r = parse_scope(emu, scope, &scope_roles);
		if (r == -EBADMSG) {
			resp_error(resp, 400, "Scopes in request token in wrong format");
			goto out;
		}
		if (r < 0) {
			resp_error(resp, 403, "Requested role is not assigned to the service account");
			goto out;
		}
	}
	ctx = json_object_get(claims, "ctx");
	if (ctx && json_is_string(ctx) && !*json_string_value(ctx))
		ctx = NULL;
	grant_roles(emu, emu->cfg->sa_id, ctx, scope_roles, &who);
	if (scope_roles && who.nroles < json_array_size(scope_roles)) {
		resp_error(resp, 403, "Requested role is not assigned to the service account");
		goto out;
	}
	r = issue_token(emu, "SA", NULL, ctx, &who, (long)now + ISSUED_TTL, &token);
	if (r < 0) {
		resp_error(resp, 500, "Internal Server Error");
		goto out;
	}
	resp_json(resp, 200, json_pack("{s:s, s:s}", "accessToken", token, "tokenType", "Bearer"));
out:
	emu_free_secret(token);
	json_decref(scope_roles);
	json_decref(claims);
	json_decref(body);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes application/x-www-form-urlencoded into a JSON object of strings (first value wins).
 * NULL on malformed input. */
static json_t *parse_form(const char *s, size_t len)
{
	json_t *out = json_object();
	size_t i = 0;

	while (i < len) {
		struct sbuf k, v, *cur = &k;
		sbuf_init(&k, EMU_MAX_BODY);
		sbuf_init(&v, EMU_MAX_BODY);
		for (; i < len && s[i] != '&'; i++) {
			char c = s[i];
			if (c == '=' && cur == &k) {
				cur = &v;
				continue;
			}
			if (c == '+')
				c = ' ';
			else if (c == '%') {
				int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
				int lo = i + 2 < len ? hexval(s[i + 2]) : -1;
				if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
					sbuf_free(&k);
					sbuf_free(&v);
					json_decref(out);
					return NULL;
				}
				c = (char)(hi * 16 + lo);
				i += 2;
			} else if (c == '\0') {
				sbuf_free(&k);
				sbuf_free(&v);
				json_decref(out);
				return NULL;
			}
			sbuf_append(cur, &c, 1);
		}
		i++; /* '&' */
		if (k.p && !json_object_get(out, k.p)) {
			json_t *val = json_string(v.p ? v.p : "");
			if (!val) { /* not UTF-8 */
				sbuf_free(&k);
				sbuf_free(&v);
				json_decref(out);
				return NULL;
			}
			json_object_set_new(out, k.p, val);
		}
		sbuf_free(&k);
		sbuf_free(&v);
	}
	return out;
}

static bool json_array_has_string(json_t *arr, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), s))
			return true;
	return false;
}

static bool audience_matches(json_t *aud, const char *want)
{
	if (json_is_string(aud))
		return !strcmp(json_string_value(aud), want);
	return json_is_array(aud) && json_array_has_string(aud, want);
}

void handle_sts_token(struct emu *emu, const struct emu_request *req, struct emu_response *resp)
{
	json_t *body = NULL, *header = NULL, *unverified = NULL, *claims = NULL, *ctx = NULL;
	const char *grant, *subject, *stype, *sa_id, *iss, *drn;
	const struct sts_config *cfg = NULL;
	struct principal who;
	char *token = NULL;
	time_t now = emu_now();
	long exp, nbf;
	int r;

	/* JSON is the documented encoding; the Descope example sends a form. A form content type
	 * with a JSON object body (curl -d) is read as JSON. */
	if (req->content_type &&
	    !strncmp(req->content_type, "application/x-www-form-urlencoded", 33) &&
	    !(req->body_len && req->body[0] == '{')) {
		body = parse_form(req->body, req->body_len);
		if (!body) {
			resp_error(resp, 400, "Invalid request body: malformed form encoding");
			return;
		}
	} else {
		body = req_json_body(req, resp);
		if (!body)
			return;
	}
	grant = json_string_value(json_object_get(body, "grant_type"));
	subject = json_string_value(json_object_get(body, "subject_token"));
	stype = json_string_value(json_object_get(body, "subject_token_type"));
	sa_id = json_string_value(json_object_get(body, "service_account_id"));
	if (!grant || strcmp(grant, GRANT_EXCHANGE)) {
		resp_error(resp, 400, "Invalid grant_type: expected %s", GRANT_EXCHANGE);
		goto out;
	}
	if (!subject || !*subject) {
		resp_error(resp, 400, "Missing subject_token");
		goto out;
	}
	if (!stype || strcmp(stype, TOKEN_TYPE_JWT)) {
		resp_error(resp, 400, "Invalid subject_token_type: expected %s", TOKEN_TYPE_JWT);
		goto out;
	}
	if (json_object_get(body, "service_account_id") && !sa_id) {
		resp_error(resp, 400, "Invalid service_account_id");
		goto out;
	}
	if (sa_id && strcmp(sa_id, emu->cfg->sa_id)) {
		resp_error(resp, 404, "Service account not found");
		goto out;
	}
	/* The STS config is chosen by the token's (unverified) issuer and the service account;
	 * the signature is checked next, against the issuer's keys. */
	r = jwt_peek(subject, &header, &unverified);
	if (r < 0) {
		resp_error(resp, 401, "Invalid subject token: JWT token unparseable");
		goto out;
	}
	iss = json_string_value(json_object_get(unverified, "iss"));
	for (size_t i = 0; iss && i < emu->cfg->nsts; i++) {
		const struct sts_config *c = &emu->cfg->sts[i];
		if (strcmp(c->issuer, iss))
			continue;
		if (json_array_size(c->sa_ids) &&
		    !json_array_has_string(c->sa_ids, sa_id ? sa_id : emu->cfg->sa_id))
			continue;
		cfg = c;
		break;
	}
	if (!cfg) {
		resp_error(resp, 400, "No STS configuration for this issuer and service account");
		goto out;
	}
	r = state_descope_verify(emu->state, subject, &claims);
	if (r < 0) {
		resp_error(resp, 401, "Invalid subject token: signature verification failed");
		goto out;
	}
	exp = claim_time(claims, "exp");
	nbf = claim_time(claims, "nbf");
	drn = json_string_value(json_object_get(claims, "drn"));
	if (exp < 0 || exp + LEEWAY <= now) {
		resp_error(resp, 401, "Invalid subject token: token expired");
		goto out;
	}
	if (nbf >= 0 && nbf - LEEWAY > now) {
		resp_error(resp, 401, "Invalid subject token: token not yet valid");
		goto out;
	}
	if (drn && !strcmp(drn, "DSR")) {
		resp_error(resp, 401, "Invalid subject token: refresh tokens are not accepted");
		goto out;
	}
	if (cfg->audience && !audience_matches(json_object_get(claims, "aud"), cfg->audience)) {
		resp_error(resp, 401, "Invalid subject token: audience mismatch");
		goto out;
	}
	ctx = json_object();
	{
		size_t i;
		json_t *name;
		json_array_foreach(cfg->context_claims, i, name) {
			json_t *v = json_is_string(name)
					    ? json_object_get(claims, json_string_value(name))
					    : NULL;
			if (v)
				json_object_set(ctx, json_string_value(name), v);
		}
	}
	grant_roles(emu, emu->cfg->sa_id, ctx, NULL, &who);
	if (exp > (long)now + ISSUED_TTL)
		exp = (long)now + ISSUED_TTL;
	r = issue_token(emu, "STS", json_string_value(json_object_get(claims, "sub")), ctx, &who,
			exp, &token);
	if (r < 0) {
		resp_error(resp, 500, "Internal Server Error");
		goto out;
	}
	resp_json(resp, 200, json_pack("{s:s, s:s, s:s}", "accessToken", token, "issuedTokenType",
				       TOKEN_TYPE_JWT, "tokenType", "Bearer"));
out:
	emu_free_secret(token);
	json_decref(ctx);
	json_decref(claims);
	json_decref(header);
	json_decref(unverified);
	json_decref(body);
}

int auth_bearer(struct emu *emu, const struct emu_request *req, struct emu_response *resp,
		struct principal *who)
{
	static const char unauth[] =
		"The request is unauthorized. Make sure you have a valid access token.";
	const char *h = req->authorization, *tok;
	json_t *claims = NULL, *roles;
	size_t i;
	json_t *r;
	int ret;

	who->nroles = 0;
	if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
		resp_error(resp, 401, "%s", unauth);
		return -EACCES;
	}
	tok = h + 7;
	while (*tok == ' ')
		tok++;
	ret = jwt_verify_rs256(tok, emu->state->issuer_key, &claims);
	if (ret < 0) {
		resp_error(resp, 401, "%s", unauth);
		return -EKEYREJECTED;
	}
	const char *iss = json_string_value(json_object_get(claims, "iss"));
	long exp = claim_time(claims, "exp");
	if (!iss || strcmp(iss, emu->token_issuer)) {
		json_decref(claims);
		resp_error(resp, 401, "%s", unauth);
		return -EKEYREJECTED;
	}
	if (exp < 0 || exp <= (long)emu_now()) {
		json_decref(claims);
		resp_error(resp, 401, "Token expired. %s", unauth);
		return -EKEYEXPIRED;
	}
	roles = json_object_get(claims, "emu_roles");
	json_array_foreach(roles, i, r) {
		int idx = json_is_string(r) ? config_role_index(emu->cfg, json_string_value(r)) : -1;
		if (idx >= 0 && who->nroles < PRINCIPAL_MAX_ROLES)
			who->roles[who->nroles++] = (size_t)idx;
	}
	json_decref(claims);
	return 0;
}

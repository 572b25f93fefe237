/* descope: the Descope side — JWKS publication and test-only token minting and key rotation. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu.h"
#include "util.h"

void handle_jwks(struct emu *emu, const struct emu_request *req, struct emu_response *resp,
		 const char *project)
{
	if (strcmp(project, emu->cfg->project_id) != 0) {
		resp_error(resp, 404, "Project not found");
		return;
	}
	resp_json(resp, 200, state_jwks(emu->state));
}

static bool is_string_array(json_t *a)
{
	size_t i;
	json_t *v;
	if (!json_is_array(a))
		return false;
	json_array_foreach(a, i, v)
		if (!json_is_string(v))
			return false;
	return true;
}

/* Builds the claims of a Descope session token from the mint request. Shapes follow
 * descope-and-mcp.md §1.2: iss (bare project id by default), sub, iat, exp, drn, amr, rexp,
 * roles, permissions, tenants, aud when given, then "claims" merged over the top. */
static json_t *mint_claims(struct emu *emu, json_t *body, struct emu_response *resp)
{
	json_t *sub = json_object_get(body, "sub"), *v, *claims;
	time_t now = emu_now();
	json_int_t exp_in = 600;
	char rexp[32];

	if (!json_is_string(sub) || !*json_string_value(sub)) {
		resp_error(resp, 400, "sub is required");
		return NULL;
	}
	v = json_object_get(body, "exp_in");
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < -1000000000 ||
		    json_integer_value(v) > 1000000000) {
			resp_error(resp, 400, "exp_in must be an integer number of seconds");
			return NULL;
		}
		exp_in = json_integer_value(v);
	}
	emu_iso8601(now + 28 * 24 * 3600, rexp);
	rexp[19] = 'Z'; /* Descope writes rexp without fractional seconds */
	rexp[20] = '\0';
	claims = json_pack("{s:s, s:O, s:I, s:I, s:s, s:[s], s:s}", "iss",
			   emu->cfg->descope_issuer, "sub", sub, "iat", (json_int_t)now, "exp",
			   (json_int_t)now + exp_in, "drn", "DS", "amr", "email", "rexp", rexp);
	if (!claims) {
		resp_error(resp, 500, "Internal Server Error");
		return NULL;
	}
	v = json_object_get(body, "iss");
	if (v) {
		if (!json_is_string(v))
			goto bad;
		json_object_set(claims, "iss", v);
	}
	v = json_object_get(body, "drn");
	if (v) {
		if (!json_is_string(v))
			goto bad;
		json_object_set(claims, "drn", v);
	}
	const char *arrays[] = {"roles", "permissions"};
	for (size_t i = 0; i < 2; i++) {
		v = json_object_get(body, arrays[i]);
		if (v) {
			if (!is_string_array(v))
				goto bad;
			json_object_set(claims, arrays[i], v);
		}
	}
	v = json_object_get(body, "tenants");
	if (v) {
		if (!json_is_object(v))
			goto bad;
		json_object_set(claims, "tenants", v);
	}
	v = json_object_get(body, "aud");
	if (v) {
		if (!json_is_string(v) && !is_string_array(v))
			goto bad;
		json_object_set(claims, "aud", v);
	}
	v = json_object_get(body, "nbf");
	if (v) {
		json_int_t n;
		if (!json_is_integer(v))
			goto bad;
		/* small values are offsets from now, large ones absolute NumericDates */
		n = json_integer_value(v);
		if (n > -1000000000 && n < 1000000000)
			n += (json_int_t)now;
		json_object_set_new(claims, "nbf", json_integer(n));
	}
	v = json_object_get(body, "claims");
	if (v) {
		if (!json_is_object(v))
			goto bad;
		json_object_update(claims, v);
	}
	return claims;
bad:
	json_decref(claims);
	resp_error(resp, 400, "Invalid token request: wrong type for a field");
	return NULL;
}

void handle_descope_token(struct emu *emu, const struct emu_request *req,
			  struct emu_response *resp)
{
	json_t *body = req_json_body(req, resp), *claims;
	char *token = NULL;

	if (!body)
		return;
	claims = mint_claims(emu, body, resp);
	json_decref(body);
	if (!claims)
		return;
	if (state_descope_sign(emu->state, claims, &token) < 0) {
		resp_error(resp, 500, "Internal Server Error");
	} else {
		resp_json(resp, 200, json_pack("{s:s}", "token", token));
	}
	json_decref(claims);
	emu_free_secret(token);
}

void handle_descope_rotate(struct emu *emu, const struct emu_request *req,
			   struct emu_response *resp)
{
	json_t *body = NULL;
	char kid[64];
	int drop_old = 0;

	if (req->body_len) {
		body = req_json_body(req, resp);
		if (!body)
			return;
		drop_old = json_is_true(json_object_get(body, "drop_old"));
		json_decref(body);
	}
	if (state_descope_rotate(emu->state, drop_old, kid) < 0) {
		resp_error(resp, 500, "Internal Server Error");
		return;
	}
	log_info("Descope signing key rotated: new kid %s%s", kid, drop_old ? ", old keys dropped" : "");
	resp_json(resp, 200, json_pack("{s:s}", "kid", kid));
}

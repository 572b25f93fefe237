/* emu: the emulator's shared context, the request/response types the handlers see, and the
 * handler entry points. The HTTP glue (server.c) owns the sockets, faults and counters; the
 * handlers only read a request and fill a response. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "state.h"

struct emu_store;

struct emu {
	struct emu_config *cfg;   /* immutable after start */
	struct emu_state *state;
	struct emu_store *store;
	char base_url[128];       /* "https://127.0.0.1:PORT" */
	char token_uri[192];      /* base_url + "/v1/auth/sa/oauth/token" */
	char token_issuer[160];   /* iss of the Skyflow tokens we issue */
};

struct emu_arg {
	char *key;
	char *value; /* "" when the parameter had no value */
};

struct emu_request {
	const char *method;
	const char *path;          /* percent-decoded by the HTTP library */
	const char *raw_path;      /* as sent (NULL: unknown): split on '/' before decoding, so a
				    * segment may hold an encoded '/' (%2F) */
	struct emu_arg *args;      /* query parameters, repeats kept, in order */
	size_t nargs;
	const char *authorization; /* NULL if absent */
	const char *content_type;  /* NULL if absent */
	const char *body;          /* NUL-terminated, may contain NULs before body_len */
	size_t body_len;
	char *segs[8];             /* path segments (borrowed into a copy owned by the glue) */
	size_t nsegs;
};

struct emu_response {
	unsigned status;
	char *body;               /* malloc'd */
	const char *content_type; /* static string */
};

/* Response helpers. resp_json takes ownership of j. */
void resp_json(struct emu_response *resp, unsigned status, json_t *j);
void resp_error(struct emu_response *resp, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Skyflow's error object for a status and message (new reference). */
json_t *skyflow_error_json(unsigned status, const char *message);

/* The first value of a query parameter, or NULL. */
const char *req_arg(const struct emu_request *req, const char *name);
/* Parses the body as a JSON object. On failure fills a 400 and returns NULL. */
json_t *req_json_body(const struct emu_request *req, struct emu_response *resp);

/* Who a Skyflow bearer token speaks for. */
#define PRINCIPAL_MAX_ROLES 32
struct principal {
	size_t roles[PRINCIPAL_MAX_ROLES];
	size_t nroles;
};

/* auth.c */
void handle_sa_token(struct emu *emu, const struct emu_request *req, struct emu_response *resp);
void handle_sts_token(struct emu *emu, const struct emu_request *req, struct emu_response *resp);
/* Validates "Authorization: Bearer <token>" issued by this emulator. On failure fills a 401
 * and returns a negative errno. */
int auth_bearer(struct emu *emu, const struct emu_request *req, struct emu_response *resp,
		struct principal *who);

/* descope.c */
void handle_jwks(struct emu *emu, const struct emu_request *req, struct emu_response *resp,
		 const char *project);
void handle_descope_token(struct emu *emu, const struct emu_request *req,
			  struct emu_response *resp);
void handle_descope_rotate(struct emu *emu, const struct emu_request *req,
			   struct emu_response *resp);

/* store.c / vault.c */
int store_new(const struct emu_config *cfg, struct emu_store **ret);
void store_free(struct emu_store *s);
void handle_vault(struct emu *emu, const struct emu_request *req, struct emu_response *resp);

/* harness: starts skyflow-emulator over HTTPS (test CA from tests/tls/mkca.sh) in a fresh
 * temporary directory, and small libcurl/jansson helpers for the emulator tests. */
#pragma once

#include <curl/curl.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct emu_proc {
	pid_t pid;
	char dir[1024];           /* temporary root: tls/, state/ */
	char state_dir[PATH_MAX];
	char ca[PATH_MAX];
	char url[128];            /* https://127.0.0.1:PORT */
	unsigned port;
	char vault_id[64];
	char project_id[64];
	char sa_id[64];
	char vault_path[160];     /* /v1/vaults/<vault_id> */
	bool plain_http;          /* set before harness_spawn: no --tls-cert/--tls-key */
};

struct http_resp {
	long status;
	char *body;
	size_t len;
	char request_id[64];
	char content_type[128];
	CURLcode rc;
	double seconds;
};

/* Makes the temp dir and CA. Returns 0 or -1. */
int harness_init(struct emu_proc *e);
/* Starts the emulator with config (NULL: demo.json) and waits for its ready line. */
int harness_spawn(struct emu_proc *e, const char *config);
/* SIGTERM and wait; returns the exit status (0 is a clean, leak-free exit under ASan). */
int harness_kill(struct emu_proc *e);
void harness_cleanup(struct emu_proc *e);
/* init + spawn(demo.json). */
int harness_start(struct emu_proc *e);
/* kill + cleanup; returns the exit status. */
int harness_stop(struct emu_proc *e);

/* When set, http_req opens a fresh connection (libcurl silently retries a request once when
 * a reused connection closes before replying, which would hide a dropped connection). */
extern bool harness_fresh_connect;

/* When set, http_req sends this header line ("Name: value") too. */
extern const char *harness_extra_header;

/* One HTTP request to path (starting with "/"). bearer and content_type may be NULL; body
 * may be NULL. out->body is malloc'd (http_resp_free). Returns out->rc. */
CURLcode http_req(struct emu_proc *e, const char *method, const char *path, const char *bearer,
		  const char *content_type, const char *body, struct http_resp *out);
void http_resp_free(struct http_resp *r);
/* http_req with a JSON body (NULL: none) and the JSON response parsed (NULL if not JSON). */
json_t *http_json(struct emu_proc *e, const char *method, const char *path, const char *bearer,
		  json_t *body, long *status);

/* Mints a Descope token; spec is borrowed. Returns malloc'd token or NULL. */
char *mint_descope(struct emu_proc *e, json_t *spec);
/* Descope token for sub "U1" with the given roles (NULL-terminated), then STS exchange.
 * Returns the Skyflow access token (malloc'd) or NULL. */
char *sts_token_for(struct emu_proc *e, const char *role, ...);
/* STS exchange of a subject token; fills status and returns parsed body. */
json_t *sts_exchange(struct emu_proc *e, const char *subject, const char *sa_id, long *status);

/* Asserts a Skyflow-shaped error body with this status; returns the message (borrowed from
 * j) for further checks. Fails the cmocka test otherwise. */
const char *assert_skyflow_error(json_t *j, long status);

/* Decodes the payload (or header) of a JWT without verifying. New reference or NULL. */
json_t *jwt_payload(const char *token);
json_t *jwt_header(const char *token);

/* Random helpers seeded from EMU_TEST_SEED or getrandom (the seed is printed). */
uint64_t test_seed(void);
uint64_t rnd_next(void);

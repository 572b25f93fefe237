/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "proto/message.h"
#include "tenancy/config.h"
#include "util/error.h"
#include "vault/policy.h"

/*
 * The Skyflow Data API call for one vault request (reference: Skyflow's "Data API"):
 *
 *   get_records     GET    {vault_url}/v1/vaults/{vault_id}/{table}?skyflow_ids=..&..
 *   get_record      GET    .../{table}/{skyflow_id}?redaction=..&fields=..
 *   insert_records  POST   .../{table}             {"records":[{"fields":{..}}],..}
 *   update_record   PUT    .../{table}/{skyflow_id} {"record":{"fields":{..}}},..}
 *   delete_records  DELETE .../{table}             {"skyflow_ids":[..]}
 *   detokenize      POST   .../detokenize          {"detokenizationParameters":[..],..}
 *   tokenize        POST   .../tokenize            {"tokenizationParameters":[..]}
 *   query           POST   .../query               {"query":".."}
 *
 * Path segments (vault id, table, record id) are percent-encoded one by one (every byte but
 * RFC 3986's unreserved ones, so '/', '?', '%', '#', spaces and non-ASCII reach Skyflow as
 * the segment they are), and the URL is assembled and checked with libcurl's URL API, query
 * values encoded by it too. The URL (its query may hold column values) and the body (record
 * values) are secrets: wiped when released.
 */

struct vault_http {
	const char *method; /* static string */
	char *url;          /* owned, wiped */
	char *body;         /* owned JSON text, wiped; NULL: no body */
	size_t body_len;
	bool idempotent;    /* safe for upstream's one retry */
};

/* Builds the call for req under plan (vault_policy_apply's). Returns 0, or -EBADMSG with err
 * set (a value JSON cannot carry, a URL libcurl refuses), -ENOMEM. */
int vault_http_build(const struct tenant_config *tc, const struct sb_request *req,
		     const struct vault_plan *plan, struct vault_http *out,
		     struct error_detail *err);

/* Wipes and frees h's URL and body; h is left empty. */
void vault_http_done(struct vault_http *h);

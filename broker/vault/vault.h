/* SPDX-License-Identifier: MIT */
#pragma once

#include <systemd/sd-event.h>

#include "upstream/upstream.h"

/*
 * The vault operations (PROTOCOL.md 7.6 to 7.13): get_records, get_record, insert_records,
 * update_record, delete_records, detokenize, tokenize and query, on behalf of the user whose
 * subject token the request carries. For each request:
 *
 *   1. the tenant's policy (vault/policy.h): refused here with no upstream call and no token
 *      work at all, or the redaction lowered to the tenant's ceiling;
 *   2. the Skyflow call built (vault/http.h);
 *   3. a user-scoped Skyflow token from the token service (tokens/tokensvc.h: validation,
 *      cache, single-flight exchange);
 *   4. the call, on the daemon's upstream handle (libcurl multi on the event loop), with
 *      that token as the bearer. A 401 drops the token from the cache and tries once more
 *      with a fresh exchange (a token revoked or rotated before its expiry);
 *   5. the answer streamed into the reply as msgpack, or its status mapped to an error code
 *      with Skyflow's message (sanitised) and X-Request-ID.
 *
 * Nothing is cached or logged of a record: the URL, the body, the answer and the reply are
 * wiped when freed. The audit line gets the table, the record count, the upstream status and
 * the request id.
 */

/* Registers the eight handlers (modules.c). upstream is borrowed until vault_module_done. */
int vault_module_init(sd_event *event, struct upstream *upstream);
void vault_module_done(void);

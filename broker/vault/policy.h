/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "proto/message.h"
#include "tenancy/config.h"
#include "util/error.h"

/*
 * The tenant's policy over a vault request, applied before anything goes upstream (and before
 * the subject token is even validated, so a refused request costs no crypto either):
 *
 *  - table allow-list (allow_tables; empty allows every table): the request's table, or for
 *    `query` every table its SQL names after FROM or JOIN. A query the checker cannot read
 *    with certainty (a comment, a second statement, a subquery in FROM) is refused while the
 *    tenant has an allow-list: forbidden, never a guess;
 *  - redaction ceiling (max_redaction, ordered DEFAULT < REDACTED < MASKED < PLAIN_TEXT): a
 *    request above it is lowered to it, and the reply says so (redaction_capped);
 *  - the arguments Skyflow would refuse, refused here without a round trip: limit 0,
 *    column_name with skyflow_ids, column_name without column_values (and the reverse), empty
 *    lists, delete's "*" (every row: not accepted through the broker, list the ids).
 *
 * The operation allow-list itself (allow_operations) is the dispatch gate's (runtime/).
 */

struct vault_plan {
	const char *table;     /* the table for the audit line (query: the first one), or NULL */
	const char *redaction; /* the level to ask Skyflow for (a sb_redaction_names entry), or
				* NULL when the request names none */
	bool redaction_capped; /* the tenant's ceiling lowered what the client asked */
};

/* Checks req (a vault operation) against tc and fills plan. Returns 0, or -EACCES (forbidden)
 * / -EBADMSG (bad_request) with err's message naming what to change. */
int vault_policy_apply(const struct tenant_config *tc, const struct sb_request *req,
		       struct vault_plan *plan, struct error_detail *err);

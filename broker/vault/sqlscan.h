/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Which tables a Skyflow SQL query reads, for a tenant with allow_tables. Not a SQL parser:
 * a scan that accounts for every table reference of the plain SELECT subset Skyflow documents
 * (SELECT ... FROM t [alias] [, t2 ...] [[INNER|LEFT|RIGHT|FULL|CROSS|NATURAL] [OUTER] JOIN t3
 * [alias] ON ...] WHERE ... [GROUP BY|ORDER BY|HAVING|LIMIT|OFFSET ...], subqueries in
 * parentheses, literals and quoted identifiers) and refuses the rest. Its one rule: anything
 * it cannot account for is refused, never skipped. Refused:
 *
 *  - comments (--, #, / *), a second statement, unbalanced parentheses;
 *  - a backslash or '$' anywhere, a prefixed literal (E'..', N'..', X'..'), a non-ASCII byte
 *    outside a literal or quoted identifier: dialects read those differently;
 *  - TABLE, UNION, INTERSECT, EXCEPT, WITH, VALUES, LATERAL, STRAIGHT_JOIN, USE, FORCE, IGNORE,
 *    INTO, UNNEST: ways to name a table outside FROM/JOIN, or not in Skyflow's subset;
 *  - after FROM, JOIN or a comma of a FROM list: anything but a table name (a parenthesis, a
 *    literal, a qualified name a.b); after a table and its alias, anything but a comma, a
 *    JOIN word, ON, USING, a clause keyword, ')' or the end.
 *
 * A FROM list runs, at its own parenthesis depth, until WHERE, GROUP, ORDER, HAVING, LIMIT,
 * OFFSET or its closing parenthesis: a comma there, also after an ON condition, starts
 * another table reference.
 */

/*
 * Calls fn for every table sql names (name: a NUL-terminated copy, quotes removed; borrowed
 * for the call). fn returns 0 to go on or a negative errno to stop. Returns 0, fn's error,
 * or -EBADMSG with *why set to what could not be accounted for.
 */
int vault_query_tables(const char *sql, int (*fn)(const char *name, void *userdata),
		       void *userdata, const char **why);

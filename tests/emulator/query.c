/* query: POST /v1/vaults/{vault_id}/query, a SELECT subset (README.md):
 * SELECT cols|* FROM t [WHERE c = 'v' [AND ...]] [LIMIT n] [OFFSET n] [;] */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "emu.h"
#include "store.h"
#include "util.h"

struct qlex {
	const char *s;
	size_t pos, len;
	int kind; /* 0 end, 'w' word, 's' string, 'n' number, else the punctuation char */
	char text[256];
};

static int qnext(struct qlex *q)
{
	size_t n = 0;

	while (q->pos < q->len && isspace((unsigned char)q->s[q->pos]))
		q->pos++;
	q->text[0] = '\0';
	if (q->pos >= q->len)
		return q->kind = 0;
	char c = q->s[q->pos];
	if (c == '\'' || c == '"') {
		char quote = c;
		q->pos++;
		for (;;) {
			if (q->pos >= q->len || n + 1 >= sizeof(q->text))
				return q->kind = -1;
			c = q->s[q->pos++];
			if (c == quote) {
				if (q->pos < q->len && q->s[q->pos] == quote)
					q->pos++;
				else
					break;
			}
			q->text[n++] = c;
		}
		q->text[n] = '\0';
		return q->kind = 's';
	}
	if (isalnum((unsigned char)c) || c == '_' || c == '*') {
		bool digits = true;
		while (q->pos < q->len) {
			c = q->s[q->pos];
			if (!(isalnum((unsigned char)c) || c == '_' || c == '.' || c == '*'))
				break;
			if (n + 1 >= sizeof(q->text))
				return q->kind = -1;
			digits &= isdigit((unsigned char)c) != 0;
			q->text[n++] = c;
			q->pos++;
		}
		q->text[n] = '\0';
		return q->kind = digits ? 'n' : 'w';
	}
	q->pos++;
	q->text[0] = c;
	q->text[1] = '\0';
	return q->kind = (unsigned char)c;
}

static bool qkw(const struct qlex *q, const char *kw)
{
	return q->kind == 'w' && !strcasecmp(q->text, kw);
}

/* Strips an optional "table." qualifier that must name the queried table. */
static const char *qcol(const char *word, const char *table)
{
	const char *dot = strchr(word, '.');
	if (!dot)
		return word;
	if ((size_t)(dot - word) != strlen(table) || strncmp(word, table, (size_t)(dot - word)))
		return NULL;
	return dot + 1;
}

void vault_query(struct emu *emu, const struct emu_request *req, struct emu_response *resp,
		  const struct principal *who)
{
	json_t *body = req_json_body(req, resp), *cols = json_array(), *wcols = json_array(),
	       *wvals = json_array(), *records = NULL;
	const char *sql;
	struct qlex q = {0};
	struct table_state *t;
	bool star = false;
	long limit = EMU_MAX_ROWS_PAGE, offset = 0;

	if (!body)
		goto out;
	sql = json_string_value(json_object_get(body, "query"));
	if (!sql || strlen(sql) > EMU_MAX_QUERY_LEN) {
		resp_error(resp, 400, "Invalid request body: query must be a SQL SELECT statement");
		goto out;
	}
	q.s = sql;
	q.len = strlen(sql);
	qnext(&q);
	if (!qkw(&q, "SELECT")) {
		resp_error(resp, 400, "Only SELECT queries are supported");
		goto out;
	}
	for (;;) {
		qnext(&q);
		if (q.kind == '*' || (q.kind == 'w' && !strcmp(q.text, "*")))
			star = true;
		else if (q.kind == 'w')
			json_array_append_new(cols, json_string(q.text));
		else {
			resp_error(resp, 400, "Invalid query: expected a column list");
			goto out;
		}
		qnext(&q);
		if (q.kind != ',')
			break;
	}
	if (!qkw(&q, "FROM") || qnext(&q) != 'w') {
		resp_error(resp, 400, "Invalid query: expected FROM table");
		goto out;
	}
	t = store_table(emu->store, q.text);
	if (!t) {
		resp_error(resp, 400, "Invalid query: unknown table %s", q.text);
		goto out;
	}
	qnext(&q);
	if (qkw(&q, "WHERE")) {
		for (;;) {
			const char *c;
			if (qnext(&q) != 'w' || !(c = qcol(q.text, t->def->name)) ||
			    (!config_column(t->def, c) && strcmp(c, "skyflow_id"))) {
				resp_error(resp, 400, "Invalid query: bad column in WHERE");
				goto out;
			}
			json_array_append_new(wcols, json_string(c));
			if (qnext(&q) != '=' || (qnext(&q) != 's' && q.kind != 'n')) {
				resp_error(resp, 400,
					   "Invalid query: only column = 'value' conditions are "
					   "supported by the emulator");
				goto out;
			}
			json_array_append_new(wvals, json_string(q.text));
			qnext(&q);
			if (!qkw(&q, "AND"))
				break;
		}
		if (qkw(&q, "OR")) {
			resp_error(resp, 400, "Invalid query: OR is not supported by the emulator "
					      "(WHERE takes column = 'value' [AND ...])");
			goto out;
		}
	}
	for (int pass = 0; pass < 2; pass++) {
		if (qkw(&q, "LIMIT") || qkw(&q, "OFFSET")) {
			bool is_limit = qkw(&q, "LIMIT");
			long v;
			if (qnext(&q) != 'n' || emu_parse_long(q.text, 0, 1000000000L, &v) < 0) {
				resp_error(resp, 400, "Invalid query: bad LIMIT or OFFSET");
				goto out;
			}
			if (is_limit) {
				if (v < 1 || v > EMU_MAX_ROWS_PAGE) {
					resp_error(resp, 400,
						   "Invalid query: LIMIT must be between 1 and %d",
						   EMU_MAX_ROWS_PAGE);
					goto out;
				}
				limit = v;
			} else {
				offset = v;
			}
			qnext(&q);
		}
	}
	if (q.kind == ';')
		qnext(&q);
	if (q.kind != 0) {
		resp_error(resp, 400, "Invalid query: unexpected '%s'", q.text);
		goto out;
	}
	if (!access_table(emu->cfg, who, ACT_READ, t->def->name)) {
		resp_error(resp, 403, "The requester does not have permission to access this resource.");
		goto out;
	}
	{
		size_t i;
		json_t *c;
		json_array_foreach(cols, i, c) {
			const char *name = qcol(json_string_value(c), t->def->name);
			if (!name || (!config_column(t->def, name) && strcmp(name, "skyflow_id"))) {
				resp_error(resp, 400, "Invalid query: unknown column %s",
					   json_string_value(c));
				goto out;
			}
			json_array_set_new(cols, i, json_string(name));
		}
	}
	records = json_array();
	{
		size_t i;
		json_t *row;
		long skipped = 0;
		json_array_foreach(t->rows, i, row) {
			bool match = true;
			size_t k;
			json_t *wc;
			if ((long)json_array_size(records) >= limit)
				break;
			json_array_foreach(wcols, k, wc) {
				json_t *v = json_object_get(row, json_string_value(wc));
				char buf[64];
				const char *sv = json_is_string(v) ? json_string_value(v) : NULL;
				if (json_is_integer(v)) {
					snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
						 json_integer_value(v));
					sv = buf;
				}
				if (!sv || strcmp(sv, json_string_value(json_array_get(wvals, k))))
					match = false;
			}
			if (!match)
				continue;
			json_t *f = render_row(emu, who, t, row, RED_DEFAULT, star ? NULL : cols,
					       false, star || json_array_size(cols) == 0);
			if (!f)
				continue;
			if (!star) {
				bool want_id = false;
				size_t m;
				json_t *c;
				json_array_foreach(cols, m, c)
					want_id |= !strcmp(json_string_value(c), "skyflow_id");
				if (want_id)
					json_object_set_new(f, "skyflow_id", json_string(row_id(row)));
			}
			if (skipped++ < offset) {
				json_decref(f);
				continue;
			}
			json_array_append_new(records, json_pack("{s:o}", "fields", f));
		}
	}
	resp_json(resp, 200, json_pack("{s:O}", "records", records));
out:
	json_decref(records);
	json_decref(body);
	json_decref(cols);
	json_decref(wcols);
	json_decref(wvals);
}


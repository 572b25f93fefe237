/* cel: the subset of CEL that Skyflow role-assignment conditions use here.
 *
 *   expr    := or
 *   or      := and ( "||" and )*
 *   and     := unary ( "&&" unary )*
 *   unary   := "!" unary | primary
 *   primary := "(" expr ")" | operand [ ( "==" | "!=" | "in" ) operand ]
 *   operand := 'str' | "str" | integer | true | false | null | [ operand, ... ]
 *            | request.context[.ident]*
 *
 * Bounded: input length EMU_MAX_CEL_LEN, nesting EMU_MAX_CEL_DEPTH, node count CEL_MAX_NODES.
 * Evaluation never fails: a missing context path is null, and a comparison involving the
 * wrong types is false (so an absent claim never grants a role). */
#pragma once

#include <jansson.h>

#define CEL_MAX_NODES 256

struct cel_expr;

/* Parses src. *ret owned by caller (cel_free). On error returns -EBADMSG and, when err is
 * non-NULL, writes a short message with the byte offset. An empty/blank src is "true". */
int cel_parse(const char *src, struct cel_expr **ret, char *err, size_t err_len);
/* Evaluates against context (borrowed; any JSON value, may be NULL). 1 true, 0 false. */
int cel_eval(const struct cel_expr *e, json_t *context);
void cel_free(struct cel_expr *e);

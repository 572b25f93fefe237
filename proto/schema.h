/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "message.h"

/*
 * Internal to proto/ (users include message.h): the field tables that map the message structs
 * of message.h onto the wire. One table per operation's request arguments and per result, one
 * for the error; the decoder (message.c) and the encoder (encode.c) both walk them, so what
 * one side writes the other reads. Every table and name here is static data.
 */

enum ftype {
	FT_STR,      /* const char *; max = byte length */
	FT_ENUM,     /* const char * pointing at one of `names` */
	FT_U64,      /* struct sb_opt_u64 (optional) or uint64_t (required); max = value, 0 none */
	FT_BOOL,     /* struct sb_opt_bool (optional) or bool (required) */
	FT_STRV,     /* struct sb_strv; max = count, item_max = byte length of each */
	FT_U64V,     /* struct sb_u64v; max = count */
	FT_MAP,      /* const msgpack_object * (map) */
	FT_ARRAY,    /* const msgpack_object * (array); max = count */
	FT_MAPARRAY, /* const msgpack_object * (array of maps); max = count */
};

enum {
	F_REQUIRED = 1 << 0,
	F_SECRET = 1 << 1, /* wiped when the message is released */
};

struct field {
	const char *name;
	uint8_t type;
	uint8_t flags;
	uint32_t max;
	uint32_t item_max;
	const char *const *names;
	size_t off; /* within the args/result union (or struct sb_error) */
};

struct table {
	const struct field *f;
	size_t n;
};

/* The operation table, indexed by enum sb_op (message.h). */
extern const struct sb_op_info sb_operations[_SB_OP_MAX];

/* Request arguments and results by op, into sb_request.u and sb_reply.u. */
extern const struct table sb_request_tables[_SB_OP_MAX];
extern const struct table sb_result_tables[_SB_OP_MAX];

/* The error map: "code" (an enum on our side, a name on the wire, so coded by hand) and the
 * fields that follow it, into struct sb_error. */
extern const struct field sb_error_code_field;
extern const struct table sb_error_table;

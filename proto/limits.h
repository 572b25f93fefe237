/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Every bound of the wire protocol, in one place (proto/PROTOCOL.md, "Limits").
 * The broker may lower the configurable ones; it never raises them past the *_LIMIT values.
 */

#define SB_PROTOCOL_VERSION 1u   /* the only version this library speaks */
#define SB_FRAME_HEADER_SIZE 4u  /* big-endian uint32 payload length */

/* Request frames (client -> broker), payload bytes without the 4-byte header. */
#define SB_MAX_HELLO_FRAME (4u * 1024u)               /* before hello has been answered */
#define SB_MAX_REQUEST_FRAME_DEFAULT (64u * 1024u)    /* after hello */
#define SB_MAX_REQUEST_FRAME_LIMIT (1024u * 1024u)    /* highest value config may set */

/* Reply frames (broker -> client). */
#define SB_MAX_REPLY_FRAME_DEFAULT (4u * 1024u * 1024u)
#define SB_MAX_REPLY_FRAME_LIMIT (16u * 1024u * 1024u)

/* Requests in flight on one connection (max_inflight of the hello reply). */
#define SB_MAX_INFLIGHT_DEFAULT 32u
#define SB_MAX_INFLIGHT_LIMIT 1024u

/* Structure of any decoded message. */
#define SB_MAX_DEPTH 16u           /* nesting of arrays/maps, the top-level map is depth 1 */
#define SB_MAX_CONTAINER 4096u     /* elements of one array, or pairs of one map */
#define SB_MAX_STRING (1024u * 1024u) /* any single string, before per-field limits */

/* Per-field limits (the PROTOCOL.md field tables name which applies). */
#define SB_MAX_TOKEN_LEN (64u * 1024u)  /* subject_token / access_token on the wire */
#define SB_MAX_NAME_LEN 256u            /* table, column, id, enum and other short names */
#define SB_MAX_CLIENT_NAME 128u         /* hello.client */
#define SB_MAX_VERSIONS 16u             /* hello.versions entries */
#define SB_MAX_IDS 1000u                /* skyflow_ids, column_values, fields, tokens, values */
#define SB_MAX_RECORDS 1000u            /* insert_records.records */
#define SB_MAX_QUERY_LEN 8192u          /* query.query */
#define SB_MAX_VALUE_LEN (64u * 1024u)  /* one tokenize value */
#define SB_MAX_MESSAGE_LEN 1024u        /* error.message */
#define SB_MAX_REQUEST_ID 128u          /* error.request_id */
#define SB_MAX_GET_LIMIT 25u            /* get_records.limit, Skyflow's own cap */

// SPDX-License-Identifier: MIT
// The limits of proto/PROTOCOL.md (sections 3 and 7), in one place.

/** Request frame cap until `hello` has been answered (section 3). */
export const HELLO_REQUEST_FRAME = 4096;
/** Request frame cap when the broker's hello does not say (section 3). */
export const DEFAULT_REQUEST_FRAME = 64 * 1024;
/** A broker never announces a request frame cap above this (section 3). */
export const MAX_REQUEST_FRAME = 1024 * 1024;
/** Reply frame cap until `hello` says otherwise (section 3). */
export const DEFAULT_REPLY_FRAME = 4 * 1024 * 1024;
/** A broker never announces a reply frame cap above this (section 3). */
export const MAX_REPLY_FRAME = 16 * 1024 * 1024;
/** Nesting of arrays and maps; the top-level map is depth 1. */
export const MAX_DEPTH = 16;
/** Entries of one array, or pairs of one map. */
export const MAX_ENTRIES = 4096;
/** One string, in bytes. */
export const MAX_STRING = 1024 * 1024;
/** `subject_token` on the wire, in bytes (the broker's own `token_max_len` is usually lower). */
export const MAX_SUBJECT_TOKEN = 64 * 1024;
/** A *name*: table, skyflow_id, column_name, column_group, upsert. */
export const MAX_NAME = 256;
/** *ids*: entries of skyflow_ids, fields, column_values, tokens. */
export const MAX_IDS = 1000;
/** One entry of *ids*, in bytes. */
export const MAX_ID = 256;
/** Records of one insert_records. */
export const MAX_RECORDS = 1000;
/** Values of one tokenize. */
export const MAX_TOKENIZE_VALUES = 1000;
/** One tokenize value, in bytes. */
export const MAX_TOKENIZE_VALUE = 64 * 1024;
/** A query, in bytes. */
export const MAX_QUERY = 8192;
/** `limit` of get_records (Skyflow's cap). */
export const MAX_LIMIT = 25;
/** The `client` field of hello, in bytes. */
export const MAX_CLIENT_NAME = 128;
/** Largest request id: ids stay exact JavaScript numbers. */
export const MAX_ID_NUMBER = Number.MAX_SAFE_INTEGER;
/** Requests in flight on one connection when the broker's hello does not say (section 3). */
export const DEFAULT_INFLIGHT = 32;
/** A broker never announces an in-flight cap above this (section 3). */
export const MAX_INFLIGHT = 1024;

// SPDX-License-Identifier: MIT
// The typed requests and results of every v1 operation (PROTOCOL.md section 7). Argument and
// result fields are the protocol's, in camelCase; what Skyflow returns inside a record (column
// names, values) is passed on as it came.

/** A value the protocol carries (section 4): what a JSON value can be. */
export type Value = null | boolean | number | string | Value[] | { [key: string]: Value };

export type Redaction = "DEFAULT" | "REDACTED" | "MASKED" | "PLAIN_TEXT";
export type OrderBy = "ASCENDING" | "DESCENDING" | "NONE";

/** Every operation of protocol version 1. */
export const OPERATIONS = [
  "hello",
  "ping",
  "health",
  "stats",
  "exchange",
  "get_records",
  "get_record",
  "insert_records",
  "update_record",
  "delete_records",
  "detokenize",
  "tokenize",
  "query",
] as const;
export type Operation = (typeof OPERATIONS)[number];

/** Safe to send again on a new connection when the outcome is unknown (section 1). */
export const IDEMPOTENT: ReadonlySet<Operation> = new Set<Operation>([
  "ping",
  "health",
  "stats",
  "exchange",
  "get_records",
  "get_record",
  "detokenize",
  "tokenize",
  "query",
]);

/** What `hello` answered (7.1). */
export interface HelloResult {
  version: number;
  tenant: string;
  server: string;
  operations: string[];
  maxRequestFrame: number;
  maxReplyFrame: number;
  /** Requests the broker takes in flight on this connection; the client queues beyond it. */
  maxInflight: number;
  /** Every field of the reply, including ones this version does not know. */
  raw: Record<string, unknown>;
}

export interface HealthResult {
  ready: boolean;
  tenant: string;
  reasons: string[];
}

/** `stats` (admin socket only): informational maps whose keys may grow. */
export interface StatsResult {
  uptimeS: number;
  connections: Record<string, Value>;
  requests: Record<string, Value>;
  latencyUs: Record<string, Value>;
  cache: Record<string, Value>;
}

export interface ExchangeResult {
  expiresAt: number;
  tokenType: string;
  issuedTokenType: string;
  /** The user context the Skyflow token carries; `{}` when there is none. */
  context: Record<string, Value>;
  /** The Skyflow token, only when the tenant sets `expose_tokens = yes`. */
  accessToken?: string;
}

/** A record as Skyflow returns it: `fields` (with `skyflow_id`) and, when asked, `tokens`. */
export interface VaultRecord {
  fields: Record<string, Value>;
  tokens?: Record<string, Value>;
  [other: string]: Value | undefined;
}

export interface GetRecordsArgs {
  table: string;
  skyflowIds?: readonly string[];
  redaction?: Redaction;
  fields?: readonly string[];
  offset?: number;
  limit?: number;
  columnName?: string;
  columnValues?: readonly string[];
  orderBy?: OrderBy;
  tokenization?: boolean;
  downloadUrl?: boolean;
}

export interface RecordsResult {
  records: VaultRecord[];
  /** Present when the tenant's ceiling lowered the redaction asked for. */
  redactionCapped?: Redaction;
}

export interface GetRecordArgs {
  table: string;
  skyflowId: string;
  redaction?: Redaction;
  fields?: readonly string[];
  tokenization?: boolean;
  downloadUrl?: boolean;
}

export interface RecordResult {
  record: VaultRecord;
  redactionCapped?: Redaction;
}

export interface InsertRecordsArgs {
  table: string;
  records: ReadonlyArray<Record<string, Value>>;
  tokenization?: boolean;
  upsert?: string;
}

export interface InsertedRecord {
  skyflow_id: string;
  tokens?: Record<string, Value>;
  [other: string]: Value | undefined;
}

export interface InsertRecordsResult {
  records: InsertedRecord[];
}

export interface UpdateRecordArgs {
  table: string;
  skyflowId: string;
  fields: Record<string, Value>;
  tokenization?: boolean;
}

export interface UpdateRecordResult {
  skyflowId: string;
  tokens?: Record<string, Value>;
}

export interface DeleteRecordsArgs {
  table: string;
  skyflowIds: readonly string[];
}

export interface DeleteRecordsResult {
  skyflowIds: string[];
}

export interface DetokenizeArgs {
  tokens: readonly string[];
  redaction?: Redaction;
  continueOnError?: boolean;
}

export interface DetokenizedRecord {
  token: string;
  value?: Value;
  valueType?: string;
  error?: string;
}

export interface DetokenizeResult {
  records: DetokenizedRecord[];
  redactionCapped?: Redaction;
}

export interface TokenizeArgs {
  columnGroup: string;
  values: readonly string[];
}

export interface TokenizeResult {
  records: Array<{ token: string }>;
}

export interface QueryResult {
  records: Array<{ fields: Record<string, Value> }>;
}

/** Options of one call. */
export interface CallOptions {
  /** Milliseconds for the whole call, retries included; default: the client's. */
  timeoutMs?: number;
  /** Aborts the call (with code `timeout`); the request may still reach the broker. */
  signal?: AbortSignal;
}

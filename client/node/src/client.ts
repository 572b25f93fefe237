// SPDX-License-Identifier: MIT
// SkybrokerClient: every v1 operation, typed, with its arguments checked against PROTOCOL.md
// before anything is sent, per-call timeouts, and reconnection for the idempotent operations.

import { Connection } from "./connection.js";
import { SkybrokerError } from "./errors.js";
import * as L from "./limits.js";
import {
  IDEMPOTENT,
  type CallOptions,
  type DeleteRecordsArgs,
  type DeleteRecordsResult,
  type DetokenizeArgs,
  type DetokenizedRecord,
  type DetokenizeResult,
  type ExchangeResult,
  type GetRecordArgs,
  type GetRecordsArgs,
  type HealthResult,
  type HelloResult,
  type InsertRecordsArgs,
  type InsertRecordsResult,
  type Operation,
  type QueryResult,
  type RecordResult,
  type RecordsResult,
  type Redaction,
  type StatsResult,
  type TokenizeArgs,
  type TokenizeResult,
  type UpdateRecordArgs,
  type UpdateRecordResult,
  type Value,
  type VaultRecord,
} from "./types.js";
import type { WireMap } from "./wire.js";

export const VERSION = "0.1.0";
export const DEFAULT_SOCKET = "/run/skybroker/skybroker.sock";
export const DEFAULT_TIMEOUT_MS = 30000;

export interface ClientOptions {
  /** Default: $SKYBROKER_SOCKET, else /run/skybroker/skybroker.sock. */
  socketPath?: string;
  /** `name/version` sent in hello, at most 128 bytes; default `skybroker-node/<version>`. */
  clientName?: string;
  /** Default per call, and for connecting; default 30 s. */
  timeoutMs?: number;
  /** Attempts of an idempotent call, at least 1; default 3. */
  attempts?: number;
  /** First pause between attempts, doubled after each; default 50 ms. */
  backoffMs?: number;
  /** This client's own reply cap; the broker's hello may lower it. Default 4 MiB. */
  maxReplyFrame?: number;
}

const REDACTIONS: ReadonlySet<string> = new Set(["DEFAULT", "REDACTED", "MASKED", "PLAIN_TEXT"]);
const ORDERS: ReadonlySet<string> = new Set(["ASCENDING", "DESCENDING", "NONE"]);
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function invalid(message: string): SkybrokerError {
  return new SkybrokerError("invalid_argument", `${message}; nothing was sent`);
}

/** A str field: a string, well-formed, no NUL, 1..max bytes of UTF-8. */
function str(name: string, v: unknown, max: number, allowEmpty = false): string {
  if (typeof v !== "string") throw invalid(`${name} must be a string`);
  if (!allowEmpty && v.length === 0) throw invalid(`${name} must not be empty`);
  if (v.includes("\0")) throw invalid(`${name} contains a NUL character`);
  if (LONE_SURROGATE.test(v)) throw invalid(`${name} is not well-formed Unicode (a lone surrogate)`);
  const n = Buffer.byteLength(v, "utf8");
  if (n > max) throw invalid(`${name} is ${n} bytes, over the limit of ${max}`);
  return v;
}

function strList(name: string, v: unknown, maxEntries: number, maxEach: number): string[] {
  if (!Array.isArray(v)) throw invalid(`${name} must be an array of strings`);
  if (v.length === 0) throw invalid(`${name} must not be empty`);
  if (v.length > maxEntries) throw invalid(`${name} has ${v.length} entries, over the limit of ${maxEntries}`);
  return v.map((s, i) => str(`${name}[${i}]`, s, maxEach));
}

function optStrList(name: string, v: unknown, maxEntries: number, maxEach: number): string[] | undefined {
  return v === undefined ? undefined : strList(name, v, maxEntries, maxEach);
}

function optStr(name: string, v: unknown, max: number): string | undefined {
  return v === undefined ? undefined : str(name, v, max);
}

function optBool(name: string, v: unknown): boolean | undefined {
  if (v !== undefined && typeof v !== "boolean") throw invalid(`${name} must be a boolean`);
  return v;
}

function optUint(name: string, v: unknown, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw invalid(`${name} must be a non-negative integer`);
  if (v > max) throw invalid(`${name} is ${v}, over the limit of ${max}`);
  return v;
}

function optEnum(name: string, v: unknown, allowed: ReadonlySet<string>): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string" || !allowed.has(v)) throw invalid(`${name} must be one of ${[...allowed].join(", ")}`);
  return v;
}

/** A value of a record (section 4): what JSON can hold; depth counted from the request map. */
function checkValue(name: string, v: unknown, depth: number): void {
  if (depth > L.MAX_DEPTH) throw invalid(`${name} is nested deeper than the protocol allows`);
  if (v === null || typeof v === "boolean") return;
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw invalid(`${name} is not a finite number`);
    return;
  }
  if (typeof v === "string") {
    str(name, v, L.MAX_STRING, true);
    return;
  }
  if (Array.isArray(v)) {
    if (v.length > L.MAX_ENTRIES) throw invalid(`${name} has ${v.length} entries, over the limit of ${L.MAX_ENTRIES}`);
    v.forEach((x, i) => checkValue(`${name}[${i}]`, x, depth + 1));
    return;
  }
  if (typeof v === "object") {
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto !== Object.prototype && proto !== null) throw invalid(`${name} is not a plain object, array, string, number, boolean or null`);
    const keys = Object.keys(v);
    if (keys.length > L.MAX_ENTRIES) throw invalid(`${name} has ${keys.length} keys, over the limit of ${L.MAX_ENTRIES}`);
    for (const k of keys) {
      str(`a key of ${name}`, k, L.MAX_STRING, true);
      checkValue(`${name}.${k}`, (v as Record<string, unknown>)[k], depth + 1);
    }
    return;
  }
  throw invalid(`${name} is of type ${typeof v}, which the protocol cannot carry`);
}

function checkColumns(name: string, v: unknown, depth: number): Record<string, Value> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw invalid(`${name} must be an object of column -> value`);
  checkValue(name, v, depth);
  return v as Record<string, Value>;
}

function subject(token: unknown): string {
  return str("subjectToken", token, L.MAX_SUBJECT_TOKEN);
}

/** Drops the fields that are undefined, so that they are not sent at all. */
function defined(m: Record<string, unknown>): WireMap {
  const out: WireMap = {};
  for (const [k, v] of Object.entries(m)) if (v !== undefined) out[k] = v;
  return out;
}

function optRedactionCapped(r: WireMap): { redactionCapped?: Redaction } {
  const c = r["redaction_capped"];
  return typeof c === "string" ? { redactionCapped: c as Redaction } : {};
}

function malformed(op: string, what: string): SkybrokerError {
  return new SkybrokerError("protocol", `${op}: the broker's result ${what}`);
}

function recordsOf(op: string, r: WireMap): WireMap[] {
  const recs = r["records"];
  if (!Array.isArray(recs) || !recs.every((x) => typeof x === "object" && x !== null && !Array.isArray(x))) {
    throw malformed(op, "has no records array");
  }
  return recs as WireMap[];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A client of skybrokerd. One connection, shared by every call: calls made without awaiting
 * each other are pipelined, their replies matched by id. The connection is made by
 * `SkybrokerClient.connect` and remade when a call finds it broken.
 */
export class SkybrokerClient {
  private conn: Connection | undefined;
  private connecting: Promise<Connection> | undefined;
  private closed = false;
  private readonly socketPath: string;
  private readonly clientName: string;
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly maxReplyFrame: number;

  private constructor(opts: ClientOptions) {
    this.socketPath = opts.socketPath ?? process.env["SKYBROKER_SOCKET"] ?? DEFAULT_SOCKET;
    this.clientName = str("clientName", opts.clientName ?? `skybroker-node/${VERSION}`, L.MAX_CLIENT_NAME);
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.attempts = Math.max(1, Math.floor(opts.attempts ?? 3));
    this.backoffMs = Math.max(0, opts.backoffMs ?? 50);
    this.maxReplyFrame = Math.min(opts.maxReplyFrame ?? L.DEFAULT_REPLY_FRAME, L.MAX_REPLY_FRAME);
    if (!(this.timeoutMs > 0)) throw invalid("timeoutMs must be positive");
    if (!(this.maxReplyFrame >= 16)) throw invalid("maxReplyFrame must be at least 16");
  }

  /** Connects and says hello; rejects with `unreachable`, `timeout` or the broker's error. */
  static async connect(opts: ClientOptions = {}): Promise<SkybrokerClient> {
    const c = new SkybrokerClient(opts);
    await c.connection(Date.now() + c.timeoutMs);
    return c;
  }

  /** What the broker said to hello on the current connection. */
  get hello(): HelloResult {
    const h = this.conn?.hello;
    if (!h) throw new SkybrokerError("disconnected", "not connected");
    return h;
  }

  get tenant(): string {
    return this.hello.tenant;
  }

  get server(): string {
    return this.hello.server;
  }

  /** Whether the tenant allows `op` on this connection (hello's `operations`). */
  allows(op: Operation | string): boolean {
    return this.hello.operations.includes(op);
  }

  /** Closes the connection; calls in flight fail with `disconnected`. Later calls fail too. */
  close(): void {
    this.closed = true;
    this.conn?.close();
    this.conn = undefined;
  }

  private connection(deadline: number): Promise<Connection> {
    if (this.closed) return Promise.reject(new SkybrokerError("disconnected", "the client was closed"));
    if (this.conn?.usable) return Promise.resolve(this.conn);
    if (!this.connecting) {
      this.conn = undefined;
      this.connecting = Connection.open(
        { socketPath: this.socketPath, clientName: this.clientName, maxReplyFrame: this.maxReplyFrame },
        deadline,
      ).then(
        (c) => {
          this.connecting = undefined;
          if (this.closed) {
            c.close();
            throw new SkybrokerError("disconnected", "the client was closed");
          }
          this.conn = c;
          return c;
        },
        (e: unknown) => {
          this.connecting = undefined;
          throw e;
        },
      );
    }
    return this.connecting;
  }

  /**
   * Sends `op` and returns its result map. A broken connection is remade before sending; an
   * idempotent operation is sent again on a new connection when the connection broke or the
   * broker answered a retryable error, with backoff, within `attempts` and the timeout.
   */
  private async call(op: Operation, args: WireMap, o: CallOptions = {}): Promise<WireMap> {
    const timeout = o.timeoutMs ?? this.timeoutMs;
    if (!(timeout > 0)) throw invalid("timeoutMs must be positive");
    const deadline = Date.now() + timeout;
    const attempts = IDEMPOTENT.has(op) ? this.attempts : 1;
    let pause = this.backoffMs;
    for (let attempt = 1; ; attempt++) {
      if (o.signal?.aborted) throw new SkybrokerError("timeout", `${op}: aborted`);
      try {
        const conn = await this.connection(deadline);
        return await conn.request(op, args, deadline, o.signal);
      } catch (e) {
        const err = e as SkybrokerError;
        const again =
          attempt < attempts &&
          err.retryable &&
          err.code !== "timeout" &&
          !this.closed &&
          Date.now() + pause < deadline;
        if (!again) throw err;
        await sleep(pause);
        pause *= 2;
      }
    }
  }

  /** `ping`: answered without any upstream call; keeps an idle connection alive. */
  async ping(o?: CallOptions): Promise<void> {
    await this.call("ping", {}, o);
  }

  async health(o?: CallOptions): Promise<HealthResult> {
    const r = await this.call("health", {}, o);
    const { ready, tenant, reasons } = r;
    if (typeof ready !== "boolean" || typeof tenant !== "string" || !Array.isArray(reasons)) {
      throw malformed("health", "lacks ready, tenant or reasons");
    }
    return { ready, tenant, reasons: reasons.map(String) };
  }

  /** Admin socket only. */
  async stats(o?: CallOptions): Promise<StatsResult> {
    const r = await this.call("stats", {}, o);
    const m = (k: string): Record<string, Value> => (r[k] ?? {}) as Record<string, Value>;
    return {
      uptimeS: Number(r["uptime_s"] ?? 0),
      connections: m("connections"),
      requests: m("requests"),
      latencyUs: m("latency_us"),
      cache: m("cache"),
    };
  }

  /**
   * Has the broker validate the user's Descope token and exchange it for a user-scoped Skyflow
   * token, which the broker keeps (`accessToken` only where the tenant exposes tokens).
   */
  async exchange(subjectToken: string, o?: CallOptions): Promise<ExchangeResult> {
    const r = await this.call("exchange", { subject_token: subject(subjectToken) }, o);
    const expiresAt = r["expires_at"];
    const tokenType = r["token_type"];
    const issued = r["issued_token_type"];
    if (typeof expiresAt !== "number" || typeof tokenType !== "string" || typeof issued !== "string") {
      throw malformed("exchange", "lacks expires_at, token_type or issued_token_type");
    }
    const ctx = r["context"];
    const context = typeof ctx === "object" && ctx !== null && !Array.isArray(ctx) ? (ctx as Record<string, Value>) : {};
    const out: ExchangeResult = { expiresAt, tokenType, issuedTokenType: issued, context };
    if (typeof r["access_token"] === "string") out.accessToken = r["access_token"];
    return out;
  }

  async getRecords(subjectToken: string, a: GetRecordsArgs, o?: CallOptions): Promise<RecordsResult> {
    const args = defined({
      subject_token: subject(subjectToken),
      table: str("table", a.table, L.MAX_NAME),
      skyflow_ids: optStrList("skyflowIds", a.skyflowIds, L.MAX_IDS, L.MAX_ID),
      redaction: optEnum("redaction", a.redaction, REDACTIONS),
      fields: optStrList("fields", a.fields, L.MAX_IDS, L.MAX_ID),
      offset: optUint("offset", a.offset),
      limit: optUint("limit", a.limit, L.MAX_LIMIT),
      column_name: optStr("columnName", a.columnName, L.MAX_NAME),
      column_values: optStrList("columnValues", a.columnValues, L.MAX_IDS, L.MAX_ID),
      order_by: optEnum("orderBy", a.orderBy, ORDERS),
      tokenization: optBool("tokenization", a.tokenization),
      download_url: optBool("downloadUrl", a.downloadUrl),
    });
    if (args["limit"] === 0) throw invalid("limit must be at least 1");
    const r = await this.call("get_records", args, o);
    return { records: recordsOf("get_records", r) as VaultRecord[], ...optRedactionCapped(r) };
  }

  async getRecord(subjectToken: string, a: GetRecordArgs, o?: CallOptions): Promise<RecordResult> {
    const args = defined({
      subject_token: subject(subjectToken),
      table: str("table", a.table, L.MAX_NAME),
      skyflow_id: str("skyflowId", a.skyflowId, L.MAX_NAME),
      redaction: optEnum("redaction", a.redaction, REDACTIONS),
      fields: optStrList("fields", a.fields, L.MAX_IDS, L.MAX_ID),
      tokenization: optBool("tokenization", a.tokenization),
      download_url: optBool("downloadUrl", a.downloadUrl),
    });
    const r = await this.call("get_record", args, o);
    const rec = r["record"];
    if (typeof rec !== "object" || rec === null || Array.isArray(rec)) throw malformed("get_record", "has no record map");
    return { record: rec as VaultRecord, ...optRedactionCapped(r) };
  }

  /** Not sent again once sent: a resent insert may insert twice. */
  async insertRecords(subjectToken: string, a: InsertRecordsArgs, o?: CallOptions): Promise<InsertRecordsResult> {
    if (!Array.isArray(a.records) || a.records.length === 0) throw invalid("records must be a non-empty array");
    if (a.records.length > L.MAX_RECORDS) throw invalid(`records has ${a.records.length} entries, over the limit of ${L.MAX_RECORDS}`);
    a.records.forEach((rec, i) => checkColumns(`records[${i}]`, rec, 3));
    const args = defined({
      subject_token: subject(subjectToken),
      table: str("table", a.table, L.MAX_NAME),
      records: a.records,
      tokenization: optBool("tokenization", a.tokenization),
      upsert: optStr("upsert", a.upsert, L.MAX_NAME),
    });
    const r = await this.call("insert_records", args, o);
    return { records: recordsOf("insert_records", r) as InsertRecordsResult["records"] };
  }

  /** Not sent again once sent. */
  async updateRecord(subjectToken: string, a: UpdateRecordArgs, o?: CallOptions): Promise<UpdateRecordResult> {
    const args = defined({
      subject_token: subject(subjectToken),
      table: str("table", a.table, L.MAX_NAME),
      skyflow_id: str("skyflowId", a.skyflowId, L.MAX_NAME),
      fields: checkColumns("fields", a.fields, 2),
      tokenization: optBool("tokenization", a.tokenization),
    });
    const r = await this.call("update_record", args, o);
    const id = r["skyflow_id"];
    if (typeof id !== "string") throw malformed("update_record", "has no skyflow_id");
    const out: UpdateRecordResult = { skyflowId: id };
    if (typeof r["tokens"] === "object" && r["tokens"] !== null) out.tokens = r["tokens"] as Record<string, Value>;
    return out;
  }

  /** Not sent again once sent. The id "*" is refused by the broker: list the ids. */
  async deleteRecords(subjectToken: string, a: DeleteRecordsArgs, o?: CallOptions): Promise<DeleteRecordsResult> {
    const args = {
      subject_token: subject(subjectToken),
      table: str("table", a.table, L.MAX_NAME),
      skyflow_ids: strList("skyflowIds", a.skyflowIds, L.MAX_IDS, L.MAX_ID),
    };
    const r = await this.call("delete_records", args, o);
    const ids = r["skyflow_ids"];
    if (!Array.isArray(ids) || !ids.every((x) => typeof x === "string")) throw malformed("delete_records", "has no skyflow_ids");
    return { skyflowIds: ids as string[] };
  }

  async detokenize(subjectToken: string, a: DetokenizeArgs, o?: CallOptions): Promise<DetokenizeResult> {
    const args = defined({
      subject_token: subject(subjectToken),
      tokens: strList("tokens", a.tokens, L.MAX_IDS, L.MAX_ID),
      redaction: optEnum("redaction", a.redaction, REDACTIONS),
      continue_on_error: optBool("continueOnError", a.continueOnError),
    });
    const r = await this.call("detokenize", args, o);
    const records = recordsOf("detokenize", r).map((x): DetokenizedRecord => {
      const out: DetokenizedRecord = { token: String(x["token"] ?? "") };
      if ("value" in x) out.value = x["value"] as Value;
      if (typeof x["value_type"] === "string") out.valueType = x["value_type"];
      if (typeof x["error"] === "string") out.error = x["error"];
      return out;
    });
    return { records, ...optRedactionCapped(r) };
  }

  async tokenize(subjectToken: string, a: TokenizeArgs, o?: CallOptions): Promise<TokenizeResult> {
    const args = {
      subject_token: subject(subjectToken),
      column_group: str("columnGroup", a.columnGroup, L.MAX_NAME),
      values: strList("values", a.values, L.MAX_TOKENIZE_VALUES, L.MAX_TOKENIZE_VALUE),
    };
    const r = await this.call("tokenize", args, o);
    return { records: recordsOf("tokenize", r) as TokenizeResult["records"] };
  }

  /** A Skyflow SQL SELECT; at most 25 rows per call. */
  async query(subjectToken: string, query: string, o?: CallOptions): Promise<QueryResult> {
    const args = { subject_token: subject(subjectToken), query: str("query", query, L.MAX_QUERY) };
    const r = await this.call("query", args, o);
    return { records: recordsOf("query", r) as QueryResult["records"] };
  }
}

// SPDX-License-Identifier: MIT
// One connection to the broker: hello, pipelined requests matched by id, the caps of hello.

import * as net from "node:net";
import { brokerCode, SkybrokerError } from "./errors.js";
import {
  DEFAULT_INFLIGHT,
  DEFAULT_REPLY_FRAME,
  HELLO_REQUEST_FRAME,
  MAX_INFLIGHT,
  MAX_ID_NUMBER,
  MAX_REPLY_FRAME,
  MAX_REQUEST_FRAME,
} from "./limits.js";
import type { HelloResult } from "./types.js";
import { decodePayload, encodeFrame, FrameReader, WireError, type WireMap } from "./wire.js";

interface Pending {
  resolve: (result: WireMap) => void;
  reject: (err: SkybrokerError) => void;
  timer: NodeJS.Timeout | undefined;
  cleanup: (() => void) | undefined;
}

export interface ConnectionOptions {
  socketPath: string;
  clientName: string;
  /** The client's own reply cap; the broker's hello may only lower it. */
  maxReplyFrame: number;
}

function isUint(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function isMap(v: unknown): v is WireMap {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function protocolError(message: string): SkybrokerError {
  return new SkybrokerError("protocol", message);
}

/** The error of a failed reply's `error` map, or undefined when it is malformed. */
function replyError(e: WireMap): SkybrokerError | undefined {
  const { code, message, retryable } = e;
  const status = e["upstream_status"];
  const rid = e["request_id"];
  if (typeof code !== "string" || typeof message !== "string" || typeof retryable !== "boolean") return undefined;
  if (status !== undefined && !isUint(status)) return undefined;
  if (rid !== undefined && typeof rid !== "string") return undefined;
  return new SkybrokerError(brokerCode(code), message, {
    retryable,
    upstreamStatus: status,
    requestId: rid,
  });
}

export class Connection {
  private readonly sock: net.Socket;
  private readonly reader: FrameReader;
  private readonly pending = new Map<number, Pending>();
  /** Ids whose caller gave up (timeout, abort): their reply is still owed and dropped. */
  private readonly abandoned = new Set<number>();
  private nextId = 1;
  private requestCap = HELLO_REQUEST_FRAME;
  /** The broker's in-flight cap (hello's max_inflight): frames beyond it wait here, in order,
   * so that the broker never has to stop reading this connection. */
  private inflightCap = 1;
  private readonly queue: Buffer[] = [];
  private closedBy: SkybrokerError | undefined;
  hello: HelloResult | undefined;

  private constructor(sock: net.Socket, private readonly opts: ConnectionOptions) {
    this.sock = sock;
    this.reader = new FrameReader(Math.min(opts.maxReplyFrame, DEFAULT_REPLY_FRAME));
    sock.on("data", (chunk: Buffer) => this.onData(chunk));
    sock.on("error", (err: NodeJS.ErrnoException) => {
      this.fail(new SkybrokerError("disconnected", `the connection to the broker broke (${err.code ?? err.message})`, { retryable: true }));
    });
    sock.on("close", () => {
      this.fail(new SkybrokerError("disconnected", "the broker closed the connection", { retryable: true }));
    });
  }

  /** Connects and says hello before `deadline` (ms since the epoch). */
  static open(opts: ConnectionOptions, deadline: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const sock = net.createConnection({ path: opts.socketPath });
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new SkybrokerError("timeout", "no connection to the broker within the timeout", { retryable: true }));
      }, Math.max(0, deadline - Date.now()));
      const onError = (err: NodeJS.ErrnoException): void => {
        clearTimeout(timer);
        sock.destroy();
        reject(new SkybrokerError("unreachable", `cannot connect to the broker at ${opts.socketPath} (${err.code ?? err.message})`, { retryable: true }));
      };
      sock.once("error", onError);
      sock.once("connect", () => {
        clearTimeout(timer);
        sock.off("error", onError);
        const c = new Connection(sock, opts);
        c.sayHello(deadline).then(
          () => resolve(c),
          (err: SkybrokerError) => {
            c.close();
            reject(err);
          },
        );
      });
    });
  }

  private async sayHello(deadline: number): Promise<void> {
    const r = await this.request("hello", { versions: [1], client: this.opts.clientName }, deadline);
    const { version, tenant, server, operations } = r;
    const maxReq = r["max_request_frame"];
    const maxReply = r["max_reply_frame"];
    const maxInflight = r["max_inflight"] ?? DEFAULT_INFLIGHT; // absent from older brokers
    if (version !== 1) throw this.violation(`the broker answered hello with version ${String(version)}, not 1`);
    if (typeof tenant !== "string" || typeof server !== "string") throw this.violation("the hello reply lacks its tenant or server");
    if (!Array.isArray(operations) || !operations.every((o) => typeof o === "string")) {
      throw this.violation("the hello reply lacks its operations");
    }
    if (!isUint(maxReq) || maxReq < HELLO_REQUEST_FRAME || maxReq > MAX_REQUEST_FRAME) throw this.violation("the hello reply has no valid max_request_frame");
    if (!isUint(maxInflight) || maxInflight < 1 || maxInflight > MAX_INFLIGHT) throw this.violation("the hello reply has no valid max_inflight");
    if (!isUint(maxReply) || maxReply < 1 || maxReply > MAX_REPLY_FRAME) throw this.violation("the hello reply has no valid max_reply_frame");
    this.requestCap = maxReq;
    this.inflightCap = maxInflight;
    this.reader.cap = Math.min(this.opts.maxReplyFrame, maxReply);
    this.hello = {
      version,
      tenant,
      server,
      operations: operations as string[],
      maxRequestFrame: maxReq,
      maxReplyFrame: maxReply,
      maxInflight,
      raw: r,
    };
  }

  /** Whether requests can still be sent. */
  get usable(): boolean {
    return this.closedBy === undefined;
  }

  /** Requests sent whose reply has not come (abandoned ones included). */
  get inFlight(): number {
    return this.sent;
  }

  /** Requests waiting for room under the broker's in-flight cap. */
  get queued(): number {
    return this.queue.length;
  }

  private sent = 0;

  /** Writes queued frames while the broker's in-flight cap has room. */
  private pump(): void {
    while (this.queue.length > 0 && this.sent < this.inflightCap && !this.closedBy) {
      const frame = this.queue.shift()!;
      this.sent++;
      // The request may hold a subject token or record values: wipe it once written.
      this.sock.write(frame, () => frame.fill(0));
    }
  }

  /**
   * Sends one request and resolves with its `result` map, or rejects with a SkybrokerError:
   * the broker's, `invalid_argument` (too large for the cap; nothing sent), `timeout` at
   * `deadline`, `disconnected` or `protocol`.
   */
  request(op: string, args: WireMap, deadline: number, signal?: AbortSignal): Promise<WireMap> {
    if (this.closedBy) return Promise.reject(this.closedBy);
    let id = this.nextId;
    while (this.pending.has(id) || this.abandoned.has(id)) id = id >= MAX_ID_NUMBER ? 1 : id + 1;
    let frame: Buffer;
    try {
      frame = encodeFrame({ id, op, ...args }, this.requestCap);
    } catch (e) {
      const w = e as WireError;
      return Promise.reject(new SkybrokerError("invalid_argument", `${op}: ${w.message}; nothing was sent`));
    }
    this.nextId = id >= MAX_ID_NUMBER ? 1 : id + 1;
    return new Promise<WireMap>((resolve, reject) => {
      const p: Pending = { resolve, reject, timer: undefined, cleanup: undefined };
      const giveUp = (err: SkybrokerError): void => {
        if (this.pending.get(id) !== p) return;
        this.pending.delete(id);
        const queued = this.queue.indexOf(frame);
        if (queued >= 0) {
          // never sent: nothing is owed
          this.queue.splice(queued, 1);
          frame.fill(0);
        } else {
          this.abandoned.add(id);
        }
        p.cleanup?.();
        reject(err);
      };
      p.timer = setTimeout(
        () => giveUp(new SkybrokerError("timeout", `${op}: no answer from the broker within the timeout`, { retryable: true })),
        Math.max(0, deadline - Date.now()),
      );
      if (signal) {
        const onAbort = (): void => giveUp(new SkybrokerError("timeout", `${op}: aborted`));
        signal.addEventListener("abort", onAbort, { once: true });
        p.cleanup = () => signal.removeEventListener("abort", onAbort);
      }
      this.pending.set(id, p);
      this.queue.push(frame);
      this.pump();
    });
  }

  private onData(chunk: Buffer): void {
    if (this.closedBy) return;
    let payloads: Buffer[];
    try {
      payloads = this.reader.push(chunk);
    } catch (e) {
      this.violation((e as Error).message);
      return;
    }
    for (const payload of payloads) {
      if (this.closedBy) return;
      let msg: WireMap;
      try {
        msg = decodePayload(payload);
      } catch (e) {
        this.violation(`a reply the client cannot decode: ${(e as Error).message}`);
        return;
      } finally {
        payload.fill(0);
      }
      this.onReply(msg);
    }
  }

  private onReply(msg: WireMap): void {
    const { id, ok } = msg;
    if (!isUint(id) || typeof ok !== "boolean") {
      this.violation("a reply without a valid id or ok");
      return;
    }
    let err: SkybrokerError | undefined;
    if (!ok) {
      if (!isMap(msg["error"]) || !(err = replyError(msg["error"]))) {
        this.violation("a failure reply without a valid error map");
        return;
      }
      if (id === 0) {
        // the broker could not read a request (or refuses the connection) and closes
        this.fail(err);
        this.sock.destroy();
        return;
      }
    } else if (!isMap(msg["result"])) {
      this.violation("a success reply without a result map");
      return;
    }
    if (this.abandoned.delete(id)) {
      this.replied();
      return;
    }
    const p = this.pending.get(id);
    if (!p) {
      this.violation(`a reply to id ${id}, which was not sent`);
      return;
    }
    this.replied();
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.cleanup?.();
    if (err) p.reject(err);
    else p.resolve(msg["result"] as WireMap);
  }

  private replied(): void {
    this.sent--;
    this.pump();
  }

  /** The broker broke the protocol: close, fail everything pending, return the error. */
  private violation(message: string): SkybrokerError {
    const err = protocolError(`the broker sent something this client cannot trust: ${message}; connection closed`);
    this.fail(err);
    this.sock.destroy();
    return err;
  }

  private fail(err: SkybrokerError): void {
    if (this.closedBy) return;
    this.closedBy = err;
    this.reader.clear();
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.cleanup?.();
      p.reject(err);
    }
    this.pending.clear();
    this.abandoned.clear();
    for (const f of this.queue) f.fill(0);
    this.queue.length = 0;
  }

  /** Closes the connection; requests in flight fail with `disconnected`. */
  close(): void {
    this.fail(new SkybrokerError("disconnected", "the connection was closed by the client", { retryable: true }));
    this.sock.destroy();
  }
}

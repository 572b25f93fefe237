// SPDX-License-Identifier: MIT
// The client against a fake broker that sends garbage: every case ends with a clear error
// (code `protocol`, `disconnected` or `timeout`) and the client closing its side; none hangs.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { decode, encode } from "@msgpack/msgpack";
import { SkybrokerClient, SkybrokerError } from "../src/index.js";
import { tempDir } from "./harness.js";

let dir: string;
let n = 0;

before(() => {
  dir = tempDir("skybroker-node-fake.");
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function frame(payload: Uint8Array): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(payload.length);
  return Buffer.concat([h, payload]);
}

const HELLO_OK: Record<string, unknown> = {
  version: 1,
  tenant: "fake",
  server: "skybrokerd/fake",
  operations: ["hello", "ping", "health", "get_records"],
  max_request_frame: 65536,
  max_reply_frame: 4194304,
  max_inflight: 4,
};

/**
 * A fake broker: answers hello properly when `greet`, then calls `onRequest` with each
 * request's id and op. Resolves with the socket path and a promise of "the client closed".
 */
async function fake(
  onRequest: (sock: net.Socket, id: number, op: string) => void,
  greet = true,
): Promise<{ path: string; closed: Promise<void>; server: net.Server }> {
  const p = path.join(dir, `fake${n++}.sock`);
  let closedResolve!: () => void;
  const closed = new Promise<void>((r) => (closedResolve = r));
  const server = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    sock.on("data", (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        const len = buf.readUInt32BE(0);
        const req = decode(buf.subarray(4, 4 + len)) as { id: number; op: string };
        buf = buf.subarray(4 + len);
        if (req.op === "hello" && greet) sock.write(frame(encode({ id: req.id, ok: true, result: HELLO_OK })));
        else onRequest(sock, req.id, req.op);
      }
    });
    sock.on("error", () => undefined);
    sock.on("close", () => closedResolve());
  });
  await new Promise<void>((r) => server.listen(p, r));
  return { path: p, closed, server };
}

async function expectError(p: Promise<unknown>, codes: string[], pattern?: RegExp): Promise<SkybrokerError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof SkybrokerError, String(e));
    assert.ok(codes.includes(e.code), `code ${e.code}: ${e.message}`);
    if (pattern) assert.match(e.message, pattern);
    return e;
  }
  assert.fail("the call succeeded");
}

/** Runs one garbage reply to a ping (or to hello when `atHello`); expects a clear error and
 * the client's side closed, all within 2 s. */
async function garbageCase(reply: (sock: net.Socket, id: number) => void, codes: string[], pattern?: RegExp, atHello = false): Promise<void> {
  const f = await fake((sock, id) => reply(sock, id), !atHello);
  const t0 = Date.now();
  try {
    if (atHello) {
      await expectError(SkybrokerClient.connect({ socketPath: f.path, timeoutMs: 2000, attempts: 1 }), codes, pattern);
    } else {
      const c = await SkybrokerClient.connect({ socketPath: f.path, timeoutMs: 2000, attempts: 1 });
      await expectError(c.ping(), codes, pattern);
      c.close();
    }
    await f.closed;
    assert.ok(Date.now() - t0 < 2500, "no hang");
  } finally {
    f.server.close();
  }
}

describe("a fake broker sending garbage", () => {
  it("random bytes in reply to hello", async () => {
    await garbageCase((s) => s.write(randomBytes(64)), ["protocol", "disconnected", "timeout"], undefined, true);
  });

  it("a length prefix of 2 GiB: refused from the 4 header bytes, nothing buffered", async () => {
    await garbageCase((s) => s.write(Buffer.from([0x80, 0, 0, 0])), ["protocol"], /over the cap/);
  });

  it("a length prefix of 0", async () => {
    await garbageCase((s) => s.write(Buffer.from([0, 0, 0, 0])), ["protocol"], /length 0/);
  });

  it("a reply to an id never sent", async () => {
    await garbageCase((s, id) => s.write(frame(encode({ id: id + 7, ok: true, result: {} }))), ["protocol"], /not sent/);
  });

  it("a payload that is not a map", async () => {
    await garbageCase((s) => s.write(frame(encode([1, 2, 3]))), ["protocol"], /not a map/);
  });

  it("bin, ext and 0xc1", async () => {
    await garbageCase((s, id) => s.write(frame(encode({ id, ok: true, result: { b: new Uint8Array(3) } }))), ["protocol"], /bin or ext/);
    await garbageCase((s, id) => s.write(frame(encode({ id, ok: true, result: { d: new Date() } }))), ["protocol"], /bin or ext/);
    await garbageCase((s) => s.write(frame(Buffer.from([0x81, 0xa2, 0x69, 0x64, 0xc1]))), ["protocol"], /0xc1/);
  });

  it("trailing bytes, truncation, counts larger than the bytes left", async () => {
    await garbageCase((s, id) => s.write(frame(Buffer.concat([encode({ id, ok: true, result: {} }), Buffer.from([0xc0])]))), ["protocol"], /trailing/);
    await garbageCase((s) => s.write(frame(Buffer.from([0x82, 0xa2, 0x69, 0x64, 0x01]))), ["protocol"], /larger than the bytes left|truncated/);
    await garbageCase((s) => s.write(frame(Buffer.from([0x81, 0xa1, 0x72, 0xdd, 0x7f, 0xff, 0xff, 0xff, 0xc0]))), ["protocol"], /over the cap|larger than/);
  });

  it("bad UTF-8, a NUL, a key that is not a str, a duplicated field", async () => {
    await garbageCase((s) => s.write(frame(Buffer.from([0x81, 0xa2, 0x69, 0xff, 0x01]))), ["protocol"], /UTF-8/);
    await garbageCase((s) => s.write(frame(Buffer.from([0x81, 0xa2, 0x69, 0x00, 0x01]))), ["protocol"], /NUL/);
    await garbageCase((s) => s.write(frame(Buffer.from([0x81, 0xa3, 0xed, 0xa0, 0x80, 0x01]))), ["protocol"], /UTF-8/); // a surrogate
    await garbageCase((s) => s.write(frame(Buffer.from([0x81, 0x01, 0x01]))), ["protocol"], /not a str/);
    await garbageCase((s, id) => {
      const body = Buffer.concat([Buffer.from([0x84]), encode("id"), encode(id), encode("ok"), encode(true), encode("id"), encode(id), encode("result"), encode({})]);
      s.write(frame(body));
    }, ["protocol"], /twice/);
  });

  it("nesting deeper than 16", async () => {
    await garbageCase((s, id) => {
      let v: unknown = 1;
      for (let i = 0; i < 20; i++) v = [v];
      s.write(frame(encode({ id, ok: true, result: { v } })));
    }, ["protocol"], /nesting/);
  });

  it("a failure reply without a valid error map, and a success without result", async () => {
    await garbageCase((s, id) => s.write(frame(encode({ id, ok: false, error: { code: "internal" } }))), ["protocol"], /error map/);
    await garbageCase((s, id) => s.write(frame(encode({ id, ok: true }))), ["protocol"], /result map/);
  });

  it("a bad hello reply (version 2, caps out of range)", async () => {
    const bad = async (result: Record<string, unknown>): Promise<void> => {
      const f = await fake(() => undefined, false);
      const srv = f.server;
      srv.removeAllListeners("connection");
      srv.on("connection", (sock: net.Socket) => {
        sock.once("data", () => sock.write(frame(encode({ id: 1, ok: true, result }))));
        sock.on("error", () => undefined);
      });
      await expectError(SkybrokerClient.connect({ socketPath: f.path, timeoutMs: 2000, attempts: 1 }), ["protocol"]);
      srv.close();
    };
    await bad({ ...HELLO_OK, version: 2 });
    await bad({ ...HELLO_OK, max_reply_frame: 17 * 1024 * 1024 });
    await bad({ ...HELLO_OK, max_request_frame: 2 * 1024 * 1024 });
    await bad({ ...HELLO_OK, operations: "all" });
    await bad({ ...HELLO_OK, max_request_frame: 4095 });
    await bad({ ...HELLO_OK, max_inflight: 0 });
    await bad({ ...HELLO_OK, max_inflight: 1025 });
  });

  it("an error with id 0 fails everything in flight", async () => {
    await garbageCase((s) => {
      s.write(frame(encode({ id: 0, ok: false, error: { code: "bad_request", message: "no", retryable: false } })));
    }, ["bad_request"]);
  });

  it("an unknown error code is internal", async () => {
    const f = await fake((s, id) => s.write(frame(encode({ id, ok: false, error: { code: "brand_new", message: "m", retryable: false, upstream_status: 418, request_id: "r" } }))));
    const c = await SkybrokerClient.connect({ socketPath: f.path, timeoutMs: 2000 });
    const e = await expectError(c.ping(), ["internal"]);
    assert.equal(e.upstreamStatus, 418);
    assert.equal(e.requestId, "r");
    c.close();
    f.server.close();
  });

  it("silence: the call times out, the connection stays usable", async () => {
    let answer = false;
    const f = await fake((s, id) => {
      if (answer) s.write(frame(encode({ id, ok: true, result: {} })));
    });
    const c = await SkybrokerClient.connect({ socketPath: f.path, timeoutMs: 2000 });
    const t0 = Date.now();
    await expectError(c.ping({ timeoutMs: 200 }), ["timeout"]);
    assert.ok(Date.now() - t0 < 1500, "the timeout fired on time");
    answer = true;
    await c.ping();
    c.close();
    f.server.close();
  });

  it("the broker closes in the middle of a frame", async () => {
    await garbageCase((s) => s.end(Buffer.from([0, 0, 0, 10, 0x81])), ["disconnected"]);
  });

  it("100 random replies: each an error, none a hang", async () => {
    const f = await fake((s, id) => {
      const r = randomBytes(1 + (id % 40));
      s.write(Math.random() < 0.5 ? frame(r) : r);
      if (Math.random() < 0.3) s.end();
    });
    for (let i = 0; i < 100; i++) {
      const c = await SkybrokerClient.connect({ socketPath: f.path, timeoutMs: 2000, attempts: 1 });
      await expectError(c.ping({ timeoutMs: 100 }), ["protocol", "disconnected", "timeout", "internal", "bad_request", "unauthenticated", "token_expired", "forbidden", "upstream_denied", "not_found", "upstream_unavailable", "rate_limited", "too_large", "shutting_down", "unsupported_version"]);
      c.close();
    }
    f.server.close();
  });
});

describe("a fake broker that answers slowly", () => {
  it("the client keeps at most max_inflight requests unanswered and queues the rest", async () => {
    let unanswered = 0;
    let most = 0;
    let seen = 0;
    const f = await fake((s, id) => {
      seen++;
      unanswered++;
      most = Math.max(most, unanswered);
      setTimeout(() => {
        unanswered--;
        s.write(frame(encode({ id, ok: true, result: {} })));
      }, 5);
    });
    const c = await SkybrokerClient.connect({ socketPath: f.path, timeoutMs: 5000 });
    assert.equal(c.hello.maxInflight, 4);
    await Promise.all(Array.from({ length: 100 }, () => c.ping()));
    assert.equal(seen, 100);
    assert.equal(most, 4, "never more than max_inflight unanswered");
    // a request that times out while queued is never sent
    const slow = Array.from({ length: 8 }, () => c.ping({ timeoutMs: 2 }).catch((e: SkybrokerError) => e.code));
    const codes = await Promise.all(slow);
    assert.ok(codes.every((x) => x === "timeout"));
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(seen < 108, `queued requests that timed out were not sent (${seen - 100} sent)`);
    await c.ping();
    c.close();
    f.server.close();
  });
});

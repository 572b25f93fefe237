// SPDX-License-Identifier: MIT
// The client against a real skybrokerd and the real emulator (demo.json): hello, every v1
// operation, the errors of the broker and of this side, pipelining, timeouts, the reply cap,
// and reconnection across a broker restart.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { SkybrokerClient, SkybrokerError, limits } from "../src/index.js";
import * as H from "./harness.js";

const ADA = "bf9a1506-5b6a-4016-ac62-7c534db47460";
const BROOK = "241d581b-957d-4f06-a86e-8e8f102a4a18";

let emu: H.Emulator;
let broker: H.Broker;
let openSock: string;
let viewer: string, admin: string, support: string, nobody: string;
const clients: SkybrokerClient[] = [];

async function client(socketPath = broker.socket, extra: Parameters<typeof SkybrokerClient.connect>[0] = {}): Promise<SkybrokerClient> {
  const c = await SkybrokerClient.connect({ socketPath, timeoutMs: 10000, ...extra });
  clients.push(c);
  return c;
}

async function rejectsWith(p: Promise<unknown>, code: string, extra: (e: SkybrokerError) => void = () => undefined): Promise<SkybrokerError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof SkybrokerError, `not a SkybrokerError: ${String(e)}`);
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    extra(e);
    return e;
  }
  assert.fail(`expected ${code}, the call succeeded`);
}

before(async () => {
  emu = await H.startEmulator();
  broker = await H.startBroker(({ dir, socket }) => {
    openSock = path.join(dir, "open.sock");
    void socket;
    return (
      H.tenantSection(emu, "acme", undefined, "allow_tables = persons\nallow_operations = exchange, get_records, get_record, detokenize, tokenize, query") +
      H.tenantSection(emu, "open", openSock, "expose_tokens = yes")
    );
  });
  [viewer, admin, support, nobody] = await Promise.all([
    H.mint(emu, { sub: "U2viewer", roles: ["Viewer"] }),
    H.mint(emu, { sub: "U2admin", roles: ["Admin"] }),
    H.mint(emu, { sub: "U2support", roles: ["Support"] }),
    H.mint(emu, { sub: "U2nobody" }),
  ]);
});

after(async () => {
  for (const c of clients) c.close();
  const code = broker ? await H.stopBroker(broker, false) : 0;
  const log = broker ? fs.readFileSync(broker.log, "utf8") : "";
  if (emu) await H.stopEmulator(emu);
  if (broker) fs.rmSync(broker.dir, { recursive: true, force: true });
  assert.equal(code, 0, "skybrokerd did not stop cleanly");
  for (const secret of [admin, viewer, "100-10-1000", "ada.lovelace@example.com"]) {
    if (secret) assert.ok(!log.includes(secret), "the broker logged a token or a record value");
  }
});

describe("hello", () => {
  it("says what the broker said", async () => {
    const c = await client();
    assert.equal(c.tenant, "acme");
    assert.match(c.server, /^skybrokerd\//);
    assert.equal(c.hello.version, 1);
    assert.ok(c.allows("get_records") && c.allows("ping") && c.allows("health"));
    assert.ok(!c.allows("insert_records"), "acme does not allow insert_records");
    assert.ok(c.hello.maxRequestFrame >= 4096 && c.hello.maxRequestFrame <= limits.MAX_REQUEST_FRAME);
    assert.ok(c.hello.maxReplyFrame >= 4096 && c.hello.maxReplyFrame <= limits.MAX_REPLY_FRAME);
    assert.ok(c.hello.maxInflight >= 1 && c.hello.maxInflight <= limits.MAX_INFLIGHT);
  });

  it("fails with unreachable when nothing listens", async () => {
    await rejectsWith(SkybrokerClient.connect({ socketPath: path.join(broker.dir, "nothing.sock"), timeoutMs: 1000 }), "unreachable");
  });

  it("takes the socket from SKYBROKER_SOCKET", async () => {
    const old = process.env["SKYBROKER_SOCKET"];
    process.env["SKYBROKER_SOCKET"] = openSock;
    try {
      const c = await client(undefined as unknown as string, { socketPath: undefined as unknown as string });
      assert.equal(c.tenant, "open");
    } finally {
      if (old === undefined) delete process.env["SKYBROKER_SOCKET"];
      else process.env["SKYBROKER_SOCKET"] = old;
    }
  });
});

describe("operations", () => {
  it("ping and health", async () => {
    const c = await client();
    await c.ping();
    assert.deepEqual(await c.health(), { ready: true, tenant: "acme", reasons: [] });
  });

  it("stats on the admin socket", async () => {
    const c = await client(broker.adminSocket);
    const s = await c.stats();
    assert.ok(s.uptimeS >= 0);
    assert.equal(typeof s.connections, "object");
  });

  it("exchange keeps the Skyflow token in the broker", async () => {
    const c = await client();
    const r = await c.exchange(viewer);
    assert.equal(r.tokenType, "Bearer");
    assert.equal(r.issuedTokenType, "urn:ietf:params:oauth:token-type:jwt");
    assert.ok(r.expiresAt > Date.now() / 1000);
    assert.equal(r.accessToken, undefined);
    assert.ok(!JSON.stringify(r).includes("eyJ"), "no token in the result");
    assert.deepEqual(r.context["roles"], ["Viewer"]);
  });

  it("exchange hands the Skyflow token out only where the tenant exposes tokens", async () => {
    const c = await client(openSock);
    const r = await c.exchange(viewer);
    assert.match(r.accessToken ?? "", /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.ok(r.expiresAt > Date.now() / 1000);
  });

  it("get_records: each role sees what Skyflow allows it", async () => {
    const c = await client();
    const v = await c.getRecords(viewer, { table: "persons", skyflowIds: [ADA], redaction: "PLAIN_TEXT" });
    assert.equal(v.records.length, 1);
    assert.equal(v.records[0]!.fields["skyflow_id"], ADA);
    assert.equal(v.records[0]!.fields["ssn"], "*REDACTED*");
    assert.equal(v.records[0]!.fields["date_of_birth"], "XXXX-01-01");
    assert.equal(v.records[0]!.fields["name"], "Ada Lovelace");
    const a = await c.getRecords(admin, { table: "persons", skyflowIds: [ADA, BROOK], redaction: "PLAIN_TEXT", orderBy: "ASCENDING" });
    assert.equal(a.records.length, 2);
    const ada = a.records.find((r) => r.fields["skyflow_id"] === ADA)!;
    assert.equal(ada.fields["ssn"], "100-10-1000");
    const s = await c.getRecords(support, { table: "persons", limit: 25 });
    assert.ok(s.records.length > 0 && s.records.every((r) => r.fields["state"] === "CA" && !("ssn" in r.fields)));
    await rejectsWith(c.getRecords(nobody, { table: "persons", skyflowIds: [ADA] }), "upstream_denied", (e) => {
      assert.equal(e.upstreamStatus, 403);
      assert.equal(e.requestId?.length, 36);
      assert.equal(e.retryable, false);
    });
  });

  it("get_records by a unique column, with fields, offset and limit", async () => {
    const c = await client();
    const r = await c.getRecords(admin, { table: "persons", columnName: "ssn", columnValues: ["100-10-1000"], fields: ["name"], redaction: "PLAIN_TEXT" });
    assert.equal(r.records.length, 1);
    assert.equal(r.records[0]!.fields["name"], "Ada Lovelace");
    const p = await c.getRecords(admin, { table: "persons", offset: 1, limit: 2 });
    assert.equal(p.records.length, 2);
  });

  it("get_record", async () => {
    const c = await client();
    const r = await c.getRecord(admin, { table: "persons", skyflowId: ADA, redaction: "PLAIN_TEXT" });
    assert.equal(r.record.fields["ssn"], "100-10-1000");
    await rejectsWith(c.getRecord(admin, { table: "persons", skyflowId: "00000000-0000-4000-8000-000000000000" }), "not_found", (e) => {
      assert.equal(e.upstreamStatus, 404);
    });
  });

  it("insert, update, detokenize, tokenize, query and delete", async () => {
    const c = await client(openSock);
    const ins = await c.insertRecords(admin, {
      table: "persons",
      records: [{ name: "Node Test", email_address: "node.test@example.com", state: "NV", ssn: "555-55-5555", date_of_birth: "1990-05-17" }],
      tokenization: true,
    });
    assert.equal(ins.records.length, 1);
    const id = ins.records[0]!.skyflow_id;
    assert.match(id, /^[0-9a-f-]{36}$/);
    const ssnToken = ins.records[0]!.tokens?.["ssn"];
    assert.equal(typeof ssnToken, "string");

    const up = await c.updateRecord(admin, { table: "persons", skyflowId: id, fields: { state: "OR" } });
    assert.equal(up.skyflowId, id);
    const got = await c.getRecord(admin, { table: "persons", skyflowId: id, redaction: "PLAIN_TEXT" });
    assert.equal(got.record.fields["state"], "OR");

    const det = await c.detokenize(admin, { tokens: [ssnToken as string], redaction: "PLAIN_TEXT" });
    assert.equal(det.records[0]!.value, "555-55-5555");
    assert.equal(det.records[0]!.token, ssnToken);
    const partial = await c.detokenize(admin, { tokens: ["no-such-token"], continueOnError: true });
    assert.equal(typeof partial.records[0]!.error, "string");

    const tok = await c.tokenize(admin, { columnGroup: "ssn", values: ["555-55-5555"] });
    const t = tok.records[0]!.token;
    assert.equal(typeof t, "string");
    assert.equal((await c.detokenize(admin, { tokens: [t], redaction: "PLAIN_TEXT" })).records[0]!.value, "555-55-5555");

    const q = await c.query(admin, `SELECT * FROM persons WHERE skyflow_id = '${id}'`);
    assert.equal(q.records.length, 1);

    const del = await c.deleteRecords(admin, { table: "persons", skyflowIds: [id] });
    assert.deepEqual(del.skyflowIds, [id]);
    await rejectsWith(c.getRecord(admin, { table: "persons", skyflowId: id }), "not_found");
  });
});

describe("errors", () => {
  it("the broker's: unauthenticated, token_expired, forbidden, bad_request", async () => {
    const c = await client();
    await rejectsWith(c.getRecords("not.a.token", { table: "persons" }), "unauthenticated");
    const expired = await H.mint(emu, { sub: "U2old", roles: ["Admin"], exp_in: -120 });
    await rejectsWith(c.getRecords(expired, { table: "persons" }), "token_expired");
    const other = await H.mint(emu, { sub: "U2x", roles: ["Admin"], iss: "P2SomeOtherProject0000000000" });
    await rejectsWith(c.exchange(other), "unauthenticated");
    await rejectsWith(c.getRecords(admin, { table: "cards" }), "forbidden");
    await rejectsWith(c.insertRecords(admin, { table: "persons", records: [{ name: "x" }] }), "forbidden");
    await rejectsWith(c.deleteRecords(admin, { table: "persons", skyflowIds: ["*"] }), "forbidden");
    const o = await client(openSock);
    await rejectsWith(o.deleteRecords(admin, { table: "persons", skyflowIds: ["*"] }), "bad_request");
    // the connection still serves
    await c.ping();
  });

  it("arguments out of PROTOCOL.md's bounds are refused before anything is sent", async () => {
    const c = await client();
    const before = await H.emuTotal(emu);
    const long = "x".repeat(257);
    const cases: Array<Promise<unknown>> = [
      c.getRecords(admin, { table: long }),
      c.getRecords(admin, { table: "persons", limit: 26 }),
      c.getRecords(admin, { table: "persons", limit: 0 }),
      c.getRecords(admin, { table: "persons", offset: -1 }),
      c.getRecords(admin, { table: "persons", skyflowIds: [] }),
      c.getRecords(admin, { table: "persons", skyflowIds: Array.from({ length: 1001 }, (_, i) => `id${i}`) }),
      c.getRecords(admin, { table: "pers\0ons" }),
      c.getRecords(admin, { table: "persons\uD800" }),
      c.getRecords(admin, { table: "persons", redaction: "plain_text" as "PLAIN_TEXT" }),
      c.getRecords("x".repeat(64 * 1024 + 1), { table: "persons" }),
      c.getRecords("", { table: "persons" }),
      c.query(admin, "SELECT " + "x".repeat(8192)),
      c.insertRecords(admin, { table: "persons", records: [] }),
      c.insertRecords(admin, { table: "persons", records: [{ when: new Date() as unknown as string }] }),
      c.insertRecords(admin, { table: "persons", records: [{ n: NaN }] }),
      c.updateRecord(admin, { table: "persons", skyflowId: ADA, fields: [] as unknown as Record<string, string> }),
      // within every field limit, but over the broker's request frame cap (64 KiB)
      c.tokenize(admin, { columnGroup: "ssn", values: ["a".repeat(60000), "b".repeat(60000)] }),
    ];
    for (const p of cases) await rejectsWith(p, "invalid_argument", (e) => assert.match(e.message, /nothing was sent/));
    assert.equal(await H.emuTotal(emu), before, "no upstream call");
    await c.ping();
  });

  it("a per-call timeout, after which the connection still serves", async () => {
    const c = await client();
    await H.emuRequest(emu, "POST", "/emulator/faults", { path_prefix: `/v1/vaults/${emu.vaultId}/persons`, delay_ms: 1500, count: 1 });
    const t0 = Date.now();
    await rejectsWith(c.getRecords(admin, { table: "persons", skyflowIds: [ADA] }, { timeoutMs: 300 }), "timeout");
    assert.ok(Date.now() - t0 < 1000, "the timeout fired on time");
    await c.ping();
    await new Promise((r) => setTimeout(r, 1500)); // the late reply arrives and is dropped
    const r = await c.getRecords(admin, { table: "persons", skyflowIds: [ADA] });
    assert.equal(r.records.length, 1);
    await H.emuRequest(emu, "DELETE", "/emulator/faults");
  });

  it("an abort signal", async () => {
    const c = await client();
    await H.emuRequest(emu, "POST", "/emulator/faults", { path_prefix: `/v1/vaults/${emu.vaultId}/persons`, delay_ms: 800, count: 1 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    await rejectsWith(c.getRecords(admin, { table: "persons", skyflowIds: [ADA] }, { signal: ac.signal }), "timeout");
    await c.ping();
    await H.emuRequest(emu, "DELETE", "/emulator/faults");
  });

  it("a reply over the client's cap closes the connection; the next call reconnects", async () => {
    const c = await client(broker.socket, { maxReplyFrame: 1024 });
    await rejectsWith(c.getRecords(admin, { table: "persons", limit: 25, redaction: "PLAIN_TEXT" }), "protocol", (e) => {
      assert.match(e.message, /over the cap of 1024/);
    });
    await c.ping();
  });
});

describe("pipelining", () => {
  it("1,000 requests in flight on one connection, replies matched by id", async () => {
    const c = await client(broker.socket, { timeoutMs: 60000 }); // the asan build is slow
    await c.getRecords(viewer, { table: "persons", skyflowIds: [ADA] }); // exchange once
    const ids = [ADA, BROOK];
    const t0 = process.hrtime.bigint();
    const all = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        i % 4 === 3 ? c.ping().then(() => "ping") : c.getRecords(viewer, { table: "persons", skyflowIds: [ids[i % 2]!] }).then((r) => r.records[0]!.fields["skyflow_id"]),
      ),
    );
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    all.forEach((v, i) => assert.equal(v, i % 4 === 3 ? "ping" : ids[i % 2]));
    console.log(`# 1000 pipelined requests (750 get_records, 250 ping) in ${ms.toFixed(0)} ms (${((1000 * 1000) / ms).toFixed(0)}/s)`);
  });

  it("10,000 pings in flight: the client's own cost per request", async () => {
    const c = await client();
    const n = 10000;
    const t0 = process.hrtime.bigint();
    const rs = await Promise.all(Array.from({ length: n }, () => c.ping()));
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.equal(rs.length, n);
    console.log(`# ${n} pipelined pings in ${ms.toFixed(0)} ms (${((n * 1000) / ms).toFixed(0)}/s)`);
  });
});

describe("reconnection", () => {
  it("idempotent calls and writes survive a broker restart", async () => {
    const c = await client();
    const o = await client(openSock);
    await c.getRecords(viewer, { table: "persons", skyflowIds: [ADA] });
    assert.equal(await H.stopBroker(broker, false), 0);
    // calls while the broker is down fail with a clear error
    await rejectsWith(c.ping({ timeoutMs: 500 }), "unreachable");
    broker = await H.startBroker(() => "", broker.dir);
    const r = await c.getRecords(viewer, { table: "persons", skyflowIds: [ADA] });
    assert.equal(r.records[0]!.fields["ssn"], "*REDACTED*");
    // a write finds the connection broken before sending: it reconnects, and is sent once.
    // (The harness waited for acme's keys; the open tenant loads its own: a write is not
    // retried on "JWKS not loaded yet", so wait for it.)
    const probe = await client(openSock);
    for (let i = 0; i < 100 && !(await probe.health()).ready; i++) await new Promise((r) => setTimeout(r, 50));
    const ins = await o.insertRecords(admin, { table: "persons", records: [{ name: "After Restart", state: "NV" }] });
    await o.deleteRecords(admin, { table: "persons", skyflowIds: [ins.records[0]!.skyflow_id] });
  });

  it("a retryable error from the broker is retried, on a new attempt", async () => {
    const c = await client(broker.socket, { backoffMs: 20 });
    await c.getRecords(viewer, { table: "persons", skyflowIds: [ADA] });
    // two 503s: the broker retries a read once itself, then answers upstream_unavailable
    // (retryable); the client's second attempt succeeds
    await H.emuRequest(emu, "POST", "/emulator/faults", { path_prefix: `/v1/vaults/${emu.vaultId}/persons`, status: 503, count: 2 });
    const r = await c.getRecords(viewer, { table: "persons", skyflowIds: [ADA] });
    assert.equal(r.records.length, 1);
    await H.emuRequest(emu, "DELETE", "/emulator/faults");
    // a write is not retried
    const o = await client(openSock, { backoffMs: 20 });
    await H.emuRequest(emu, "POST", "/emulator/faults", { path_prefix: `/v1/vaults/${emu.vaultId}/persons`, status: 503, count: 1 });
    await rejectsWith(o.insertRecords(admin, { table: "persons", records: [{ name: "Never" }] }), "upstream_unavailable", (e) => assert.ok(e.retryable));
    await H.emuRequest(emu, "DELETE", "/emulator/faults");
  });
});

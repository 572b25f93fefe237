// SPDX-License-Identifier: MIT
// End to end: the real emulator, a real skybrokerd, this MCP server as its own process, and
// the MCP SDK's own client over Streamable HTTP with emulator-minted Descope tokens. Checks
// what each role sees, the MCP authorization rules (401 with the resource metadata, audience,
// expiry), and that the MCP process holds no Skyflow credential or token: not in its
// environment, not in any reply or log line, not anywhere in its memory.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import * as H from "../../../client/node/test/harness.js";

// The server as `npm test` compiled it with the tests: build/examples/mcp-server/src/main.js
const MAIN = path.resolve(fileURLToPath(new URL(".", import.meta.url)), "../src/main.js");
const RESOURCE = "https://mcp.example.test/mcp";
const METADATA = "https://mcp.example.test/.well-known/oauth-protected-resource/mcp";
const ADA = "bf9a1506-5b6a-4016-ac62-7c534db47460";
const GUIDE_INPUTS = ["tableName", "skyflow_ids", "redaction", "tokenization", "returnFileMetadata", "fields", "offset", "limit",
  "downloadURL", "column_name", "column_values", "order_by"];

let emu: H.Emulator;
let broker: H.Broker;
let mcp: ChildProcess;
let base: string;
let mcpLog: () => string = () => ""; // the MCP server's log so far
let exposedSock: string;
const replies: string[] = []; // every HTTP reply body and header the MCP server sent us
let viewer: string, admin: string, nobody: string;

interface Mcp {
  proc: ChildProcess;
  base: string;
  log: () => string;
}

/** Starts this MCP server as its own process, with only the environment it needs. */
async function spawnMcp(socket: string): Promise<Mcp> {
  const env = {
    PATH: process.env["PATH"] ?? "/usr/bin:/bin",
    SKYBROKER_SOCKET: socket,
    DESCOPE_PROJECT_ID: emu.projectId,
    DESCOPE_MCP_ISSUER_URL: `https://api.descope.com/v1/apps/${emu.projectId}`,
    MCP_SERVER_URL: RESOURCE,
    HOST: "127.0.0.1",
    PORT: "0",
  };
  const proc = spawn(process.execPath, [MAIN], { env, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  proc.stderr!.on("data", (c: Buffer) => (log += c.toString("utf8")));
  const base = await new Promise<string>((resolve, reject) => {
    let out = "";
    proc.stdout!.on("data", (c: Buffer) => {
      out += c.toString("utf8");
      const m = /listening (http:\/\/\S+)\/mcp/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.once("exit", (code) => reject(new Error(`the MCP server exited (${code}): ${log}`)));
    setTimeout(() => reject(new Error(`the MCP server did not start: ${log}`)), 20000);
  });
  return { proc, base, log: () => log };
}

async function startMcp(): Promise<void> {
  const m = await spawnMcp(broker.socket);
  mcp = m.proc;
  base = m.base;
  mcpLog = m.log;
}

/** fetch that keeps a copy of everything the MCP server answers. */
const recordingFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
  const r = await fetch(input, init);
  const body = await r.clone().text();
  replies.push(JSON.stringify([...r.headers.entries()]) + body);
  return r;
};

async function mcpClient(token: string): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
    fetch: recordingFetch,
  });
  const client = new Client({ name: "e2e-test", version: "1.0.0" });
  await client.connect(transport);
  return client;
}

function textOf(r: unknown): string {
  const c = (r as { content: Array<{ type: string; text: string }> }).content;
  return c.map((x) => x.text).join("\n");
}

async function records(token: string, args: Record<string, unknown>): Promise<Array<{ fields: Record<string, unknown> }>> {
  const c = await mcpClient(token);
  try {
    const r = await c.callTool({ name: "get_skyflow_records", arguments: args });
    assert.ok(!r.isError, textOf(r));
    return (JSON.parse(textOf(r)) as { records: Array<{ fields: Record<string, unknown> }> }).records;
  } finally {
    await c.close();
  }
}

async function rawPost(headers: Record<string, string>): Promise<Response> {
  const r = await fetch(`${base}/mcp`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
  });
  replies.push(JSON.stringify([...r.headers.entries()]) + (await r.clone().text()));
  return r;
}

before(async () => {
  emu = await H.startEmulator();
  broker = await H.startBroker(({ dir }) => {
    exposedSock = path.join(dir, "exposed.sock");
    const policy = `audience = ${RESOURCE}\nallow_tables = persons\nallow_operations = exchange, get_records, get_record, detokenize, query`;
    // "exposed": tokens handed out, and no audience check in the broker
    const open = "allow_tables = persons\nallow_operations = exchange, get_records, get_record, detokenize, query";
    return H.tenantSection(emu, "mcp", undefined, policy) + H.tenantSection(emu, "exposed", exposedSock, `${open}\nexpose_tokens = yes`);
  });
  const tok = (sub: string, roles?: string[], extra: Record<string, unknown> = {}): Promise<string> =>
    H.mint(emu, { sub, aud: RESOURCE, ...(roles && { roles }), ...extra });
  [viewer, admin, nobody] = await Promise.all([tok("U2viewer", ["Viewer"]), tok("U2admin", ["Admin"]), tok("U2nobody")]);
  await startMcp();
});

after(async () => {
  if (mcp) await H.stopProcess(mcp);
  if (broker) assert.equal(await H.stopBroker(broker), 0);
  if (emu) await H.stopEmulator(emu);
});

describe("the MCP server on the broker", () => {
  it("serves the protected-resource metadata, pointing at the Descope project", async () => {
    for (const p of ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]) {
      const r = await fetch(base + p);
      assert.equal(r.status, 200);
      const m = (await r.json()) as Record<string, unknown>;
      assert.equal(m["resource"], RESOURCE);
      assert.deepEqual(m["authorization_servers"], [`https://api.descope.com/v1/apps/${emu.projectId}`]);
      assert.deepEqual(m["bearer_methods_supported"], ["header"]);
    }
  });

  it("no token: 401 with WWW-Authenticate pointing at the resource metadata", async () => {
    const r = await rawPost({});
    assert.equal(r.status, 401);
    assert.equal(r.headers.get("www-authenticate"), `Bearer resource_metadata="${METADATA}"`);
  });

  it("a token for another audience, an expired one, a refresh token, garbage: 401 invalid_token", async () => {
    const other = await H.mint(emu, { sub: "U2admin", roles: ["Admin"], aud: "https://other.example.test/mcp" });
    const noAud = await H.mint(emu, { sub: "U2admin", roles: ["Admin"] });
    const expired = await H.mint(emu, { sub: "U2admin", roles: ["Admin"], aud: RESOURCE, exp_in: -120 });
    const refresh = await H.mint(emu, { sub: "U2admin", roles: ["Admin"], aud: RESOURCE, drn: "DSR" });
    for (const t of [other, noAud, expired, refresh, "garbage.not.ajwt"]) {
      const r = await rawPost({ authorization: `Bearer ${t}` });
      assert.equal(r.status, 401);
      const h = r.headers.get("www-authenticate") ?? "";
      assert.match(h, /^Bearer error="invalid_token", resource_metadata="https:\/\/mcp\.example\.test\/\.well-known\/oauth-protected-resource\/mcp"/);
    }
    const r = await rawPost({ authorization: "Basic dXNlcjpwYXNz" });
    assert.equal(r.status, 400);
    // the SDK's client sees the 401 too
    await assert.rejects(mcpClient(expired));
  });

  it("lists the tools, get_skyflow_records with exactly the guide's input schema", async () => {
    const c = await mcpClient(viewer);
    const { tools } = await c.listTools();
    await c.close();
    assert.deepEqual(tools.map((t) => t.name).sort(), ["detokenize", "get_record", "get_skyflow_records", "query"]);
    const g = tools.find((t) => t.name === "get_skyflow_records")!;
    assert.deepEqual(Object.keys(g.inputSchema.properties ?? {}).sort(), [...GUIDE_INPUTS].sort());
    assert.deepEqual(g.inputSchema.required, ["tableName"]);
    const red = (g.inputSchema.properties as Record<string, { enum?: string[] }>)["redaction"]!;
    assert.deepEqual(red.enum?.sort(), ["DEFAULT", "MASKED", "PLAIN_TEXT", "REDACTED"]);
  });

  it("the Viewer sees the ssn redacted, the Admin plain", async () => {
    const v = await records(viewer, { tableName: "persons", skyflow_ids: [ADA], redaction: "PLAIN_TEXT" });
    assert.equal(v[0]!.fields["ssn"], "*REDACTED*");
    assert.equal(v[0]!.fields["date_of_birth"], "XXXX-01-01");
    const a = await records(admin, { tableName: "persons", skyflow_ids: [ADA], redaction: "PLAIN_TEXT" });
    assert.equal(a[0]!.fields["ssn"], "100-10-1000");
    const page = await records(admin, { tableName: "persons", limit: "3", offset: "1", order_by: "ASCENDING", fields: ["name"] });
    assert.equal(page.length, 3);
  });

  it("get_record, detokenize and query as the Admin", async () => {
    const c = await mcpClient(admin);
    const rec = await c.callTool({ name: "get_record", arguments: { tableName: "persons", skyflow_id: ADA, redaction: "PLAIN_TEXT" } });
    assert.equal((JSON.parse(textOf(rec)) as { fields: Record<string, unknown> }).fields["name"], "Ada Lovelace");
    const tok = await c.callTool({ name: "get_skyflow_records", arguments: { tableName: "persons", skyflow_ids: [ADA], tokenization: true } });
    assert.ok(!tok.isError, textOf(tok));
    const r0 = (JSON.parse(textOf(tok)) as { records: Array<{ tokens?: Record<string, string>; fields: Record<string, string> }> }).records[0]!;
    const ssnToken = r0.tokens?.["ssn"] ?? r0.fields["ssn"]!;
    const det = await c.callTool({ name: "detokenize", arguments: { tokens: [ssnToken], redaction: "PLAIN_TEXT" } });
    assert.equal((JSON.parse(textOf(det)) as { records: Array<{ value: string }> }).records[0]!.value, "100-10-1000");
    const q = await c.callTool({ name: "query", arguments: { query: `SELECT skyflow_id, state FROM persons WHERE skyflow_id = '${ADA}'` } });
    assert.ok(!q.isError, textOf(q));
    assert.equal((JSON.parse(textOf(q)) as { records: Array<{ fields: Record<string, string> }> }).records[0]!.fields["state"], "CA");
    await c.close();
  });

  it("errors are MCP tool errors carrying the broker's code", async () => {
    const c = await mcpClient(viewer);
    const over = await c.callTool({ name: "get_skyflow_records", arguments: { tableName: "persons", limit: "26" } });
    assert.ok(over.isError);
    assert.match(textOf(over), /^Error fetching Skyflow records: bad_request: limit must be 1\.\.25/);
    const table = await c.callTool({ name: "get_skyflow_records", arguments: { tableName: "cards" } });
    assert.match(textOf(table), /^Error fetching Skyflow records: forbidden: /);
    const meta = await c.callTool({ name: "get_skyflow_records", arguments: { tableName: "persons", returnFileMetadata: true } });
    assert.match(textOf(meta), /bad_request: returnFileMetadata/);
    await c.close();
    const n = await mcpClient(nobody);
    const denied = await n.callTool({ name: "get_skyflow_records", arguments: { tableName: "persons", skyflow_ids: [ADA] } });
    assert.ok(denied.isError);
    assert.match(textOf(denied), /^Error fetching Skyflow records: upstream_denied: .*\(HTTP 403, request id [0-9a-f-]{36}\)$/);
    await n.close();
  });

  it("refuses to start with a Skyflow variable in its environment", async () => {
    const p = spawn(process.execPath, [MAIN], {
      env: { SKYFLOW_SERVICE_ACCOUNT_ID: "x", DESCOPE_PROJECT_ID: "P", MCP_SERVER_URL: RESOURCE, SKYBROKER_SOCKET: broker.socket },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    p.stderr!.on("data", (c: Buffer) => (err += c.toString()));
    const code = await new Promise((r) => p.once("exit", r));
    assert.equal(code, 1);
    assert.match(err, /SKYFLOW_SERVICE_ACCOUNT_ID set: this server holds no Skyflow configuration or credential/);
  });
});

/** JWTs in a string: three base64url segments, the first two JSON objects. */
function jwtsIn(s: string): string[] {
  return s.match(/eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/g) ?? [];
}

function issuer(jwt: string): string | undefined {
  try {
    const c = JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString("utf8")) as { iss?: string };
    return c.iss;
  } catch {
    return undefined; // a fragment cut at a chunk boundary
  }
}

/** The process's readable, writable private memory (heap, V8's spaces, buffers), as latin1 text, by chunks. */
function* memoryOf(pid: number): Generator<string> {
  const maps = fs.readFileSync(`/proc/${pid}/maps`, "utf8").trim().split("\n");
  const fd = fs.openSync(`/proc/${pid}/mem`, "r");
  const CHUNK = 8 << 20;
  const buf = Buffer.alloc(CHUNK + 4096);
  try {
    for (const line of maps) {
      const [range, perms, , , , name] = line.split(/\s+/);
      if (!perms?.startsWith("rw") || name?.startsWith("[v")) continue;
      const [lo, hi] = range!.split("-").map((x) => parseInt(x, 16)) as [number, number];
      for (let at = lo; at < hi; at += CHUNK) {
        const len = Math.min(CHUNK + 4096, hi - at); // overlap: a token across chunks is seen whole
        let n = 0;
        try {
          n = fs.readSync(fd, buf, 0, len, at);
        } catch {
          continue; // a guard page
        }
        yield buf.toString("latin1", 0, n);
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

describe("no Skyflow credential or token in the MCP process", () => {
  it("its environment holds none", () => {
    const env = fs.readFileSync(`/proc/${mcp.pid}/environ`, "utf8").split("\0").filter(Boolean);
    const names = env.map((e) => e.split("=")[0]!);
    assert.deepEqual(names.filter((n) => n.startsWith("SKYFLOW_")), []);
    const all = env.join("\n");
    assert.ok(!all.includes(emu.serviceAccountId), "the service account id");
    assert.ok(!all.includes("PRIVATE KEY"), "a private key");
    assert.deepEqual(jwtsIn(all), []);
  });

  it("no reply and no log line carries a token, a key or a record value", () => {
    assert.ok(replies.length > 10, "the replies were recorded");
    const all = replies.join("\n");
    assert.deepEqual(jwtsIn(all), [], "a JWT in a reply of the MCP server");
    assert.ok(!all.includes(emu.serviceAccountId));
    const log = mcpLog();
    assert.ok(log.includes("tool=get_skyflow_records outcome=ok"), "the log was captured");
    assert.deepEqual(jwtsIn(log), [], "a JWT in the MCP server's log");
    for (const s of ["100-10-1000", "Ada Lovelace", "*REDACTED*", emu.serviceAccountId, "PRIVATE KEY", viewer.slice(0, 40)]) {
      assert.ok(!log.includes(s), `the log holds '${s.slice(0, 12)}'`);
    }
  });

  it("its memory holds no Skyflow token and no service-account key", () => {
    const m = scan(mcp.pid!);
    console.log(`# scanned ${(m.bytes / 1048576).toFixed(0)} MiB of the MCP process; JWTs by issuer: ${JSON.stringify([...m.issuers])}`);
    assert.ok(m.sawResource, "the scan reads the process's memory (its own configuration is there)");
    assert.ok(!m.sawKey, "the service account's private key or id is in the MCP process's memory");
    // Every token in there is a Descope one (issuer: the project); a Skyflow token would carry
    // the emulator's issuer.
    for (const iss of m.issuers.keys()) assert.equal(iss, emu.projectId, `a token of issuer ${iss} in the MCP process's memory`);
  });

  it("the scan finds a Skyflow token where there is one (a tenant with expose_tokens = yes)", async () => {
    const m = await spawnMcp(exposedSock);
    try {
      // this tenant does not check the audience: the MCP server's own check refuses a token
      // issued for another server, before asking the broker
      const other = await H.mint(emu, { sub: "U2viewer", roles: ["Viewer"], aud: "https://other.example.test/mcp" });
      const before = await H.emuTotal(emu);
      const o = await fetch(`${m.base}/mcp`, {
        method: "POST",
        headers: { authorization: `Bearer ${other}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
      });
      assert.equal(o.status, 401);
      assert.match(o.headers.get("www-authenticate") ?? "", /error="invalid_token", .*not issued for this server/);
      assert.equal(await H.emuTotal(emu), before, "no upstream call");
      const r = await fetch(`${m.base}/mcp`, {
        method: "POST",
        headers: { authorization: `Bearer ${viewer}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
      });
      // the server refuses to serve with a tenant that hands it Skyflow tokens ...
      assert.equal(r.status, 500);
      const text = await r.text();
      assert.deepEqual(jwtsIn(text), []);
      for (let i = 0; i < 50 && !m.log().includes("auth=expose_tokens"); i++) await new Promise((res) => setTimeout(res, 20));
      assert.match(m.log(), /auth=expose_tokens/);
      // ... but it did receive one, and the scan sees it
      const found = scan(m.proc.pid!);
      const foreign = [...found.issuers.keys()].filter((iss) => iss !== emu.projectId);
      assert.ok(foreign.length > 0, `no Skyflow token found: ${JSON.stringify([...found.issuers])}`);
    } finally {
      await H.stopProcess(m.proc);
    }
  });
});

function scan(pid: number): { bytes: number; sawResource: boolean; sawKey: boolean; issuers: Map<string, number> } {
  const keyBody = emu.privateKey.split("\n").filter((l) => l && !l.startsWith("-----")).join("");
  const needles = [keyBody.slice(40, 80), keyBody.slice(400, 440), emu.serviceAccountId];
  const out = { bytes: 0, sawResource: false, sawKey: false, issuers: new Map<string, number>() };
  for (const chunk of memoryOf(pid)) {
    out.bytes += chunk.length;
    if (chunk.includes(RESOURCE)) out.sawResource = true;
    if (needles.some((n) => chunk.includes(n))) out.sawKey = true;
    for (const j of jwtsIn(chunk)) {
      const iss = issuer(j);
      if (iss !== undefined) out.issuers.set(iss, (out.issuers.get(iss) ?? 0) + 1);
    }
  }
  return out;
}

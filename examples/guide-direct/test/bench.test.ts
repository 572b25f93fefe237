// SPDX-License-Identifier: MIT
// Benchmark: the guide's own pattern (this package) against the same MCP server on the broker
// (examples/mcp-server), side by side in one run, on the real emulator over TLS. The MCP SDK's
// client calls get_skyflow_records as several users at once; reported: tool-call latency
// (p50, p99), throughput, and the STS exchanges each made at the emulator. Checks that both
// answer the same, and that the broker exchanged once per user where the guide's pattern
// exchanges on every HTTP request.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, it } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import * as H from "../../../client/node/test/harness.js";

// Both servers as their `npm test` compiled them (examples/mcp-server's ran first).
const BUILD = path.resolve(fileURLToPath(new URL(".", import.meta.url)), "../../..");
const DIRECT = path.join(BUILD, "examples/guide-direct/src/main.js");
const BROKERED = path.resolve(BUILD, "../../mcp-server/build/examples/mcp-server/src/main.js");
const RESOURCE = "https://mcp.example.test/mcp";
const ADA = "bf9a1506-5b6a-4016-ac62-7c534db47460";
const USERS = Number(process.env["BENCH_USERS"] ?? "4");
const CALLS = Number(process.env["BENCH_CALLS"] ?? "50"); // per user

let emu: H.Emulator;
let broker: H.Broker;
const procs: ChildProcess[] = [];

async function spawnServer(script: string, env: Record<string, string>): Promise<string> {
  const p = spawn(process.execPath, [script], {
    env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOST: "127.0.0.1", PORT: "0", MCP_SERVER_URL: RESOURCE, DESCOPE_PROJECT_ID: emu.projectId, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  procs.push(p);
  let err = "";
  p.stderr!.on("data", (c: Buffer) => (err += c.toString()));
  return new Promise<string>((resolve, reject) => {
    let out = "";
    p.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /listening (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    p.once("exit", (code) => reject(new Error(`${script} exited (${code}): ${err}`)));
  });
}

async function stsCalls(): Promise<number> {
  const r = await H.emuRequest(emu, "GET", "/emulator/stats");
  return (r.body as { endpoints: Record<string, number> }).endpoints["POST /v1/auth/sts/token"] ?? 0;
}

interface Run {
  latencies: number[];
  ms: number;
  sts: number;
  httpRequests: number;
}

/** USERS clients at once, each making CALLS tool calls one after another. */
async function run(url: string, tokens: string[]): Promise<Run> {
  await H.emuRequest(emu, "POST", "/emulator/stats/reset");
  const latencies: number[] = [];
  let httpRequests = 0;
  const counting = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    httpRequests++;
    return fetch(input, init);
  };
  const t0 = performance.now();
  await Promise.all(
    tokens.map(async (token) => {
      const c = new Client({ name: "bench", version: "1.0.0" });
      await c.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } }, fetch: counting }));
      for (let i = 0; i < CALLS; i++) {
        const t = performance.now();
        const r = await c.callTool({ name: "get_skyflow_records", arguments: { tableName: "persons", skyflow_ids: [ADA], redaction: "PLAIN_TEXT" } });
        latencies.push(performance.now() - t);
        assert.ok(!r.isError, JSON.stringify(r.content));
        const text = (r.content as Array<{ text: string }>)[0]!.text;
        assert.equal((JSON.parse(text) as { records: Array<{ fields: Record<string, string> }> }).records[0]!.fields["ssn"], "*REDACTED*");
      }
      await c.close();
    }),
  );
  return { latencies, ms: performance.now() - t0, sts: await stsCalls(), httpRequests };
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

function report(name: string, r: Run): string {
  const calls = r.latencies.length;
  return `${name.padEnd(22)} ${calls} calls  p50 ${pct(r.latencies, 50).toFixed(1)} ms  p99 ${pct(r.latencies, 99).toFixed(1)} ms  ` +
    `${((calls * 1000) / r.ms).toFixed(0)} calls/s  STS exchanges ${r.sts} (HTTP requests ${r.httpRequests})`;
}

before(async () => {
  emu = await H.startEmulator();
  broker = await H.startBroker(() =>
    H.tenantSection(emu, "mcp", undefined, `audience = ${RESOURCE}\nallow_tables = persons\nallow_operations = exchange, get_records`),
  );
});

after(async () => {
  for (const p of procs) await H.stopProcess(p);
  if (broker) await H.stopBroker(broker);
  if (emu) await H.stopEmulator(emu);
});

it(`get_skyflow_records, ${USERS} users x ${CALLS} calls: the guide's pattern vs the broker`, async () => {
  const tokens = await Promise.all(Array.from({ length: USERS }, (_, i) => H.mint(emu, { sub: `U2bench${i}`, roles: ["Viewer"], aud: RESOURCE })));
  const direct = await spawnServer(DIRECT, {
    DESCOPE_BASE_URL: emu.url,
    SKYFLOW_STS_URL: `${emu.url}/v1/auth/sts/token`,
    SKYFLOW_SERVICE_ACCOUNT_ID: emu.serviceAccountId,
    SKYFLOW_VAULT_ID: emu.vaultId,
    SKYFLOW_VAULT_URL: emu.url,
    NODE_EXTRA_CA_CERTS: emu.caFile,
  });
  const brokered = await spawnServer(BROKERED, { SKYBROKER_SOCKET: broker.socket });

  await run(direct, tokens.slice(0, 1)); // warm-up: connections, JIT
  await run(brokered, tokens.slice(0, 1));
  const fresh = await Promise.all(Array.from({ length: USERS }, (_, i) => H.mint(emu, { sub: `U2benchB${i}`, roles: ["Viewer"], aud: RESOURCE })));
  const d = await run(direct, tokens);
  const b = await run(brokered, fresh);
  console.log(`# ${report("guide (STS per request)", d)}`);
  console.log(`# ${report("on skybroker", b)}`);
  // the guide exchanges on every HTTP request; the broker once per user (fresh tokens)
  assert.equal(d.sts, d.httpRequests);
  assert.equal(b.sts, USERS);
});

// SPDX-License-Identifier: MIT
// Test harness shared by the Node tests (client/node, examples/mcp-server): starts the real
// skyflow-emulator over TLS (tests/tls/mkca.sh, tests/emulator/demo.json) and a real skybrokerd
// with a generated configuration, mints Descope tokens at the emulator, and stops everything.
// Binaries come from the build tree through the environment, as for the C integration tests:
// SKYBROKERD, SKYFLOW_EMULATOR and SKYBROKER_SOURCE_DIR (set by CMake for ctest).

import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as https from "node:https";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

function need(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through ctest (label node), which sets it`);
  return v;
}

/** The source tree (tests/tls/mkca.sh, tests/emulator/demo.json). */
export function sourceDir(): string {
  return need("SKYBROKER_SOURCE_DIR");
}

export function tempDir(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(d, 0o700);
  return d;
}

async function waitFor(what: string, seconds: number, check: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} within ${seconds} s`);
}

export interface Emulator {
  dir: string;
  url: string;
  ca: string;
  caFile: string;
  vaultId: string;
  projectId: string;
  serviceAccountId: string;
  credentialsFile: string;
  /** The service account's private key (PKCS#8 PEM), to look for where it must not be. */
  privateKey: string;
  proc: ChildProcess;
  log: string;
}

export async function startEmulator(configFile = path.join(sourceDir(), "tests/emulator/demo.json")): Promise<Emulator> {
  const bin = need("SKYFLOW_EMULATOR");
  const dir = tempDir("skybroker-node-emu.");
  execFileSync("sh", [path.join(sourceDir(), "tests/tls/mkca.sh"), path.join(dir, "tls")], { stdio: "ignore" });
  const out = path.join(dir, "emulator.out");
  const log = path.join(dir, "emulator.log");
  const proc = spawn(
    bin,
    ["--config", configFile, "--listen", "127.0.0.1:0", "--state-dir", path.join(dir, "state"),
      "--tls-cert", path.join(dir, "tls/server.pem"), "--tls-key", path.join(dir, "tls/server.key")],
    { stdio: ["ignore", fs.openSync(out, "w"), fs.openSync(log, "w")] },
  );
  let ready = "";
  await waitFor("the emulator did not start", 30, () => {
    ready = fs.readFileSync(out, "utf8").split("\n").find((l) => l.startsWith("ready ")) ?? "";
    return ready !== "";
  });
  const field = (k: string): string => new RegExp(` ${k}=(\\S+)`).exec(ready)?.[1] ?? "";
  const credentialsFile = path.join(dir, "state/credentials.json");
  const creds = JSON.parse(fs.readFileSync(credentialsFile, "utf8")) as { clientID: string; privateKey: string };
  const caFile = path.join(dir, "tls/ca.pem");
  return {
    dir,
    url: field("url"),
    ca: fs.readFileSync(caFile, "utf8"),
    caFile,
    vaultId: field("vault_id"),
    projectId: field("project_id"),
    serviceAccountId: creds.clientID,
    credentialsFile,
    privateKey: creds.privateKey,
    proc,
    log,
  };
}

/** A JSON request to the emulator; resolves with the status and the parsed body. */
export function emuRequest(e: Emulator, method: string, p: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request(
      new URL(p, e.url),
      { method, ca: e.ca, headers: data ? { "content-type": "application/json" } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as unknown) : undefined });
        });
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

/** Mints a Descope session token at the emulator (body: sub, roles, aud, iss, exp_in, ...). */
export async function mint(e: Emulator, body: Record<string, unknown>): Promise<string> {
  const r = await emuRequest(e, "POST", "/emulator/descope/token", body);
  const token = (r.body as { token?: string } | undefined)?.token;
  if (r.status !== 200 || !token) throw new Error(`minting a token failed: HTTP ${r.status}`);
  return token;
}

/** Calls per endpoint at the emulator since start or reset. */
export async function emuTotal(e: Emulator): Promise<number> {
  const r = await emuRequest(e, "GET", "/emulator/stats");
  return (r.body as { total: number }).total;
}

export async function stopProcess(p: ChildProcess, timeoutMs = 10000): Promise<number | null> {
  if (p.exitCode !== null || p.signalCode !== null) return p.exitCode;
  const done = new Promise<number | null>((resolve) => p.once("exit", (code) => resolve(code)));
  p.kill("SIGTERM");
  const t = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
  const code = await done;
  clearTimeout(t);
  return code;
}

export async function stopEmulator(e: Emulator): Promise<void> {
  await stopProcess(e.proc);
  fs.rmSync(e.dir, { recursive: true, force: true });
}

/** One [tenant.NAME] section on emulator e; `extra` lines are appended. */
export function tenantSection(e: Emulator, name: string, socket: string | undefined, extra = ""): string {
  return [
    `[tenant.${name}]`,
    ...(socket ? [`socket = ${socket}`] : []),
    `allow_uids = ${process.getuid?.() ?? 0}`,
    `descope_project_id = ${e.projectId}`,
    `descope_base_url = ${e.url}`,
    `jwks_url = ${e.url}/${e.projectId}/.well-known/jwks.json`,
    "exchange = sts",
    `sts_url = ${e.url}/v1/auth/sts/token`,
    `service_account_id = ${e.serviceAccountId}`,
    `vault_url = ${e.url}`,
    `vault_id = ${e.vaultId}`,
    `ca_file = ${e.caFile}`,
    "http_timeout = 5s",
    extra,
    "",
  ].join("\n");
}

export interface Broker {
  dir: string;
  socket: string;
  adminSocket: string;
  config: string;
  log: string;
  proc: ChildProcess;
}

/** Writes the configuration (sockets in a private directory; `tenants` from tenantSection)
 * and starts skybrokerd; resolves once the default socket's tenant is ready. */
export async function startBroker(tenants: (b: { dir: string; socket: string }) => string, dir?: string): Promise<Broker> {
  const bin = need("SKYBROKERD");
  const d = dir ?? tempDir("skybroker-node-broker.");
  const socket = path.join(d, "skybroker.sock");
  const adminSocket = path.join(d, "admin.sock");
  const config = path.join(d, "skybroker.conf");
  const log = path.join(d, "skybrokerd.log");
  if (!fs.existsSync(config)) {
    fs.writeFileSync(config, `[broker]\nsocket = ${socket}\nadmin_socket = ${adminSocket}\n\n${tenants({ dir: d, socket })}`, { mode: 0o600 });
  }
  const args = ["--config", config, ...(process.getuid?.() === 0 ? ["--allow-root"] : [])];
  const proc = spawn(bin, args, { stdio: ["ignore", "ignore", fs.openSync(log, "a")] });
  let exited = false;
  proc.once("exit", () => (exited = true));
  await waitFor("skybrokerd did not become ready", 30, async () => {
    if (exited) throw new Error("skybrokerd exited");
    return fs.existsSync(socket) && (await healthReady(socket));
  }).catch((e: Error) => {
    throw new Error(`${e.message}; log ${log}:\n${fs.existsSync(log) ? fs.readFileSync(log, "utf8").slice(-2000) : ""}`);
  });
  if (exited) throw new Error(`skybrokerd exited; log ${log}`);
  return { dir: d, socket, adminSocket, config, log, proc };
}

/** hello then health, encoded by hand, so that the harness depends on no client code: ready
 * when the health reply holds "ready": true (bytes a5 "ready" c3). */
function healthReady(socket: string): Promise<boolean> {
  const frame = (hex: string): Buffer => {
    const p = Buffer.from(hex.replace(/ /g, ""), "hex");
    const h = Buffer.alloc(4);
    h.writeUInt32BE(p.length);
    return Buffer.concat([h, p]);
  };
  // {"id":1,"op":"hello","versions":[1],"client":"harness/1"} and {"id":2,"op":"health"}
  const hello = frame("84 a2 6964 01 a2 6f70 a5 68656c6c6f a8 76657273696f6e73 91 01 a6 636c69656e74 a9 6861726e6573732f31");
  const health = frame("82 a2 6964 02 a2 6f70 a6 6865616c7468");
  const want = Buffer.from("a57265616479", "hex");
  return new Promise((resolve) => {
    const s = net.createConnection({ path: socket });
    let got = Buffer.alloc(0);
    const t = setTimeout(() => s.destroy(), 2000);
    s.on("connect", () => s.write(Buffer.concat([hello, health])));
    s.on("data", (c: Buffer) => {
      got = Buffer.concat([got, c]);
      const i = got.indexOf(want);
      if (i >= 0 && i + 6 < got.length) {
        clearTimeout(t);
        s.destroy();
        resolve(got[i + 6] === 0xc3);
      }
    });
    s.on("error", () => undefined);
    s.on("close", () => {
      clearTimeout(t);
      resolve(false);
    });
  });
}

/** Stops the broker; resolves with its exit code (0 on a clean stop). Throws when its log
 * holds a sanitizer report (the asan preset's daemon). */
export async function stopBroker(b: Broker, remove = true): Promise<number | null> {
  const code = await stopProcess(b.proc);
  const log = fs.existsSync(b.log) ? fs.readFileSync(b.log, "utf8") : "";
  if (remove) fs.rmSync(b.dir, { recursive: true, force: true });
  if (/Sanitizer|runtime error:/.test(log)) throw new Error(`skybrokerd: a sanitizer report in its log:\n${log.slice(-4000)}`);
  return code;
}

/** Whether something listens on a Unix socket path. */
export function socketAnswers(p: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection({ path: p });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

// SPDX-License-Identifier: MIT
// The HTTP side: the protected-resource metadata (RFC 9728) and the MCP endpoint (Streamable
// HTTP, stateless: one McpServer and transport per request) behind the bearer check.

import * as http from "node:http";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { SkybrokerClient } from "skybroker";
import { authenticate, challenge } from "./auth.js";
import type { Config } from "./config.js";
import { registerTools } from "./tools.js";

export const NAME = "skybroker-mcp-server-example";
export const VERSION = "0.1.0";
/** The largest request body read. */
const MAX_BODY = 1024 * 1024;

/** One line per event, on stderr; never a token, a header value or a record value. */
export type Log = (line: string) => void;

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...headers });
  res.end(data);
}

function readBody(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error("too large"));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown);
      } catch {
        reject(new Error("not JSON"));
      }
    });
    req.on("error", reject);
  });
}

export function protectedResourceMetadata(cfg: Config): Record<string, unknown> {
  return {
    resource: cfg.resource.href,
    authorization_servers: [cfg.issuerUrl],
    bearer_methods_supported: ["header"],
    resource_name: "Skyflow records through skybroker (MCP)",
  };
}

export function createHttpServer(cfg: Config, broker: SkybrokerClient, log: Log): http.Server {
  const mcpPath = cfg.resource.pathname;
  const metadataPaths = new Set([cfg.metadataUrl.pathname, "/.well-known/oauth-protected-resource"]);

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, note: (s: string) => void): Promise<void> => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (metadataPaths.has(path)) {
      if (req.method !== "GET") return send(res, 405, { error: "method not allowed" }, { allow: "GET" });
      return send(res, 200, protectedResourceMetadata(cfg), { "access-control-allow-origin": "*" });
    }
    if (path !== mcpPath) return send(res, 404, { error: "not found" });

    const a = await authenticate(cfg, broker, req.headers.authorization);
    if (!a.ok) {
      note(`auth=${a.code}`);
      const headers: Record<string, string> = { ...a.headers };
      if (a.status === 401 || a.status === 403 || a.status === 400) headers["www-authenticate"] = challenge(cfg, a.error || undefined, a.error ? a.description : undefined);
      return send(res, a.status, a.error ? { error: a.error, error_description: a.description } : { error: a.description }, headers);
    }
    note("auth=ok");
    if (req.method !== "POST") {
      // stateless: no standalone SSE stream and no session to delete
      return send(res, 405, { jsonrpc: "2.0", error: { code: -32000, message: "Method not allowed." }, id: null }, { allow: "POST" });
    }
    let body: unknown;
    try {
      body = await readBody(req);
    } catch (e) {
      const large = (e as Error).message === "too large";
      return send(res, large ? 413 : 400, { jsonrpc: "2.0", error: { code: -32700, message: large ? "Request too large" : "Parse error" }, id: null });
    }
    const server = new McpServer({ name: NAME, version: VERSION });
    registerTools(server, broker, (tool, outcome) => note(`tool=${tool} outcome=${outcome}`));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on("close", () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(Object.assign(req, { auth: a.auth }), res, body);
  };

  return http.createServer((req, res) => {
    const t0 = Date.now();
    const notes: string[] = [];
    res.on("finish", () => {
      const path = new URL(req.url ?? "/", "http://x").pathname.slice(0, 200).replace(/[^\x21-\x7e]/g, "?");
      log(`${req.method ?? "?"} ${path} ${res.statusCode} ${Date.now() - t0}ms ${notes.join(" ")}`.trimEnd());
    });
    handle(req, res, (s) => notes.push(s)).catch(() => {
      notes.push("error=internal");
      if (!res.headersSent) send(res, 500, { error: "internal error" });
      else res.destroy();
    });
  });
}

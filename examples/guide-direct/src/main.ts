// SPDX-License-Identifier: MIT
// The guide's own pattern (descope/ai, examples/integrations/skyflow-descope-mcp-server), for
// the benchmark's baseline only: the MCP process validates the Descope token itself (JWKS),
// exchanges it at Skyflow STS on every request (form-urlencoded, as the guide sends it), puts
// the Skyflow token in authInfo.extra.skyflowToken, and its tool calls the vault with fetch.
// It holds the service account id and every Skyflow token it gets: what skybroker removes.
// Written from the reference's description, not copied; two of the guide's weaknesses are left
// out (it logged tokens, and put tableName into the URL unencoded).
// Pointed at the emulator: SKYFLOW_VAULT_URL replaces https://<identifier>.vault.skyflowapis.com
// and NODE_EXTRA_CA_CERTS carries the test CA.

import * as http from "node:http";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { z } from "zod";

function env(name: string, fallback?: string): string {
  const v = process.env[name] ?? fallback;
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

const projectId = env("DESCOPE_PROJECT_ID");
const descopeBase = env("DESCOPE_BASE_URL", "https://api.descope.com").replace(/\/+$/, "");
const issuerUrl = env("DESCOPE_MCP_ISSUER_URL", `${descopeBase}/v1/apps/${projectId}`);
const stsUrl = env("SKYFLOW_STS_URL", "https://manage.skyflowapis.com/v1/auth/sts/token");
const serviceAccountId = env("SKYFLOW_SERVICE_ACCOUNT_ID");
const vaultId = env("SKYFLOW_VAULT_ID");
const vaultUrl = process.env["SKYFLOW_VAULT_URL"] ?? `https://${env("SKYFLOW_VAULT_URL_IDENTIFIER")}.vault.skyflowapis.com`;
const resource = new URL(env("MCP_SERVER_URL"));
const metadataUrl = new URL(`/.well-known/oauth-protected-resource${resource.pathname}`, resource.origin);
const jwks = createRemoteJWKSet(new URL(`${descopeBase}/${projectId}/.well-known/jwks.json`));

/** The guide's verifier: validate the session, then exchange at STS, on every request. */
async function verify(token: string): Promise<AuthInfo | undefined> {
  let claims: Record<string, unknown>;
  try {
    claims = (await jwtVerify(token, jwks, { issuer: projectId, audience: resource.href, clockTolerance: 5 })).payload;
  } catch {
    return undefined;
  }
  let skyflowToken: string | undefined;
  try {
    const r = await fetch(stsUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
        subject_token: token,
        subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
        service_account_id: serviceAccountId,
      }),
    });
    if (!r.ok) throw new Error(`STS token exchange failed: ${r.status}`);
    const body = (await r.json()) as Record<string, string | undefined>;
    skyflowToken = body["accessToken"] ?? body["access_token"] ?? body["token"];
  } catch (e) {
    // as the guide: the failure is logged and authentication still succeeds without a token
    process.stderr.write(`${(e as Error).message}\n`);
  }
  return {
    token,
    clientId: String(claims["azp"] ?? ""),
    scopes: String(claims["scope"] ?? "").split(" ").filter(Boolean),
    extra: { userId: claims["sub"], skyflowToken },
  };
}

function tools(server: McpServer): void {
  server.registerTool(
    "get_skyflow_records",
    {
      description: "Get records from a Skyflow vault table",
      inputSchema: {
        tableName: z.string(),
        skyflow_ids: z.array(z.string()).optional(),
        redaction: z.enum(["DEFAULT", "MASKED", "PLAIN_TEXT", "REDACTED"]).optional(),
        tokenization: z.boolean().optional(),
        returnFileMetadata: z.boolean().optional(),
        fields: z.array(z.string()).optional(),
        offset: z.string().optional(),
        limit: z.string().optional(),
        downloadURL: z.boolean().optional(),
        column_name: z.string().optional(),
        column_values: z.array(z.string()).optional(),
        order_by: z.enum(["ASCENDING", "DESCENDING", "NONE"]).optional(),
      },
    },
    async (a, extra) => {
      const skyflowToken = extra.authInfo?.extra?.["skyflowToken"];
      if (typeof skyflowToken !== "string") {
        return { isError: true, content: [{ type: "text", text: "Skyflow token not found in authentication context (token exchange may have failed)" }] };
      }
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(a)) {
        if (k === "tableName" || v === undefined) continue;
        for (const x of Array.isArray(v) ? v : [v]) q.append(k, String(x));
      }
      const r = await fetch(`${vaultUrl}/v1/vaults/${vaultId}/${encodeURIComponent(a.tableName)}?${q}`, {
        headers: { authorization: `Bearer ${skyflowToken}`, "content-type": "application/json" },
      });
      const text = await r.text();
      if (!r.ok) {
        return { isError: true, content: [{ type: "text", text: `Error fetching Skyflow records: Skyflow API error: ${r.status} ${r.statusText} - ${text}` }] };
      }
      return { content: [{ type: "text", text: JSON.stringify(JSON.parse(text), null, 2) }] };
    },
  );
}

const server = http.createServer((req, res) => {
  void (async () => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (path.startsWith("/.well-known/oauth-protected-resource")) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ resource: resource.href, authorization_servers: [issuerUrl] }));
      return;
    }
    const m = /^Bearer (.+)$/i.exec(req.headers.authorization ?? "");
    const auth = m ? await verify(m[1]!) : undefined;
    if (!auth) {
      res.writeHead(401, { "www-authenticate": `Bearer error="invalid_token", resource_metadata="${metadataUrl.href}"` });
      res.end();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const mcp = new McpServer({ name: "guide-direct", version: "0.1.0" });
    tools(mcp);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on("close", () => {
      void transport.close();
      void mcp.close();
    });
    await mcp.connect(transport);
    await transport.handleRequest(Object.assign(req, { auth }), res, JSON.parse(Buffer.concat(chunks).toString("utf8")));
  })().catch(() => {
    if (!res.headersSent) res.writeHead(500);
    res.end();
  });
});

server.listen(Number(process.env["PORT"] ?? "3001"), process.env["HOST"] ?? "127.0.0.1", () => {
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  process.stdout.write(`listening http://127.0.0.1:${port}${resource.pathname}\n`);
});
process.once("SIGTERM", () => {
  server.close();
  server.closeAllConnections();
});

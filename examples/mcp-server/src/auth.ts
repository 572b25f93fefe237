// SPDX-License-Identifier: MIT
// Bearer authentication whose verifier is the broker: the Descope token goes to skybrokerd's
// `exchange`, which validates it locally (signature against the project's JWKS, issuer,
// audience = this server's URL as the tenant configures it, expiry, not a refresh token) and
// exchanges it for a Skyflow token that it keeps. This process needs no JWKS, holds no
// Skyflow credential and never receives a Skyflow token.

import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import { SkybrokerError, type SkybrokerClient } from "skybroker";
import type { Config } from "./config.js";

/** The longest Authorization header considered; the broker's own token cap is lower. */
const MAX_AUTHORIZATION = 64 * 1024;

export type AuthResult =
  | { ok: true; auth: AuthInfo }
  | { ok: false; status: number; error: string; description: string; code: string; headers?: Record<string, string> };

/** The WWW-Authenticate challenge of RFC 6750 with RFC 9728's resource_metadata. */
export function challenge(cfg: Config, error?: string, description?: string): string {
  const parts = [`resource_metadata="${cfg.metadataUrl.href}"`];
  if (error) parts.unshift(`error="${error}"`);
  // a description is one sentence of the broker's, printable ASCII without quotes
  if (description) parts.push(`error_description="${description.replace(/[^\x20-\x7e]|"|\\/g, " ")}"`);
  return `Bearer ${parts.join(", ")}`;
}

/** The claims of a token, unverified: trusted only once the broker has accepted the token. */
function claimsOf(token: string): Record<string, unknown> {
  try {
    const payload = token.split(".")[1] ?? "";
    const v = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as unknown;
    return typeof v === "object" && v !== null ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export async function authenticate(cfg: Config, broker: SkybrokerClient, header: string | undefined): Promise<AuthResult> {
  const refuse = (status: number, error: string, description: string, code: string, headers?: Record<string, string>): AuthResult =>
    headers ? { ok: false, status, error, description, code, headers } : { ok: false, status, error, description, code };
  if (header === undefined || header === "") return refuse(401, "", "Authorization required", "missing");
  if (header.length > MAX_AUTHORIZATION) return refuse(401, "invalid_token", "The token is too long", "too_large");
  const m = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
  if (!m) return refuse(400, "invalid_request", "Expected: Authorization: Bearer <token>", "bad_request");
  const token = m[1]!;
  // The MCP authorization spec: only tokens issued for this server. The broker checks the
  // audience when its tenant sets `audience`; this check holds even where it does not, and
  // costs no upstream call. (Unverified claims may only refuse here; the broker verifies.)
  const aud = claimsOf(token)["aud"];
  const auds = typeof aud === "string" ? [aud] : Array.isArray(aud) ? aud : [];
  if (!auds.some((a) => cfg.audiences.includes(a as string))) {
    return refuse(401, "invalid_token", "The token was not issued for this server (aud)", "audience");
  }
  try {
    const r = await broker.exchange(token, { timeoutMs: cfg.brokerTimeoutMs });
    if (r.accessToken !== undefined) {
      // The tenant hands out Skyflow tokens (expose_tokens = yes): this server must not hold
      // one, so it refuses to serve rather than keep it.
      return refuse(500, "", "Server misconfiguration", "expose_tokens");
    }
    const c = claimsOf(token);
    const str = (k: string): string | undefined => (typeof c[k] === "string" ? (c[k] as string) : undefined);
    const exp = typeof c["exp"] === "number" ? Math.min(c["exp"], r.expiresAt) : r.expiresAt;
    const roles = r.context?.["roles"];
    return {
      ok: true,
      auth: {
        token,
        clientId: str("azp") ?? str("client_id") ?? str("sub") ?? "",
        scopes: (str("scope") ?? "").split(" ").filter(Boolean),
        expiresAt: exp,
        resource: cfg.resource,
        extra: { userId: str("sub"), ...(Array.isArray(roles) && { roles }) },
      },
    };
  } catch (e) {
    if (!(e instanceof SkybrokerError)) return refuse(500, "", "Internal error", "internal");
    switch (e.code) {
      case "unauthenticated":
      case "token_expired":
      case "invalid_argument":
        return refuse(401, "invalid_token", e.message, e.code);
      case "upstream_denied":
      case "forbidden":
        return refuse(403, "insufficient_scope", e.message, e.code);
      case "upstream_unavailable":
      case "rate_limited":
      case "shutting_down":
      case "unreachable":
      case "timeout":
      case "disconnected":
        return refuse(503, "", "Temporarily unavailable", e.code, { "retry-after": "1" });
      default:
        return refuse(500, "", "Internal error", e.code);
    }
  }
}

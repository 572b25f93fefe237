// SPDX-License-Identifier: MIT
// Configuration from the environment, named like the guide's (descope/ai, skyflow-descope-mcp-
// server): DESCOPE_PROJECT_ID, DESCOPE_BASE_URL, DESCOPE_MCP_ISSUER_URL. The guide's
// SKYFLOW_* variables have no place here: the vault, the service account and the STS live in
// the broker's configuration, and this process refuses to start when it is handed any.

export interface Config {
  /** The Descope project (for the authorization server's default URL). */
  projectId: string;
  /** The authorization server named in the protected-resource metadata. */
  issuerUrl: string;
  /** This server's resource identifier, the URL MCP clients use (e.g. https://mcp.example.com/mcp). */
  resource: URL;
  /** The audiences a token for this server may carry: MCP_SERVER_URL as given, and normalised. */
  audiences: string[];
  /** Where the protected-resource metadata is: RFC 9728's well-known URL of `resource`. */
  metadataUrl: URL;
  /** The broker's socket; undefined: $SKYBROKER_SOCKET or the client's default. */
  socketPath: string | undefined;
  host: string;
  port: number;
  /** Milliseconds for one broker call. */
  brokerTimeoutMs: number;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** RFC 9728 section 3.1: the well-known suffix goes between the host and the resource's path. */
export function metadataUrlOf(resource: URL): URL {
  const path = resource.pathname === "/" ? "" : resource.pathname.replace(/\/$/, "");
  return new URL(`/.well-known/oauth-protected-resource${path}`, resource.origin);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const skyflow = Object.keys(env).filter((k) => k.startsWith("SKYFLOW_"));
  if (skyflow.length > 0) {
    throw new ConfigError(
      `${skyflow.join(", ")} set: this server holds no Skyflow configuration or credential; ` +
        "they belong in skybrokerd's configuration (skybroker.conf(5))",
    );
  }
  const projectId = env["DESCOPE_PROJECT_ID"];
  if (!projectId) throw new ConfigError("DESCOPE_PROJECT_ID is not set");
  const base = (env["DESCOPE_BASE_URL"] ?? "https://api.descope.com").replace(/\/+$/, "");
  const issuerUrl = env["DESCOPE_MCP_ISSUER_URL"] ?? `${base}/v1/apps/${projectId}`;
  const serverUrl = env["MCP_SERVER_URL"];
  if (!serverUrl) throw new ConfigError("MCP_SERVER_URL is not set (this server's public URL, e.g. https://mcp.example.com/mcp)");
  let resource: URL;
  try {
    resource = new URL(serverUrl);
    new URL(issuerUrl);
  } catch {
    throw new ConfigError("MCP_SERVER_URL and DESCOPE_MCP_ISSUER_URL must be absolute URLs");
  }
  if (resource.hash || resource.search) throw new ConfigError("MCP_SERVER_URL must have no query and no fragment");
  const port = Number(env["PORT"] ?? "3000");
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError("PORT must be 0..65535");
  const timeout = Number(env["SKYBROKER_TIMEOUT_MS"] ?? "10000");
  if (!Number.isInteger(timeout) || timeout <= 0) throw new ConfigError("SKYBROKER_TIMEOUT_MS must be a positive integer");
  return {
    projectId,
    issuerUrl,
    resource,
    audiences: [...new Set([serverUrl, resource.href])],
    metadataUrl: metadataUrlOf(resource),
    socketPath: env["SKYBROKER_SOCKET"] || undefined,
    host: env["HOST"] ?? "127.0.0.1",
    port,
    brokerTimeoutMs: timeout,
  };
}

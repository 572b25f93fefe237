// SPDX-License-Identifier: MIT
// Entry point: configuration from the environment, one broker client shared by every request
// (pipelined), the HTTP server. Prints "listening <url>" on stdout once it accepts requests.

import { SkybrokerClient, SkybrokerError } from "skybroker";
import { ConfigError, loadConfig } from "./config.js";
import { createHttpServer, NAME, VERSION } from "./server.js";

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString()} ${line}\n`);
}

async function main(): Promise<void> {
  const cfg = loadConfig();
  const broker = await SkybrokerClient.connect({
    ...(cfg.socketPath !== undefined && { socketPath: cfg.socketPath }),
    clientName: `${NAME}/${VERSION}`,
    timeoutMs: cfg.brokerTimeoutMs,
  });
  log(`broker: tenant ${broker.tenant}, ${broker.server}, operations ${broker.hello.operations.join(",")}`);
  if (!broker.allows("exchange")) log("warning: the tenant does not allow exchange: every bearer token will be refused");
  const server = createHttpServer(cfg, broker, log);
  server.listen(cfg.port, cfg.host, () => {
    const addr = server.address();
    const port = typeof addr === "object" && addr ? addr.port : cfg.port;
    log(`serving ${cfg.resource.href} (metadata ${cfg.metadataUrl.href})`);
    process.stdout.write(`listening http://${cfg.host}:${port}${cfg.resource.pathname}\n`);
  });
  const stop = (): void => {
    server.close();
    server.closeAllConnections();
    broker.close();
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

main().catch((e: unknown) => {
  const what = e instanceof ConfigError || e instanceof SkybrokerError ? e.message : "unexpected error";
  log(`fatal: ${what}`);
  process.exit(1);
});

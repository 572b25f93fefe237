// SPDX-License-Identifier: MIT
// skybroker: the Node.js client of skybrokerd (proto/PROTOCOL.md, version 1).

export { SkybrokerClient, VERSION, DEFAULT_SOCKET, DEFAULT_TIMEOUT_MS, type ClientOptions } from "./client.js";
export { SkybrokerError, BROKER_CODES, LOCAL_CODES, type BrokerCode, type LocalCode, type ErrorCode } from "./errors.js";
export * from "./types.js";
export * as limits from "./limits.js";

// SPDX-License-Identifier: MIT
// Errors: the broker's codes (PROTOCOL.md section 9) and the ones found on this side.

/** The broker's error codes, PROTOCOL.md section 9. */
export const BROKER_CODES = [
  "bad_request",
  "unsupported_version",
  "unauthenticated",
  "token_expired",
  "forbidden",
  "upstream_denied",
  "not_found",
  "upstream_unavailable",
  "rate_limited",
  "too_large",
  "shutting_down",
  "internal",
] as const;

/** Codes found on this side, named as libskybroker names them (skybroker.h). */
export const LOCAL_CODES = [
  "invalid_argument", // a bad argument to the call; nothing was sent
  "unreachable", // the socket could not be connected
  "timeout", // no answer within the call's timeout
  "disconnected", // the connection broke; a write's outcome is unknown
  "protocol", // the broker sent something this client cannot trust
] as const;

export type BrokerCode = (typeof BROKER_CODES)[number];
export type LocalCode = (typeof LOCAL_CODES)[number];
export type ErrorCode = BrokerCode | LocalCode;

const brokerCodes: ReadonlySet<string> = new Set(BROKER_CODES);

/** Maps a code from the wire: one this client does not know is `internal` (section 9). */
export function brokerCode(code: string): BrokerCode {
  return brokerCodes.has(code) ? (code as BrokerCode) : "internal";
}

export interface SkybrokerErrorFields {
  retryable?: boolean;
  upstreamStatus?: number | undefined;
  requestId?: string | undefined;
}

/**
 * Every failure of this package: a code (the broker's, or one found here), one sentence
 * (never a token or a record value), whether the same call later may succeed, and, when the
 * error came from Skyflow or Descope, their HTTP status and Skyflow's X-Request-ID.
 */
export class SkybrokerError extends Error {
  override readonly name = "SkybrokerError";
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly upstreamStatus: number | undefined;
  readonly requestId: string | undefined;

  constructor(code: ErrorCode, message: string, fields: SkybrokerErrorFields = {}) {
    super(message);
    this.code = code;
    this.retryable = fields.retryable ?? false;
    this.upstreamStatus = fields.upstreamStatus;
    this.requestId = fields.requestId;
  }

  /** Whether the code came from the broker (section 9) rather than from this side. */
  get fromBroker(): boolean {
    return brokerCodes.has(this.code);
  }
}

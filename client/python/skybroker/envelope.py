# SPDX-License-Identifier: MIT
"""The reply envelope (PROTOCOL.md section 5.2), the retry policy and the socket path; no I/O."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

from . import errors as E
from . import limits
from .codec import decode_payload
from .errors import SkybrokerError, protocol
from .results import dup_check, get_field

VERSION = "0.1.0"
CLIENT_NAME = f"skybroker-python/{VERSION}"


@dataclass(frozen=True)
class Reply:
    """One decoded reply: its id and either the result map or the error."""

    id: int
    result: Optional[Dict[str, Any]]
    error: Optional[SkybrokerError]


def _error(m: Mapping[str, Any]) -> SkybrokerError:
    w = "error"
    dup_check(m, ("code", "message", "retryable", "upstream_status", "request_id"), w)
    code = get_field(m, "code", str, w)
    message = get_field(m, "message", str, w)
    retryable = get_field(m, "retryable", bool, w)
    if code not in E.BROKER_CODES:
        message = f"(code '{code[:32]}', unknown to this client) {message}"
        code = E.INTERNAL
    return SkybrokerError(code, message[:limits.MAX_MESSAGE_LEN + 64], retryable=retryable,
                          upstream_status=get_field(m, "upstream_status", int, w, required=False),
                          request_id=get_field(m, "request_id", str, w, required=False))


def parse_reply(payload: bytes) -> Reply:
    """The Reply of one frame's payload. Raises SkybrokerError(protocol) when it is not a
    well-formed reply; the caller must then close the connection."""
    m = decode_payload(payload)
    w = "reply"
    dup_check(m, ("id", "ok", "result", "error"), w)
    rid = get_field(m, "id", int, w)
    if rid > limits.MAX_ID:
        raise protocol("malformed reply: an id over 2^64-1")
    if get_field(m, "ok", bool, w):
        return Reply(rid, dict(get_field(m, "result", dict, w)), None)
    return Reply(rid, None, _error(get_field(m, "error", dict, w)))


def may_retry(e: SkybrokerError, sent: bool, idempotent: bool) -> bool:
    """Whether a failed attempt may be made again: when nothing reached the broker, always;
    after that, only an idempotent operation, for a broken connection or a retryable error
    (as libskybroker(3) does)."""
    if e.code == E.UNREACHABLE:
        return True
    if e.code == E.DISCONNECTED:
        return not sent or idempotent
    if e.code in (E.TIMEOUT, E.PROTOCOL, E.INVALID_ARGUMENT):
        return False
    return e.retryable and (idempotent or not sent)


def socket_path(path: Optional[str]) -> str:
    """path, else $SKYBROKER_SOCKET, else /run/skybroker/skybroker.sock."""
    return path or os.environ.get("SKYBROKER_SOCKET") or limits.DEFAULT_SOCKET


def backoff(attempt: int, first: float) -> float:
    """Seconds to wait after failed attempt number attempt (1, 2, ...)."""
    return float(min(first * (2 ** min(attempt - 1, 16)), limits.MAX_BACKOFF))


def disconnected(why: str) -> SkybrokerError:
    """The connection broke; idempotent calls are retried, writes' outcome is unknown."""
    return SkybrokerError(E.DISCONNECTED, f"the connection to the broker broke ({why}); a "
                          "write operation's outcome is unknown", retryable=True)


def unreachable(path: str, why: str) -> SkybrokerError:
    return SkybrokerError(E.UNREACHABLE, f"cannot connect to the broker at {path} ({why}); is "
                          "skybrokerd running, and may this user open its socket?",
                          retryable=True)


def timed_out(op: str, timeout: float) -> SkybrokerError:
    return SkybrokerError(E.TIMEOUT, f"no answer to {op} within {timeout:g} s; raise the "
                          "call's timeout or check the broker", retryable=True)

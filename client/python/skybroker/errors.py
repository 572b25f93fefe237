# SPDX-License-Identifier: MIT
"""SkybrokerError: the one exception of this package, and its codes."""

from __future__ import annotations

from typing import Optional

# The broker's codes (PROTOCOL.md section 9).
BAD_REQUEST = "bad_request"
UNSUPPORTED_VERSION = "unsupported_version"
UNAUTHENTICATED = "unauthenticated"
TOKEN_EXPIRED = "token_expired"
FORBIDDEN = "forbidden"
UPSTREAM_DENIED = "upstream_denied"
NOT_FOUND = "not_found"
UPSTREAM_UNAVAILABLE = "upstream_unavailable"
RATE_LIMITED = "rate_limited"
TOO_LARGE = "too_large"
SHUTTING_DOWN = "shutting_down"
INTERNAL = "internal"

# Found on this side, as in libskybroker(3).
INVALID_ARGUMENT = "invalid_argument"
"""A bad argument to a call; nothing was sent."""
UNREACHABLE = "unreachable"
"""The socket could not be connected."""
TIMEOUT = "timeout"
"""No answer within the call's timeout."""
DISCONNECTED = "disconnected"
"""The connection broke; the outcome of a request already sent is unknown."""
PROTOCOL = "protocol"
"""The broker sent something this client cannot trust; the connection was closed."""

BROKER_CODES = frozenset({
    BAD_REQUEST, UNSUPPORTED_VERSION, UNAUTHENTICATED, TOKEN_EXPIRED, FORBIDDEN,
    UPSTREAM_DENIED, NOT_FOUND, UPSTREAM_UNAVAILABLE, RATE_LIMITED, TOO_LARGE,
    SHUTTING_DOWN, INTERNAL,
})
LOCAL_CODES = frozenset({INVALID_ARGUMENT, UNREACHABLE, TIMEOUT, DISCONNECTED, PROTOCOL})


class SkybrokerError(Exception):
    """A call failed: at the broker, upstream (Skyflow, Descope), or on this side.

    ``code`` is one of PROTOCOL.md section 9 (a code this client does not know arrives as
    ``internal``) or a local one: ``invalid_argument``, ``unreachable``, ``timeout``,
    ``disconnected``, ``protocol``. ``message`` is one sentence and never holds a token or a
    record value. ``retryable`` says whether the same call later may succeed.
    ``upstream_status`` and ``request_id`` are Skyflow's or Descope's HTTP status and Skyflow's
    ``X-Request-ID`` when the error came from there, for support cases.
    """

    def __init__(self, code: str, message: str, *, retryable: bool = False,
                 upstream_status: Optional[int] = None,
                 request_id: Optional[str] = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable
        self.upstream_status = upstream_status
        self.request_id = request_id

    def __repr__(self) -> str:
        extra = ""
        if self.upstream_status is not None:
            extra += f", upstream_status={self.upstream_status}"
        if self.request_id is not None:
            extra += f", request_id={self.request_id!r}"
        return (f"SkybrokerError(code={self.code!r}, message={self.message!r}, "
                f"retryable={self.retryable}{extra})")


def invalid(message: str) -> SkybrokerError:
    """An argument error found before anything was sent."""
    return SkybrokerError(INVALID_ARGUMENT, message + "; nothing was sent")


def too_large(message: str) -> SkybrokerError:
    """A request over a limit of PROTOCOL.md, found before anything was sent."""
    return SkybrokerError(TOO_LARGE, message + "; nothing was sent")


def protocol(message: str) -> SkybrokerError:
    """The broker's stream cannot be trusted any more (PROTOCOL.md section 8)."""
    return SkybrokerError(PROTOCOL, message + "; the connection was closed")

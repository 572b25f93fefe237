# SPDX-License-Identifier: MIT
"""The limits of proto/PROTOCOL.md (sections 3 and 7), in one place.

The names follow proto/limits.h. Sizes are in bytes of UTF-8 on the wire.
"""

MAX_HELLO_FRAME = 4 * 1024
"""The first request frame (``hello``)."""
MAX_REQUEST_FRAME_DEFAULT = 64 * 1024
MAX_REQUEST_FRAME_LIMIT = 1024 * 1024
MAX_REPLY_FRAME_DEFAULT = 4 * 1024 * 1024
MAX_REPLY_FRAME_LIMIT = 16 * 1024 * 1024
MAX_INFLIGHT_DEFAULT = 32
"""Used when a broker's hello reply does not state ``max_inflight``."""
MAX_INFLIGHT_LIMIT = 1024

MAX_DEPTH = 16
"""Nesting of arrays and maps; the top-level map is depth 1."""
MAX_CONTAINER = 4096
"""Entries of one array, or pairs of one map."""
MAX_STRING = 1024 * 1024

MAX_TOKEN_LEN = 64 * 1024
MAX_NAME_LEN = 256
MAX_CLIENT_NAME = 128
MAX_IDS = 1000
MAX_RECORDS = 1000
MAX_QUERY_LEN = 8192
MAX_VALUE_LEN = 64 * 1024
MAX_MESSAGE_LEN = 1024
MAX_REQUEST_ID = 128
MAX_GET_LIMIT = 25
MAX_ID = 2**64 - 1

PROTOCOL_VERSION = 1
DEFAULT_SOCKET = "/run/skybroker/skybroker.sock"
"""Used when neither an argument nor ``$SKYBROKER_SOCKET`` names the socket."""
DEFAULT_TIMEOUT = 30.0
"""Seconds, per call."""
DEFAULT_ATTEMPTS = 3
DEFAULT_BACKOFF = 0.05
MAX_BACKOFF = 2.0

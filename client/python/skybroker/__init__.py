# SPDX-License-Identifier: MIT
"""skybroker: the Python client of skybrokerd (proto/PROTOCOL.md).

MCP servers call Skyflow through the broker, holding only the user's Descope session token::

    from skybroker import Client

    with Client() as broker:                     # $SKYBROKER_SOCKET or /run/skybroker/...
        res = broker.get_records(token, "persons", skyflow_ids=[sid], redaction="MASKED")
        names = [rec.fields.get("name") for rec in res.records]

Client is blocking (calls serialised, thread-safe); AsyncClient pipelines any number of
concurrent calls on one connection. Every failure is a SkybrokerError.
"""

from .aio import AsyncClient
from .client import Client
from .codec import Value
from .envelope import VERSION as __version__
from .errors import SkybrokerError
from .ops import Request
from .results import (DetokenizeResult, Detokenized, Exchange, Health, Hello, Inserted,
                      OneRecord, Record, Records, Stats, Updated)

__all__ = [
    "AsyncClient", "Client", "SkybrokerError", "Request", "Value", "Hello", "Health", "Stats",
    "Exchange", "Record", "Records", "OneRecord", "Inserted", "Updated", "Detokenized",
    "DetokenizeResult", "__version__",
]

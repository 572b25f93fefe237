# SPDX-License-Identifier: MIT
"""examples/get_skyflow_records.py against the real broker: what each role gets, and errors."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any, Dict

import pytest

from harness import Broker
from skybroker import AsyncClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from get_skyflow_records import ToolError, records_tool  # noqa: E402

ADA = "bf9a1506-5b6a-4016-ac62-7c534db47460"


def _call(broker: Broker, token: str, **args: Any) -> Dict[str, Any]:
    async def run() -> Dict[str, Any]:
        async with AsyncClient(broker.socket, timeout=10) as c:
            tool = records_tool(c, lambda: token)
            out: Dict[str, Any] = json.loads(await tool(**args))
            return out
    return asyncio.run(run())


def test_viewer_and_admin(broker: Broker, tokens: Dict[str, str]) -> None:
    v = _call(broker, tokens["viewer"], tableName="persons", skyflow_ids=[ADA],
              redaction="PLAIN_TEXT")
    assert v["records"][0]["fields"]["ssn"] == "*REDACTED*"
    a = _call(broker, tokens["admin"], tableName="persons", skyflow_ids=[ADA],
              redaction="PLAIN_TEXT")
    assert a["records"][0]["fields"]["ssn"] == "100-10-1000"
    page = _call(broker, tokens["admin"], tableName="persons", limit="2", offset="0",
                 order_by="ASCENDING", fields=["state"])
    assert len(page["records"]) == 2


def test_errors_are_tool_errors_without_secrets(broker: Broker, tokens: Dict[str, str]) -> None:
    with pytest.raises(ToolError) as ei:
        _call(broker, tokens["nobody"], tableName="persons", skyflow_ids=[ADA])
    msg = str(ei.value)
    assert msg.startswith("Error fetching Skyflow records: upstream_denied: ")
    assert "403" in msg and "request id" in msg
    assert tokens["nobody"][:20] not in msg
    with pytest.raises(ToolError, match="forbidden"):
        _call(broker, tokens["admin"], tableName="cards")
    with pytest.raises(ToolError, match="limit must be a whole number"):
        _call(broker, tokens["admin"], tableName="persons", limit="ten")
    with pytest.raises(ToolError, match="invalid_argument: limit must be 1 to 25"):
        _call(broker, tokens["admin"], tableName="persons", limit="26")

# SPDX-License-Identifier: MIT
"""The guide's ``get_skyflow_records`` MCP tool, through skybrokerd.

The Descope example server (descope/ai, skyflow-descope-mcp-server) exchanges the user's token
at Skyflow's STS itself and calls the vault with the service account's credentials in its own
process. Here the MCP server holds neither: it passes the user's Descope session token to the
broker, which validates it, exchanges it and calls Skyflow, so Skyflow applies that user's
roles. Wiring it into a FastMCP server is one line (see README.md):

    mcp.tool()(records_tool(AsyncClient(), lambda: get_access_token().token))

The tool never logs or prints the token or a record value; its errors carry the broker's code,
message and Skyflow's request id, none of which holds either.
"""

from __future__ import annotations

import json
from typing import Awaitable, Callable, Dict, List, Optional

from skybroker import AsyncClient, SkybrokerError

Tool = Callable[..., Awaitable[str]]


class ToolError(Exception):
    """The tool failed; an MCP server turns it into a result with ``isError: true``."""


def _count(v: Optional[str], name: str) -> Optional[int]:
    # The guide's tool takes offset and limit as strings.
    if v is None or v == "":
        return None
    if not v.isdigit():
        raise ToolError(f"{name} must be a whole number, not {v[:20]!r}")
    return int(v)


def records_tool(broker: AsyncClient, user_token: Callable[[], str]) -> Tool:
    """The ``get_skyflow_records`` tool on broker. user_token returns the Descope session token
    of the MCP request being served (with the MCP Python SDK:
    ``mcp.server.auth.middleware.auth_context.get_access_token().token``)."""

    async def get_skyflow_records(tableName: str,
                                  skyflow_ids: Optional[List[str]] = None,
                                  redaction: Optional[str] = None,
                                  tokenization: Optional[bool] = None,
                                  fields: Optional[List[str]] = None,
                                  offset: Optional[str] = None,
                                  limit: Optional[str] = None,
                                  downloadURL: Optional[bool] = None,
                                  column_name: Optional[str] = None,
                                  column_values: Optional[List[str]] = None,
                                  order_by: Optional[str] = None) -> str:
        """Get records from a Skyflow vault table, by skyflow_ids, by a unique column's
        values, or a page of all the signed-in user may read. Skyflow applies the user's
        roles: columns they may not read are left out or redacted. redaction: DEFAULT,
        REDACTED, MASKED or PLAIN_TEXT; order_by: ASCENDING, DESCENDING or NONE; limit at
        most 25."""
        try:
            res = await broker.get_records(
                user_token(), tableName, skyflow_ids=skyflow_ids or None, redaction=redaction,
                fields=fields or None, offset=_count(offset, "offset"),
                limit=_count(limit, "limit"), column_name=column_name,
                column_values=column_values or None, order_by=order_by,
                tokenization=tokenization, download_url=downloadURL)
        except SkybrokerError as e:
            detail = f" (Skyflow request id {e.request_id})" if e.request_id else ""
            raise ToolError(f"Error fetching Skyflow records: {e.code}: {e.message}{detail}") \
                from None
        out: Dict[str, object] = {"records": [
            {"fields": r.fields, **({"tokens": r.tokens} if r.tokens is not None else {})}
            for r in res.records]}
        if res.redaction_capped is not None:
            out["redaction_capped"] = res.redaction_capped
        return json.dumps(out, indent=2, ensure_ascii=False)

    return get_skyflow_records

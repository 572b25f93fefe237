# SPDX-License-Identifier: MIT
"""The v1 operations as Request objects: the arguments checked against PROTOCOL.md section 7
before anything is sent, the request map, whether the operation is safe to repeat, and the
parser of its result. Both clients send these; they hold no connection."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Generic, List, Mapping, Optional, Sequence, TypeVar

from . import limits
from . import results as R
from .codec import Value, check_str
from .errors import invalid, too_large

T = TypeVar("T")

REDACTIONS = ("DEFAULT", "REDACTED", "MASKED", "PLAIN_TEXT")
ORDERS = ("ASCENDING", "DESCENDING", "NONE")
IDEMPOTENT = frozenset({"hello", "ping", "health", "stats", "exchange", "get_records",
                        "get_record", "detokenize", "tokenize", "query"})
"""Operations safe to send again on a new connection (PROTOCOL.md section 1)."""


@dataclass(frozen=True)
class Request(Generic[T]):
    """One operation ready to send: op, its argument fields (without ``id``), and the parser
    of its result. The repr leaves the fields out: they hold a token and may hold values."""

    op: str
    fields: Dict[str, Any] = field(repr=False)
    parse: R.Parser[T] = field(repr=False)

    @property
    def idempotent(self) -> bool:
        """Whether the request may be sent again after the connection broke."""
        return self.op in IDEMPOTENT


def _token(t: str) -> str:
    if not isinstance(t, str) or not t:
        raise invalid("subject_token must be a non-empty str (the user's Descope session "
                      "token)")
    check_str(t, "subject_token", limits.MAX_TOKEN_LEN)
    return t


def _name(v: Any, what: str) -> str:
    if not isinstance(v, str) or not v:
        raise invalid(f"{what} must be a non-empty str")
    check_str(v, what, limits.MAX_NAME_LEN)
    return v


def _ids(v: Any, what: str, max_len: int = limits.MAX_NAME_LEN,
         max_n: int = limits.MAX_IDS) -> List[str]:
    if isinstance(v, (str, bytes)) or not isinstance(v, Sequence):
        raise invalid(f"{what} must be a list of str, not a {type(v).__name__}")
    if not v:
        raise invalid(f"{what} is empty; leave it out or name at least one")
    if len(v) > max_n:
        raise too_large(f"{what} has {len(v)} entries, more than {max_n}")
    for i, s in enumerate(v):
        if not isinstance(s, str):
            raise invalid(f"{what}[{i}] is a {type(s).__name__}, not a str")
        check_str(s, f"{what}[{i}]", max_len)
    return list(v)


def _enum(v: Any, what: str, allowed: Sequence[str]) -> str:
    if v not in allowed:
        raise invalid(f"{what} must be one of {', '.join(allowed)}")
    return str(v)


def _bool(v: Any, what: str) -> bool:
    if not isinstance(v, bool):
        raise invalid(f"{what} must be a bool")
    return v


def _uint(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 2**64 - 1:
        raise invalid(f"{what} must be a non-negative int")
    return v


def hello(client_name: str) -> Request[R.Hello]:
    """``hello``: the first request of every connection."""
    check_str(client_name, "client name", limits.MAX_CLIENT_NAME)
    return Request("hello", {"versions": [limits.PROTOCOL_VERSION], "client": client_name},
                   R.parse_hello)


def ping() -> Request[None]:
    """``ping``: answered without any upstream call."""
    return Request("ping", {}, R.parse_empty)


def health() -> Request[R.Health]:
    """``health``: whether the tenant can serve requests now."""
    return Request("health", {}, R.parse_health)


def stats() -> Request[R.Stats]:
    """``stats``: the broker's counters; admin socket only."""
    return Request("stats", {}, R.parse_stats)


def exchange(subject_token: str) -> Request[R.Exchange]:
    """``exchange``: the subject token for a user-scoped Skyflow token held by the broker."""
    return Request("exchange", {"subject_token": _token(subject_token)}, R.parse_exchange)


def get_records(subject_token: str, table: str, *,
                skyflow_ids: Optional[Sequence[str]] = None,
                redaction: Optional[str] = None,
                fields: Optional[Sequence[str]] = None,
                offset: Optional[int] = None,
                limit: Optional[int] = None,
                column_name: Optional[str] = None,
                column_values: Optional[Sequence[str]] = None,
                order_by: Optional[str] = None,
                tokenization: Optional[bool] = None,
                download_url: Optional[bool] = None) -> Request[R.Records]:
    """``get_records``: records of one table, by id, by a unique column's values, or a page
    of all the user may read."""
    m: Dict[str, Any] = {"subject_token": _token(subject_token), "table": _name(table, "table")}
    if skyflow_ids is not None:
        m["skyflow_ids"] = _ids(skyflow_ids, "skyflow_ids")
    if redaction is not None:
        m["redaction"] = _enum(redaction, "redaction", REDACTIONS)
    if fields is not None:
        m["fields"] = _ids(fields, "fields")
    if offset is not None:
        m["offset"] = _uint(offset, "offset")
    if limit is not None:
        if not 1 <= _uint(limit, "limit") <= limits.MAX_GET_LIMIT:
            raise invalid(f"limit must be 1 to {limits.MAX_GET_LIMIT} (Skyflow's cap)")
        m["limit"] = limit
    if column_name is not None:
        m["column_name"] = _name(column_name, "column_name")
    if column_values is not None:
        m["column_values"] = _ids(column_values, "column_values")
    if ("column_name" in m) != ("column_values" in m):
        raise invalid("column_name and column_values go together")
    if "column_name" in m and "skyflow_ids" in m:
        raise invalid("skyflow_ids cannot be combined with column_name")
    if order_by is not None:
        m["order_by"] = _enum(order_by, "order_by", ORDERS)
    if tokenization is not None:
        m["tokenization"] = _bool(tokenization, "tokenization")
    if download_url is not None:
        m["download_url"] = _bool(download_url, "download_url")
    return Request("get_records", m, R.parse_records)


def get_record(subject_token: str, table: str, skyflow_id: str, *,
               redaction: Optional[str] = None,
               fields: Optional[Sequence[str]] = None,
               tokenization: Optional[bool] = None,
               download_url: Optional[bool] = None) -> Request[R.OneRecord]:
    """``get_record``: one record by its id."""
    m: Dict[str, Any] = {"subject_token": _token(subject_token), "table": _name(table, "table"),
                         "skyflow_id": _name(skyflow_id, "skyflow_id")}
    if redaction is not None:
        m["redaction"] = _enum(redaction, "redaction", REDACTIONS)
    if fields is not None:
        m["fields"] = _ids(fields, "fields")
    if tokenization is not None:
        m["tokenization"] = _bool(tokenization, "tokenization")
    if download_url is not None:
        m["download_url"] = _bool(download_url, "download_url")
    return Request("get_record", m, R.parse_one_record)


def _record_map(v: Any, what: str) -> Dict[str, Value]:
    if not isinstance(v, Mapping) or not v:
        raise invalid(f"{what} must be a non-empty dict of column -> value")
    return dict(v)


def insert_records(subject_token: str, table: str, records: Sequence[Mapping[str, Value]], *,
                   tokenization: Optional[bool] = None,
                   upsert: Optional[str] = None) -> Request[List[R.Inserted]]:
    """``insert_records``: 1 to 1000 records (column → value). Not repeated once sent."""
    if isinstance(records, Mapping) or not isinstance(records, Sequence) or not records:
        raise invalid("records must be a non-empty list of dicts")
    if len(records) > limits.MAX_RECORDS:
        raise too_large(f"records has {len(records)} entries, more than {limits.MAX_RECORDS}")
    m: Dict[str, Any] = {"subject_token": _token(subject_token), "table": _name(table, "table"),
                         "records": [_record_map(r, f"records[{i}]")
                                     for i, r in enumerate(records)]}
    if tokenization is not None:
        m["tokenization"] = _bool(tokenization, "tokenization")
    if upsert is not None:
        m["upsert"] = _name(upsert, "upsert")
    return Request("insert_records", m, R.parse_inserted)


def update_record(subject_token: str, table: str, skyflow_id: str,
                  fields: Mapping[str, Value], *,
                  tokenization: Optional[bool] = None) -> Request[R.Updated]:
    """``update_record``: sets the columns of fields. Not repeated once sent."""
    m: Dict[str, Any] = {"subject_token": _token(subject_token), "table": _name(table, "table"),
                         "skyflow_id": _name(skyflow_id, "skyflow_id"),
                         "fields": _record_map(fields, "fields")}
    if tokenization is not None:
        m["tokenization"] = _bool(tokenization, "tokenization")
    return Request("update_record", m, R.parse_updated)


def delete_records(subject_token: str, table: str,
                   skyflow_ids: Sequence[str]) -> Request[List[str]]:
    """``delete_records``: the ids Skyflow reports deleted. Not repeated once sent."""
    ids = _ids(skyflow_ids, "skyflow_ids")
    if "*" in ids:
        raise invalid("skyflow_ids: '*' would mean every row; list the ids")
    return Request("delete_records", {"subject_token": _token(subject_token),
                                      "table": _name(table, "table"), "skyflow_ids": ids},
                   R.parse_deleted)


def detokenize(subject_token: str, tokens: Sequence[str], *,
               redaction: Optional[str] = None,
               continue_on_error: Optional[bool] = None) -> Request[R.DetokenizeResult]:
    """``detokenize``: the values of tokens, in order."""
    m: Dict[str, Any] = {"subject_token": _token(subject_token),
                         "tokens": _ids(tokens, "tokens")}
    if redaction is not None:
        m["redaction"] = _enum(redaction, "redaction", REDACTIONS)
    if continue_on_error is not None:
        m["continue_on_error"] = _bool(continue_on_error, "continue_on_error")
    return Request("detokenize", m, R.parse_detokenized)


def tokenize(subject_token: str, column_group: str,
             values: Sequence[str]) -> Request[List[str]]:
    """``tokenize``: one token per value, in order."""
    return Request("tokenize", {"subject_token": _token(subject_token),
                                "column_group": _name(column_group, "column_group"),
                                "values": _ids(values, "values", limits.MAX_VALUE_LEN)},
                   R.parse_tokenized)


def query(subject_token: str, sql: str) -> Request[R.Records]:
    """``query``: a Skyflow SQL SELECT, at most 25 rows per call."""
    if not isinstance(sql, str) or not sql:
        raise invalid("query must be a non-empty str")
    check_str(sql, "query", limits.MAX_QUERY_LEN)
    return Request("query", {"subject_token": _token(subject_token), "query": sql},
                   R.parse_records)

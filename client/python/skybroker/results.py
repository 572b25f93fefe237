# SPDX-License-Identifier: MIT
"""Typed results of the v1 operations (PROTOCOL.md section 7), and their strict parsers.

A result whose fields do not have the types the protocol states is a protocol error: the
client does not guess. Fields a newer broker adds are ignored. The repr of anything holding a
record value or a token shows column names and sizes only, so that logging a result by
mistake does not leak what it holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, TypeVar

from . import limits
from .codec import Value
from .errors import protocol

T = TypeVar("T")


# ---- field readers ---------------------------------------------------------------------------

def dup_check(m: Mapping[str, Any], known: Tuple[str, ...], where: str) -> None:
    """Refuses a map in which a field of the protocol appears twice (section 4)."""
    dups: frozenset[str] = getattr(m, "duplicates", frozenset())
    for k in known:
        if k in dups:
            raise protocol(f"malformed reply: the field '{k}' appears twice in the {where}")


def get_field(m: Mapping[str, Any], key: str, kind: type, where: str,
              required: bool = True) -> Any:
    """m[key] checked to be a kind (int means a uint); None when absent and not required."""
    if key not in m:
        if required:
            raise protocol(f"malformed reply: the {where} has no '{key}'")
        return None
    v = m[key]
    ok = isinstance(v, kind) and not (kind is int and isinstance(v, bool))
    if kind is int and ok and v < 0:
        ok = False
    if not ok:
        raise protocol(f"malformed reply: '{key}' of the {where} is not a "
                       f"{'uint' if kind is int else kind.__name__}")
    return v


def _strs(m: Mapping[str, Any], key: str, where: str, required: bool = True) -> List[str]:
    v = get_field(m, key, list, where, required)
    if v is None:
        return []
    if not all(isinstance(s, str) for s in v):
        raise protocol(f"malformed reply: '{key}' of the {where} is not a list of str")
    return list(v)


def _maps(m: Mapping[str, Any], key: str, where: str) -> List[Dict[str, Any]]:
    v = get_field(m, key, list, where)
    if not all(isinstance(x, dict) for x in v):
        raise protocol(f"malformed reply: '{key}' of the {where} is not a list of maps")
    return list(v)


def _columns(d: Optional[Mapping[str, Any]]) -> str:
    if d is None:
        return "None"
    return "{" + ", ".join(f"{k}: <{type(v).__name__}>" for k, v in d.items()) + "}"


# ---- hello, ping, health, stats --------------------------------------------------------------

@dataclass(frozen=True)
class Hello:
    """What the broker said to ``hello``: the version both speak, the tenant, the operations
    this connection offers and the caps (PROTOCOL.md 7.1)."""

    version: int
    tenant: str
    server: str
    operations: Tuple[str, ...]
    max_request_frame: int
    max_reply_frame: int
    max_inflight: int

    def allows(self, operation: str) -> bool:
        """Whether this connection offers operation (e.g. ``"get_records"``)."""
        return operation in self.operations


def parse_hello(r: Mapping[str, Any]) -> Hello:
    w = "hello result"
    dup_check(r, ("version", "tenant", "server", "operations", "max_request_frame",
                   "max_reply_frame", "max_inflight"), w)
    version = get_field(r, "version", int, w)
    if version != limits.PROTOCOL_VERSION:
        raise protocol(f"the broker chose protocol version {version}, which this client "
                       "did not offer")
    req = get_field(r, "max_request_frame", int, w)
    rep = get_field(r, "max_reply_frame", int, w)
    inflight = get_field(r, "max_inflight", int, w, required=False)
    if inflight is None:
        inflight = limits.MAX_INFLIGHT_DEFAULT
    if not limits.MAX_HELLO_FRAME <= req <= limits.MAX_REQUEST_FRAME_LIMIT:
        raise protocol(f"hello: max_request_frame {req} is outside 4 KiB..1 MiB")
    if not 1 <= rep <= limits.MAX_REPLY_FRAME_LIMIT:
        raise protocol(f"hello: max_reply_frame {rep} is outside 1..16 MiB")
    if not 1 <= inflight <= limits.MAX_INFLIGHT_LIMIT:
        raise protocol(f"hello: max_inflight {inflight} is outside 1..1024")
    return Hello(version, get_field(r, "tenant", str, w), get_field(r, "server", str, w),
                 tuple(_strs(r, "operations", w)), req, rep, inflight)


@dataclass(frozen=True)
class Health:
    """Whether the tenant can serve requests now, and why not (PROTOCOL.md 7.3)."""

    ready: bool
    tenant: str
    reasons: Tuple[str, ...]


def parse_health(r: Mapping[str, Any]) -> Health:
    w = "health result"
    dup_check(r, ("ready", "tenant", "reasons"), w)
    return Health(get_field(r, "ready", bool, w), get_field(r, "tenant", str, w),
                  tuple(_strs(r, "reasons", w)))


@dataclass(frozen=True)
class Stats:
    """The broker's counters, admin socket only (PROTOCOL.md 7.4). The keys inside the maps
    are informational and may grow between releases."""

    uptime_s: int
    connections: Dict[str, Value]
    requests: Dict[str, Value]
    latency_us: Dict[str, Value]
    cache: Dict[str, Value]


def parse_stats(r: Mapping[str, Any]) -> Stats:
    w = "stats result"
    dup_check(r, ("uptime_s", "connections", "requests", "latency_us", "cache"), w)
    return Stats(get_field(r, "uptime_s", int, w), dict(get_field(r, "connections", dict, w)),
                 dict(get_field(r, "requests", dict, w)), dict(get_field(r, "latency_us", dict, w)),
                 dict(get_field(r, "cache", dict, w)))


def parse_empty(r: Mapping[str, Any]) -> None:
    return None


# ---- exchange --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Exchange:
    """The user-scoped Skyflow token the broker holds for a subject token (PROTOCOL.md 7.5).
    ``access_token`` is there only when the tenant sets ``expose_tokens = yes``; it is left
    out of the repr."""

    expires_at: int
    token_type: str
    issued_token_type: str
    context: Dict[str, Value]
    access_token: Optional[str] = field(default=None, repr=False)


def parse_exchange(r: Mapping[str, Any]) -> Exchange:
    w = "exchange result"
    dup_check(r, ("expires_at", "token_type", "issued_token_type", "context",
                   "access_token"), w)
    ctx = get_field(r, "context", dict, w, required=False)
    return Exchange(get_field(r, "expires_at", int, w), get_field(r, "token_type", str, w),
                    get_field(r, "issued_token_type", str, w), dict(ctx or {}),
                    get_field(r, "access_token", str, w, required=False))


# ---- records ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Record:
    """One record as Skyflow returns it: ``fields`` (column → value, including
    ``skyflow_id``) and, where tokens were asked for, ``tokens``. The repr shows column names,
    never values."""

    fields: Dict[str, Value]
    tokens: Optional[Dict[str, Value]] = None

    @property
    def skyflow_id(self) -> Optional[str]:
        """fields["skyflow_id"] when it is a str."""
        v = self.fields.get("skyflow_id")
        return v if isinstance(v, str) else None

    def __repr__(self) -> str:
        return f"Record(fields={_columns(self.fields)}, tokens={_columns(self.tokens)})"


def _record(m: Mapping[str, Any], w: str) -> Record:
    dup_check(m, ("fields", "tokens"), w)
    fields = get_field(m, "fields", dict, w)
    tokens = get_field(m, "tokens", dict, w, required=False)
    return Record(dict(fields), dict(tokens) if tokens is not None else None)


@dataclass(frozen=True)
class Records:
    """Records of ``get_records`` and ``query``. ``redaction_capped`` is set when the tenant's
    ceiling lowered the redaction asked for: the level the broker asked Skyflow for."""

    records: List[Record]
    redaction_capped: Optional[str] = None


def parse_records(r: Mapping[str, Any]) -> Records:
    w = "result"
    dup_check(r, ("records", "redaction_capped"), w)
    return Records([_record(m, "record") for m in _maps(r, "records", w)],
                   get_field(r, "redaction_capped", str, w, required=False))


@dataclass(frozen=True)
class OneRecord:
    """The record of ``get_record``, and ``redaction_capped`` as in Records."""

    record: Record
    redaction_capped: Optional[str] = None


def parse_one_record(r: Mapping[str, Any]) -> OneRecord:
    w = "get_record result"
    dup_check(r, ("record", "redaction_capped"), w)
    return OneRecord(_record(get_field(r, "record", dict, w), "record"),
                     get_field(r, "redaction_capped", str, w, required=False))


@dataclass(frozen=True)
class Inserted:
    """One inserted record: its id and, with tokenization, the tokens of its values."""

    skyflow_id: str
    tokens: Optional[Dict[str, Value]] = field(default=None, repr=False)


def parse_inserted(r: Mapping[str, Any]) -> List[Inserted]:
    out = []
    for m in _maps(r, "records", "insert_records result"):
        dup_check(m, ("skyflow_id", "tokens"), "inserted record")
        tokens = get_field(m, "tokens", dict, "inserted record", required=False)
        out.append(Inserted(get_field(m, "skyflow_id", str, "inserted record"),
                            dict(tokens) if tokens is not None else None))
    return out


@dataclass(frozen=True)
class Updated:
    """The updated record's id and, with tokenization, the tokens of the new values."""

    skyflow_id: str
    tokens: Optional[Dict[str, Value]] = field(default=None, repr=False)


def parse_updated(r: Mapping[str, Any]) -> Updated:
    w = "update_record result"
    dup_check(r, ("skyflow_id", "tokens"), w)
    tokens = get_field(r, "tokens", dict, w, required=False)
    return Updated(get_field(r, "skyflow_id", str, w), dict(tokens) if tokens is not None else None)


def parse_deleted(r: Mapping[str, Any]) -> List[str]:
    dup_check(r, ("skyflow_ids",), "delete_records result")
    return _strs(r, "skyflow_ids", "delete_records result")


@dataclass(frozen=True)
class Detokenized:
    """One token of ``detokenize``: its ``value`` and ``value_type``, or, with
    continue_on_error, its ``error`` (Skyflow's message). The repr leaves the value out."""

    token: str = field(repr=False)
    value: Value = field(default=None, repr=False)
    value_type: Optional[str] = None
    error: Value = None


@dataclass(frozen=True)
class DetokenizeResult:
    """The values of ``detokenize``, in the order of the tokens, and ``redaction_capped``."""

    records: List[Detokenized]
    redaction_capped: Optional[str] = None


def parse_detokenized(r: Mapping[str, Any]) -> DetokenizeResult:
    w = "detokenize result"
    dup_check(r, ("records", "redaction_capped"), w)
    out = []
    for m in _maps(r, "records", w):
        dup_check(m, ("token", "value", "value_type", "error"), "detokenized record")
        out.append(Detokenized(get_field(m, "token", str, "detokenized record"), m.get("value"),
                               get_field(m, "value_type", str, "detokenized record", False),
                               m.get("error")))
    return DetokenizeResult(out, get_field(r, "redaction_capped", str, w, required=False))


def parse_tokenized(r: Mapping[str, Any]) -> List[str]:
    out = []
    for m in _maps(r, "records", "tokenize result"):
        dup_check(m, ("token",), "tokenized record")
        out.append(get_field(m, "token", str, "tokenized record"))
    return out


Parser = Callable[[Mapping[str, Any]], T]

# SPDX-License-Identifier: MIT
"""The codec and the argument checks, without sockets: what is refused before sending, and
the bounds of the reply validator at their edges."""

from __future__ import annotations

from typing import Any, Callable

import msgpack
import pytest

from skybroker import SkybrokerError, ops
from skybroker.codec import decode_payload, encode_request, frame_length


def _nest(depth: int) -> Any:
    v: Any = 1
    for _ in range(depth - 1):
        v = [v]
    return {"x": v} if depth > 1 else {"x": 1}


def test_depth_16_passes_17_is_refused() -> None:
    # The top-level map is depth 1.
    ok = {"id": 1, "ok": True, "result": {"x": [[[[[[[[[[[[[[1]]]]]]]]]]]]]]}}
    assert decode_payload(msgpack.packb(ok))["ok"] is True
    deep = {"id": 1, "ok": True, "result": {"x": [[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]}}
    with pytest.raises(SkybrokerError, match="deeper than 16"):
        decode_payload(msgpack.packb(deep))


def test_entries_4096_pass_4097_are_refused() -> None:
    assert len(decode_payload(msgpack.packb({"r": [0] * 4096}))["r"]) == 4096
    with pytest.raises(SkybrokerError, match="4097 entries"):
        decode_payload(msgpack.packb({"r": [0] * 4097}))


def test_duplicate_keys_are_seen() -> None:
    m = decode_payload(b"\x82\xa1a\x01\xa1a\x02")
    assert getattr(m, "duplicates") == frozenset({"a"})


def test_frame_length_checked_against_the_cap() -> None:
    assert frame_length(b"\x00\x00\x10\x00", 4096) == 4096
    with pytest.raises(SkybrokerError, match="over the reply cap"):
        frame_length(b"\x00\x00\x10\x01", 4096)
    with pytest.raises(SkybrokerError, match="length 0"):
        frame_length(b"\x00\x00\x00\x00", 4096)


def test_the_protocol_example_frame() -> None:
    # PROTOCOL.md section 11: the first frame begins 00 00 00 2f 84 a2 69 64 01 ...
    f = encode_request({"id": 1, "op": "hello", "versions": [1], "client": "mcp-server/0.3"},
                       4096)
    assert f[:12].hex(" ") == "00 00 00 2f 84 a2 69 64 01 a2 6f 70"


@pytest.mark.parametrize("value,code", [
    ("a\x00b", "invalid_argument"),
    ("\ud800", "invalid_argument"),
    (b"bytes", "invalid_argument"),
    (2**64, "invalid_argument"),
    ("x" * (1024 * 1024 + 1), "too_large"),
    (_nest(16), "too_large"),
    ([0] * 4097, "too_large"),
    ({1: "non-str key"}, "invalid_argument"),
])
def test_request_values_checked_before_sending(value: Any, code: str) -> None:
    with pytest.raises(SkybrokerError) as ei:
        encode_request({"id": 1, "op": "x", "v": value}, 4 * 1024 * 1024)
    assert ei.value.code == code
    assert "nothing was sent" in ei.value.message


def test_request_over_the_frame_cap() -> None:
    with pytest.raises(SkybrokerError, match="over the broker's request frame cap of 65536"):
        encode_request({"id": 1, "op": "x", "v": "x" * 70000}, 65536)


T = "eyJ.fake.token"

BAD_ARGS: list[tuple[Callable[[], Any], str]] = [
    (lambda: ops.get_records(T, "persons", limit=26), "limit must be 1 to 25"),
    (lambda: ops.get_records(T, "persons", limit=0), "limit must be 1 to 25"),
    (lambda: ops.get_records(T, "persons", skyflow_ids=["a"], column_name="ssn",
                             column_values=["1"]), "cannot be combined"),
    (lambda: ops.get_records(T, "persons", column_name="ssn"), "go together"),
    (lambda: ops.get_records(T, "persons", redaction="plain"), "redaction must be one of"),
    (lambda: ops.get_records(T, "persons", order_by="UP"), "order_by must be one of"),
    (lambda: ops.get_records(T, "persons", skyflow_ids="abc"), "list of str"),
    (lambda: ops.get_records(T, "persons", skyflow_ids=[]), "is empty"),
    (lambda: ops.get_records(T, "persons", skyflow_ids=["x"] * 1001), "more than 1000"),
    (lambda: ops.get_records(T, "t" * 257), "more than 256"),
    (lambda: ops.get_records("", "persons"), "subject_token"),
    (lambda: ops.get_records("x" * (64 * 1024 + 1), "persons"), "more than 65536"),
    (lambda: ops.delete_records(T, "persons", ["*"]), "list the ids"),
    (lambda: ops.insert_records(T, "persons", []), "non-empty list"),
    (lambda: ops.insert_records(T, "persons", [{}] * 1001), "more than 1000"),
    (lambda: ops.update_record(T, "persons", "id", {}), "non-empty dict"),
    (lambda: ops.tokenize(T, "ssn", ["v" * (64 * 1024 + 1)]), "more than 65536"),
    (lambda: ops.query(T, "S" * 8193), "more than 8192"),
    (lambda: ops.detokenize(T, ["t"], continue_on_error=1), "must be a bool"),  # type: ignore
]


@pytest.mark.parametrize("build,msg", BAD_ARGS)
def test_bad_arguments_refused_locally(build: Callable[[], Any], msg: str) -> None:
    with pytest.raises(SkybrokerError) as ei:
        build()
    assert ei.value.code in ("invalid_argument", "too_large")
    assert msg in ei.value.message and "nothing was sent" in ei.value.message
    assert T not in str(ei.value)


def test_request_repr_holds_no_token() -> None:
    assert T not in repr(ops.get_records(T, "persons"))

# SPDX-License-Identifier: MIT
"""A hostile broker (fakebroker.py): every kind of garbage a reply can be. Both clients must
raise SkybrokerError(protocol) at once, close the connection, and never hang or crash."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator

import msgpack
import pytest

from fakebroker import HELLO, FakeBroker, Scenario, frame, reply
from skybroker import AsyncClient, Client, SkybrokerError


def raw(data: bytes) -> Scenario:
    """A scenario sending data as the frame's payload."""
    return lambda conn, rid: conn.sendall(frame(data))


def packed(obj: Callable[[int], Any]) -> Scenario:
    return lambda conn, rid: conn.sendall(frame(msgpack.packb(obj(rid), use_bin_type=True)))


def _nested(depth: int) -> bytes:
    # {"id": 1, "ok": true, "result": {"x": [[[...]]]}}: the reply map is depth 1
    inner = b"\x91" * (depth - 2) + b"\x01"
    return b"\x83\xa2id\x01\xa2ok\xc3\xa6result\x81\xa1x" + inner


BAD: Dict[str, Scenario] = {
    "length over any cap": lambda conn, rid: conn.sendall(b"\xff\xff\xff\xff"),
    "length over the hello cap": lambda conn, rid: conn.sendall(
        struct.pack(">I", 5000) + b"\x80" * 5000),
    "length 0": lambda conn, rid: conn.sendall(b"\x00\x00\x00\x00"),
    "never-used byte 0xc1": raw(b"\xc1"),
    "truncated map": raw(b"\x83\xa2id\x01\xa2ok"),
    "trailing bytes": lambda conn, rid: conn.sendall(
        frame(msgpack.packb({"id": rid, "ok": True, "result": {}}) + b"\x00")),
    "not a map": packed(lambda rid: [rid, True]),
    "bin value": packed(lambda rid: {"id": rid, "ok": True, "result": {"x": b"bytes"}}),
    "ext value": packed(lambda rid: {"id": rid, "ok": True,
                                     "result": {"x": msgpack.ExtType(1, b"x")}}),
    "nested 17 deep": raw(_nested(17).replace(b"\xa2id\x01", b"\xa2id\x01", 1)),
    "array32 of 2^31 entries": raw(b"\x83\xa2id\x01\xa2ok\xc3\xa6result\x81\xa1x"
                                   b"\xdd\x80\x00\x00\x00"),
    "map16 over the bytes left": raw(b"\x83\xa2id\x01\xa2ok\xc3\xa6result\xde\x0f\xff"),
    "invalid UTF-8": raw(b"\x83\xa2id\x01\xa2ok\xc3\xa6result\x81\xa1x\xa2\xc3\x28"),
    "surrogate in UTF-8": raw(b"\x83\xa2id\x01\xa2ok\xc3\xa6result\x81\xa1x\xa3\xed\xa0\x80"),
    "NUL in a string": raw(b"\x83\xa2id\x01\xa2ok\xc3\xa6result\x81\xa1x\xa2a\x00"),
    "key not a str": raw(b"\x83\xa2id\x01\xa2ok\xc3\xa6result\x81\x01\x01"),
    "unsolicited id": packed(lambda rid: {"id": rid + 1000, "ok": True, "result": {}}),
    "id twice": raw(b"\x84\xa2id\x01\xa2ok\xc3\xa6result\x80\xa2id\x01"),
    "no ok": packed(lambda rid: {"id": rid, "result": {}}),
    "ok not a bool": packed(lambda rid: {"id": rid, "ok": 1, "result": {}}),
    "negative id": packed(lambda rid: {"id": -1, "ok": True, "result": {}}),
    "error without code": packed(lambda rid: {"id": rid, "ok": False,
                                              "error": {"message": "x", "retryable": False}}),
    "result of the wrong type": packed(lambda rid: {"id": rid, "ok": True,
                                                    "result": {"ready": "yes", "tenant": "t",
                                                               "reasons": []}}),
}


@pytest.fixture
def sockpath(tmp_path: Path) -> Iterator[str]:
    yield str(tmp_path / "fake.sock")


def _sync_call(path: str, **kw: Any) -> SkybrokerError:
    with Client(path, timeout=3, attempts=1, **kw) as c:
        with pytest.raises(SkybrokerError) as ei:
            c.health()
        assert not c.connected, "the connection must be closed after garbage"
    return ei.value


def _async_call(path: str) -> SkybrokerError:
    async def run() -> SkybrokerError:
        async with AsyncClient(path, timeout=3, attempts=1) as c:
            with pytest.raises(SkybrokerError) as ei:
                await c.health()
            assert not c.connected, "the connection must be closed after garbage"
        return ei.value
    return asyncio.run(run())


@pytest.mark.parametrize("name", sorted(BAD))
@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_garbage_is_refused_and_closes(sockpath: str, name: str, flavour: str) -> None:
    fake = FakeBroker(sockpath, BAD[name])
    try:
        t0 = time.monotonic()
        err = _sync_call(sockpath) if flavour == "sync" else _async_call(sockpath)
        assert err.code == "protocol", f"{name}: {err!r}"
        assert time.monotonic() - t0 < 2, "the client must not wait for more bytes"
        assert fake.eof.wait(3), "the client did not close the connection"
        assert fake.requests == 1
    finally:
        fake.close()


def test_reply_over_the_cap_is_refused_before_its_body(sockpath: str) -> None:
    # The header says 8 KiB (over hello's 4096) and no body follows: a client that read the
    # body before checking would hang until its timeout.
    fake = FakeBroker(sockpath, lambda conn, rid: conn.sendall(struct.pack(">I", 8192)))
    try:
        t0 = time.monotonic()
        err = _sync_call(sockpath)
        assert err.code == "protocol" and "over the reply cap of 4096" in err.message
        assert time.monotonic() - t0 < 1
    finally:
        fake.close()


def test_own_reply_cap_lower_than_the_brokers(sockpath: str) -> None:
    big = {"ready": True, "tenant": "x" * 3000, "reasons": []}
    fake = FakeBroker(sockpath, lambda conn, rid: conn.sendall(reply(rid, big)))
    try:
        assert _sync_call(sockpath, max_reply_frame=1024).code == "protocol"
        with Client(sockpath, timeout=3) as c:  # under the broker's own cap it is fine
            assert c.health().tenant == "x" * 3000
    finally:
        fake.close()


def test_broker_that_never_answers_times_out(sockpath: str) -> None:
    fake = FakeBroker(sockpath, lambda conn, rid: None)
    try:
        with Client(sockpath, timeout=3, attempts=3) as c:
            t0 = time.monotonic()
            with pytest.raises(SkybrokerError) as ei:
                c.health(timeout=0.3)
            assert ei.value.code == "timeout"
            assert 0.25 < time.monotonic() - t0 < 1.5  # a timeout is not retried
    finally:
        fake.close()


def test_partial_frame_then_close_is_disconnected(sockpath: str) -> None:
    def half(conn: socket.socket, rid: int) -> None:
        conn.sendall(struct.pack(">I", 100) + b"\x83")
        conn.shutdown(socket.SHUT_WR)
    fake = FakeBroker(sockpath, half)
    try:
        with Client(sockpath, timeout=3, attempts=1) as c:
            with pytest.raises(SkybrokerError) as ei:
                c.health()
            assert ei.value.code == "disconnected"
    finally:
        fake.close()


def test_unknown_error_code_is_internal_and_the_connection_stays(sockpath: str) -> None:
    def odd(conn: socket.socket, rid: int) -> None:
        conn.sendall(frame(msgpack.packb({"id": rid, "ok": False, "error": {
            "code": "brand_new", "message": "m", "retryable": False,
            "upstream_status": 418, "request_id": "r-1", "extra": [1]}, "more": 1})))
    fake = FakeBroker(sockpath, odd)
    try:
        with Client(sockpath, timeout=3, attempts=1) as c:
            for _ in range(2):
                with pytest.raises(SkybrokerError) as ei:
                    c.health()
                e = ei.value
                assert (e.code, e.retryable, e.upstream_status, e.request_id) == \
                    ("internal", False, 418, "r-1")
                assert "brand_new" in e.message
            assert c.connected
    finally:
        fake.close()


@pytest.mark.parametrize("hello", [
    {**HELLO, "max_request_frame": 2 * 1024 * 1024},
    {**HELLO, "max_request_frame": 4095},
    {**HELLO, "max_reply_frame": 0},
    {**HELLO, "max_inflight": 5000},
    {**HELLO, "version": 2},
    {k: v for k, v in HELLO.items() if k != "tenant"},
])
def test_bad_hello_reply(sockpath: str, hello: Dict[str, Any]) -> None:
    fake = FakeBroker(sockpath, lambda conn, rid: None, hello_result=hello)
    try:
        with pytest.raises(SkybrokerError) as ei:
            Client(sockpath, timeout=3, attempts=1)
        assert ei.value.code == "protocol"
    finally:
        fake.close()


def test_hello_refused_by_the_broker(sockpath: str) -> None:
    def refuse(rid: int) -> bytes:
        return frame(msgpack.packb({"id": rid, "ok": False, "error": {
            "code": "unsupported_version", "message": "no common version",
            "retryable": False}}))
    fake = FakeBroker(sockpath, lambda conn, rid: None, hello_raw=refuse)
    try:
        with pytest.raises(SkybrokerError) as ei:
            Client(sockpath, timeout=3)
        assert ei.value.code == "unsupported_version"
    finally:
        fake.close()


def test_nothing_listening_is_unreachable(tmp_path: Path) -> None:
    with pytest.raises(SkybrokerError) as ei:
        Client(str(tmp_path / "none.sock"), timeout=0.5, attempts=1)
    assert ei.value.code == "unreachable" and ei.value.retryable
    assert "none.sock" in ei.value.message


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_hello_never_answered_times_out(sockpath: str, flavour: str) -> None:
    fake = FakeBroker(sockpath, lambda conn, rid: None, hello_raw=lambda rid: b"")
    try:
        t0 = time.monotonic()
        with pytest.raises(SkybrokerError) as ei:
            if flavour == "sync":
                Client(sockpath, timeout=0.3)
            else:
                asyncio.run(AsyncClient.connect(sockpath, timeout=0.3))
        assert ei.value.code == "timeout"
        assert time.monotonic() - t0 < 1.5
    finally:
        fake.close()


def test_slow_reply_byte_by_byte(sockpath: str) -> None:
    # A reply trickling in one byte at a time: the call times out; the bytes that did come
    # are kept, and the next call finds the rest, drops that late reply, and gets its own.
    def trickle(conn: socket.socket, rid: int) -> None:
        data = reply(rid, {"ready": True, "tenant": "t", "reasons": []})
        if rid == 2:
            for b in data:
                conn.sendall(bytes([b]))
                time.sleep(0.02)
        else:
            conn.sendall(data)
    fake = FakeBroker(sockpath, trickle)
    try:
        with Client(sockpath, timeout=5) as c:
            with pytest.raises(SkybrokerError) as ei:
                c.health(timeout=0.2)
            assert ei.value.code == "timeout"
            assert c.health().ready
            assert c.connected
    finally:
        fake.close()

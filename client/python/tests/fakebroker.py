# SPDX-License-Identifier: MIT
"""A hostile broker: a Unix socket server that greets like skybrokerd, then answers each
request with whatever bytes a scenario sends (oversized frames, bad msgpack, unsolicited ids).
The client must raise a clear error and close the connection, never hang or crash."""

from __future__ import annotations

import socket
import struct
import threading
from typing import Any, Callable, Dict, Optional

import msgpack

Scenario = Callable[[socket.socket, int], None]

HELLO: Dict[str, Any] = {"version": 1, "tenant": "fake", "server": "fake/0",
                         "operations": ["hello", "ping", "health", "get_records"],
                         "max_request_frame": 65536, "max_reply_frame": 4096,
                         "max_inflight": 8}


def frame(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


def reply(rid: int, result: Optional[Dict[str, Any]] = None) -> bytes:
    return frame(msgpack.packb({"id": rid, "ok": True, "result": result or {}}))


def _read_frame(conn: socket.socket) -> Optional[Dict[str, Any]]:
    def exact(n: int) -> Optional[bytes]:
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf
    header = exact(4)
    if header is None:
        return None
    (length,) = struct.unpack(">I", header)
    assert 0 < length <= 1 << 20
    body = exact(length)
    if body is None:
        return None
    msg: Dict[str, Any] = msgpack.unpackb(body, raw=False)
    return msg


class FakeBroker:
    """Serves connections on path one at a time: hello answered with hello_result (or the raw
    bytes of hello_raw), then scenario(conn, id) for each request. ``eof`` is set when the
    client closed a connection."""

    def __init__(self, path: str, scenario: Scenario,
                 hello_result: Optional[Dict[str, Any]] = None,
                 hello_raw: Optional[Callable[[int], bytes]] = None) -> None:
        self.path = path
        self.scenario = scenario
        self.hello_result = hello_result if hello_result is not None else HELLO
        self.hello_raw = hello_raw
        self.eof = threading.Event()
        self.requests = 0
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self._one(conn)

    def _one(self, conn: socket.socket) -> None:
        try:
            hello = _read_frame(conn)
            if hello is None:
                return
            conn.sendall(self.hello_raw(hello["id"]) if self.hello_raw
                         else reply(hello["id"], self.hello_result))
            while True:
                req = _read_frame(conn)
                if req is None:
                    break
                self.requests += 1
                self.scenario(conn, req["id"])
        except OSError:
            pass
        self.eof.set()

    def close(self) -> None:
        self._stop = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(5)

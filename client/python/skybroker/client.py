# SPDX-License-Identifier: MIT
"""Client: a blocking connection to skybrokerd.

Calls on one Client are serialised by a lock, so a Client may be shared by threads; a program
that wants requests in parallel uses AsyncClient, which pipelines them on one connection.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, TypeVar

from . import errors as E
from . import envelope as env
from . import limits
from . import ops
from . import results as R
from .codec import HEADER, Value, encode_request, frame_length
from .errors import SkybrokerError, protocol
from .ops import Request

T = TypeVar("T")


class Client:
    """A blocking connection to skybrokerd's Unix socket, greeted with ``hello``.

    socket_path defaults to ``$SKYBROKER_SOCKET``, else ``/run/skybroker/skybroker.sock``.
    timeout is the default per call, in seconds, connecting included. An idempotent call is
    sent again, on a new connection, when the connection broke or the broker answered a
    retryable error, at most ``attempts`` times in all with exponential backoff from
    ``backoff`` seconds, never past the call's timeout; a write (insert, update, delete) is
    never sent twice. max_reply_frame lowers the reply cap below what the broker states.
    Raises SkybrokerError when the first connection cannot be made (connect=False defers it
    to the first call).
    """

    def __init__(self, socket_path: Optional[str] = None, *, client_name: Optional[str] = None,
                 timeout: float = limits.DEFAULT_TIMEOUT,
                 attempts: int = limits.DEFAULT_ATTEMPTS,
                 backoff: float = limits.DEFAULT_BACKOFF,
                 max_reply_frame: Optional[int] = None, connect: bool = True) -> None:
        self.socket_path = env.socket_path(socket_path)
        self._hello_req = ops.hello(client_name if client_name is not None else env.CLIENT_NAME)
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self._own_reply_cap = max_reply_frame or limits.MAX_REPLY_FRAME_LIMIT
        self._lock = threading.Lock()
        self._sock: Optional[socket.socket] = None
        self._hello: Optional[R.Hello] = None
        self._rbuf = bytearray()
        self._next_id = 1
        self._abandoned: set[int] = set()
        self._sent = False
        if connect:
            with self._lock:
                self._connect(time.monotonic() + timeout, timeout)

    # ---- life cycle ----

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes the connection. A later call connects again."""
        with self._lock:
            self._close()

    @property
    def hello(self) -> Optional[R.Hello]:
        """What the broker said to ``hello`` on the current connection, or None."""
        return self._hello

    @property
    def connected(self) -> bool:
        """Whether a connection is open (it may still have been closed by the broker)."""
        return self._sock is not None

    def _close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock = None
        self._hello = None
        self._rbuf.clear()
        self._abandoned.clear()

    # ---- framing ----

    def _reply_cap(self) -> int:
        cap = self._hello.max_reply_frame if self._hello else limits.MAX_REPLY_FRAME_DEFAULT
        return min(cap, self._own_reply_cap)

    def _fill(self, want: int, deadline: float, op: str, timeout: float) -> None:
        """Reads until _rbuf holds want bytes, never more: what follows the current frame
        stays in the socket."""
        assert self._sock is not None
        while len(self._rbuf) < want:
            left = deadline - time.monotonic()
            if left <= 0:
                raise env.timed_out(op, timeout)
            self._sock.settimeout(left)
            try:
                chunk = self._sock.recv(min(want - len(self._rbuf), 1 << 16))
            except socket.timeout:
                raise env.timed_out(op, timeout) from None
            except OSError as e:
                self._close()
                raise env.disconnected(e.strerror or str(e)) from None
            if not chunk:
                self._close()
                raise env.disconnected("the broker closed it")
            self._rbuf += chunk

    def _read_reply(self, deadline: float, op: str, timeout: float) -> env.Reply:
        try:
            self._fill(HEADER.size, deadline, op, timeout)
            length = frame_length(bytes(self._rbuf[:HEADER.size]), self._reply_cap())
            self._fill(HEADER.size + length, deadline, op, timeout)
            payload = bytes(self._rbuf[HEADER.size:])
            self._rbuf.clear()
            return env.parse_reply(payload)
        except SkybrokerError as e:
            if e.code == E.PROTOCOL:
                self._close()
            raise

    def _send(self, frame: bytes, deadline: float, op: str, timeout: float) -> None:
        assert self._sock is not None
        self._sock.settimeout(max(deadline - time.monotonic(), 0.001))
        try:
            self._sock.sendall(frame)
        except socket.timeout:
            self._close()
            raise env.timed_out(op, timeout) from None
        except OSError as e:
            # The broker may have said why before it closed (rate_limited, forbidden).
            why = e.strerror or str(e)
            try:
                rep = self._read_reply(min(deadline, time.monotonic() + 0.2), op, timeout)
            except SkybrokerError:
                rep = None
            self._close()
            if rep is not None and rep.error is not None and rep.id == 0:
                raise rep.error from None
            raise env.disconnected(why) from None

    def _alive(self) -> bool:
        """Whether the connection is still open: a closed one is found before a request is
        sent, so that any operation can reconnect."""
        assert self._sock is not None
        readable, _, _ = select.select([self._sock], [], [], 0)
        if not readable:
            return True
        try:
            return self._sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
        except BlockingIOError:
            return True
        except OSError:
            return False

    # ---- calls ----

    def _connect(self, deadline: float, timeout: float) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # close-on-exec by default
        s.settimeout(max(deadline - time.monotonic(), 0.001))
        try:
            s.connect(self.socket_path)
        except OSError as e:
            s.close()
            raise env.unreachable(self.socket_path, e.strerror or str(e)) from None
        self._close()
        self._sock = s
        self._next_id = 2
        req = self._hello_req
        self._send(encode_request({"id": 1, "op": req.op, **req.fields}, limits.MAX_HELLO_FRAME),
                   deadline, "hello", timeout)
        try:
            rep = self._read_reply(deadline, "hello", timeout)
            if rep.id not in (0, 1) or (rep.id == 0 and rep.error is None):
                raise protocol(f"a reply to id {rep.id} before the hello reply")
            if rep.error is not None:
                raise rep.error
            assert rep.result is not None
            self._hello = req.parse(rep.result)
        except SkybrokerError:
            self._close()
            raise

    def _attempt(self, request: Request[T], deadline: float, timeout: float) -> T:
        self._sent = False
        if self._sock is not None and not self._alive():
            self._close()
        if self._sock is None:
            self._connect(deadline, timeout)
        assert self._hello is not None
        rid = self._next_id
        self._next_id = rid + 1 if rid < limits.MAX_ID else 1
        frame = encode_request({"id": rid, "op": request.op, **request.fields},
                               self._hello.max_request_frame)
        self._sent = True
        self._send(frame, deadline, request.op, timeout)
        while True:
            try:
                rep = self._read_reply(deadline, request.op, timeout)
            except SkybrokerError as e:
                if e.code == E.TIMEOUT and self._sock is not None:
                    self._abandon(rid)
                raise
            if rep.id == rid:
                break
            if rep.id in self._abandoned:
                self._abandoned.discard(rep.id)
                continue
            self._close()
            if rep.id == 0 and rep.error is not None:
                raise rep.error
            raise protocol(f"a reply to id {rep.id}, which is not in flight")
        if rep.error is not None:
            raise rep.error
        assert rep.result is not None
        try:
            return request.parse(rep.result)
        except SkybrokerError:
            self._close()  # a broker that breaks the protocol's types is not trusted further
            raise

    def _abandon(self, rid: int) -> None:
        """A request that timed out: its late reply is dropped when it comes; past the
        in-flight cap the connection is dropped instead."""
        assert self._hello is not None
        if len(self._abandoned) >= self._hello.max_inflight - 1:
            self._close()
        else:
            self._abandoned.add(rid)

    def call(self, request: Request[T], timeout: Optional[float] = None) -> T:
        """Sends request (built by skybroker.ops) and returns its typed result, with the
        reconnection and retries the class describes. Raises SkybrokerError."""
        t = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + t
        with self._lock:
            attempt = 1
            while True:
                try:
                    return self._attempt(request, deadline, t)
                except SkybrokerError as e:
                    if attempt >= self.attempts or not env.may_retry(e, self._sent,
                                                                     request.idempotent):
                        raise
                    delay = env.backoff(attempt, self.backoff)
                    if delay >= deadline - time.monotonic():
                        raise
                    time.sleep(delay)
                    attempt += 1

    def pipeline(self, requests: Sequence[Request[Any]],
                 timeout: Optional[float] = None) -> List[Any]:
        """Sends requests (built by skybroker.ops) without waiting for each reply, at most
        the broker's ``max_inflight`` unanswered at a time, and returns in their order each
        one's result or the SkybrokerError it failed with. Nothing is sent again: a request
        whose reply did not come within timeout (for all of them) or before the connection
        broke holds that error, and a write's outcome is then unknown."""
        t = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + t
        out: List[Any] = [None] * len(requests)
        with self._lock:
            try:
                if self._sock is not None and not self._alive():
                    self._close()
                if self._sock is None:
                    self._connect(deadline, t)
            except SkybrokerError as e:
                return [e] * len(requests)
            self._pipe(requests, out, deadline, t)
        return out

    def _pipe(self, requests: Sequence[Request[Any]], out: List[Any], deadline: float,
              timeout: float) -> None:
        assert self._sock is not None and self._hello is not None
        pending: Dict[int, int] = {}  # id -> index in requests
        outbuf = bytearray()
        nxt = 0
        try:
            while nxt < len(requests) or pending:
                while nxt < len(requests) and len(pending) < self._hello.max_inflight:
                    req, nxt = requests[nxt], nxt + 1
                    rid = self._next_id
                    self._next_id = rid + 1 if rid < limits.MAX_ID else 1
                    try:
                        outbuf += encode_request({"id": rid, "op": req.op, **req.fields},
                                                 self._hello.max_request_frame)
                        pending[rid] = nxt - 1
                    except SkybrokerError as e:
                        out[nxt - 1] = e
                if pending:
                    self._pipe_step(requests, pending, outbuf, out, deadline, timeout)
        except SkybrokerError as e:
            if self._sock is not None and outbuf:
                self._close()  # a frame may be half sent: the stream is lost
            for rid, i in pending.items():
                out[i] = e
                if e.code == E.TIMEOUT and self._sock is not None:
                    self._abandon(rid)
            for i in range(nxt, len(requests)):
                out[i] = e

    def _pipe_step(self, requests: Sequence[Request[Any]], pending: Dict[int, int],
                   outbuf: bytearray, out: List[Any], deadline: float, timeout: float) -> None:
        """Writes what the socket takes of outbuf and reads one reply when one is there."""
        assert self._sock is not None
        left = deadline - time.monotonic()
        if left <= 0:
            raise env.timed_out("pipelined requests", timeout)
        readable, writable, _ = select.select([self._sock], [self._sock] if outbuf else [],
                                              [], left)
        if writable:
            try:
                del outbuf[:self._sock.send(outbuf)]
            except (BlockingIOError, socket.timeout):
                pass
            except OSError as e:
                self._close()
                raise env.disconnected(e.strerror or str(e)) from None
        if not readable:
            return
        rep = self._read_reply(deadline, "pipelined requests", timeout)
        if rep.id in pending:
            i = pending.pop(rep.id)
            if rep.error is not None:
                out[i] = rep.error
                return
            assert rep.result is not None
            try:
                out[i] = requests[i].parse(rep.result)
            except SkybrokerError as e:
                out[i] = e
                self._close()
                raise
        elif rep.id in self._abandoned:
            self._abandoned.discard(rep.id)
        else:
            self._close()
            raise rep.error if rep.id == 0 and rep.error is not None else \
                protocol(f"a reply to id {rep.id}, which is not in flight")

    # ---- the operations (PROTOCOL.md section 7) ----

    def ping(self, *, timeout: Optional[float] = None) -> None:
        """Answered without any upstream call; keeps an idle connection alive."""
        self.call(ops.ping(), timeout)

    def health(self, *, timeout: Optional[float] = None) -> R.Health:
        """Whether the tenant can serve requests now."""
        return self.call(ops.health(), timeout)

    def stats(self, *, timeout: Optional[float] = None) -> R.Stats:
        """The broker's counters (admin socket only)."""
        return self.call(ops.stats(), timeout)

    def exchange(self, subject_token: str, *, timeout: Optional[float] = None) -> R.Exchange:
        """Exchanges the user's Descope token for a Skyflow token held by the broker."""
        return self.call(ops.exchange(subject_token), timeout)

    def get_records(self, subject_token: str, table: str, *,
                    skyflow_ids: Optional[Sequence[str]] = None,
                    redaction: Optional[str] = None,
                    fields: Optional[Sequence[str]] = None,
                    offset: Optional[int] = None, limit: Optional[int] = None,
                    column_name: Optional[str] = None,
                    column_values: Optional[Sequence[str]] = None,
                    order_by: Optional[str] = None, tokenization: Optional[bool] = None,
                    download_url: Optional[bool] = None,
                    timeout: Optional[float] = None) -> R.Records:
        """Records of one table as the user may see them (PROTOCOL.md 7.6)."""
        return self.call(ops.get_records(
            subject_token, table, skyflow_ids=skyflow_ids, redaction=redaction, fields=fields,
            offset=offset, limit=limit, column_name=column_name, column_values=column_values,
            order_by=order_by, tokenization=tokenization, download_url=download_url), timeout)

    def get_record(self, subject_token: str, table: str, skyflow_id: str, *,
                   redaction: Optional[str] = None, fields: Optional[Sequence[str]] = None,
                   tokenization: Optional[bool] = None, download_url: Optional[bool] = None,
                   timeout: Optional[float] = None) -> R.OneRecord:
        """One record by id (PROTOCOL.md 7.7)."""
        return self.call(ops.get_record(
            subject_token, table, skyflow_id, redaction=redaction, fields=fields,
            tokenization=tokenization, download_url=download_url), timeout)

    def insert_records(self, subject_token: str, table: str,
                       records: Sequence[Mapping[str, Value]], *,
                       tokenization: Optional[bool] = None, upsert: Optional[str] = None,
                       timeout: Optional[float] = None) -> List[R.Inserted]:
        """Inserts records; never sent twice (PROTOCOL.md 7.8)."""
        return self.call(ops.insert_records(subject_token, table, records,
                                            tokenization=tokenization, upsert=upsert), timeout)

    def update_record(self, subject_token: str, table: str, skyflow_id: str,
                      fields: Mapping[str, Value], *, tokenization: Optional[bool] = None,
                      timeout: Optional[float] = None) -> R.Updated:
        """Sets columns of one record; never sent twice (PROTOCOL.md 7.9)."""
        return self.call(ops.update_record(subject_token, table, skyflow_id, fields,
                                           tokenization=tokenization), timeout)

    def delete_records(self, subject_token: str, table: str, skyflow_ids: Sequence[str], *,
                       timeout: Optional[float] = None) -> List[str]:
        """Deletes records; returns the ids deleted; never sent twice (PROTOCOL.md 7.10)."""
        return self.call(ops.delete_records(subject_token, table, skyflow_ids), timeout)

    def detokenize(self, subject_token: str, tokens: Sequence[str], *,
                   redaction: Optional[str] = None, continue_on_error: Optional[bool] = None,
                   timeout: Optional[float] = None) -> R.DetokenizeResult:
        """The values of tokens, in order (PROTOCOL.md 7.11)."""
        return self.call(ops.detokenize(subject_token, tokens, redaction=redaction,
                                        continue_on_error=continue_on_error), timeout)

    def tokenize(self, subject_token: str, column_group: str, values: Sequence[str], *,
                 timeout: Optional[float] = None) -> List[str]:
        """One token per value, in order (PROTOCOL.md 7.12)."""
        return self.call(ops.tokenize(subject_token, column_group, values), timeout)

    def query(self, subject_token: str, sql: str, *,
              timeout: Optional[float] = None) -> R.Records:
        """A Skyflow SQL SELECT, at most 25 rows (PROTOCOL.md 7.13)."""
        return self.call(ops.query(subject_token, sql), timeout)

# SPDX-License-Identifier: MIT
"""AsyncClient: skybrokerd from asyncio, with requests pipelined on one connection.

Any number of tasks may call one AsyncClient at once. Each request gets the next id; a reader
task matches replies to requests by id, in whatever order they come. At most the broker's
``max_inflight`` requests are unanswered at a time; more wait here, not in the socket.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Awaitable, Dict, List, Mapping, Optional, Sequence, TypeVar

from . import envelope as env
from . import limits
from . import ops
from . import results as R
from .codec import HEADER, Value, encode_request, frame_length
from .errors import SkybrokerError, protocol
from .ops import Request

T = TypeVar("T")


if sys.version_info >= (3, 11):
    async def _within(aw: Awaitable[T], seconds: float) -> T:
        """aw, or asyncio.TimeoutError after seconds. asyncio.timeout, unlike wait_for before
        Python 3.12, never swallows a cancellation that comes as aw completes."""
        async with asyncio.timeout(max(seconds, 0)):
            return await aw
else:  # pragma: no cover
    async def _within(aw: Awaitable[T], seconds: float) -> T:
        return await asyncio.wait_for(aw, max(seconds, 0))


class _Sent:
    """Whether an attempt's request may have reached the broker."""

    value = False


class _Conn:
    """One greeted connection and its reader task."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 hello: R.Hello, reply_cap: int) -> None:
        self.reader = reader
        self.writer = writer
        self.hello = hello
        self.reply_cap = min(reply_cap, hello.max_reply_frame)
        self.pending: Dict[int, asyncio.Future[env.Reply]] = {}
        self.abandoned: set[int] = set()
        self.slots = asyncio.Semaphore(hello.max_inflight)
        self.wlock = asyncio.Lock()
        self.next_id = 2
        self.closed: Optional[SkybrokerError] = None
        self.task = asyncio.get_running_loop().create_task(self._read_loop())

    async def _read_loop(self) -> None:
        try:
            while True:
                header = await self.reader.readexactly(HEADER.size)
                length = frame_length(header, self.reply_cap)
                rep = env.parse_reply(await self.reader.readexactly(length))
                fut = self.pending.pop(rep.id, None)
                if fut is not None:
                    self.slots.release()
                    if not fut.done():
                        fut.set_result(rep)
                elif rep.id in self.abandoned:
                    self.abandoned.discard(rep.id)
                    self.slots.release()
                elif rep.id == 0 and rep.error is not None:
                    self.fail(rep.error)  # the broker's last word on this connection
                    return
                else:
                    self.fail(protocol(f"a reply to id {rep.id}, which is not in flight"))
                    return
        except asyncio.IncompleteReadError:
            self.fail(env.disconnected("the broker closed it"))
        except SkybrokerError as e:
            self.fail(e)
        except OSError as e:
            self.fail(env.disconnected(e.strerror or str(e)))
        except asyncio.CancelledError:
            self.fail(env.disconnected("the client closed it"))
            raise

    def fail(self, err: SkybrokerError) -> None:
        """Closes the connection; every request in flight gets err."""
        if self.closed is None:
            self.closed = err
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(err)
        self.pending.clear()
        self.writer.close()

    async def request(self, req: Request[T], deadline: float, timeout: float,
                      sent: _Sent) -> T:
        try:
            await _within(self.slots.acquire(), deadline - time.monotonic())
        except asyncio.TimeoutError:
            raise env.timed_out(req.op, timeout) from None
        if self.closed is not None:
            self.slots.release()
            raise env.disconnected("closed before the request was sent")
        rid = self.next_id
        self.next_id = rid + 1 if rid < limits.MAX_ID else 1
        try:
            frame = encode_request({"id": rid, "op": req.op, **req.fields},
                                   self.hello.max_request_frame)
        except SkybrokerError:
            self.slots.release()
            raise
        fut: asyncio.Future[env.Reply] = asyncio.get_running_loop().create_future()
        self.pending[rid] = fut
        sent.value = True
        try:
            async with self.wlock:
                self.writer.write(frame)
                await _within(self.writer.drain(), deadline - time.monotonic())
            rep = await _within(asyncio.shield(fut), deadline - time.monotonic())
        except asyncio.TimeoutError:
            raise env.timed_out(req.op, timeout) from None
        except (OSError, ConnectionError) as e:
            self.fail(env.disconnected(e.strerror or str(e)))
            raise env.disconnected(e.strerror or str(e)) from None
        finally:
            if not fut.done() and self.pending.pop(rid, None) is not None:
                self.abandoned.add(rid)  # its late reply is dropped; its slot freed then
        if rep.error is not None:
            raise rep.error
        assert rep.result is not None
        try:
            return req.parse(rep.result)
        except SkybrokerError as e:
            self.fail(e)  # a broker that breaks the protocol's types is not trusted further
            raise


class AsyncClient:
    """skybrokerd from asyncio: one connection, requests pipelined by id.

    The arguments are those of Client. Connections are made on first use (or by ``connect``
    or ``async with``) and again after one broke; an idempotent call is sent again on the new
    connection, a write (insert, update, delete) never. Raises SkybrokerError.
    """

    def __init__(self, socket_path: Optional[str] = None, *, client_name: Optional[str] = None,
                 timeout: float = limits.DEFAULT_TIMEOUT,
                 attempts: int = limits.DEFAULT_ATTEMPTS,
                 backoff: float = limits.DEFAULT_BACKOFF,
                 max_reply_frame: Optional[int] = None) -> None:
        self.socket_path = env.socket_path(socket_path)
        self._hello_req = ops.hello(client_name if client_name is not None else env.CLIENT_NAME)
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self._own_reply_cap = max_reply_frame or limits.MAX_REPLY_FRAME_LIMIT
        self._conn: Optional[_Conn] = None
        # Made in the running loop on first use (Python 3.9 binds a lock to a loop when made).
        self._connecting: Optional[asyncio.Lock] = None

    @classmethod
    async def connect(cls, socket_path: Optional[str] = None, **kwargs: object) -> AsyncClient:
        """A new AsyncClient, connected and greeted (keyword arguments as for the class)."""
        c = cls(socket_path, **kwargs)  # type: ignore[arg-type]
        await c._ensure(time.monotonic() + c.timeout, c.timeout)
        return c

    async def __aenter__(self) -> AsyncClient:
        await self._ensure(time.monotonic() + self.timeout, self.timeout)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def hello(self) -> Optional[R.Hello]:
        """What the broker said to ``hello`` on the current connection, or None."""
        return self._conn.hello if self._conn is not None else None

    @property
    def connected(self) -> bool:
        """Whether a connection is open and not known to be broken."""
        return self._conn is not None and self._conn.closed is None

    async def close(self) -> None:
        """Closes the connection; requests in flight get ``disconnected``."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.task.cancel()
            conn.fail(env.disconnected("the client closed it"))
            try:
                await conn.task
            except (asyncio.CancelledError, Exception):
                pass  # the task's end is already in conn.closed
            try:
                await conn.writer.wait_closed()
            except OSError:
                pass

    async def _open(self, timeout: float) -> _Conn:
        try:
            reader, writer = await asyncio.open_unix_connection(self.socket_path)
        except OSError as e:
            raise env.unreachable(self.socket_path, e.strerror or str(e)) from None
        try:
            req = self._hello_req
            writer.write(encode_request({"id": 1, "op": req.op, **req.fields},
                                        limits.MAX_HELLO_FRAME))
            await writer.drain()
            cap = min(self._own_reply_cap, limits.MAX_REPLY_FRAME_DEFAULT)
            header = await reader.readexactly(HEADER.size)
            rep = env.parse_reply(await reader.readexactly(frame_length(header, cap)))
            if rep.id not in (0, 1) or (rep.id == 0 and rep.error is None):
                raise protocol(f"a reply to id {rep.id} before the hello reply")
            if rep.error is not None:
                raise rep.error
            assert rep.result is not None
            return _Conn(reader, writer, req.parse(rep.result), self._own_reply_cap)
        except asyncio.IncompleteReadError:
            writer.close()
            raise env.disconnected("the broker closed it during hello") from None
        except OSError as e:
            writer.close()
            raise env.disconnected(e.strerror or str(e)) from None
        except BaseException:
            writer.close()
            raise

    async def _ensure(self, deadline: float, timeout: float) -> _Conn:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._conn is not None and self._conn.closed is None:
                return self._conn
            if self._conn is not None:
                await self.close()
            try:
                self._conn = await _within(self._open(timeout), deadline - time.monotonic())
            except asyncio.TimeoutError:
                raise env.timed_out("hello", timeout) from None
            return self._conn

    async def call(self, request: Request[T], timeout: Optional[float] = None) -> T:
        """Sends request (built by skybroker.ops) and returns its typed result, with the
        reconnection and retries the class describes. Raises SkybrokerError."""
        t = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + t
        attempt = 1
        while True:
            sent = _Sent()
            try:
                conn = await self._ensure(deadline, t)
                return await conn.request(request, deadline, t, sent)
            except SkybrokerError as e:
                if attempt >= self.attempts or not env.may_retry(e, sent.value,
                                                                 request.idempotent):
                    raise
                delay = env.backoff(attempt, self.backoff)
                if delay >= deadline - time.monotonic():
                    raise
                await asyncio.sleep(delay)
                attempt += 1

    # ---- the operations (PROTOCOL.md section 7); see Client for each ----

    async def ping(self, *, timeout: Optional[float] = None) -> None:
        """Answered without any upstream call; keeps an idle connection alive."""
        await self.call(ops.ping(), timeout)

    async def health(self, *, timeout: Optional[float] = None) -> R.Health:
        """Whether the tenant can serve requests now."""
        return await self.call(ops.health(), timeout)

    async def stats(self, *, timeout: Optional[float] = None) -> R.Stats:
        """The broker's counters (admin socket only)."""
        return await self.call(ops.stats(), timeout)

    async def exchange(self, subject_token: str, *,
                       timeout: Optional[float] = None) -> R.Exchange:
        """Exchanges the user's Descope token for a Skyflow token held by the broker."""
        return await self.call(ops.exchange(subject_token), timeout)

    async def get_records(self, subject_token: str, table: str, *,
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
        return await self.call(ops.get_records(
            subject_token, table, skyflow_ids=skyflow_ids, redaction=redaction, fields=fields,
            offset=offset, limit=limit, column_name=column_name, column_values=column_values,
            order_by=order_by, tokenization=tokenization, download_url=download_url), timeout)

    async def get_record(self, subject_token: str, table: str, skyflow_id: str, *,
                         redaction: Optional[str] = None,
                         fields: Optional[Sequence[str]] = None,
                         tokenization: Optional[bool] = None,
                         download_url: Optional[bool] = None,
                         timeout: Optional[float] = None) -> R.OneRecord:
        """One record by id (PROTOCOL.md 7.7)."""
        return await self.call(ops.get_record(
            subject_token, table, skyflow_id, redaction=redaction, fields=fields,
            tokenization=tokenization, download_url=download_url), timeout)

    async def insert_records(self, subject_token: str, table: str,
                             records: Sequence[Mapping[str, Value]], *,
                             tokenization: Optional[bool] = None, upsert: Optional[str] = None,
                             timeout: Optional[float] = None) -> List[R.Inserted]:
        """Inserts records; never sent twice (PROTOCOL.md 7.8)."""
        return await self.call(ops.insert_records(
            subject_token, table, records, tokenization=tokenization, upsert=upsert), timeout)

    async def update_record(self, subject_token: str, table: str, skyflow_id: str,
                            fields: Mapping[str, Value], *,
                            tokenization: Optional[bool] = None,
                            timeout: Optional[float] = None) -> R.Updated:
        """Sets columns of one record; never sent twice (PROTOCOL.md 7.9)."""
        return await self.call(ops.update_record(subject_token, table, skyflow_id, fields,
                                                 tokenization=tokenization), timeout)

    async def delete_records(self, subject_token: str, table: str, skyflow_ids: Sequence[str],
                             *, timeout: Optional[float] = None) -> List[str]:
        """Deletes records; returns the ids deleted; never sent twice (PROTOCOL.md 7.10)."""
        return await self.call(ops.delete_records(subject_token, table, skyflow_ids), timeout)

    async def detokenize(self, subject_token: str, tokens: Sequence[str], *,
                         redaction: Optional[str] = None,
                         continue_on_error: Optional[bool] = None,
                         timeout: Optional[float] = None) -> R.DetokenizeResult:
        """The values of tokens, in order (PROTOCOL.md 7.11)."""
        return await self.call(ops.detokenize(subject_token, tokens, redaction=redaction,
                                              continue_on_error=continue_on_error), timeout)

    async def tokenize(self, subject_token: str, column_group: str, values: Sequence[str], *,
                       timeout: Optional[float] = None) -> List[str]:
        """One token per value, in order (PROTOCOL.md 7.12)."""
        return await self.call(ops.tokenize(subject_token, column_group, values), timeout)

    async def query(self, subject_token: str, sql: str, *,
                    timeout: Optional[float] = None) -> R.Records:
        """A Skyflow SQL SELECT, at most 25 rows (PROTOCOL.md 7.13)."""
        return await self.call(ops.query(subject_token, sql), timeout)

# SPDX-License-Identifier: MIT
"""AsyncClient against the real skybrokerd and emulator: every operation, 1,000 requests
pipelined on one connection, replies out of order matched by id, per-call timeouts."""

from __future__ import annotations

import asyncio
import time
from typing import Dict

import pytest

from harness import Broker, Emulator
from skybroker import AsyncClient, SkybrokerError

ADA = "bf9a1506-5b6a-4016-ac62-7c534db47460"
IDS = [ADA, "241d581b-957d-4f06-a86e-8e8f102a4a18", "218e5f43-2dd9-4463-a989-5be6e26fd420",
       "3a04bd42-14d6-44b9-af4d-d7fa8b887478"]


def test_every_operation_async(broker: Broker, tokens: Dict[str, str]) -> None:
    async def run() -> None:
        t = tokens["admin"]
        async with AsyncClient(broker.open, timeout=10) as c:
            assert c.hello is not None and c.hello.tenant == "open"
            await c.ping()
            assert (await c.health()).ready
            assert (await c.exchange(t)).token_type == "Bearer"
            ins = await c.insert_records(t, "persons", [{"name": "Async Ann", "state": "NV",
                                                         "ssn": "777-77-7777"}],
                                         tokenization=True)
            sid = ins[0].skyflow_id
            assert ins[0].tokens is not None
            tok = ins[0].tokens["ssn"]
            assert isinstance(tok, str)
            got = await c.get_record(t, "persons", sid, redaction="PLAIN_TEXT")
            assert got.record.fields["ssn"] == "777-77-7777"
            assert (await c.update_record(t, "persons", sid, {"state": "CA"})).skyflow_id == sid
            recs = await c.get_records(t, "persons", skyflow_ids=[sid], redaction="PLAIN_TEXT")
            assert recs.records[0].fields["state"] == "CA"
            det = await c.detokenize(t, [tok], redaction="PLAIN_TEXT")
            assert det.records[0].value == "777-77-7777"
            assert len(await c.tokenize(t, "ssn", ["777-77-7777"])) == 1
            q = await c.query(t, "SELECT state FROM persons WHERE ssn = '777-77-7777'")
            assert [r.fields["state"] for r in q.records] == ["CA"]
            assert await c.delete_records(t, "persons", [sid]) == [sid]
            with pytest.raises(SkybrokerError) as ei:
                await c.get_record(t, "persons", sid)
            assert ei.value.code == "not_found"
        async with AsyncClient(broker.admin, timeout=5) as admin:
            assert (await admin.stats()).uptime_s >= 0
    asyncio.run(run())


def test_1000_pipelined_requests(broker: Broker, tokens: Dict[str, str]) -> None:
    n = 1000

    async def run() -> float:
        t = tokens["viewer"]
        async with AsyncClient(broker.socket, timeout=30) as c:
            assert c.hello is not None
            await c.exchange(t)
            t0 = time.perf_counter()
            results = await asyncio.gather(*(
                c.get_records(t, "persons", skyflow_ids=[IDS[i % 4]]) for i in range(n)))
            elapsed = time.perf_counter() - t0
            # each reply went to its own request
            for i, r in enumerate(results):
                assert r.records[0].skyflow_id == IDS[i % 4]
                assert r.records[0].fields["ssn"] == "*REDACTED*"
            assert c.connected
        return elapsed

    elapsed = asyncio.run(run())
    print(f"\n1000 pipelined get_records on one connection: {elapsed:.2f} s, "
          f"{n / elapsed:.0f} requests/s")


def test_1000_pipelined_pings(broker: Broker) -> None:
    """The client's own cost: requests the broker answers without going upstream."""
    async def run() -> float:
        async with AsyncClient(broker.socket, timeout=30) as c:
            t0 = time.perf_counter()
            await asyncio.gather(*(c.ping() for _ in range(1000)))
            return time.perf_counter() - t0
    elapsed = asyncio.run(run())
    print(f"\n1000 pipelined pings on one connection: {elapsed:.3f} s, "
          f"{1000 / elapsed:.0f} requests/s")


def test_replies_out_of_order(broker: Broker, emulator: Emulator,
                              tokens: Dict[str, str]) -> None:
    async def run() -> None:
        t = tokens["viewer"]
        async with AsyncClient(broker.socket, timeout=10) as c:
            await c.exchange(t)
            emulator.fault(path_prefix=f"/v1/vaults/{emulator.vault_id}", delay_ms=400,
                           count=1)
            done: list[str] = []

            async def get(i: int) -> None:
                r = await c.get_records(t, "persons", skyflow_ids=[IDS[i]])
                assert r.records[0].skyflow_id == IDS[i]
                done.append(IDS[i])

            first = asyncio.ensure_future(get(0))
            await asyncio.sleep(0.1)  # the delayed one is in flight first
            await asyncio.gather(first, *(get(i) for i in range(1, 4)))
            assert done[-1] == IDS[0], "the slow reply came last and still found its request"
    try:
        asyncio.run(run())
    finally:
        emulator.clear_faults()


def test_per_call_timeout_leaves_the_others(broker: Broker, emulator: Emulator,
                                            tokens: Dict[str, str]) -> None:
    async def run() -> None:
        t = tokens["viewer"]
        async with AsyncClient(broker.socket, timeout=10) as c:
            await c.exchange(t)
            emulator.fault(path_prefix=f"/v1/vaults/{emulator.vault_id}", delay_ms=800,
                           count=1)
            slow = asyncio.ensure_future(
                c.get_records(t, "persons", skyflow_ids=[ADA], timeout=0.3))
            await asyncio.sleep(0.05)
            fast = await asyncio.gather(*(c.get_records(t, "persons", skyflow_ids=[IDS[i]])
                                          for i in range(1, 4)))
            assert [r.records[0].skyflow_id for r in fast] == IDS[1:]
            with pytest.raises(SkybrokerError) as ei:
                await slow
            assert ei.value.code == "timeout"
            await asyncio.sleep(0.7)  # the late reply arrives and is dropped
            assert c.connected
            r = await c.get_records(t, "persons", skyflow_ids=[IDS[2]])
            assert r.records[0].skyflow_id == IDS[2]
    try:
        asyncio.run(run())
    finally:
        emulator.clear_faults()


def test_cancelled_call_does_not_break_the_connection(broker: Broker,
                                                      tokens: Dict[str, str]) -> None:
    async def run() -> None:
        t = tokens["viewer"]
        async with AsyncClient(broker.socket, timeout=10) as c:
            task = asyncio.ensure_future(c.get_records(t, "persons", skyflow_ids=[ADA]))
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            for _ in range(3):
                await c.ping()
            assert c.connected
    asyncio.run(run())


def test_reply_over_the_cap_async(broker: Broker, tokens: Dict[str, str]) -> None:
    async def run() -> None:
        async with AsyncClient(broker.socket, timeout=10, max_reply_frame=1024) as c:
            pings = [asyncio.ensure_future(c.ping()) for _ in range(5)]
            with pytest.raises(SkybrokerError) as ei:
                await c.get_records(tokens["admin"], "persons", limit=25)
            assert ei.value.code == "protocol"
            assert not c.connected
            await asyncio.gather(*pings, return_exceptions=True)
            await c.ping()  # a new connection
            assert c.connected
    asyncio.run(run())

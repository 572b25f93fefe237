# SPDX-License-Identifier: MIT
"""A broker restarted under a client: the next call reconnects, whatever the operation; a
read in flight when the broker dies is sent again to its successor, a write is not."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Dict, Iterator

import pytest

from harness import Broker, Emulator, assert_log_clean
from skybroker import AsyncClient, Client, SkybrokerError

ADA = "bf9a1506-5b6a-4016-ac62-7c534db47460"


@pytest.fixture
def own_broker(emulator: Emulator, tmp_path: Path,
               tokens: Dict[str, str]) -> Iterator[Broker]:
    b = Broker(emulator, tmp_path / "broker")
    yield b
    b.stop()
    assert_log_clean(b, list(tokens.values()))


def test_restart_sync(own_broker: Broker, tokens: Dict[str, str]) -> None:
    t = tokens["admin"]
    with Client(own_broker.open, timeout=10) as c:
        assert c.get_records(t, "persons", skyflow_ids=[ADA]).records[0].skyflow_id == ADA
        first = c.hello
        own_broker.restart()
        # found closed before anything is sent: reconnects, for a read and for a write
        assert c.get_records(t, "persons", skyflow_ids=[ADA]).records[0].skyflow_id == ADA
        assert c.hello is not first
        own_broker.restart()
        sid = c.insert_records(t, "persons", [{"name": "After Restart", "state": "NV"}])[0]
        assert c.delete_records(t, "persons", [sid.skyflow_id]) == [sid.skyflow_id]


def test_restart_async(own_broker: Broker, tokens: Dict[str, str]) -> None:
    async def run() -> None:
        t = tokens["admin"]
        async with AsyncClient(own_broker.open, timeout=10) as c:
            await c.ping()
            await asyncio.get_running_loop().run_in_executor(None, own_broker.restart)
            r = await asyncio.gather(*(c.get_records(t, "persons", skyflow_ids=[ADA])
                                       for _ in range(20)))
            assert all(x.records[0].skyflow_id == ADA for x in r)
            await asyncio.get_running_loop().run_in_executor(None, own_broker.restart)
            ins = await c.insert_records(t, "persons", [{"name": "After Restart", "state": "NV"}])
            assert await c.delete_records(t, "persons", [ins[0].skyflow_id]) == \
                [ins[0].skyflow_id]
    asyncio.run(run())


def test_broker_dies_with_requests_in_flight(own_broker: Broker, emulator: Emulator,
                                             tokens: Dict[str, str]) -> None:
    async def run() -> None:
        t = tokens["admin"]
        loop = asyncio.get_running_loop()
        async with AsyncClient(own_broker.open, timeout=15, attempts=10, backoff=0.1) as c:
            await c.exchange(t)
            emulator.fault(path_prefix=f"/v1/vaults/{emulator.vault_id}", delay_ms=1000,
                           count=2)
            read = asyncio.ensure_future(c.get_records(t, "persons", skyflow_ids=[ADA]))
            write = asyncio.ensure_future(
                c.insert_records(t, "persons", [{"name": "Unknown Outcome", "state": "NV"}]))
            await asyncio.sleep(0.3)  # both are parked in the emulator
            assert own_broker.proc is not None
            own_broker.proc.send_signal(signal.SIGKILL)
            own_broker.proc.wait()
            await loop.run_in_executor(None, own_broker.start)
            # the read is sent again to the new broker and answered
            assert (await read).records[0].skyflow_id == ADA
            # the write's outcome is unknown: reported, never sent twice
            with pytest.raises(SkybrokerError) as ei:
                await write
            assert ei.value.code == "disconnected"
            assert "outcome is unknown" in ei.value.message
    try:
        asyncio.run(run())
    finally:
        emulator.clear_faults()

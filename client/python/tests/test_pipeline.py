# SPDX-License-Identifier: MIT
"""Client.pipeline: many requests on the blocking client's connection without waiting for
each reply, against the real broker and the hostile one."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, List

from fakebroker import FakeBroker, reply
from harness import Broker, Emulator
from skybroker import Client, Records, SkybrokerError, ops

ADA = "bf9a1506-5b6a-4016-ac62-7c534db47460"
IDS = [ADA, "241d581b-957d-4f06-a86e-8e8f102a4a18", "218e5f43-2dd9-4463-a989-5be6e26fd420",
       "3a04bd42-14d6-44b9-af4d-d7fa8b887478"]


def test_pipeline_in_order_with_failures_in_place(broker: Broker,
                                                  tokens: Dict[str, str]) -> None:
    t = tokens["viewer"]
    reqs: List[ops.Request[Any]] = [ops.get_records(t, "persons", skyflow_ids=[IDS[i % 4]])
                                    for i in range(200)]
    reqs[50] = ops.get_records(t, "cards")                       # forbidden by the tenant
    reqs[51] = ops.tokenize(t, "ssn", ["v" * 60000, "w" * 10000])  # over the frame cap
    reqs[52] = ops.ping()
    with Client(broker.socket, timeout=20) as c:
        t0 = time.perf_counter()
        out = c.pipeline(reqs)
        elapsed = time.perf_counter() - t0
        for i, r in enumerate(out):
            if i == 50:
                assert isinstance(r, SkybrokerError) and r.code == "forbidden"
            elif i == 51:
                assert isinstance(r, SkybrokerError) and r.code == "too_large"
            elif i == 52:
                assert r is None
            else:
                assert isinstance(r, Records) and r.records[0].skyflow_id == IDS[i % 4]
        assert c.connected
        c.ping()
    print(f"\n200 get_records pipelined by the blocking client: {elapsed:.2f} s")


def test_pipeline_timeout_leaves_the_connection_usable(broker: Broker, emulator: Emulator,
                                                       tokens: Dict[str, str]) -> None:
    t = tokens["viewer"]
    with Client(broker.socket, timeout=10) as c:
        c.exchange(t)
        emulator.fault(path_prefix=f"/v1/vaults/{emulator.vault_id}", delay_ms=800, count=1)
        try:
            out = c.pipeline([ops.get_records(t, "persons", skyflow_ids=[ADA]), ops.ping()],
                             timeout=0.3)
        finally:
            emulator.clear_faults()
        assert isinstance(out[0], SkybrokerError) and out[0].code == "timeout"
        assert out[1] is None  # the ping was answered meanwhile
        time.sleep(0.6)
        r = c.get_records(t, "persons", skyflow_ids=[IDS[3]])
        assert r.records[0].skyflow_id == IDS[3]


def test_pipeline_against_a_hostile_broker(tmp_path: Path) -> None:
    def second_is_bad(conn: Any, rid: int) -> None:
        conn.sendall(reply(rid + 1000 if rid == 3 else rid,
                           {"ready": True, "tenant": "t", "reasons": []}))
    fake = FakeBroker(str(tmp_path / "fake.sock"), second_is_bad)
    try:
        with Client(fake.path, timeout=3) as c:
            out = c.pipeline([ops.health() for _ in range(6)])
            assert out[0].ready
            assert all(isinstance(r, SkybrokerError) and r.code == "protocol"
                       for r in out[1:])
            assert not c.connected
        assert fake.eof.wait(3)
    finally:
        fake.close()

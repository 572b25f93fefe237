# SPDX-License-Identifier: MIT
"""Client against the real skybrokerd and the emulator (demo.json): every operation, what each
role sees, the tenant's policy, errors with their codes, statuses and request ids."""

from __future__ import annotations

import threading
import time
from typing import Dict, Iterator, List

import pytest

from harness import Broker, Emulator
from skybroker import Client, SkybrokerError

ADA = "bf9a1506-5b6a-4016-ac62-7c534db47460"
IDS = [ADA, "241d581b-957d-4f06-a86e-8e8f102a4a18", "218e5f43-2dd9-4463-a989-5be6e26fd420",
       "3a04bd42-14d6-44b9-af4d-d7fa8b887478"]


@pytest.fixture
def client(broker: Broker) -> Iterator[Client]:
    with Client(broker.socket, timeout=10) as c:
        yield c


@pytest.fixture
def open_client(broker: Broker) -> Iterator[Client]:
    with Client(broker.open, timeout=10) as c:
        yield c


def _upstream_calls(emu: Emulator) -> int:
    total: int = emu.post("/emulator/stats", {}, method="GET")["total"]
    return total


def test_hello(client: Client) -> None:
    h = client.hello
    assert h is not None
    assert (h.version, h.tenant) == (1, "acme")
    assert h.server.startswith("skybrokerd/")
    assert h.allows("get_records") and h.allows("hello") and not h.allows("stats")
    assert h.max_request_frame == 65536 and h.max_reply_frame == 4 * 1024 * 1024
    assert 1 <= h.max_inflight <= 1024


def test_ping_and_health(client: Client) -> None:
    client.ping()
    h = client.health()
    assert h.ready and h.tenant == "acme" and h.reasons == ()


def test_stats_on_the_admin_socket_only(broker: Broker, client: Client) -> None:
    with Client(broker.admin, timeout=5) as admin:
        s = admin.stats()
        assert s.uptime_s >= 0 and "accepted" in s.connections
        assert isinstance(s.requests, dict) and isinstance(s.latency_us, dict)
    with pytest.raises(SkybrokerError) as ei:
        client.stats()
    assert ei.value.code == "forbidden" and not ei.value.retryable
    client.ping()  # the connection stays


def test_exchange(client: Client, tokens: Dict[str, str]) -> None:
    x = client.exchange(tokens["viewer"])
    assert x.expires_at > time.time()
    assert x.token_type == "Bearer"
    assert x.issued_token_type == "urn:ietf:params:oauth:token-type:jwt"
    assert x.access_token is None  # the tenant does not expose tokens
    assert x.context.get("roles") == ["Viewer"]


def test_exchange_exposing_the_token(open_client: Client, tokens: Dict[str, str]) -> None:
    x = open_client.exchange(tokens["viewer"])
    assert x.access_token is not None and x.access_token.count(".") == 2
    assert x.access_token not in repr(x) and "access_token" not in repr(x)


def test_threads_share_one_client(client: Client, tokens: Dict[str, str]) -> None:
    t = tokens["viewer"]
    errors: List[BaseException] = []

    def work(k: int) -> None:
        try:
            for i in range(10):
                sid = IDS[(k + i) % 4]
                assert client.get_records(t, "persons", skyflow_ids=[sid]).records[0] \
                    .skyflow_id == sid
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert not errors and client.connected


def test_viewer_against_admin(client: Client, tokens: Dict[str, str]) -> None:
    v = client.get_records(tokens["viewer"], "persons", skyflow_ids=[ADA]).records[0]
    assert v.skyflow_id == ADA
    assert v.fields["ssn"] == "*REDACTED*"
    assert v.fields["date_of_birth"] == "XXXX-01-01"
    assert v.fields["name"] == "*REDACTED*"
    # asking for PLAIN_TEXT, Skyflow gives the Viewer only what the role allows
    v = client.get_records(tokens["viewer"], "persons", skyflow_ids=[ADA],
                           redaction="PLAIN_TEXT").records[0]
    assert v.fields["name"] == "Ada Lovelace" and v.fields["ssn"] == "*REDACTED*"
    a = client.get_records(tokens["admin"], "persons", skyflow_ids=[ADA],
                           redaction="PLAIN_TEXT").records[0]
    assert a.fields["ssn"] == "100-10-1000"
    assert a.fields["date_of_birth"] == "1950-01-01"
    assert a.fields["email_address"] == "ada.lovelace@example.com"
    # a record's repr shows columns, never values
    assert "100-10-1000" not in repr(a) and "ssn" in repr(a)


def test_no_role_is_denied_with_status_and_request_id(client: Client,
                                                     tokens: Dict[str, str]) -> None:
    with pytest.raises(SkybrokerError) as ei:
        client.get_records(tokens["nobody"], "persons", skyflow_ids=[ADA])
    e = ei.value
    assert e.code == "upstream_denied" and not e.retryable
    assert e.upstream_status == 403
    assert e.request_id is not None and len(e.request_id) == 36
    assert "403" in e.message


def test_support_sees_rows_of_ca_only(client: Client, tokens: Dict[str, str]) -> None:
    recs = client.get_records(tokens["support"], "persons", limit=25).records
    assert recs and all(r.fields["state"] == "CA" and "ssn" not in r.fields for r in recs)


def test_get_records_arguments(client: Client, tokens: Dict[str, str]) -> None:
    t = tokens["admin"]
    page = client.get_records(t, "persons", limit=2, offset=1, order_by="ASCENDING",
                              fields=["name", "state"], redaction="PLAIN_TEXT").records
    assert len(page) == 2
    assert all(set(r.fields) <= {"skyflow_id", "name", "state"} for r in page)
    by_ssn = client.get_records(t, "persons", column_name="ssn", column_values=["100-10-1000"],
                                redaction="PLAIN_TEXT").records
    assert [r.skyflow_id for r in by_ssn] == [ADA]
    toks = client.get_records(t, "persons", skyflow_ids=[ADA], tokenization=True).records[0]
    assert toks.tokens is not None or toks.fields["ssn"] != "100-10-1000"


def test_redaction_ceiling(broker: Broker, tokens: Dict[str, str]) -> None:
    with Client(broker.capped, timeout=10) as c:
        r = c.get_records(tokens["admin"], "persons", skyflow_ids=[ADA], redaction="PLAIN_TEXT")
        assert r.redaction_capped == "MASKED"
        assert r.records[0].fields["ssn"] == "XXX-XX-1000"
        r = c.get_records(tokens["admin"], "persons", skyflow_ids=[ADA], redaction="MASKED")
        assert r.redaction_capped is None
        one = c.get_record(tokens["admin"], "persons", ADA, redaction="PLAIN_TEXT")
        assert one.redaction_capped == "MASKED"


def test_every_operation(open_client: Client, tokens: Dict[str, str]) -> None:
    c, t = open_client, tokens["admin"]
    ins = c.insert_records(t, "persons", [{"name": "Zed Zebra", "ssn": "555-55-5555",
                                           "state": "NV"}], tokenization=True)
    assert len(ins) == 1 and ins[0].tokens is not None
    sid, ssn_token = ins[0].skyflow_id, ins[0].tokens["ssn"]
    assert isinstance(ssn_token, str)

    one = c.get_record(t, "persons", sid, redaction="PLAIN_TEXT", fields=["ssn", "name"])
    assert one.record.fields["ssn"] == "555-55-5555"

    up = c.update_record(t, "persons", sid, {"name": "Zed Zulu"})
    assert up.skyflow_id == sid
    assert c.get_record(t, "persons", sid, redaction="PLAIN_TEXT").record.fields["name"] == \
        "Zed Zulu"

    det = c.detokenize(t, [ssn_token, "no-such-token"], redaction="PLAIN_TEXT",
                       continue_on_error=True)
    assert [d.value for d in det.records][:1] == ["555-55-5555"]
    assert det.records[0].value_type == "STRING" and det.records[0].error is None
    assert det.records[1].error is not None
    assert "555-55-5555" not in repr(det)

    toks = c.tokenize(t, "ssn", ["555-55-5555", "100-10-1000", "555-55-5555"])
    assert len(toks) == 3 and toks[0] == toks[2] != toks[1]

    q = c.query(t, "SELECT name, state FROM persons WHERE ssn = '555-55-5555'")
    assert [r.fields["state"] for r in q.records] == ["NV"]
    assert q.records[0].fields["name"] == "*REDACTED*"  # a query reads with DEFAULT

    assert c.delete_records(t, "persons", [sid]) == [sid]
    with pytest.raises(SkybrokerError) as ei:
        c.get_record(t, "persons", sid)
    assert ei.value.code == "not_found" and ei.value.upstream_status == 404


def test_policy_refusals_go_nowhere(client: Client, emulator: Emulator,
                                    tokens: Dict[str, str]) -> None:
    before = _upstream_calls(emulator)
    with pytest.raises(SkybrokerError) as ei:
        client.get_records(tokens["admin"], "cards")
    assert ei.value.code == "forbidden" and "allow_tables" in ei.value.message
    with pytest.raises(SkybrokerError) as ei:
        client.query(tokens["admin"], "SELECT * FROM persons p JOIN cards c ON p.ssn = c.ssn")
    assert ei.value.code == "forbidden"
    # refused here, before sending
    with pytest.raises(SkybrokerError) as ei:
        client.get_records(tokens["admin"], "persons", limit=26)
    assert ei.value.code == "invalid_argument"
    assert _upstream_calls(emulator) == before
    client.ping()


def test_bad_and_expired_tokens(client: Client, emulator: Emulator,
                                tokens: Dict[str, str]) -> None:
    with pytest.raises(SkybrokerError) as ei:
        client.get_records("not-a-jwt", "persons")
    assert ei.value.code == "unauthenticated" and not ei.value.retryable
    expired = emulator.mint("U2pyexpired", ["Admin"], exp_in=-60)
    with pytest.raises(SkybrokerError) as ei:
        client.exchange(expired)
    assert ei.value.code == "token_expired"
    assert "eyJ" not in str(ei.value)


def test_token_over_the_brokers_cap(client: Client, emulator: Emulator) -> None:
    # Within the protocol's 64 KiB, so sent; over the broker's token_max_len (16 KiB).
    long = emulator.mint("U2pylong", ["Admin"]) + "x" * (20 * 1024)
    with pytest.raises(SkybrokerError) as ei:
        client.get_records(long, "persons")
    assert ei.value.code == "too_large" and not ei.value.retryable
    client.ping()


def test_not_found_table(open_client: Client, tokens: Dict[str, str]) -> None:
    with pytest.raises(SkybrokerError) as ei:
        open_client.get_records(tokens["admin"], "no_such_table")
    assert ei.value.code == "not_found" and ei.value.upstream_status == 404


def test_request_over_the_frame_cap_is_not_sent(open_client: Client,
                                                tokens: Dict[str, str]) -> None:
    with pytest.raises(SkybrokerError) as ei:
        open_client.insert_records(tokens["admin"], "persons", [{"name": "x" * 70000}])
    assert ei.value.code == "too_large" and "nothing was sent" in ei.value.message
    open_client.ping()


def test_retryable_upstream_error_is_retried(client: Client, emulator: Emulator,
                                             broker: Broker, tokens: Dict[str, str]) -> None:
    vault = f"/v1/vaults/{emulator.vault_id}"
    t = tokens["viewer"]
    client.exchange(t)  # cached: the faults hit the vault call only
    try:
        # the broker retries a read once: two 503s make upstream_unavailable
        emulator.fault(path_prefix=vault, status=503, count=2)
        with Client(broker.socket, timeout=10, attempts=1) as once:
            with pytest.raises(SkybrokerError) as ei:
                once.get_records(t, "persons", skyflow_ids=[ADA])
        e = ei.value
        assert e.code == "upstream_unavailable" and e.retryable and e.upstream_status == 503
        # with attempts left, the client sends it again and gets the records
        emulator.fault(path_prefix=vault, status=503, count=2)
        assert client.get_records(t, "persons", skyflow_ids=[ADA]).records[0].skyflow_id == ADA
    finally:
        emulator.clear_faults()


def test_write_is_never_sent_twice(open_client: Client, emulator: Emulator,
                                   tokens: Dict[str, str]) -> None:
    t = tokens["admin"]
    open_client.exchange(t)
    try:
        emulator.fault(path_prefix=f"/v1/vaults/{emulator.vault_id}/persons", status=503,
                       count=5)
        before = _upstream_calls(emulator)
        with pytest.raises(SkybrokerError) as ei:
            open_client.insert_records(t, "persons", [{"name": "Never Twice", "state": "NV"}])
        assert ei.value.code == "upstream_unavailable"
        assert _upstream_calls(emulator) == before + 1
    finally:
        emulator.clear_faults()


def test_timeout_then_the_connection_still_serves(client: Client, emulator: Emulator,
                                                  tokens: Dict[str, str]) -> None:
    t = tokens["viewer"]
    client.exchange(t)
    try:
        emulator.fault(path_prefix=f"/v1/vaults/{emulator.vault_id}", delay_ms=800, count=1)
        t0 = time.monotonic()
        with pytest.raises(SkybrokerError) as ei:
            client.get_records(t, "persons", skyflow_ids=[ADA], timeout=0.3)
        assert ei.value.code == "timeout"
        assert time.monotonic() - t0 < 0.8
    finally:
        emulator.clear_faults()
    # the late reply is dropped when it comes; the next call gets its own
    r = client.get_records(t, "persons", skyflow_ids=[IDS[1]])
    assert r.records[0].skyflow_id == IDS[1]
    assert client.connected


def test_reply_over_the_clients_cap_is_refused(broker: Broker, tokens: Dict[str, str]) -> None:
    with Client(broker.socket, timeout=10, max_reply_frame=1024) as c:
        c.ping()
        with pytest.raises(SkybrokerError) as ei:
            c.get_records(tokens["admin"], "persons", limit=25, redaction="PLAIN_TEXT")
        assert ei.value.code == "protocol" and "over the reply cap of 1024" in ei.value.message
        assert not c.connected
        c.ping()  # a new connection
        assert c.connected

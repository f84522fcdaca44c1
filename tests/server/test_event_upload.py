"""Uploading a workstation's chain: only in order, only if it continues, idempotent, all or none."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from app.models import AuditEventType
from app.models.audit_chain import chain_hash, parse_time
from server.models import ReceivedAuditEvent, TokenRole
from tests.server.conftest import GENESIS, Server, Workstation


def stored_count(server: Server, workstation_id: str = "ws-1") -> int:
    with server.sessions() as session:
        count = session.scalar(
            select(func.count())
            .select_from(ReceivedAuditEvent)
            .where(ReceivedAuditEvent.workstation_id == workstation_id)
        )
    return count or 0


def position(acknowledgement: dict[str, Any]) -> dict[str, Any]:
    """An acknowledgement without its checkpoint and proofs (test_checkpoints.py has those)."""
    fields = ("workstation_id", "seq", "hash", "stored", "already_stored")
    return {key: acknowledgement[key] for key in fields}


def head(server: Server, token: str, workstation_id: str = "ws-1") -> dict[str, Any]:
    response = server.get(f"/v1/workstations/{workstation_id}/head", token)
    assert response.status_code == 200, response.text
    position: dict[str, Any] = response.json()
    return position


def test_events_are_accepted_in_order_and_the_head_moves(server: Server, workstation: Workstation):
    token = server.register("ws-1")
    assert head(server, token) == {"workstation_id": "ws-1", "seq": 0, "hash": GENESIS}
    workstation.record_login()
    workstation.record_feeds(9)
    events = workstation.events()

    first = server.upload("ws-1", token, events[:4])
    assert first.status_code == 200, first.text
    assert position(first.json()) == {
        "workstation_id": "ws-1",
        "seq": 4,
        "hash": events[3]["hash"],
        "stored": 4,
        "already_stored": 0,
    }
    second = server.upload("ws-1", token, events[4:])
    assert second.json()["seq"] == 10 and second.json()["stored"] == 6
    assert head(server, token) == {"workstation_id": "ws-1", "seq": 10, "hash": events[-1]["hash"]}
    assert stored_count(server) == 10
    # What is stored re-verifies as the workstation's own chain.
    with server.sessions() as session:
        rows = session.scalars(select(ReceivedAuditEvent).order_by(ReceivedAuditEvent.seq))
        previous = bytes(32)
        for row, event in zip(rows, events, strict=True):
            assert chain_hash(previous, row.seq, bytes(row.record)) == bytes(row.hash)
            assert bytes(row.hash).hex() == event["hash"]
            previous = bytes(row.hash)


def test_a_forged_event_is_rejected_naming_its_seq_and_nothing_is_stored(
    server: Server, workstation: Workstation
):
    token = server.register("ws-1")
    workstation.record_feeds(6)
    events = workstation.events()
    server.upload("ws-1", token, events[:2])
    forged = copy.deepcopy(events[2:])
    forged[2]["actor"] = "someone-else"  # event 5: valid JSON, hash no longer matches

    response = server.upload("ws-1", token, forged)

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "broken_chain"
    assert body["first_bad_seq"] == 5
    assert "event 5 does not match its hash" in body["detail"]
    assert body["head"] == {"workstation_id": "ws-1", "seq": 2, "hash": events[1]["hash"]}
    assert stored_count(server) == 2  # not even events 3 and 4, which were good


def test_a_batch_rejected_deep_inside_leaves_nothing_and_the_next_batch_is_stored(
    server: Server, workstation: Workstation
):
    # Events are checked while they stream into the database: a forged event after hundreds
    # of good ones (more than PostgreSQL's COPY has already been sent) must still leave nothing.
    token = server.register("ws-1")
    workstation.record_feeds(600)
    events = workstation.events()
    forged = copy.deepcopy(events)
    forged[550]["subject"] = "somewhere else"

    rejected = server.upload("ws-1", token, forged)

    assert rejected.status_code == 409
    assert (rejected.json()["code"], rejected.json()["first_bad_seq"]) == ("broken_chain", 551)
    assert stored_count(server) == 0
    assert head(server, token)["seq"] == 0
    accepted = server.upload("ws-1", token, events)
    assert accepted.status_code == 200, accepted.text
    assert (accepted.json()["stored"], stored_count(server)) == (600, 600)
    with server.sessions() as session:
        stored = session.execute(
            select(ReceivedAuditEvent.seq, ReceivedAuditEvent.hash, ReceivedAuditEvent.time)
            .where(ReceivedAuditEvent.workstation_id == "ws-1")
            .order_by(ReceivedAuditEvent.seq)
        ).all()
    assert [(seq, bytes(digest).hex()) for seq, digest, _ in stored] == [
        (event["seq"], event["hash"]) for event in events
    ]
    assert [moment for _, _, moment in stored] == [parse_time(event["time"]) for event in events]


def test_a_forged_hash_is_rejected_too(server: Server, workstation: Workstation):
    token = server.register("ws-1")
    workstation.record_feeds(3)
    events = workstation.events()
    events[0]["hash"] = "ab" * 32
    events[1]["prev_hash"] = "ab" * 32  # a consistent-looking but wrong chain

    response = server.upload("ws-1", token, events)

    assert response.status_code == 409
    assert response.json()["first_bad_seq"] == 1
    assert stored_count(server) == 0


def test_a_wrong_prev_hash_inside_the_batch_names_the_event(
    server: Server, workstation: Workstation
):
    token = server.register("ws-1")
    workstation.record_feeds(4)
    events = workstation.events()
    events[2]["prev_hash"] = events[0]["hash"]

    response = server.upload("ws-1", token, events)

    assert response.status_code == 409
    assert response.json()["code"] == "broken_chain"
    assert response.json()["first_bad_seq"] == 3
    assert "prev_hash" in response.json()["detail"]


def test_missing_or_reordered_events_are_rejected(server: Server, workstation: Workstation):
    token = server.register("ws-1")
    workstation.record_feeds(5)
    events = workstation.events()

    skipped = server.upload("ws-1", token, [events[0], events[1], events[3]])
    assert skipped.status_code == 409
    assert skipped.json()["first_bad_seq"] == 3
    assert "event 3 is missing" in skipped.json()["detail"]

    swapped = server.upload("ws-1", token, [events[0], events[2], events[1]])
    assert swapped.json()["first_bad_seq"] == 2

    gap = server.upload("ws-1", token, events[2:])
    assert gap.status_code == 409
    assert gap.json()["code"] == "gap"
    assert gap.json()["first_bad_seq"] == 1
    assert "send from event 1" in gap.json()["detail"]
    assert stored_count(server) == 0


def test_a_replayed_batch_is_a_no_op_with_the_same_acknowledgement(
    server: Server, workstation: Workstation
):
    token = server.register("ws-1")
    workstation.record_feeds(8)
    events = workstation.events()
    first = position(server.upload("ws-1", token, events[:5]).json())
    server.upload("ws-1", token, events[5:])

    replay = server.upload("ws-1", token, events[:5])

    assert replay.status_code == 200
    assert position(replay.json()) == {**first, "stored": 0, "already_stored": 5}
    assert stored_count(server) == 8
    assert head(server, token)["seq"] == 8


def test_an_overlapping_batch_stores_only_what_is_new(server: Server, workstation: Workstation):
    token = server.register("ws-1")
    workstation.record_feeds(8)
    events = workstation.events()
    server.upload("ws-1", token, events[:5])

    overlapping = server.upload("ws-1", token, events[3:])

    assert overlapping.status_code == 200
    assert overlapping.json()["stored"] == 3
    assert overlapping.json()["already_stored"] == 2
    assert overlapping.json()["seq"] == 8
    assert stored_count(server) == 8


def test_a_batch_that_differs_from_acknowledged_events_is_a_fork(server: Server, make_workstation):
    token = server.register("ws-1")
    original: Workstation = make_workstation("ws-1")
    original.record_feeds(5)
    server.upload("ws-1", token, original.events())
    # The same workstation's log rewritten from event 3 on (e.g. restored from an old backup
    # and written again): a valid chain of its own, but not the one the server acknowledged.
    rewritten: Workstation = make_workstation("ws-1", directory="rewritten")
    rewritten.record_feeds(2)
    rewritten.record_login("intruder")
    rewritten.record_feeds(4)
    forked = rewritten.events()

    overlapping = server.upload("ws-1", token, forked[1:])
    assert overlapping.status_code == 409
    assert overlapping.json()["code"] == "fork"
    assert overlapping.json()["first_bad_seq"] == 3

    continuing = server.upload("ws-1", token, forked[5:])  # starts right after the head
    assert continuing.status_code == 409
    assert continuing.json()["code"] == "fork"
    assert continuing.json()["first_bad_seq"] == 6
    assert stored_count(server) == 5
    assert head(server, token)["hash"] == original.events()[-1]["hash"]


def test_clock_skew_keeps_the_workstation_time_and_adds_the_server_time(
    server: Server, workstation: Workstation
):
    token = server.register("ws-1")
    workstation.clock.advance(hours=-7, minutes=-13)  # the workstation's clock runs far behind
    workstation.record_feeds(2)
    events = workstation.events()
    server.clock.advance(seconds=42)

    server.upload("ws-1", token, events)

    supervisor = server.token(TokenRole.SUPERVISOR)
    page = server.get("/v1/events", supervisor, workstation="ws-1").json()
    for sent, stored in zip(events, page["events"], strict=True):
        assert datetime.fromisoformat(stored["time"]) == parse_time(sent["time"])
        assert datetime.fromisoformat(stored["received_at"]) == server.clock()
        assert stored["hash"] == sent["hash"]
    assert parse_time(events[0]["time"]) < server.clock() - timedelta(hours=7)


def test_too_many_events_in_a_batch_is_413(make_server, workstation: Workstation):
    server: Server = make_server(max_batch_events=5)
    token = server.register("ws-1")
    workstation.record_feeds(6)

    response = server.upload("ws-1", token, workstation.events())

    assert response.status_code == 413
    assert "at most 5 per batch" in response.json()["detail"]
    assert stored_count(server) == 0
    assert server.upload("ws-1", token, workstation.events(last=5)).status_code == 200


def test_too_many_bytes_in_a_batch_is_413(make_server, workstation: Workstation):
    server: Server = make_server(max_batch_bytes=4096)
    token = server.register("ws-1")
    workstation.record_feeds(20)
    body = json.dumps({"events": workstation.events()}).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    declared = server.client.post("/v1/workstations/ws-1/events", content=body, headers=headers)
    assert declared.status_code == 413
    assert "limit of 4096 bytes" in declared.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server counts as the body arrives
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    streamed = server.client.post("/v1/workstations/ws-1/events", content=chunks(), headers=headers)
    assert streamed.status_code == 413
    assert stored_count(server) == 0


def test_an_event_that_cannot_be_encoded_is_422(server: Server, workstation: Workstation):
    token = server.register("ws-1")
    workstation.record_feeds(1)
    body = json.dumps({"events": workstation.events()}).replace('"ops1"', '"\\ud800"')

    response = server.client.post(
        "/v1/workstations/ws-1/events",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )

    assert response.status_code == 422
    assert "event 1" in response.json()["detail"]


def test_coerced_or_extra_fields_are_refused(server: Server, workstation: Workstation):
    token = server.register("ws-1")
    workstation.record_feeds(1)
    [event] = workstation.events()
    for change in ({"policy_version": "2"}, {"extra": 1}, {"time": "2026-11-18 15:30:03"}):
        response = server.upload("ws-1", token, [{**event, **change}])
        assert response.status_code == 422, change
    assert stored_count(server) == 0


def test_workstations_chains_are_kept_apart(server: Server, make_workstation):
    tokens = {name: server.register(name) for name in ("ws-1", "ws-2")}
    for name in ("ws-1", "ws-2"):
        workstation: Workstation = make_workstation(name)
        workstation.record_feeds(3)
        assert server.upload(name, tokens[name], workstation.events()).status_code == 200
    assert stored_count(server, "ws-1") == stored_count(server, "ws-2") == 3


def test_the_same_batch_sent_at_once_on_several_connections_is_stored_once(
    server: Server, workstation: Workstation
):
    token = server.register("ws-1")
    workstation.record_feeds(200)
    events = workstation.events()
    barrier = threading.Barrier(4)

    def send() -> dict[str, Any]:
        barrier.wait()
        response = server.upload("ws-1", token, events)
        assert response.status_code == 200, response.text
        acknowledgement: dict[str, Any] = response.json()
        return acknowledgement

    with ThreadPoolExecutor(4) as pool:
        acknowledgements = list(pool.map(lambda _: send(), range(4)))

    assert {(ack["seq"], ack["hash"]) for ack in acknowledgements} == {(200, events[-1]["hash"])}
    assert sorted(ack["stored"] for ack in acknowledgements) == [0, 0, 0, 200]
    assert stored_count(server) == 200


def test_text_postgresql_cannot_index_is_still_accepted_and_kept_exactly(
    server: Server, workstation: Workstation
):
    token = server.register("ws-1")
    workstation.log.record(
        AuditEventType.FEED_DENIED, actor="ops\x00tab", subject="ünïcode 🚓", camera_id="c\x00"
    )
    [event] = workstation.events()

    assert server.upload("ws-1", token, [event]).status_code == 200

    supervisor = server.token(TokenRole.SUPERVISOR)
    [stored] = server.get("/v1/events", supervisor).json()["events"]
    assert (stored["actor"], stored["subject"], stored["camera_id"]) == (
        "ops\x00tab",
        "ünïcode 🚓",
        "c\x00",
    )

"""Signed checkpoints of each workstation's Merkle tree, and the proofs that come with them.

Every check here is the client's: the served public key, ``app.models.checkpoint`` and the RFC
9162 verifiers of ``app.models.merkle``. The roots are compared with a tree built in the test
from the workstation's own export, so the server's cached tree is checked against the events
themselves, not against itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import delete, update

from app.models.audit_chain import GENESIS_HASH, format_time
from app.models.checkpoint import (
    Checkpoint,
    CheckpointError,
    SignedCheckpoint,
    event_leaf_hash,
    verify_event_inclusion,
    verify_extension,
)
from app.models.merkle import EMPTY_ROOT, MerkleProofError, MerkleTree, verify_inclusion
from server.models import ReceivedAuditEvent, TokenRole
from server.models import Workstation as WorkstationRow
from tests.server.conftest import GENESIS, Server, Workstation


def served_key(server: Server) -> bytes:
    response = server.client.get("/v1/checkpoint-key")  # no token: the key is public
    assert response.status_code == 200, response.text
    return bytes.fromhex(response.json()["public_key"])


def verified(server: Server, wire: dict[str, Any]) -> Checkpoint:
    """The checkpoint, after the client's checks: its form and the served key's signature."""
    signed = SignedCheckpoint.from_wire(wire)
    signed.verify(served_key(server))
    return signed.checkpoint


def expected_root(events: list[dict[str, Any]], size: int | None = None) -> bytes:
    """The RFC 9162 root of the first ``size`` events, from the workstation's own hashes."""
    tree = MerkleTree(event_leaf_hash(bytes.fromhex(event["hash"])) for event in events)
    return tree.root(tree.size if size is None else size)


def latest(server: Server, token: str, workstation_id: str = "ws-1") -> Checkpoint:
    response = server.get(f"/v1/workstations/{workstation_id}/checkpoint", token)
    assert response.status_code == 200, response.text
    return verified(server, response.json())


def proof(body: dict[str, Any]) -> list[bytes]:
    return [bytes.fromhex(node) for node in body["proof"]]


def test_the_acknowledgement_carries_a_checkpoint_signed_with_the_served_key(
    server: Server, workstation: Workstation
):
    token = server.register("ws-1")
    key = server.client.get("/v1/checkpoint-key").json()
    assert key["algorithm"] == "Ed25519"
    assert key["checkpoint_format"] == "beacon-audit-checkpoint/v1"
    assert key["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
    workstation.record_feeds(7)
    events = workstation.events()

    ack = server.upload("ws-1", token, events).json()

    checkpoint = verified(server, ack["checkpoint"])
    assert checkpoint.key_id == key["key_id"]
    assert checkpoint.workstation_id == "ws-1"
    assert checkpoint.size == 7
    assert checkpoint.root == expected_root(events)
    assert checkpoint.head_hash.hex() == events[-1]["hash"]
    assert checkpoint.time_text == format_time(server.clock())


@pytest.mark.parametrize(
    "change",
    [
        {"workstation_id": "ws-2"},
        {"size": 6},
        {"root": "00" * 32},
        {"head_hash": "ab" * 32},
        {"time": "2031-01-01T00:00:00.000000Z"},
        {"signature": "00" * 64},
    ],
    ids=lambda change: next(iter(change)),
)
def test_a_checkpoint_with_any_field_altered_fails(
    server: Server, workstation: Workstation, change: dict[str, Any]
):
    token = server.register("ws-1")
    workstation.record_feeds(7)
    wire = server.upload("ws-1", token, workstation.events()).json()["checkpoint"]
    verified(server, wire)

    with pytest.raises(CheckpointError, match="does not verify"):
        verified(server, {**wire, **change})


def test_inclusion_proofs_in_the_acknowledgement_verify_against_its_checkpoint(
    server: Server, workstation: Workstation
):
    token = server.register("ws-1")
    workstation.record_feeds(13)
    events = workstation.events()

    last = server.upload("ws-1", token, events[:6]).json()
    [only] = last["inclusion"]  # by default: the batch's last event
    assert (only["seq"], only["leaf_index"], only["tree_size"]) == (6, 5, 6)
    assert only["hash"] == events[5]["hash"]
    verify_event_inclusion(
        verified(server, last["checkpoint"]), 6, bytes.fromhex(only["hash"]), proof(only)
    )

    every = server.upload("ws-1", token, events[6:], proofs="all").json()
    checkpoint = verified(server, every["checkpoint"])
    assert [item["seq"] for item in every["inclusion"]] == list(range(7, 14))
    for item, event in zip(every["inclusion"], events[6:], strict=True):
        assert item["hash"] == event["hash"] and item["tree_size"] == 13
        verify_event_inclusion(checkpoint, item["seq"], bytes.fromhex(event["hash"]), proof(item))
    # A proof moved to another event, or checked against the older checkpoint, fails.
    moved = every["inclusion"][2]
    with pytest.raises(MerkleProofError):
        verify_event_inclusion(checkpoint, 8, bytes.fromhex(events[7]["hash"]), proof(moved))
    with pytest.raises(MerkleProofError):
        verify_event_inclusion(
            verified(server, last["checkpoint"]), 9, bytes.fromhex(moved["hash"]), proof(moved)
        )


def test_a_replayed_batch_is_proved_against_the_current_checkpoint(
    server: Server, workstation: Workstation
):
    token = server.register("ws-1")
    workstation.record_feeds(9)
    events = workstation.events()
    server.upload("ws-1", token, events[:4])
    server.upload("ws-1", token, events[4:])

    replay = server.upload("ws-1", token, events[:4], proofs="all").json()

    assert replay["stored"] == 0 and replay["seq"] == 4
    checkpoint = verified(server, replay["checkpoint"])
    assert checkpoint.size == 9 and checkpoint.root == expected_root(events)
    for item, event in zip(replay["inclusion"], events[:4], strict=True):
        verify_event_inclusion(checkpoint, item["seq"], bytes.fromhex(event["hash"]), proof(item))


def test_a_consistency_proof_from_the_last_checkpoint_comes_with_the_acknowledgement(
    server: Server, workstation: Workstation
):
    token = server.register("ws-1")
    workstation.record_feeds(21)
    events = workstation.events()
    first = verified(server, server.upload("ws-1", token, events[:5]).json()["checkpoint"])
    assert first.root == expected_root(events, 5)

    second = server.upload("ws-1", token, events[5:11], since_size=first.size).json()
    new = verified(server, second["checkpoint"])
    assert second["consistency"]["first"] == 5 and second["consistency"]["second"] == 11
    verify_extension(first, new, proof(second["consistency"]))

    # From a checkpoint two syncs back, and from the empty tree.
    third = server.upload("ws-1", token, events[11:], since_size=5).json()
    newest = verified(server, third["checkpoint"])
    verify_extension(first, newest, proof(third["consistency"]))
    verify_extension(
        new,
        newest,
        proof(server.get("/v1/workstations/ws-1/consistency", token, first=11, second=21).json()),
    )
    replay = server.upload("ws-1", token, events[-1:], since_size=0).json()
    assert replay["consistency"] == {
        "workstation_id": "ws-1",
        "first": 0,
        "second": 21,
        "proof": [],
    }
    # Without since_size there is none; beyond the server's size, none either: the client's
    # own check then says the server rolled back.
    assert server.upload("ws-1", token, events[-1:]).json()["consistency"] is None
    ahead = server.upload("ws-1", token, events[-1:], since_size=30).json()
    assert ahead["consistency"] is None
    future = Checkpoint("ws-1", 30, bytes(32), bytes(32), server.clock(), newest.key_id)
    with pytest.raises(MerkleProofError, match="rolled back"):
        verify_extension(future, verified(server, ahead["checkpoint"]), [])


def test_a_rejected_batch_does_not_change_the_checkpoint(server: Server, workstation: Workstation):
    token = server.register("ws-1")
    workstation.record_feeds(10)
    events = workstation.events()
    before = verified(server, server.upload("ws-1", token, events[:5]).json()["checkpoint"])
    forged = [dict(event) for event in events[5:]]
    forged[3]["actor"] = "someone-else"  # event 9: the batch is refused whole

    assert server.upload("ws-1", token, forged, since_size=5).status_code == 409
    assert server.upload("ws-1", token, events[7:]).status_code == 409  # a gap

    after = latest(server, token)
    assert (after.size, after.root, after.head_hash) == (before.size, before.root, before.head_hash)
    good = server.upload("ws-1", token, events[5:], since_size=5).json()
    checkpoint = verified(server, good["checkpoint"])
    assert checkpoint.root == expected_root(events)
    verify_extension(before, checkpoint, proof(good["consistency"]))


def test_a_restarted_server_rebuilds_the_same_roots_and_keeps_its_key(
    make_server: Callable[..., Server], make_workstation: Callable[..., Workstation]
):
    first = make_server()
    tokens = {name: first.register(name) for name in ("ws-1", "ws-2")}
    logs = {name: make_workstation(name) for name in tokens}
    logs["ws-1"].record_feeds(37)
    logs["ws-2"].record_feeds(4)
    checkpoints = {}
    for name, log in logs.items():
        ack = first.upload(name, tokens[name], log.events()).json()
        checkpoints[name] = verified(first, ack["checkpoint"])
    key = served_key(first)

    restarted = make_server()  # a new app on the same database: its trees start empty

    assert served_key(restarted) == key
    for name, log in logs.items():
        again = latest(restarted, tokens[name], name)
        assert (again.size, again.root, again.head_hash) == (
            checkpoints[name].size,
            checkpoints[name].root,
            checkpoints[name].head_hash,
        )
        assert again.root == expected_root(log.events())
    logs["ws-1"].record_feeds(5)
    ack = restarted.upload("ws-1", tokens["ws-1"], logs["ws-1"].events(38), since_size=37).json()
    newer = verified(restarted, ack["checkpoint"])
    verify_extension(checkpoints["ws-1"], newer, proof(ack["consistency"]))
    assert newer.root == expected_root(logs["ws-1"].events())


def test_two_servers_on_one_database_keep_their_trees_in_step(
    make_server: Callable[..., Server], workstation: Workstation
):
    """As two server processes would: each one's cached tree catches up with the other's writes."""
    one, two = make_server(), make_server()
    token = one.register("ws-1")
    workstation.record_feeds(30)
    events = workstation.events()
    previous = None
    for number, (start, end) in enumerate(((0, 3), (3, 11), (11, 12), (12, 30))):
        server = (one, two)[number % 2]
        ack = server.upload("ws-1", token, events[start:end], since_size=start).json()
        checkpoint = verified(server, ack["checkpoint"])
        assert checkpoint.root == expected_root(events, end)
        if previous is not None:
            verify_extension(previous, checkpoint, proof(ack["consistency"]))
        previous = checkpoint
    for server in (one, two):
        assert latest(server, token).root == expected_root(events)


def test_a_database_restored_under_a_running_server_is_followed(
    server: Server, make_workstation: Callable[..., Workstation]
):
    """The cached tree never outranks the database: restored to an older state, it is rebuilt."""
    token = server.register("ws-1")
    original: Workstation = make_workstation("ws-1")
    original.record_feeds(8)
    server.upload("ws-1", token, original.events())
    assert latest(server, token).root == expected_root(original.events())
    # The database goes back to event 3 (a restore from an older backup).
    kept = original.events()[2]
    with server.sessions.begin() as session:
        session.execute(delete(ReceivedAuditEvent).where(ReceivedAuditEvent.seq > 3))
        session.execute(
            update(WorkstationRow).values(head_seq=3, head_hash=bytes.fromhex(kept["hash"]))
        )

    restored = latest(server, token)
    assert restored.size == 3 and restored.root == expected_root(original.events(), 3)

    # The workstation's log rewritten after event 3 (same size as before, other events).
    rewritten: Workstation = make_workstation("ws-1", directory="rewritten")
    rewritten.record_feeds(3)
    rewritten.record_login("ops9")
    rewritten.record_feeds(4)
    assert rewritten.events()[2]["hash"] == kept["hash"]
    ack = server.upload("ws-1", token, rewritten.events(4), since_size=3).json()
    checkpoint = verified(server, ack["checkpoint"])
    assert checkpoint.size == 8 and checkpoint.root == expected_root(rewritten.events())
    verify_extension(restored, checkpoint, proof(ack["consistency"]))


def test_concurrent_uploads_and_readers_see_one_growing_tree(
    server: Server, workstation: Workstation
):
    token = server.register("ws-1")
    supervisor = server.token(TokenRole.SUPERVISOR)
    workstation.record_feeds(120)
    events = workstation.events()
    batches = [events[start : start + 10] for start in range(0, 120, 10)]
    barrier = threading.Barrier(4)
    seen: list[Checkpoint] = []

    def upload(worker: int) -> None:
        barrier.wait()
        for batch in batches[worker::3] if worker < 3 else []:
            # Out of order across workers: a gap is refused and sent again later.
            while server.upload("ws-1", token, batch).status_code == 409:
                pass

    def read() -> None:
        barrier.wait()
        while len(seen) < 40:
            seen.append(latest(server, supervisor))

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(upload, worker) for worker in range(3)] + [pool.submit(read)]
        for future in futures:
            future.result(timeout=120)

    final = latest(server, supervisor)
    assert final.size == 120 and final.root == expected_root(events)
    for checkpoint in seen:
        assert checkpoint.root == expected_root(events, checkpoint.size)
        consistency = server.get(
            "/v1/workstations/ws-1/consistency", supervisor, first=checkpoint.size, second=120
        ).json()
        verify_extension(checkpoint, final, proof(consistency))


def test_proofs_on_request(server: Server, workstation: Workstation):
    token = server.register("ws-1")
    workstation.record_feeds(19)
    events = workstation.events()
    server.upload("ws-1", token, events)
    checkpoint = latest(server, token)

    for seq in (1, 10, 19):
        body = server.get("/v1/workstations/ws-1/inclusion", token, seq=seq).json()
        assert body["tree_size"] == 19 and body["hash"] == events[seq - 1]["hash"]
        verify_event_inclusion(checkpoint, seq, bytes.fromhex(body["hash"]), proof(body))
    body = server.get("/v1/workstations/ws-1/inclusion", token, seq=3, size=7).json()
    verify_inclusion(
        event_leaf_hash(bytes.fromhex(events[2]["hash"])),
        2,
        7,
        proof(body),
        expected_root(events, 7),
    )
    body = server.get("/v1/workstations/ws-1/consistency", token, first=7, second=19).json()
    assert (body["first"], body["second"]) == (7, 19)
    older = Checkpoint(
        "ws-1",
        7,
        expected_root(events, 7),
        bytes.fromhex(events[6]["hash"]),
        checkpoint.time,
        checkpoint.key_id,
    )
    verify_extension(older, checkpoint, proof(body))
    for first, second in ((0, 19), (19, 19), (0, 0)):
        body = server.get("/v1/workstations/ws-1/consistency", token, first=first, second=second)
        assert body.status_code == 200 and body.json()["proof"] == []


def test_a_workstation_without_events_has_the_empty_checkpoint(server: Server):
    token = server.register("ws-1")
    checkpoint = latest(server, token)
    assert (checkpoint.size, checkpoint.root, checkpoint.head_hash) == (0, EMPTY_ROOT, GENESIS_HASH)
    assert checkpoint.head_hash.hex() == GENESIS


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("consistency", {"first": 9, "second": 4}, 422, "first (9) is larger than second (4)"),
        ("consistency", {"first": 2, "second": 12}, 404, "no tree of size 12: the server has 8"),
        ("consistency", {"first": -1, "second": 4}, 422, "greater than or equal to 0"),
        ("consistency", {"second": 4}, 422, "Field required"),
        ("inclusion", {"seq": 6, "size": 5}, 422, "event 6 is not in a tree of size 5"),
        ("inclusion", {"seq": 2, "size": 9}, 404, "no tree of size 9: the server has 8 events"),
        ("inclusion", {"seq": 9}, 404, "event 9 has not been received"),
        ("inclusion", {"seq": 0}, 422, "greater than or equal to 1"),
        ("inclusion", {"seq": 1, "size": 0}, 422, "greater than or equal to 1"),
        ("inclusion", {"seq": 2**63}, 422, "less than or equal to"),
    ],
)
def test_bad_proof_requests_say_what_is_wrong(
    server: Server,
    workstation: Workstation,
    path: str,
    params: dict[str, int],
    status: int,
    message: str,
):
    token = server.register("ws-1")
    workstation.record_feeds(8)
    server.upload("ws-1", token, workstation.events())

    response = server.get(f"/v1/workstations/ws-1/{path}", token, **params)

    assert response.status_code == status
    assert message in str(response.json()["detail"])


def test_proofs_and_checkpoints_of_other_or_unknown_workstations(server: Server):
    token = server.register("ws-1")
    server.register("ws-2")
    supervisor = server.token(TokenRole.SUPERVISOR)
    for path, params in (
        ("checkpoint", {}),
        ("consistency", {"first": 0, "second": 0}),
        ("inclusion", {"seq": 1}),
    ):
        other = server.get(f"/v1/workstations/ws-2/{path}", token, **params)
        assert other.status_code == 403 and "belongs to workstation ws-1" in other.json()["detail"]
        unknown = server.get(f"/v1/workstations/ws-9/{path}", supervisor, **params)
        assert unknown.status_code == 404
        assert unknown.json()["detail"] == "no workstation ws-9 is registered"
        assert server.get(f"/v1/workstations/ws-2/{path}", "bst_nope", **params).status_code == 401
    assert server.get("/v1/workstations/ws-2/checkpoint", supervisor).status_code == 200


def test_the_openapi_schema_documents_checkpoints_and_proofs(server: Server):
    schema = server.client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/v1/checkpoint-key",
        "/v1/workstations/{workstation_id}/checkpoint",
        "/v1/workstations/{workstation_id}/consistency",
        "/v1/workstations/{workstation_id}/inclusion",
    ):
        assert "get" in paths[path], path
    upload = paths["/v1/workstations/{workstation_id}/events"]["post"]
    assert {"since_size", "proofs"} <= {parameter["name"] for parameter in upload["parameters"]}
    components = schema["components"]["schemas"]
    assert {"checkpoint", "inclusion", "consistency"} <= set(
        components["BatchAcknowledgement"]["properties"]
    )
    assert "beacon-audit-checkpoint/v1" in components["SignedCheckpoint"]["description"]
    consistency = paths["/v1/workstations/{workstation_id}/consistency"]["get"]["responses"]
    assert {"404", "422"} <= set(consistency)

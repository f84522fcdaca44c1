"""The audit sync client against the real sync server (uvicorn on loopback, SQLite or PostgreSQL):
nothing lost, nothing doubled, whatever happens to the server, the network or the workstation."""

from __future__ import annotations

import json
import logging
import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from app.models.audit_chain import AuditEventType
from app.models.checkpoint import SignedCheckpoint, event_leaf_hash, key_id_for
from app.models.merkle import MerkleTree
from app.services.audit_log import EXPORT_FIELDS, AuditLog, read_events
from app.services.audit_sync import (
    STATE_FILE,
    STATE_FORMAT,
    AuditSync,
    SyncPhase,
    SyncState,
)
from app.services.credentials import CredentialStore
from app.services.sync_link import sync_token_name
from app.services.sync_worker import backoff_delay
from app.settings import Settings, SettingsError, load_settings
from server.checkpoint_key import CheckpointSigner
from tests.conftest import ManualClock
from tests.sync_server import ProcessServer, ServerDatabase, ThreadServer, free_port, wait_for

WORKSTATION = "test-ws"  # the settings fixture's workstation


def record(audit_log: AuditLog, count: int, clock: ManualClock | None = None) -> None:
    for number in range(count):
        if clock is not None:
            clock.advance(seconds=2)
        audit_log.record(
            AuditEventType.FEED_ALLOWED,
            actor="dana",
            subject=f"Harbor Deli door {number} · ünïcode",
            camera_id="cam-harbor-1",
            purpose="incident:2026-000101",
            policy_version=3,
            decision="allow",
            reason="allowed_continuous",
            details={"incident": "2026-000101", "tile": number},
        )


def local_rows(path: Path) -> list[tuple[int, bytes, bytes]]:
    with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as connection:
        rows = connection.execute(
            "SELECT seq, record, CAST(hash AS BLOB) FROM audit_events ORDER BY seq"
        ).fetchall()
    connection.close()
    return [(seq, bytes(record), bytes(digest)) for seq, record, digest in rows]


def assert_server_holds_exactly_the_local_log(
    database: ServerDatabase, audit_path: Path, workstation_id: str = WORKSTATION
) -> None:
    stored = database.rows(workstation_id)
    local = local_rows(audit_path)
    assert [(row.seq, row.record, row.hash) for row in stored] == local  # same bytes, no extra
    previous = bytes(32)
    for row, exported in zip(stored, read_events(audit_path), strict=True):
        assert row.prev_hash == previous
        previous = row.hash
        fields = json.loads(row.record)
        as_exported = {key: fields.get(key) for key in EXPORT_FIELDS}
        as_exported.update(seq=row.seq, hash=row.hash.hex())
        assert as_exported == exported
    assert (
        database.head(workstation_id) == (local[-1][0], local[-1][2]) if local else (0, bytes(32))
    )


def phase_is(sync: AuditSync, *phases: SyncPhase) -> Callable[[], bool]:
    return lambda: sync.state().phase in phases


def synced_to(sync: AuditSync, audit_log: AuditLog) -> Callable[[], bool]:
    def done() -> bool:
        state = sync.state()
        return state.phase is SyncPhase.SYNCED and state.acknowledged_seq == audit_log.head.seq

    return done


@pytest.fixture
def make_sync(settings: Settings) -> Iterator[Callable[..., AuditSync]]:
    """Clients over the test's data dir, with fast intervals and retries."""
    made: list[AuditSync] = []

    def make(server_url: str, token: str | Callable[[], str | None] | None, **options: Any):
        arguments: dict[str, Any] = {
            "audit_path": settings.audit_db,
            "server_url": server_url,
            "workstation_id": WORKSTATION,
            "token": token if callable(token) else lambda: token,
            "state_path": settings.data_dir / STATE_FILE,
            "batch_size": 10,
            "interval_s": 0.05,
            "connect_timeout_s": 2,
            "read_timeout_s": 10,
            "retry_initial_s": 0.05,
            "retry_max_s": 0.3,
        }
        arguments.update(options)
        sync = AuditSync(**arguments)
        made.append(sync)
        return sync

    yield make
    for sync in made:
        sync.stop()


def test_events_sync_and_the_server_head_equals_the_local_head(
    audit_log, clock, server_db, live_server, make_sync, settings
):
    token = server_db.register(WORKSTATION)
    record(audit_log, 25, clock)
    changes: list[SyncState] = []
    sync = make_sync(live_server.url, token, on_change=changes.append)
    sync.start()
    wait_for(synced_to(sync, audit_log), what="the first sync")

    assert_server_holds_exactly_the_local_log(server_db, settings.audit_db)
    state = sync.state()
    assert (state.local_seq, state.acknowledged_seq, state.pending) == (25, 25, 0)
    assert (state.stored, state.already_stored) == (25, 0)
    assert state.text(clock()) == "synced"
    # It went through its states in order, and counted down as batches were acknowledged.
    assert changes[0].phase is SyncPhase.CONNECTING
    assert [s.acknowledged_seq for s in changes if s.phase is SyncPhase.PENDING] == [0, 10, 20]
    saved = json.loads((settings.data_dir / STATE_FILE).read_text())
    assert (saved["seq"], saved["hash"]) == (25, audit_log.head.hash.hex())
    assert saved["server_url"] == live_server.url and saved["workstation_id"] == WORKSTATION

    # New events are picked up on the next look; a nudge looks at once.
    record(audit_log, 3, clock)
    sync.nudge()
    wait_for(synced_to(sync, audit_log), what="the second sync")
    assert_server_holds_exactly_the_local_log(server_db, settings.audit_db)
    assert sync.state().stored == 28


def test_the_pending_state_names_the_oldest_unsent_event(
    audit_log, clock, server_db, live_server, make_sync
):
    token = server_db.register(WORKSTATION)
    record(audit_log, 2, clock)
    sync = make_sync(live_server.url, token)
    assert sync.sync_once().phase is SyncPhase.SYNCED
    clock.advance(minutes=10)
    first_unsent = clock() + timedelta(seconds=2)
    record(audit_log, 3, clock)
    states: list[SyncState] = []
    sync = make_sync(live_server.url, token, batch_size=2, on_change=states.append)
    sync.sync_once()
    pending = [state for state in states if state.phase is SyncPhase.PENDING]
    assert pending[0].pending == 3 and pending[0].pending_since == first_unsent
    since = first_unsent.astimezone().strftime("%H:%M")
    assert pending[0].text(clock()) == f"3 events pending since {since}"
    last = first_unsent + timedelta(seconds=4)
    assert pending[1].pending == 1 and pending[1].pending_since == last
    assert pending[1].text(clock()) == f"1 event pending since {last.astimezone():%H:%M}"


def test_server_down_at_start_then_up_catches_up(audit_log, clock, server_db, make_sync, settings):
    token = server_db.register(WORKSTATION)
    record(audit_log, 12, clock)
    port = free_port()
    sync = make_sync(f"http://127.0.0.1:{port}", token)
    sync.start()
    wait_for(phase_is(sync, SyncPhase.UNREACHABLE), what="the unreachable state")
    state = sync.state()
    assert state.failing_since is not None and state.retry_at is not None
    assert state.pending == 12 and state.acknowledged_seq == 0
    since = state.failing_since.astimezone().strftime("%H:%M")
    assert state.text(state.failing_since).startswith(
        f"server unreachable (since {since}, retry in "
    )
    assert state.text(state.failing_since).endswith("), 12 events pending")
    assert "refused" in state.detail  # connection refused: nobody listens yet

    server = ThreadServer(server_db.url, port=port).start()
    try:
        wait_for(synced_to(sync, audit_log), what="the catch-up")
        assert_server_holds_exactly_the_local_log(server_db, settings.audit_db)
        assert sync.state().already_stored == 0
    finally:
        server.stop()


def test_hours_offline_back_off_up_to_the_cap_with_jitter():
    """The waits double from retry_initial_s to retry_max_s, each cut by up to half at random."""
    jitters = [0.0, 0.99, 0.5, 0.99, 0.99, 0.0, 0.99, 0.99, 0.99, 0.0]
    delays = [backoff_delay(n, 2, 300, j) for n, j in enumerate(jitters, start=1)]
    assert delays == pytest.approx([1, 3.98, 6, 15.92, 31.84, 32, 127.36, 254.72, 298.5, 150])
    # Days offline: the cap holds and nothing overflows.
    assert backoff_delay(100_000, 2, 300, 0.99) == pytest.approx(298.5)


@pytest.mark.slow
def test_server_killed_mid_sync_then_restarted_loses_and_doubles_nothing(
    audit_log, clock, any_server_db, make_sync, settings
):
    token = any_server_db.register(WORKSTATION)
    record(audit_log, 1500, clock)
    server = ProcessServer(any_server_db.url).start()
    try:
        sync = make_sync(server.url, token, batch_size=15)
        sync.start()
        wait_for(lambda: sync.state().acknowledged_seq >= 150, what="the first batches")
        server.kill()  # SIGKILL while batches are on their way
        wait_for(phase_is(sync, SyncPhase.UNREACHABLE), what="the unreachable state")
        killed_at = any_server_db.head(WORKSTATION)[0]
        assert 150 <= killed_at < 1500
        record(audit_log, 30, clock)  # the console goes on while the server is away
        server.start()
        wait_for(synced_to(sync, audit_log), 120, "the catch-up after the restart")
    finally:
        server.stop()
    assert_server_holds_exactly_the_local_log(any_server_db, settings.audit_db)
    # After the kill it asked the server where it stood instead of sending again.
    assert sync.state().already_stored == 0


def test_a_server_stopped_while_batches_are_in_flight(
    audit_log, clock, server_db, make_sync, settings
):
    token = server_db.register(WORKSTATION)
    record(audit_log, 600, clock)
    server = ThreadServer(server_db.url).start()
    sync = make_sync(server.url, token, batch_size=5)
    sync.start()
    wait_for(lambda: sync.state().acknowledged_seq >= 50, what="the first batches")
    server.stop()
    wait_for(phase_is(sync, SyncPhase.UNREACHABLE), what="the unreachable state")
    server.start()
    try:
        wait_for(synced_to(sync, audit_log), 60, "the catch-up after the restart")
    finally:
        server.stop()
    assert_server_holds_exactly_the_local_log(server_db, settings.audit_db)


def test_workstation_restart_resumes_without_duplicates(
    audit_log, clock, server_db, live_server, make_sync, settings
):
    token = server_db.register(WORKSTATION)
    record(audit_log, 30, clock)
    first = make_sync(live_server.url, token)
    first.start()
    wait_for(synced_to(first, audit_log), what="the first run")
    first.stop()

    record(audit_log, 20, clock)  # written while no sync ran (the console was closed)
    second = make_sync(live_server.url, token)
    assert second.state().phase is SyncPhase.CONNECTING
    second.start()
    wait_for(synced_to(second, audit_log), what="the second run")
    assert (second.state().stored, second.state().already_stored) == (20, 0)
    assert_server_holds_exactly_the_local_log(server_db, settings.audit_db)


def test_a_state_file_behind_the_server_sends_nothing_twice(
    audit_log, clock, server_db, live_server, make_sync, settings
):
    token = server_db.register(WORKSTATION)
    state_file = settings.data_dir / STATE_FILE
    record(audit_log, 10, clock)
    assert make_sync(live_server.url, token).sync_once().phase is SyncPhase.SYNCED
    behind = state_file.read_bytes()
    record(audit_log, 25, clock)
    assert make_sync(live_server.url, token).sync_once().acknowledged_seq == 35
    state_file.write_bytes(behind)  # as after a crash before the file was replaced

    again = make_sync(live_server.url, token).sync_once()
    assert again.phase is SyncPhase.SYNCED and again.acknowledged_seq == 35
    assert (again.stored, again.already_stored) == (0, 0)
    assert json.loads(state_file.read_text())["seq"] == 35

    state_file.write_text("{not json")  # damaged: ignored, the server's head decides
    record(audit_log, 1, clock)
    assert make_sync(live_server.url, token).sync_once().stored == 1
    assert_server_holds_exactly_the_local_log(server_db, settings.audit_db)


def stored_checkpoint(settings: Settings, server: ThreadServer) -> SignedCheckpoint:
    """The checkpoint in the state file, checked: the pinned key is the server's, it signed
    it, and its root is that of the tree of this log's chain hashes."""
    saved = json.loads((settings.data_dir / STATE_FILE).read_text())
    assert saved["format"] == STATE_FORMAT == 2
    public_key = CheckpointSigner.from_file(server.checkpoint_key).public_key
    assert saved["server_key"] == {
        "public_key": public_key.hex(),
        "key_id": key_id_for(public_key),
    }
    signed = SignedCheckpoint.from_wire(saved["checkpoint"])
    signed.verify(public_key)
    size = signed.checkpoint.size
    hashes = [digest for _, _, digest in local_rows(settings.audit_db)]
    assert signed.checkpoint.root == MerkleTree(map(event_leaf_hash, hashes)).root(size)
    assert signed.checkpoint.head_hash == hashes[size - 1]
    assert (saved["seq"], saved["hash"]) == (size, hashes[size - 1].hex())
    return signed


def test_a_verified_checkpoint_is_kept_and_a_restarted_server_with_its_key_goes_on(
    audit_log, clock, server_db, make_sync, settings
):
    token = server_db.register(WORKSTATION)
    server = ThreadServer(server_db.url).start()
    try:
        record(audit_log, 25, clock)
        assert make_sync(server.url, token).sync_once().phase is SyncPhase.SYNCED
        assert stored_checkpoint(settings, server).checkpoint.size == 25
        server.stop()
        server.start()  # the same key file: the same key
        record(audit_log, 7, clock)
        state = make_sync(server.url, token).sync_once()
    finally:
        server.stop()
    assert state.phase is SyncPhase.SYNCED and state.stored == 7
    assert stored_checkpoint(settings, server).checkpoint.size == 32
    assert_server_holds_exactly_the_local_log(server_db, settings.audit_db)


def test_a_state_file_of_format_1_is_read_and_the_key_pinned(
    audit_log, clock, server_db, live_server, make_sync, settings
):
    token = server_db.register(WORKSTATION)
    state_file = settings.data_dir / STATE_FILE
    record(audit_log, 4, clock)
    assert make_sync(live_server.url, token).sync_once().acknowledged_seq == 4
    saved = json.loads(state_file.read_text())
    for key in ("server_key", "checkpoint"):
        del saved[key]
    state_file.write_text(json.dumps({**saved, "format": 1}))  # as a client before checkpoints
    record(audit_log, 3, clock)
    sync = make_sync(live_server.url, token)
    assert sync.state().phase is SyncPhase.CONNECTING
    state = sync.sync_once()
    assert state.phase is SyncPhase.SYNCED and (state.stored, state.already_stored) == (3, 0)
    assert stored_checkpoint(settings, live_server).checkpoint.size == 7


def test_a_server_whose_checkpoint_key_changed_is_rejected(
    audit_log, clock, server_db, make_sync, settings, tmp_path
):
    token = server_db.register(WORKSTATION)
    state_file = settings.data_dir / STATE_FILE
    server = ThreadServer(server_db.url).start()
    try:
        record(audit_log, 5, clock)
        assert make_sync(server.url, token).sync_once().phase is SyncPhase.SYNCED
        pinned = state_file.read_bytes()
        server.stop()
        server.checkpoint_key = tmp_path / "another-key.pem"  # same database, port, URL
        server.start()
        record(audit_log, 2, clock)
        sync = make_sync(server.url, token)
        state = sync.sync_once()
        assert sync.sync_once().phase is SyncPhase.REJECTED  # it stays stopped
    finally:
        server.stop()
    assert state.phase is SyncPhase.REJECTED and state.rejected_seq is None
    assert state.text(clock()) == "server rejected: the server's checkpoint key changed"
    assert "delete" in state.detail and str(state_file) in state.detail
    assert state.pending == 2
    assert state_file.read_bytes() == pinned  # nothing stored
    assert server_db.head(WORKSTATION)[0] == 5  # nothing sent


def test_a_server_rolled_back_to_a_backup_is_rejected(
    audit_log, clock, server_db, make_sync, settings, tmp_path
):
    """The server's database replaced by an older copy: it no longer holds what it signed."""
    token = server_db.register(WORKSTATION)
    state_file = settings.data_dir / STATE_FILE
    database_file = Path(str(make_url(server_db.url).database))
    server = ThreadServer(server_db.url).start()
    record(audit_log, 10, clock)
    assert make_sync(server.url, token).sync_once().acknowledged_seq == 10
    server.stop()
    server_db.engine.dispose()
    shutil.copy(database_file, tmp_path / "backup.sqlite3")
    server.start()
    record(audit_log, 20, clock)
    assert make_sync(server.url, token).sync_once().acknowledged_seq == 30
    server.stop()
    server_db.engine.dispose()
    signed = state_file.read_bytes()
    shutil.copy(tmp_path / "backup.sqlite3", database_file)  # the server loses events 11-30
    assert server_db.head(WORKSTATION)[0] == 10
    server.start()
    try:
        record(audit_log, 1, clock)
        rolled_back = make_sync(server.url, token).sync_once()
    finally:
        server.stop()
    assert rolled_back.phase is SyncPhase.REJECTED
    assert rolled_back.text(clock()) == (
        "server rejected: the server's copy does not extend its last checkpoint: forked or "
        "rolled back"
    )
    assert "checkpoint of 30 events" in rolled_back.detail and "now holds 10" in rolled_back.detail
    assert rolled_back.stored == 0 and server_db.head(WORKSTATION)[0] == 10  # nothing re-sent
    assert state_file.read_bytes() == signed  # nothing stored


def other_log(directory: Path, count: int) -> AuditLog:
    """Another audit log under the same workstation id, with different events."""
    directory.mkdir()
    clock = ManualClock(datetime(2026, 11, 18, 9, 0, tzinfo=UTC))
    log = AuditLog.open(directory / "audit.sqlite", WORKSTATION, clock)
    record(log, count, clock)
    return log


def test_a_server_holding_other_events_at_our_seqs_is_a_fork(
    audit_log, clock, server_db, live_server, make_sync, settings, tmp_path
):
    token = server_db.register(WORKSTATION)
    impostor = other_log(tmp_path / "impostor", 5)
    try:
        first = make_sync(live_server.url, token, audit_path=impostor.path)
        assert first.sync_once().acknowledged_seq == 5
    finally:
        impostor.close()
    record(audit_log, 8, clock)
    (settings.data_dir / STATE_FILE).unlink(missing_ok=True)

    sync = make_sync(live_server.url, token)
    sync.start()
    wait_for(phase_is(sync, SyncPhase.REJECTED), what="the rejection")
    state = sync.state()
    assert state.rejected_seq == 5
    assert (
        state.text(clock()) == "server rejected: this log has forked from the server's copy (seq 5)"
    )
    assert "the server's event 5 of workstation test-ws differs" in state.detail
    assert len(server_db.rows(WORKSTATION)) == 5  # nothing of ours went in
    # It stays stopped: a nudge sends nothing.
    sync.nudge()
    assert sync.sync_once().phase is SyncPhase.REJECTED


def test_a_fork_found_by_the_server_stops_sending_and_names_the_seq(
    audit_log, clock, server_db, live_server, make_sync, settings, tmp_path
):
    """The client agreed with the server on an empty chain; then another log got there first."""
    token = server_db.register(WORKSTATION)
    sync = make_sync(live_server.url, token)
    assert sync.sync_once().phase is SyncPhase.SYNCED  # both at 0
    impostor = other_log(tmp_path / "impostor", 5)
    try:
        impostor_sync = make_sync(
            live_server.url, token, audit_path=impostor.path, state_path=tmp_path / "s.json"
        )
        assert impostor_sync.sync_once().acknowledged_seq == 5
    finally:
        impostor.close()
    record(audit_log, 8, clock)

    state = sync.sync_once()  # no new head asked for: the server's 409 answers
    assert state.phase is SyncPhase.REJECTED and state.rejected_seq == 1
    assert (
        state.text(clock()) == "server rejected: this log has forked from the server's copy (seq 1)"
    )
    assert "differs from the event 1 the server acknowledged before" in state.detail
    assert len(server_db.rows(WORKSTATION)) == 5


def test_a_tampered_local_event_is_rejected_by_the_server(
    audit_log, clock, server_db, live_server, make_sync, settings
):
    token = server_db.register(WORKSTATION)
    record(audit_log, 6, clock)
    with sqlite3.connect(settings.audit_db) as connection:
        connection.execute("DROP TRIGGER audit_events_no_update")
        forged = connection.execute("SELECT record FROM audit_events WHERE seq = 4").fetchone()[0]
        forged = forged.replace(b'"actor":"dana"', b'"actor":"nobody"')
        connection.execute("UPDATE audit_events SET record = ? WHERE seq = 4", (forged,))
    connection.close()

    state = make_sync(live_server.url, token).sync_once()
    assert state.phase is SyncPhase.REJECTED and state.rejected_seq == 4
    assert state.text(clock()) == "server rejected: the hash chain is broken (seq 4)"
    assert "event 4 does not match its hash" in state.detail
    assert server_db.rows(WORKSTATION) == []  # the whole batch was refused


def test_a_local_record_the_server_cannot_read_is_rejected_and_named(
    audit_log, clock, server_db, live_server, make_sync, settings
):
    token = server_db.register(WORKSTATION)
    record(audit_log, 6, clock)
    with sqlite3.connect(settings.audit_db) as connection:
        connection.execute("DROP TRIGGER audit_events_no_update")
        damaged = connection.execute("SELECT record FROM audit_events WHERE seq = 5").fetchone()[0]
        damaged = damaged.replace(b'"actor":"dana"', b'"actor":"d\xffna"')  # not UTF-8
        connection.execute("UPDATE audit_events SET record = ? WHERE seq = 5", (damaged,))
    connection.close()

    state = make_sync(live_server.url, token).sync_once()
    assert state.phase is SyncPhase.REJECTED and state.rejected_seq == 5
    assert state.text(clock()) == "server rejected: the server cannot read an event (seq 5)"
    assert server_db.rows(WORKSTATION) == []


def test_a_log_shorter_than_the_servers_copy_is_rejected(
    audit_log, clock, server_db, live_server, make_sync, tmp_path
):
    token = server_db.register(WORKSTATION)
    longer = other_log(tmp_path / "longer", 7)
    try:
        make_sync(
            live_server.url, token, audit_path=longer.path, state_path=tmp_path / "s.json"
        ).sync_once()
    finally:
        longer.close()
    record(audit_log, 3, clock)
    state = make_sync(live_server.url, token).sync_once()
    assert (
        state.text(clock()) == "server rejected: this log is shorter than the server's copy (seq 4)"
    )


def test_token_problems_say_what_to_do_and_never_show_the_token(
    audit_log, clock, server_db, live_server, make_sync, caplog
):
    caplog.set_level(logging.DEBUG)
    good = server_db.register(WORKSTATION)
    server_db.register("ws-other")
    other_id, other_token = server_db.token("ws-other")
    revoked_id, revoked = server_db.token(WORKSTATION)
    server_db.revoke(revoked_id)
    record(audit_log, 4, clock)
    url = live_server.url

    missing = make_sync(url, None).sync_once()
    assert missing.phase is SyncPhase.STALLED
    assert missing.text(clock()) == "no sync token"
    assert "beacon sync token" in missing.detail

    unknown = make_sync(url, "bst_not-a-real-token-0123456789").sync_once()
    assert unknown.text(clock()) == "sync token refused by the server"
    assert "not known to the server" in unknown.detail and "beacon sync token" in unknown.detail
    assert unknown.pending == 4

    was_revoked = make_sync(url, revoked).sync_once()
    assert "revoked" in was_revoked.detail

    someone_elses = make_sync(url, other_token).sync_once()
    assert someone_elses.text(clock()) == f"sync token not valid for workstation {WORKSTATION}"
    assert "belongs to workstation ws-other" in someone_elses.detail

    for secret in (good, revoked, other_token, "bst_not-a-real-token-0123456789"):
        assert secret not in caplog.text
        for state in (missing, unknown, was_revoked, someone_elses):
            assert secret not in state.text(clock()) + state.detail
    del other_id

    # The worker retries, reading the keyring each time: a new token is picked up.
    current: list[str | None] = ["bst_not-a-real-token-0123456789"]
    sync = make_sync(url, lambda: current[0])
    sync.start()
    wait_for(phase_is(sync, SyncPhase.STALLED), what="the stalled state")
    assert sync.state().text(clock()).startswith("sync token refused by the server (retry in ")
    current[0] = good
    wait_for(synced_to(sync, audit_log), what="the sync with the new token")


def test_batches_the_server_finds_too_large_are_halved(
    audit_log, clock, server_db, make_sync, settings
):
    token = server_db.register(WORKSTATION)
    record(audit_log, 23, clock)
    server = ThreadServer(server_db.url, max_batch_events=4).start()
    try:
        state = make_sync(server.url, token, batch_size=50).sync_once()
    finally:
        server.stop()
    assert state.phase is SyncPhase.SYNCED and state.stored == 23
    assert_server_holds_exactly_the_local_log(server_db, settings.audit_db)


def test_a_hung_server_blocks_neither_the_audit_log_nor_stop(audit_log, clock, make_sync):
    """A server that accepts and never answers: appends go on at full speed, stop is prompt."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True).start()
    record(audit_log, 3, clock)
    sync = make_sync(f"http://127.0.0.1:{listener.getsockname()[1]}", "bst_x", read_timeout_s=60)
    sync.start()
    wait_for(lambda: accepted, what="the client's connection")
    began = time.monotonic()
    record(audit_log, 20, clock)
    assert time.monotonic() - began < 5
    assert sync.state().phase is SyncPhase.CONNECTING  # still waiting for the head
    began = time.monotonic()
    sync.stop()
    assert time.monotonic() - began < 2
    listener.close()
    for connection in accepted:
        connection.close()


def test_state_texts():
    now = datetime(2026, 11, 18, 15, 30, tzinfo=UTC)
    since = now - timedelta(minutes=12)
    hhmm = since.astimezone().strftime("%H:%M")
    assert SyncState(SyncPhase.NOT_CONFIGURED).text(now) == "sync not configured"
    assert SyncState(SyncPhase.CONNECTING).text(now) == "connecting to the sync server"
    assert SyncState(SyncPhase.SYNCED, 9, 9).text(now) == "synced"
    pending = SyncState(SyncPhase.PENDING, 21, 9, pending_since=since)
    assert pending.text(now) == f"12 events pending since {hhmm}"
    unreachable = SyncState(
        SyncPhase.UNREACHABLE,
        9,
        9,
        failing_since=since,
        retry_at=now + timedelta(seconds=34.2),
        reason="server unreachable",
    )
    assert unreachable.text(now) == f"server unreachable (since {hhmm}, retry in 35 s)"
    assert (
        SyncState(SyncPhase.UNREACHABLE, 10, 9, failing_since=since).text(now)
        == f"server unreachable (since {hhmm}), 1 event pending"
    )
    stalled = SyncState(
        SyncPhase.STALLED, reason="no sync token", retry_at=now + timedelta(seconds=300)
    )
    assert stalled.text(now) == "no sync token (retry in 300 s)"
    rejected = SyncState(
        SyncPhase.REJECTED, reason="the hash chain is broken", rejected_seq=4, detail="..."
    )
    assert rejected.text(now) == "server rejected: the hash chain is broken (seq 4)"


# ---- settings ------------------------------------------------------------------------------------


def sync_settings(tmp_path: Path, text: str) -> Settings:
    config = tmp_path / "sync.toml"
    config.write_text('workstation = "rtcc-ws-03"\n[security]\nkeyring_backend = "file"\n' + text)
    return load_settings(config, tmp_path / "data", env={})


def test_the_sync_section_and_the_client_it_makes(tmp_path):
    assert (
        AuditSync.from_settings(
            sync_settings(tmp_path, ""), CredentialStore.for_settings(sync_settings(tmp_path, ""))
        )
        is None
    )
    settings = sync_settings(
        tmp_path,
        '[sync]\nserver_url = "https://audit.city.example:8470"\nbatch_size = 250\n',
    )
    assert settings.sync_workstation_id == "rtcc-ws-03"
    assert sync_token_name(settings) == "sync:rtcc-ws-03@audit.city.example:8470"
    credentials = CredentialStore.for_settings(settings)
    credentials.set_secret(sync_token_name(settings), "bst_secret")
    sync = AuditSync.from_settings(settings, credentials)
    assert sync is not None
    assert (sync.server_url, sync.workstation_id) == (
        "https://audit.city.example:8470",
        "rtcc-ws-03",
    )
    assert sync._token() == "bst_secret"
    named = sync_settings(
        tmp_path, '[sync]\nserver_url = "http://127.0.0.1:8470"\nworkstation_id = "ws-9"\n'
    )
    assert named.sync_workstation_id == "ws-9"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('server_url = "ftp://audit.city.example"', "must start with https:// or http://"),
        ('server_url = "https://ws:pw@audit.city.example"', "must not hold a user name"),
        ('server_url = "http://audit.city.example"', "token in the clear"),
        ('server_url = "https://a.example"\nworkstation_id = "ws 3"', "sync workstation id"),
        ('server_url = "https://a.example"\nbatch_size = 0', "sync.batch_size"),
        ('server_url = "https://a.example"\nintervall_s = 5', "sync.intervall_s: unknown"),
    ],
)
def test_bad_sync_settings_name_the_key(tmp_path, text, message):
    with pytest.raises(SettingsError, match=message):
        sync_settings(tmp_path, f"[sync]\n{text}\n")


def test_a_workstation_name_that_cannot_be_an_id_asks_for_one(tmp_path):
    config = tmp_path / "s.toml"
    config.write_text('workstation = "RTCC desk 3"\n[sync]\nserver_url = "https://a.example"\n')
    with pytest.raises(SettingsError, match=r"set workstation_id under \[sync\]"):
        load_settings(config, tmp_path, env={})


def test_stop_with_flush_sends_what_was_just_written(
    audit_log, clock, server_db, live_server, make_sync, settings
):
    token = server_db.register(WORKSTATION)
    record(audit_log, 3, clock)
    sync = make_sync(live_server.url, token, interval_s=3600)
    sync.start()
    wait_for(synced_to(sync, audit_log), what="the first sync")
    audit_log.record(AuditEventType.LOGOUT, actor="dana")  # the console's last event
    sync.stop(timeout=10, flush=True)
    assert_server_holds_exactly_the_local_log(server_db, settings.audit_db)


def test_idle_looks_read_neither_the_keyring_nor_the_network(
    audit_log, clock, server_db, live_server, make_sync
):
    token: str = server_db.register(WORKSTATION)
    record(audit_log, 2, clock)
    reads: list[int] = []

    def keyring() -> str:
        reads.append(1)
        return token

    sync = make_sync(live_server.url, keyring)
    assert sync.sync_once().phase is SyncPhase.SYNCED
    live_server.stop()
    for _ in range(5):  # nothing new: no request, so no failure with the server away
        assert sync.sync_once().phase is SyncPhase.SYNCED
    assert len(reads) == 1
    live_server.start()
    record(audit_log, 1, clock)
    assert sync.sync_once().acknowledged_seq == 3
    assert len(reads) == 1

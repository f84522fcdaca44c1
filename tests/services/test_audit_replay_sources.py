"""The replay's sources: the local audit log, and the real sync server's copy on loopback."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app.models.session_replay import EventMark, SessionReplay, find_sessions
from app.services.audit_log import AuditLog, read_events
from app.services.audit_replay_sources import (
    LocalLogSource,
    ReplaySourceError,
    ServerCopySource,
    replay_token_name,
    store_replay_token,
)
from app.services.audit_sync import STATE_FILE, AuditSync
from app.services.credentials import CredentialStore
from app.settings import Settings, load_settings
from server.models import ReceivedAuditEvent, TokenRole
from server.tokens import issue_token
from tests.replay_session import script_shift
from tests.sync_server import ServerDatabase, ThreadServer

WORKSTATION = "test-ws"


def tamper(path: Path, seq: int, subject: str) -> None:
    """Rewrite one stored event behind the log's back (its triggers dropped first)."""
    connection = sqlite3.connect(path)
    try:
        triggers = connection.execute("SELECT name FROM sqlite_master WHERE type='trigger'")
        for (name,) in triggers.fetchall():
            connection.execute(f'DROP TRIGGER "{name}"')
        (record,) = connection.execute(
            "SELECT record FROM audit_events WHERE seq = ?", (seq,)
        ).fetchone()
        fields = json.loads(record)
        fields["subject"] = subject
        connection.execute(
            "UPDATE audit_events SET record = ? WHERE seq = ?",
            (json.dumps(fields, sort_keys=True, separators=(",", ":")).encode(), seq),
        )
        connection.commit()
    finally:
        connection.close()


def supervisor_token(database: ServerDatabase, role: TokenRole = TokenRole.SUPERVISOR) -> str:
    with database.sessions.begin() as session:
        issued = issue_token(session, role, datetime.now(UTC), timedelta(days=1), name="sup")
        return issued.secret


def synced(settings: Settings, audit_log: AuditLog, server: ThreadServer, token: str) -> None:
    sync = AuditSync(
        audit_path=settings.audit_db,
        server_url=server.url,
        workstation_id=WORKSTATION,
        token=lambda: token,
        state_path=settings.data_dir / STATE_FILE,
        batch_size=7,
    )
    state = sync.sync_once()
    assert state.acknowledged_seq == audit_log.head.seq, state


def test_the_local_log_gives_the_shift_and_an_intact_chain(settings, audit_log, clock):
    shift = script_shift(settings, audit_log, clock)
    source = LocalLogSource(settings.audit_db)
    assert source.workstations() == [WORKSTATION]
    loaded = source.load(WORKSTATION)
    (session,) = find_sessions(loaded.events)
    assert (session.actor, session.ended_by) == (shift.operator.username, "logout")
    assert session.count(EventMark.DENIAL) == 1
    assert session.count(EventMark.REVOCATION) == 1
    assert session.count(EventMark.EXPORT) == 1
    assert loaded.check.intact
    assert loaded.check.verified == (1, audit_log.head.seq)
    assert f"all {audit_log.head.seq} events" in loaded.check.summary
    assert loaded.check.covers(session.first_seq, session.last_seq)


def test_a_tampered_local_log_is_reported_broken_at_the_changed_event(settings, audit_log, clock):
    script_shift(settings, audit_log, clock)
    tamper(settings.audit_db, 5, "someone else's camera")
    check = LocalLogSource(settings.audit_db).load(WORKSTATION).check
    assert not check.intact
    assert check.first_bad_seq == 5
    assert check.verified == (1, 4)
    assert "BROKEN at event 5" in check.summary
    assert not check.covers(1, 6)


def test_a_missing_local_log_says_so(tmp_path):
    with pytest.raises(ReplaySourceError, match="no such audit log"):
        LocalLogSource(tmp_path / "absent.sqlite3").workstations()


def test_the_server_copy_is_read_in_pages_and_verified_to_its_checkpoint(
    settings, audit_log, clock, live_server, server_db, monkeypatch
):
    shift = script_shift(settings, audit_log, clock)
    synced(settings, audit_log, live_server, server_db.register(WORKSTATION))
    token = supervisor_token(server_db)
    monkeypatch.setattr("app.services.audit_replay_sources.PAGE_SIZE", 4)
    source = ServerCopySource(live_server.url, lambda: token)
    assert source.workstations() == [WORKSTATION]
    loaded = source.load(WORKSTATION)
    local = [row["seq"] for row in read_events(settings.audit_db)]
    assert [event.seq for event in loaded.events] == local
    assert loaded.check.intact, loaded.check.summary
    assert loaded.check.verified == (1, len(local))
    assert f"checkpoint of size {len(local)}" in loaded.check.summary
    assert any("has not pinned one" in note for note in loaded.check.notes)
    (session,) = find_sessions(loaded.events)
    state = SessionReplay(session).state_at(shift.both_open)
    assert [(feed.tile, feed.camera_id) for feed in state.feeds] == [
        (1, "cam-north"),
        (2, "cam-east"),
    ]


def test_the_server_copy_from_a_later_time_says_what_it_does_not_cover(
    settings, audit_log, clock, live_server, server_db
):
    shift = script_shift(settings, audit_log, clock)
    synced(settings, audit_log, live_server, server_db.register(WORKSTATION))
    token = supervisor_token(server_db)
    loaded = ServerCopySource(live_server.url, lambda: token, since=shift.denied).load(WORKSTATION)
    first = loaded.events[0].seq
    assert first > 1
    assert loaded.check.intact
    assert any(f"Events before {first} were not fetched" in note for note in loaded.check.notes)


def test_an_altered_server_copy_is_reported_broken(
    settings, audit_log, clock, live_server, server_db
):
    script_shift(settings, audit_log, clock)
    synced(settings, audit_log, live_server, server_db.register(WORKSTATION))
    with server_db.sessions.begin() as session:
        row = session.scalar(
            select(ReceivedAuditEvent).where(
                ReceivedAuditEvent.workstation_id == WORKSTATION, ReceivedAuditEvent.seq == 6
            )
        )
        fields = json.loads(row.record)
        fields["subject"] = "nothing to see"
        row.record = json.dumps(fields).encode()
    token = supervisor_token(server_db)
    check = ServerCopySource(live_server.url, lambda: token).load(WORKSTATION).check
    assert not check.intact
    assert check.first_bad_seq == 6
    assert check.verified == (1, 5)
    assert "does not match its hash" in check.summary


def test_a_checkpoint_key_other_than_the_pinned_one_is_not_trusted(
    settings, audit_log, clock, live_server, server_db
):
    script_shift(settings, audit_log, clock)
    synced(settings, audit_log, live_server, server_db.register(WORKSTATION))
    token = supervisor_token(server_db)
    check = (
        ServerCopySource(live_server.url, lambda: token, pinned_key=lambda: bytes(range(32)))
        .load(WORKSTATION)
        .check
    )
    assert not check.intact
    assert "could NOT be tied to the server's signed checkpoint" in check.summary
    assert "this workstation pinned" in check.summary
    assert check.verified is None


def test_the_pinned_key_comes_from_the_sync_clients_state(
    settings, audit_log, clock, live_server, server_db, data_dir, tmp_path
):
    script_shift(settings, audit_log, clock)
    config = tmp_path / "synced.toml"
    config.write_text(
        f'workstation = "{WORKSTATION}"\n[security]\nkeyring_backend = "file"\n'
        f'[sync]\nserver_url = "{live_server.url}"\n'
    )
    configured = load_settings(config, data_dir, env={})
    synced(configured, audit_log, live_server, server_db.register(WORKSTATION))
    credentials = CredentialStore.for_settings(configured)
    store_replay_token(credentials, live_server.url, "sue", supervisor_token(server_db))
    source = ServerCopySource.from_settings(configured, credentials, "sue")
    assert source is not None
    check = source.load(WORKSTATION).check
    assert check.intact, check.summary
    assert any("the key this workstation's sync client pinned" in n for n in check.notes)


def test_without_a_token_or_with_a_workstations_token_the_message_says_what_to_do(
    settings, audit_log, clock, live_server, server_db
):
    script_shift(settings, audit_log, clock)
    workstation_token = server_db.register(WORKSTATION)
    with pytest.raises(ReplaySourceError, match="no supervisor token"):
        ServerCopySource(live_server.url, lambda: None).load(WORKSTATION)
    with pytest.raises(ReplaySourceError, match="refused the supervisor token") as refused:
        ServerCopySource(live_server.url, lambda: workstation_token).load(WORKSTATION)
    assert workstation_token not in str(refused.value)


def test_an_unreachable_server_is_a_clear_error():
    source = ServerCopySource("http://unreachable.invalid:9", lambda: "t0ken", connect_timeout_s=1)
    with pytest.raises(ReplaySourceError, match="cannot be reached") as failed:
        source.workstations()
    assert "t0ken" not in str(failed.value)


def test_a_token_is_stored_under_the_servers_and_users_name(settings):
    credentials = CredentialStore.for_settings(settings)
    store_replay_token(credentials, "https://audit.example.invalid:8443", "sue", " abc123\n")
    name = replay_token_name("https://audit.example.invalid:8443", "sue")
    assert credentials.get_secret(name) == "abc123"
    with pytest.raises(ReplaySourceError, match="not a token"):
        store_replay_token(credentials, "https://audit.example.invalid", "sue", "two words")

"""``beacon audit verify --against-server`` against a real sync server on loopback.

The log is synced with ``beacon sync now`` (which stores the signed checkpoint and the pinned
key), then tampered with the way someone with the file would: straight through SQLite, the
append-only triggers dropped.
"""

from __future__ import annotations

import io
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from app.cli import main
from app.models.audit_chain import AuditEventType, canonical_bytes, chain_hash
from app.services.audit_log import AuditLog, read_events
from app.services.audit_sync import STATE_FILE
from app.settings import Settings
from server.checkpoint_key import CheckpointSigner
from tests.sync_server import ServerDatabase, ThreadServer

WORKSTATION = "test-ws"
SYNCED = 6


@pytest.fixture
def synced(
    audit_log: AuditLog,
    config_file: Path,
    data_options: list[str],
    server_db: ServerDatabase,
    live_server: ThreadServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> str:
    """``SYNCED`` events written, the token stored, all synced; the token."""
    config_file.write_text(config_file.read_text() + f'[sync]\nserver_url = "{live_server.url}"\n')
    token = server_db.register(WORKSTATION)
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    assert main(["sync", "token", "--token-stdin", *data_options]) == 0
    for number in range(SYNCED):
        audit_log.record(
            AuditEventType.FEED_ALLOWED, actor="dana", subject=f"camera {number}", camera_id="c1"
        )
    assert main(["sync", "now", *data_options]) == 0
    capsys.readouterr()
    return token


def verify(data_options: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["audit", "verify", "--against-server", *data_options])
    return code, capsys.readouterr().out.splitlines()


def status_of(lines: list[str]) -> dict[str, str]:
    """``{check name: status}`` from the ``[status] name: text`` lines."""
    found = {}
    for line in lines:
        if line.startswith("["):
            status, _, rest = line[1:].partition("] ")
            found[rest.partition(":")[0]] = status
    return found


def line_of(lines: list[str], check: str) -> str:
    return next(line for line in lines if f"] {check}: " in line)


def tamper(path: Path, *statements: tuple[str, tuple[object, ...]]) -> None:
    """Change the log as an attacker with the file would: triggers dropped, SQL run."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("DROP TRIGGER audit_events_no_update")
        connection.execute("DROP TRIGGER audit_events_no_delete")
        for sql, parameters in statements:
            connection.execute(sql, parameters)
        connection.commit()
    finally:
        connection.close()


def copy_database(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent copy even of a database in use."""
    with closing(sqlite3.connect(source)) as reading, closing(sqlite3.connect(target)) as writing:
        reading.backup(writing)


ALL_OK = {
    "local chain": "ok",
    "stored checkpoint": "ok",
    "log vs stored checkpoint": "ok",
    "server key": "ok",
    "server checkpoint": "ok",
    "log vs server": "ok",
}


def test_an_intact_synced_log_passes_every_check(
    synced: str, audit_log: AuditLog, data_options: list[str], capsys
):
    audit_log.record(AuditEventType.LOGIN, actor="dana")  # written after the sync
    code, lines = verify(data_options, capsys)
    assert status_of(lines) == ALL_OK
    assert code == 0
    assert lines[-1] == "audit log intact and as the sync server signed it"
    assert line_of(lines, "log vs server").endswith(
        f"events 1..{SYNCED} give the root of the server's checkpoint; "
        "1 newer events not yet acknowledged"
    )
    assert synced not in "\n".join(lines)
    recorded = list(read_events(audit_log.path))[-1]
    assert recorded["event_type"] == AuditEventType.AUDIT_READ.value
    assert recorded["outcome"] == "success"


def test_a_log_truncated_after_the_sync_is_caught(
    synced: str, audit_log: AuditLog, data_options: list[str], capsys
):
    tamper(audit_log.path, ("DELETE FROM audit_events WHERE seq > ?", (SYNCED - 2,)))
    code, lines = verify(data_options, capsys)
    # The chain that is left is a valid chain: only the checkpoints show what is missing.
    assert status_of(lines) == {
        **ALL_OK,
        "log vs stored checkpoint": "FAILED",
        "log vs server": "FAILED",
    }
    assert code == 1
    assert (
        f"the log has {SYNCED - 2} events, but the stored checkpoint of {SYNCED} events"
        in line_of(lines, "log vs stored checkpoint")
    )
    assert f"events {SYNCED - 1}..{SYNCED} were cut off" in line_of(lines, "log vs server")
    recorded = list(read_events(audit_log.path))[-1]
    assert recorded["event_type"] == AuditEventType.AUDIT_READ.value
    assert recorded["outcome"] == "failure"
    assert recorded["details"]["checks_failed"] == "log vs stored checkpoint, log vs server"


def test_an_acknowledged_event_rewritten_and_rechained_is_caught(
    synced: str, audit_log: AuditLog, data_options: list[str], capsys
):
    # The attacker rewrites event 2 and re-chains every event after it, so the local chain
    # verifies again; only the server's checkpoints still hold the old hashes.
    with closing(sqlite3.connect(audit_log.path)) as connection:
        rows = connection.execute(
            "SELECT seq, record, hash FROM audit_events ORDER BY seq"
        ).fetchall()
    previous = bytes(rows[0][2])
    updates = []
    for seq, record, _old in rows[1:]:
        fields = json.loads(record)
        if seq == 2:
            fields["subject"] = "nothing to see"
        canonical = canonical_bytes(fields)
        previous = chain_hash(previous, seq, canonical)
        updates.append(
            (
                "UPDATE audit_events SET record = ?, hash = ? WHERE seq = ?",
                (canonical, previous, seq),
            )
        )
    tamper(audit_log.path, *updates)

    code, lines = verify(data_options, capsys)
    assert status_of(lines) == {
        **ALL_OK,
        "log vs stored checkpoint": "FAILED",
        "log vs server": "FAILED",
    }
    assert code == 1
    assert "events were rewritten after the server acknowledged them" in line_of(
        lines, "log vs stored checkpoint"
    )
    assert f"events 1..{SYNCED} of the log do not give the root" in line_of(lines, "log vs server")


def test_with_the_server_down_the_local_checks_still_run(
    synced: str, live_server: ThreadServer, data_options: list[str], capsys
):
    live_server.stop()
    code, lines = verify(data_options, capsys)
    assert status_of(lines) == {
        **ALL_OK,
        "server key": "not run",
        "server checkpoint": "not run",
        "log vs server": "not run",
    }
    assert code == 2
    assert "server unreachable: connection refused" in line_of(lines, "server key")
    assert lines[-1].startswith("audit log not fully verified")


def test_a_state_file_with_another_key_fails(
    synced: str, settings: Settings, data_options: list[str], capsys
):
    state_path = settings.data_dir / STATE_FILE
    state = json.loads(state_path.read_text())
    other = CheckpointSigner.generate()
    state["server_key"] = {"public_key": other.public_key.hex(), "key_id": other.key_id}
    state_path.write_text(json.dumps(state))

    code, lines = verify(data_options, capsys)
    assert status_of(lines) == {
        "local chain": "ok",
        "stored checkpoint": "FAILED",
        "log vs stored checkpoint": "not run",
        "server key": "FAILED",
        "server checkpoint": "not run",
        "log vs server": "not run",
    }
    assert code == 1
    assert f"not the server key {other.key_id}" in line_of(lines, "stored checkpoint")
    assert f"not with the key {other.key_id} this workstation pinned" in line_of(
        lines, "server key"
    )


def test_without_a_state_file_it_says_what_to_do(
    synced: str, settings: Settings, data_options: list[str], capsys
):
    (settings.data_dir / STATE_FILE).unlink()
    code, lines = verify(data_options, capsys)
    assert code == 2
    assert status_of(lines)["local chain"] == "ok"
    assert status_of(lines)["stored checkpoint"] == "not run"
    assert "run `beacon sync now` once" in line_of(lines, "stored checkpoint")
    assert status_of(lines)["server key"] == "not run"


def test_a_broken_local_chain_is_reported_beside_the_server_checks(
    synced: str, audit_log: AuditLog, data_options: list[str], capsys
):
    # A naive edit: the record changes, its hash does not.
    tamper(
        audit_log.path,
        (
            "UPDATE audit_events SET record = CAST(replace(CAST(record AS TEXT), ?, ?) AS BLOB) "
            "WHERE seq = 3",
            ("camera 2", "camera 9"),
        ),
    )
    code, lines = verify(data_options, capsys)
    assert code == 1
    assert status_of(lines)["local chain"] == "FAILED"
    assert "first bad sequence number 3" in line_of(lines, "local chain")


def test_without_a_sync_server_only_the_local_chain_is_checked(
    audit_log: AuditLog, data_options: list[str], capsys
):
    audit_log.record(AuditEventType.LOGIN, actor="dana")
    code, lines = verify(data_options, capsys)
    assert code == 2
    assert status_of(lines) == {"local chain": "ok", "server checks": "not run"}
    assert "no server_url under [sync]" in line_of(lines, "server checks")


def test_a_server_rolled_back_to_an_older_copy_is_caught(
    synced: str,
    audit_log: AuditLog,
    server_db: ServerDatabase,
    live_server: ThreadServer,
    data_options: list[str],
    tmp_path: Path,
    capsys,
):
    server_file = Path(str(server_db.engine.url.database))
    backup = tmp_path / "server-backup.sqlite3"
    copy_database(server_file, backup)  # the server's copy of the first SYNCED events
    audit_log.record(AuditEventType.LOGIN, actor="dana")
    assert main(["sync", "now", *data_options]) == 0  # the client now holds a checkpoint of 7
    live_server.stop()
    copy_database(backup, server_file)  # the server restored from its backup
    live_server.start()
    capsys.readouterr()

    code, lines = verify(data_options, capsys)
    assert status_of(lines) == {
        **ALL_OK,
        "server checkpoint": "FAILED",
        "log vs server": "not run",
    }
    assert code == 1
    assert (
        f"the server now holds {SYNCED} events, but signed a checkpoint of {SYNCED + 1}"
        in line_of(lines, "server checkpoint")
    )

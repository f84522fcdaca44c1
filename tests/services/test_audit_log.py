from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from app.cli import main
from app.models import AuditEventType, Outcome
from app.models.audit_chain import parse_time
from app.services.audit_log import (
    AuditLog,
    AuditLogUnavailable,
    AuditWriteError,
    read_events,
    verify_file,
)
from app.settings import Settings
from tests.conftest import ManualClock
from tests.disk import read_only_view

REPO = Path(__file__).resolve().parents[2]


def fill_log(log: AuditLog, clock: ManualClock, count: int) -> None:
    for number in range(count):
        clock.advance(seconds=1)
        log.record(AuditEventType.FEED_ALLOWED, actor="ops", subject=f"cam {number}", camera_id="c")


def tamper(path: Path, *statements: str) -> None:
    """Change the file behind Beacon's back, as an attacker with file access could."""
    connection = sqlite3.connect(path)
    connection.execute("DROP TRIGGER audit_events_no_update")
    connection.execute("DROP TRIGGER audit_events_no_delete")
    for statement in statements:
        connection.execute(statement)
    connection.commit()
    connection.close()


def cli(settings: Settings, *args: str) -> int:
    return main([*args, "--data-dir", str(settings.data_dir)])


def test_events_carry_what_an_auditor_needs(audit_log: AuditLog, settings: Settings):
    audit_log.record(
        AuditEventType.FEED_CLOSED,
        actor="ops",
        subject="Harbor Deli door",
        camera_id="cam-7",
        purpose="incident:2026-1",
        policy_version=3,
        decision="allow",
        reason="closed_by_operator",
        duration_ms=61_250,
    )
    [event] = read_events(settings.audit_db)
    assert event["event_type"] == "feed_closed"
    assert event["workstation"] == "test-ws"
    assert event["outcome"] == "success"
    assert event["duration_ms"] == 61_250
    assert parse_time(str(event["time"])).microsecond == 0  # the test clock has whole seconds
    assert str(event["time"]).endswith(".000000Z")  # microsecond resolution, UTC


def test_the_log_is_append_only(audit_log: AuditLog, settings: Settings):
    fill_log(audit_log, ManualClock(audit_log.now()), 3)
    connection = sqlite3.connect(settings.audit_db)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        connection.execute("UPDATE audit_events SET hash = x'00' WHERE seq = 2")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        connection.execute("DELETE FROM audit_events WHERE seq = 3")
    connection.close()
    assert verify_file(settings.audit_db).count == 3


def test_intact_log_verifies_with_exit_0(
    audit_log: AuditLog, settings: Settings, clock: ManualClock, capsys
):
    fill_log(audit_log, clock, 20)
    assert cli(settings, "audit", "verify") == 0
    assert "intact: 20 events" in capsys.readouterr().out
    assert [e["event_type"] for e in read_events(settings.audit_db)][-1] == "audit_read"


@pytest.mark.parametrize(
    ("statements", "first_bad"),
    [
        pytest.param(
            ["UPDATE audit_events SET record = replace(record, 'cam 6', 'cam X') WHERE seq = 7"],
            7,
            id="changed",
        ),
        pytest.param(["DELETE FROM audit_events WHERE seq = 5"], 5, id="removed"),
        pytest.param(
            [
                "UPDATE audit_events SET seq = seq + 1000 WHERE seq >= 9",
                "INSERT INTO audit_events (seq, record, hash) "
                "SELECT 9, record, hash FROM audit_events WHERE seq = 8",
                "UPDATE audit_events SET seq = seq - 999 WHERE seq >= 1000",
            ],
            9,
            id="inserted",
        ),
        pytest.param(
            [
                "UPDATE audit_events SET seq = -1 WHERE seq = 4",
                "UPDATE audit_events SET seq = 4 WHERE seq = 5",
                "UPDATE audit_events SET seq = 5 WHERE seq = -1",
            ],
            4,
            id="reordered",
        ),
    ],
)
def test_tampering_is_found_at_the_first_bad_seq(
    audit_log: AuditLog,
    settings: Settings,
    clock: ManualClock,
    capsys,
    statements: list[str],
    first_bad: int,
):
    fill_log(audit_log, clock, 12)
    audit_log.close()
    tamper(settings.audit_db, *statements)
    assert main(["audit", "verify", "--db", str(settings.audit_db)]) == 1
    assert f"first bad sequence number {first_bad}" in capsys.readouterr().out
    # the same verdict when the chain is checked in pieces on several processes
    for workers in (2, 5):
        verdict = verify_file(settings.audit_db, workers=workers, parallel_from=1)
        assert verdict.first_bad_seq == first_bad, (workers, verdict)


@pytest.mark.parametrize("workers", [3])
def test_parallel_verification_agrees_on_intact_and_truncated_logs(
    audit_log: AuditLog, settings: Settings, clock: ManualClock, workers: int
):
    fill_log(audit_log, clock, 40)
    assert verify_file(settings.audit_db, workers=workers, parallel_from=1).count == 40
    audit_log.close()
    tamper(settings.audit_db, "DELETE FROM audit_events WHERE seq BETWEEN 20 AND 21")
    verdict = verify_file(settings.audit_db, workers=workers, parallel_from=1)
    assert (verdict.first_bad_seq, verdict.count) == (20, 19)


def test_missing_or_foreign_files_exit_2(tmp_path: Path, capsys):
    assert main(["audit", "verify", "--db", str(tmp_path / "none.sqlite")]) == 2
    assert "no such audit log" in capsys.readouterr().err
    foreign = tmp_path / "foreign.sqlite"
    connection = sqlite3.connect(foreign)
    connection.execute("CREATE TABLE recipes (name TEXT)")
    connection.commit()
    connection.close()
    assert main(["audit", "verify", "--db", str(foreign)]) == 2
    assert "not a Beacon audit log" in capsys.readouterr().err
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(os.urandom(8192))
    assert main(["audit", "verify", "--db", str(garbage)]) == 2
    assert "not a Beacon audit log" in capsys.readouterr().err


def test_opening_a_corrupt_foreign_or_newer_file_is_refused_unchanged(tmp_path: Path):
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(AuditLogUnavailable, match="not a Beacon database"):
        AuditLog.open(garbage, "ws")
    assert garbage.read_bytes() == b"this is not sqlite" * 100

    foreign = tmp_path / "foreign.sqlite"
    connection = sqlite3.connect(foreign)
    connection.execute("CREATE TABLE recipes (name TEXT)")
    connection.commit()
    connection.close()
    with pytest.raises(AuditLogUnavailable, match="another program"):
        AuditLog.open(foreign, "ws")

    newer = tmp_path / "newer.sqlite"
    AuditLog.open(newer, "ws").close()
    connection = sqlite3.connect(newer)
    connection.execute("UPDATE alembic_version SET version_num = 'z999'")
    connection.commit()
    connection.close()
    with pytest.raises(AuditLogUnavailable, match="newer version of Beacon"):
        AuditLog.open(newer, "ws")


def test_damaged_pages_are_reported_not_crashed(tmp_path: Path, clock: ManualClock):
    path = tmp_path / "audit.sqlite"
    log = AuditLog.open(path, "ws", clock)
    fill_log(log, clock, 300)
    log.close()
    data = bytearray(path.read_bytes())
    data[4096 * 2 : 4096 * 4] = os.urandom(4096 * 2)
    path.write_bytes(bytes(data))
    with pytest.raises(AuditLogUnavailable):
        verdict = verify_file(path)
        assert not verdict.intact  # a damaged page read as rows must still break the chain
        raise AuditLogUnavailable("damaged rows were read but broke the chain")


def test_wal_and_full_sync_are_required(tmp_path: Path):
    with pytest.raises(AuditLogUnavailable, match="journal_mode=wal"):
        AuditLog(engine=None, path=Path(":memory:"), workstation="ws", clock=None)  # type: ignore[arg-type]


def test_a_read_only_audit_file_is_refused_clearly(tmp_path: Path, clock: ManualClock):
    source = tmp_path / "data"
    source.mkdir()
    log = AuditLog.open(source / "audit.sqlite", "ws", clock)
    fill_log(log, clock, 5)
    log.close()
    with read_only_view(source, tmp_path / "ro") as view:
        with pytest.raises(AuditLogUnavailable, match="read-only: Beacon cannot record"):
            AuditLog.open(view / "audit.sqlite", "ws", clock)
        assert verify_file(view / "audit.sqlite").count == 5


def test_concurrent_appends_keep_one_chain(audit_log: AuditLog, settings: Settings):
    def write(worker: int) -> None:
        for number in range(200):
            audit_log.record(AuditEventType.GEOFENCE_QUERY, actor=f"w{worker}", subject=str(number))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    verdict = verify_file(settings.audit_db)
    assert verdict.intact and verdict.count == 1600


def test_float_details_are_refused_before_taking_a_seq(audit_log: AuditLog):
    with pytest.raises(TypeError, match="float"):
        audit_log.record(AuditEventType.EXPORT, actor="ops", details={"size": 1.5})  # type: ignore[dict-item]
    assert audit_log.head.seq == 0


def test_export_csv_and_json_with_time_range_is_audited(
    audit_log: AuditLog, settings: Settings, clock: ManualClock, capsys, tmp_path: Path
):
    start = clock()
    fill_log(audit_log, clock, 10)  # events at start+1s .. start+10s
    since = (start.replace(microsecond=0)).isoformat().replace("+00:00", "Z")
    until = start.replace(second=start.second + 6).isoformat()
    assert (
        cli(settings, "audit", "export", "--format", "json", "--since", since, "--until", until)
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert [row["subject"] for row in rows] == [f"cam {n}" for n in range(5)]
    out = tmp_path / "audit.csv"
    assert cli(settings, "audit", "export", "--format", "csv", "--output", str(out)) == 0
    lines = out.read_text().splitlines()
    assert lines[0].startswith("seq,time,event_type,actor,workstation,subject,camera_id")
    assert len(lines) == 1 + 11  # the ten events and the first export's own record
    exports = [e for e in read_events(settings.audit_db) if e["event_type"] == "audit_export"]
    assert [e["details"]["format"] for e in exports] == ["json", "csv"]
    assert exports[0]["details"]["events"] == 5


def test_a_failed_write_leaves_the_head_where_it_was(audit_log: AuditLog):
    audit_log.record(AuditEventType.LOGIN, actor="ops")
    head = audit_log.head
    audit_log._connection.execute("PRAGMA query_only = ON")
    with pytest.raises(AuditWriteError, match="could not record export"):
        audit_log.record(AuditEventType.EXPORT, actor="ops", outcome=Outcome.SUCCESS)
    audit_log._connection.execute("PRAGMA query_only = OFF")
    assert audit_log.head == head
    assert audit_log.record(AuditEventType.LOGOUT, actor="ops").seq == head.seq + 1


@pytest.mark.slow
def test_sigkill_mid_stream_loses_no_acknowledged_event(tmp_path: Path):
    path = tmp_path / "audit.sqlite"
    writer = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("audit_writer_process.py")),
            str(path),
            "10000",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert writer.stdout is not None
    acknowledged = 0
    for line in writer.stdout:
        acknowledged = int(line)
        if acknowledged >= 3000:
            writer.send_signal(signal.SIGKILL)
            break
    writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    verdict = verify_file(path)
    assert verdict.intact, verdict.problem
    assert verdict.count >= acknowledged
    assert verdict.count < 10000, "the writer finished before it was killed"


def test_two_writers_on_one_file_share_one_chain(settings: Settings, clock: ManualClock):
    """The console and a `beacon` command may append to the same log at the same time."""
    first = AuditLog.open(settings.audit_db, "ws", clock)
    second = AuditLog.open(settings.audit_db, "ws", clock)
    try:
        for number in range(50):
            (first if number % 3 else second).record(AuditEventType.LOGIN, actor=str(number))
    finally:
        first.close()
        second.close()
    verdict = verify_file(settings.audit_db)
    assert verdict.intact and verdict.count == 50

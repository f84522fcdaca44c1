"""The local audit log: append-only, hash-chained, durable before an action happens.

One SQLite file in the data directory, WAL mode with ``synchronous=FULL`` (read back at open;
Beacon refuses to run otherwise), UPDATE and DELETE rejected by triggers, every event chained to
the one before (encoding in ``app.models.audit_chain``). ``append`` returns only after the event
is committed to disk; when it cannot, it raises ``AuditWriteError`` and the caller must not do
what it was about to record (fail closed).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import multiprocessing
import os
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from app.models.audit_chain import (
    GENESIS_HASH,
    AuditEventType,
    AuditRecord,
    ChainVerdict,
    DetailValue,
    Outcome,
    chain_hash,
    verify_chain,
)
from app.services.clock import Clock, utc_now
from app.services.sqlite_store import AUDIT, DatabaseOpenError, open_database

log = logging.getLogger(__name__)

EXPORT_FIELDS = (
    "seq",
    "time",
    "event_type",
    "actor",
    "workstation",
    "subject",
    "camera_id",
    "purpose",
    "policy_version",
    "decision",
    "reason",
    "outcome",
    "duration_ms",
    "details",
    "hash",
)


class AuditWriteError(Exception):
    """An event could not be made durable; what it records must not happen."""


class AuditLogUnavailable(Exception):
    """The audit log cannot be opened or used; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class AuditReceipt:
    seq: int
    hash: bytes


def _connect_read_only(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise AuditLogUnavailable(f"{path}: no such audit log")
    # On read-only media a WAL database cannot get its -shm file; nobody can write there
    # either, so reading it as immutable is safe.
    immutable = "&immutable=1" if not os.access(path.parent, os.W_OK) else ""
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro{immutable}", uri=True)
        tables = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
    except sqlite3.DatabaseError as exc:
        raise AuditLogUnavailable(f"{path} is not a Beacon audit log ({exc})") from exc
    if "audit_events" not in tables or "alembic_version" not in tables:
        connection.close()
        raise AuditLogUnavailable(f"{path} is not a Beacon audit log (no audit_events table)")
    return connection


# Below this many events one process verifies faster than starting more.
PARALLEL_VERIFY_MIN_EVENTS = 200_000


def _verify_range(path: Path, low: int, high: int) -> ChainVerdict:
    """Check the links of events ``low..high`` from the stored hash before ``low``."""
    connection = _connect_read_only(path)
    try:
        previous = GENESIS_HASH
        if low > 1:
            row = connection.execute(
                "SELECT CAST(hash AS BLOB) FROM audit_events WHERE seq = ?", (low - 1,)
            ).fetchone()
            if row is None:
                return ChainVerdict(0, low - 1, f"event {low - 1} is missing")
            previous = row[0]
        rows = connection.execute(
            "SELECT seq, CAST(record AS BLOB), CAST(hash AS BLOB) FROM audit_events "
            "WHERE seq BETWEEN ? AND ? ORDER BY seq",
            (low, high),
        )
        verdict = verify_chain(rows, first_seq=low, previous=previous)
    finally:
        connection.close()
    if verdict.intact and verdict.count != high - low + 1:
        missing = low + verdict.count
        return ChainVerdict(verdict.count, missing, f"event {missing} is missing")
    return verdict


def verify_file(
    path: Path,
    workers: int | None = None,
    parallel_from: int = PARALLEL_VERIFY_MIN_EVENTS,
) -> ChainVerdict:
    """Walk the whole chain of an audit log file without changing it.

    A chain proves that nothing before its newest event was changed, removed, inserted or
    reordered; cutting events off the end leaves a shorter valid chain, which only a checkpoint
    held elsewhere (the sync server's) can reveal. Large logs are checked in pieces on all cores
    (see ``verify_chain``); the verdict is the same as one walk from the start.
    """
    connection = _connect_read_only(path)
    try:
        lowest, highest = connection.execute(
            "SELECT MIN(seq), MAX(seq) FROM audit_events"
        ).fetchone()
        workers = workers or os.cpu_count() or 1
        if workers < 2 or highest is None or highest < parallel_from or lowest < 1:
            # CAST: a tampered row may hold another SQLite type; it must fail, not crash.
            rows = connection.execute(
                "SELECT seq, CAST(record AS BLOB), CAST(hash AS BLOB) FROM audit_events "
                "ORDER BY seq"
            )
            return verify_chain(rows)
    except sqlite3.DatabaseError as exc:
        raise AuditLogUnavailable(f"{path} cannot be read ({exc})") from exc
    finally:
        connection.close()
    size = -(-highest // workers)
    bounds = [(low, min(low + size - 1, highest)) for low in range(1, highest + 1, size)]
    context = multiprocessing.get_context("spawn")  # never fork a process that runs Qt threads
    try:
        with ProcessPoolExecutor(len(bounds), mp_context=context) as pool:
            verdicts = list(
                pool.map(_verify_range, [path] * len(bounds), *zip(*bounds, strict=True))
            )
    except sqlite3.DatabaseError as exc:
        raise AuditLogUnavailable(f"{path} cannot be read ({exc})") from exc
    counted = 0
    for verdict in verdicts:
        counted += verdict.count
        if not verdict.intact:
            return ChainVerdict(counted, verdict.first_bad_seq, verdict.problem)
    return ChainVerdict(counted)


def _export_row(seq: int, record: bytes, digest: bytes) -> dict[str, Any]:
    fields = json.loads(record)
    row = {key: fields.get(key) for key in EXPORT_FIELDS}
    row["seq"] = seq
    row["hash"] = digest.hex()
    return row


def read_events(
    path: Path, since: datetime | None = None, until: datetime | None = None
) -> Iterator[dict[str, Any]]:
    """Events of an audit log file in order, optionally limited to ``since <= time < until``."""
    from app.models.audit_chain import format_time

    clauses, params = [], []
    if since is not None:
        clauses.append("time >= ?")
        params.append(format_time(since))
    if until is not None:
        clauses.append("time < ?")
        params.append(format_time(until))
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    connection = _connect_read_only(path)
    try:
        query = f"SELECT seq, record, hash FROM audit_events {where} ORDER BY seq"
        for seq, record, digest in connection.execute(query, params):
            yield _export_row(seq, record, digest)
    finally:
        connection.close()


def export_events(rows: list[dict[str, Any]], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=1) + "\n"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "details": json.dumps(row["details"], sort_keys=True)})
    return buffer.getvalue()


class AuditLog:
    """The workstation's audit log, open for appending; safe to use from any thread."""

    def __init__(self, engine: Engine, path: Path, workstation: str, clock: Clock) -> None:
        self._engine = engine
        self.path = path
        self.workstation = workstation
        self._clock = clock
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=5
        )
        try:
            self._check_durability()
            row = self._connection.execute(
                "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        except BaseException:
            self._connection.close()
            raise
        self._head_seq: int = row[0] if row else 0
        self._head_hash: bytes = row[1] if row else GENESIS_HASH

    @classmethod
    def open(cls, path: Path, workstation: str, clock: Clock = utc_now) -> AuditLog:
        for place in (path, path.parent):
            if place.exists() and not os.access(place, os.W_OK):
                raise AuditLogUnavailable(
                    f"{place} is read-only: Beacon cannot record what happens, so it will not "
                    "run. Make the audit log and its folder writable for this user, or use "
                    "--data-dir."
                )
        try:
            engine = open_database(path, AUDIT, synchronous="FULL")
        except DatabaseOpenError as exc:
            raise AuditLogUnavailable(str(exc)) from exc
        try:
            return cls(engine, path, workstation, clock)
        except sqlite3.DatabaseError as exc:
            engine.dispose()
            raise AuditLogUnavailable(f"{path}: the audit log cannot be used ({exc})") from exc
        except AuditLogUnavailable:
            engine.dispose()
            raise

    def _check_durability(self) -> None:
        connection = self._connection
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        journal = connection.execute("PRAGMA journal_mode").fetchone()[0]
        synchronous = connection.execute("PRAGMA synchronous").fetchone()[0]
        if str(journal).lower() != "wal" or synchronous != 2:
            raise AuditLogUnavailable(
                f"{self.path}: the audit log must run with journal_mode=wal and "
                f"synchronous=FULL, but reads back journal_mode={journal}, "
                f"synchronous={synchronous}; Beacon will not run without a durable audit log"
            )

    @property
    def head(self) -> AuditReceipt:
        with self._lock:
            return AuditReceipt(self._head_seq, self._head_hash)

    def now(self) -> datetime:
        return self._clock()

    def append(self, record: AuditRecord) -> AuditReceipt:
        """Write one event durably; raise AuditWriteError (and write nothing) when that fails."""
        record.canonical(0)  # a malformed record fails here, before it can take a seq
        with self._lock:
            connection = self._connection
            try:
                # The head is read under SQLite's write lock: another process (the console and
                # a `beacon` command at once) may have appended since this one last did.
                connection.execute("BEGIN IMMEDIATE")
                try:
                    row = connection.execute(
                        "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1"
                    ).fetchone()
                    previous_seq, previous_hash = row if row else (0, GENESIS_HASH)
                    seq = previous_seq + 1
                    canonical = record.canonical(seq)
                    digest = chain_hash(previous_hash, seq, canonical)
                    connection.execute(
                        "INSERT INTO audit_events (seq, record, hash) VALUES (?, ?, ?)",
                        (seq, canonical, digest),
                    )
                    connection.execute("COMMIT")
                except BaseException:
                    if connection.in_transaction:
                        connection.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                log.error("audit write failed for %s: %s", record.event_type.value, exc)
                raise AuditWriteError(
                    f"the audit log could not record {record.event_type.value} ({exc}); "
                    "the action was not carried out. Free disk space or ask the administrator."
                ) from exc
            self._head_seq, self._head_hash = seq, digest
            return AuditReceipt(seq, digest)

    def record(
        self,
        event_type: AuditEventType,
        *,
        actor: str,
        outcome: Outcome = Outcome.SUCCESS,
        subject: str = "",
        camera_id: str | None = None,
        purpose: str | None = None,
        policy_version: int | None = None,
        decision: str | None = None,
        reason: str | None = None,
        duration_ms: int | None = None,
        details: dict[str, DetailValue] | None = None,
    ) -> AuditReceipt:
        """Append an event stamped with this log's clock and workstation."""
        return self.append(
            AuditRecord(
                event_type=event_type,
                time=self._clock(),
                actor=actor,
                workstation=self.workstation,
                outcome=outcome,
                subject=subject,
                camera_id=camera_id,
                purpose=purpose,
                policy_version=policy_version,
                decision=decision,
                reason=reason,
                duration_ms=duration_ms,
                details=details or {},
            )
        )

    def close(self) -> None:
        with self._lock:
            self._connection.close()
        self._engine.dispose()

"""Audit log benchmark: durable appends per second and chain verification speed.

Appends go through ``AuditLog.record`` exactly as the console makes them: each one is committed
with ``synchronous=FULL`` before the call returns. Verification walks a log of ``--events``
(default 1,000,000) real chained events with ``verify_file``, as ``beacon audit verify`` does.
The reference for appends is a bare sqlite3 loop doing the same durable commits, in this run.

Prints one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.models import AuditEventType, AuditRecord, Outcome, chain_hash
from app.models.audit_chain import GENESIS_HASH
from app.services.audit_log import AuditLog, verify_file


def durable_appends(path: Path, count: int, threads: int) -> float:
    log = AuditLog.open(path, "bench-ws")
    per_thread = count // threads

    def work(worker: int) -> None:
        for number in range(per_thread):
            log.record(
                AuditEventType.FEED_ALLOWED,
                actor=f"ops{worker}",
                subject="Harbor Deli door",
                camera_id="cam-0042",
                purpose="incident:2026-004512",
                policy_version=3,
                decision="allow",
                reason="allowed_continuous",
                details={"n": number},
            )

    started = time.perf_counter()
    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    log.close()
    return per_thread * threads / elapsed


def bare_sqlite_commits(path: Path, count: int) -> float:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, record BLOB, hash BLOB)")
    payload = b"x" * 330
    started = time.perf_counter()
    for seq in range(1, count + 1):
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO t VALUES (?, ?, ?)", (seq, payload, payload[:32]))
        connection.execute("COMMIT")
    elapsed = time.perf_counter() - started
    connection.close()
    return count / elapsed


def build_large_log(path: Path, events: int) -> None:
    """A log of real chained events, written in bulk (the chain is the same as appends make)."""
    AuditLog.open(path, "bench-ws").close()
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA synchronous=OFF")
    start = datetime(2026, 11, 1, tzinfo=UTC)
    previous = GENESIS_HASH
    batch: list[tuple[int, bytes, bytes]] = []
    connection.execute("BEGIN")
    for seq in range(1, events + 1):
        record = AuditRecord(
            event_type=AuditEventType.FEED_ALLOWED,
            time=start + timedelta(milliseconds=37 * seq),
            actor="ops1",
            workstation="bench-ws",
            outcome=Outcome.SUCCESS,
            subject="Harbor Deli door",
            camera_id=f"cam-{seq % 500:04d}",
            purpose="incident:2026-004512",
            policy_version=3,
            decision="allow",
            reason="allowed_continuous",
        ).canonical(seq)
        previous = chain_hash(previous, seq, record)
        batch.append((seq, record, previous))
        if len(batch) == 50_000:
            connection.executemany(
                "INSERT INTO audit_events (seq, record, hash) VALUES (?,?,?)", batch
            )
            batch.clear()
    connection.executemany("INSERT INTO audit_events (seq, record, hash) VALUES (?,?,?)", batch)
    connection.execute("COMMIT")
    connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--appends", type=int, default=5000)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as scratch:
        folder = Path(scratch)
        reference = bare_sqlite_commits(folder / "bare.sqlite", args.appends)
        sequential = durable_appends(folder / "seq.sqlite", args.appends, threads=1)
        concurrent = durable_appends(folder / "conc.sqlite", args.appends, threads=4)
        print(
            f"durable appends/s: 1 thread {sequential:,.0f}, 4 threads {concurrent:,.0f}; "
            f"bare sqlite3 commits/s {reference:,.0f}"
        )
        large = folder / "large.sqlite"
        started = time.perf_counter()
        build_large_log(large, args.events)
        print(f"built {args.events:,} chained events in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        verdict = verify_file(large)
        elapsed = time.perf_counter() - started
        assert verdict.intact and verdict.count == args.events, verdict
        print(f"verified {verdict.count:,} events in {elapsed:.2f} s")
    print(
        json.dumps(
            {
                "durable_appends_per_s": round(sequential),
                "durable_appends_per_s_4_threads": round(concurrent),
                "bare_sqlite_durable_commits_per_s": round(reference),
                "append_ratio_vs_bare_sqlite": round(sequential / reference, 3),
                "verify_events": args.events,
                "verify_events_per_s": round(verdict.count / elapsed),
            }
        )
    )


if __name__ == "__main__":
    main()

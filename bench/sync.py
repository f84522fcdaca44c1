"""Audit sync benchmark: a workstation's audit log synced to the server on PostgreSQL.

Starts its own PostgreSQL cluster in a temporary directory (``tests.postgres``) and the sync
server as a separate process, as ``beacon server`` runs it (``python -m server``: uvicorn, one
process). Fills real audit logs (the console's schema, events chained with the console's own
encoding and hash; a realistic mix of logins, geofence queries, feed opens, denials, closes and
footage requests) and verifies each with ``verify_file`` before it is sent. Then times the real
sync client (``AuditSync.sync_once``) from its start to "everything acknowledged", with every
check on: the server verifies each event's chain hash, extends the workstation's Merkle tree
and signs a checkpoint per batch; the client checks each checkpoint's signature, the inclusion
proof of the batch's last event and the consistency proof from its last checkpoint.

Phases:
1. one workstation, ``--events`` events (default 100,000);
2. ``--workstations`` workstations (default 10, each its own log, client and token) syncing at
   once, ``--events-per-workstation`` each (default 10,000), in threads of this process;
3. the reference, in the same run: the same rows of phase 1 written into the same table (same
   indexes, a fresh database) by one PostgreSQL ``COPY``, the floor any server could reach.

Batch cycle times are the intervals between the client's consecutive acknowledgements (read the
rows, upload, verify the answer, save the position). CPU seconds are read from ``/proc``: the
client thread's, the server process's and PostgreSQL's (the postmaster and its backends).

Run from the repository root: ``.venv/bin/python -m bench.sync`` (``--quick`` for a smoke run
of a few seconds). Needs Debian's ``postgresql`` package. Prints one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from app.models import AuditEventType, AuditRecord, Outcome, chain_hash
from app.models.audit_chain import GENESIS_HASH, parse_time
from app.services.audit_log import AuditLog, verify_file
from app.services.audit_sync import AuditSync, SyncPhase, SyncState
from app.settings import SyncSettings
from tests.postgres import PostgresCluster
from tests.sync_server import ProcessServer, ServerDatabase

GOAL_EVENTS_PER_S = 20_000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
FILL_CHUNK = 20_000


# ---- the local audit logs ------------------------------------------------------------------------


def operators_work(workstation: str) -> Iterator[AuditRecord]:
    """What a console records, endlessly: a login, a geofence query around an incident, four
    feeds opened (in one session of three the last is denied), three closed, and in one session
    of five a footage request."""
    moment = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)

    def tick() -> datetime:
        nonlocal moment
        moment += timedelta(milliseconds=1_700)
        return moment

    for number in itertools.count(1):
        actor = f"op{number % 17:02d}"
        incident = f"2026-{number % 90_000:06d}"
        purpose = f"incident:{incident}"
        cameras = [f"cam-{(number * 7 + offset) % 5_000:05d}" for offset in range(4)]
        subjects = [f"Elm St {100 + offset} entrance" for offset in range(4)]

        login = AuditRecord(
            AuditEventType.LOGIN, tick(), actor, workstation, Outcome.SUCCESS, "password+totp"
        )
        yield login
        on_incident = replace(login, purpose=purpose)
        yield replace(
            on_incident,
            event_type=AuditEventType.GEOFENCE_QUERY,
            time=tick(),
            subject=f"radius 400 m around {incident}",
            details={"incident": incident, "radius_m": 400, "cameras": 23 + number % 40},
        )
        for offset, (camera, subject) in enumerate(zip(cameras, subjects, strict=True)):
            if offset == 3 and number % 3 == 0:
                yield replace(
                    on_incident,
                    event_type=AuditEventType.FEED_DENIED,
                    time=tick(),
                    outcome=Outcome.FAILURE,
                    subject=subject,
                    camera_id=camera,
                    policy_version=2,
                    decision="deny",
                    reason="outside_schedule",
                    details={"incident": incident},
                )
            else:
                yield replace(
                    on_incident,
                    event_type=AuditEventType.FEED_ALLOWED,
                    time=tick(),
                    subject=subject,
                    camera_id=camera,
                    policy_version=3,
                    decision="allow",
                    reason="allowed_continuous",
                    details={"incident": incident, "tile": offset, "stream": "sub"},
                )
        for offset, (camera, subject) in enumerate(zip(cameras[:3], subjects, strict=False)):
            yield replace(
                on_incident,
                event_type=AuditEventType.FEED_CLOSED,
                time=tick(),
                subject=subject,
                camera_id=camera,
                reason="operator_closed",
                duration_ms=41_000 + 1_000 * offset,
                details={"incident": incident, "tile": offset},
            )
        if number % 5 == 0:
            yield replace(
                on_incident,
                event_type=AuditEventType.FOOTAGE_REQUEST,
                time=tick(),
                subject="Harbor Deli (owner 0042)",
                camera_id=cameras[0],
                details={"incident": incident, "from": "18:40", "to": "19:10"},
            )


def fill_audit_log(path: Path, workstation: str, count: int) -> None:
    """A real audit log of ``count`` chained events, written in bulk, then verified whole.

    The schema is the console's (``AuditLog.open`` creates it); each event is encoded and
    chained exactly as ``AuditLog.append`` does, only many to a transaction.
    """
    AuditLog.open(path, workstation).close()
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA synchronous=OFF")  # filling a scratch file: no crash to survive
    insert = "INSERT INTO audit_events (seq, record, hash) VALUES (?, ?, ?)"
    previous = GENESIS_HASH
    rows: list[tuple[int, bytes, bytes]] = []
    connection.execute("BEGIN")
    for seq, record in enumerate(itertools.islice(operators_work(workstation), count), 1):
        canonical = record.canonical(seq)
        previous = chain_hash(previous, seq, canonical)
        rows.append((seq, canonical, previous))
        if len(rows) == FILL_CHUNK:
            connection.executemany(insert, rows)
            rows.clear()
    connection.executemany(insert, rows)
    connection.execute("COMMIT")
    connection.close()
    verdict = verify_file(path)
    if not verdict.intact or verdict.count != count:
        raise RuntimeError(f"the bench's own log {path} does not verify: {verdict}")


# ---- CPU time from /proc -------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    """Fields 3.. of ``/proc/PID/stat`` (proc(5)), or None if the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "


def process_cpu_s(pid: int, *, reaped_children: bool = False) -> float:
    """User plus system CPU seconds of a live process (0 if it is gone); with
    ``reaped_children``, plus those of its children that ended and were waited for."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / CLOCK_TICKS


def postgres_cpu_s(cluster: PostgresCluster) -> float:
    """CPU seconds of the cluster: its postmaster, its live backends and the ended ones."""
    postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None and int(fields[1]) == postmaster:
                children.append(int(entry.name))
    return process_cpu_s(postmaster, reaped_children=True) + sum(
        process_cpu_s(pid) for pid in children
    )


@dataclass
class CpuMeter:
    """CPU seconds used by the server process and by PostgreSQL between start and stop."""

    server_pid: int
    cluster: PostgresCluster
    server_s: float = 0.0
    postgres_s: float = 0.0

    def __enter__(self) -> CpuMeter:
        self.server_s = -process_cpu_s(self.server_pid)
        self.postgres_s = -postgres_cpu_s(self.cluster)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server_s += process_cpu_s(self.server_pid)
        self.postgres_s += postgres_cpu_s(self.cluster)


# ---- syncing -------------------------------------------------------------------------------------


class Acknowledgements:
    """When each new acknowledged position was reached (the client's state callback)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._seq = -1

    def __call__(self, state: SyncState) -> None:
        if state.acknowledged_seq != self._seq:
            self._seq = state.acknowledged_seq
            self.times.append(time.perf_counter())

    def cycles_ms(self) -> list[float]:
        return [1000 * (b - a) for a, b in zip(self.times, self.times[1:], strict=False)]


@dataclass
class Workstation:
    workstation_id: str
    log_path: Path
    events: int
    client: AuditSync
    acknowledgements: Acknowledgements


def make_workstation(
    folder: Path,
    database: ServerDatabase,
    server_url: str,
    workstation_id: str,
    events: int,
    batch_size: int,
) -> Workstation:
    log_path = folder / f"{workstation_id}.sqlite"
    fill_audit_log(log_path, workstation_id, events)
    token = database.register(workstation_id)
    acknowledgements = Acknowledgements()
    client = AuditSync(
        audit_path=log_path,
        server_url=server_url,
        workstation_id=workstation_id,
        token=lambda: token,
        state_path=folder / f"{workstation_id}-sync.json",
        batch_size=batch_size,
        on_change=acknowledgements,
    )
    return Workstation(workstation_id, log_path, events, client, acknowledgements)


def sync_all(workstation: Workstation, database: ServerDatabase) -> SyncState:
    """Run one sync job; fail loudly unless every event is acknowledged and stored."""
    state = workstation.client.sync_once()
    if (
        state.phase is not SyncPhase.SYNCED
        or state.acknowledged_seq != workstation.events
        or state.stored != workstation.events
    ):
        raise RuntimeError(f"{workstation.workstation_id} did not sync: {state}")
    head_seq, _ = database.head(workstation.workstation_id)
    if head_seq != workstation.events:
        raise RuntimeError(f"the server holds {head_seq} events of {workstation.workstation_id}")
    return state


def percentile(values: list[float], fraction: float) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[round(fraction * 100) - 1]


def one_workstation(
    workstation: Workstation, database: ServerDatabase, meter: CpuMeter
) -> dict[str, float | int]:
    with meter:
        client_cpu = -time.thread_time()
        started = time.perf_counter()
        sync_all(workstation, database)
        seconds = time.perf_counter() - started
        client_cpu += time.thread_time()
    cycles = workstation.acknowledgements.cycles_ms()
    return {
        "events": workstation.events,
        "seconds": round(seconds, 3),
        "events_per_s": round(workstation.events / seconds),
        "batches": len(cycles),
        "batch_cycle_ms_p50": round(percentile(cycles, 0.5), 2),
        "batch_cycle_ms_p95": round(percentile(cycles, 0.95), 2),
        "client_cpu_s": round(client_cpu, 2),
        "server_cpu_s": round(meter.server_s, 2),
        "postgres_cpu_s": round(meter.postgres_s, 2),
    }


def many_workstations(
    workstations: list[Workstation], database: ServerDatabase, meter: CpuMeter
) -> dict[str, float | int]:
    together = threading.Barrier(len(workstations) + 1)

    def run(workstation: Workstation) -> None:
        together.wait()
        sync_all(workstation, database)

    with meter, ThreadPoolExecutor(len(workstations)) as pool:
        done = [pool.submit(run, workstation) for workstation in workstations]
        together.wait()
        started = time.perf_counter()
        for future in done:
            future.result()
        seconds = time.perf_counter() - started
    total = sum(workstation.events for workstation in workstations)
    cycles = [ms for ws in workstations for ms in ws.acknowledgements.cycles_ms()]
    return {
        "workstations": len(workstations),
        "events": total,
        "seconds": round(seconds, 3),
        "events_per_s": round(total / seconds),
        "batch_cycle_ms_p50": round(percentile(cycles, 0.5), 2),
        "batch_cycle_ms_p95": round(percentile(cycles, 0.95), 2),
        "server_cpu_s": round(meter.server_s, 2),
        "postgres_cpu_s": round(meter.postgres_s, 2),
    }


# ---- the reference: PostgreSQL's COPY of the same rows --------------------------------------


def copy_reference(cluster: PostgresCluster, log_path: Path, workstation_id: str) -> float:
    """Events per second of one COPY of the log's rows into a fresh server schema."""
    url = cluster.create_database("reference")
    database = ServerDatabase(url)
    database.register(workstation_id)
    database.close()
    received_at = datetime.now(UTC)
    rows = []
    previous = GENESIS_HASH
    with sqlite3.connect(f"{log_path.resolve().as_uri()}?mode=ro", uri=True) as local:
        for seq, record, digest in local.execute(
            "SELECT seq, record, hash FROM audit_events ORDER BY seq"
        ):
            fields = json.loads(record)
            details = fields["details"]
            rows.append(
                (
                    workstation_id,
                    seq,
                    record,
                    digest,
                    previous,
                    parse_time(fields["time"]),
                    received_at,
                    fields["event_type"],
                    fields["actor"],
                    fields["camera_id"],
                    details.get("incident"),
                )
            )
            previous = digest
    columns = (
        "workstation_id, seq, record, hash, prev_hash, time, received_at, event_type, actor, "
        "camera_id, incident"
    )
    target = make_url(url)
    with psycopg.connect(
        host=target.host, port=target.port, user=target.username, dbname=target.database
    ) as connection:
        started = time.perf_counter()
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY audit_events ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        connection.commit()
        seconds = time.perf_counter() - started
    return len(rows) / seconds


# ---- main ----------------------------------------------------------------------------------------


def progress(text: str) -> None:
    print(text, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--workstations", type=int, default=10)
    parser.add_argument("--events-per-workstation", type=int, default=10_000)
    parser.add_argument(
        "--batch-size", type=int, default=SyncSettings().batch_size, help="events per upload"
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    args = parser.parse_args()
    if args.quick:
        args.events, args.workstations, args.events_per_workstation = 5_000, 3, 1_000
    for name in ("events", "workstations", "events_per_workstation", "batch_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")

    # Other work on the machine shows in the wall times (less in the CPU seconds): say how much.
    load_at_start = round(os.getloadavg()[0], 2)
    with (
        tempfile.TemporaryDirectory(prefix="beacon-bench-sync-") as scratch,
        PostgresCluster.start() as cluster,
    ):
        folder = Path(scratch)
        url = cluster.create_database("beacon_sync")
        database = ServerDatabase(url)
        server = ProcessServer(url).start()
        try:
            progress(f"PostgreSQL started in {cluster.started_in_s:.1f} s; server on {server.url}")
            single = make_workstation(
                folder, database, server.url, "bench-ws-00", args.events, args.batch_size
            )
            meter = CpuMeter(server.pid, cluster)
            one = one_workstation(single, database, meter)
            progress(f"one workstation: {json.dumps(one)}")

            group = [
                make_workstation(
                    folder,
                    database,
                    server.url,
                    f"bench-ws-{number:02d}",
                    args.events_per_workstation,
                    args.batch_size,
                )
                for number in range(1, args.workstations + 1)
            ]
            many = many_workstations(group, database, CpuMeter(server.pid, cluster))
            progress(f"{args.workstations} workstations at once: {json.dumps(many)}")
        finally:
            server.stop()
            shutil.rmtree(server.checkpoint_key.parent, ignore_errors=True)  # made for this run
            database.close()
        reference = copy_reference(cluster, single.log_path, single.workstation_id)
        progress(f"reference: one COPY of the same {args.events:,} rows: {reference:,.0f} rows/s")

    print(
        json.dumps(
            {
                "quick": args.quick,
                "load_average_1m_at_start": load_at_start,
                "batch_size": args.batch_size,
                "events": one["events"],
                "seconds": one["seconds"],
                "events_per_s": one["events_per_s"],
                "goal_events_per_s": GOAL_EVENTS_PER_S,
                "batch_cycle_ms_p50": one["batch_cycle_ms_p50"],
                "batch_cycle_ms_p95": one["batch_cycle_ms_p95"],
                "client_cpu_s": one["client_cpu_s"],
                "server_cpu_s": one["server_cpu_s"],
                "postgres_cpu_s": one["postgres_cpu_s"],
                # CPU per event, which other work on the machine moves far less than wall time
                "client_cpu_us_per_event": round(1e6 * one["client_cpu_s"] / one["events"], 1),
                "server_cpu_us_per_event": round(1e6 * one["server_cpu_s"] / one["events"], 1),
                "postgres_cpu_us_per_event": round(1e6 * one["postgres_cpu_s"] / one["events"], 1),
                "workstations10_events_per_s": many["events_per_s"],
                "workstations": many["workstations"],
                "workstations_events": many["events"],
                "workstations_seconds": many["seconds"],
                "workstations_batch_cycle_ms_p50": many["batch_cycle_ms_p50"],
                "workstations_batch_cycle_ms_p95": many["batch_cycle_ms_p95"],
                "workstations_server_cpu_s": many["server_cpu_s"],
                "workstations_postgres_cpu_s": many["postgres_cpu_s"],
                "reference_copy_events_per_s": round(reference),
                "ratio_vs_copy": round(one["events_per_s"] / reference, 3),
            }
        )
    )


if __name__ == "__main__":
    main()

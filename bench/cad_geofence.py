"""From a CAD record landing to the geofence list on screen, in the real console.

A registry (SQLite, migrated as the console's) holds the synthetic cameras of ``bench.map``
with their owners and sharing policies; the console's ``MainWindow`` runs with a policy gate,
an audit log (durable writes) and a CAD intake polling a real HTTP CAD server on loopback
(``tests/cad_server.py``, Beacon's CAD JSON). For each record:

1. the server starts answering with the new record (t0) and the console polls at once, as its
   poll timer does on a tick (the timer is stopped so that each poll is the measured one; the
   wait for the next tick, up to ``[cad] interval_s``, is configuration and is not counted);
2. the intake upserts it into the registry, the incident table shows it;
3. the operator selects it (a click, here ``selectRow``);
4. the geofence panel searches the default circle (spatial index, policy rules per camera),
   records the search in the audit log (fsync), and the list is painted (t1).

``cad_to_geofence_ms`` is t1 - t0; ``select_to_list_ms`` the part after the selection.
"""

from __future__ import annotations

import contextlib
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from app.models import Camera, Owner, OwnerKind, PolicyMode, Role, SharingPolicy
from app.services.accounts import SignedInUser
from app.services.audit_log import AuditLog
from app.services.cad_adapters import HttpJsonCadAdapter
from app.services.cad_intake import CadIntake
from app.services.clock import utc_now
from app.services.credentials import CredentialStore
from app.services.policy_gate import PolicyGate
from app.services.registry_rows import CameraRow, PolicyNow
from app.services.sqlite_store import REGISTRY, open_database
from app.settings import SecuritySettings, Settings
from app.video.feed_supervisor import FeedSupervisor
from app.widgets.background_jobs import BackgroundJobs
from app.widgets.main_window import MainWindow
from tests.cad_server import CadServer

ZONE = "America/Chicago"
MODES = {
    PolicyNow.LIVE_ALLOWED: PolicyMode.CONTINUOUS,
    PolicyNow.EMERGENCY_ONLY: PolicyMode.EMERGENCY_ONLY,
    PolicyNow.SCHEDULED_CLOSED: PolicyMode.SCHEDULED,
    PolicyNow.REVOKED: PolicyMode.REVOKED,
}
OWNERS = 5000


def fill_registry(sessions: Callable[[], Session], rows: Sequence[CameraRow]) -> None:
    """The cameras, their owners and policies, in bulk (what ``beacon registry import`` would
    leave behind, without its checks)."""
    changed = datetime(2026, 1, 5, tzinfo=UTC)
    with sessions() as session:
        session.execute(
            insert(Owner),
            [
                {
                    "id": f"own-{n}",
                    "name": f"Owner {n}",
                    "kind": OwnerKind.BUSINESS,
                    "email": f"owner{n}@example.invalid",
                    "time_zone": ZONE,
                }
                for n in range(OWNERS)
            ],
        )
        session.execute(
            insert(Camera),
            [
                {
                    "id": row.camera_id,
                    "owner_id": f"own-{n % OWNERS}",
                    "name": row.name,
                    "tier": row.tier,
                    "latitude": row.latitude,
                    "longitude": row.longitude,
                    "heading_deg": row.heading_deg,
                    "fov_deg": row.fov_deg,
                    "range_m": row.range_m,
                    "address": row.address,
                    "main_stream_url": None,
                }
                for n, row in enumerate(rows)
            ],
        )
        # A scheduled camera's window: Sunday small hours, closed whenever this bench runs
        # (and when it is open, the list says so: the rules, not the bench, decide).
        session.execute(
            insert(SharingPolicy),
            [
                {
                    "camera_id": row.camera_id,
                    "version": 1,
                    "mode": MODES[row.policy_state],
                    "time_zone": ZONE,
                    "window_specs": [{"day": "sun", "start": "02:00", "end": "03:00"}]
                    if row.policy_state is PolicyNow.SCHEDULED_CLOSED
                    else [],
                    "changed_at": changed,
                }
                for row in rows
                if row.policy_state in MODES
            ],
        )
        session.commit()


def measure_cad_to_geofence(
    app: QApplication,
    rows: Sequence[CameraRow],
    records: int,
    wait_until: Callable[[QApplication, Callable[[], bool], float], bool],
    progress: Callable[[str], None],
) -> dict[str, float | int]:
    chooser = random.Random(5)
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as scratch, contextlib.closing(
        CadServer()
    ) as server:  # fmt: skip
        data = Path(scratch)
        settings = Settings(
            workstation="bench",
            data_dir=data,
            security=SecuritySettings(keyring_backend="file"),
        )
        engine = open_database(settings.registry_db, REGISTRY)
        sessions = sessionmaker(engine, expire_on_commit=False)
        started = time.perf_counter()
        fill_registry(sessions, rows)
        progress(f"cad: registry of {len(rows):,} cameras in {time.perf_counter() - started:.1f} s")
        audit = AuditLog.open(settings.audit_db, settings.workstation)
        gate = PolicyGate(sessions, audit, CredentialStore.for_settings(settings), utc_now)
        supervisor = FeedSupervisor(network_decoders=1)
        jobs = BackgroundJobs()
        intake = CadIntake(HttpJsonCadAdapter(server.url))
        window = MainWindow(
            settings=settings,
            user=SignedInUser("bench", "Bench Operator", Role.OPERATOR),
            audit=audit,
            sessions=sessions,
            jobs=jobs,
            gate=gate,
            supervisor=supervisor,
            window_state=QSettings(str(data / "ui.ini"), QSettings.Format.IniFormat),
            credentials=CredentialStore.for_settings(settings),
            cad_poll=intake,
        )
        window._incident_timer.stop()  # each poll below is the one measured
        window.resize(1920, 1080)
        window.show()
        if not wait_until(app, lambda: window.camera_list.model.rowCount() == len(rows), 300):
            raise SystemExit("the console did not read the cameras within 300 s")
        panel, incidents = window.geofence_panel, window.incident_panel

        def through_the_console(number: int) -> tuple[float, float, int]:
            """One record: (landing to list, selection to list) in ms, cameras found."""
            camera = rows[chooser.randrange(len(rows))]  # calls come where cameras are
            cad_number = f"2026-9{number:05d}"
            wait_until(app, lambda: not window._incidents_loading, 30)
            server.answer(
                [
                    {
                        "cad_number": cad_number,
                        "incident_type": "Shots fired",
                        "priority": 1,
                        "emergency": True,
                        "latitude": camera.latitude + chooser.uniform(-0.001, 0.001),
                        "longitude": camera.longitude + chooser.uniform(-0.001, 0.001),
                        "address": f"{number} W Harbor St",
                        "received_at": (utc_now() - timedelta(seconds=1)).isoformat(),
                    }
                ]
            )
            t0 = time.perf_counter()
            window.refresh_incidents()
            if not wait_until(app, lambda: incidents.model.row_of(cad_number) is not None, 30):
                raise SystemExit(f"{cad_number} did not reach the incident table")
            row = incidents.model.row_of(cad_number)
            assert row is not None
            selected = time.perf_counter()
            incidents.view.selectRow(row)

            def listed() -> bool:
                result = panel.result
                return (
                    not panel.searching
                    and result is not None
                    and result.incident is not None
                    and result.incident.cad_number == cad_number
                )

            if not wait_until(app, listed, 30):
                raise SystemExit(f"the geofence of {cad_number} was not listed")
            panel.view.viewport().repaint()
            t1 = time.perf_counter()
            assert panel.result is not None
            pause = t1 + 0.3
            wait_until(app, lambda: time.perf_counter() >= pause, 1)  # an operator's pause
            return (t1 - t0) * 1000, (t1 - selected) * 1000, panel.result.total

        measured = [through_the_console(number) for number in range(records)]
        totals = [total for total, _, _ in measured]
        after_select = [part for _, part, _ in measured]
        found = [count for _, _, count in measured]
        window.close()
        jobs.shutdown()
        gate.stop()
        supervisor.shutdown()
        audit.close()
        engine.dispose()
    return {
        "cad_records": records,
        "cad_to_geofence_ms": round(float(np.percentile(totals, 50)), 1),
        "cad_to_geofence_p95_ms": round(float(np.percentile(totals, 95)), 1),
        "cad_to_geofence_max_ms": round(max(totals), 1),
        "select_to_list_p95_ms": round(float(np.percentile(after_select, 95)), 1),
        "geofence_cameras_median": int(np.median(found)),
    }

"""Fixtures of the console's widget tests: a real registry with users, cameras and incidents,
a real audit log, the background job pool, a real policy gate and feed supervisor, and a main
window built on them."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QSettings
from sqlalchemy.orm import Session

from app.models import CameraTier, IncidentStatus, PolicyMode, Role
from app.models.audit_chain import AuditEventType
from app.services.accounts import SignedInUser, create_user
from app.services.audit_log import AuditLog, read_events
from app.services.credentials import CredentialStore
from app.services.policy_gate import PolicyGate
from app.settings import Settings
from app.shell import configure_application
from app.video.feed_supervisor import FeedSupervisor
from app.widgets.background_jobs import BackgroundJobs
from app.widgets.main_window import MainWindow
from tests.conftest import ManualClock
from tests.factories import add_camera, add_incident, add_owner, registry_sessions

OPERATOR_PASSWORD = "harbor-night-shift-7"
OPERATOR = SignedInUser("dana", "Dana Cole", Role.OPERATOR)


class FakeMonotonic:
    """A monotonic clock (seconds) the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def with_security(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update={"security": settings.security.model_copy(update=changes)})


def audit_events(settings: Settings, event_type: AuditEventType) -> list[dict[str, Any]]:
    return [e for e in read_events(settings.audit_db) if e["event_type"] == event_type.value]


@pytest.fixture(autouse=True)
def qt_objects_die_on_the_ui_thread(qapp) -> Iterator[None]:
    """Destroy each test's widgets here, on the UI thread, once its jobs have finished.

    pytest-qt closes test widgets and calls ``deleteLater``, but nothing runs the deferred
    deletes before the next test; a window kept alive only by reference cycles would then be
    freed by whichever thread next triggers Python's garbage collector, such as a pool thread
    of the next test, and a QWidget destroyed off the UI thread crashes the process.
    """
    yield
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


@pytest.fixture
def sessions(settings: Settings, clock: ManualClock) -> Callable[[], Session]:
    """A registry with one operator, four cameras of every kind and three incidents."""
    factory = registry_sessions(settings)
    now = clock()
    with factory() as session:
        create_user(session, "dana", "Dana Cole", Role.OPERATOR, OPERATOR_PASSWORD, clock)
        add_owner(session)
        add_camera(session, "cam-harbor-1", mode=PolicyMode.CONTINUOUS, at=now)
        add_camera(session, "cam-bank-2", mode=PolicyMode.EMERGENCY_ONLY, at=now)
        # The clock says Wednesday 09:30 in Chicago: inside this window.
        add_camera(
            session,
            "cam-school-3",
            mode=PolicyMode.SCHEDULED,
            at=now,
            windows=[{"day": "wed", "start": "08:00", "end": "17:00"}],
        )
        add_camera(session, "cam-porch-4", mode=None, at=now, tier=CameraTier.REGISTERED)
        add_incident(session, "2026-000101", now - timedelta(minutes=40))
        add_incident(session, "2026-000102", now - timedelta(minutes=5), emergency=True)
        closed = add_incident(session, "2026-000100", now - timedelta(hours=2))
        closed.status = IncidentStatus.CLOSED
        closed.closed_at = now - timedelta(hours=1)
        session.commit()
    return factory


@pytest.fixture
def jobs(audit_log: AuditLog) -> Iterator[BackgroundJobs]:
    """Depends on audit_log so it shuts down (waiting for audit writes) before the log closes."""
    pool = BackgroundJobs()
    yield pool
    pool.shutdown()


@pytest.fixture
def gate(
    sessions: Callable[[], Session],
    audit_log: AuditLog,
    jobs: BackgroundJobs,
    settings: Settings,
    clock: ManualClock,
) -> Iterator[PolicyGate]:
    """A started gate re-checking leases every 0.2 s; stopped (leases ended) before the jobs."""
    gate = PolicyGate(sessions, audit_log, CredentialStore.for_settings(settings), clock, 0.2)
    gate.start()
    yield gate
    gate.stop()


@pytest.fixture(scope="session")
def supervisor() -> Iterator[FeedSupervisor]:
    """One supervisor (two decode processes) for the session: their start-up and shutdown take
    about a second, and every window needs one. Each test's gate ends its leases, which closes
    that test's feeds."""
    supervisor = FeedSupervisor(network_decoders=2)
    yield supervisor
    supervisor.shutdown()


@pytest.fixture
def window_state(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "console-ui.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def monotonic() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture
def make_window(
    qtbot, settings, audit_log, sessions, jobs, gate, supervisor, window_state, clock
) -> Callable[..., MainWindow]:
    def make(**overrides: Any) -> MainWindow:
        arguments: dict[str, Any] = {
            "settings": settings,
            "user": OPERATOR,
            "audit": audit_log,
            "sessions": sessions,
            "jobs": jobs,
            "gate": gate,
            "supervisor": supervisor,
            "window_state": window_state,
            "credentials": CredentialStore.for_settings(settings),
            "clock": clock,
            "check_interval_ms": 20,
        }
        arguments.update(overrides)
        window = MainWindow(**arguments)
        qtbot.addWidget(window)
        # Shortcuts need an active window (as on a real desk): show it and wait until it is.
        with qtbot.waitActive(window):
            window.show()
            window.activateWindow()
        return window

    return make


def make_clip(path: Path, width: int, height: int, frames: int = 45) -> Path:
    """A 15 fps clip: a white bar moving over mid grey (never the tile's dark background)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 15, (width, height))
    for number in range(frames):
        image = np.full((height, width, 3), 128, np.uint8)
        image[:, (number * 4) % width] = 255
        writer.write(image)
    writer.release()
    return path


def add_feed_camera(
    sessions, clock, camera_id: str, main_url: str, sub_url: str | None = None
) -> None:
    with sessions() as session:
        camera = add_camera(
            session, camera_id, mode=PolicyMode.CONTINUOUS, at=clock(), url=main_url
        )
        camera.sub_stream_url = sub_url
        session.commit()


@pytest.fixture
def clip_cameras(sessions, clock, tmp_path) -> list[str]:
    """Three continuous cameras streaming local clips (main 640x360 only)."""
    clip = make_clip(tmp_path / "clip.mp4", 640, 360)
    ids = ["cam-clip-1", "cam-clip-2", "cam-clip-3"]
    for camera_id in ids:
        add_feed_camera(sessions, clock, camera_id, clip.as_uri())
    return ids


@pytest.fixture
def themed(qapp) -> None:
    """The console's theme, as ``run_console`` applies it: tiles take colours from it."""
    configure_application(qapp)

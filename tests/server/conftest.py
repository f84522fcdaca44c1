"""Fixtures of the server's tests: each runs against SQLite and a real PostgreSQL cluster.

Events are made by the workstation's real ``AuditLog`` and exported with ``read_events``, so
what the tests upload is exactly the client's wire format.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.models import AuditEventType, Outcome
from app.services.audit_log import AuditLog, read_events
from server import ServerSettings, create_app
from server.models import TokenRole
from server.tokens import issue_token, register_workstation
from tests.conftest import ManualClock

GENESIS = "0" * 64


@pytest.fixture
def server_clock() -> ManualClock:
    """The server's clock: deliberately not the workstation's (see the clock skew test)."""
    return ManualClock(datetime(2026, 11, 18, 16, 0, tzinfo=UTC))


class Server:
    """The app under a TestClient, with an administrator's shortcuts to register and issue."""

    def __init__(self, client: TestClient, clock: ManualClock) -> None:
        self.client = client
        self.clock = clock
        self.sessions: sessionmaker[Session] = client.app.state.context.sessions  # type: ignore[attr-defined]

    def _issue(
        self, role: TokenRole, workstation_id: str | None = None, days: float = 30
    ) -> tuple[int, str]:
        with self.sessions.begin() as session:
            issued = issue_token(
                session, role, self.clock(), timedelta(days=days), workstation_id=workstation_id
            )
            return issued.token.id, issued.secret

    def register(self, workstation_id: str, days: float = 30) -> str:
        """Register a workstation; its token."""
        with self.sessions.begin() as session:
            register_workstation(session, workstation_id, self.clock())
        return self._issue(TokenRole.WORKSTATION, workstation_id, days)[1]

    def token(self, role: TokenRole, workstation_id: str | None = None, days: float = 30) -> str:
        return self._issue(role, workstation_id, days)[1]

    def upload(
        self, workstation_id: str, token: str, events: list[dict[str, Any]], **params: Any
    ) -> httpx.Response:
        return self.client.post(
            f"/v1/workstations/{workstation_id}/events",
            json={"events": events},
            params=params,
            headers={"Authorization": f"Bearer {token}"},
        )

    def get(self, path: str, token: str, **params: Any) -> httpx.Response:
        return self.client.get(path, params=params, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture(autouse=True)
def checkpoint_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the test's servers keep their signing key: one key for every start, and never the
    user's data directory (``python -m server`` finds it through the environment too)."""
    path = tmp_path / "server-keys" / "checkpoint-key.pem"
    monkeypatch.setenv("BEACON_SERVER_CHECKPOINT_KEY", str(path))
    return path


@pytest.fixture
def make_server(
    db_url: str, server_clock: ManualClock, checkpoint_key_file: Path
) -> Iterator[Callable[..., Server]]:
    """Start a server (each call a new app on the same database and key, as after a restart)."""
    clients: list[TestClient] = []

    def make(**settings: Any) -> Server:
        settings.setdefault("checkpoint_key_file", checkpoint_key_file)
        app = create_app(db_url, settings=ServerSettings(**settings), clock=server_clock)
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return Server(client, server_clock)

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def server(make_server: Callable[..., Server]) -> Server:
    return make_server()


class Workstation:
    """A workstation's real audit log, written with its own clock."""

    def __init__(self, directory: Path, name: str, clock: ManualClock) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.clock = clock
        self.path = directory / "audit.sqlite3"
        self.log = AuditLog.open(self.path, name, clock)

    def record_feeds(self, count: int, camera: str = "cam-1", incident: str = "2026-77") -> None:
        for number in range(count):
            self.clock.advance(seconds=3)
            self.log.record(
                AuditEventType.FEED_ALLOWED,
                actor="ops1" if number % 2 == 0 else "ops2",
                subject=f"Harbor Deli door {number}",
                camera_id=camera,
                purpose=f"incident:{incident}",
                policy_version=2,
                decision="allow",
                reason="allowed_continuous",
                details={"incident": incident, "role": "operator"},
            )

    def record_login(self, actor: str = "ops1") -> None:
        self.clock.advance(seconds=1)
        self.log.record(AuditEventType.LOGIN, actor=actor, subject=actor, outcome=Outcome.SUCCESS)

    def events(self, first: int = 1, last: int | None = None) -> list[dict[str, Any]]:
        """The export of events ``first..last``, each with the hash of the one before."""
        rows = []
        previous = GENESIS
        for row in read_events(self.path):
            row["prev_hash"] = previous
            previous = row["hash"]
            if row["seq"] >= first and (last is None or row["seq"] <= last):
                rows.append(row)
        return rows

    def close(self) -> None:
        self.log.close()


@pytest.fixture
def make_workstation(tmp_path: Path) -> Iterator[Callable[..., Workstation]]:
    opened: list[Workstation] = []

    def make(
        name: str = "ws-1", clock: ManualClock | None = None, directory: str | None = None
    ) -> Workstation:
        clock = clock or ManualClock(datetime(2026, 11, 18, 15, 30, tzinfo=UTC))
        workstation = Workstation(tmp_path / (directory or name), name, clock)
        opened.append(workstation)
        return workstation

    yield make
    for workstation in opened:
        workstation.close()


@pytest.fixture
def workstation(make_workstation: Callable[..., Workstation]) -> Workstation:
    return make_workstation()


# --- the evidence vault (tests/server/test_evidence_*.py) -----------------------------------


@pytest.fixture(scope="session")
def video_clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real H.264 MP4 (3 s, moov at the end as ffmpeg writes it by default)."""
    path = tmp_path_factory.mktemp("clips") / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         "testsrc=size=320x240:rate=15", "-t", "3", "-c:v", "libx264", "-pix_fmt", "yuv420p",
         "-g", "5", "-b:v", "2M", str(path)],
        check=True,
    )  # fmt: skip
    return path.read_bytes()


@pytest.fixture
def vault_settings(tmp_path: Path) -> dict[str, Any]:
    """A vault of the test's own: its folder and key file."""
    return {
        "vault_folder": tmp_path / "vault",
        "vault_key_file": tmp_path / "server-keys" / "vault-key",
    }


def footage_request(reference: str = "FR-12", **changes: Any) -> dict[str, Any]:
    """A footage request as a workstation registers it (the window on the server clock's day)."""
    return {
        "reference": reference,
        "cad_number": "2026-004512",
        "incident_type": "Armed robbery",
        "camera_id": "cam-0412",
        "camera_name": "Harbor Deli front door",
        "window_start": "2026-11-18T15:40:00Z",
        "window_end": "2026-11-18T16:10:00Z",
        "time_zone": "America/Chicago",
        "expires_at": "2026-11-25T16:00:00Z",
        **changes,
    }

"""A real gate over a real registry, a supervisor with real decode processes, a local clip."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.models import PolicyMode, Purpose, Role
from app.services.accounts import SignedInUser
from app.services.audit_log import AuditLog
from app.services.credentials import CameraCredentials, CredentialStore
from app.services.policy_gate import FeedLease, PolicyGate
from app.settings import Settings
from app.video.feed_state import FeedState
from app.video.feed_supervisor import FeedHandle, FeedSupervisor
from tests.conftest import ManualClock
from tests.factories import add_camera, add_owner, registry_sessions

OPERATOR = SignedInUser("ops1", "Dana Ops", Role.OPERATOR)
PURPOSE = Purpose.parse("case:24-1187")

LeaseFor = Callable[..., FeedLease]


@pytest.fixture
def gate(settings: Settings, audit_log: AuditLog, clock: ManualClock) -> Iterator[PolicyGate]:
    sessions = registry_sessions(settings)
    with sessions() as session:
        add_owner(session)
        session.commit()
    gate = PolicyGate(sessions, audit_log, CredentialStore.for_settings(settings), clock, 0.2)
    yield gate
    gate.stop()


@pytest.fixture
def lease_for(gate: PolicyGate, settings: Settings, clock: ManualClock) -> LeaseFor:
    """Register a continuous camera at ``url`` (credentials to the keyring) and lease it."""
    sessions = registry_sessions(settings)
    store = CredentialStore.for_settings(settings)
    counter = iter(range(1, 1000))

    def make(url: str, credentials: CameraCredentials | None = None) -> FeedLease:
        camera_id = f"cam-{next(counter)}"
        with sessions() as session:
            add_camera(session, camera_id, mode=PolicyMode.CONTINUOUS, at=clock(), url=url)
            session.commit()
        if credentials is not None:
            store.set(camera_id, credentials)
        return gate.open_feed(camera_id, OPERATOR, PURPOSE)

    return make


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """Ten seconds at 15 fps, 320x240, white bar moving on grey."""
    path = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 15, (320, 240))
    for number in range(150):
        image = np.full((240, 320, 3), 128, np.uint8)
        image[:, (number * 2) % 320] = 255
        writer.write(image)
    writer.release()
    return path


@pytest.fixture
def supervisor() -> Iterator[FeedSupervisor]:
    supervisor = FeedSupervisor(network_decoders=2)
    yield supervisor
    supervisor.shutdown()


class StateLog:
    """Every state the supervisor reported, per feed, in order (reported on its watchdog)."""

    def __init__(self) -> None:
        self.states: list[tuple[str, FeedState]] = []

    def __call__(self, handle: FeedHandle) -> None:
        self.states.append((handle.feed_id, handle.state))

    def of(self, handle: FeedHandle) -> list[FeedState]:
        return [state for feed_id, state in list(self.states) if feed_id == handle.feed_id]


@pytest.fixture
def state_log() -> StateLog:
    return StateLog()


@pytest.fixture
def one_decoder(state_log: StateLog) -> Iterator[FeedSupervisor]:
    """A supervisor with a single network decode process: every feed shares OpenCV's lock."""
    supervisor = FeedSupervisor(network_decoders=1, on_state=state_log)
    yield supervisor
    supervisor.shutdown()

"""A real gate over a real registry, and a supervisor with real decode processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from app.models import PolicyMode, Purpose, Role
from app.services.accounts import SignedInUser
from app.services.audit_log import AuditLog
from app.services.credentials import CameraCredentials, CredentialStore
from app.services.policy_gate import FeedLease, PolicyGate
from app.settings import Settings
from app.video.feed_supervisor import FeedSupervisor
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
def supervisor() -> Iterator[FeedSupervisor]:
    supervisor = FeedSupervisor(network_decoders=2)
    yield supervisor
    supervisor.shutdown()

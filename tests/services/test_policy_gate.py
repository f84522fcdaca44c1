from __future__ import annotations

import ast
from pathlib import Path

import pytest

from app.models import AuditEventType, PolicyMode, Purpose, Role
from app.models.camera import CameraTier
from app.models.incident import Incident, IncidentStatus
from app.models.policy import Reason
from app.services.accounts import SignedInUser
from app.services.audit_log import AuditLog, AuditWriteError, read_events, verify_file
from app.services.credentials import CameraCredentials, CredentialStore
from app.services.policy_gate import (
    FeedDenied,
    FeedLease,
    LeaseEndedError,
    PolicyGate,
    UnknownCameraError,
)
from app.settings import Settings
from tests.conftest import ManualClock
from tests.disk import fill, small_filesystem
from tests.factories import add_camera, add_incident, add_owner, registry_sessions, set_policy

OPERATOR = SignedInUser("ops1", "Dana Ops", Role.OPERATOR)
INCIDENT = Purpose.parse("incident:2026-000100")
NIGHTS = [{"day": d, "start": "09:00", "end": "10:00"} for d in ("mon", "tue", "wed", "thu")]


@pytest.fixture
def credentials(settings: Settings) -> CredentialStore:
    return CredentialStore.for_settings(settings)


@pytest.fixture
def gate(settings: Settings, audit_log: AuditLog, clock: ManualClock, credentials: CredentialStore):
    sessions = registry_sessions(settings)
    with sessions() as session:
        add_owner(session)
        add_camera(session, "cam-cont", mode=PolicyMode.CONTINUOUS, at=clock())
        add_camera(session, "cam-emerg", mode=PolicyMode.EMERGENCY_ONLY, at=clock())
        add_camera(session, "cam-sched", mode=PolicyMode.SCHEDULED, at=clock(), windows=NIGHTS)
        add_camera(session, "cam-reg", mode=None, at=clock(), tier=CameraTier.REGISTERED)
        add_incident(session, "2026-000100", clock(), emergency=True)
        session.commit()
    gate = PolicyGate(sessions, audit_log, credentials, clock, check_interval_s=0.1)
    yield gate
    gate.stop()


def events(settings: Settings) -> list[dict[str, object]]:
    return list(read_events(settings.audit_db))


def test_allowed_feed_is_audited_before_the_lease_exists(gate: PolicyGate, settings: Settings):
    lease = gate.open_feed("cam-cont", OPERATOR, INCIDENT)
    last = events(settings)[-1]
    assert last["event_type"] == AuditEventType.FEED_ALLOWED
    assert last["camera_id"] == "cam-cont"
    assert last["policy_version"] == 1
    assert last["reason"] == Reason.ALLOWED_CONTINUOUS
    assert last["purpose"] == "incident:2026-000100"
    assert gate.active_leases() == [lease]


def test_denied_feed_is_audited_with_its_reason(gate: PolicyGate, settings: Settings):
    with pytest.raises(FeedDenied) as denied:
        gate.open_feed("cam-reg", OPERATOR, INCIDENT)
    assert denied.value.decision.reason is Reason.REGISTERED_ONLY
    last = events(settings)[-1]
    assert (last["event_type"], last["decision"], last["reason"]) == (
        "feed_denied",
        "deny",
        "registered_only",
    )
    assert gate.active_leases() == []


def test_no_purpose_no_feed(gate: PolicyGate):
    with pytest.raises(FeedDenied, match="no purpose"):
        gate.open_feed("cam-cont", OPERATOR, Purpose.parse("  "))


def test_unknown_camera(gate: PolicyGate):
    with pytest.raises(UnknownCameraError):
        gate.open_feed("nope", OPERATOR, INCIDENT)


def test_a_lease_cannot_be_made_outside_the_gate():
    with pytest.raises(TypeError, match="only by the PolicyGate"):
        FeedLease(
            object(),
            camera=None,  # type: ignore[arg-type]
            actor=OPERATOR,
            purpose=INCIDENT,  # type: ignore[arg-type]
            incident_cad=None,
            policy_version=1,
            granted_at=None,  # type: ignore[arg-type]
            credentials=None,  # type: ignore[arg-type]
        )


def test_revocation_ends_the_lease_within_five_seconds(
    gate: PolicyGate, settings: Settings, clock: ManualClock
):
    gate.start()
    lease = gate.open_feed("cam-cont", OPERATOR, INCIDENT)
    with registry_sessions(settings)() as session:
        set_policy(session, "cam-cont", PolicyMode.REVOKED, clock())
        session.commit()
    assert lease.wait_ended(timeout=5), "lease still open 5 s after revocation"
    assert lease.end_reason == "policy_revoked"
    closed = [e for e in events(settings) if e["event_type"] == "feed_closed"]
    assert len(closed) == 1 and closed[0]["reason"] == "policy_revoked"
    with pytest.raises(LeaseEndedError):
        lease.connect_url()


def test_window_end_ends_the_lease(gate: PolicyGate, clock: ManualClock, settings: Settings):
    clock.now = clock.now.replace(hour=15, minute=30)  # 09:30 in Chicago, a Wednesday
    lease = gate.open_feed("cam-sched", OPERATOR, INCIDENT)
    gate.check_leases()
    assert not lease.ended
    clock.advance(minutes=31)
    gate.check_leases()
    assert lease.end_reason == "outside_window"
    assert events(settings)[-1]["duration_ms"] == 31 * 60 * 1000


def test_closing_the_emergency_ends_emergency_only_feeds(gate: PolicyGate, settings: Settings):
    lease = gate.open_feed("cam-emerg", OPERATOR, INCIDENT)
    with registry_sessions(settings)() as session:
        incident = session.query(Incident).filter_by(cad_number="2026-000100").one()
        incident.status = IncidentStatus.CLOSED
        session.commit()
    gate.check_leases()
    assert lease.end_reason == "incident_closed"


def test_a_policy_change_that_still_allows_is_seen_not_ended(
    gate: PolicyGate, settings: Settings, clock: ManualClock
):
    lease = gate.open_feed("cam-emerg", OPERATOR, INCIDENT)
    with registry_sessions(settings)() as session:
        set_policy(session, "cam-emerg", PolicyMode.CONTINUOUS, clock())
        session.commit()
    gate.check_leases()
    assert not lease.ended and lease.policy_version == 2
    assert events(settings)[-1]["event_type"] == "policy_change_seen"


def test_operator_close_is_audited_once(gate: PolicyGate, settings: Settings, clock: ManualClock):
    lease = gate.open_feed("cam-cont", OPERATOR, INCIDENT)
    clock.advance(seconds=12.5)
    gate.close(lease)
    gate.close(lease)
    closed = [e for e in events(settings) if e["event_type"] == "feed_closed"]
    assert [(e["reason"], e["duration_ms"]) for e in closed] == [("closed_by_operator", 12500)]


def test_connect_url_joins_keyring_credentials(gate: PolicyGate, credentials: CredentialStore):
    credentials.set("cam-cont", CameraCredentials("viewer", "p%w@d!:x"))
    lease = gate.open_feed("cam-cont", OPERATOR, INCIDENT)
    assert lease.connect_url() == "rtsp://viewer:p%25w%40d%21%3Ax@127.0.0.1:8554/cam"
    assert "p%w" not in repr(lease) and "viewer" not in repr(lease)


def test_full_disk_refuses_the_feed_and_loses_nothing(
    tmp_path: Path, settings: Settings, clock: ManualClock, credentials: CredentialStore
):
    sessions = registry_sessions(settings)
    with sessions() as session:
        add_owner(session)
        add_camera(session, "cam-cont", mode=PolicyMode.CONTINUOUS, at=clock())
        session.commit()
    with small_filesystem(tmp_path / "small", 2048) as disk:
        log = AuditLog.open(disk / "audit.sqlite", "ws", clock)
        gate = PolicyGate(sessions, log, credentials, clock)
        gate.close(gate.open_feed("cam-cont", OPERATOR, INCIDENT))
        before = log.head.seq
        filler = fill(disk)
        granted = 0
        with pytest.raises(AuditWriteError, match="could not record feed_allowed"):
            for _ in range(500):  # the WAL may still have room for a few events
                gate.open_feed("cam-cont", OPERATOR, INCIDENT)
                granted += 1
        assert len(gate.active_leases()) == granted, "a refused audit write still granted a feed"
        filler.unlink()
        gate.stop()
        log.close()
        verdict = verify_file(disk / "audit.sqlite")
        assert verdict.intact
        assert verdict.count == before + 2 * granted  # each granted feed: allowed + closed


def test_video_package_opens_streams_only_from_a_lease():
    """Only the supervisor asks a lease for its URL; only the decode process (which gets URLs
    solely in the supervisor's OpenFeed messages) opens a capture; and the install probe, which
    takes a lease (or the install check's audited stand-in for a URL that is no camera) and asks
    it for the URL itself."""
    package = Path(__file__).resolve().parents[2] / "app" / "video"
    calls = []
    for path in package.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in {"VideoCapture", "connect_url"}:
                calls.append((path.name, node.attr))
    assert sorted(set(calls)) == [
        ("decode_process.py", "VideoCapture"),
        ("feed_supervisor.py", "connect_url"),
        ("install_probe.py", "VideoCapture"),
        ("install_probe.py", "connect_url"),
    ]

"""An operator's shift written through the real services, for the session replay's tests.

Sign-in, feeds opened on wall tiles through the policy gate (one denied, one revoked by its
owner meanwhile), a geofence search, a snapshot exported, a lock and unlock, a close and a
logout, each a real audit event in the test's audit log, with the clock stepped between them.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from app.models import AuditEventType, PolicyMode, Purpose, Role
from app.models.camera import CameraTier
from app.models.geofence import GeofenceCircle
from app.services.accounts import SignedInUser, confirm_unlock, create_user, sign_in
from app.services.audit_log import AuditLog
from app.services.credentials import CredentialStore
from app.services.geofence_search import CameraCatalog, run_geofence_search
from app.services.policy_gate import FeedDenied, PolicyGate, TilePlacement
from app.services.registry_rows import incident_rows, read_camera_rows
from app.services.snapshot_export import export_snapshot
from app.settings import Settings
from tests.conftest import ManualClock
from tests.factories import add_camera, add_incident, add_owner, registry_sessions, set_policy

INCIDENT = "2026-000100"
PASSWORD = "correct horse battery"  # a test account's


@dataclass(frozen=True, slots=True)
class ScriptedShift:
    """The moments the replay's tests scrub to, and what they expect there."""

    operator: SignedInUser
    signed_in: datetime
    both_open: datetime  # cam-north on tile 1, cam-east on tile 2
    denied: datetime  # cam-reg refused for tile 3
    revoked: datetime  # cam-east ended by its owner's revocation
    exported: datetime
    locked: datetime
    unlocked: datetime
    signed_out: datetime
    export_path: Path


def script_shift(
    settings: Settings, audit_log: AuditLog, clock: ManualClock, username: str = "dana"
) -> ScriptedShift:
    sessions = registry_sessions(settings)
    with sessions() as session:
        add_owner(session)
        for camera_id in ("cam-north", "cam-east"):
            add_camera(session, camera_id, mode=PolicyMode.CONTINUOUS, at=clock())
        add_camera(session, "cam-reg", mode=None, at=clock(), tier=CameraTier.REGISTERED)
        add_incident(session, INCIDENT, clock(), emergency=True)
        create_user(session, username, "Dana Ops", Role.OPERATOR, PASSWORD, clock)
        session.commit()
    gate = PolicyGate(sessions, audit_log, CredentialStore.for_settings(settings), clock)
    purpose = Purpose.parse(f"incident:{INCIDENT}")

    clock.advance(minutes=1)
    with sessions() as session:
        operator = sign_in(session, audit_log, username, PASSWORD)
    signed_in = clock()

    clock.advance(seconds=30)
    with sessions() as session:
        incident = next(row for row in incident_rows(session) if row.cad_number == INCIDENT)
    catalog = CameraCatalog.build(read_camera_rows(sessions, clock()))
    run_geofence_search(
        catalog,
        GeofenceCircle(41.88, -87.63, 250),
        incident=incident,
        actor=operator,
        audit=audit_log,
    )
    clock.advance(seconds=30)
    north = gate.open_feed("cam-north", operator, purpose, placement=TilePlacement("main wall", 1))
    clock.advance(seconds=20)
    gate.open_feed("cam-east", operator, purpose, placement=TilePlacement("main wall", 2))
    both_open = clock()

    clock.advance(seconds=40)
    with suppress(FeedDenied):  # a registered camera: the gate records the denial
        gate.open_feed("cam-reg", operator, purpose, placement=TilePlacement("main wall", 3))
    denied = clock()

    clock.advance(minutes=2)
    with sessions() as session:
        set_policy(session, "cam-east", PolicyMode.REVOKED, clock())
        session.commit()
    gate.check_leases()
    revoked = clock()

    clock.advance(minutes=1)
    receipt = export_snapshot(
        np.zeros((90, 160, 3), dtype=np.uint8),
        camera_id=north.camera_id,
        camera_name=north.camera_name,
        purpose=str(north.purpose),
        actor=operator.username,
        export_dir=settings.exports_dir,
        audit=audit_log,
    )
    exported = clock()

    clock.advance(minutes=5)
    audit_log.record(
        AuditEventType.SESSION_LOCKED,
        actor=operator.username,
        subject=operator.username,
        details={"reason": "inactivity"},
    )
    locked = clock()
    clock.advance(minutes=10)
    with sessions() as session:
        confirm_unlock(session, audit_log, username, PASSWORD)
    unlocked = clock()

    clock.advance(minutes=3)
    gate.close(north)
    clock.advance(seconds=10)
    audit_log.record(
        AuditEventType.LOGOUT,
        actor=operator.username,
        subject=operator.username,
        details={"reason": "sign_out"},
    )
    signed_out = clock()
    gate.stop()
    return ScriptedShift(
        operator,
        signed_in,
        both_open,
        denied,
        revoked,
        exported,
        locked,
        unlocked,
        signed_out,
        receipt.path,
    )

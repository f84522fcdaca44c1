"""The policy gate: the only way to get a FeedLease, and the watchman that ends them.

Every request is decided by ``app.models.policy.decide`` and written to the audit log *before*
anything is granted; if that write fails, nothing is granted (fail closed). Open leases are
re-checked every ``lease_check_interval_s``: when a policy is revoked or changed, a window ends
or an emergency incident closes, the lease ends and the end is audited.

A FeedLease can only be made here (its constructor demands a token private to this module), and
``app.video`` gets a connectable URL only from an active lease.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models.audit_chain import AuditEventType, DetailValue, Outcome
from app.models.camera import Camera, CameraTier, PrivacyMask
from app.models.incident import Incident, IncidentStatus
from app.models.policy import PolicyDecision, Purpose, PurposeKind, decide
from app.models.sharing_policy import PolicyTerms
from app.models.stream_url import url_with_credentials
from app.services.accounts import SignedInUser
from app.services.audit_log import AuditLog, AuditWriteError
from app.services.clock import Clock
from app.services.credentials import CredentialStore

log = logging.getLogger(__name__)

Stream = Literal["main", "sub"]
_GATE_TOKEN = object()


class FeedDenied(Exception):
    """The policy does not allow this feed now; ``decision`` says why."""

    def __init__(self, camera_id: str, decision: PolicyDecision) -> None:
        super().__init__(f"camera {camera_id}: denied: {decision.explanation}")
        self.camera_id = camera_id
        self.decision = decision


class UnknownCameraError(LookupError):
    pass


class LeaseEndedError(Exception):
    """The lease has ended; its feed may no longer be decoded."""


@dataclass(frozen=True, slots=True)
class _CameraSnapshot:
    id: str
    name: str
    tier: CameraTier
    main_stream_url: str | None
    sub_stream_url: str | None
    privacy_masks: list[PrivacyMask]
    policy: PolicyTerms | None


@dataclass(frozen=True, slots=True)
class TilePlacement:
    """Where a feed is shown: the wall (named for its monitor) and the tile's number on it.

    Recorded with the feed's allow, deny and close events, so a supervisor's replay can put each
    camera back on its tile."""

    wall: str
    tile: int

    def details(self) -> dict[str, DetailValue]:
        return {"wall": self.wall, "tile": self.tile}


@dataclass(frozen=True, slots=True)
class _IncidentSnapshot:
    cad_number: str
    emergency: bool
    status: IncidentStatus


class FeedLease:
    """Permission to decode one camera's stream for one purpose, until it ends."""

    def __init__(
        self,
        token: object,
        *,
        camera: _CameraSnapshot,
        actor: SignedInUser,
        purpose: Purpose,
        incident_cad: str | None,
        policy_version: int | None,
        granted_at: datetime,
        credentials: CredentialStore,
        placement: TilePlacement | None = None,
    ) -> None:
        if token is not _GATE_TOKEN:
            raise TypeError("a FeedLease is granted only by the PolicyGate")
        self.lease_id = uuid.uuid4().hex
        self.camera_id = camera.id
        self.camera_name = camera.name
        self.actor = actor
        self.purpose = purpose
        self.incident_cad = incident_cad
        self.policy_version = policy_version
        self.granted_at = granted_at
        self.placement = placement
        self.privacy_masks = camera.privacy_masks
        self._urls: dict[Stream, str | None] = {
            "main": camera.main_stream_url,
            "sub": camera.sub_stream_url,
        }
        self._credentials = credentials
        self._ended = threading.Event()
        self._lock = threading.Lock()
        self._end_reason: str | None = None
        self._listeners: list[Callable[[FeedLease], None]] = []

    def __repr__(self) -> str:
        state = f"ended: {self._end_reason}" if self.ended else "active"
        return f"<FeedLease {self.camera_id} for {self.purpose} by {self.actor.username} ({state})>"

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    @property
    def end_reason(self) -> str | None:
        return self._end_reason

    def has_stream(self, stream: Stream) -> bool:
        return self._urls[stream] is not None

    def connect_url(self, stream: Stream = "main") -> str:
        """The URL to connect to, credentials joined in; never log, show or raise it."""
        if self.ended:
            raise LeaseEndedError(f"lease for camera {self.camera_id} ended: {self._end_reason}")
        url = self._urls[stream] or self._urls["main"]
        if url is None:
            raise LeaseEndedError(f"camera {self.camera_id} has no stream URL")
        credentials = self._credentials.get(self.camera_id)
        if credentials is None:
            return url
        return url_with_credentials(url, credentials.username, credentials.password)

    def on_end(self, listener: Callable[[FeedLease], None]) -> None:
        """Call ``listener(lease)`` once when the lease ends (at once if it already has)."""
        with self._lock:
            if not self.ended:
                self._listeners.append(listener)
                return
        listener(self)

    def wait_ended(self, timeout: float | None = None) -> bool:
        return self._ended.wait(timeout)

    def _end(self, reason: str) -> bool:
        with self._lock:
            if self.ended:
                return False
            self._end_reason = reason
            self._ended.set()
            listeners, self._listeners = self._listeners, []
        for listener in listeners:
            try:
                listener(self)
            except Exception:
                log.exception("lease end listener failed for camera %s", self.camera_id)
        return True


def _load_camera(session: Session, camera_id: str) -> _CameraSnapshot:
    camera = session.scalar(
        select(Camera).where(Camera.id == camera_id).options(selectinload(Camera.policies))
    )
    if camera is None:
        raise UnknownCameraError(f"no camera {camera_id!r} in the registry")
    policy = camera.current_policy
    return _CameraSnapshot(
        id=camera.id,
        name=camera.name,
        tier=camera.tier,
        main_stream_url=camera.main_stream_url,
        sub_stream_url=camera.sub_stream_url,
        privacy_masks=list(camera.privacy_masks or []),
        policy=None if policy is None else policy.terms(),
    )


def _load_incident(session: Session, cad_number: str | None) -> _IncidentSnapshot | None:
    if cad_number is None:
        return None
    incident = session.scalar(select(Incident).where(Incident.cad_number == cad_number))
    if incident is None:
        return None
    return _IncidentSnapshot(incident.cad_number, incident.emergency, incident.status)


class PolicyGate:
    """Grants, tracks and ends FeedLeases; thread-safe."""

    def __init__(
        self,
        sessions: Callable[[], Session],
        audit: AuditLog,
        credentials: CredentialStore,
        clock: Clock,
        check_interval_s: float = 1.0,
    ) -> None:
        self._sessions = sessions
        self._audit = audit
        self._credentials = credentials
        self._clock = clock
        self._interval = check_interval_s
        self._leases: dict[str, FeedLease] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def open_feed(
        self,
        camera_id: str,
        actor: SignedInUser,
        purpose: Purpose | None,
        incident_cad: str | None = None,
        placement: TilePlacement | None = None,
    ) -> FeedLease:
        """Decide, audit, then grant; raises FeedDenied, UnknownCameraError or AuditWriteError.

        ``placement`` (the wall tile the feed is for) is recorded with the decision and the close.
        """
        if incident_cad is None and purpose is not None and purpose.kind is PurposeKind.INCIDENT:
            incident_cad = purpose.reference
        with self._sessions() as session:
            camera = _load_camera(session, camera_id)
            incident = _load_incident(session, incident_cad)
        now = self._clock()
        decision = decide(camera, camera.policy, actor, purpose, incident, now)
        self._audit.record(
            AuditEventType.FEED_ALLOWED if decision.allowed else AuditEventType.FEED_DENIED,
            actor=actor.username,
            outcome=Outcome.SUCCESS if decision.allowed else Outcome.FAILURE,
            subject=camera.name,
            camera_id=camera.id,
            purpose=str(purpose) if purpose else None,
            policy_version=decision.policy_version,
            decision="allow" if decision.allowed else "deny",
            reason=decision.reason.value,
            details={
                "incident": incident_cad,
                "role": actor.role.value,
                **(placement.details() if placement is not None else {}),
            },
        )
        if not decision.allowed:
            raise FeedDenied(camera.id, decision)
        assert purpose is not None
        lease = FeedLease(
            _GATE_TOKEN,
            camera=camera,
            actor=actor,
            purpose=purpose,
            incident_cad=incident_cad,
            policy_version=decision.policy_version,
            granted_at=now,
            credentials=self._credentials,
            placement=placement,
        )
        with self._lock:
            self._leases[lease.lease_id] = lease
        return lease

    def active_leases(self) -> list[FeedLease]:
        with self._lock:
            return list(self._leases.values())

    def close(self, lease: FeedLease, reason: str = "closed_by_operator") -> None:
        """End a lease on the operator's (or program's) request, and audit it."""
        self._end(lease, reason, outcome=Outcome.SUCCESS)

    def _end(self, lease: FeedLease, reason: str, *, outcome: Outcome) -> None:
        with self._lock:
            if self._leases.pop(lease.lease_id, None) is None:
                return  # already ended
        duration = self._clock() - lease.granted_at
        try:
            self._audit.record(
                AuditEventType.FEED_CLOSED,
                actor=lease.actor.username,
                outcome=outcome,
                subject=lease.camera_name,
                camera_id=lease.camera_id,
                purpose=str(lease.purpose),
                policy_version=lease.policy_version,
                reason=reason,
                duration_ms=max(0, int(duration.total_seconds() * 1000)),
                details={
                    "incident": lease.incident_cad,
                    **(lease.placement.details() if lease.placement is not None else {}),
                },
            )
        except AuditWriteError:
            # Ending is the safe direction, so the feed stops anyway; the failure is logged
            # where the operator's error channel picks it up.
            log.error("the end of the lease on camera %s could not be audited", lease.camera_id)
        finally:
            lease._end(reason)

    def check_leases(self) -> None:
        """Re-decide every open lease now; end those the policy no longer allows."""
        leases = self.active_leases()
        if not leases:
            return
        now = self._clock()
        with self._sessions() as session:
            for lease in leases:
                try:
                    camera = _load_camera(session, lease.camera_id)
                except UnknownCameraError:
                    self._end(lease, "camera_removed", outcome=Outcome.FAILURE)
                    continue
                incident = _load_incident(session, lease.incident_cad)
                decision = decide(camera, camera.policy, lease.actor, lease.purpose, incident, now)
                if not decision.allowed:
                    self._end(lease, decision.reason.value, outcome=Outcome.FAILURE)
                elif decision.policy_version != lease.policy_version:
                    self._audit.record(
                        AuditEventType.POLICY_CHANGE_SEEN,
                        actor=lease.actor.username,
                        subject=lease.camera_name,
                        camera_id=lease.camera_id,
                        purpose=str(lease.purpose),
                        policy_version=decision.policy_version,
                        decision="allow",
                        reason=decision.reason.value,
                        details={"previous_version": lease.policy_version},
                    )
                    lease.policy_version = decision.policy_version

    def start(self) -> None:
        if self._watcher is not None:
            return
        self._stop.clear()
        self._watcher = threading.Thread(target=self._watch, name="policy-gate", daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.check_leases()
            except Exception:
                log.exception("policy gate check failed; retrying in %.1f s", self._interval)

    def stop(self, reason: str = "console_closed") -> None:
        """Stop watching and end every open lease (each end audited)."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=10)
            self._watcher = None
        for lease in self.active_leases():
            self._end(lease, reason, outcome=Outcome.SUCCESS)

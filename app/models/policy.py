"""The policy rules: may this actor decode this camera, for this purpose, now?

A pure function of (camera, policy, actor, purpose, incident, now). The policy gate is its only
caller that grants anything; ``beacon policy explain`` shows its answer without opening a feed.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from app.models.camera import CameraTier
from app.models.incident import IncidentStatus
from app.models.sharing_policy import PolicyMode, WeeklyWindow, in_any_window
from app.models.user import Role


class PurposeKind(enum.StrEnum):
    INCIDENT = "incident"
    CASE = "case"
    INSTALL = "install"  # an install verification of one camera, by a field technician


@dataclass(frozen=True, slots=True)
class Purpose:
    """Why a feed is opened: an incident number, a case number, or an install verification."""

    kind: PurposeKind
    reference: str

    @classmethod
    def parse(cls, text: str) -> Purpose | None:
        """``incident:N``, ``case:N`` or ``install:CAMERA``; a bare value is a case number."""
        text = text.strip()
        kind_text, sep, reference = text.partition(":")
        if sep and kind_text.lower() in PurposeKind.__members__.values():
            kind, reference = PurposeKind(kind_text.lower()), reference.strip()
        else:
            kind, reference = PurposeKind.CASE, text
        return cls(kind, reference) if reference else None

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.reference}"


class Reason(enum.StrEnum):
    ALLOWED_CONTINUOUS = "allowed_continuous"
    ALLOWED_EMERGENCY = "allowed_emergency"
    ALLOWED_IN_WINDOW = "allowed_in_window"
    ALLOWED_INSTALL_VERIFICATION = "allowed_install_verification"
    REGISTERED_ONLY = "registered_only"
    NO_PURPOSE = "no_purpose"
    ROLE_NOT_PERMITTED = "role_not_permitted"
    NO_POLICY = "no_policy"
    POLICY_REVOKED = "policy_revoked"
    FIELD_TECH_SCOPE = "field_tech_scope"
    INSTALL_PURPOSE_NOT_PERMITTED = "install_purpose_not_permitted"
    INCIDENT_MISMATCH = "incident_mismatch"
    EMERGENCY_NEEDS_INCIDENT = "emergency_needs_incident"
    NOT_EMERGENCY = "not_emergency"
    INCIDENT_CLOSED = "incident_closed"
    OUTSIDE_WINDOW = "outside_window"


REASON_TEXT: dict[Reason, str] = {
    Reason.ALLOWED_CONTINUOUS: "the owner shares this camera continuously",
    Reason.ALLOWED_EMERGENCY: "emergency incident, and the owner shares in emergencies",
    Reason.ALLOWED_IN_WINDOW: "inside one of the owner's sharing windows",
    Reason.ALLOWED_INSTALL_VERIFICATION: "install verification of this camera",
    Reason.REGISTERED_ONLY: "registered camera: location and contact only, never a live feed",
    Reason.NO_PURPOSE: "no purpose given: state an incident or case number",
    Reason.ROLE_NOT_PERMITTED: "this role may not open live feeds",
    Reason.NO_POLICY: "the owner has not set a sharing policy",
    Reason.POLICY_REVOKED: "the owner has revoked sharing",
    Reason.FIELD_TECH_SCOPE: "a field technician may open a camera only to verify its install",
    Reason.INSTALL_PURPOSE_NOT_PERMITTED: "install verification is for field technicians",
    Reason.INCIDENT_MISMATCH: "the purpose names a different incident",
    Reason.EMERGENCY_NEEDS_INCIDENT: "emergency-only camera: open it for an emergency incident",
    Reason.NOT_EMERGENCY: "emergency-only camera and this incident is not an emergency",
    Reason.INCIDENT_CLOSED: "emergency-only camera and the incident is closed",
    Reason.OUTSIDE_WINDOW: "outside the owner's sharing windows",
}


class CameraFacts(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def tier(self) -> CameraTier: ...


class PolicyFacts(Protocol):
    @property
    def version(self) -> int: ...
    @property
    def mode(self) -> PolicyMode: ...
    @property
    def time_zone(self) -> str: ...
    @property
    def windows(self) -> Sequence[WeeklyWindow]: ...


class ActorFacts(Protocol):
    @property
    def username(self) -> str: ...
    @property
    def role(self) -> Role: ...


class IncidentFacts(Protocol):
    @property
    def cad_number(self) -> str: ...
    @property
    def emergency(self) -> bool: ...
    @property
    def status(self) -> IncidentStatus: ...


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    allowed: bool
    reason: Reason
    policy_version: int | None

    @property
    def explanation(self) -> str:
        return REASON_TEXT[self.reason]


FEED_ROLES = frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.FIELD_TECH})


def decide(
    camera: CameraFacts,
    policy: PolicyFacts | None,
    actor: ActorFacts,
    purpose: Purpose | None,
    incident: IncidentFacts | None,
    now: datetime,
) -> PolicyDecision:
    """Decide whether ``actor`` may decode ``camera`` at ``now``; the first rule that fits wins."""
    version = policy.version if policy is not None else None

    def deny(reason: Reason) -> PolicyDecision:
        return PolicyDecision(False, reason, version)

    def allow(reason: Reason) -> PolicyDecision:
        return PolicyDecision(True, reason, version)

    if camera.tier is CameraTier.REGISTERED:
        return deny(Reason.REGISTERED_ONLY)
    if purpose is None or not purpose.reference.strip():
        return deny(Reason.NO_PURPOSE)
    if actor.role not in FEED_ROLES:
        return deny(Reason.ROLE_NOT_PERMITTED)
    if policy is not None and policy.mode is PolicyMode.REVOKED:
        return deny(Reason.POLICY_REVOKED)
    if actor.role is Role.FIELD_TECH:
        # A new integration is verified on site, often before the owner has set a policy;
        # once the owner revokes sharing, not even the installer may look.
        if purpose.kind is PurposeKind.INSTALL and purpose.reference == camera.id:
            return allow(Reason.ALLOWED_INSTALL_VERIFICATION)
        return deny(Reason.FIELD_TECH_SCOPE)
    if policy is None:
        return deny(Reason.NO_POLICY)
    if purpose.kind is PurposeKind.INSTALL:
        return deny(Reason.INSTALL_PURPOSE_NOT_PERMITTED)
    if (
        incident is not None
        and purpose.kind is PurposeKind.INCIDENT
        and purpose.reference != incident.cad_number
    ):
        return deny(Reason.INCIDENT_MISMATCH)
    if policy.mode is PolicyMode.CONTINUOUS:
        return allow(Reason.ALLOWED_CONTINUOUS)
    if policy.mode is PolicyMode.EMERGENCY_ONLY:
        if incident is None or purpose.kind is not PurposeKind.INCIDENT:
            return deny(Reason.EMERGENCY_NEEDS_INCIDENT)
        if not incident.emergency:
            return deny(Reason.NOT_EMERGENCY)
        if incident.status is IncidentStatus.CLOSED:
            return deny(Reason.INCIDENT_CLOSED)
        return allow(Reason.ALLOWED_EMERGENCY)
    if in_any_window(policy.windows, policy.time_zone, now):
        return allow(Reason.ALLOWED_IN_WINDOW)
    return deny(Reason.OUTSIDE_WINDOW)

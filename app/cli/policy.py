"""``beacon policy explain``: what the policy gate would answer, and why, without opening a feed.

The answer comes from the same rules the gate applies (``app.models.policy.decide``) over the
registry as it stands, for a stated purpose and time. The question itself is recorded in the
audit log before the answer is shown.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.cli.context import CommandContext, CommandError, os_actor
from app.models.audit_chain import AuditEventType, DetailValue
from app.models.camera import Camera, CameraTier
from app.models.incident import Incident, IncidentStatus
from app.models.policy import PolicyDecision, Purpose, PurposeKind, decide
from app.models.sharing_policy import PolicyError, PolicyMode, WeeklyWindow, zone
from app.models.user import Role, User

EXPLAIN_HELP = "explain whether a camera may be opened for a purpose, and why"
EXPLAIN_EPILOG = (
    "The answer is what the policy gate would decide now (or at --at) for this camera, purpose "
    "and actor; no feed is opened. Without --incident, an incident:N purpose is looked up as "
    "incident N, as the gate does. Without --as the actor is your OS account with the operator "
    "role. The question is recorded in the audit log. Exit status: 0 when an answer was given, "
    "ALLOW or DENY alike (this explains, it does not check); 2 when the camera, incident or "
    "user is unknown, --at is not a time, or the registry or audit log cannot be used."
)


@dataclass(frozen=True, slots=True)
class _Actor:
    username: str
    role: Role


@dataclass(frozen=True, slots=True)
class _Policy:
    version: int
    mode: PolicyMode
    time_zone: str
    windows: list[WeeklyWindow]


@dataclass(frozen=True, slots=True)
class _Incident:
    cad_number: str
    emergency: bool
    status: IncidentStatus


@dataclass(frozen=True, slots=True)
class _CameraFacts:
    id: str
    name: str
    tier: CameraTier


@dataclass(frozen=True, slots=True)
class Explanation:
    """One answered question: the facts it was decided on, and the decision."""

    camera: _CameraFacts
    policy: _Policy | None
    actor: _Actor
    purpose: Purpose | None
    incident_cad: str | None  # the CAD number looked up, found or not
    incident: _Incident | None
    at: datetime
    local_time: datetime | None  # ``at`` on the owner's clock, for a scheduled policy
    decision: PolicyDecision


def register(subcommands: Any, common: argparse.ArgumentParser) -> None:
    policy = subcommands.add_parser("policy", help="explain sharing policy decisions")
    actions = policy.add_subparsers(title="policy commands", metavar="ACTION", required=True)
    explain = actions.add_parser(
        "explain",
        parents=[common],
        help=f"{EXPLAIN_HELP} (exit 0 for ALLOW and DENY alike)",
        description=EXPLAIN_HELP[0].upper() + EXPLAIN_HELP[1:] + ".",
        epilog=EXPLAIN_EPILOG,
    )
    explain.add_argument("--camera", required=True, metavar="ID", help="camera id")
    explain.add_argument(
        "--purpose",
        required=True,
        metavar="P",
        help="incident:N, case:N or install:CAMERA; a bare value is a case number",
    )
    explain.add_argument("--incident", metavar="CAD_NUMBER", help="the incident (CAD number)")
    explain.add_argument(
        "--at",
        metavar="ISO_TIME",
        help="decide at this time (ISO 8601; without an offset it is UTC); default: now",
    )
    explain.add_argument(
        "--as", dest="as_user", metavar="USERNAME", help="decide for this Beacon user's role"
    )
    explain.add_argument("--json", action="store_true", help="print one JSON object")
    explain.set_defaults(handler=run_explain)


def _parse_at(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(
            f"--at {text!r} is not an ISO 8601 time; write it like 2026-11-18T09:30:00-06:00 "
            "(without an offset it is UTC)"
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _load_actor(context: CommandContext, username: str | None) -> _Actor:
    if username is None:
        return _Actor(os_actor(), Role.OPERATOR)
    with context.sessions()() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise CommandError(f"no user {username!r} in the registry; check --as")
        return _Actor(user.username, user.role)


def explain(context: CommandContext, args: argparse.Namespace) -> Explanation:
    """Gather the facts from the registry and decide; raises CommandError for unknown names."""
    at = _parse_at(args.at) if args.at is not None else context.clock()
    purpose = Purpose.parse(args.purpose)
    incident_cad: str | None = args.incident
    if incident_cad is None and purpose is not None and purpose.kind is PurposeKind.INCIDENT:
        incident_cad = purpose.reference  # what the gate looks up for an incident purpose
    actor = _load_actor(context, args.as_user)
    with context.sessions()() as session:
        camera = session.scalar(
            select(Camera).where(Camera.id == args.camera).options(selectinload(Camera.policies))
        )
        if camera is None:
            raise CommandError(f"no camera {args.camera!r} in the registry; check --camera")
        incident_row = (
            session.scalar(select(Incident).where(Incident.cad_number == incident_cad))
            if incident_cad is not None
            else None
        )
        if incident_row is None and args.incident is not None:
            raise CommandError(f"no incident {args.incident!r} in the registry; check --incident")
        current = camera.current_policy
        try:
            policy = (
                None
                if current is None
                else _Policy(current.version, current.mode, current.time_zone, current.windows)
            )
        except PolicyError as exc:
            raise CommandError(
                f"camera {camera.id}: policy version {current.version if current else '?'} "
                f"cannot be applied: {exc}"
            ) from exc
        facts = _CameraFacts(camera.id, camera.name, camera.tier)
        incident = (
            None
            if incident_row is None
            else _Incident(incident_row.cad_number, incident_row.emergency, incident_row.status)
        )
    try:
        decision = decide(facts, policy, actor, purpose, incident, at)
        local_time = (
            at.astimezone(zone(policy.time_zone))
            if policy is not None and policy.mode is PolicyMode.SCHEDULED
            else None
        )
    except PolicyError as exc:
        raise CommandError(f"camera {facts.id}: its policy cannot be applied: {exc}") from exc
    return Explanation(
        facts, policy, actor, purpose, incident_cad, incident, at, local_time, decision
    )


def _audit_details(answer: Explanation, as_user: str | None) -> dict[str, DetailValue]:
    local = answer.local_time
    return {
        "incident": answer.incident.cad_number if answer.incident else answer.incident_cad,
        "incident_found": answer.incident is not None,
        "at": answer.at.astimezone(UTC).isoformat(),
        "as_user": as_user,
        "role": answer.actor.role.value,
        "mode": answer.policy.mode.value if answer.policy else None,
        "local_time": local.isoformat() if local else None,
    }


def as_json(answer: Explanation) -> dict[str, Any]:
    return {
        "decision": "allow" if answer.decision.allowed else "deny",
        "reason": answer.decision.reason.value,
        "explanation": answer.decision.explanation,
        "policy_version": answer.decision.policy_version,
        "camera_id": answer.camera.id,
        "purpose": str(answer.purpose) if answer.purpose else None,
        "incident": answer.incident.cad_number if answer.incident else None,
        "at": answer.at.astimezone(UTC).isoformat(),
        "actor": answer.actor.username,
    }


def as_text(answer: Explanation) -> str:
    decision, policy = answer.decision, answer.policy
    lines = [
        ("decision", "ALLOW" if decision.allowed else "DENY"),
        ("reason", decision.reason.value),
        ("why", decision.explanation),
        ("camera", f"{answer.camera.id} ({answer.camera.name}, {answer.camera.tier.value})"),
    ]
    if policy is None:
        lines.append(("policy", "none"))
    else:
        lines.append(("policy", f"version {policy.version}"))
        lines.append(("mode", policy.mode.value))
        if policy.mode is PolicyMode.SCHEDULED:
            lines.append(("windows", ", ".join(str(window) for window in policy.windows)))
            lines.append(("time zone", policy.time_zone))
    lines.append(("at", answer.at.astimezone(UTC).isoformat()))
    local = answer.local_time
    if local is not None:
        lines.append(("local time", f"{local:%a %Y-%m-%d %H:%M:%S %Z} (owner's time zone)"))
    lines.append(("purpose", str(answer.purpose) if answer.purpose else "none"))
    if answer.incident is not None:
        state = "emergency" if answer.incident.emergency else "not an emergency"
        lines.append(
            ("incident", f"{answer.incident.cad_number} ({state}, {answer.incident.status.value})")
        )
    elif answer.incident_cad is not None:
        lines.append(("incident", f"{answer.incident_cad} (not in the registry: decided without)"))
    else:
        lines.append(("incident", "none"))
    lines.append(("actor", f"{answer.actor.username} ({answer.actor.role.value})"))
    width = max(len(label) for label, _ in lines) + 1
    return "\n".join(f"{label + ':':<{width}} {value}" for label, value in lines)


def run_explain(context: CommandContext, args: argparse.Namespace) -> int:
    answer = explain(context, args)
    decision = answer.decision
    # The question is on record before the answer leaves the program.
    context.audit_log().record(
        AuditEventType.POLICY_EXPLAIN,
        actor=os_actor(),
        subject=answer.camera.id,
        camera_id=answer.camera.id,
        purpose=str(answer.purpose) if answer.purpose else None,
        policy_version=decision.policy_version,
        decision="allow" if decision.allowed else "deny",
        reason=decision.reason.value,
        details=_audit_details(answer, args.as_user),
    )
    print(json.dumps(as_json(answer)) if args.json else as_text(answer))
    return 0

"""The camera registry on the server: owners, cameras and policy versions, and their change log.

Records are validated with the workstation's own record models (``app.models.registry_records``)
and follow its import's rules: a record equal to the stored one changes nothing, and a policy
adds a version only when its terms (mode, time zone, windows) differ from the current ones.
Every write that changes a record appends its new document to the change log under the next
``version``; workstations pull the log in version order (``changes_after``).

Writers serialise on the single ``registry_head`` row (an UPDATE first, so SQLite takes its
write lock before reading and PostgreSQL holds the row lock) until they commit. So versions are
committed in the order they are given out, and a reader that sees version N has every version
up to N.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, false, or_, select, update
from sqlalchemy.orm import Session

from app.models.camera import CameraTier
from app.models.registry_records import (
    CAMERA_FIELDS,
    OWNER_FIELDS,
    CameraRecord,
    OwnerRecord,
    PolicyRecord,
    describe_error,
    policy_document,
    record_document,
)
from server.models import (
    ReceivedAuditEvent,
    RegistryCamera,
    RegistryChange,
    RegistryHead,
    RegistryOwner,
    RegistryPolicy,
)

ChangeKind = Literal["owner", "camera", "policy"]


@dataclass(frozen=True, slots=True)
class RegistryProblem:
    """One reason a record was refused: the import row it is in (if any), the field, why."""

    row: str | None
    field: str
    problem: str

    def __str__(self) -> str:
        where = f"{self.row}, field {self.field}" if self.row else f"field {self.field}"
        return f"{where}: {self.problem}"


class RegistryRejected(Exception):
    """The write was refused; nothing of it was stored."""

    def __init__(self, detail: str, problems: Sequence[RegistryProblem]) -> None:
        super().__init__(detail)
        self.detail = detail
        self.problems = list(problems)


@dataclass(frozen=True, slots=True)
class Written:
    """What a write did to one record: its document now and the change version it got."""

    kind: ChangeKind
    record_id: str
    document: dict[str, Any]
    created: bool
    change_version: int | None  # None: the record was already so, nothing changed

    @property
    def changed(self) -> bool:
        return self.change_version is not None


@dataclass
class ImportCounts:
    owners_created: int = 0
    owners_updated: int = 0
    cameras_created: int = 0
    cameras_updated: int = 0
    policy_versions_added: int = 0
    unchanged: int = 0

    def count(self, written: Written) -> None:
        if not written.changed:
            self.unchanged += 1
        elif written.kind == "policy":
            self.policy_versions_added += 1
        elif written.kind == "owner":
            if written.created:
                self.owners_created += 1
            else:
                self.owners_updated += 1
        elif written.created:
            self.cameras_created += 1
        else:
            self.cameras_updated += 1


SECTIONS = ("owners", "cameras", "policies", "incidents")


def problems_from_validation(errors: Sequence[Mapping[str, Any]]) -> list[RegistryProblem]:
    """Pydantic's errors as problems: ``cameras row 3``, field ``latitude``, and what is wrong.

    Stream URLs appear only redacted: the URL validator writes the refused URL so, and
    ``describe_error`` redacts any URL in the values it shows.
    """
    problems = []
    for item in errors:
        place = list(item["loc"])
        if place and place[0] in ("body", "query", "path"):
            place.pop(0)
        row = None
        if len(place) >= 2 and place[0] in SECTIONS and isinstance(place[1], int):
            row = f"{place[0]} row {place[1] + 1}"
            place = place[2:]
        if item["type"] == "json_invalid":
            field, problem = "(body)", f"is not valid JSON ({item.get('ctx', {}).get('error')})"
        else:
            field = ".".join(str(part) for part in place) or ("(row)" if row else "(body)")
            problem = describe_error(item)
        problems.append(RegistryProblem(row, field, problem))
    return problems


class ChangeLog:
    """The registry's change log within one transaction; opening it takes the writers' lock."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self.now = now
        session.execute(
            update(RegistryHead)
            .where(RegistryHead.id == 1)
            .values(latest_version=RegistryHead.latest_version)
        )
        head = session.get(RegistryHead, 1)
        assert head is not None  # the migration made it
        self.head = head

    @property
    def latest_version(self) -> int:
        return self.head.latest_version

    def append(
        self, kind: ChangeKind, record_id: str, owner_id: str, document: dict[str, Any]
    ) -> int:
        version = self.head.latest_version + 1
        self.session.add(
            RegistryChange(
                version=version,
                kind=kind,
                record_id=record_id,
                owner_id=owner_id,
                document=json.dumps(document, ensure_ascii=False),
                changed_at=self.now,
            )
        )
        self.head.latest_version = version
        self.session.flush()
        return version


def _put_record(
    log: ChangeLog,
    kind: ChangeKind,
    model: type[RegistryOwner] | type[RegistryCamera],
    fields: Sequence[str],
    record: OwnerRecord | CameraRecord,
    owner_id: str,
) -> Written:
    """Store an owner or a camera as ``record`` says, unless it is already so (no version)."""
    document = record_document(record, ("id", *fields))
    stored = log.session.get(model, record.id)
    if stored is not None and record_document(stored, ("id", *fields)) == document:
        return Written(kind, record.id, document, created=False, change_version=None)
    created = stored is None
    if stored is None:
        stored = model(id=record.id)
        log.session.add(stored)
    for name in fields:
        setattr(stored, name, getattr(record, name))
    version = log.append(kind, record.id, owner_id, document)
    return Written(kind, record.id, document, created, version)


def put_owner(log: ChangeLog, record: OwnerRecord) -> Written:
    return _put_record(log, "owner", RegistryOwner, OWNER_FIELDS, record, record.id)


def camera_problems(
    session: Session, record: CameraRecord, owners_in_file: Collection[str] | None = None
) -> list[tuple[str, str]]:
    problems = record.problems()
    if owners_in_file is not None and record.owner_id in owners_in_file:
        return problems
    if session.get(RegistryOwner, record.owner_id) is None:
        where = (
            "is not in the server's registry; add the owner first"
            if owners_in_file is None
            else "is neither in this file nor in the server's registry"
        )
        problems.append(("owner_id", f"owner {record.owner_id} {where}"))
    return problems


def put_camera(log: ChangeLog, record: CameraRecord) -> Written:
    session = log.session
    problems = camera_problems(session, record)
    if problems:
        raise RegistryRejected(
            f"camera {record.id} was not stored",
            [RegistryProblem(None, name, problem) for name, problem in problems],
        )
    return _put_record(log, "camera", RegistryCamera, CAMERA_FIELDS, record, record.owner_id)


def current_policy(session: Session, camera_id: str) -> RegistryPolicy | None:
    return session.scalar(
        select(RegistryPolicy)
        .where(RegistryPolicy.camera_id == camera_id)
        .order_by(RegistryPolicy.version.desc())
        .limit(1)
    )


def policy_problems(
    record: PolicyRecord, tier: CameraTier | None, missing: str = "is not in the server's registry"
) -> list[tuple[str, str]]:
    problems = record.problems()
    if tier is None:
        problems.append(("camera_id", f"camera {record.camera_id} {missing}"))
    elif tier is CameraTier.REGISTERED:
        problems.append(
            (
                "mode",
                f"camera {record.camera_id} is a registered camera: those have no sharing "
                "policy (tier integrated?)",
            )
        )
    return problems


def put_policy(log: ChangeLog, record: PolicyRecord) -> Written:
    """Add the next policy version if the terms changed; ``record.version`` and ``changed_at``
    are kept only for a camera's first policy (as the workstation's import does)."""
    session = log.session
    camera = session.get(RegistryCamera, record.camera_id)
    problems = policy_problems(record, camera.tier if camera else None)
    if problems or camera is None:
        raise RegistryRejected(
            f"the policy of camera {record.camera_id} was not stored",
            [RegistryProblem(None, name, problem) for name, problem in problems],
        )
    current = current_policy(session, record.camera_id)
    if current is not None and record.same_terms(current):
        return Written(
            "policy", record.camera_id, policy_document(current), created=False, change_version=None
        )
    if current is None:
        version, changed_at = record.version or 1, record.changed_at or log.now
    else:
        version, changed_at = current.version + 1, log.now
    policy = RegistryPolicy(
        camera_id=record.camera_id,
        version=version,
        mode=record.mode,
        time_zone=record.time_zone,
        window_specs=record.windows,
        note=record.note,
        changed_at=changed_at,
    )
    session.add(policy)
    session.flush()
    document = policy_document(policy)
    change = log.append("policy", record.camera_id, camera.owner_id, document)
    return Written("policy", record.camera_id, document, current is None, change)


def import_registry(
    log: ChangeLog,
    owners: Sequence[OwnerRecord],
    cameras: Sequence[CameraRecord],
    policies: Sequence[PolicyRecord],
) -> ImportCounts:
    """Check every record against the others and the registry, then write them all, or raise
    RegistryRejected listing every problem (with its row, as ``cameras row 3``) and write
    nothing."""
    session = log.session
    problems: list[RegistryProblem] = []
    owner_rows: dict[str, str] = {}
    for number, owner in enumerate(owners, start=1):
        label = f"owners row {number}"
        if owner.id in owner_rows:
            problems.append(
                RegistryProblem(
                    label, "id", f"owner {owner.id} appears again (first in {owner_rows[owner.id]})"
                )
            )
        owner_rows.setdefault(owner.id, label)
    camera_rows: dict[str, tuple[str, CameraRecord]] = {}
    for number, camera in enumerate(cameras, start=1):
        label = f"cameras row {number}"
        found = camera_problems(session, camera, set(owner_rows))
        if camera.id in camera_rows:
            first = camera_rows[camera.id][0]
            found.append(("id", f"camera {camera.id} appears again (first in {first})"))
        problems += [RegistryProblem(label, name, problem) for name, problem in found]
        camera_rows.setdefault(camera.id, (label, camera))
    policy_rows: dict[str, str] = {}
    for number, policy in enumerate(policies, start=1):
        label = f"policies row {number}"
        if policy.camera_id in camera_rows:
            tier: CameraTier | None = camera_rows[policy.camera_id][1].tier
        else:
            stored = session.get(RegistryCamera, policy.camera_id)
            tier = stored.tier if stored else None
        found = policy_problems(
            policy, tier, "is neither in this file nor in the server's registry"
        )
        if policy.camera_id in policy_rows:
            first = policy_rows[policy.camera_id]
            found.append(
                ("camera_id", f"a second policy for camera {policy.camera_id} (first in {first})")
            )
        problems += [RegistryProblem(label, name, problem) for name, problem in found]
        policy_rows.setdefault(policy.camera_id, label)
    if problems:
        rows = len({problem.row for problem in problems})
        raise RegistryRejected(
            f"{rows} rows of the registry file are invalid; nothing was imported", problems
        )
    counts = ImportCounts()
    for owner in owners:
        counts.count(put_owner(log, owner))
    for camera in cameras:
        counts.count(put_camera(log, camera))
    for policy in policies:
        counts.count(put_policy(log, policy))
    return counts


@dataclass(frozen=True, slots=True)
class ChangePage:
    latest_version: int
    changes: list[RegistryChange]
    more: bool


def changes_after(session: Session, after: int, limit: int) -> ChangePage:
    """Changes with ``after < version <= latest_version``, in version order, at most ``limit``.

    ``latest_version`` is read first, so a page never holds a change newer than it says.
    """
    head = session.get(RegistryHead, 1)
    latest = head.latest_version if head is not None else 0
    rows = list(
        session.scalars(
            select(RegistryChange)
            .where(RegistryChange.version > after, RegistryChange.version <= latest)
            .order_by(RegistryChange.version)
            .limit(limit + 1)
        )
    )
    return ChangePage(latest, rows[:limit], more=len(rows) > limit)


@dataclass(frozen=True, slots=True)
class Ownership:
    """A camera belonged to an owner from ``start`` until ``end`` (None: without limit)."""

    camera_id: str
    start: datetime | None
    end: datetime | None


def ownerships(session: Session, owner_id: str) -> list[Ownership]:
    """When each camera the owner ever had was theirs, from the registry's change log.

    A camera's first owner has it from the beginning (events older than its registration on
    the server are about it too); a later owner from the change that gave it to them; an owner
    loses it at the change that gives it to another.
    """
    owned_ever = select(RegistryChange.record_id).where(
        RegistryChange.kind == "camera", RegistryChange.owner_id == owner_id
    )
    history = session.execute(
        select(RegistryChange.record_id, RegistryChange.owner_id, RegistryChange.changed_at)
        .where(RegistryChange.kind == "camera", RegistryChange.record_id.in_(owned_ever))
        .order_by(RegistryChange.record_id, RegistryChange.version)
    )
    periods: list[Ownership] = []
    holding: dict[str, datetime | None] = {}  # camera -> start of the owner's current period
    previous_owner: dict[str, str] = {}
    for camera_id, holder, changed_at in history:
        first_change = camera_id not in previous_owner
        was_owners = previous_owner.get(camera_id) == owner_id
        previous_owner[camera_id] = holder
        if holder == owner_id and not was_owners:
            holding[camera_id] = None if first_change else changed_at
        elif holder != owner_id and was_owners:
            periods.append(Ownership(camera_id, holding.pop(camera_id), changed_at))
    periods += [Ownership(camera_id, start, None) for camera_id, start in holding.items()]
    return periods


def owned_events(periods: Sequence[Ownership]) -> ColumnElement[bool]:
    """The condition on received events for "about a camera while the owner had it"."""
    whole = [period.camera_id for period in periods if period.start is None and period.end is None]
    conditions: list[ColumnElement[bool]] = []
    if whole:
        conditions.append(ReceivedAuditEvent.camera_id.in_(whole))
    for period in periods:
        if period.start is None and period.end is None:
            continue
        parts = [ReceivedAuditEvent.camera_id == period.camera_id]
        if period.start is not None:
            parts.append(ReceivedAuditEvent.time >= period.start)
        if period.end is not None:
            parts.append(ReceivedAuditEvent.time < period.end)
        conditions.append(and_(*parts))
    return or_(*conditions) if conditions else false()

"""Registry sync down: owners, cameras and sharing policies come from the sync server.

One worker thread asks the server every ``registry_poll_s`` for the changes after the last one
this workstation applied (``GET /v1/registry/changes?after=V&limit=N``, the workstation's sync
token), and applies each page of them to the local registry database in one transaction, with
the page's last version (``RegistrySyncPosition``), so a crash or a restart continues exactly
where the last committed page ended: nothing skipped, nothing applied twice.

Applying
    Each change's document is checked with the registry file's record models (the same rules
    as ``beacon registry import``) and written by its id: an owner or camera is created or
    updated; a policy is added with the version the server gave it, never renumbered here. A
    policy version older than or equal to the camera's current one is ignored (a change seen
    again, or a local import that got ahead), so a policy only ever moves forward. Each policy
    added writes a ``policy_change_seen`` audit event naming the camera and its old and new
    version, after the page commits: a revocation takes effect even if the audit log refuses.

After each page
    The policy gate, if one is attached (a console session is signed in), re-checks its leases
    at once, so a revocation ends open feeds within one poll rather than at the gate's next
    tick; the gate audits each end as always.

Malformed changes
    A change that cannot be applied (an unknown kind, a document the record models refuse, a
    camera of an owner this registry does not have) is skipped and reported in the state and
    the log; the rest of the page is applied and the position moves past it, so one bad change
    never stops the others nor is asked for again and again. An answer that cannot be read as a
    page at all (versions missing or out of order) applies nothing and is retried with backoff.

Failures are those of the audit sync client (``app.services.audit_sync``; both are a
``SyncWorker``, sharing its HTTP link, token lookup and backoff): the server down, a timeout or
a 5xx is "server unreachable", a refused token or a server without the registry says what to
do, and both are retried with backoff and jitter. The token is sent only in the Authorization
header.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar, Unpack
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, selectinload

from app.models.audit_chain import AuditEventType
from app.models.camera import Camera, CameraTier
from app.models.owner import Owner
from app.models.registry_records import (
    CAMERA_FIELDS,
    OWNER_FIELDS,
    CameraRecord,
    OwnerRecord,
    PolicyRecord,
)
from app.models.registry_sync_position import RegistrySyncPosition
from app.models.sharing_policy import PolicyError, PolicyMode, SharingPolicy
from app.models.stream_url import redact_url
from app.services.audit_log import AuditLog, AuditWriteError
from app.services.clock import Clock, utc_now
from app.services.credentials import CredentialStore
from app.services.sync_link import SyncStalled
from app.services.sync_worker import SyncWorker, SyncWorkerArguments, worker_arguments
from app.settings import Settings

log = logging.getLogger(__name__)

CHANGES_PATH = "/v1/registry/changes"
PAGE_SIZE = 500  # changes per answer; a page is one transaction here
ACTOR = "registry-sync"  # the actor of the audit events this client writes
MAX_SHOWN = 200  # characters of a server-sent id or kind quoted in a problem

StateCallback = Callable[["RegistrySyncState"], None]
Record = TypeVar("Record", bound=BaseModel)


class RegistrySyncPhase(enum.StrEnum):
    CONNECTING = "connecting"  # started, the server not asked yet
    CURRENT = "current"  # every change the server had at the last ask is applied
    UNREACHABLE = "unreachable"  # network or server error: retried with backoff
    STALLED = "stalled"  # needs a person (token, registration, keyring, database): retried


@dataclass(frozen=True, slots=True)
class RegistrySyncState:
    """What the registry sync is doing, for the status bar and ``beacon sync registry``."""

    phase: RegistrySyncPhase
    version: int = 0  # the server's last change applied here
    applied: int = 0  # changes applied since the client started
    skipped: int = 0  # malformed changes skipped since the client started
    failing_since: datetime | None = None
    retry_at: datetime | None = None
    reason: str = ""  # short, for the status bar
    detail: str = ""  # the whole story: tooltip, CLI, log

    def text(self) -> str:
        """The state in a few words: "registry v123", "registry: server unreachable", ..."""
        if self.phase is RegistrySyncPhase.CONNECTING:
            return "registry: connecting"
        if self.phase is RegistrySyncPhase.CURRENT:
            if not self.skipped:
                return f"registry v{self.version}"
            noun = "change" if self.skipped == 1 else "changes"
            return f"registry v{self.version}, {self.skipped} {noun} skipped"
        if self.phase is RegistrySyncPhase.UNREACHABLE:
            return "registry: server unreachable"
        return f"registry: {self.reason}"


class RegistrySyncStateSource(Protocol):
    """What a status bar needs of the registry sync."""

    def state(self) -> RegistrySyncState: ...


class LeaseChecker(Protocol):
    """The policy gate, as far as the registry sync needs it."""

    def check_leases(self) -> None: ...


# ---- a page of changes -----------------------------------------------------------------------


class RegistryAnswerError(ValueError):
    """The server's answer cannot be read as a page of changes; nothing of it is applied."""


@dataclass(frozen=True, slots=True)
class RegistryChange:
    """One change as the server sent it; only its version is known to be sound."""

    version: int
    kind: Any
    id: Any
    document: Any


@dataclass(frozen=True, slots=True)
class RegistryPage:
    latest_version: int
    changes: tuple[RegistryChange, ...]
    more: bool


def _version(value: Any) -> int | None:
    """An integer from JSON (not a boolean, which Python counts as one), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_page(body: Any, after: int) -> RegistryPage:
    """The page in ``body``, its changes' versions after ``after`` and strictly increasing."""
    if not isinstance(body, dict):
        raise RegistryAnswerError("the answer is not a JSON object")
    latest, changes, more = (
        _version(body.get("latest_version")),
        body.get("changes"),
        body.get("more"),
    )
    if latest is None or not isinstance(changes, list) or not isinstance(more, bool):
        raise RegistryAnswerError("the answer lacks latest_version, changes or more")
    previous = after
    read: list[RegistryChange] = []
    for number, change in enumerate(changes, start=1):
        if not isinstance(change, dict) or (version := _version(change.get("version"))) is None:
            raise RegistryAnswerError(f"change {number} of the page has no version")
        if version <= previous:
            raise RegistryAnswerError(
                f"change {number} of the page has version {version}, not after {previous}"
            )
        previous = version
        read.append(
            RegistryChange(version, change.get("kind"), change.get("id"), change.get("document"))
        )
    return RegistryPage(latest, tuple(read), more)


# ---- applying a page -------------------------------------------------------------------------


class _ChangeProblem(Exception):
    """This change cannot be applied; the message says why (never holding a credential)."""


@dataclass(frozen=True, slots=True)
class SkippedChange:
    version: int
    kind: str
    id: str
    problem: str

    def __str__(self) -> str:
        return f"change {self.version} ({self.kind} {self.id}): {self.problem}"


@dataclass(frozen=True, slots=True)
class PolicySeen:
    """A policy version this workstation took from the server."""

    registry_version: int
    camera_id: str
    camera_name: str
    previous_version: int | None
    version: int
    mode: PolicyMode


@dataclass
class AppliedPage:
    version: int  # the position after the page
    applied: int = 0
    ignored: int = 0  # policy versions not newer than the camera's current one
    skipped: list[SkippedChange] = field(default_factory=list)
    policies: list[PolicySeen] = field(default_factory=list)


def applied_version(session: Session, server_url: str) -> int:
    """The server's last change applied to this registry (0: none yet)."""
    position = session.get(RegistrySyncPosition, server_url)
    return position.version if position is not None else 0


def apply_changes(
    session: Session, server_url: str, changes: Sequence[RegistryChange], now: datetime
) -> AppliedPage:
    """Apply ``changes`` in order and store the last one's version, in the caller's transaction.

    A change that cannot be applied is skipped (in ``skipped``) before anything of it is
    written; a database failure raises SQLAlchemyError and the caller rolls the page back.
    """
    page = AppliedPage(applied_version(session, server_url))
    for change in changes:
        try:
            seen = _apply(session, change)
        except _ChangeProblem as problem:
            page.skipped.append(
                SkippedChange(
                    change.version, _shown(change.kind), _shown(change.id), redact_url(str(problem))
                )
            )
        else:
            if seen is False:
                page.ignored += 1
            else:
                page.applied += 1
                if isinstance(seen, PolicySeen):
                    page.policies.append(seen)
        session.flush()
        page.version = change.version
    if changes:
        position = session.get(RegistrySyncPosition, server_url)
        if position is None:
            session.add(
                RegistrySyncPosition(server_url=server_url, version=page.version, applied_at=now)
            )
        else:
            position.version, position.applied_at = page.version, now
    return page


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return redact_url(text[:MAX_SHOWN])


def _validated(model: type[Record], document: Any) -> Record:
    if not isinstance(document, dict):
        raise _ChangeProblem("the document is not a JSON object")
    try:
        record = model.model_validate(document)
    except ValidationError as exc:
        raise _ChangeProblem(_describe(exc)) from None
    problems: list[tuple[str, str]] = getattr(record, "problems", list)()
    if problems:
        raise _ChangeProblem("; ".join(f"{name}: {problem}" for name, problem in problems))
    return record


def _describe(error: ValidationError) -> str:
    """Each field and what is wrong with it, without the values (a URL may hold a password)."""
    found = []
    for item in error.errors():
        name = ".".join(str(part) for part in item["loc"]) or "(document)"
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        found.append(f"{name}: {message}")
    return "; ".join(found)


def _same_id(change: RegistryChange, document_id: str) -> None:
    if change.id != document_id:
        raise _ChangeProblem(f"the document is of {document_id!r}, not of {_shown(change.id)!r}")


def _apply(session: Session, change: RegistryChange) -> PolicySeen | bool:
    """Apply one change: True (or the policy seen) when applied, False when ignored."""
    if change.kind == "owner":
        owner_record = _validated(OwnerRecord, change.document)
        _same_id(change, owner_record.id)
        owner = session.get(Owner, owner_record.id) or Owner(id=owner_record.id)
        for name in OWNER_FIELDS:
            setattr(owner, name, getattr(owner_record, name))
        session.add(owner)
        return True
    if change.kind == "camera":
        camera_record = _validated(CameraRecord, change.document)
        _same_id(change, camera_record.id)
        if session.get(Owner, camera_record.owner_id) is None:
            raise _ChangeProblem(f"owner {camera_record.owner_id!r} is not in this registry")
        camera = session.get(Camera, camera_record.id) or Camera(id=camera_record.id)
        for name in CAMERA_FIELDS:
            value = getattr(camera_record, name)
            setattr(camera, name, value.astimezone(UTC) if isinstance(value, datetime) else value)
        session.add(camera)
        return True
    if change.kind == "policy":
        return _apply_policy(session, change)
    raise _ChangeProblem(f"unknown kind {_shown(change.kind)!r} (owner, camera or policy)")


def _apply_policy(session: Session, change: RegistryChange) -> PolicySeen | bool:
    record = _validated(PolicyRecord, change.document)
    _same_id(change, record.camera_id)
    if record.version is None or record.changed_at is None:
        raise _ChangeProblem("a policy from the server needs its version and changed_at")
    camera = session.get(Camera, record.camera_id, options=[selectinload(Camera.policies)])
    if camera is None:
        raise _ChangeProblem(f"camera {record.camera_id!r} is not in this registry")
    if camera.tier is CameraTier.REGISTERED:
        raise _ChangeProblem(f"camera {record.camera_id!r} is registered: it takes no policy")
    current = camera.current_policy
    if current is not None and record.version <= current.version:
        log.info(
            "registry change %d: policy version %d of camera %s ignored (this registry has %d)",
            change.version,
            record.version,
            camera.id,
            current.version,
        )
        return False
    policy = SharingPolicy(
        version=record.version,
        mode=record.mode,
        time_zone=record.time_zone,
        window_specs=record.windows,
        changed_at=record.changed_at.astimezone(UTC),
        note=record.note,
    )
    try:
        policy.check()
    except PolicyError as exc:
        raise _ChangeProblem(str(exc)) from None
    camera.policies.append(policy)
    return PolicySeen(
        change.version,
        camera.id,
        camera.name,
        current.version if current is not None else None,
        record.version,
        record.mode,
    )


# ---- the client ------------------------------------------------------------------------------


class RegistrySync(SyncWorker[RegistrySyncState], name="registry sync", toward="from"):
    """Pulls one sync server's registry changes into the local registry from one worker thread."""

    def __init__(
        self,
        *,
        sessions: Callable[[], Session],
        audit: AuditLog,
        poll_s: float = 2.0,
        page_size: int = PAGE_SIZE,
        on_change: StateCallback | None = None,
        **worker: Unpack[SyncWorkerArguments],
    ) -> None:
        """``worker``: the server_url, workstation_id and token source, and the timeouts,
        retry, CA file, clock and jitter of every ``SyncWorker``."""
        super().__init__(
            poll_s, RegistrySyncState(RegistrySyncPhase.CONNECTING), on_change, **worker
        )
        self._sessions = sessions
        self._audit = audit
        self._page_size = page_size
        self._server = urlsplit(self.server_url).netloc

        # Used by one job at a time (the worker's, or pull_once's), under _job_lock.
        self._version = 0  # as last read from, or written to, the registry
        self._applied = 0
        self._skipped = 0
        self._last_skipped = ""

        self._gate_lock = threading.Lock()
        self._gate: LeaseChecker | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        credentials: CredentialStore,
        *,
        sessions: Callable[[], Session],
        audit: AuditLog,
        clock: Clock = utc_now,
        on_change: StateCallback | None = None,
    ) -> RegistrySync | None:
        """The client ``[sync]`` describes, asking every ``registry_poll_s``, or None when no
        server_url is set; ``sessions`` open the registry it writes to."""
        arguments = worker_arguments(settings, credentials, clock)
        if arguments is None:
            return None
        return cls(
            sessions=sessions,
            audit=audit,
            poll_s=settings.sync.registry_poll_s,
            on_change=on_change,
            **arguments,
        )

    def attach_gate(self, gate: LeaseChecker | None) -> None:
        """The gate whose leases are re-checked after each page (None: no console session)."""
        with self._gate_lock:
            self._gate = gate

    def pull_once(self) -> RegistrySyncState:
        """One job in the calling thread: apply every change the server has now, or say why not."""
        self._job(scheduled=False)
        return self.state()

    # ---- one job ---------------------------------------------------------------------------

    def _work(self) -> bool:
        """Pull what is new."""
        self._pull()
        return True

    def _publish_failure(self, *, stalled: bool, **fields: Any) -> None:
        self._publish(
            RegistrySyncPhase.STALLED if stalled else RegistrySyncPhase.UNREACHABLE, **fields
        )

    def _pull(self) -> None:
        version = self._version = self._stored_version()
        token = self._token_now()
        while not self._stopping.is_set():
            page = self._fetch(version, token)
            if page.latest_version < version:
                raise SyncStalled(
                    "the server's registry is behind this workstation's",
                    f"the server {self.server_url} has registry changes up to version "
                    f"{page.latest_version}, this workstation applied up to {version}: the "
                    "server's database was restored or replaced; ask its administrator",
                )
            if page.changes:
                version = self._version = self._apply(page)
            if not page.more or not page.changes:
                break
        self._publish(RegistrySyncPhase.CURRENT, detail=self._last_skipped)

    def _stored_version(self) -> int:
        try:
            with self._sessions() as session:
                return applied_version(session, self.server_url)
        except SQLAlchemyError as exc:
            raise SyncStalled("the registry cannot be read", str(exc)) from exc

    def _fetch(self, after: int, token: str) -> RegistryPage:
        path = f"{CHANGES_PATH}?after={after}&limit={self._page_size}"
        answer = self._link.request("GET", path, token)
        if answer.status != 200:
            raise self._refusal(answer)
        try:
            return read_page(answer.body, after)
        except RegistryAnswerError as exc:
            raise SyncStalled(
                "the server's registry changes cannot be read",
                f"GET {CHANGES_PATH}?after={after}: {exc}; nothing of it was applied",
            ) from None

    def _apply(self, page: RegistryPage) -> int:
        """Apply one page in one transaction, then audit its policies and re-check leases."""
        try:
            with self._sessions() as session, session.begin():
                applied = apply_changes(session, self.server_url, page.changes, self._clock())
        except SQLAlchemyError as exc:
            raise SyncStalled("the registry cannot be written", str(exc)) from exc
        self._applied += applied.applied
        for skipped in applied.skipped:
            log.error("registry change from %s skipped: %s", self.server_url, skipped)
            self._skipped += 1
            self._last_skipped = f"skipped {skipped}"
        for seen in applied.policies:
            self._audit_policy(seen)
        if applied.applied:
            self._check_leases()
        return applied.version

    def _audit_policy(self, seen: PolicySeen) -> None:
        try:
            self._audit.record(
                AuditEventType.POLICY_CHANGE_SEEN,
                actor=ACTOR,
                subject=seen.camera_name,
                camera_id=seen.camera_id,
                policy_version=seen.version,
                reason=f"policy_{seen.mode.value}",
                details={
                    "previous_version": seen.previous_version,
                    "mode": seen.mode.value,
                    "server": self._server,
                    "registry_version": seen.registry_version,
                },
            )
        except AuditWriteError:
            # Applied all the same: a revocation must take effect even then.
            log.error(
                "policy version %d of camera %s was applied but could not be audited",
                seen.version,
                seen.camera_id,
            )

    def _check_leases(self) -> None:
        with self._gate_lock:
            gate = self._gate
        if gate is None:
            return
        try:
            gate.check_leases()
        except Exception:  # the gate's own watcher tries again within its interval
            log.exception("re-checking leases after a registry change failed")

    def _not_found(self, detail: str) -> SyncStalled:
        return SyncStalled(
            "the sync server does not serve the registry",
            f"GET {CHANGES_PATH}: {detail}; the server must be upgraded",
        )

    # ---- state -----------------------------------------------------------------------------

    def _publish(self, phase: RegistrySyncPhase, **fields: Any) -> None:
        self._set_state(
            RegistrySyncState(
                phase, self._version, applied=self._applied, skipped=self._skipped, **fields
            )
        )

"""Evidence retention and legal holds: the only deletion besides an administrator's.

The retention job (``apply_retention``) deletes every file received more than
``evidence_retention_days`` ago, each through ``delete_evidence`` so its custody log ends with a
``deleted`` event (actor ``retention``), except the files of an incident under legal hold. It
also expires the footage requests whose time is up and discards what their owners left half
uploaded (the encrypted partial file and its row). The server runs it every
``evidence_retention_interval_s`` (``RetentionSchedule``, in a worker thread); an administrator
runs it on demand with ``python -m server retention [--dry-run]``.

An administrator sets or clears an incident's hold (``PUT``/``DELETE
/v1/incidents/{cad_number}/hold``) with a reason; each is an event in an append-only log.

No ``from __future__ import annotations`` here: FastAPI reads the endpoints' annotations at run
time.
"""

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.api import AUTH_ERRORS, BODY_ERRORS
from server.config import ServerSettings
from server.evidence_api import CadNumberPath, EvidenceContext, actor_of
from server.evidence_models import (
    EvidenceFile,
    EvidenceRequest,
    EvidenceRequestStatus,
    EvidenceUpload,
    HoldAction,
    LegalHoldEvent,
)
from server.evidence_service import EvidenceReceiver, delete_evidence, expire_due, is_held
from server.evidence_vault import EvidenceVault
from server.models import ApiToken, TokenRole
from server.schemas import NO_NUL, ErrorMessage
from server.tokens import require_role

log = logging.getLogger(__name__)

RETENTION_ACTOR = "retention"
# A chunk that was arriving when its request expired is given this long to finish before the
# upload it belongs to is discarded (new chunks are refused from the moment it expires).
UPLOAD_GRACE = timedelta(hours=1)


def retention_purpose(days: int) -> str:
    return f"retention: {days} days"


# --- legal holds ------------------------------------------------------------------------------


class NotHeld(Exception):
    """Clearing a hold on an incident that is not held."""


def hold_log(session: Session, cad_number: str) -> list[LegalHoldEvent]:
    return list(
        session.scalars(
            select(LegalHoldEvent)
            .where(LegalHoldEvent.cad_number == cad_number)
            .order_by(LegalHoldEvent.id)
        )
    )


def set_hold(
    session: Session, cad_number: str, actor: str, reason: str, now: datetime
) -> LegalHoldEvent:
    """Hold the incident's evidence (again, with a new reason, if it is held already)."""
    event = LegalHoldEvent(
        cad_number=cad_number, action=HoldAction.SET, actor=actor, reason=reason, time=now
    )
    session.add(event)
    session.flush()
    return event


def clear_hold(
    session: Session, cad_number: str, actor: str, reason: str, now: datetime
) -> LegalHoldEvent:
    """End the incident's hold: its evidence is under the retention policy again."""
    if not is_held(session, cad_number):
        raise NotHeld(f"incident {cad_number} is not under legal hold")
    event = LegalHoldEvent(
        cad_number=cad_number, action=HoldAction.CLEARED, actor=actor, reason=reason, time=now
    )
    session.add(event)
    session.flush()
    return event


# --- the retention job ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetainedFile:
    """A file past the retention period: deleted, or kept because of a hold."""

    evidence_id: str
    cad_number: str
    original_name: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class ExpiredRequest:
    reference: str
    workstation_id: str
    cad_number: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AbandonedUpload:
    """An upload its owner never finished, of a request that expired."""

    upload_id: str
    reference: str
    workstation_id: str
    original_name: str
    received: int
    size: int


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """What one run deleted, kept under hold, expired and discarded (or, for a dry run, would)."""

    dry_run: bool
    retention_days: int | None
    deleted: tuple[RetainedFile, ...]
    held: tuple[RetainedFile, ...]
    expired_requests: tuple[ExpiredRequest, ...]
    discarded_uploads: tuple[AbandonedUpload, ...]

    def lines(self) -> list[str]:
        """The report in words, a line per thing, for the administrator's terminal."""
        would, will = ("would be ", "would ") if self.dry_run else ("", "")
        lines = []
        if self.retention_days is None:
            lines.append("no retention period is set: no evidence is deleted by retention")
        for kept in self.deleted:
            lines.append(
                f"{will}delete evidence {kept.evidence_id} ({kept.original_name}, incident "
                f"{kept.cad_number}, received {kept.received_at:%Y-%m-%d %H:%M}Z): "
                f"{retention_purpose(self.retention_days or 0)}"
            )
        for kept in self.held:
            lines.append(
                f"keep evidence {kept.evidence_id} ({kept.original_name}, received "
                f"{kept.received_at:%Y-%m-%d %H:%M}Z): incident {kept.cad_number} is under "
                "legal hold"
            )
        for request in self.expired_requests:
            lines.append(
                f"{will}expire footage request {request.reference} of {request.workstation_id} "
                f"(incident {request.cad_number}, expired {request.expires_at:%Y-%m-%d %H:%M}Z)"
            )
        for upload in self.discarded_uploads:
            lines.append(
                f"{will}discard the unfinished upload {upload.original_name} ({upload.received} "
                f"of {upload.size} bytes) of footage request {upload.reference} of "
                f"{upload.workstation_id}"
            )
        counts = (
            f"{_count(len(self.deleted), 'file')} {would}deleted, "
            f"{len(self.held)} kept under legal hold, "
            f"{_count(len(self.expired_requests), 'request')} {would}expired, "
            f"{_count(len(self.discarded_uploads), 'unfinished upload')} {would}discarded"
        )
        lines.append(f"dry run, nothing changed: {counts}" if self.dry_run else counts)
        return lines


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' * (number != 1)}"


def apply_retention(
    sessions: sessionmaker[Session],
    vault: EvidenceVault,
    now: datetime,
    settings: ServerSettings,
    *,
    receiver: EvidenceReceiver | None = None,
    dry_run: bool = False,
) -> RetentionReport:
    """Apply the retention policy at ``now``; with ``dry_run`` only say what it would do."""
    deleted, held = _delete_old_evidence(sessions, vault, now, settings, dry_run)
    expired, discarded = _end_expired_requests(sessions, vault, now, receiver, dry_run)
    return RetentionReport(
        dry_run=dry_run,
        retention_days=settings.evidence_retention_days,
        deleted=tuple(deleted),
        held=tuple(held),
        expired_requests=tuple(expired),
        discarded_uploads=tuple(discarded),
    )


def _delete_old_evidence(
    sessions: sessionmaker[Session],
    vault: EvidenceVault,
    now: datetime,
    settings: ServerSettings,
    dry_run: bool,
) -> tuple[list[RetainedFile], list[RetainedFile]]:
    days = settings.evidence_retention_days
    if days is None:
        return [], []
    deleted: list[RetainedFile] = []
    held: list[RetainedFile] = []
    with sessions() as session:
        due = list(
            session.scalars(
                select(EvidenceFile)
                .where(
                    EvidenceFile.deleted_at.is_(None),
                    EvidenceFile.received_at < now - timedelta(days=days),
                )
                .order_by(EvidenceFile.received_at, EvidenceFile.id)
            )
        )
        for evidence in due:
            retained = RetainedFile(
                evidence.id, evidence.cad_number, evidence.original_name, evidence.received_at
            )
            # Asked per file, just before it goes: a hold set, or a deletion by an administrator,
            # while the job runs still counts.
            session.refresh(evidence)
            if evidence.deleted_at is not None:
                continue
            if is_held(session, evidence.cad_number):
                held.append(retained)
                continue
            if not dry_run:
                delete_evidence(
                    session, vault, evidence, RETENTION_ACTOR, retention_purpose(days), now
                )
                log.info(
                    "retention: deleted evidence %s of incident %s",
                    retained.evidence_id,
                    retained.cad_number,
                )
            deleted.append(retained)
    return deleted, held


def _end_expired_requests(
    sessions: sessionmaker[Session],
    vault: EvidenceVault,
    now: datetime,
    receiver: EvidenceReceiver | None,
    dry_run: bool,
) -> tuple[list[ExpiredRequest], list[AbandonedUpload]]:
    with sessions() as session:
        due = list(
            session.scalars(
                select(EvidenceRequest)
                .where(
                    EvidenceRequest.status == EvidenceRequestStatus.OPEN,
                    EvidenceRequest.expires_at <= now,
                )
                .order_by(EvidenceRequest.id)
            )
        )
        expired = [
            ExpiredRequest(r.reference, r.workstation_id, r.cad_number, r.expires_at) for r in due
        ]
        abandoned = list(
            session.execute(
                select(EvidenceUpload, EvidenceRequest)
                .join(EvidenceRequest, EvidenceUpload.request_id == EvidenceRequest.id)
                .where(
                    EvidenceRequest.status.in_(
                        (EvidenceRequestStatus.OPEN, EvidenceRequestStatus.EXPIRED)
                    ),
                    EvidenceRequest.expires_at <= now - UPLOAD_GRACE,
                )
                .order_by(EvidenceUpload.opened_at, EvidenceUpload.id)
            )
        )
        discarded = [
            AbandonedUpload(
                upload.id,
                request.reference,
                request.workstation_id,
                upload.original_name,
                upload.received,
                upload.size,
            )
            for upload, request in abandoned
        ]
        if dry_run:
            return expired, discarded
        expire_due(due, now)
        for row, _request in abandoned:
            session.delete(row)
        session.commit()
    # The rows are gone first: a file left behind by a failure here is only unused bytes,
    # never a row pointing at a missing file.
    for upload in discarded:
        vault.discard_partial(upload.upload_id)
        if receiver is not None:
            receiver.forget(upload.upload_id)
        log.info(
            "retention: discarded the unfinished upload %s of footage request %s",
            upload.upload_id,
            upload.reference,
        )
    return expired, discarded


class RetentionSchedule:
    """Runs the retention job every ``evidence_retention_interval_s`` while the server runs, in
    a worker thread so the event loop never waits on the database or the disk. A failed run is
    logged and the next one tried on time; it never stops the server."""

    def __init__(self, context: EvidenceContext) -> None:
        self._context = context
        self._changed = threading.Condition()
        self.runs = 0  # finished runs, failed ones included
        self.last_report: RetentionReport | None = None

    def run_once(self) -> RetentionReport:
        context = self._context
        return apply_retention(
            context.sessions,
            context.vault,
            context.clock(),
            context.settings,
            receiver=context.receiver,
        )

    async def run_periodically(self) -> None:
        interval = self._context.settings.evidence_retention_interval_s
        while True:
            await asyncio.sleep(interval)
            report: RetentionReport | None = None
            run = asyncio.ensure_future(asyncio.to_thread(self.run_once))
            try:
                report = await asyncio.shield(run)
            except asyncio.CancelledError:
                # The server stops: let a run finish its deletion before the database closes.
                await asyncio.gather(run, return_exceptions=True)
                raise
            except Exception:
                log.exception("the retention job failed; it runs again in %s s", interval)
            with self._changed:
                self.runs += 1
                self.last_report = report or self.last_report
                self._changed.notify_all()

    def wait_for_runs(self, runs: int, timeout: float) -> bool:
        """Wait (in another thread than the server's loop) until ``runs`` runs have finished."""
        with self._changed:
            return self._changed.wait_for(lambda: self.runs >= runs, timeout)


# --- the hold endpoints -----------------------------------------------------------------------


class HoldReason(BaseModel):
    reason: str = Field(
        min_length=1,
        max_length=200,
        pattern=NO_NUL,
        description="why, e.g. a preservation letter's or a court order's number",
        examples=["preservation letter 2026-PL-0193"],
    )


class HoldEventItem(BaseModel):
    action: HoldAction
    actor: str
    reason: str
    time: datetime


class LegalHold(BaseModel):
    """An incident's legal hold now, and every time it was set or cleared."""

    cad_number: str
    held: bool
    events: list[HoldEventItem]


def _legal_hold(session: Session, cad_number: str) -> LegalHold:
    events = hold_log(session, cad_number)
    return LegalHold(
        cad_number=cad_number,
        held=bool(events) and events[-1].action is HoldAction.SET,
        events=[
            HoldEventItem(action=e.action, actor=e.actor, reason=e.reason, time=e.time)
            for e in events
        ],
    )


def legal_hold_router(
    context: EvidenceContext, token_dependency: Callable[..., ApiToken]
) -> APIRouter:
    router = APIRouter(prefix="/v1")
    sessions, clock = context.sessions, context.clock
    Token = Annotated[ApiToken, Depends(token_dependency)]

    @router.put(
        "/incidents/{cad_number}/hold",
        response_model=LegalHold,
        summary="Put an incident's evidence under legal hold: retention deletes none of it "
        "until the hold is cleared (administrators)",
        responses={**AUTH_ERRORS, **BODY_ERRORS},
    )
    def hold(cad_number: CadNumberPath, body: HoldReason, token: Token) -> LegalHold:
        require_role(token, TokenRole.ADMIN)
        with sessions.begin() as session:
            set_hold(session, cad_number, actor_of(token), body.reason, clock())
            return _legal_hold(session, cad_number)

    @router.delete(
        "/incidents/{cad_number}/hold",
        response_model=LegalHold,
        summary="Clear an incident's legal hold: its evidence is under the retention policy "
        "again (administrators)",
        responses={
            **AUTH_ERRORS,
            409: {"model": ErrorMessage, "description": "the incident is not under legal hold"},
        },
    )
    def release(
        cad_number: CadNumberPath,
        reason: Annotated[
            str,
            Query(
                min_length=1,
                max_length=200,
                pattern=NO_NUL,
                description="why, e.g. the case was closed or the court order ended",
            ),
        ],
        token: Token,
    ) -> Any:
        require_role(token, TokenRole.ADMIN)
        with sessions.begin() as session:
            try:
                clear_hold(session, cad_number, actor_of(token), reason, clock())
            except NotHeld as exc:
                raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
            return _legal_hold(session, cad_number)

    return router

"""Install record sync: sends the install records saved on this workstation to the sync server.

Field technicians save records where the network is poor or absent; each record waits in the
registry database, ``queued``, until the sync server took it. One worker thread (a
``SyncWorker``, with the audit and registry syncs' link, token lookup and backoff) looks every
``interval_s`` (at once when nudged after a save) for queued records and sends each, oldest
first, as ``PUT /v1/install-records/{id}`` (JSON, the snapshots in base64), then marks it
``sent`` with ``sent_at``.

Nothing lost, nothing doubled: a record stays queued until the server acknowledged it; the
server down, a timeout or a 5xx is retried with backoff and jitter, the reason kept on the
record (``last_error``) for the technician. The record's id is a UUID made when it was saved,
and the server takes the same record twice as one (200 instead of 201), so a record whose
acknowledgement was lost is sent again and stored once.

A record the server refuses (409: the server holds another record under its id; 413: larger
than the server takes; 422: the server cannot read it) stays queued with the server's words in
``last_error`` and is not sent again until the worker restarts; the others carry on.
"""

from __future__ import annotations

import base64
import enum
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, Unpack

from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, selectinload

from app.models.audit_chain import format_time
from app.models.install_record import InstallRecord, InstallRecordSyncState
from app.models.stream_url import redact_url
from app.services.clock import Clock, utc_now
from app.services.credentials import CredentialStore
from app.services.sync_link import ServerAnswer, ServerUnreachable, SyncStalled, answer_detail
from app.services.sync_worker import SyncWorker, SyncWorkerArguments, worker_arguments
from app.settings import Settings

log = logging.getLogger(__name__)

RECORDS_PATH = "/v1/install-records"
REFUSALS = frozenset({400, 409, 413, 422})  # about this record: the others can still go
MAX_ERROR = 1000  # characters of last_error

StateCallback = Callable[["InstallRecordSyncStatus"], None]


class InstallRecordSyncPhase(enum.StrEnum):
    CONNECTING = "connecting"  # started, nothing sent yet
    CURRENT = "current"  # every queued record the server would take was sent
    UNREACHABLE = "unreachable"  # network or server error: retried with backoff
    STALLED = "stalled"  # needs a person (token, registration, keyring, database): retried


@dataclass(frozen=True, slots=True)
class InstallRecordSyncStatus:
    """What the install record sync is doing, for the Record tab and a status bar."""

    phase: InstallRecordSyncPhase
    queued: int = 0  # records on this workstation the server does not have yet
    sent: int = 0  # records sent since the worker started
    refused: int = 0  # records the server refused since the worker started
    failing_since: datetime | None = None
    retry_at: datetime | None = None
    reason: str = ""  # short
    detail: str = ""  # the whole story: tooltip, log

    def text(self) -> str:
        """The state in a few words: "install records: all sent", "2 install records waiting"."""
        waiting = f"{self.queued} install record{'' if self.queued == 1 else 's'} waiting"
        if self.phase is InstallRecordSyncPhase.CURRENT:
            if not self.queued:
                return "install records: all sent"
            return f"{waiting} ({self.refused} refused by the server)" if self.refused else waiting
        if self.phase is InstallRecordSyncPhase.CONNECTING:
            return "install records: connecting"
        if self.phase is InstallRecordSyncPhase.UNREACHABLE:
            return f"{waiting} (server unreachable)"
        return f"{waiting} ({self.reason})"


class InstallRecordSyncSource(Protocol):
    """What the Record tab needs of the sync: a nudge to send a record just saved."""

    def nudge(self) -> None: ...


def record_document(record: InstallRecord) -> dict[str, Any]:
    """The record as the server takes it (``server.install_records.InstallRecordUpload``)."""
    return {
        "id": record.id,
        "camera_id": record.camera_id,
        "technician": record.technician,
        "workstation": record.workstation,
        "created_at": format_time(record.created_at),
        "verdict": record.verdict.value,
        "check_report": record.check_report,
        "placement": record.placement,
        "notes": record.notes,
        "snapshots": [
            {
                "stream": snapshot.stream,
                "width": snapshot.width,
                "height": snapshot.height,
                "jpeg": base64.b64encode(snapshot.jpeg).decode("ascii"),
            }
            for snapshot in record.snapshots
        ],
    }


class InstallRecordSync(
    SyncWorker[InstallRecordSyncStatus], name="install record sync", toward="to"
):
    """Sends this workstation's queued install records to one sync server from one thread."""

    def __init__(
        self,
        *,
        sessions: Callable[[], Session],
        interval_s: float = 5.0,
        on_change: StateCallback | None = None,
        **worker: Unpack[SyncWorkerArguments],
    ) -> None:
        """``sessions`` open the registry the records are in; ``worker``: the server_url,
        workstation_id and token source, and the timeouts, retry, CA file, clock and jitter of
        every ``SyncWorker``."""
        super().__init__(
            interval_s,
            InstallRecordSyncStatus(InstallRecordSyncPhase.CONNECTING),
            on_change,
            **worker,
        )
        self._sessions = sessions
        # Used by one job at a time (the worker's, or send_once's), under _job_lock.
        self._sent = 0
        self._refused: dict[str, str] = {}  # record id: the server's words

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        credentials: CredentialStore,
        *,
        sessions: Callable[[], Session],
        clock: Clock = utc_now,
        on_change: StateCallback | None = None,
    ) -> InstallRecordSync | None:
        """The client ``[sync]`` describes, or None when no server_url is set."""
        arguments = worker_arguments(settings, credentials, clock)
        if arguments is None:
            return None
        return cls(
            sessions=sessions,
            interval_s=settings.sync.interval_s,
            on_change=on_change,
            **arguments,
        )

    def send_once(self) -> InstallRecordSyncStatus:
        """One job in the calling thread: send every queued record now, or say why not."""
        self._job(scheduled=False)
        return self.state()

    # ---- one job ---------------------------------------------------------------------------

    def _work(self) -> bool:
        while not self._stopping.is_set():
            outgoing = self._next_queued()
            if outgoing is None:
                break
            record_id, body = outgoing
            self._send(record_id, body)
        self._publish(InstallRecordSyncPhase.CURRENT, detail=self._refusal_detail())
        return True

    def _next_queued(self) -> tuple[str, bytes] | None:
        """The oldest queued record not refused by the server in this run, as the wire body."""
        try:
            with self._sessions() as session:
                record = session.scalars(
                    select(InstallRecord)
                    .where(
                        InstallRecord.sync_state == InstallRecordSyncState.QUEUED,
                        InstallRecord.id.not_in(self._refused),
                    )
                    .options(selectinload(InstallRecord.snapshots))
                    .order_by(InstallRecord.created_at, InstallRecord.id)
                    .limit(1)
                ).first()
                if record is None:
                    return None
                return record.id, json.dumps(record_document(record)).encode("utf-8")
        except SQLAlchemyError as exc:
            raise SyncStalled("the install records cannot be read", str(exc)) from exc

    def _send(self, record_id: str, body: bytes) -> None:
        try:
            token = self._token_now()
            answer = self._link.request("PUT", f"{RECORDS_PATH}/{record_id}", token, body)
        except (ServerUnreachable, SyncStalled) as failure:
            self._note(record_id, error=_failure_text(failure))
            raise
        if answer.status in (200, 201):
            self._note(record_id, sent_at=self._clock())
            self._sent += 1
            log.info("install record %s sent to %s", record_id, self.server_url)
            return
        if answer.status in REFUSALS:
            detail = f"the server refused it (HTTP {answer.status}): {_answer_text(answer)}"
            log.error("install record %s: %s", record_id, detail)
            self._refused[record_id] = detail
            self._note(record_id, error=detail)
            return
        refusal = self._refusal(answer)
        self._note(record_id, error=_failure_text(refusal))
        raise refusal

    def _note(
        self, record_id: str, *, sent_at: datetime | None = None, error: str | None = None
    ) -> None:
        """Mark the record sent (``sent_at``), or keep why it was not (``error``)."""
        values: dict[str, Any] = (
            {"sync_state": InstallRecordSyncState.SENT, "sent_at": sent_at, "last_error": None}
            if sent_at is not None
            else {"last_error": redact_url(error or "")[:MAX_ERROR]}
        )
        try:
            with self._sessions() as session, session.begin():
                session.execute(
                    update(InstallRecord).where(InstallRecord.id == record_id).values(**values)
                )
        except SQLAlchemyError as exc:
            raise SyncStalled("the install records cannot be written", str(exc)) from exc

    def _refusal_detail(self) -> str:
        return "; ".join(f"{record}: {why}" for record, why in self._refused.items())

    def _not_found(self, detail: str) -> SyncStalled:
        return SyncStalled(
            "the sync server does not take install records",
            f"PUT {RECORDS_PATH}: {detail}; the server must be upgraded",
        )

    # ---- state -----------------------------------------------------------------------------

    def _publish_failure(self, *, stalled: bool, **fields: Any) -> None:
        self._publish(
            InstallRecordSyncPhase.STALLED if stalled else InstallRecordSyncPhase.UNREACHABLE,
            **fields,
        )

    def _publish(self, phase: InstallRecordSyncPhase, **fields: Any) -> None:
        try:
            with self._sessions() as session:
                queued = session.scalar(
                    select(func.count())
                    .select_from(InstallRecord)
                    .where(InstallRecord.sync_state == InstallRecordSyncState.QUEUED)
                )
        except SQLAlchemyError:
            queued = self.state().queued
        self._set_state(
            InstallRecordSyncStatus(
                phase, queued or 0, sent=self._sent, refused=len(self._refused), **fields
            )
        )


def _answer_text(answer: ServerAnswer) -> str:
    body = answer.body
    if isinstance(body, dict) and isinstance(body.get("detail"), list):
        return json.dumps(body["detail"])[:500]
    return answer_detail(answer)


def _failure_text(failure: Exception) -> str:
    if isinstance(failure, SyncStalled):
        return f"{failure.reason}: {failure.detail}"
    return f"server unreachable: {failure}"


__all__ = [
    "InstallRecordSync",
    "InstallRecordSyncPhase",
    "InstallRecordSyncSource",
    "InstallRecordSyncStatus",
    "record_document",
]

"""The evidence owners sent, as the console reads it from the evidence server's vault.

``EvidenceClient.incident_evidence`` lists an incident's footage requests as the server has them
(open, fulfilled, declined by the owner on the upload page, expired) and the files owners sent.
``EvidenceClient.fetch`` copies one file into a private folder for the player: the view is
audited in the local log (``evidence_viewed``, status ``requested``) before the server is
asked, the bytes are hashed as they arrive and a copy whose SHA-256 or size differs from the
listed one is deleted and refused, never opened; then ``opened`` is audited, or the failure
(``not_opened``, with the reason) when nothing could be opened. The server logs the read in
the file's own custody log too. The folder (``copy_for_viewing``) is the player's to remove;
``remove_leftover_copies`` removes those a crashed console left behind.

``record_server_answers`` brings the owners' answers on the upload page back into this
workstation's own footage requests (``record_answer``: once, audited, the decline reason as the
answer's note). ``viewers`` reads who opened which file here from the local audit log.

Qt-free: the console calls all of this in background jobs.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from pydantic import TypeAdapter, ValidationError

from app.models.audit_chain import AuditEventType, Outcome, parse_time
from app.models.footage_request import FootageRequestStatus
from app.models.policy import Purpose
from app.services.accounts import SignedInUser
from app.services.audit_log import AuditLog, read_events
from app.services.credentials import CredentialStore
from app.services.footage_requests import (
    FootageRequestError,
    SessionFactory,
    read_request_rows,
    record_answer,
)
from app.services.sync_link import (
    HashingWriter,
    ServerAnswer,
    ServerLink,
    ServerUnreachable,
    SyncConnection,
    SyncStalled,
    TokenSource,
    answer_detail,
    refusal_text,
    required_token,
    sync_token_name,
)
from app.settings import Settings

log = logging.getLogger(__name__)

COPY_PREFIX = "beacon-evidence-"  # the private folders copies are played from
MISMATCH_TEXT = "the file received does not match its fingerprint; it was not opened"
NO_SERVER_TEXT = (
    "No evidence server is configured: set server_url under [sync] in the settings and store "
    "this workstation's token with `beacon sync token`"
)
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,8}")
_EVIDENCE_ID = re.compile(r"[0-9a-f]{32}")


class EvidenceError(Exception):
    """Evidence that cannot be listed or opened; the message says why and what to do."""


class EvidenceUnavailable(EvidenceError):
    """The evidence server cannot be reached now: try again later."""


class FingerprintMismatch(EvidenceError):
    """The bytes received are not the file the server listed; the copy was deleted."""


class ServerRequestStatus(enum.StrEnum):
    """A footage request's status as the server has it (``server.evidence_models``)."""

    OPEN = "open"
    FULFILLED = "fulfilled"
    DECLINED = "declined"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class ServerFootageRequest:
    """A footage request as the evidence server has it; ``reference`` is the workstation's."""

    reference: str
    workstation_id: str
    camera_id: str
    camera_name: str
    window_start: datetime
    window_end: datetime
    status: str  # a ServerRequestStatus
    decline_reason: str | None
    receipt_number: str | None
    expires_at: datetime
    answered_at: datetime | None


@dataclass(frozen=True, slots=True)
class EvidenceFile:
    """One file an owner sent, as the vault lists it (the file itself is not here)."""

    id: str
    request_reference: str
    workstation_id: str
    cad_number: str
    camera_id: str
    camera_name: str
    original_name: str
    size: int
    sha256: str
    container: str
    codec: str
    width: int
    height: int
    duration_s: float | None
    received_at: datetime
    deleted_at: datetime | None


@dataclass(frozen=True, slots=True)
class IncidentEvidence:
    cad_number: str
    requests: list[ServerFootageRequest]
    evidence: list[EvidenceFile]


@dataclass(frozen=True, slots=True)
class Viewing:
    """Someone opened a file on this workstation."""

    evidence_id: str
    viewer: str
    purpose: str
    time: datetime


_INCIDENT_EVIDENCE = TypeAdapter(IncidentEvidence)


@dataclass(frozen=True, slots=True)
class EvidenceCopy:
    """A file fetched for the player, in a private folder of its own (removed with it)."""

    evidence: EvidenceFile
    purpose: Purpose
    folder: Path
    path: Path

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class _Receiver(HashingWriter):
    """Writes the arriving bytes to the copy while hashing them, and stops at the listed size."""

    def __init__(self, descriptor: int, expected_size: int) -> None:
        super().__init__(descriptor)
        self._expected_size = expected_size

    def __call__(self, chunk: bytes) -> None:
        if self.size + len(chunk) > self._expected_size:
            raise FingerprintMismatch(MISMATCH_TEXT)
        super().__call__(chunk)


class EvidenceClient:
    """The evidence server's vault for one viewer, over one connection (one job at a time)."""

    def __init__(
        self,
        connection: SyncConnection,
        token: TokenSource,
        audit: AuditLog,
        viewer: SignedInUser,
    ) -> None:
        self._link = ServerLink(connection)
        self._token = token
        self._audit = audit
        self._viewer = viewer
        self._server = connection.server_url

    @property
    def server_url(self) -> str:
        return self._server

    def _call_token(self) -> str:
        try:
            return required_token(self._token, "the evidence server")
        except SyncStalled as exc:
            raise EvidenceError(f"{exc.reason}: {exc.detail}") from None

    def _refused(self, answer: ServerAnswer, what: str) -> EvidenceError:
        return EvidenceError(refusal_text(answer, forbidden="read evidence", refused=what))

    def _unreachable(self, exc: ServerUnreachable) -> EvidenceUnavailable:
        return EvidenceUnavailable(
            f"the evidence server at {self._server} cannot be reached ({exc}); "
            "the console keeps trying"
        )

    def incident_evidence(self, cad_number: str) -> IncidentEvidence:
        """The incident's requests and files as the server has them; raises EvidenceError."""
        token = self._call_token()
        try:
            answer = self._link.request(
                "GET", f"/v1/incidents/{quote(cad_number, safe='')}/evidence", token
            )
        except ServerUnreachable as exc:
            raise self._unreachable(exc) from None
        except SyncStalled as exc:
            raise EvidenceError(f"{exc.reason}: {exc.detail}") from None
        if answer.status != 200:
            raise self._refused(answer, f"the evidence list of {cad_number}")
        try:
            listed = _INCIDENT_EVIDENCE.validate_python(answer.body)
        except ValidationError as exc:
            log.warning("evidence list of %s not understood: %s", cad_number, exc)
            raise EvidenceError(
                f"the evidence server's list for {cad_number} is not one this console reads; "
                "check that the server and the console are the same version"
            ) from None
        if any(not _EVIDENCE_ID.fullmatch(item.id) for item in listed.evidence):
            raise EvidenceError(f"the evidence server's list for {cad_number} has a bad file id")
        return listed

    def fetch(self, evidence: EvidenceFile, purpose: Purpose, into: Path) -> Path:
        """Copy ``evidence`` into the folder ``into`` (the copy readable by this user only),
        audited before it is asked for; the copy's path. A copy that does not match the listed
        SHA-256 and size is deleted and refused (FingerprintMismatch)."""
        if evidence.deleted_at is not None:
            raise EvidenceError(
                f"{evidence.original_name} was deleted from the vault; it cannot be opened"
            )
        token = self._call_token()
        self._record(evidence, purpose, "requested")
        suffix = _SUFFIX.fullmatch(Path(evidence.original_name).suffix)
        path = into / f"evidence-{evidence.id}{suffix.group(0).lower() if suffix else ''}"
        try:
            self._copy(evidence, purpose, token, path)
        except EvidenceError as exc:
            path.unlink(missing_ok=True)
            reason = "fingerprint_mismatch" if isinstance(exc, FingerprintMismatch) else "refused"
            if isinstance(exc, EvidenceUnavailable):
                reason = "server_unreachable"
            self._record(evidence, purpose, "not_opened", reason=reason, error=str(exc))
            raise
        except OSError as exc:
            path.unlink(missing_ok=True)
            self._record(evidence, purpose, "not_opened", reason="not_written", error=str(exc))
            raise EvidenceError(
                f"the copy of {evidence.original_name} could not be written to {into} "
                f"({exc.strerror or exc}); free disk space on this workstation"
            ) from exc
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        self._record(evidence, purpose, "opened")
        return path

    def _copy(self, evidence: EvidenceFile, purpose: Purpose, token: str, path: Path) -> None:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            receiver = _Receiver(descriptor, evidence.size)
            query = quote(str(purpose), safe=":")
            try:
                answer = self._link.download(
                    f"/v1/evidence/{evidence.id}/content?purpose={query}", token, receiver
                )
            except ServerUnreachable as exc:
                raise self._unreachable(exc) from None
            except SyncStalled as exc:
                raise EvidenceError(f"{exc.reason}: {exc.detail}") from None
        finally:
            os.close(descriptor)
        if answer.status == 404:
            raise EvidenceError(f"the vault has no {evidence.original_name} (removed meanwhile?)")
        if answer.status == 410:
            raise EvidenceError(f"{evidence.original_name} was deleted from the vault")
        if answer.status == 500:
            raise EvidenceError(
                f"the vault's copy of {evidence.original_name} fails its own check "
                f"({answer_detail(answer)}); it was not opened: tell the administrator"
            )
        if answer.status != 200:
            raise self._refused(answer, evidence.original_name)
        if receiver.size != evidence.size or receiver.sha256 != evidence.sha256:
            log.warning(
                "evidence %s: received %d bytes with SHA-256 %s, listed %d bytes with %s",
                evidence.id,
                receiver.size,
                receiver.sha256,
                evidence.size,
                evidence.sha256,
            )
            raise FingerprintMismatch(MISMATCH_TEXT)

    def _record(
        self,
        evidence: EvidenceFile,
        purpose: Purpose,
        status: str,
        *,
        reason: str | None = None,
        error: str | None = None,
    ) -> None:
        self._audit.record(
            AuditEventType.EVIDENCE_VIEWED,
            actor=self._viewer.username,
            outcome=Outcome.FAILURE if reason else Outcome.SUCCESS,
            subject=evidence.original_name,
            camera_id=evidence.camera_id,
            purpose=str(purpose),
            reason=reason,
            details={
                "evidence": evidence.id,
                "sha256": evidence.sha256,
                "bytes": evidence.size,
                "camera": evidence.camera_name,
                "incident": evidence.cad_number,
                "request": evidence.request_reference,
                "status": status,
                **({"error": error} if error else {}),
            },
        )

    def close(self) -> None:
        self._link.close()


def evidence_client(
    settings: Settings, credentials: CredentialStore, audit: AuditLog, viewer: SignedInUser
) -> EvidenceClient | None:
    """The vault of the server ``[sync]`` names, with the workstation's token from the keyring;
    None when no server is configured (``NO_SERVER_TEXT`` says what to do)."""
    connection = SyncConnection.from_settings(settings)
    if connection is None:
        return None
    name = sync_token_name(settings)
    return EvidenceClient(connection, lambda: credentials.get_secret(name), audit, viewer)


def copy_for_viewing(
    client: EvidenceClient,
    evidence: EvidenceFile,
    purpose: Purpose,
    temp_root: Path | None = None,
) -> EvidenceCopy:
    """``evidence`` fetched into a new private folder (0700) under ``temp_root`` (the system's
    temporary folder by default); on any failure the folder is gone again."""
    folder = Path(tempfile.mkdtemp(prefix=COPY_PREFIX, dir=temp_root))
    try:
        path = client.fetch(evidence, purpose, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return EvidenceCopy(evidence, purpose, folder, path)


def remove_leftover_copies(temp_root: Path | None = None) -> int:
    """Remove the copies a console that crashed left in ``temp_root`` (this user's only: the
    folders are private); how many folders were removed."""
    root = Path(temp_root or tempfile.gettempdir())
    removed = 0
    with contextlib.suppress(OSError):
        for folder in root.glob(f"{COPY_PREFIX}*"):
            with contextlib.suppress(OSError):
                if folder.is_dir() and folder.stat().st_uid == os.getuid():
                    shutil.rmtree(folder)
                    removed += 1
    return removed


def record_server_answers(
    sessions: SessionFactory,
    audit: AuditLog,
    actor: SignedInUser,
    workstation_id: str,
    listed: IncidentEvidence,
    now: datetime,
) -> list[str]:
    """Record on this workstation's requests the answers owners gave on the upload page
    (fulfilled, or declined with the reason), each once; the references recorded."""
    answers: dict[str, FootageRequestStatus] = {
        ServerRequestStatus.FULFILLED: FootageRequestStatus.FULFILLED,
        ServerRequestStatus.DECLINED: FootageRequestStatus.DECLINED,
    }
    waiting = {
        row.reference: row
        for row in read_request_rows(sessions, listed.cad_number)
        if row.can_answer
    }
    recorded = []
    for request in listed.requests:
        answer = answers.get(request.status)
        row = waiting.get(request.reference)
        if answer is None or row is None or request.workstation_id != workstation_id:
            continue
        if answer is FootageRequestStatus.DECLINED:
            note = f"Declined on the upload page: {request.decline_reason or 'no reason given'}"
        else:
            receipt = f" (receipt {request.receipt_number})" if request.receipt_number else ""
            note = f"Footage sent through the upload link{receipt}"
        try:
            record_answer(
                sessions,
                audit,
                actor,
                row.request_id,
                answer,
                request.answered_at or now,
                note=note,
            )
        except FootageRequestError as exc:  # answered here meanwhile: recorded once all the same
            log.info(
                "%s: the owner's answer on the upload page not recorded: %s", row.reference, exc
            )
            continue
        recorded.append(request.reference)
    return recorded


def viewers(audit_db: Path, files: Sequence[EvidenceFile]) -> dict[str, list[Viewing]]:
    """Who opened each of ``files`` on this workstation, oldest first (from the audit log)."""
    if not files:
        return {}
    wanted = {item.id for item in files}
    since = min(item.received_at for item in files)
    found: dict[str, list[Viewing]] = {}
    for event in read_events(audit_db, since=since):
        details = event["details"] or {}
        evidence_id = details.get("evidence")
        if (
            event["event_type"] == AuditEventType.EVIDENCE_VIEWED.value
            and evidence_id in wanted
            and details.get("status") == "opened"
        ):
            found.setdefault(evidence_id, []).append(
                Viewing(
                    evidence_id, event["actor"], event["purpose"] or "", parse_time(event["time"])
                )
            )
    return found

"""The evidence vault's rules: registering footage requests with their single-use upload links,
receiving an owner's files (resumable, hashed as they arrive, encrypted, checked to be video),
the owner's answer (done or declined), reading evidence back, and the custody log.

Everything here runs in a worker thread with its own session; the HTTP layers
(``server.evidence_api``, ``server.evidence_upload_page``) only translate.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.evidence_models import (
    CustodyAction,
    CustodyEvent,
    EvidenceFile,
    EvidenceRequest,
    EvidenceRequestStatus,
    EvidenceUpload,
    HoldAction,
    LegalHoldEvent,
    UploadToken,
)
from server.evidence_probe import MediaInfo, NotVideo, probe_video
from server.evidence_vault import EvidenceVault, SealedKey, SegmentWriter, StoredLength
from server.tokens import hash_token

MAX_NAME_CHARS = 120
OWNER_ACTOR = "owner (upload link)"
# ffprobe may read a whole file (an MP4 with its index at the end): more time for larger ones.
PROBE_BYTES_PER_S = 50_000_000


class LinkRefused(Exception):
    """The upload link does not work (404 unknown, 410 used or expired); says what to do."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


class UploadRefused(Exception):
    """A step of an upload that cannot be taken; the message is for the owner."""

    def __init__(self, status: int, message: str, received: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.received = received


@dataclass(frozen=True, slots=True)
class RequestFields:
    reference: str
    cad_number: str
    incident_type: str
    camera_id: str
    camera_name: str
    window_start: datetime
    window_end: datetime
    time_zone: str
    expires_at: datetime


def sanitise_file_name(name: str) -> str:
    """The last part of ``name`` as plain printable text: shown and kept as metadata only."""
    last = name.replace("\\", "/").rsplit("/", 1)[-1]
    printable = "".join(
        c
        for c in unicodedata.normalize("NFC", last)
        if unicodedata.category(c)[0] not in "CZ" or c == " "
    )
    cleaned = printable.strip(" .")[:MAX_NAME_CHARS]
    return cleaned or "unnamed file"


@dataclass(frozen=True, slots=True)
class Registration:
    request: EvidenceRequest
    created: bool  # False: the workstation registered this reference before
    secret: str | None  # the new upload link's secret; None when the owner has used the link


def register_request(
    session: Session, workstation_id: str, fields: RequestFields, now: datetime
) -> Registration:
    """Register the request, or find it registered earlier by the same workstation under the
    same reference. Each registration gives a new link while the owner has not used the one
    before: the workstation registers again only when the mail with that link could not be
    sent, so the earlier link ends (it says "expired" should it ever be opened)."""
    existing = session.scalar(
        select(EvidenceRequest).where(
            EvidenceRequest.workstation_id == workstation_id,
            EvidenceRequest.reference == fields.reference,
        )
    )
    if existing is not None:
        tokens = list(
            session.scalars(select(UploadToken).where(UploadToken.request_id == existing.id))
        )
        if (
            existing.status is not EvidenceRequestStatus.OPEN
            or any(token.used_at is not None for token in tokens)
            or open_uploads(session, existing)
            or received_files(session, existing)
        ):
            return Registration(existing, created=False, secret=None)
        for token in tokens:
            token.expires_at = min(token.expires_at, now)
        existing.expires_at = fields.expires_at
        return Registration(existing, created=False, secret=_new_link(session, existing, now))
    request = EvidenceRequest(
        workstation_id=workstation_id,
        reference=fields.reference,
        cad_number=fields.cad_number,
        incident_type=fields.incident_type,
        camera_id=fields.camera_id,
        camera_name=fields.camera_name,
        window_start=fields.window_start,
        window_end=fields.window_end,
        time_zone=fields.time_zone,
        expires_at=fields.expires_at,
        status=EvidenceRequestStatus.OPEN,
        decline_reason=None,
        receipt_number=None,
        registered_at=now,
        answered_at=None,
    )
    session.add(request)
    session.flush()
    return Registration(request, created=True, secret=_new_link(session, request, now))


def _new_link(session: Session, request: EvidenceRequest, now: datetime) -> str:
    """A new upload link's secret for ``request`` (only its hash is stored)."""
    secret = secrets.token_urlsafe(32)
    session.add(
        UploadToken(
            request_id=request.id,
            token_hash=hash_token(secret),
            created_at=now,
            expires_at=request.expires_at,
            used_at=None,
        )
    )
    session.flush()
    return secret


def _expire(request: EvidenceRequest, now: datetime) -> None:
    if request.status is EvidenceRequestStatus.OPEN and request.expires_at <= now:
        request.status = EvidenceRequestStatus.EXPIRED


def expire_due(requests: list[EvidenceRequest], now: datetime) -> None:
    """Mark the open requests whose time is up as expired (kept when the session commits)."""
    for request in requests:
        _expire(request, now)


def request_for_link(session: Session, secret: str, now: datetime) -> EvidenceRequest:
    """The open request behind an upload link, or LinkRefused saying why it does not work."""
    token = session.scalar(select(UploadToken).where(UploadToken.token_hash == hash_token(secret)))
    if token is None:
        raise LinkRefused(
            404,
            "This link is not known",
            "This upload link does not exist. Check that you copied the whole link from the "
            "message, or contact the agency that asked you for footage.",
        )
    request = session.get_one(EvidenceRequest, token.request_id)
    if token.used_at is not None or request.status in (
        EvidenceRequestStatus.FULFILLED,
        EvidenceRequestStatus.DECLINED,
    ):
        raise LinkRefused(
            410,
            "This link was already used",
            "You already answered this request with this link, and a link works only once. If "
            "you have more footage to give, contact the agency that asked you for it.",
        )
    _expire(request, now)
    if token.expires_at <= now or request.status is EvidenceRequestStatus.EXPIRED:
        raise LinkRefused(
            410,
            "This link has expired",
            "This request for footage has expired. If you still have the footage, contact the "
            "agency that asked you for it and they can send you a new link.",
        )
    return request


def open_uploads(session: Session, request: EvidenceRequest) -> list[EvidenceUpload]:
    return list(
        session.scalars(
            select(EvidenceUpload)
            .where(EvidenceUpload.request_id == request.id)
            .order_by(EvidenceUpload.opened_at)
        )
    )


def received_files(session: Session, request: EvidenceRequest) -> list[EvidenceFile]:
    return list(
        session.scalars(
            select(EvidenceFile)
            .where(EvidenceFile.request_id == request.id)
            .order_by(EvidenceFile.received_at, EvidenceFile.id)
        )
    )


def _mib(size: int) -> str:
    return f"{size / 1024**2:,.1f} MB" if size < 1024**3 else f"{size / 1024**3:,.2f} GB"


class EvidenceReceiver:
    """Receives owners' files into the vault. Holds, per process, which uploads are being
    written (one transfer per file at a time) and the SHA-256 state of each, so a next chunk
    continues the hash; after a restart the state is re-derived by decrypting what is stored."""

    def __init__(
        self,
        vault: EvidenceVault,
        max_file_bytes: int,
        max_request_bytes: int,
        probe_timeout_s: float,
    ) -> None:
        self.vault = vault
        self.max_file_bytes = max_file_bytes
        self.max_request_bytes = max_request_bytes
        self.probe_timeout_s = probe_timeout_s
        self._lock = threading.Lock()
        self._busy: set[str] = set()
        self._hashes: dict[str, tuple[int, hashlib._Hash]] = {}

    def open(
        self, session: Session, request: EvidenceRequest, name: str, size: int, now: datetime
    ) -> EvidenceUpload:
        shown = sanitise_file_name(name)
        if size <= 0:
            raise UploadRefused(422, f"{shown} is empty; choose the video file itself.")
        if size > self.max_file_bytes:
            raise UploadRefused(
                413,
                f"{shown} is {_mib(size)}, more than the {_mib(self.max_file_bytes)} one file may "
                "be. Send a shorter part of the recording, or contact the agency.",
            )
        kept = session.scalar(
            select(func.coalesce(func.sum(EvidenceFile.size), 0)).where(
                EvidenceFile.request_id == request.id
            )
        )
        pending = session.scalar(
            select(func.coalesce(func.sum(EvidenceUpload.size), 0)).where(
                EvidenceUpload.request_id == request.id
            )
        )
        if int(kept or 0) + int(pending or 0) + size > self.max_request_bytes:
            raise UploadRefused(
                413,
                f"{shown} would bring what you send for this request over "
                f"{_mib(self.max_request_bytes)}. Send only the time asked for, or contact the "
                "agency.",
            )
        upload_id = secrets.token_hex(16)
        sealed, length = self.vault.create(upload_id)
        upload = EvidenceUpload(
            id=upload_id,
            request_id=request.id,
            original_name=shown,
            size=size,
            received=0,
            stored_bytes=length.stored_bytes,
            segments=length.segments,
            wrapped_key=sealed.wrapped_key,
            nonce_prefix=sealed.nonce_prefix,
            opened_at=now,
            updated_at=now,
        )
        session.add(upload)
        session.flush()
        return upload

    def upload_of(
        self, session: Session, request: EvidenceRequest, upload_id: str
    ) -> EvidenceUpload:
        upload = session.get(EvidenceUpload, upload_id) if len(upload_id) == 32 else None
        if upload is None or upload.request_id != request.id:
            raise UploadRefused(
                404,
                "This file is not being uploaded for this request (it was finished, removed, "
                "or never started); choose it again to send it.",
            )
        return upload

    def claim(self, upload: EvidenceUpload, start: int) -> Transfer:
        """The right to write ``upload`` from byte ``start``: exactly where it stopped."""
        if start != upload.received:
            raise UploadRefused(
                409,
                f"the server has {upload.received} bytes of this file, not {start}; continue "
                "from there",
                upload.received,
            )
        with self._lock:
            if upload.id in self._busy:
                raise UploadRefused(
                    409,
                    "this file is still receiving an earlier part; try again in a moment",
                    upload.received,
                )
            self._busy.add(upload.id)
            cached = self._hashes.pop(upload.id, None)
        try:
            sealed = SealedKey(bytes(upload.wrapped_key), bytes(upload.nonce_prefix))
            length = StoredLength(upload.segments, upload.stored_bytes)
            if cached is not None and cached[0] == upload.received:
                digest = cached[1]
            else:
                digest = self._rehash(upload.id, sealed, length, upload.received)
            writer = self.vault.append(upload.id, sealed, length)
        except BaseException:
            self._release(upload.id)
            raise
        return Transfer(self, upload.id, upload.size, upload.received, digest, writer)

    def _rehash(
        self, upload_id: str, sealed: SealedKey, length: StoredLength, received: int
    ) -> hashlib._Hash:
        digest = hashlib.sha256()
        count = 0
        for chunk in self.vault.read(upload_id, sealed, length.segments, partial=True):
            digest.update(chunk)
            count += len(chunk)
        if count != received:
            raise UploadRefused(
                500, "the stored part of this file does not match its record; start it again"
            )
        return digest

    def _release(self, upload_id: str, state: tuple[int, hashlib._Hash] | None = None) -> None:
        with self._lock:
            self._busy.discard(upload_id)
            if state is not None:
                self._hashes[upload_id] = state

    def record(self, session: Session, transfer: Transfer, now: datetime) -> EvidenceUpload:
        """Store how far ``transfer`` got; the transfer is over."""
        upload = session.get_one(EvidenceUpload, transfer.upload_id)
        length = transfer.writer.length
        upload.received = transfer.received
        upload.segments = length.segments
        upload.stored_bytes = length.stored_bytes
        upload.updated_at = now
        session.flush()
        return upload

    def finish(
        self,
        session: Session,
        request: EvidenceRequest,
        upload: EvidenceUpload,
        sha256: str,
        now: datetime,
    ) -> EvidenceFile:
        """A complete upload: checked to be video, sealed into the vault, logged as received.
        A file that is not video is removed, and UploadRefused says why."""
        sealed = SealedKey(bytes(upload.wrapped_key), bytes(upload.nonce_prefix))
        try:
            media = probe_video(
                self.vault.read(upload.id, sealed, upload.segments, partial=True, complete=True),
                self.probe_timeout_s + upload.size / PROBE_BYTES_PER_S,
            )
        except NotVideo as exc:
            self.vault.discard_partial(upload.id)
            session.delete(upload)
            session.flush()
            raise UploadRefused(
                422, f"{upload.original_name} was not kept: {exc}. Send the video file itself."
            ) from exc
        self.vault.seal(upload.id)
        evidence = _evidence(request, upload, sha256, media, now)
        session.add(evidence)
        session.delete(upload)
        session.flush()
        record_custody(
            session, evidence, CustodyAction.RECEIVED, OWNER_ACTOR, _purpose(request), now
        )
        return evidence

    def forget(self, upload_id: str) -> None:
        with self._lock:
            self._hashes.pop(upload_id, None)

    def close_request(
        self, session: Session, request: EvidenceRequest, now: datetime, *, decline: str | None
    ) -> None:
        """The owner's answer: done (at least one file kept) or declined with a reason. Files
        still half-sent are discarded; the link is used up."""
        files = received_files(session, request)
        if decline is None and not files:
            raise UploadRefused(
                409,
                'No video has been received yet. Send a file first, or choose "I have nothing '
                'to give".',
            )
        unfinished = open_uploads(session, request)
        with self._lock:
            if any(upload.id in self._busy for upload in unfinished):
                raise UploadRefused(409, "a file is still uploading; wait until it is done")
        for upload in unfinished:
            self.vault.discard_partial(upload.id)
            self.forget(upload.id)
            session.delete(upload)
        token = session.scalars(
            select(UploadToken).where(UploadToken.request_id == request.id)
        ).one()
        token.used_at = now
        request.answered_at = now
        if decline is None:
            request.status = EvidenceRequestStatus.FULFILLED
            request.receipt_number = f"R-{request.id:06d}-{secrets.token_hex(3).upper()}"
        else:
            request.status = EvidenceRequestStatus.DECLINED
            request.decline_reason = decline
        session.flush()


class Transfer:
    """One chunk of one upload being written: hashes and seals what arrives."""

    def __init__(
        self,
        receiver: EvidenceReceiver,
        upload_id: str,
        size: int,
        received: int,
        digest: hashlib._Hash,
        writer: SegmentWriter,
    ) -> None:
        self._receiver = receiver
        self.upload_id = upload_id
        self.size = size
        self.received = received
        self._digest = digest
        self.writer = writer

    def write(self, data: bytes) -> None:
        """Seal ``data`` (at most one segment) as the next segment of the file."""
        if self.received + len(data) > self.size:
            raise UploadRefused(400, "more bytes arrived than the file's declared size")
        self.writer.write(data, final=self.received + len(data) == self.size)
        self._digest.update(data)  # only what is stored: a failed write leaves both behind
        self.received += len(data)

    @property
    def complete(self) -> bool:
        return self.received == self.size

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def close(self) -> None:
        """Make what was written durable (record it with ``EvidenceReceiver.record`` next)."""
        self.writer.close()

    def release(self) -> None:
        """Let the next transfer of this file start (after this one is recorded)."""
        self._receiver._release(self.upload_id, (self.received, self._digest))


def _purpose(request: EvidenceRequest) -> str:
    return f"incident:{request.cad_number}"


def _evidence(
    request: EvidenceRequest, upload: EvidenceUpload, sha256: str, media: MediaInfo, now: datetime
) -> EvidenceFile:
    return EvidenceFile(
        id=upload.id,
        request_id=request.id,
        cad_number=request.cad_number,
        camera_id=request.camera_id,
        camera_name=request.camera_name,
        original_name=upload.original_name,
        size=upload.size,
        sha256=sha256,
        container=media.container,
        codec=media.codec,
        width=media.width,
        height=media.height,
        duration_s=media.duration_s,
        wrapped_key=bytes(upload.wrapped_key),
        nonce_prefix=bytes(upload.nonce_prefix),
        segments=upload.segments,
        received_at=now,
        deleted_at=None,
    )


def record_custody(
    session: Session,
    evidence: EvidenceFile,
    action: CustodyAction,
    actor: str,
    purpose: str,
    now: datetime,
) -> CustodyEvent:
    event = CustodyEvent(
        evidence_id=evidence.id, action=action, actor=actor, purpose=purpose, time=now
    )
    session.add(event)
    session.flush()
    return event


def custody_of(session: Session, evidence_id: str) -> list[CustodyEvent]:
    return list(
        session.scalars(
            select(CustodyEvent)
            .where(CustodyEvent.evidence_id == evidence_id)
            .order_by(CustodyEvent.id)
        )
    )


def evidence_content(vault: EvidenceVault, evidence: EvidenceFile) -> Iterator[bytes]:
    """The original file, decrypted as it is read; EvidenceTampered if it was touched."""
    sealed = SealedKey(bytes(evidence.wrapped_key), bytes(evidence.nonce_prefix))
    return vault.read(evidence.id, sealed, evidence.segments)


def is_held(session: Session, cad_number: str) -> bool:
    """Whether ``cad_number`` is under legal hold now: its newest hold event sets it."""
    newest = session.scalar(
        select(LegalHoldEvent.action)
        .where(LegalHoldEvent.cad_number == cad_number)
        .order_by(LegalHoldEvent.id.desc())
        .limit(1)
    )
    return newest is HoldAction.SET


def delete_evidence(
    session: Session,
    vault: EvidenceVault,
    evidence: EvidenceFile,
    actor: str,
    purpose: str,
    now: datetime,
) -> None:
    """Delete a file (the retention job or an administrator): the custody event is written and
    committed by the caller's transaction first, then the file is removed."""
    record_custody(session, evidence, CustodyAction.DELETED, actor, purpose, now)
    evidence.deleted_at = now
    session.flush()
    session.commit()
    vault.remove(evidence.id)

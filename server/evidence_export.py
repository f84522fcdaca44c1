"""Case packages out of the evidence vault: an incident's clips with their chain of custody,
signed with the agency's key, for a prosecutor or a court.

``POST /v1/incidents/{cad_number}/case-package`` writes the package with
``app.evidence.package.write_package``, each clip streamed from the vault's decrypting reader
(no plaintext copy of a clip touches the server's disk: only the package being built, in a
private temporary folder of its own). The manifest's custody trail is the vault's custody log
(received, viewed with the purpose, earlier exports) and this export; the ``exported`` custody
events are committed before the package is handed out. A clip whose vault copy does not decrypt
as written (changed at rest) refuses the whole export with 409 naming it: nothing is handed out
and no export is logged. ``GET /v1/agency-key`` gives the public key that verifies packages (no
token needed: workstations and courts pin it).

No ``from __future__ import annotations`` here: FastAPI reads the endpoints' annotations at run
time.
"""

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path as FilePath
from typing import Annotated, BinaryIO, Literal

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.evidence.agency_key import AgencyKey
from app.evidence.package import (
    CustodyAction as PackageCustodyAction,
)
from app.evidence.package import (
    CustodyEntry,
    EvidenceClip,
    EvidencePackageError,
    PackageExport,
    PackageReceipt,
    SourceCamera,
    write_package,
)
from server.api import AUTH_ERRORS, BODY_ERRORS
from server.config import ServerSettings
from server.evidence_api import READERS, CadNumberPath, EvidenceContext, actor_of
from server.evidence_models import CustodyAction, EvidenceFile, EvidenceRequest
from server.evidence_schemas import EVIDENCE_ID
from server.evidence_service import OWNER_ACTOR, custody_of, record_custody
from server.evidence_vault import EvidenceTampered, EvidenceVault, SealedKey
from server.models import ApiToken
from server.schemas import NO_NUL, ErrorMessage
from server.tokens import require_role

log = logging.getLogger(__name__)

PACKAGE_PREFIX = "beacon-case-package-"  # the private folders packages are built in
SEND_CHUNK = 1024 * 1024
MAX_EVIDENCE_IDS = 1000
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
# What the vault's custody log says, as a package's custody trail says it (a deleted file is
# never exported, so its deletion is never in a package).
_PACKAGE_ACTION = {
    CustodyAction.RECEIVED: PackageCustodyAction.RECEIVED,
    CustodyAction.VIEWED: PackageCustodyAction.VIEWED,
    CustodyAction.EXPORTED: PackageCustodyAction.EXPORTED,
}


class CasePackageOrder(BaseModel):
    """What to put in a case package, and why it leaves the agency."""

    model_config = ConfigDict(extra="forbid")

    purpose: str = Field(
        min_length=1,
        max_length=200,
        pattern=NO_NUL,
        examples=["case:24-1187"],
        description="why the evidence is exported (a case number, a court order); it goes into "
        "every clip's custody log and the package's manifest",
    )
    evidence_ids: list[Annotated[str, Field(pattern=EVIDENCE_ID)]] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_EVIDENCE_IDS,
        description="the incident's files to export; without it, every file of the incident "
        "that was not deleted",
    )


class AgencyPublicKey(BaseModel):
    """The public key that verifies the agency's case packages."""

    algorithm: Literal["Ed25519"]
    fingerprint: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the raw 32-byte public key, hex"
    )
    public_key_pem: str = Field(description="the key as SubjectPublicKeyInfo PEM")


class ExportRefused(Exception):
    """No package was handed out; ``status_code`` and the message say why (the HTTP answer)."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code


def open_agency_key(settings: ServerSettings) -> AgencyKey:
    """The key ``settings.agency_key_file`` names (made there if missing), else a key that lives
    as long as the app (logged: packages it signs cannot be checked against it after a restart).
    Raises AgencyKeyError when the file cannot be used."""
    if settings.agency_key_file is not None:
        return AgencyKey.from_file(settings.agency_key_file)
    key = AgencyKey.generate()
    log.warning(
        "no agency key file is configured (agency_key_file): case packages are signed with key "
        "%s, which is lost when the server stops",
        key.fingerprint,
    )
    return key


def package_file_name(cad_number: str, at: datetime) -> str:
    """``case-<CAD number>-<YYYYMMDD>.zip``, the CAD number reduced to safe characters."""
    cad = _UNSAFE_NAME.sub("_", cad_number).strip("._") or "incident"
    return f"case-{cad[:64]}-{at:%Y%m%d}.zip"


def _reader(vault: EvidenceVault, evidence: EvidenceFile) -> Callable[[], Iterator[bytes]]:
    """The clip's plaintext from the vault's decrypting reader; a file that does not decrypt as
    written refuses the export, naming it."""
    evidence_id, name, segments = evidence.id, evidence.original_name, evidence.segments
    sealed = SealedKey(bytes(evidence.wrapped_key), bytes(evidence.nonce_prefix))

    def read() -> Iterator[bytes]:
        try:
            yield from vault.read(evidence_id, sealed, segments)
        except EvidenceTampered as exc:
            log.error("case package refused: %s", exc)
            raise ExportRefused(
                status.HTTP_409_CONFLICT,
                f"evidence {evidence_id} ({name}) fails its check in the vault ({exc}); no "
                "package was exported: tell the vault's administrator",
            ) from exc
        except FileNotFoundError as exc:
            raise ExportRefused(
                status.HTTP_409_CONFLICT,
                f"evidence {evidence_id} ({name}) is missing from the vault's folder; no "
                "package was exported: tell the vault's administrator",
            ) from exc

    return read


def _chosen(
    session: Session, cad_number: str, evidence_ids: list[str] | None
) -> list[EvidenceFile]:
    """The incident's files to export, in the order they arrived; ExportRefused when one named
    is not the incident's, was deleted, or there is nothing to export."""
    if evidence_ids is None:
        files = list(
            session.scalars(
                select(EvidenceFile)
                .where(EvidenceFile.cad_number == cad_number, EvidenceFile.deleted_at.is_(None))
                .order_by(EvidenceFile.received_at, EvidenceFile.id)
            )
        )
        if not files:
            raise ExportRefused(
                status.HTTP_404_NOT_FOUND,
                f"incident {cad_number} has no evidence in the vault to export",
            )
        return files
    chosen: dict[str, EvidenceFile] = {}
    for evidence_id in evidence_ids:
        evidence = session.get(EvidenceFile, evidence_id)
        if evidence is None or evidence.cad_number != cad_number:
            raise ExportRefused(
                status.HTTP_404_NOT_FOUND,
                f"evidence {evidence_id} is not evidence of incident {cad_number}; export each "
                "incident's evidence in its own package",
            )
        if evidence.deleted_at is not None:
            raise ExportRefused(
                status.HTTP_410_GONE, f"evidence {evidence_id} was deleted from the vault"
            )
        chosen[evidence_id] = evidence
    return sorted(chosen.values(), key=lambda e: (e.received_at, e.id))


def _custody_trail(session: Session, files: list[EvidenceFile]) -> list[CustodyEntry]:
    trail = [
        CustodyEntry(event.time, event.actor, _PACKAGE_ACTION[event.action], event.purpose, f.id)
        for f in files
        for event in custody_of(session, f.id)
        if event.action in _PACKAGE_ACTION
    ]
    return sorted(trail, key=lambda entry: entry.at)


class CaseExporter:
    """Writes case packages out of one vault, signed with one agency key."""

    def __init__(self, context: EvidenceContext, key: AgencyKey) -> None:
        self._context = context
        self.key = key

    def _clips(self, session: Session, files: list[EvidenceFile]) -> list[EvidenceClip]:
        requests = {
            request.id: request
            for request in session.scalars(
                select(EvidenceRequest).where(EvidenceRequest.id.in_({f.request_id for f in files}))
            )
        }
        clips = []
        for evidence in files:
            received = next(
                (e for e in custody_of(session, evidence.id) if e.action is CustodyAction.RECEIVED),
                None,
            )
            request = requests[evidence.request_id]
            clips.append(
                EvidenceClip(
                    evidence_id=evidence.id,
                    file_name=evidence.original_name,
                    read=_reader(self._context.vault, evidence),
                    camera=SourceCamera(evidence.camera_id, evidence.camera_name),
                    footage_request=f"{request.reference} (workstation {request.workstation_id})",
                    incident=evidence.cad_number,
                    received_by=received.actor if received is not None else OWNER_ACTOR,
                    received_at=evidence.received_at,
                    sha256_on_arrival=evidence.sha256,
                )
            )
        return clips

    def export(
        self, cad_number: str, order: CasePackageOrder, actor: str, folder: FilePath
    ) -> PackageReceipt:
        """Write the package into ``folder`` and log the export in every clip's custody log;
        ExportRefused (nothing logged, no package) when it cannot be made."""
        sessions, clock = self._context.sessions, self._context.clock
        now = clock()
        with sessions() as session:
            files = _chosen(session, cad_number, order.evidence_ids)
            clips = self._clips(session, files)
            trail = _custody_trail(session, files)
        this_export = [
            CustodyEntry(now, actor, PackageCustodyAction.EXPORTED, order.purpose, c.evidence_id)
            for c in clips
        ]
        try:
            receipt = write_package(
                folder / package_file_name(cad_number, now),
                incident=cad_number,
                clips=clips,
                custody=[*trail, *this_export],
                export=PackageExport(by=actor, purpose=order.purpose, at=now),
                key=self.key,
            )
        except EvidencePackageError as exc:
            log.error("case package of %s refused: %s", cad_number, exc)
            raise ExportRefused(status.HTTP_409_CONFLICT, str(exc)) from exc
        with sessions.begin() as session:
            for clip in clips:
                evidence = session.get_one(EvidenceFile, clip.evidence_id)
                if evidence.deleted_at is not None:
                    raise ExportRefused(
                        status.HTTP_410_GONE,
                        f"evidence {clip.evidence_id} was deleted from the vault while the "
                        "package was made; no package was exported",
                    )
                record_custody(session, evidence, CustodyAction.EXPORTED, actor, order.purpose, now)
        log.info(
            "case package %s of incident %s exported by %s: %d clips, manifest SHA-256 %s",
            receipt.package_id,
            cad_number,
            actor,
            receipt.clip_count,
            receipt.manifest_sha256,
        )
        return receipt


def _handed_out(file: BinaryIO, folder: FilePath) -> Iterator[bytes]:
    try:
        while chunk := file.read(SEND_CHUNK):
            yield chunk
    finally:
        file.close()
        shutil.rmtree(folder, ignore_errors=True)


def _package_response(receipt: PackageReceipt, folder: FilePath) -> StreamingResponse:
    """The package as the answer's body. It is opened, then its folder removed at once (POSIX
    keeps an open file readable): no plaintext is left on disk however the connection ends;
    where an open file cannot be removed, the folder goes when the body is finished."""
    file = receipt.path.open("rb")
    size = os.fstat(file.fileno()).st_size
    shutil.rmtree(folder, ignore_errors=True)
    return StreamingResponse(
        _handed_out(file, folder),
        media_type="application/zip",
        headers={
            "Content-Length": str(size),
            "Content-Disposition": f'attachment; filename="{receipt.path.name}"',
            "X-Package-Id": receipt.package_id,
            "X-Manifest-SHA256": receipt.manifest_sha256,
            "X-Agency-Key": receipt.key_fingerprint,
        },
    )


def case_package_router(
    exporter: CaseExporter, token_dependency: Callable[..., ApiToken]
) -> APIRouter:
    router = APIRouter(prefix="/v1")
    Token = Annotated[ApiToken, Depends(token_dependency)]

    @router.get(
        "/agency-key",
        response_model=AgencyPublicKey,
        summary="The public key that verifies the agency's case packages",
    )
    def agency_key() -> AgencyPublicKey:
        """Not secret, so no token is needed; a workstation pins it at its first export, and a
        court compares its fingerprint with the one the agency gave it."""
        return AgencyPublicKey(
            algorithm="Ed25519",
            fingerprint=exporter.key.fingerprint,
            public_key_pem=exporter.key.public_key_pem.decode("ascii"),
        )

    @router.post(
        "/incidents/{cad_number}/case-package",
        response_class=StreamingResponse,
        summary="Export an incident's evidence as a signed case package (workstations, "
        "supervisors); logged in each clip's custody log with the purpose",
        responses={
            **AUTH_ERRORS,
            **BODY_ERRORS,
            200: {
                "content": {"application/zip": {}},
                "description": "the case package (app/evidence/package.py describes the format)",
            },
            404: {
                "model": ErrorMessage,
                "description": "the incident has no evidence, or a file named is not its",
            },
            409: {
                "model": ErrorMessage,
                "description": "a file fails its check in the vault: nothing is exported",
            },
            410: {"model": ErrorMessage, "description": "a file named was deleted"},
        },
    )
    def case_package(
        cad_number: CadNumberPath, order: CasePackageOrder, token: Token
    ) -> StreamingResponse:
        require_role(token, *READERS)
        folder = FilePath(tempfile.mkdtemp(prefix=PACKAGE_PREFIX))
        try:
            receipt = exporter.export(cad_number, order, actor_of(token), folder)
            return _package_response(receipt, folder)
        except ExportRefused as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise HTTPException(exc.status_code, str(exc)) from exc
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    return router

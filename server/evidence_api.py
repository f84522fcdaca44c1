"""The evidence endpoints of the API: workstations register footage requests (and get the owner's
upload link once), list what owners sent for an incident, read a file back (logged in its
custody log with the purpose), and read that log.

No ``from __future__ import annotations`` here: FastAPI reads the endpoints' annotations at run
time.
"""

import logging
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.api import AUTH_ERRORS, BODY_ERRORS
from server.clock import Clock
from server.config import ServerSettings
from server.evidence_models import CustodyAction, EvidenceFile, EvidenceRequest
from server.evidence_schemas import (
    EVIDENCE_ID,
    CustodyItem,
    EvidenceCustody,
    EvidenceItem,
    FootageRequestRegistered,
    FootageRequestRegistration,
    FootageRequestSummary,
    IncidentEvidence,
)
from server.evidence_service import (
    EvidenceReceiver,
    RequestFields,
    custody_of,
    delete_evidence,
    evidence_content,
    expire_due,
    is_held,
    record_custody,
    register_request,
)
from server.evidence_vault import EvidenceTampered, EvidenceVault, load_vault_key
from server.models import ApiToken, TokenRole
from server.schemas import NO_NUL, ErrorMessage
from server.tokens import require_role

log = logging.getLogger(__name__)

UPLOAD_PREFIX = "/upload/"
READERS = (TokenRole.WORKSTATION, TokenRole.SUPERVISOR)
EvidenceIdPath = Annotated[str, Path(pattern=EVIDENCE_ID)]
CadNumberPath = Annotated[
    str, Path(min_length=1, max_length=64, pattern=NO_NUL, examples=["2026-004512"])
]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorMessage, "description": "no such evidence"}
}


@dataclass(frozen=True, slots=True)
class EvidenceContext:
    sessions: sessionmaker[Session]
    settings: ServerSettings
    clock: Clock
    vault: EvidenceVault
    receiver: EvidenceReceiver


def open_evidence_context(
    settings: ServerSettings, sessions: sessionmaker[Session], clock: Clock
) -> tuple[EvidenceContext, tempfile.TemporaryDirectory[str] | None]:
    """The vault the settings name; without them a temporary one (and its folder, which the
    caller keeps for as long as the app lives)."""
    scratch = None
    if settings.vault_folder is not None and settings.vault_key_file is not None:
        vault = EvidenceVault(settings.vault_folder, load_vault_key(settings.vault_key_file))
    else:
        scratch = tempfile.TemporaryDirectory(prefix="beacon-vault-")
        where = FilePath(scratch.name)
        vault = EvidenceVault(where / "vault", load_vault_key(where / "vault-key"))
        log.warning(
            "no evidence vault is configured (vault_folder and vault_key_file): the footage "
            "owners upload is kept in %s and lost when the server stops",
            where,
        )
    receiver = EvidenceReceiver(
        vault,
        settings.max_evidence_file_bytes,
        settings.max_evidence_request_bytes,
        settings.probe_timeout_s,
    )
    return EvidenceContext(sessions, settings, clock, vault, receiver), scratch


def actor_of(token: ApiToken) -> str:
    """Who a custody event names for a token: its workstation, or its role, name and id."""
    if token.workstation_id is not None:
        return f"workstation {token.workstation_id}"
    named = f" {token.name}" if token.name else ""
    return f"{token.role}{named} (token {token.id})"


def _evidence_item(evidence: EvidenceFile, request: EvidenceRequest) -> EvidenceItem:
    return EvidenceItem(
        id=evidence.id,
        request_reference=request.reference,
        workstation_id=request.workstation_id,
        cad_number=evidence.cad_number,
        camera_id=evidence.camera_id,
        camera_name=evidence.camera_name,
        original_name=evidence.original_name,
        size=evidence.size,
        sha256=evidence.sha256,
        container=evidence.container,
        codec=evidence.codec,
        width=evidence.width,
        height=evidence.height,
        duration_s=evidence.duration_s,
        received_at=evidence.received_at,
        deleted_at=evidence.deleted_at,
    )


def _summary(request: EvidenceRequest) -> FootageRequestSummary:
    return FootageRequestSummary(
        reference=request.reference,
        workstation_id=request.workstation_id,
        camera_id=request.camera_id,
        camera_name=request.camera_name,
        window_start=request.window_start,
        window_end=request.window_end,
        status=request.status,
        decline_reason=request.decline_reason,
        receipt_number=request.receipt_number,
        expires_at=request.expires_at,
        answered_at=request.answered_at,
    )


def _custody(session: Session, evidence_id: str) -> EvidenceCustody:
    return EvidenceCustody(
        evidence_id=evidence_id,
        events=[
            CustodyItem(action=e.action, actor=e.actor, purpose=e.purpose, time=e.time)
            for e in custody_of(session, evidence_id)
        ],
    )


def upload_link(settings: ServerSettings, request: Request, secret: str) -> str:
    base = settings.public_url or str(request.base_url)
    return base.rstrip("/") + UPLOAD_PREFIX + secret


def evidence_router(
    context: EvidenceContext, token_dependency: Callable[..., ApiToken]
) -> APIRouter:
    router = APIRouter(prefix="/v1")
    sessions, settings, clock, vault = (
        context.sessions,
        context.settings,
        context.clock,
        context.vault,
    )
    Token = Annotated[ApiToken, Depends(token_dependency)]
    auth = AUTH_ERRORS

    @router.post(
        "/footage-requests",
        response_model=FootageRequestRegistered,
        status_code=status.HTTP_201_CREATED,
        summary="Register a footage request and get its owner's upload link (workstations)",
        responses={
            **auth,
            200: {
                "model": FootageRequestRegistered,
                "description": "this workstation registered this reference before: the request "
                "as it is, with a new link that ends the earlier one while the owner has not "
                "used it (the mail with it could not be sent), else without a link",
            },
            **BODY_ERRORS,
            422: {"description": "a field is missing or invalid, or the request has expired"},
        },
    )
    def register(body: FootageRequestRegistration, token: Token, request: Request) -> Any:
        require_role(token, TokenRole.WORKSTATION)
        assert token.workstation_id is not None
        now = clock()
        if body.expires_at <= now:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                "expires_at is in the past: the owner could not use the link",
            )
        fields = RequestFields(**body.model_dump())
        with sessions.begin() as session:
            registration = register_request(session, token.workstation_id, fields, now)
            stored, secret = registration.request, registration.secret
            answer = FootageRequestRegistered(
                id=stored.id,
                reference=stored.reference,
                cad_number=stored.cad_number,
                status=stored.status,
                expires_at=stored.expires_at,
                created=registration.created,
                upload_url=upload_link(settings, request, secret) if secret else None,
            )
        if not registration.created:
            return JSONResponse(answer.model_dump(mode="json"), status.HTTP_200_OK)
        return answer

    @router.get(
        "/incidents/{cad_number}/evidence",
        response_model=IncidentEvidence,
        summary="The footage requests of an incident and the evidence owners sent (workstations, "
        "supervisors)",
        responses=auth,
    )
    def incident_evidence(cad_number: CadNumberPath, token: Token) -> IncidentEvidence:
        require_role(token, *READERS)
        with sessions.begin() as session:
            requests = list(
                session.scalars(
                    select(EvidenceRequest)
                    .where(EvidenceRequest.cad_number == cad_number)
                    .order_by(EvidenceRequest.id)
                )
            )
            expire_due(requests, clock())
            by_id = {request.id: request for request in requests}
            files = session.scalars(
                select(EvidenceFile)
                .where(EvidenceFile.cad_number == cad_number)
                .order_by(EvidenceFile.received_at, EvidenceFile.id)
            )
            return IncidentEvidence(
                cad_number=cad_number,
                requests=[_summary(request) for request in requests],
                evidence=[_evidence_item(f, by_id[f.request_id]) for f in files],
            )

    def _evidence(session: Session, evidence_id: str) -> EvidenceFile:
        evidence = session.get(EvidenceFile, evidence_id)
        if evidence is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no evidence {evidence_id}")
        return evidence

    @router.get(
        "/evidence/{evidence_id}/content",
        response_class=StreamingResponse,
        summary="The original file, decrypted; logged in its custody log with the purpose "
        "(workstations, supervisors)",
        responses={
            **auth,
            **NOT_FOUND,
            200: {"content": {"application/octet-stream": {}}, "description": "the file"},
            410: {"model": ErrorMessage, "description": "the file was deleted"},
            500: {"model": ErrorMessage, "description": "the stored file fails its check"},
        },
    )
    def content(
        evidence_id: EvidenceIdPath,
        purpose: Annotated[
            str,
            Query(
                min_length=1,
                max_length=200,
                pattern=NO_NUL,
                description="why it is read, e.g. incident:2026-004512 or case:24-1187",
            ),
        ],
        token: Token,
    ) -> StreamingResponse:
        require_role(token, *READERS)
        with sessions.begin() as session:
            evidence = _evidence(session, evidence_id)
            if evidence.deleted_at is not None:
                raise HTTPException(status.HTTP_410_GONE, f"evidence {evidence_id} was deleted")
            record_custody(
                session, evidence, CustodyAction.VIEWED, actor_of(token), purpose, clock()
            )
        chunks = evidence_content(vault, evidence)
        try:
            first = next(chunks, b"")
        except EvidenceTampered as exc:
            log.error("%s", exc)
            raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, str(exc)) from exc

        def stream() -> Iterator[bytes]:
            yield first
            try:
                yield from chunks
            except EvidenceTampered:
                log.exception("evidence %s failed its check while it was sent", evidence_id)
                raise

        name = quote(evidence.original_name, safe="")
        return StreamingResponse(
            stream(),
            media_type="application/octet-stream",
            headers={
                "Content-Length": str(evidence.size),
                "Content-Disposition": f"attachment; filename*=UTF-8''{name}",
                "X-Content-SHA256": evidence.sha256,
            },
        )

    @router.get(
        "/evidence/{evidence_id}/custody",
        response_model=EvidenceCustody,
        summary="Who received, viewed, exported or deleted a file, when and why (workstations, "
        "supervisors)",
        responses={**auth, **NOT_FOUND},
    )
    def custody(evidence_id: EvidenceIdPath, token: Token) -> EvidenceCustody:
        require_role(token, *READERS)
        with sessions() as session:
            _evidence(session, evidence_id)
            return _custody(session, evidence_id)

    @router.delete(
        "/evidence/{evidence_id}",
        response_model=EvidenceCustody,
        summary="Delete a file from the vault (administrators); the deletion stays in its "
        "custody log",
        responses={
            **auth,
            **NOT_FOUND,
            409: {
                "model": ErrorMessage,
                "description": "its incident is under legal hold: clear the hold first",
            },
            410: {"model": ErrorMessage, "description": "already deleted"},
        },
    )
    def delete(
        evidence_id: EvidenceIdPath,
        purpose: Annotated[
            str,
            Query(
                min_length=1,
                max_length=200,
                pattern=NO_NUL,
                description="why, e.g. retention:90-days or a court order's number",
            ),
        ],
        token: Token,
    ) -> EvidenceCustody:
        require_role(token, TokenRole.ADMIN)
        with sessions() as session:
            evidence = _evidence(session, evidence_id)
            if evidence.deleted_at is not None:
                raise HTTPException(status.HTTP_410_GONE, f"evidence {evidence_id} was deleted")
            cad_number = evidence.cad_number
            if is_held(session, cad_number):
                raise HTTPException(
                    status.HTTP_409_CONFLICT,
                    f"incident {cad_number} is under legal hold: its evidence is kept until an "
                    f"administrator clears the hold (DELETE /v1/incidents/{cad_number}/hold, "
                    "with a reason)",
                )
            delete_evidence(session, vault, evidence, actor_of(token), purpose, clock())
            return _custody(session, evidence_id)

    return router

"""The sync server's application: ``create_app(db_url)`` gives a FastAPI app ready to serve."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app import __version__
from server.api import ServerContext, api_router, token_dependency
from server.checkpoint_key import CheckpointSigner
from server.clock import Clock, utc_now
from server.config import ServerSettings
from server.database import create_server_engine, migrate, session_factory
from server.event_intake import ChainRejected, MalformedEvent
from server.event_trees import EventTrees, StoredEventsDamaged
from server.evidence_api import evidence_router, open_evidence_context
from server.evidence_body_limit import BodySizeLimits
from server.evidence_export import CaseExporter, case_package_router, open_agency_key
from server.evidence_retention import RetentionSchedule, legal_hold_router
from server.evidence_upload_page import upload_page_router
from server.install_records import install_records_router
from server.registry_api import registry_router
from server.schemas import ChainPosition, ChainRejection
from server.tokens import TokenRejected

log = logging.getLogger(__name__)

DESCRIPTION = """\
Receives each Beacon workstation's audit log and keeps a copy the workstation cannot rewrite.

Workstations upload their events in order; the server verifies every event against the hash
chain it has acknowledged (the same canonical encoding and SHA-256 chain the workstation uses)
and refuses, whole, any batch that breaks it. Supervisors query what was received.

Each workstation's events are also the leaves of an RFC 9162 Merkle tree (leaf `seq - 1` is
event `seq`'s chain hash). Every acknowledgement carries a checkpoint of that tree signed with
the server's Ed25519 key (`GET /v1/checkpoint-key`), inclusion proofs for the batch, and on
request a consistency proof from the client's last checkpoint, so a client can tell if the
server's copy of its log was forked, rewritten or rolled back.

**Camera registry.** The server is where camera registrations and owners' sharing policies come
from. Administrators write owners, cameras and policies (`PUT /v1/registry/...`, or a whole
registry file with `POST /v1/registry/import`, all or nothing); the bodies are the objects of
Beacon's registry file format and are checked by the same rules as the workstation's import
(stream URLs with credentials are refused and shown redacted). A record equal to the stored one
changes nothing; a policy whose terms (mode, time zone, windows) differ from the current ones
gets the next policy version, and revoking is a policy with mode `revoked`. Every change is
appended to a change log under a strictly increasing `version`; workstations pull it with
`GET /v1/registry/changes?after=V` (from 0: the whole history) and keep the last version they
applied. Versions become visible in order, so nothing is skipped.

**Owners.** An owner token (`POST /v1/owners/{owner_id}/tokens`) reads
`GET /v1/owners/{owner_id}/events` for its own owner only: the events about the cameras the
registry gives that owner, for the time they had them. Supervisors may read any owner's.

**Evidence vault.** A workstation registers a footage request (`POST /v1/footage-requests`) and
gets, once, the owner's upload link (`/upload/<token>`: a page for the owner, no account, the
token stored only as a hash, single use, expiring with the request). What owners send is
checked to be video, hashed (SHA-256) as it arrives and encrypted at rest (AES-256-GCM per
segment, a data key per file wrapped by the vault key, which is never in the database).
Workstations and supervisors list an incident's evidence (`GET /v1/incidents/{cad_number}/
evidence`), read a file back (`GET /v1/evidence/{id}/content?purpose=...`) and its custody log
(`GET /v1/evidence/{id}/custody`); every read is logged there with who and why. They export an
incident's evidence as a case package (`POST /v1/incidents/{cad_number}/case-package`): the
clips, a manifest of what they are and who handled them, signed with the agency's Ed25519 key
(`GET /v1/agency-key`); the export is logged in each clip's custody log first. Files are deleted
only by an administrator (`DELETE /v1/evidence/{id}`) or by the retention job, once they are
older than the agency's retention period and their incident is not under legal hold
(`PUT`/`DELETE /v1/incidents/{cad_number}/hold`, administrators); each deletion is logged.
"""


def create_app(
    db_url: str,
    *,
    settings: ServerSettings | None = None,
    clock: Clock = utc_now,
    migrate_schema: bool = True,
    checkpoint_signer: CheckpointSigner | None = None,
) -> FastAPI:
    """The server on the database at ``db_url``, migrated to the newest schema first.

    Checkpoints are signed with ``checkpoint_signer`` if given, else with the key in
    ``settings.checkpoint_key_file`` (made there on first start), else with a key made for this
    app alone (logged as a warning: clients cannot keep trusting it across a restart).
    """
    settings = settings or ServerSettings()
    if checkpoint_signer is None:
        if settings.checkpoint_key_file is not None:
            checkpoint_signer = CheckpointSigner.from_file(settings.checkpoint_key_file)
        else:
            checkpoint_signer = CheckpointSigner.generate()
            log.warning(
                "no checkpoint key file is configured: checkpoints are signed with key %s, "
                "which is lost when the server stops",
                checkpoint_signer.key_id,
            )
    engine = create_server_engine(db_url)
    try:
        if migrate_schema:
            migrate(engine)
    except BaseException:
        engine.dispose()
        raise
    sessions = session_factory(engine)
    context = ServerContext(sessions, settings, clock, checkpoint_signer, EventTrees(sessions))
    evidence, scratch_vault = open_evidence_context(settings, sessions, clock)
    exporter = CaseExporter(evidence, open_agency_key(settings))
    retention = RetentionSchedule(evidence)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        retention_runs = asyncio.create_task(retention.run_periodically())
        try:
            yield
        finally:
            retention_runs.cancel()
            await asyncio.gather(retention_runs, return_exceptions=True)
            engine.dispose()

    application = FastAPI(
        title="Beacon audit sync server",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    application.state.engine = engine
    application.state.context = context
    application.state.evidence = evidence
    application.state.retention = retention
    application.state.scratch_vault = scratch_vault  # removed with the app, when there is one
    application.add_middleware(
        BodySizeLimits,
        max_bytes=settings.max_batch_bytes,
        upload_max_bytes=settings.max_upload_chunk_bytes,
        hint="; send the events in smaller batches",
    )

    @application.exception_handler(TokenRejected)
    async def _token_rejected(_request: Request, exc: TokenRejected) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse({"detail": exc.message}, exc.status, headers=headers)

    @application.exception_handler(ChainRejected)
    async def _chain_rejected(request: Request, exc: ChainRejected) -> JSONResponse:
        body = ChainRejection(
            detail=exc.detail,
            code=exc.code,
            first_bad_seq=exc.first_bad_seq,
            head=ChainPosition(
                workstation_id=request.path_params.get("workstation_id", ""),
                seq=exc.head.seq,
                hash=exc.head.hash.hex(),
            ),
        )
        return JSONResponse(body.model_dump(mode="json"), 409)

    @application.exception_handler(StoredEventsDamaged)
    async def _damaged(_request: Request, exc: StoredEventsDamaged) -> JSONResponse:
        log.error("%s", exc)
        return JSONResponse({"detail": str(exc)}, 500)

    @application.exception_handler(MalformedEvent)
    async def _malformed(_request: Request, exc: MalformedEvent) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, 422)

    application.include_router(api_router(context))
    application.include_router(registry_router(context))
    application.include_router(evidence_router(evidence, token_dependency(context)))
    application.include_router(upload_page_router(evidence))
    application.include_router(case_package_router(exporter, token_dependency(context)))
    application.include_router(legal_hold_router(evidence, token_dependency(context)))
    application.include_router(install_records_router(context))
    return application

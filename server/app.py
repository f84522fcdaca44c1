"""The sync server's application: ``create_app(db_url)`` gives a FastAPI app ready to serve."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app import __version__
from server.api import ServerContext, api_router
from server.body_limit import BodySizeLimit
from server.clock import Clock, utc_now
from server.config import ServerSettings
from server.database import create_server_engine, migrate, session_factory
from server.event_intake import ChainRejected, MalformedEvent
from server.schemas import ChainPosition, ChainRejection
from server.tokens import TokenRejected

DESCRIPTION = """\
Receives each Beacon workstation's audit log and keeps a copy the workstation cannot rewrite.

Workstations upload their events in order; the server verifies every event against the hash
chain it has acknowledged (the same canonical encoding and SHA-256 chain the workstation uses)
and refuses, whole, any batch that breaks it. Supervisors query what was received.
"""


def create_app(
    db_url: str,
    *,
    settings: ServerSettings | None = None,
    clock: Clock = utc_now,
    migrate_schema: bool = True,
) -> FastAPI:
    """The server on the database at ``db_url``, migrated to the newest schema first."""
    settings = settings or ServerSettings()
    engine = create_server_engine(db_url)
    try:
        if migrate_schema:
            migrate(engine)
    except BaseException:
        engine.dispose()
        raise
    context = ServerContext(session_factory(engine), settings, clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            engine.dispose()

    application = FastAPI(
        title="Beacon audit sync server",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    application.state.engine = engine
    application.state.context = context
    application.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_batch_bytes,
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

    @application.exception_handler(MalformedEvent)
    async def _malformed(_request: Request, exc: MalformedEvent) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, 422)

    application.include_router(api_router(context))
    return application

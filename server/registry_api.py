"""The registry endpoints: administrators write owners, cameras and policies; workstations pull
the change log.

No ``from __future__ import annotations`` here: FastAPI reads the endpoints' annotations at run
time.
"""

import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from app.models.registry_records import CameraRecord, OwnerRecord
from server.api import AUTH_ERRORS, BODY_ERRORS, ServerContext, token_dependency
from server.models import ApiToken, TokenRole
from server.registry import (
    ChangeLog,
    RegistryProblem,
    RegistryRejected,
    Written,
    changes_after,
    import_registry,
    problems_from_validation,
    put_camera,
    put_owner,
    put_policy,
)
from server.schemas import (
    NO_NUL,
    PolicyUpdate,
    RegistryChangeItem,
    RegistryChanges,
    RegistryImport,
    RegistryImportResult,
    RegistryProblemItem,
    RegistryRejection,
    RegistryWriteResult,
)
from server.tokens import require_role

MAX_CHANGES_PAGE = 5000
PROBLEMS_IN_DETAIL = 5
RecordIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=NO_NUL)]
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    **BODY_ERRORS,
    422: {
        "model": RegistryRejection,
        "description": "an invalid record, or one that needs a record the registry lacks; "
        "nothing was stored",
    },
}


def rejection(detail: str, problems: list[RegistryProblem]) -> JSONResponse:
    shown = "; ".join(str(problem) for problem in problems[:PROBLEMS_IN_DETAIL])
    if len(problems) > PROBLEMS_IN_DETAIL:
        shown += f"; and {len(problems) - PROBLEMS_IN_DETAIL} more (see errors)"
    body = RegistryRejection(
        detail=f"{detail}: {shown}" if shown else detail,
        errors=[RegistryProblemItem(row=p.row, field=p.field, problem=p.problem) for p in problems],
    )
    return JSONResponse(body.model_dump(mode="json"), status.HTTP_422_UNPROCESSABLE_CONTENT)


class RegistryRoute(APIRoute):
    """Answers invalid registry requests with each problem's row and field, and never with the
    values sent: FastAPI's own 422 would echo a refused stream URL, password and all."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def checked(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                what = "the query is not valid" if request.method == "GET" else "nothing was stored"
                return rejection(what, problems_from_validation(exc.errors()))
            except RegistryRejected as exc:
                return rejection(exc.detail, exc.problems)

        return checked


def _same_id(kind: str, name: str, in_body: str, in_path: str) -> None:
    if in_body != in_path:
        raise RegistryRejected(
            f"the {kind} was not stored",
            [RegistryProblem(None, name, f"is {in_body!r} but the path names {in_path!r}")],
        )


def registry_router(context: ServerContext) -> APIRouter:
    router = APIRouter(prefix="/v1/registry", route_class=RegistryRoute)
    sessions, clock = context.sessions, context.clock
    Token = Annotated[ApiToken, Depends(token_dependency(context))]

    def write(step: Callable[[ChangeLog], Written]) -> RegistryWriteResult:
        with sessions.begin() as session:
            log = ChangeLog(session, clock())
            written = step(log)
            return RegistryWriteResult(
                kind=written.kind,
                id=written.record_id,
                created=written.created,
                changed=written.changed,
                change_version=written.change_version,
                latest_version=log.latest_version,
                document=written.document,
            )

    @router.put(
        "/owners/{owner_id}",
        response_model=RegistryWriteResult,
        summary="Add or update an owner (administrators)",
        responses=WRITE_ERRORS,
    )
    def put_owner_record(
        owner_id: RecordIdPath, owner: OwnerRecord, token: Token
    ) -> RegistryWriteResult:
        """The body is an owner object of the registry file format; `id` must be the path's.
        An owner equal to the stored one changes nothing (no new change version)."""
        require_role(token, TokenRole.ADMIN)
        _same_id("owner", "id", owner.id, owner_id)
        return write(lambda log: put_owner(log, owner))

    @router.put(
        "/cameras/{camera_id}",
        response_model=RegistryWriteResult,
        summary="Add or update a camera (administrators)",
        responses=WRITE_ERRORS,
    )
    def put_camera_record(
        camera_id: RecordIdPath, camera: CameraRecord, token: Token
    ) -> RegistryWriteResult:
        """The body is a camera object of the registry file format; `id` must be the path's,
        its owner must be in the registry. Stream URLs with a user name or password are
        refused (credentials live in each workstation's keyring)."""
        require_role(token, TokenRole.ADMIN)
        _same_id("camera", "id", camera.id, camera_id)
        return write(lambda log: put_camera(log, camera))

    @router.put(
        "/cameras/{camera_id}/policy",
        response_model=RegistryWriteResult,
        summary="Set an integrated camera's sharing policy (administrators)",
        responses=WRITE_ERRORS,
    )
    def put_policy_record(
        camera_id: RecordIdPath, policy: PolicyUpdate, token: Token
    ) -> RegistryWriteResult:
        """The body is a policy object without `version` and `changed_at`. Terms (mode, time
        zone, windows) that differ from the current policy's add the next version, changed now;
        equal terms change nothing. Revoking is a policy with mode `revoked`."""
        require_role(token, TokenRole.ADMIN)
        _same_id("policy", "camera_id", policy.camera_id, camera_id)
        return write(lambda log: put_policy(log, policy))

    @router.post(
        "/import",
        response_model=RegistryImportResult,
        summary="Import a whole registry file, all or nothing (administrators)",
        responses=WRITE_ERRORS,
    )
    def import_file(document: RegistryImport, token: Token) -> RegistryImportResult:
        """The JSON registry file format. Every row is checked, against the others and the
        registry, before anything is written; any problem refuses the whole file with every
        problem listed by row (`cameras row 3`) and field. Importing the same file again
        changes nothing."""
        require_role(token, TokenRole.ADMIN)
        with sessions.begin() as session:
            log = ChangeLog(session, clock())
            counts = import_registry(log, document.owners, document.cameras, document.policies)
            return RegistryImportResult(
                owners_created=counts.owners_created,
                owners_updated=counts.owners_updated,
                cameras_created=counts.cameras_created,
                cameras_updated=counts.cameras_updated,
                policy_versions_added=counts.policy_versions_added,
                unchanged=counts.unchanged,
                latest_version=log.latest_version,
            )

    @router.get(
        "/changes",
        response_model=RegistryChanges,
        summary="The registry's changes after a version, oldest first (workstations)",
        responses={
            **AUTH_ERRORS,
            422: {"model": RegistryRejection, "description": "`after` or `limit` out of range"},
        },
    )
    def list_changes(
        token: Token,
        after: Annotated[
            int,
            Query(ge=0, le=2**63 - 1, description="the last version applied; 0 for everything"),
        ] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_CHANGES_PAGE)] = 500,
    ) -> RegistryChanges:
        """Every change with a version after `after`, in version order, at most `limit`.

        From 0 this is the registry's whole history (a record that changed several times
        appears once per change): applying the changes in order gives the current registry.
        Versions become visible in order, so a client that stores the last version it applied
        misses nothing.
        """
        require_role(token, TokenRole.WORKSTATION, TokenRole.SUPERVISOR)
        with sessions() as session:
            page = changes_after(session, after, limit)
            changes = [
                RegistryChangeItem(
                    version=row.version,
                    kind=row.kind,  # type: ignore[arg-type]  # the table's CHECK holds it
                    id=row.record_id,
                    document=json.loads(row.document),
                )
                for row in page.changes
            ]
        return RegistryChanges(latest_version=page.latest_version, changes=changes, more=page.more)

    return router

"""The HTTP endpoints of version 1 of the sync server's API.

No ``from __future__ import annotations`` here: FastAPI reads the endpoints' annotations at run
time, and some name types local to ``api_router``.
"""

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from app.models import checkpoint as checkpoints
from app.models.audit_chain import format_time, parse_time
from app.models.merkle import MerkleTree
from server.checkpoint_key import CheckpointSigner
from server.clock import Clock
from server.config import ServerSettings
from server.event_intake import Head, UnknownWorkstation, accept_batch
from server.event_trees import EventTrees
from server.models import ApiToken, ReceivedAuditEvent, TokenRole, Workstation
from server.registry import owned_events, ownerships
from server.schemas import (
    MAX_SEQ,
    NO_NUL,
    WORKSTATION_ID,
    BatchAcknowledgement,
    ChainPosition,
    ChainRejection,
    CheckpointKey,
    ConsistencyProof,
    ErrorMessage,
    EventBatch,
    EventPage,
    InclusionProof,
    IssuedToken,
    SignedCheckpoint,
    StoredEvent,
    TokenInfo,
    TokenRequest,
    UserTokenRequest,
    WorkstationInfo,
    WorkstationRegistration,
)
from server.tokens import (
    RegistryConflict,
    TokenRejected,
    authenticate,
    issue_token,
    register_workstation,
    require_role,
    revoke_token,
)

AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorMessage, "description": "no token, or an unknown, expired or revoked one"},
    403: {"model": ErrorMessage, "description": "the token may not do this"},
}
# FastAPI answers 400 itself, before validation, when a body cannot be decoded at all.
BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorMessage, "description": "the body is not JSON in UTF-8"},
}
PathWorkstation = Annotated[str, Path(pattern=WORKSTATION_ID, examples=["rtcc-ws-03"])]
PathOwner = Annotated[str, Path(min_length=1, max_length=64, pattern=NO_NUL, examples=["own-017"])]
TextFilter = Annotated[str | None, Query(pattern=NO_NUL)]


@dataclass(frozen=True, slots=True)
class EventFilters:
    """The query parameters that narrow an event query (all optional, all combined)."""

    camera: TextFilter = None
    actor: TextFilter = None
    incident: TextFilter = None
    workstation: Annotated[
        str | None, Query(pattern=NO_NUL, description="the uploading workstation")
    ] = None
    event_type: TextFilter = None
    since: Annotated[datetime | None, Query(description="workstation time, inclusive")] = None
    until: Annotated[datetime | None, Query(description="workstation time, exclusive")] = None


@dataclass(frozen=True, slots=True)
class ServerContext:
    sessions: sessionmaker[Session]
    settings: ServerSettings
    clock: Clock
    signer: CheckpointSigner
    trees: EventTrees


def _position(workstation: Workstation) -> ChainPosition:
    return ChainPosition(
        workstation_id=workstation.id,
        seq=workstation.head_seq,
        hash=bytes(workstation.head_hash).hex(),
    )


def _workstation_info(workstation: Workstation) -> WorkstationInfo:
    return WorkstationInfo(
        **_position(workstation).model_dump(),
        description=workstation.description,
        registered_at=workstation.registered_at,
    )


def _token_info(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "role": token.role,
        "workstation_id": token.workstation_id,
        "owner_id": token.owner_id,
        "name": token.name,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
    }


def _stored_event(row: ReceivedAuditEvent) -> StoredEvent:
    fields = json.loads(row.record)
    return StoredEvent(
        workstation_id=row.workstation_id,
        seq=row.seq,
        time=row.time,
        received_at=row.received_at,
        event_type=fields["event_type"],
        actor=fields["actor"],
        workstation=fields["workstation"],
        subject=fields["subject"],
        camera_id=fields["camera_id"],
        purpose=fields["purpose"],
        incident=row.incident,
        policy_version=fields["policy_version"],
        decision=fields["decision"],
        reason=fields["reason"],
        outcome=fields["outcome"],
        duration_ms=fields["duration_ms"],
        details=fields["details"],
        hash=bytes(row.hash).hex(),
        prev_hash=bytes(row.prev_hash).hex(),
    )


def _checkpoint(signed: checkpoints.SignedCheckpoint) -> SignedCheckpoint:
    return SignedCheckpoint.model_validate(signed.to_wire())


def _inclusion(
    tree: MerkleTree, workstation_id: str, seq: int, chain_hash: str, size: int
) -> InclusionProof:
    return InclusionProof(
        workstation_id=workstation_id,
        seq=seq,
        leaf_index=seq - 1,
        tree_size=size,
        hash=chain_hash,
        proof=[node.hex() for node in tree.inclusion_proof(seq - 1, size)],
    )


def _consistency(
    tree: MerkleTree, workstation_id: str, first: int, second: int
) -> ConsistencyProof:
    return ConsistencyProof(
        workstation_id=workstation_id,
        first=first,
        second=second,
        proof=[node.hex() for node in tree.consistency_proof(first, second)],
    )


def _encode_cursor(row: ReceivedAuditEvent) -> str:
    text = f"{format_time(row.time)}|{row.id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, _, number = text.partition("|")
        after_id = int(number)
        if not 0 <= after_id < 2**63:
            raise ValueError(after_id)
        return parse_time(moment), after_id
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "the cursor is not one this server gave out; start again without it",
        ) from exc


def _aware(name: str, moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"{name} needs a time zone, e.g. 2026-11-21T19:00:00Z",
        )
    return moment


def token_dependency(context: ServerContext) -> Callable[..., ApiToken]:
    """The dependency that authenticates a request's bearer token (401 when it does not)."""
    bearer = HTTPBearer(
        auto_error=False, description="a token issued by the server's administrator"
    )
    sessions, clock = context.sessions, context.clock

    def presented_token(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> ApiToken:
        with sessions() as session:
            return authenticate(session, credentials.credentials if credentials else None, clock())

    return presented_token


def api_router(context: ServerContext) -> APIRouter:
    router = APIRouter(prefix="/v1")
    sessions, settings, clock = context.sessions, context.settings, context.clock
    signer, trees = context.signer, context.trees
    Token = Annotated[ApiToken, Depends(token_dependency(context))]

    @router.post(
        "/workstations/{workstation_id}/events",
        response_model=BatchAcknowledgement,
        summary="Upload the next events of a workstation's audit chain",
        responses={
            **AUTH_ERRORS,
            **BODY_ERRORS,
            409: {
                "model": ChainRejection,
                "description": "the batch does not continue the chain (broken_chain: an event "
                "does not match its hash or the one before; gap: events are missing before the "
                "batch; fork: it differs from events already acknowledged). Nothing is stored.",
            },
            413: {"model": ErrorMessage, "description": "too many events or bytes in one batch"},
            422: {"description": "an event is malformed"},
        },
    )
    def upload_events(
        workstation_id: PathWorkstation,
        batch: EventBatch,
        token: Token,
        since_size: Annotated[
            int | None,
            Query(
                ge=0,
                le=MAX_SEQ,
                description="the size of the last checkpoint the workstation verified: the "
                "acknowledgement then proves the new checkpoint extends it",
            ),
        ] = None,
        proofs: Annotated[
            Literal["last", "all"],
            Query(description="inclusion proofs for the batch's last event, or for every event"),
        ] = "last",
    ) -> BatchAcknowledgement:
        """Accepts events only in order and only if they continue the workstation's chain.

        The server recomputes each event's hash (``SHA-256(prev || seq || canonical)``) from its
        acknowledged head. Events it already has must be identical to the stored ones and are
        skipped, so a retried batch is a no-op that returns the same position.

        The acknowledgement carries a freshly signed checkpoint of the workstation's Merkle
        tree, inclusion proofs against it, and with ``since_size`` a consistency proof.
        """
        require_role(token, TokenRole.WORKSTATION)
        if token.workstation_id != workstation_id:
            raise TokenRejected(
                f"this token belongs to workstation {token.workstation_id}; it cannot send "
                f"events for {workstation_id}",
                403,
            )
        count = len(batch.events)
        if count > settings.max_batch_events:
            raise HTTPException(
                status.HTTP_413_CONTENT_TOO_LARGE,
                f"the batch has {count} events; the server accepts at most "
                f"{settings.max_batch_events} per batch: send them in smaller batches",
            )
        now = clock()
        with trees.hold(workstation_id) as held:
            try:
                acknowledgement = accept_batch(sessions, workstation_id, batch.events, now)
            except UnknownWorkstation as exc:
                raise HTTPException(
                    status.HTTP_404_NOT_FOUND, f"no workstation {workstation_id} is registered"
                ) from exc
            # Committed: only now may the batch's leaves reach the tree.
            held.extend(acknowledgement.previous, acknowledgement.new_hashes)
            head = acknowledgement.chain_head
            tree = held.tree_for(head)
            size = head.seq
            signed = signer.sign(workstation_id, size, tree.root(size), head.hash, now)
            proved = batch.events if proofs == "all" else batch.events[-1:]
            inclusion = [
                _inclusion(tree, workstation_id, event.seq, event.hash, size) for event in proved
            ]
            consistency = None
            if since_size is not None and since_size <= size:
                consistency = _consistency(tree, workstation_id, since_size, size)
        return BatchAcknowledgement(
            workstation_id=workstation_id,
            seq=acknowledgement.head.seq,
            hash=acknowledgement.head.hash.hex(),
            stored=acknowledgement.stored,
            already_stored=acknowledgement.already_stored,
            checkpoint=_checkpoint(signed),
            inclusion=inclusion,
            consistency=consistency,
        )

    def readable(token: ApiToken, workstation_id: str, what: str) -> None:
        if token.role == TokenRole.OWNER:
            raise TokenRejected(
                f"an owner token reads only its owner's events, not the {what} of a workstation",
                403,
            )
        if token.role == TokenRole.WORKSTATION and token.workstation_id != workstation_id:
            raise TokenRejected(
                f"this token belongs to workstation {token.workstation_id}; it cannot read "
                f"the {what} of {workstation_id}",
                403,
            )

    def stored_head(session: Session, workstation_id: str) -> Head:
        workstation = session.get(Workstation, workstation_id)
        if workstation is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"no workstation {workstation_id} is registered"
            )
        return Head(workstation.head_seq, bytes(workstation.head_hash))

    def beyond_head(workstation_id: str, head: Head, what: str) -> HTTPException:
        return HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"{what}: the server has {head.seq} events of workstation {workstation_id}",
        )

    @router.get(
        "/checkpoint-key",
        response_model=CheckpointKey,
        summary="The public key that verifies this server's checkpoints",
    )
    def checkpoint_key() -> CheckpointKey:
        """Not secret, so no token is needed; a workstation pins it when it is set up."""
        return CheckpointKey(
            algorithm="Ed25519",
            key_id=signer.key_id,
            public_key=signer.public_key.hex(),
            public_key_pem=signer.public_key_pem,
            checkpoint_format="beacon-audit-checkpoint/v1",
        )

    @router.get(
        "/workstations/{workstation_id}/checkpoint",
        response_model=SignedCheckpoint,
        summary="A signed checkpoint of a workstation's tree at its acknowledged head",
        responses={**AUTH_ERRORS, 404: {"model": ErrorMessage}},
    )
    def latest_checkpoint(workstation_id: PathWorkstation, token: Token) -> SignedCheckpoint:
        """Signed when asked: ``time`` is now; size, root and head are those of the head."""
        readable(token, workstation_id, "checkpoint")
        with trees.hold(workstation_id) as held, sessions() as session:
            head = stored_head(session, workstation_id)
            tree = held.tree_for(head, session)
            signed = signer.sign(workstation_id, head.seq, tree.root(head.seq), head.hash, clock())
        return _checkpoint(signed)

    @router.get(
        "/workstations/{workstation_id}/consistency",
        response_model=ConsistencyProof,
        summary="Proof that a workstation's tree of size `second` extends that of size `first`",
        responses={
            **AUTH_ERRORS,
            404: {
                "model": ErrorMessage,
                "description": "unknown workstation, or `second` beyond the events the server has",
            },
            422: {"description": "`first` larger than `second`, or a size out of range"},
        },
    )
    def consistency_proof(
        workstation_id: PathWorkstation,
        token: Token,
        first: Annotated[int, Query(ge=0, le=MAX_SEQ, description="the older tree's size")],
        second: Annotated[int, Query(ge=0, le=MAX_SEQ, description="the newer tree's size")],
    ) -> ConsistencyProof:
        readable(token, workstation_id, "tree")
        if first > second:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"first ({first}) is larger than second ({second}): a consistency proof goes "
                "from an older, smaller tree to a newer one",
            )
        with trees.hold(workstation_id) as held, sessions() as session:
            head = stored_head(session, workstation_id)
            if second > head.seq:
                raise beyond_head(workstation_id, head, f"there is no tree of size {second}")
            tree = held.tree_for(head, session)
            return _consistency(tree, workstation_id, first, second)

    @router.get(
        "/workstations/{workstation_id}/inclusion",
        response_model=InclusionProof,
        summary="Proof that event `seq` is in a workstation's tree of size `size`",
        responses={
            **AUTH_ERRORS,
            404: {
                "model": ErrorMessage,
                "description": "unknown workstation, or `seq` or "
                "`size` beyond the events the server has",
            },
            422: {"description": "`seq` larger than `size`, or either out of range"},
        },
    )
    def inclusion_proof(
        workstation_id: PathWorkstation,
        token: Token,
        seq: Annotated[int, Query(ge=1, le=MAX_SEQ, description="the event (leaf seq - 1)")],
        size: Annotated[
            int | None,
            Query(
                ge=1,
                le=MAX_SEQ,
                description="the tree's size; the acknowledged head's seq when omitted",
            ),
        ] = None,
    ) -> InclusionProof:
        readable(token, workstation_id, "tree")
        if size is not None and seq > size:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"event {seq} is not in a tree of size {size}: ask for a size of at least {seq}",
            )
        with trees.hold(workstation_id) as held, sessions() as session:
            head = stored_head(session, workstation_id)
            if size is None and seq > head.seq:
                raise beyond_head(workstation_id, head, f"event {seq} has not been received")
            size = head.seq if size is None else size
            if size > head.seq:
                raise beyond_head(workstation_id, head, f"there is no tree of size {size}")
            tree = held.tree_for(head, session)
            chain_hash = session.scalar(
                select(ReceivedAuditEvent.hash).where(
                    ReceivedAuditEvent.workstation_id == workstation_id,
                    ReceivedAuditEvent.seq == seq,
                )
            )
            assert chain_hash is not None  # the tree holds it, so the database does
            return _inclusion(tree, workstation_id, seq, bytes(chain_hash).hex(), size)

    @router.get(
        "/workstations/{workstation_id}/head",
        response_model=ChainPosition,
        summary="The acknowledged position of a workstation's chain",
        responses={**AUTH_ERRORS, 404: {"model": ErrorMessage}},
    )
    def workstation_head(workstation_id: PathWorkstation, token: Token) -> ChainPosition:
        readable(token, workstation_id, "position")
        with sessions() as session:
            workstation = session.get(Workstation, workstation_id)
            if workstation is None:
                raise HTTPException(
                    status.HTTP_404_NOT_FOUND, f"no workstation {workstation_id} is registered"
                )
            return _position(workstation)

    def event_page(
        scope: ColumnElement[bool] | None,
        filters: EventFilters,
        limit: int,
        cursor: str | None,
    ) -> EventPage:
        query = select(ReceivedAuditEvent)
        if scope is not None:
            query = query.where(scope)
        for column, value in (
            (ReceivedAuditEvent.camera_id, filters.camera),
            (ReceivedAuditEvent.actor, filters.actor),
            (ReceivedAuditEvent.incident, filters.incident),
            (ReceivedAuditEvent.workstation_id, filters.workstation),
            (ReceivedAuditEvent.event_type, filters.event_type),
        ):
            if value is not None:
                query = query.where(column == value)
        if (start := _aware("since", filters.since)) is not None:
            query = query.where(ReceivedAuditEvent.time >= start)
        if (end := _aware("until", filters.until)) is not None:
            query = query.where(ReceivedAuditEvent.time < end)
        if cursor is not None:
            after_time, after_id = _decode_cursor(cursor)
            query = query.where(
                or_(
                    ReceivedAuditEvent.time > after_time,
                    and_(ReceivedAuditEvent.time == after_time, ReceivedAuditEvent.id > after_id),
                )
            )
        query = query.order_by(ReceivedAuditEvent.time, ReceivedAuditEvent.id).limit(limit + 1)
        with sessions() as session:
            rows = list(session.scalars(query))
        more = len(rows) > limit
        rows = rows[:limit]
        return EventPage(
            events=[_stored_event(row) for row in rows],
            next_cursor=_encode_cursor(rows[-1]) if more else None,
        )

    PageSize = Annotated[int, Query(ge=1, le=settings.max_page_size)]
    Cursor = Annotated[str | None, Query(description="next_cursor of the page before")]

    @router.get(
        "/events",
        response_model=EventPage,
        summary="Query received events (supervisors)",
        responses={**AUTH_ERRORS, 422: {"description": "a bad filter or cursor"}},
    )
    def query_events(
        token: Token,
        filters: Annotated[EventFilters, Depends()],
        limit: PageSize = 100,
        cursor: Cursor = None,
    ) -> EventPage:
        """Events in workstation-time order (then arrival order), a page at a time."""
        require_role(token, TokenRole.SUPERVISOR)
        return event_page(None, filters, limit, cursor)

    @router.get(
        "/owners/{owner_id}/events",
        response_model=EventPage,
        summary="The events about an owner's cameras (that owner, or supervisors)",
        responses={**AUTH_ERRORS, 422: {"description": "a bad filter or cursor"}},
    )
    def owner_events(
        owner_id: PathOwner,
        token: Token,
        filters: Annotated[EventFilters, Depends()],
        limit: PageSize = 100,
        cursor: Cursor = None,
    ) -> EventPage:
        """The events about cameras while they belonged to this owner in the server's registry.

        A camera's first owner sees its events from the beginning; after the registry gives
        it to another owner, the events from that change on (workstation time against the
        server's time of the change) are the new owner's. Filters and paging as for
        ``GET /v1/events``. An owner token reads only its own owner's events.
        """
        require_role(token, TokenRole.OWNER, TokenRole.SUPERVISOR)
        if token.role == TokenRole.OWNER and token.owner_id != owner_id:
            raise TokenRejected(
                f"this token belongs to owner {token.owner_id}; it cannot read the events of "
                f"owner {owner_id}",
                403,
            )
        with sessions() as session:
            scope = owned_events(ownerships(session, owner_id))
        return event_page(scope, filters, limit, cursor)

    @router.get(
        "/workstations",
        response_model=list[WorkstationInfo],
        summary="Registered workstations and their acknowledged positions",
        responses=AUTH_ERRORS,
    )
    def list_workstations(token: Token) -> list[WorkstationInfo]:
        require_role(token, TokenRole.SUPERVISOR, TokenRole.ADMIN)
        with sessions() as session:
            rows = session.scalars(select(Workstation).order_by(Workstation.id))
            return [_workstation_info(row) for row in rows]

    @router.post(
        "/workstations",
        response_model=WorkstationInfo,
        status_code=status.HTTP_201_CREATED,
        summary="Register a workstation (administrators)",
        responses={**AUTH_ERRORS, **BODY_ERRORS, 409: {"model": ErrorMessage}},
    )
    def register(registration: WorkstationRegistration, token: Token) -> WorkstationInfo:
        require_role(token, TokenRole.ADMIN)
        try:
            with sessions.begin() as session:
                workstation = register_workstation(
                    session, registration.id, clock(), registration.description
                )
                return _workstation_info(workstation)
        except RegistryConflict as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc

    def _issue(
        request: TokenRequest,
        role: TokenRole,
        workstation_id: str | None = None,
        owner_id: str | None = None,
    ) -> IssuedToken:
        days = request.expires_in_days or settings.default_token_days
        with sessions.begin() as session:
            issued = issue_token(
                session,
                role,
                clock(),
                timedelta(days=days),
                workstation_id=workstation_id,
                owner_id=owner_id,
                name=request.name,
            )
            return IssuedToken(**_token_info(issued.token), token=issued.secret)

    @router.post(
        "/workstations/{workstation_id}/tokens",
        response_model=IssuedToken,
        status_code=status.HTTP_201_CREATED,
        summary="Issue a workstation's upload token (administrators)",
        responses={**AUTH_ERRORS, **BODY_ERRORS, 404: {"model": ErrorMessage}},
    )
    def issue_workstation_token(
        workstation_id: PathWorkstation, request: TokenRequest, token: Token
    ) -> IssuedToken:
        require_role(token, TokenRole.ADMIN)
        try:
            return _issue(request, TokenRole.WORKSTATION, workstation_id)
        except RegistryConflict as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc

    @router.post(
        "/tokens",
        response_model=IssuedToken,
        status_code=status.HTTP_201_CREATED,
        summary="Issue a supervisor or administrator token (administrators)",
        responses={**AUTH_ERRORS, **BODY_ERRORS},
    )
    def issue_user_token(request: UserTokenRequest, token: Token) -> IssuedToken:
        require_role(token, TokenRole.ADMIN)
        return _issue(request, TokenRole(request.role))

    @router.post(
        "/owners/{owner_id}/tokens",
        response_model=IssuedToken,
        status_code=status.HTTP_201_CREATED,
        summary="Issue a camera owner's token, to read their cameras' events (administrators)",
        responses={**AUTH_ERRORS, **BODY_ERRORS, 404: {"model": ErrorMessage}},
    )
    def issue_owner_token(owner_id: PathOwner, request: TokenRequest, token: Token) -> IssuedToken:
        require_role(token, TokenRole.ADMIN)
        try:
            return _issue(request, TokenRole.OWNER, owner_id=owner_id)
        except RegistryConflict as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc

    @router.post(
        "/tokens/{token_id}/revoke",
        response_model=TokenInfo,
        summary="Revoke a token at once (administrators)",
        responses={**AUTH_ERRORS, 404: {"model": ErrorMessage}},
    )
    def revoke(token_id: Annotated[int, Path(ge=1, le=2**31 - 1)], token: Token) -> TokenInfo:
        require_role(token, TokenRole.ADMIN)
        try:
            with sessions.begin() as session:
                return TokenInfo(**_token_info(revoke_token(session, token_id, clock())))
        except RegistryConflict as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc

    return router

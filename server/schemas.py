"""The HTTP contract: request and response bodies, as published in the OpenAPI schema.

An uploaded event is a row of the workstation's export (``app.services.audit_log.read_events``)
plus ``prev_hash``, the hash of the event before it. Every field the workstation hashed is
required and checked strictly (no coercion), because the server recomputes the hash from exactly
these values; a value it would have to convert could never verify anyway.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from app.models.audit_chain import DetailValue, parse_time
from app.models.checkpoint import WORKSTATION_ID_PATTERN
from app.models.registry_records import CameraRecord, OwnerRecord, PolicyRecord

HEX_HASH = r"^[0-9a-f]{64}$"
WORKSTATION_ID = WORKSTATION_ID_PATTERN  # the checkpoint encoding relies on it
AUDIT_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$"
_TIME = re.compile(AUDIT_TIME)
KEY_ID = r"^[0-9a-f]{16}$"
SIGNATURE = r"^[0-9a-f]{128}$"
MAX_SEQ = 2**63 - 1
# PostgreSQL text cannot hold NUL (0x00): text that is stored or compared with stored text
# must not have one (else the database, not the request, fails).
NO_NUL = r"^[^\x00]*$"

HexHash = Annotated[str, Field(pattern=HEX_HASH, examples=["0" * 64])]
WorkstationId = Annotated[str, Field(pattern=WORKSTATION_ID, examples=["rtcc-ws-03"])]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class UploadedEvent(_Strict):
    """One audit event as the workstation's export gives it, with the hash of the one before."""

    v: Literal[1] = Field(default=1, description="canonical encoding version; 1 is the only one")
    seq: int = Field(ge=1, le=MAX_SEQ)
    time: str = Field(
        description="the workstation's clock, UTC, six fractional digits",
        examples=["2026-11-21T19:01:52.123456Z"],
    )
    event_type: str
    actor: str
    workstation: str
    subject: str
    camera_id: str | None
    purpose: str | None
    policy_version: int | None
    decision: str | None
    reason: str | None
    outcome: str
    duration_ms: int | None
    details: dict[str, DetailValue]
    hash: HexHash
    prev_hash: HexHash

    @field_validator("time")
    @classmethod
    def _utc_time(cls, value: str) -> str:
        if not _TIME.match(value):
            raise ValueError("time must look like 2026-11-21T19:01:52.123456Z")
        parse_time(value)  # a real date as well
        return value

    def fields(self) -> dict[str, object]:
        """What the workstation hashed: everything but the two hashes."""
        return self.model_dump(exclude={"hash", "prev_hash"})

    @property
    def moment(self) -> datetime:
        return parse_time(self.time)


class EventBatch(_Strict):
    events: list[UploadedEvent] = Field(
        min_length=1,
        description="consecutive events of one workstation's chain, in sequence order; the "
        "server's limits on count and bytes answer 413 when exceeded",
    )


class ChainPosition(BaseModel):
    workstation_id: str
    seq: int = Field(description="the last acknowledged event; 0 before any")
    hash: HexHash = Field(description="its hash; 64 zeros before any")


class SignedCheckpoint(BaseModel):
    """The server's signed statement of a workstation's Merkle tree: ``size`` events, ``root``.

    Leaf ``seq - 1`` of the tree is event ``seq``'s chain hash (leaf hash
    ``SHA-256(0x00 || hash)``, RFC 9162 hashing). The Ed25519 ``signature`` is over seven
    lines, each ending in a line feed: ``beacon-audit-checkpoint/v1``, ``workstation_id``,
    ``size`` in decimal, ``root``, ``head_hash``, ``time``, ``key_id`` (as written here);
    ``app.models.checkpoint`` encodes and verifies it.
    """

    workstation_id: WorkstationId
    size: int = Field(ge=0, le=MAX_SEQ, description="events in the tree (the head's seq)")
    root: HexHash = Field(description="the Merkle tree hash of events 1..size")
    head_hash: HexHash = Field(description="the chain hash of event `size`; zeros for 0")
    time: str = Field(
        pattern=AUDIT_TIME,
        description="the server's clock when it signed, UTC, six fractional digits",
        examples=["2026-11-21T19:01:52.123456Z"],
    )
    key_id: str = Field(pattern=KEY_ID, description="first 8 bytes of SHA-256 of the public key")
    signature: str = Field(pattern=SIGNATURE, description="Ed25519 signature, hex")


class InclusionProof(BaseModel):
    """RFC 9162 inclusion proof of event ``seq`` (leaf ``seq - 1``) in the tree of ``tree_size``.

    Verify with the root of a signed checkpoint of that size:
    ``verify_inclusion(SHA-256(0x00 || hash), leaf_index, tree_size, proof, root)``.
    """

    workstation_id: WorkstationId
    seq: int = Field(ge=1, le=MAX_SEQ)
    leaf_index: int = Field(ge=0, description="seq - 1")
    tree_size: int = Field(ge=1, le=MAX_SEQ)
    hash: HexHash = Field(description="the event's chain hash: the leaf's data")
    proof: list[HexHash] = Field(description="sibling hashes from the leaf up (RFC 9162 PATH)")


class ConsistencyProof(BaseModel):
    """RFC 9162 consistency proof that the tree of size ``second`` extends that of ``first``.

    Empty when ``first`` is 0 or equals ``second`` (nothing to prove).
    """

    workstation_id: WorkstationId
    first: int = Field(ge=0, le=MAX_SEQ)
    second: int = Field(ge=0, le=MAX_SEQ)
    proof: list[HexHash] = Field(description="RFC 9162 SUBPROOF hashes, bottom up")


class CheckpointKey(BaseModel):
    """The public key that verifies this server's checkpoints."""

    algorithm: Literal["Ed25519"]
    key_id: str = Field(pattern=KEY_ID)
    public_key: str = Field(pattern=HEX_HASH, description="the raw 32-byte public key, hex")
    public_key_pem: str = Field(description="the same key as SubjectPublicKeyInfo PEM")
    checkpoint_format: Literal["beacon-audit-checkpoint/v1"]


class BatchAcknowledgement(ChainPosition):
    """The batch is stored: ``seq``/``hash`` is the acknowledged position after its last event.

    Sending the same batch again returns the same position with ``stored`` 0 (and a checkpoint
    of the workstation's current tree, which may be larger than the batch).
    """

    stored: int = Field(description="events of this batch newly stored")
    already_stored: int = Field(description="events of this batch the server already had")
    checkpoint: SignedCheckpoint = Field(
        description="the workstation's tree after this batch, signed"
    )
    inclusion: list[InclusionProof] = Field(
        description="inclusion proofs against `checkpoint`: of the batch's last event, or of "
        "every event of the batch with ?proofs=all"
    )
    consistency: ConsistencyProof | None = Field(
        description="with ?since_size=N, the proof that `checkpoint` extends the tree of size N; "
        "null without it, or when N is larger than `checkpoint.size` (the server has fewer "
        "events than that checkpoint said: it lost or rolled back events)"
    )


class ChainRejection(BaseModel):
    """Why a batch was refused; none of its events was stored."""

    detail: str
    code: Literal["broken_chain", "gap", "fork"]
    first_bad_seq: int
    head: ChainPosition = Field(description="what the server has acknowledged")


class ErrorMessage(BaseModel):
    detail: str


class StoredEvent(BaseModel):
    """An event as the server keeps it: the workstation's fields and the server's receive time."""

    workstation_id: str
    seq: int
    time: datetime = Field(description="the workstation's clock when it happened")
    received_at: datetime = Field(description="the server's clock when it was accepted")
    event_type: str
    actor: str
    workstation: str
    subject: str
    camera_id: str | None
    purpose: str | None
    incident: str | None
    policy_version: int | None
    decision: str | None
    reason: str | None
    outcome: str
    duration_ms: int | None
    details: dict[str, DetailValue]
    hash: HexHash
    prev_hash: HexHash


class EventPage(BaseModel):
    events: list[StoredEvent]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null at end")


class WorkstationRegistration(_Strict):
    id: WorkstationId
    description: str = Field("", max_length=200, pattern=NO_NUL)


class WorkstationInfo(ChainPosition):
    description: str
    registered_at: datetime


class TokenRequest(_Strict):
    name: str = Field("", max_length=100, pattern=NO_NUL, description="who or what holds it")
    expires_in_days: int | None = Field(
        None, ge=1, le=3650, description="lifetime; the server's default when omitted"
    )


class UserTokenRequest(TokenRequest):
    role: Literal["supervisor", "admin"]


class TokenInfo(BaseModel):
    id: int
    role: str
    workstation_id: str | None
    owner_id: str | None
    name: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


class IssuedToken(TokenInfo):
    token: str = Field(description="the bearer token; shown once, the server keeps only a hash")


# --- the camera registry -------------------------------------------------------------------
# Owner, camera and policy bodies are the workstation's own record models
# (app.models.registry_records): exactly the objects of docs/registry-format.md.


class PolicyUpdate(PolicyRecord):
    """A camera's new policy terms; the server gives it its version and time."""

    version: SkipJsonSchema[None] = None
    changed_at: SkipJsonSchema[None] = None

    @field_validator("version", "changed_at", mode="before")
    @classmethod
    def _assigned_by_server(cls, _value: object) -> None:
        raise ValueError(
            "the server gives a policy its version and time: leave version and changed_at out"
        )


class RegistryImport(BaseModel):
    """A whole registry file (docs/registry-format.md, JSON), imported all or nothing."""

    model_config = ConfigDict(extra="forbid")

    format_version: Literal[1] = 1
    owners: list[OwnerRecord] = []
    cameras: list[CameraRecord] = []
    policies: list[PolicyRecord] = Field(
        [],
        description="`version` and `changed_at` are kept only for a camera's first policy; a "
        "change of terms otherwise adds the current version + 1",
    )
    incidents: list[dict[str, Any]] = Field(
        [], description="must be empty: incidents come from CAD, the server keeps none"
    )

    @field_validator("incidents")
    @classmethod
    def _no_incidents(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if value:
            raise ValueError(
                "the server's registry holds no incidents (they come from CAD): leave the "
                "incidents section out or empty"
            )
        return value


class RegistryProblemItem(BaseModel):
    row: str | None = Field(description="the import row, e.g. `cameras row 3`; null for a PUT")
    field: str
    problem: str


class RegistryRejection(BaseModel):
    """Why a registry write was refused; nothing of it was stored. Refused stream URLs are
    shown with their credentials replaced by ``***``."""

    detail: str
    errors: list[RegistryProblemItem]


class RegistryWriteResult(BaseModel):
    kind: Literal["owner", "camera", "policy"]
    id: str = Field(description="the owner's or camera's id (a policy's camera)")
    created: bool = Field(description="the record (or the camera's first policy) is new")
    changed: bool = Field(description="false: the registry already held exactly this")
    change_version: int | None = Field(description="the change log version of this write")
    latest_version: int
    document: dict[str, Any] = Field(description="the record as stored (a policy's version)")


class RegistryImportResult(BaseModel):
    owners_created: int
    owners_updated: int
    cameras_created: int
    cameras_updated: int
    policy_versions_added: int
    unchanged: int
    latest_version: int


class RegistryChangeItem(BaseModel):
    version: int = Field(description="the change log version, strictly increasing")
    kind: Literal["owner", "camera", "policy"]
    id: str = Field(description="the owner's or camera's id (a policy's camera)")
    document: dict[str, Any] = Field(
        description="the record after the change, as in docs/registry-format.md; an owner "
        "with its contact details, a policy with its `version` and `changed_at`"
    )


class RegistryChanges(BaseModel):
    latest_version: int = Field(
        description="the newest change version; no change in `changes` is newer"
    )
    changes: list[RegistryChangeItem]
    more: bool = Field(
        description="true: more changes up to `latest_version` follow; ask again with "
        "after = the last change's version"
    )

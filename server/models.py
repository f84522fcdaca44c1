"""The server's database: registered workstations, their tokens, the audit events received, and
the camera registry (owners, cameras, policy versions) with its change log.

Kept apart from the workstation's databases (its own declarative base and Alembic scripts under
``server/migrations``). An event is stored as the canonical bytes the workstation hashed, so the
server can re-verify any chain at any time; the query columns beside them are copies taken from
those bytes when the event was accepted.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.models.audit_chain import GENESIS_HASH
from app.models.base import UtcDateTime
from app.models.camera import CameraTier, InstallState, PrivacyMask
from app.models.owner import OwnerKind
from app.models.sharing_policy import PolicyMode

# SQLite makes only an INTEGER PRIMARY KEY an auto-incrementing row id.
EventId = BigInteger().with_variant(Integer(), "sqlite")


class ServerBase(DeclarativeBase):
    """Base of the sync server's database."""


class TokenRole(enum.StrEnum):
    WORKSTATION = "workstation"  # uploads its own workstation's events
    SUPERVISOR = "supervisor"  # reads every workstation's events
    ADMIN = "admin"  # registers workstations, issues and revokes tokens, writes the registry
    OWNER = "owner"  # reads the events about its own owner's cameras


class Workstation(ServerBase):
    __tablename__ = "workstations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The acknowledged position of the workstation's chain: its last stored event.
    head_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    head_hash: Mapped[bytes] = mapped_column(LargeBinary(32), default=GENESIS_HASH)


class ApiToken(ServerBase):
    """A bearer token; only the SHA-256 of the token is stored, never the token."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint(
            "(role = 'workstation') = (workstation_id IS NOT NULL)",
            name="ck_api_tokens_workstation_role",
        ),
        CheckConstraint(
            "(role = 'owner') = (owner_id IS NOT NULL)", name="ck_api_tokens_owner_role"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    workstation_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("workstations.id"), index=True
    )
    owner_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("registry_owners.id"), index=True
    )
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ReceivedAuditEvent(ServerBase):
    """One event of one workstation's chain, as the workstation sent and hashed it."""

    __tablename__ = "audit_events"
    __table_args__ = (
        UniqueConstraint("workstation_id", "seq", name="uq_audit_events_workstation_seq"),
        Index("ix_audit_events_time_id", "time", "id"),
    )

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    workstation_id: Mapped[str] = mapped_column(String(64), ForeignKey("workstations.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    record: Mapped[bytes] = mapped_column(LargeBinary)  # the canonical bytes that were hashed
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    time: Mapped[datetime] = mapped_column(UtcDateTime)  # the workstation's clock
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)  # the server's clock
    event_type: Mapped[str] = mapped_column(String)
    actor: Mapped[str] = mapped_column(String, index=True)
    camera_id: Mapped[str | None] = mapped_column(String, index=True)
    incident: Mapped[str | None] = mapped_column(String, index=True)


# --- the camera registry -------------------------------------------------------------------
# Column names are the fields of docs/registry-format.md, so a row and a record give the same
# document (app.models.registry_records.record_document).


def _choice(kind: type[enum.StrEnum]) -> Enum:
    return Enum(kind, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class RegistryOwner(ServerBase):
    __tablename__ = "registry_owners"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[OwnerKind] = mapped_column(_choice(OwnerKind))
    contact_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(40))
    time_zone: Mapped[str] = mapped_column(String(64))


class RegistryCamera(ServerBase):
    __tablename__ = "registry_cameras"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(64), ForeignKey("registry_owners.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[CameraTier] = mapped_column(_choice(CameraTier))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    heading_deg: Mapped[float] = mapped_column(Float)
    fov_deg: Mapped[float] = mapped_column(Float)
    range_m: Mapped[float] = mapped_column(Float)
    address: Mapped[str] = mapped_column(String(300))
    main_stream_url: Mapped[str | None] = mapped_column(String(1000))
    sub_stream_url: Mapped[str | None] = mapped_column(String(1000))
    privacy_masks: Mapped[list[PrivacyMask]] = mapped_column(JSON)
    install_state: Mapped[InstallState] = mapped_column(_choice(InstallState))
    verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class RegistryPolicy(ServerBase):
    """One version of a camera's sharing policy; a change of terms adds the next version."""

    __tablename__ = "registry_policies"
    __table_args__ = (
        UniqueConstraint("camera_id", "version", name="uq_registry_policies_camera_version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(String(64), ForeignKey("registry_cameras.id"))
    version: Mapped[int] = mapped_column(Integer)
    mode: Mapped[PolicyMode] = mapped_column(_choice(PolicyMode))
    time_zone: Mapped[str] = mapped_column(String(64))
    window_specs: Mapped[list[dict[str, str]]] = mapped_column("windows", JSON)
    note: Mapped[str] = mapped_column(String(500))
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RegistryChange(ServerBase):
    """One changed record in the registry's change log, as its document was after the change.

    ``version`` is assigned by the server, one higher than the last, by writers that hold the
    lock on ``RegistryHead`` until they commit: versions become visible in order, so a reader
    that has seen version N has seen every version before it.
    """

    __tablename__ = "registry_changes"
    __table_args__ = (
        CheckConstraint("kind IN ('owner', 'camera', 'policy')", name="ck_registry_changes_kind"),
        Index("ix_registry_changes_kind_owner", "kind", "owner_id"),
        Index("ix_registry_changes_kind_record", "kind", "record_id"),
    )

    version: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))
    record_id: Mapped[str] = mapped_column(String(64))
    # The owner the record belonged to after the change (a camera's owner for cameras and
    # policies): what owner-scoped access reads the ownership history from.
    owner_id: Mapped[str] = mapped_column(String(64))
    document: Mapped[str] = mapped_column(Text)  # JSON of the record's registry-format object
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)  # the server's clock


class RegistryHead(ServerBase):
    """The single row holding the registry's latest change version; writers lock it."""

    __tablename__ = "registry_head"
    __table_args__ = (CheckConstraint("id = 1", name="ck_registry_head_single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    latest_version: Mapped[int] = mapped_column(BigInteger)


# --- install records -----------------------------------------------------------------------


class ReceivedInstallRecord(ServerBase):
    """A field technician's install record, as a workstation sent it (server/install_records.py).

    Taken once per id: ``content_sha256`` (of the record as sent, snapshots included) tells a
    record sent again after a lost acknowledgement from a different record under the same id.
    The camera is named by id only: a record may be of a camera this server's registry lacks.
    """

    __tablename__ = "install_records"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the workstation's UUID
    workstation_id: Mapped[str] = mapped_column(String(64), ForeignKey("workstations.id"))
    camera_id: Mapped[str] = mapped_column(String(64), index=True)
    technician: Mapped[str] = mapped_column(String(64))
    workstation: Mapped[str] = mapped_column(String(200))  # the workstation's own name
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)  # the workstation's clock
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)  # the server's clock
    verdict: Mapped[str] = mapped_column(String(16))
    check_report: Mapped[str] = mapped_column(Text)  # JSON
    placement: Mapped[str] = mapped_column(Text)  # JSON
    notes: Mapped[str] = mapped_column(Text)
    content_sha256: Mapped[str] = mapped_column(String(64))


class ReceivedInstallSnapshot(ServerBase):
    __tablename__ = "install_snapshots"

    record_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("install_records.id"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    stream: Mapped[str] = mapped_column(String(16))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    jpeg: Mapped[bytes] = mapped_column(LargeBinary)


# The evidence vault's tables are in their own module; importing it puts them in ServerBase's
# metadata wherever the server's schema is built or compared.
from server import evidence_models  # noqa: E402, F401  (needs ServerBase above)

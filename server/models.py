"""The server's database: registered workstations, their tokens, and the audit events received.

Kept apart from the workstation's databases (its own declarative base and Alembic scripts under
``server/migrations``). An event is stored as the canonical bytes the workstation hashed, so the
server can re-verify any chain at any time; the query columns beside them are copies taken from
those bytes when the event was accepted.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.models.audit_chain import GENESIS_HASH
from app.models.base import UtcDateTime

# SQLite makes only an INTEGER PRIMARY KEY an auto-incrementing row id.
EventId = BigInteger().with_variant(Integer(), "sqlite")


class ServerBase(DeclarativeBase):
    """Base of the sync server's database."""


class TokenRole(enum.StrEnum):
    WORKSTATION = "workstation"  # uploads its own workstation's events
    SUPERVISOR = "supervisor"  # reads every workstation's events
    ADMIN = "admin"  # registers workstations, issues and revokes tokens


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
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    workstation_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("workstations.id"), index=True
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

"""AuditEvent: one stored fact of the audit log, in its own database.

The canonical bytes (see ``audit_chain``) are the single source of truth; the query columns are
generated from them by SQLite, so a row cannot say one thing to a query and another to the chain.
"""

from __future__ import annotations

from sqlalchemy import Computed, Integer, LargeBinary, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class AuditBase(DeclarativeBase):
    """Base of the audit database, kept apart from the registry so it can stay append-only."""


def _extract(key: str) -> Computed:
    return Computed(f"json_extract(CAST(record AS TEXT), '$.{key}')", persisted=False)


class AuditEvent(AuditBase):
    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    record: Mapped[bytes] = mapped_column(LargeBinary)
    hash: Mapped[bytes] = mapped_column(LargeBinary)
    event_type: Mapped[str] = mapped_column(String, _extract("event_type"), index=True)
    time: Mapped[str] = mapped_column(String, _extract("time"), index=True)
    actor: Mapped[str] = mapped_column(String, _extract("actor"), index=True)
    workstation: Mapped[str] = mapped_column(String, _extract("workstation"))
    camera_id: Mapped[str | None] = mapped_column(String, _extract("camera_id"), index=True)
    outcome: Mapped[str] = mapped_column(String, _extract("outcome"))
    policy_version: Mapped[int | None] = mapped_column(Integer, _extract("policy_version"))

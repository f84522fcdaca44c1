"""RejectedCadRecord: a record a CAD adapter received but could not use, kept with the reason.

Nothing a CAD source sends is dropped silently: a record that fails validation is stored here
and listed in the console's "Rejected records" view. The same bad record sent again (an HTTP
feed that re-sends its whole list every poll) is one row whose ``seen_count`` grows, found by the
SHA-256 ``fingerprint`` of its raw text within its source.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UtcDateTime

RAW_TEXT_LIMIT = 16 * 1024  # characters of the raw record kept; a huge file is kept in part
MAX_SOURCE_LENGTH = 300
MAX_ORIGIN_LENGTH = 300
MAX_REASON_LENGTH = 1000


class RejectedCadRecord(Base):
    __tablename__ = "rejected_cad_records"
    __table_args__ = (UniqueConstraint("source", "fingerprint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(MAX_SOURCE_LENGTH))  # the adapter: URL or folder
    origin: Mapped[str] = mapped_column(String(MAX_ORIGIN_LENGTH))  # a file, a response position
    reason: Mapped[str] = mapped_column(String(MAX_REASON_LENGTH))
    raw_text: Mapped[str] = mapped_column(Text)  # at most RAW_TEXT_LIMIT characters
    raw_size: Mapped[int] = mapped_column(Integer)  # bytes as received, before the cap
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 hex of the raw bytes
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)  # first seen
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    seen_count: Mapped[int] = mapped_column(Integer, default=1)

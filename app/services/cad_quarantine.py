"""The quarantine of CAD records: what a CAD adapter rejected, kept with the reason.

``quarantine`` stores rejections in the registry (``RejectedCadRecord``): a record seen again
from the same source (same bytes) counts up on its row instead of adding one. The console's
"Rejected records" view reads them back as plain rows in a background job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models.rejected_cad_record import (
    MAX_ORIGIN_LENGTH,
    MAX_REASON_LENGTH,
    MAX_SOURCE_LENGTH,
    RejectedCadRecord,
)
from app.services.cad_adapters import RejectedRecord

log = logging.getLogger(__name__)

SessionFactory = Callable[[], Session]
REJECTED_VIEW_LIMIT = 500  # the newest rows the view lists


@dataclass(frozen=True, slots=True)
class RejectedRecordRow:
    """One quarantined record as the rejected view shows it."""

    source: str
    origin: str
    reason: str
    raw_text: str
    raw_size: int
    received_at: datetime  # UTC; first seen
    last_seen_at: datetime
    seen_count: int


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def quarantine(session: Session, rejected: Iterable[RejectedRecord]) -> int:
    """Store each rejection (or count it again); the number of records new to the quarantine."""
    added = 0
    for item in rejected:
        source = _cut(item.source, MAX_SOURCE_LENGTH)
        fingerprint = item.fingerprint
        known = session.scalar(
            select(RejectedCadRecord).where(
                RejectedCadRecord.source == source, RejectedCadRecord.fingerprint == fingerprint
            )
        )
        if known is not None:
            known.seen_count += 1
            known.last_seen_at = max(known.last_seen_at, item.received_at)
            continue
        log.warning("CAD record rejected from %s (%s): %s", source, item.origin, item.reason)
        session.add(
            RejectedCadRecord(
                source=source,
                origin=_cut(item.origin, MAX_ORIGIN_LENGTH),
                reason=_cut(item.reason, MAX_REASON_LENGTH),
                raw_text=item.raw_text,
                raw_size=item.raw_size,
                fingerprint=fingerprint,
                received_at=item.received_at,
                last_seen_at=item.received_at,
                seen_count=1,
            )
        )
        session.flush()  # the same record twice in one batch is one row
        added += 1
    return added


def count_rejected(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(RejectedCadRecord)) or 0


def read_rejected_records(
    sessions: SessionFactory, limit: int = REJECTED_VIEW_LIMIT
) -> list[RejectedRecordRow]:
    """The newest quarantined records first (by when they were last seen)."""
    with sessions() as session:
        rows = session.scalars(
            select(RejectedCadRecord)
            .order_by(RejectedCadRecord.last_seen_at.desc(), RejectedCadRecord.id.desc())
            .limit(limit)
        )
        return [
            RejectedRecordRow(
                source=row.source,
                origin=row.origin,
                reason=row.reason,
                raw_text=row.raw_text,
                raw_size=row.raw_size,
                received_at=row.received_at,
                last_seen_at=row.last_seen_at,
                seen_count=row.seen_count,
            )
            for row in rows
        ]

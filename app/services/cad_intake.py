"""The CAD intake: one poll of a CAD adapter brought into the registry, as a background job.

``CadIntake`` is the console's ``CadPoll``: called with a fresh session in a worker, it polls its
adapter (no more often than ``interval_s``, backing off while the source fails), upserts the
records (a CAD number already known is an update, never a second incident), quarantines the
rejections, commits, and only then lets the adapter finish with what it read (the folder
adapter moves its files), so a failed commit loses nothing: the next poll reads it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from app.services.cad_adapters import (
    MEBIBYTE,
    CadAdapter,
    EidoCadAdapter,
    FolderCadAdapter,
    HttpJsonCadAdapter,
    ScriptedCadAdapter,
    SourceState,
)
from app.services.cad_feed import upsert_incident
from app.services.cad_quarantine import count_rejected, quarantine
from app.services.clock import Clock, utc_now
from app.settings import CadSettings

MAX_BACKOFF_S = 60.0


@dataclass(frozen=True, slots=True)
class CadPollReport:
    """What one poll did, for the incident panel."""

    source_state: SourceState
    imported: int  # records upserted (new incidents and updates)
    quarantined: int  # records new to the quarantine
    rejected_total: int  # records in the quarantine now


class CadIntake:
    """Polls one CAD adapter into the registry (module docstring)."""

    def __init__(
        self, adapter: CadAdapter, *, interval_s: float = 0.0, max_backoff_s: float = MAX_BACKOFF_S
    ) -> None:
        self.adapter = adapter
        self._interval_s = interval_s
        self._max_backoff_s = max_backoff_s
        self._polled_at: datetime | None = None
        self._due_at: datetime | None = None
        self._failures = 0
        self._state = SourceState(True, "CAD: waiting for the first poll")

    def __call__(self, session: Session, now: datetime) -> CadPollReport:
        if self._resting(now):
            return CadPollReport(self._state, 0, 0, count_rejected(session))
        result = self.adapter.poll()
        for record in result.records:
            upsert_incident(session, record, keep_first_received=True)
        added = quarantine(session, result.rejected)
        session.commit()
        self.adapter.acknowledge()
        self._state = result.source_state
        self._failures = 0 if result.source_state.healthy else self._failures + 1
        wait_s = self._interval_s * 2 ** min(self._failures, 16)
        if self._failures:
            wait_s = min(max(wait_s, 1.0), self._max_backoff_s)
        self._polled_at, self._due_at = now, now + timedelta(seconds=wait_s)
        return CadPollReport(
            result.source_state, len(result.records), added, count_rejected(session)
        )

    def _resting(self, now: datetime) -> bool:
        """Too soon after the last poll; a clock set back polls at once rather than stalling."""
        if self._polled_at is None or self._due_at is None:
            return False
        return self._polled_at <= now < self._due_at


def adapter_for(cad: CadSettings, clock: Clock = utc_now) -> CadAdapter:
    """The adapter ``[cad]`` asks for; "scripted" needs the demo's script: see ``demo_intake``."""
    max_body_bytes = int(cad.max_body_mb * MEBIBYTE)
    if cad.adapter == "http" and cad.url is not None:
        return HttpJsonCadAdapter(
            cad.url,
            clock=clock,
            connect_timeout_s=cad.connect_timeout_s,
            read_timeout_s=cad.read_timeout_s,
            max_body_bytes=max_body_bytes,
        )
    if cad.adapter == "folder" and cad.folder is not None:
        return FolderCadAdapter(cad.folder, clock=clock, settle_s=cad.settle_s)
    if cad.adapter == "eido":
        return EidoCadAdapter(
            url=cad.url,
            folder=cad.folder,
            clock=clock,
            connect_timeout_s=cad.connect_timeout_s,
            read_timeout_s=cad.read_timeout_s,
            max_body_bytes=max_body_bytes,
            settle_s=cad.settle_s,
        )
    raise ValueError(f"cad.adapter {cad.adapter!r} has no source set (cad.url or cad.folder)")


def demo_intake(script: Path, clock: Clock = utc_now) -> CadIntake:
    """The demo city's scripted stream, started now; polled on every refresh."""
    return CadIntake(ScriptedCadAdapter(script, clock(), clock))

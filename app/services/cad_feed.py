"""Calls for service from CAD: the record the console consumes, a scripted feed, and the upsert.

``ScriptedCadFeed`` plays a JSON script (the demo city's ``cad_script.json``) against the clock:
each entry has an ``offset_s`` from the start of the shift (negative for calls received before
it) and a CAD number. The first entry of a CAD number is a new incident and carries every field;
a later entry with the same CAD number is an update and carries only what changed (typically
``status``), the feed re-sending the whole record with the change applied. Script format::

    {"records": [
      {"offset_s": -600, "cad_number": "2026-004512", "incident_type": "Shots fired",
       "priority": 1, "latitude": 41.8812, "longitude": -87.6402,
       "address": "1200 W Harbor St", "status": "dispatched", "emergency": true},
      {"offset_s": 240, "cad_number": "2026-004512", "status": "on_scene"},
      {"offset_s": 1800, "cad_number": "2026-004512", "status": "closed"}
    ]}

An incident's ``received_at`` is the time of its first entry; a ``closed`` entry sets
``closed_at`` to the time of that entry. The whole script is checked when the feed is made, so a
bad script fails at start-up with the entry and field named, not in the middle of a shift.
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.incident import Incident, IncidentStatus

PRIORITIES = range(1, 6)  # 1 is the most urgent
# The registry's column sizes (app/models/incident.py): longer text is refused, not cut.
MAX_CAD_NUMBER_LENGTH = 64
MAX_INCIDENT_TYPE_LENGTH = 100
MAX_ADDRESS_LENGTH = 300
NEW_RECORD_FIELDS = (
    "incident_type",
    "priority",
    "latitude",
    "longitude",
    "address",
    "status",
    "emergency",
)
UPDATABLE_FIELDS = frozenset(NEW_RECORD_FIELDS)
ENTRY_FIELDS = frozenset({"offset_s", "cad_number", *NEW_RECORD_FIELDS})


class CadRecordError(ValueError):
    """A CAD record that fails validation; the message names the field.

    A ``field`` in parentheses names the whole thing rather than a field ("(file)",
    "(record)"): its message reads "the file is not valid JSON".
    """

    def __init__(self, field: str, problem: str, *, where: str = "") -> None:
        prefix = f"{where}, " if where else ""
        if field.startswith("(") and field.endswith(")"):
            super().__init__(f"{prefix}the {field[1:-1]} {problem}")
        else:
            super().__init__(f"{prefix}field {field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True, slots=True)
class CadRecord:
    """One call for service as CAD sends it; an update re-sends the whole record."""

    cad_number: str
    incident_type: str
    priority: int
    latitude: float
    longitude: float
    address: str
    received_at: datetime
    status: IncidentStatus
    emergency: bool
    closed_at: datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.cad_number, str) or not self.cad_number.strip():
            raise CadRecordError("cad_number", "is empty")
        _check_length("cad_number", self.cad_number, MAX_CAD_NUMBER_LENGTH)
        if not isinstance(self.incident_type, str) or not self.incident_type.strip():
            raise CadRecordError("incident_type", "is empty")
        _check_length("incident_type", self.incident_type, MAX_INCIDENT_TYPE_LENGTH)
        if (
            isinstance(self.priority, bool)
            or not isinstance(self.priority, int)
            or self.priority not in PRIORITIES
        ):
            raise CadRecordError(
                "priority", f"{self.priority!r} is not a priority (1 most urgent .. 5)"
            )
        _check_coordinate("latitude", self.latitude, 90.0)
        _check_coordinate("longitude", self.longitude, 180.0)
        if not isinstance(self.address, str):
            raise CadRecordError("address", f"{self.address!r} is not text")
        _check_length("address", self.address, MAX_ADDRESS_LENGTH)
        if not isinstance(self.status, IncidentStatus):
            raise CadRecordError("status", f"{self.status!r} is not an incident status")
        if not isinstance(self.emergency, bool):
            raise CadRecordError("emergency", f"{self.emergency!r} is not true or false")
        if not isinstance(self.received_at, datetime) or self.received_at.tzinfo is None:
            raise CadRecordError("received_at", "must be a timezone-aware time")
        if self.closed_at is not None:
            if self.closed_at.tzinfo is None:
                raise CadRecordError("closed_at", "must be a timezone-aware time")
            if self.status is not IncidentStatus.CLOSED:
                raise CadRecordError(
                    "closed_at", f"is set but the status is {self.status.value}, not closed"
                )
            if self.closed_at < self.received_at:
                raise CadRecordError("closed_at", "is before received_at")


def _check_length(field: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise CadRecordError(field, f"is {len(value)} characters long, more than {limit}")


def _check_coordinate(field: str, value: object, limit: float) -> None:
    if value is None:
        raise CadRecordError(field, "is missing")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CadRecordError(field, f"{value!r} is not a number")
    if not math.isfinite(value) or not -limit <= value <= limit:
        raise CadRecordError(field, f"{value} is outside -{limit:g}..{limit:g}")


def _status(value: object) -> IncidentStatus:
    if isinstance(value, str) and value in IncidentStatus.__members__.values():
        return IncidentStatus(value)
    known = ", ".join(status.value for status in IncidentStatus)
    raise CadRecordError("status", f"{value!r} is not one of {known}")


@dataclass(frozen=True, slots=True)
class _ScriptEntry:
    offset_s: float
    record: CadRecord


def _load_entries(raw_entries: list[Any], started_at: datetime, source: str) -> list[_ScriptEntry]:
    """Check every entry and build the full record each one sends, in the order they are due."""
    indexed = []
    for number, raw in enumerate(raw_entries, start=1):
        where = f"{source} entry {number}"
        if not isinstance(raw, Mapping):
            raise CadRecordError("(entry)", "is not an object", where=where)
        offset = raw.get("offset_s")
        if isinstance(offset, bool) or not isinstance(offset, int | float):
            raise CadRecordError("offset_s", f"{offset!r} is not a number of seconds", where=where)
        if not math.isfinite(offset):
            raise CadRecordError("offset_s", f"{offset} is not a number of seconds", where=where)
        indexed.append((float(offset), number, raw))
    indexed.sort(key=lambda item: (item[0], item[1]))  # stable: file order breaks ties

    current: dict[str, CadRecord] = {}
    entries = []
    for offset, number, raw in indexed:
        where = f"{source} entry {number}"
        cad_number = raw.get("cad_number")
        if not isinstance(cad_number, str) or not cad_number.strip():
            raise CadRecordError("cad_number", f"{cad_number!r} is not a CAD number", where=where)
        where = f"{where} ({cad_number})"
        unknown = sorted(set(raw) - ENTRY_FIELDS)
        if unknown:
            raise CadRecordError(unknown[0], "unknown field (check the spelling)", where=where)
        sent_at = started_at + timedelta(seconds=offset)
        try:
            previous = current.get(cad_number)
            if previous is None:
                for field in NEW_RECORD_FIELDS:
                    if field not in raw:
                        raise CadRecordError(field, "is missing (a new incident needs it)")
                status = _status(raw["status"])
                record = CadRecord(
                    cad_number=cad_number,
                    incident_type=raw["incident_type"],
                    priority=raw["priority"],
                    latitude=raw["latitude"],
                    longitude=raw["longitude"],
                    address=raw["address"],
                    received_at=sent_at,
                    status=status,
                    emergency=raw["emergency"],
                    closed_at=sent_at if status is IncidentStatus.CLOSED else None,
                )
            else:
                changes = {key: raw[key] for key in UPDATABLE_FIELDS if key in raw}
                if "status" in changes:
                    changes["status"] = _status(changes["status"])
                status = changes.get("status", previous.status)
                if status is IncidentStatus.CLOSED:
                    closed_at = previous.closed_at or sent_at
                else:
                    closed_at = None
                record = replace(previous, **changes, closed_at=closed_at)
        except CadRecordError as exc:
            raise CadRecordError(exc.field, exc.problem, where=where) from None
        current[cad_number] = record
        entries.append(_ScriptEntry(offset, record))
    return entries


class ScriptedCadFeed:
    """Plays a CAD script against the clock: ``due(now)`` returns what has arrived since last time.

    The first call returns every entry whose offset is at or before ``now`` (including the calls
    received before the shift started, which have negative offsets); later calls return the
    entries that came due since the previous call, in order. Time going backwards returns nothing.
    """

    def __init__(self, script_path: Path, started_at: datetime) -> None:
        if started_at.tzinfo is None:
            raise ValueError("started_at must be timezone-aware")
        try:
            document = json.loads(script_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CadRecordError(
                "(file)", f"{script_path} cannot be read as a CAD script ({exc})"
            ) from exc
        raw_entries = document.get("records") if isinstance(document, dict) else None
        if not isinstance(raw_entries, list):
            raise CadRecordError("records", f"{script_path} has no list of records")
        self.started_at = started_at
        self._entries = _load_entries(raw_entries, started_at, script_path.name)
        self._offsets = [entry.offset_s for entry in self._entries]
        self._next = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def remaining(self) -> int:
        return len(self._entries) - self._next

    def due(self, now: datetime) -> list[CadRecord]:
        elapsed = (now - self.started_at).total_seconds()
        end = bisect.bisect_right(self._offsets, elapsed)
        if end <= self._next:
            return []
        records = [entry.record for entry in self._entries[self._next : end]]
        self._next = end
        return records


def upsert_incident(
    session: Session, record: CadRecord, *, keep_first_received: bool = False
) -> Incident:
    """Insert the incident, or update it when its CAD number is already known (never a second).

    ``keep_first_received`` keeps an earlier ``received_at`` already stored: a live CAD source
    whose updates carry their own time (an EIDO's last update) must not make a call look newer
    than it is. An import, which may correct the time either way, leaves it False.
    """
    incident = session.scalar(select(Incident).where(Incident.cad_number == record.cad_number))
    received_at = record.received_at
    if incident is None:
        incident = Incident(cad_number=record.cad_number)
        session.add(incident)
    elif keep_first_received and incident.received_at < received_at:
        received_at = incident.received_at
    incident.incident_type = record.incident_type
    incident.priority = record.priority
    incident.latitude = record.latitude
    incident.longitude = record.longitude
    incident.address = record.address
    incident.received_at = received_at
    incident.status = record.status
    incident.emergency = record.emergency
    incident.closed_at = record.closed_at
    session.flush()
    return incident

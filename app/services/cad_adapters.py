"""CAD adapters: where calls for service come from, each behind one small interface.

An adapter's ``poll()`` returns a ``PollResult``: the records it could use (``CadRecord``), the
ones it could not (``RejectedRecord``, each with the reason, kept in the quarantine and shown in
the console's "Rejected records" view, never dropped silently), and the source's state in words
for the operator ("CAD server unreachable since 14:02"). A source that fails as a whole (a
server that hangs, answers 500, sends garbage or too much) yields no records and loses nothing:
nothing is marked as read, so the next poll asks again. ``acknowledge()`` is called once the
records of the last poll are stored; the folder adapter moves its files only then.

Adapters:

- ``HttpJsonCadAdapter``: GETs a URL that answers a JSON list of records or
  ``{"records": [...]}``; connect and read timeouts, a cap on the body, ``If-None-Match`` /
  ``If-Modified-Since`` from the last good answer (a 304 costs nothing).
- ``FolderCadAdapter``: one record per ``*.json`` or ``*.csv`` file (CSV: a header row and one
  data row) dropped into a folder; a file is read once its size and modification time have not
  changed for ``settle_s`` seconds, and names starting with "." are never read (write
  ``.name.json`` and rename it into place: atomic on one file system). Used files move to
  ``processed/``, rejected ones to ``rejected/`` with ``NAME.reason.txt`` beside them.
- ``EidoCadAdapter``: NENA EIDOs over HTTP or from a folder (``EidoFormat`` below).
- ``ScriptedCadAdapter``: the demo city's scripted stream (``ScriptedCadFeed``).

The record schema of the JSON/CSV adapters (``CadJsonFormat``) and the EIDO mapping are
documented in the README, "CAD record formats".

EIDO (NENA-STA-021.1a-2022, "NENA Standard for Emergency Incident Data Object", ANSI approved
2021-10-19). What this mapping follows, read from public copies of:

- NENA's EIDO-JSON repository (github.com/NENA911/EIDO-JSON): ``Schema/openapi.yaml``
  (``EmergencyIncidentDataObjectType``, ``IncidentInformationType``,
  ``LocationInformationType``: ``locationByValue`` is "an external adapter for a PIDF-LO") and
  ``Samples/Sample_EIDO.json`` / ``Samples/Sample call transfer EIDO.json`` (PIDF-LO with
  ``gml:pos`` and with a ``civicAddress``; the sample mixes ``LastUpdateTimeStamp`` and
  ``lastUpdateTimeStamp``, so member names are matched without regard to case);
- the EidoLib class library (github.com/PhrSite/EidoLib, ``ClassLibrary/Eido/*.cs``) for the
  2022 names: ``locationComponent`` (the draft's ``locationInformationComponent`` is read too),
  ``incidentStatusCommonRegistryText`` as a list, and ``incidentCommonPriorityNumber`` "from 0
  to 10, with 10 being the highest priority";
- NENA-STA-024.1a-2023 (EIDO conveyance) via EidoLib's notify sample: an HTTP body may be one
  EIDO, a list of EIDOs, or a notification ``{"event": {"notification": [EIDO, ...]}}``.

Mapping: the incident tracking identifier (``incidentComponent.incidentTrackingIdentifier``,
the top-level one of the draft, or an EIDO ``$id`` of the form
``urn:emergency:uid:incidentid:...``) is the CAD number, without that URN prefix; the type is
``incidentTypeInternalText`` (the agency's own words) or else
``incidentTypeCommonRegistryText``; the priority maps 9-10 to P1, 7-8 P2, 5-6 P3, 3-4 P4, 0-2 P5;
the position is the first ``gml:pos`` (or the centre of a ``gml:posList`` polygon) of the
locations the incident references, the address the first ``civicAddress`` among them
(HNO HNS PRD RD STS POD); ``received_at`` is the earliest ``callStartTimestamp`` or else the
incident's last update; an incident is an emergency at P1 or when its type names one of
``EMERGENCY_TYPE_WORDS``. ``internalIncidentId`` is not used as the CAD number: the standard
does not require it on every update, and a key that comes and goes would split one incident.
"""

from __future__ import annotations

import csv
import hashlib
import http.client
import io
import json
import logging
import os
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

from app.models.incident import IncidentStatus
from app.models.rejected_cad_record import RAW_TEXT_LIMIT
from app.models.stream_url import redact_url
from app.services.cad_feed import PRIORITIES, CadRecord, CadRecordError, ScriptedCadFeed
from app.services.clock import Clock, utc_now

log = logging.getLogger(__name__)

Monotonic = Callable[[], float]

MEBIBYTE = 1024 * 1024
DEFAULT_MAX_BODY_BYTES = 8 * MEBIBYTE
DEFAULT_MAX_FILE_BYTES = 1 * MEBIBYTE
PROCESSED_DIR = "processed"
REJECTED_DIR = "rejected"
REASON_SUFFIX = ".reason.txt"
_READ_CHUNK = 64 * 1024


# ---- what a poll returns --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceState:
    """How the CAD source is doing, in words for the operator."""

    healthy: bool
    text: str


@dataclass(frozen=True, slots=True)
class RejectedRecord:
    """A record the adapter received and could not use, with the reason."""

    source: str  # the adapter's source: a URL (credentials redacted) or a folder
    origin: str  # where in it: a file name, "record 3 of 12"
    reason: str
    raw: bytes  # as received (a huge file: its first RAW_TEXT_LIMIT bytes)
    raw_size: int  # bytes as received, before any cap
    received_at: datetime

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    @property
    def raw_text(self) -> str:
        return self.raw[:RAW_TEXT_LIMIT].decode("utf-8", errors="replace")[:RAW_TEXT_LIMIT]


@dataclass(frozen=True, slots=True)
class PollResult:
    records: tuple[CadRecord, ...]
    rejected: tuple[RejectedRecord, ...]
    source_state: SourceState


class CadAdapter(ABC):
    """A source of CAD records (vorta's keyring back-ends, in spirit: one small interface)."""

    source: str  # named in the rejected view and the state text

    @abstractmethod
    def poll(self) -> PollResult:
        """What arrived since the last poll; never raises for a failing source."""

    def acknowledge(self) -> None:  # noqa: B027
        """The records and rejections of the last poll are stored: finish with them.

        Not abstract: most sources have nothing to finish."""


class CadSourceError(Exception):
    """The source as a whole failed this poll; ``summary`` reads "CAD server error 500"."""

    def __init__(self, summary: str, detail: str = "") -> None:
        super().__init__(f"{summary} ({detail})" if detail else summary)
        self.summary = summary
        self.detail = detail


class _FailureStreak:
    """Remembers since when a source has been failing, for "unreachable since 14:02"."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._since: datetime | None = None

    def failed(self, now: datetime, error: CadSourceError) -> SourceState:
        if self._since is None:
            self._since = now
            log.warning("CAD source %s failing: %s", self._source, error)
        since = self._since.astimezone().strftime("%H:%M")
        detail = f" ({error.detail})" if error.detail else ""
        return SourceState(False, f"{error.summary} since {since}{detail}")

    def recovered(self) -> None:
        if self._since is not None:
            log.info("CAD source %s is back", self._source)
        self._since = None


# ---- the JSON/CSV record schema ----------------------------------------------------------------

REQUIRED_FIELDS = ("cad_number", "incident_type", "priority", "latitude", "longitude")
OPTIONAL_FIELDS = ("received_at", "address", "status", "emergency", "closed_at")
RECORD_FIELDS = frozenset(REQUIRED_FIELDS + OPTIONAL_FIELDS)
_PRIORITY_CODE = re.compile(r"[Pp]?([0-9]+)")
_TRUE_WORDS = frozenset({"true", "yes", "y", "1"})
_FALSE_WORDS = frozenset({"false", "no", "n", "0", ""})


def priority_code(value: object) -> int:
    """A priority as CAD writes it (``1``, ``"1"``, ``"P1"``) as 1..5; anything else is refused."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and (match := _PRIORITY_CODE.fullmatch(value.strip())):
        number = int(match.group(1))
    if number is None or number not in PRIORITIES:
        raise CadRecordError(
            "priority",
            f"unknown priority code {value!r} (expected 1..5 or P1..P5; 1 is the most urgent)",
        )
    return number


def parse_time(value: object, field: str) -> datetime:
    """An ISO 8601 time with its UTC offset, as timezone-aware UTC."""
    if not isinstance(value, str):
        raise CadRecordError(field, f"{value!r} is not an ISO 8601 time")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise CadRecordError(field, f"{value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise CadRecordError(field, f"{value!r} has no UTC offset (end it with Z or +hh:mm)")
    return parsed.astimezone(UTC)


def _text(item: Mapping[str, Any], field: str) -> str:
    value = item[field]
    if not isinstance(value, str):
        raise CadRecordError(field, f"{value!r} is not text")
    return value.strip()


def _status(value: object) -> IncidentStatus:
    if isinstance(value, str) and value.strip().casefold() in set(IncidentStatus):
        return IncidentStatus(value.strip().casefold())
    known = ", ".join(status.value for status in IncidentStatus)
    raise CadRecordError("status", f"{value!r} is not one of {known}")


def _csv_number(value: str, field: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise CadRecordError(field, f"{value!r} is not a number") from None


def _csv_flag(value: str, field: str) -> bool:
    word = value.strip().casefold()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise CadRecordError(field, f"{value!r} is not true or false")


class RecordFormat(ABC):
    """How records are written: what a response holds, and one record from JSON or CSV."""

    name: str

    @abstractmethod
    def items_in_response(self, document: object) -> list[object]:
        """The records of an HTTP response body (parsed JSON)."""

    @abstractmethod
    def record_from_json(self, item: object, received_at: datetime) -> CadRecord:
        """One record; ``received_at`` is when Beacon got it, for records without a time."""

    def record_from_csv(self, row: Mapping[str, str], received_at: datetime) -> CadRecord:
        raise CadRecordError("(file)", f"{self.name} records are JSON, not CSV")


class CadJsonFormat(RecordFormat):
    """Beacon's own CAD record: the fields of ``CadRecord`` (README, "CAD record formats")."""

    name = "CAD JSON"

    def items_in_response(self, document: object) -> list[object]:
        if isinstance(document, list):
            return document
        if isinstance(document, Mapping) and isinstance(document.get("records"), list):
            return list(document["records"])
        raise CadRecordError("(response)", 'is neither a list of records nor {"records": [...]}')

    def record_from_json(self, item: object, received_at: datetime) -> CadRecord:
        if not isinstance(item, Mapping):
            raise CadRecordError("(record)", "is not a JSON object")
        unknown = sorted(str(key) for key in set(item) - RECORD_FIELDS)
        if unknown:
            raise CadRecordError(unknown[0], "unknown field (check the spelling)")
        for field in REQUIRED_FIELDS:
            if item.get(field) is None:
                raise CadRecordError(field, "is missing")
        status = _status(item.get("status") or IncidentStatus.PENDING.value)
        closed_at = item.get("closed_at")
        address = item.get("address")
        return CadRecord(
            cad_number=_text(item, "cad_number"),
            incident_type=_text(item, "incident_type"),
            priority=priority_code(item["priority"]),
            latitude=item["latitude"],
            longitude=item["longitude"],
            address="" if address is None else address,
            received_at=(
                received_at
                if item.get("received_at") is None
                else parse_time(item["received_at"], "received_at")
            ),
            status=status,
            emergency=item.get("emergency", False),
            closed_at=None if closed_at is None else parse_time(closed_at, "closed_at"),
        )

    def record_from_csv(self, row: Mapping[str, str], received_at: datetime) -> CadRecord:
        values: dict[str, object] = {}
        for name, text in row.items():
            if text is None or not text.strip():
                continue  # an empty cell is a missing value
            if name in ("latitude", "longitude"):
                values[name] = _csv_number(text, name)
            elif name == "emergency":
                values[name] = _csv_flag(text, name)
            else:
                values[name] = text.strip()
        return self.record_from_json(values, received_at)


# ---- NENA EIDO ---------------------------------------------------------------------------------

INCIDENT_URN_PREFIX = "urn:emergency:uid:incidentid:"
# Incident types that make a call an emergency whatever its priority (matched in the type text).
EMERGENCY_TYPE_WORDS = (
    "shooting",
    "shots fired",
    "active shooter",
    "officer down",
    "officer needs assistance",
    "stabbing",
    "armed robbery",
    "hostage",
    "explosion",
    "structure fire",
)
# incidentStatusCommonRegistryText words (letters only, case-folded) as Beacon's statuses.
EIDO_STATUS_WORDS = {
    "pending": IncidentStatus.PENDING,
    "new": IncidentStatus.PENDING,
    "open": IncidentStatus.PENDING,
    "received": IncidentStatus.PENDING,
    "queued": IncidentStatus.PENDING,
    "waiting": IncidentStatus.PENDING,
    "active": IncidentStatus.DISPATCHED,
    "assigned": IncidentStatus.DISPATCHED,
    "dispatched": IncidentStatus.DISPATCHED,
    "enroute": IncidentStatus.DISPATCHED,
    "responding": IncidentStatus.DISPATCHED,
    "onscene": IncidentStatus.ON_SCENE,
    "arrived": IncidentStatus.ON_SCENE,
    "atscene": IncidentStatus.ON_SCENE,
    "closed": IncidentStatus.CLOSED,
    "cleared": IncidentStatus.CLOSED,
    "completed": IncidentStatus.CLOSED,
    "complete": IncidentStatus.CLOSED,
    "resolved": IncidentStatus.CLOSED,
    "cancelled": IncidentStatus.CLOSED,
    "canceled": IncidentStatus.CLOSED,
}
# Later in a call's life wins when an EIDO lists several statuses.
_STATUS_PROGRESS = (
    IncidentStatus.PENDING,
    IncidentStatus.DISPATCHED,
    IncidentStatus.ON_SCENE,
    IncidentStatus.CLOSED,
)
EIDO_PRIORITY_RANGE = range(0, 11)  # incidentCommonPriorityNumber: 10 is the most urgent
_CIVIC_STREET_PARTS = (("HNO", "HNS"), ("PRD",), ("RD", "A6"), ("STS",), ("POD",))


def _member(mapping: Mapping[str, Any], name: str) -> Any:
    """A member by name, ignoring case (the samples write LastUpdateTimeStamp both ways)."""
    if name in mapping:
        return mapping[name]
    folded = name.casefold()
    for key, value in mapping.items():
        if isinstance(key, str) and key.casefold() == folded:
            return value
    return None


def _components(eido: Mapping[str, Any], *names: str) -> list[Mapping[str, Any]]:
    """A component list (the 2022 schema) or single object (the draft) as a list of objects."""
    for name in names:
        value = _member(eido, name)
        if isinstance(value, Mapping):
            return [value]
        if isinstance(value, list):
            return [item for item in value if isinstance(item, Mapping)]
    return []


def _references(value: object) -> list[str]:
    """``[{"$ref": id}, ...]``, one ``{"$ref": id}``, or ``"$ref:id"`` strings, as ids."""
    items = value if isinstance(value, list) else [value]
    ids = []
    for item in items:
        if isinstance(item, Mapping) and isinstance(item.get("$ref"), str):
            ids.append(item["$ref"])
        elif isinstance(item, str) and item:
            ids.append(item.removeprefix("$ref:"))
    return ids


def _words(value: object) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [item for item in values if isinstance(item, str) and item.strip()]


def eido_priority(value: object) -> int:
    """``incidentCommonPriorityNumber`` (0..10, 10 most urgent) as Beacon's P1..P5."""
    if value is None:
        raise CadRecordError(
            "incidentCommonPriorityNumber", "is missing (Beacon sorts calls by it: 0..10)"
        )
    if isinstance(value, bool) or not isinstance(value, int) or value not in EIDO_PRIORITY_RANGE:
        raise CadRecordError(
            "incidentCommonPriorityNumber",
            f"unknown priority code {value!r} (expected a whole number 0..10, 10 most urgent)",
        )
    return 5 - max(value - 1, 0) // 2


def eido_status(incident: Mapping[str, Any]) -> IncidentStatus:
    words = _words(_member(incident, "incidentStatusCommonRegistryText"))
    if not words:
        return IncidentStatus.PENDING  # no status yet: a call still being taken
    known = [
        EIDO_STATUS_WORDS[key]
        for word in words
        if (key := re.sub(r"[^a-z]", "", word.casefold())) in EIDO_STATUS_WORDS
    ]
    if not known:
        raise CadRecordError(
            "incidentStatusCommonRegistryText",
            f"{words!r} is no status Beacon knows (known: {', '.join(sorted(EIDO_STATUS_WORDS))})",
        )
    return max(known, key=_STATUS_PROGRESS.index)


@dataclass(frozen=True, slots=True)
class _PidfLocation:
    position: tuple[float, float] | None
    civic_address: str | None


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _numbers(text: str | None, field: str) -> list[float]:
    try:
        return [float(part) for part in (text or "").split()]
    except ValueError:
        raise CadRecordError(field, f"{text!r} is not a list of coordinates") from None


def parse_pidf_lo(document: str) -> _PidfLocation:
    """The first geodetic position (gml:pos, or a gml:posList polygon's centre) and the first
    civic address of a PIDF-LO document (RFC 4119, RFC 5491, RFC 5139)."""
    field = "locationByValue"
    if re.search(r"<!(DOCTYPE|ENTITY)", document, re.IGNORECASE):
        raise CadRecordError(field, "carries a DTD; Beacon does not read DTDs in CAD data")
    try:
        # Safe without defusedxml: DTDs (entity expansion, external entities) are refused above.
        root = ElementTree.fromstring(document.strip())  # noqa: S314
    except ElementTree.ParseError as exc:
        raise CadRecordError(field, f"is not well-formed PIDF-LO XML ({exc})") from None
    position: tuple[float, float] | None = None
    civic: str | None = None
    for element in root.iter():
        name = _local_name(element.tag)
        if position is None and name == "pos":
            numbers = _numbers(element.text, field)
            if len(numbers) < 2:
                raise CadRecordError(
                    field, f"gml:pos {element.text!r} has no latitude and longitude"
                )
            position = (numbers[0], numbers[1])
        elif position is None and name == "posList":
            numbers = _numbers(element.text, field)
            points = list(zip(numbers[0::2], numbers[1::2], strict=False))
            if len(points) > 1 and points[0] == points[-1]:
                points.pop()  # a closed ring repeats its first point
            if points:
                position = (
                    sum(point[0] for point in points) / len(points),
                    sum(point[1] for point in points) / len(points),
                )
        elif civic is None and name == "civicAddress":
            civic = _civic_street(element)
    return _PidfLocation(position, civic)


def _civic_street(element: ElementTree.Element) -> str | None:
    parts = {_local_name(child.tag): (child.text or "").strip() for child in element}
    words = []
    for alternatives in _CIVIC_STREET_PARTS:
        if alternatives == ("HNO", "HNS"):
            words.append(parts.get("HNO", "") + parts.get("HNS", ""))
        else:
            words.append(next((parts[name] for name in alternatives if parts.get(name)), ""))
    street = " ".join(word for word in words if word)
    return street or None


def _eido_location(
    eido: Mapping[str, Any], incident: Mapping[str, Any]
) -> tuple[float, float, str]:
    locations = _components(eido, "locationComponent", "locationInformationComponent")
    by_id = {str(_member(location, "$id")): location for location in locations}
    referenced = [
        by_id[ref] for ref in _references(_member(incident, "locationReference")) if ref in by_id
    ]
    candidates = referenced or locations
    position: tuple[float, float] | None = None
    address: str | None = None
    for location in candidates:
        by_value = _member(location, "locationByValue")
        if isinstance(by_value, str) and by_value.strip():
            parsed = parse_pidf_lo(by_value)
            position = position or parsed.position
            address = address or parsed.civic_address
        description = _member(location, "locationDescriptionText")
        if address is None and isinstance(description, str) and description.strip():
            address = description.strip()
    if position is None:
        raise CadRecordError(
            "locationByValue",
            "is missing: no location of the incident has a geodetic position (gml:pos); "
            "Beacon does not dereference locationByReferenceUrl",
        )
    return position[0], position[1], address or ""


def _tracking_identifier(eido: Mapping[str, Any], incident: Mapping[str, Any]) -> str:
    for value in (
        _member(incident, "incidentTrackingIdentifier"),
        _member(eido, "incidentTrackingIdentifier"),
    ):
        if isinstance(value, str) and value.strip():
            return value.strip()
    eido_id = _member(eido, "$id")
    if isinstance(eido_id, str) and eido_id.startswith(INCIDENT_URN_PREFIX):
        return eido_id
    raise CadRecordError("incidentTrackingIdentifier", "is missing")


def _timestamp(component: Mapping[str, Any]) -> datetime | None:
    value = _member(component, "lastUpdateTimeStamp")
    return None if value is None else parse_time(value, "lastUpdateTimeStamp")


class EidoFormat(RecordFormat):
    """NENA EIDO JSON (NENA-STA-021.1a-2022) mapped to ``CadRecord`` (module docstring)."""

    name = "EIDO"

    def __init__(self, emergency_type_words: Iterable[str] = EMERGENCY_TYPE_WORDS) -> None:
        self._emergency_words = tuple(word.casefold() for word in emergency_type_words)

    def items_in_response(self, document: object) -> list[object]:
        if isinstance(document, list):
            return document
        if isinstance(document, Mapping):
            event = document.get("event")
            if isinstance(event, Mapping) and isinstance(event.get("notification"), list):
                return list(event["notification"])  # NENA-STA-024 notify
            return [document]
        raise CadRecordError("(response)", "is neither an EIDO, a list of EIDOs nor a notification")

    def record_from_json(self, item: object, received_at: datetime) -> CadRecord:
        if not isinstance(item, Mapping):
            raise CadRecordError("(EIDO)", "is not a JSON object")
        incidents = _components(item, "incidentComponent")
        if not incidents:
            raise CadRecordError("incidentComponent", "is missing (no incident in this EIDO)")
        incident = incidents[0]
        cad_number = _tracking_identifier(item, incident).removeprefix(INCIDENT_URN_PREFIX)
        texts = [
            text.strip()
            for name in ("incidentTypeInternalText", "incidentTypeCommonRegistryText")
            if isinstance(text := _member(incident, name), str) and text.strip()
        ]
        if not texts:
            raise CadRecordError("incidentTypeCommonRegistryText", "is missing")
        priority = eido_priority(_member(incident, "incidentCommonPriorityNumber"))
        status = eido_status(incident)
        latitude, longitude, address = _eido_location(item, incident)
        updated_at = _timestamp(incident) or _timestamp(item) or received_at
        call_starts = [
            parse_time(start, "callStartTimestamp")
            for call in _components(item, "callComponent")
            if (start := _member(call, "callStartTimestamp")) is not None
        ]
        first_received = min(call_starts, default=updated_at)
        type_words = " ".join(texts).casefold()
        return CadRecord(
            cad_number=cad_number,
            incident_type=texts[0],
            priority=priority,
            latitude=latitude,
            longitude=longitude,
            address=address,
            received_at=first_received,
            status=status,
            emergency=priority == 1 or any(word in type_words for word in self._emergency_words),
            closed_at=max(updated_at, first_received) if status is IncidentStatus.CLOSED else None,
        )


CAD_JSON = CadJsonFormat()
EIDO = EidoFormat()


# ---- HTTP ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _HttpBody:
    body: bytes
    etag: str | None
    last_modified: str | None


def _size_text(size: int) -> str:
    if size >= MEBIBYTE:
        return f"{size / MEBIBYTE:.1f} MB"
    return f"{size / 1024:.0f} KB" if size >= 1024 else f"{size} bytes"


def _os_reason(error: OSError) -> str:
    return (error.strerror or type(error).__name__).lower()


class HttpJsonCadAdapter(CadAdapter):
    """Polls a CAD server's JSON endpoint (module docstring)."""

    def __init__(
        self,
        url: str,
        *,
        record_format: RecordFormat = CAD_JSON,
        clock: Clock = utc_now,
        monotonic: Monotonic = time.monotonic,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 10.0,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{redact_url(url)} is not an http:// or https:// URL")
        self.source = redact_url(url)
        self._parts = parts
        self._format = record_format
        self._clock = clock
        self._monotonic = monotonic
        self._connect_timeout_s = connect_timeout_s
        self._read_timeout_s = read_timeout_s
        self._max_body_bytes = max_body_bytes
        self._etag: str | None = None
        self._last_modified: str | None = None
        self._failures = _FailureStreak(self.source)

    def poll(self) -> PollResult:
        now = self._clock()
        try:
            answer = self._get()
            if answer is None:  # 304: nothing changed since the last good answer
                return self._live(now, (), ())
            try:
                document = json.loads(answer.body)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise CadSourceError(
                    "CAD server sent a response that is not JSON", str(exc)
                ) from exc
            try:
                items = self._format.items_in_response(document)
            except CadRecordError as exc:
                raise CadSourceError("CAD server sent JSON of another shape", str(exc)) from exc
        except CadSourceError as error:
            return PollResult((), (), self._failures.failed(now, error))
        records, rejected = [], []
        for position, item in enumerate(items, start=1):
            try:
                records.append(self._format.record_from_json(item, now))
            except CadRecordError as exc:
                raw = json.dumps(item, ensure_ascii=False).encode()
                origin = f"record {position} of {len(items)}"
                rejected.append(RejectedRecord(self.source, origin, str(exc), raw, len(raw), now))
        # Only a response that was read through may be skipped next time.
        self._etag, self._last_modified = answer.etag, answer.last_modified
        return self._live(now, tuple(records), tuple(rejected))

    def _live(
        self, now: datetime, records: tuple[CadRecord, ...], rejected: tuple[RejectedRecord, ...]
    ) -> PollResult:
        self._failures.recovered()
        checked = now.astimezone().strftime("%H:%M:%S")
        return PollResult(records, rejected, SourceState(True, f"CAD live, checked {checked}"))

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "Beacon-RTCC"}
        if self._etag:
            headers["If-None-Match"] = self._etag
        if self._last_modified:
            headers["If-Modified-Since"] = self._last_modified
        return headers

    def _get(self) -> _HttpBody | None:
        parts = self._parts
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection_type = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        connection = connection_type(
            parts.hostname or "", parts.port, timeout=self._connect_timeout_s
        )
        try:
            try:
                connection.connect()
            except TimeoutError:
                raise CadSourceError(
                    "CAD server unreachable", f"no connection within {self._connect_timeout_s:g} s"
                ) from None
            except OSError as exc:
                raise CadSourceError("CAD server unreachable", _os_reason(exc)) from exc
            deadline = self._monotonic() + self._read_timeout_s
            try:
                return self._exchange(connection, target, deadline)
            except TimeoutError:
                raise CadSourceError(
                    f"CAD server did not answer within {self._read_timeout_s:g} s"
                ) from None
            except http.client.HTTPException as exc:
                raise CadSourceError(
                    "CAD server sent a response that is not HTTP", type(exc).__name__
                ) from exc
            except OSError as exc:
                raise CadSourceError("CAD server connection lost", _os_reason(exc)) from exc
        finally:
            connection.close()

    def _exchange(
        self, connection: http.client.HTTPConnection, target: str, deadline: float
    ) -> _HttpBody | None:
        self._set_timeout(connection, deadline)
        connection.request("GET", target, headers=self._headers())
        response = connection.getresponse()
        if response.status == 304:
            return None
        if response.status != 200:
            raise CadSourceError(f"CAD server error {response.status}", response.reason)
        length = response.getheader("Content-Length", "")
        if length.isdigit() and int(length) > self._max_body_bytes:
            raise self._too_big(int(length))
        chunks, total = [], 0
        while True:
            self._set_timeout(connection, deadline)
            chunk = response.read(_READ_CHUNK)
            if not chunk:
                break
            total += len(chunk)
            if total > self._max_body_bytes:
                raise self._too_big(None)
            chunks.append(chunk)
        return _HttpBody(
            b"".join(chunks), response.getheader("ETag"), response.getheader("Last-Modified")
        )

    def _set_timeout(self, connection: http.client.HTTPConnection, deadline: float) -> None:
        """The read timeout bounds the whole answer, not each packet (a trickle is a hang)."""
        remaining = deadline - self._monotonic()
        if remaining <= 0:
            raise TimeoutError
        if connection.sock is not None:
            connection.sock.settimeout(remaining)

    def _too_big(self, size: int | None) -> CadSourceError:
        limit = _size_text(self._max_body_bytes)
        sent = f"sent {_size_text(size)}" if size is not None else "sent more"
        return CadSourceError(
            f"CAD server {sent} than the {limit} limit",
            "nothing imported; raise cad.max_body_mb or have the server send less per answer",
        )


# ---- a watched folder ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Watched:
    signature: tuple[int, int]  # size, mtime_ns
    unchanged_since: float  # monotonic seconds


@dataclass(frozen=True, slots=True)
class _FileOutcome:
    path: Path
    signature: tuple[int, int]
    reason: str | None  # None: used


class FolderCadAdapter(CadAdapter):
    """Reads one record per file dropped into a folder (module docstring)."""

    def __init__(
        self,
        folder: Path,
        *,
        record_format: RecordFormat = CAD_JSON,
        clock: Clock = utc_now,
        monotonic: Monotonic = time.monotonic,
        settle_s: float = 2.0,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    ) -> None:
        self.folder = folder
        self.source = str(folder)
        self._format = record_format
        self._clock = clock
        self._monotonic = monotonic
        self._settle_s = settle_s
        self._max_file_bytes = max_file_bytes
        self._watched: dict[str, _Watched] = {}
        self._outcomes: list[_FileOutcome] = []
        # Files whose move failed: not read again while they stay as they are.
        self._stuck: set[tuple[str, tuple[int, int]]] = set()
        self._move_problem: str | None = None
        self._failures = _FailureStreak(self.source)

    def poll(self) -> PollResult:
        now, tick = self._clock(), self._monotonic()
        self._outcomes = []
        try:
            with os.scandir(self.folder) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError as exc:
            error = CadSourceError(f"CAD folder {self.folder} unreadable", _os_reason(exc))
            return PollResult((), (), self._failures.failed(now, error))
        self._failures.recovered()
        records: list[CadRecord] = []
        rejected: list[RejectedRecord] = []
        watched: dict[str, _Watched] = {}
        settling = 0
        for entry in entries:
            name = entry.name
            if name.startswith(".") or Path(name).suffix.lower() not in (".json", ".csv"):
                continue  # hidden: still being written under a temporary name
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
                stat = entry.stat(follow_symlinks=False)
            except OSError:
                continue  # gone since the scan
            signature = (stat.st_size, stat.st_mtime_ns)
            if (name, signature) in self._stuck:
                continue
            previous = self._watched.get(name)
            if previous is None or previous.signature != signature:
                watched[name] = _Watched(signature, tick)
                settling += 1
                continue
            watched[name] = previous
            if tick - previous.unchanged_since < self._settle_s:
                settling += 1
                continue
            outcome = self._read(Path(entry.path), stat.st_size, now)
            if outcome is None:
                continue
            if isinstance(outcome, CadRecord):
                records.append(outcome)
                self._outcomes.append(_FileOutcome(Path(entry.path), signature, None))
            else:
                rejected.append(outcome)
                self._outcomes.append(_FileOutcome(Path(entry.path), signature, outcome.reason))
        self._watched = watched
        return PollResult(tuple(records), tuple(rejected), self._state(now, settling))

    def _state(self, now: datetime, settling: int) -> SourceState:
        if self._move_problem is not None:
            return SourceState(False, self._move_problem)
        checked = now.astimezone().strftime("%H:%M:%S")
        text = f"CAD folder live, checked {checked}"
        if settling:
            text += f" · {settling} file{'s' if settling != 1 else ''} still being written"
        return SourceState(True, text)

    def _read(self, path: Path, size: int, now: datetime) -> CadRecord | RejectedRecord | None:
        def reject(reason: str, raw: bytes) -> RejectedRecord:
            return RejectedRecord(self.source, path.name, reason, raw, size, now)

        try:
            if size > self._max_file_bytes:
                with path.open("rb") as handle:
                    head = handle.read(RAW_TEXT_LIMIT)
                return reject(
                    f"file is {_size_text(size)}, more than the "
                    f"{_size_text(self._max_file_bytes)} one record may take",
                    head,
                )
            raw = path.read_bytes()
        except OSError as exc:
            log.warning("cannot read CAD file %s: %s", path, exc)
            return None  # perhaps still locked by its writer: tried again next poll
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return reject(f"file is not UTF-8 text (byte {exc.start})", raw)
        try:
            return self._record(path, text, now)
        except CadRecordError as exc:
            return reject(str(exc), raw)

    def _record(self, path: Path, text: str, now: datetime) -> CadRecord:
        if path.suffix.lower() == ".json":
            try:
                document = json.loads(text)
            except json.JSONDecodeError as exc:
                raise CadRecordError("(file)", f"is not valid JSON ({exc})") from None
            return self._format.record_from_json(document, now)
        return self._format.record_from_csv(_one_csv_row(text), now)

    def acknowledge(self) -> None:
        outcomes, self._outcomes = self._outcomes, []
        problems = []
        for outcome in outcomes:
            folder = self.folder / (PROCESSED_DIR if outcome.reason is None else REJECTED_DIR)
            try:
                folder.mkdir(exist_ok=True)
                target = _free_name(folder, outcome.path.name)
                if outcome.reason is not None:
                    reason_file = target.with_name(target.name + REASON_SUFFIX)
                    reason_file.write_text(outcome.reason + "\n", encoding="utf-8")
                os.replace(outcome.path, target)
            except OSError as exc:
                log.error("cannot move CAD file %s to %s: %s", outcome.path, folder, exc)
                self._stuck.add((outcome.path.name, outcome.signature))
                problems.append(f"{outcome.path.name} ({_os_reason(exc)})")
        self._move_problem = (
            f"CAD folder: cannot move {', '.join(problems)} out of {self.folder}; "
            "fix the folder's permissions"
            if problems
            else None
        )


def _one_csv_row(text: str) -> dict[str, str]:
    try:
        rows = list(csv.DictReader(io.StringIO(text), restkey="\0extra"))
    except csv.Error as exc:
        raise CadRecordError("(file)", f"is not valid CSV ({exc})") from None
    if len(rows) != 1:
        raise CadRecordError(
            "(file)", f"holds {len(rows)} data rows; a CSV record file holds a header and one row"
        )
    row = rows[0]
    if "\0extra" in row:
        raise CadRecordError("(file)", "has a data row with more values than the header has names")
    return {name.strip(): value for name, value in row.items() if name is not None}


def _free_name(folder: Path, name: str) -> Path:
    """``folder/name``, or ``folder/stem-2.suffix`` (and on) when a file of that name is there."""
    target = folder / name
    number = 2
    while target.exists():
        target = folder / f"{Path(name).stem}-{number}{Path(name).suffix}"
        number += 1
    return target


# ---- EIDO, the demo script ---------------------------------------------------------------------


class EidoCadAdapter(CadAdapter):
    """NENA EIDOs from a standards-based CAD: GET from ``url``, or one file each in ``folder``.

    The options are those of ``HttpJsonCadAdapter`` and ``FolderCadAdapter``;
    ``emergency_type_words`` are the incident types that make a call an emergency.
    """

    def __init__(
        self,
        *,
        url: str | None = None,
        folder: Path | None = None,
        clock: Clock = utc_now,
        monotonic: Monotonic = time.monotonic,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 10.0,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        settle_s: float = 2.0,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        emergency_type_words: Iterable[str] = EMERGENCY_TYPE_WORDS,
    ) -> None:
        record_format = EidoFormat(emergency_type_words)
        self._transport: HttpJsonCadAdapter | FolderCadAdapter
        if url is not None and folder is None:
            self._transport = HttpJsonCadAdapter(
                url,
                record_format=record_format,
                clock=clock,
                monotonic=monotonic,
                connect_timeout_s=connect_timeout_s,
                read_timeout_s=read_timeout_s,
                max_body_bytes=max_body_bytes,
            )
        elif folder is not None and url is None:
            self._transport = FolderCadAdapter(
                folder,
                record_format=record_format,
                clock=clock,
                monotonic=monotonic,
                settle_s=settle_s,
                max_file_bytes=max_file_bytes,
            )
        else:
            raise ValueError("an EIDO source is either a url or a folder")
        self.source = self._transport.source

    def poll(self) -> PollResult:
        return self._transport.poll()

    def acknowledge(self) -> None:
        self._transport.acknowledge()


class ScriptedCadAdapter(CadAdapter):
    """The demo city's scripted CAD stream; the script is read in the first poll (a job)."""

    source = "demo script"

    def __init__(self, script: Path, started_at: datetime, clock: Clock = utc_now) -> None:
        self._script = script
        self._started_at = started_at
        self._clock = clock
        self._feed: ScriptedCadFeed | None = None

    def poll(self) -> PollResult:
        if self._feed is None:
            # A bad script raises CadRecordError naming the entry: the job reports it.
            self._feed = ScriptedCadFeed(self._script, self._started_at)
        records = tuple(self._feed.due(self._clock()))
        state = SourceState(True, f"CAD: demo script, {self._feed.remaining} updates to come")
        return PollResult(records, (), state)

"""Registry import and export: owners, cameras, sharing policies (and incidents) as JSON or CSV.

The file format is documented in ``docs/registry-format.md``. An import checks every row before
it writes anything and reports each problem with its row and field; it writes in one
transaction, and importing the same file twice changes nothing (a policy equal to the camera's
current one adds no version, a changed one adds the next version). An export writes the same
format back, so export then import into an empty data directory gives the same registry.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models.camera import Camera, CameraTier
from app.models.incident import Incident, IncidentStatus
from app.models.owner import Owner
from app.models.registry_records import (
    CAMERA_FIELDS,
    OWNER_FIELDS,
    CameraRecord,
    OwnerRecord,
    PolicyRecord,
    RegistryRecord,
    describe_error,
    format_windows,
    lowercase_choice,
    parse_window_text,  # noqa: F401 (moved there; still importable from here)
    policy_document,
    record_document,
    time_text,
    window_specs,  # noqa: F401 (moved there; still importable from here)
)
from app.models.sharing_policy import SharingPolicy
from app.services.cad_feed import CadRecord, CadRecordError, upsert_incident
from app.services.clock import Clock

FORMAT_VERSION = 1
Format = Literal["json", "csv"]
SECTIONS = ("owners", "cameras", "policies", "incidents")


class RegistryFileError(Exception):
    """The file cannot be read as a registry file at all; the message says why."""


# --- records: one validated row part each --------------------------------------------------


class IncidentRecord(RegistryRecord):
    cad_number: str
    incident_type: str
    priority: int
    latitude: float
    longitude: float
    address: str = ""
    received_at: AwareDatetime
    status: IncidentStatus
    emergency: bool = False
    closed_at: AwareDatetime | None = None

    _status = field_validator("status", mode="before")(lowercase_choice)

    def cad_record(self) -> CadRecord:
        return CadRecord(
            cad_number=self.cad_number,
            incident_type=self.incident_type,
            priority=self.priority,
            latitude=self.latitude,
            longitude=self.longitude,
            address=self.address,
            received_at=self.received_at.astimezone(UTC),
            status=self.status,
            emergency=self.emergency,
            closed_at=self.closed_at.astimezone(UTC) if self.closed_at else None,
        )


Part = Literal["owner", "camera", "policy", "incident"]
MODELS: dict[Part, type[RegistryRecord]] = {
    "owner": OwnerRecord,
    "camera": CameraRecord,
    "policy": PolicyRecord,
    "incident": IncidentRecord,
}


# --- reading files into rows ---------------------------------------------------------------


def _same_name(_part: Part, name: str) -> str:
    return name


@dataclass
class SourceRow:
    """One row of the file: its label for messages and the raw parts it holds.

    ``column`` says what the file calls a record's field; ``repeats_owner`` is true for CSV rows,
    which repeat their owner's columns on every camera of that owner.
    """

    label: str
    parts: dict[Part, dict[str, Any]]
    column: Callable[[Part, str], str] = _same_name
    repeats_owner: bool = False


@dataclass(frozen=True, slots=True)
class RowError:
    label: str
    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.label}, field {self.field}: {self.problem}"


@dataclass
class RegistryDocument:
    format: Format
    rows: list[SourceRow]
    errors: list[RowError] = field(default_factory=list)  # errors of the file as a whole


CSV_OWNER_COLUMNS = {
    "owner_id": "id",
    "owner_name": "name",
    "owner_kind": "kind",
    "owner_contact_name": "contact_name",
    "owner_email": "email",
    "owner_phone": "phone",
    "owner_time_zone": "time_zone",
}
CSV_CAMERA_COLUMNS = {
    "camera_id": "id",
    "camera_name": "name",
    "tier": "tier",
    "latitude": "latitude",
    "longitude": "longitude",
    "heading_deg": "heading_deg",
    "fov_deg": "fov_deg",
    "range_m": "range_m",
    "address": "address",
    "main_stream_url": "main_stream_url",
    "sub_stream_url": "sub_stream_url",
    "privacy_masks": "privacy_masks",
    "install_state": "install_state",
    "verified_at": "verified_at",
}
CSV_POLICY_COLUMNS = {
    "policy_mode": "mode",
    "policy_time_zone": "time_zone",
    "policy_windows": "windows",
    "policy_version": "version",
    "policy_changed_at": "changed_at",
    "policy_note": "note",
}
CSV_COLUMNS = (*CSV_OWNER_COLUMNS, *CSV_CAMERA_COLUMNS, *CSV_POLICY_COLUMNS)
CSV_REQUIRED = (
    "owner_id",
    "owner_name",
    "owner_kind",
    "owner_time_zone",
    "camera_id",
    "camera_name",
    "tier",
    "latitude",
    "longitude",
)
_CSV_NAMES: dict[tuple[Part, str], str] = {
    **{("owner", model): column for column, model in CSV_OWNER_COLUMNS.items()},
    **{("camera", model): column for column, model in CSV_CAMERA_COLUMNS.items()},
    ("camera", "owner_id"): "owner_id",
    **{("policy", model): column for column, model in CSV_POLICY_COLUMNS.items()},
    ("policy", "camera_id"): "camera_id",
}


def _csv_column(part: Part, name: str) -> str:
    return _CSV_NAMES.get((part, name), name)


def sniff_format(path: Path, text: str) -> Format:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix == ".csv":
        return "csv"
    return "json" if text.lstrip()[:1] in ("{", "[") else "csv"


def read_registry_file(path: Path) -> RegistryDocument:
    """Read a registry file (JSON or CSV, by extension or content) into rows, unchecked."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RegistryFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryFileError(f"{path} cannot be read as UTF-8 text ({exc})") from exc
    if not text.strip():
        raise RegistryFileError(f"{path} is empty")
    if sniff_format(path, text) == "json":
        return _read_json(path, text)
    return _read_csv(path, text)


def _read_json(path: Path, text: str) -> RegistryDocument:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RegistryFileError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise RegistryFileError(f"{path}: expected a JSON object with {', '.join(SECTIONS)}")
    unknown = sorted(set(document) - {*SECTIONS, "format_version"})
    if unknown:
        raise RegistryFileError(
            f"{path}: unknown section {unknown[0]!r} (expected {', '.join(SECTIONS)})"
        )
    if document.get("format_version", FORMAT_VERSION) != FORMAT_VERSION:
        raise RegistryFileError(
            f"{path} is registry format version {document['format_version']!r}; this Beacon "
            f"reads version {FORMAT_VERSION}"
        )
    rows: list[SourceRow] = []
    errors: list[RowError] = []
    parts: dict[str, Part] = {
        "owners": "owner",
        "cameras": "camera",
        "policies": "policy",
        "incidents": "incident",
    }
    for section, part in parts.items():
        items = document.get(section, [])
        if not isinstance(items, list):
            raise RegistryFileError(f"{path}: {section} must be a list")
        for number, item in enumerate(items, start=1):
            label = f"{section} row {number}"
            if not isinstance(item, dict):
                errors.append(RowError(label, "(row)", "is not a JSON object"))
                continue
            rows.append(SourceRow(label, {part: item}))
    return RegistryDocument("json", rows, errors)


def _read_csv(path: Path, text: str) -> RegistryDocument:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = reader.fieldnames
    except csv.Error as exc:
        raise RegistryFileError(f"{path} is not valid CSV: {exc}") from exc
    if not header:
        raise RegistryFileError(f"{path}: no header row")
    header = [name.strip() for name in header]
    reader.fieldnames = header
    document = RegistryDocument("csv", [])
    for name in header:
        if name not in CSV_COLUMNS:
            document.errors.append(
                RowError("row 1", name or "(blank)", "unknown column (check the spelling)")
            )
    for name in CSV_REQUIRED:
        if name not in header:
            document.errors.append(RowError("row 1", name, "required column is missing"))
    if document.errors:
        return document
    try:
        for raw in reader:
            label = f"row {reader.line_num}"
            if None in raw:
                document.errors.append(RowError(label, "(row)", "more cells than columns"))
                continue
            cells = {key: (value or "").strip() for key, value in raw.items()}
            if not any(cells.values()):
                continue  # a blank line
            document.rows.append(SourceRow(label, _csv_parts(cells), _csv_column, True))
    except csv.Error as exc:
        raise RegistryFileError(f"{path} is not valid CSV (line {reader.line_num}): {exc}") from exc
    return document


def _csv_parts(cells: dict[str, str]) -> dict[Part, dict[str, Any]]:
    def pick(columns: Mapping[str, str]) -> dict[str, Any]:
        return {model: cells[column] for column, model in columns.items() if cells.get(column)}

    parts: dict[Part, dict[str, Any]] = {
        "owner": pick(CSV_OWNER_COLUMNS),
        "camera": {**pick(CSV_CAMERA_COLUMNS), "owner_id": cells.get("owner_id", "")},
    }
    policy = pick(CSV_POLICY_COLUMNS)
    if policy:
        policy["camera_id"] = cells.get("camera_id", "")
        if "time_zone" not in policy and cells.get("owner_time_zone"):
            policy["time_zone"] = cells["owner_time_zone"]  # the owner's zone by default
        parts["policy"] = policy
    return parts


# --- checking rows -------------------------------------------------------------------------


@dataclass
class CheckedRow:
    label: str
    owner: OwnerRecord | None = None
    camera: CameraRecord | None = None
    policy: PolicyRecord | None = None
    incident: IncidentRecord | None = None


@dataclass
class CheckedDocument:
    valid: list[CheckedRow]
    errors: list[RowError]
    invalid_rows: int

    @property
    def rows(self) -> int:
        return len(self.valid) + self.invalid_rows


def _validate_part(row: SourceRow, part: Part, raw: dict[str, Any]) -> tuple[Any, list[RowError]]:
    try:
        return MODELS[part].model_validate(raw), []
    except ValidationError as exc:
        errors = []
        for item in exc.errors():
            name = str(item["loc"][0]) if item["loc"] else "(row)"
            errors.append(RowError(row.label, row.column(part, name), describe_error(item)))
        return None, errors


def check_document(session: Session, document: RegistryDocument) -> CheckedDocument:
    """Check every row on its own and against the others and the registry; write nothing."""
    errors = list(document.errors)
    invalid = len(document.errors)
    checked: list[tuple[SourceRow, CheckedRow]] = []
    rejected_owners: set[str] = set()
    for row in document.rows:
        result = CheckedRow(row.label)
        row_errors: list[RowError] = []
        for part, raw in row.parts.items():
            record, part_errors = _validate_part(row, part, raw)
            row_errors += part_errors
            if record is not None:
                setattr(result, part, record)
                for name, problem in getattr(record, "problems", list)():
                    row_errors.append(RowError(row.label, row.column(part, name), problem))
        if result.incident is not None:
            try:
                result.incident.cad_record()
            except CadRecordError as exc:
                row_errors.append(RowError(row.label, exc.field, exc.problem))
        if row_errors:
            errors += row_errors
            invalid += 1
            owner_id = row.parts.get("owner", {}).get("id")
            if isinstance(owner_id, str):
                rejected_owners.add(owner_id.strip())
        else:
            checked.append((row, result))

    # Across rows, in dependency order; a row that fails here takes out the rows that need it.
    owners_in_file: dict[str, tuple[str, OwnerRecord]] = {}
    cameras_in_file: dict[str, tuple[str, CameraRecord]] = {}
    policy_rows: dict[str, str] = {}
    incident_rows: dict[str, str] = {}
    known_owners = set(session.scalars(select(Owner.id)))
    known_tiers = {
        camera_id: tier for camera_id, tier in session.execute(select(Camera.id, Camera.tier))
    }
    valid: list[CheckedRow] = []
    for row, result in checked:
        problems = []
        if result.owner is not None:
            owner = result.owner
            seen = owners_in_file.get(owner.id)
            if seen is not None and not row.repeats_owner:
                problems.append(("id", f"owner {owner.id} appears again (first in {seen[0]})"))
            elif seen is not None and seen[1] != owner:
                first_label, first = seen
                changed = next(
                    key
                    for key in OwnerRecord.model_fields
                    if getattr(first, key) != getattr(owner, key)
                )
                problems.append(
                    (
                        row.column("owner", changed),
                        f"owner {owner.id} is {getattr(first, changed)!r} in {first_label} "
                        f"but {getattr(owner, changed)!r} here",
                    )
                )
        if result.camera is not None:
            camera = result.camera
            if camera.id in cameras_in_file:
                first_label = cameras_in_file[camera.id][0]
                problems.append(
                    (
                        row.column("camera", "id"),
                        f"camera {camera.id} appears again (first in {first_label})",
                    )
                )
            owner_known = (
                camera.owner_id in known_owners
                or camera.owner_id in owners_in_file
                or (result.owner is not None and result.owner.id == camera.owner_id)
            )
            if not owner_known:
                why = (
                    "was not imported (its row is invalid)"
                    if camera.owner_id in rejected_owners
                    else "is neither in this file nor in the registry"
                )
                problems.append(
                    (row.column("camera", "owner_id"), f"owner {camera.owner_id} {why}")
                )
        if result.policy is not None:
            policy = result.policy
            if result.camera is not None and not problems:
                tier: CameraTier | None = result.camera.tier
            elif policy.camera_id in cameras_in_file:
                tier = cameras_in_file[policy.camera_id][1].tier
            else:
                tier = known_tiers.get(policy.camera_id)
            if tier is None:
                problems.append(
                    (
                        row.column("policy", "camera_id"),
                        f"camera {policy.camera_id} is neither in "
                        "this file nor in the registry (or its row is invalid)",
                    )
                )
            elif tier is CameraTier.REGISTERED:
                problems.append(
                    (
                        row.column("policy", "mode"),
                        f"camera {policy.camera_id} is a registered "
                        "camera: those have no sharing policy (tier integrated?)",
                    )
                )
            elif policy.camera_id in policy_rows:
                problems.append(
                    (
                        row.column("policy", "camera_id"),
                        f"a second policy for camera "
                        f"{policy.camera_id} (first in {policy_rows[policy.camera_id]})",
                    )
                )
        if result.incident is not None:
            number = result.incident.cad_number
            if number in incident_rows:
                problems.append(
                    (
                        "cad_number",
                        f"incident {number} appears again (first in {incident_rows[number]})",
                    )
                )
        if problems:
            errors += [RowError(row.label, name, problem) for name, problem in problems]
            invalid += 1
            if result.owner is not None and result.owner.id not in owners_in_file:
                rejected_owners.add(result.owner.id)
            continue
        if result.owner is not None:
            owners_in_file.setdefault(result.owner.id, (row.label, result.owner))
        if result.camera is not None:
            cameras_in_file[result.camera.id] = (row.label, result.camera)
        if result.policy is not None:
            policy_rows[result.policy.camera_id] = row.label
        if result.incident is not None:
            incident_rows[result.incident.cad_number] = row.label
        valid.append(result)
    return CheckedDocument(valid, errors, invalid)


# --- writing -------------------------------------------------------------------------------


@dataclass
class ImportCounts:
    owners_created: int = 0
    owners_updated: int = 0
    cameras_created: int = 0
    cameras_updated: int = 0
    policy_versions_added: int = 0
    incidents_created: int = 0
    incidents_updated: int = 0
    unchanged: int = 0

    @property
    def changed(self) -> int:
        return (
            self.owners_created
            + self.owners_updated
            + self.cameras_created
            + self.cameras_updated
            + self.policy_versions_added
            + self.incidents_created
            + self.incidents_updated
        )

    def as_details(self) -> dict[str, int]:
        return {
            "owners_created": self.owners_created,
            "owners_updated": self.owners_updated,
            "cameras_created": self.cameras_created,
            "cameras_updated": self.cameras_updated,
            "policy_versions_added": self.policy_versions_added,
            "incidents_created": self.incidents_created,
            "incidents_updated": self.incidents_updated,
            "unchanged": self.unchanged,
        }

    def describe(self) -> str:
        return (
            f"owners {self.owners_created} new, {self.owners_updated} updated; "
            f"cameras {self.cameras_created} new, {self.cameras_updated} updated; "
            f"{self.policy_versions_added} policy versions added; "
            f"incidents {self.incidents_created} new, {self.incidents_updated} updated; "
            f"{self.unchanged} records unchanged"
        )


def _assign(entity: Any, record: BaseModel, names: Iterable[str]) -> bool:
    """Copy the fields that differ; True when any did."""
    changed = False
    for name in names:
        value = getattr(record, name)
        if isinstance(value, datetime):
            value = value.astimezone(UTC)
        if getattr(entity, name) != value:
            setattr(entity, name, value)
            changed = True
    return changed


def apply_import(session: Session, rows: list[CheckedRow], clock: Clock) -> ImportCounts:
    """Write checked rows into the registry (in the caller's transaction)."""
    counts = ImportCounts()
    now = clock()
    done_owners: set[str] = set()
    for row in rows:
        if row.owner is None or row.owner.id in done_owners:
            continue
        done_owners.add(row.owner.id)
        owner = session.get(Owner, row.owner.id)
        if owner is None:
            session.add(Owner(id=row.owner.id, **{n: getattr(row.owner, n) for n in OWNER_FIELDS}))
            counts.owners_created += 1
        elif _assign(owner, row.owner, OWNER_FIELDS):
            counts.owners_updated += 1
        else:
            counts.unchanged += 1
    session.flush()
    for row in rows:
        if row.camera is None:
            continue
        camera = session.get(Camera, row.camera.id)
        if camera is None:
            camera = Camera(id=row.camera.id)
            _assign(camera, row.camera, CAMERA_FIELDS)
            session.add(camera)
            counts.cameras_created += 1
        elif _assign(camera, row.camera, CAMERA_FIELDS):
            counts.cameras_updated += 1
        else:
            counts.unchanged += 1
    session.flush()
    for row in rows:
        if row.policy is None:
            continue
        record = row.policy
        camera = session.get(Camera, record.camera_id, options=[selectinload(Camera.policies)])
        assert camera is not None  # checked before
        current = camera.current_policy
        if current is not None and record.same_terms(current):
            counts.unchanged += 1
            continue
        if current is None:
            version, changed_at = record.version or 1, record.changed_at or now
        else:
            version, changed_at = current.version + 1, now
        policy = SharingPolicy(
            version=version,
            mode=record.mode,
            time_zone=record.time_zone,
            window_specs=record.windows,
            changed_at=changed_at.astimezone(UTC),
            note=record.note,
        )
        policy.check()
        camera.policies.append(policy)
        counts.policy_versions_added += 1
    session.flush()
    for row in rows:
        if row.incident is None:
            continue
        cad = row.incident.cad_record()
        existing = session.scalar(select(Incident).where(Incident.cad_number == cad.cad_number))
        if existing is not None and _incident_record(existing) == cad:
            counts.unchanged += 1
            continue
        upsert_incident(session, cad)
        if existing is None:
            counts.incidents_created += 1
        else:
            counts.incidents_updated += 1
    return counts


def _incident_record(incident: Incident) -> CadRecord:
    return CadRecord(
        cad_number=incident.cad_number,
        incident_type=incident.incident_type,
        priority=incident.priority,
        latitude=incident.latitude,
        longitude=incident.longitude,
        address=incident.address,
        received_at=incident.received_at,
        status=incident.status,
        emergency=incident.emergency,
        closed_at=incident.closed_at,
    )


# --- export --------------------------------------------------------------------------------


@dataclass
class RegistrySnapshot:
    owners: list[dict[str, Any]]
    cameras: list[dict[str, Any]]
    policies: list[dict[str, Any]]
    incidents: list[dict[str, Any]]

    def counts(self) -> dict[str, int]:
        return {
            "owners": len(self.owners),
            "cameras": len(self.cameras),
            "policies": len(self.policies),
            "incidents": len(self.incidents),
        }


def export_registry(session: Session) -> RegistrySnapshot:
    """The registry in file form: every owner, camera and incident, each camera's current policy."""
    owners = [
        record_document(owner, ("id", *OWNER_FIELDS))
        for owner in session.scalars(select(Owner).order_by(Owner.id))
    ]
    cameras, policies = [], []
    query = select(Camera).options(selectinload(Camera.policies)).order_by(Camera.id)
    for camera in session.scalars(query):
        cameras.append(record_document(camera, ("id", *CAMERA_FIELDS)))
        policy = camera.current_policy
        if policy is not None:
            policies.append(policy_document(policy))
    incidents = [
        {
            "cad_number": incident.cad_number,
            "incident_type": incident.incident_type,
            "priority": incident.priority,
            "latitude": incident.latitude,
            "longitude": incident.longitude,
            "address": incident.address,
            "received_at": time_text(incident.received_at),
            "status": incident.status.value,
            "emergency": incident.emergency,
            "closed_at": time_text(incident.closed_at),
        }
        for incident in session.scalars(
            select(Incident).order_by(Incident.received_at, Incident.cad_number)
        )
    ]
    return RegistrySnapshot(owners, cameras, policies, incidents)


def render_json(snapshot: RegistrySnapshot) -> str:
    document = {
        "format_version": FORMAT_VERSION,
        "owners": snapshot.owners,
        "cameras": snapshot.cameras,
        "policies": snapshot.policies,
        "incidents": snapshot.incidents,
    }
    return json.dumps(document, ensure_ascii=False, indent=1) + "\n"


def render_csv(snapshot: RegistrySnapshot) -> tuple[str, list[str]]:
    """One row per camera; returns the text and what CSV cannot carry (to warn about)."""
    owners = {owner["id"]: owner for owner in snapshot.owners}
    policies = {policy["camera_id"]: policy for policy in snapshot.policies}
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    used_owners = set()
    for camera in snapshot.cameras:
        owner = owners[camera["owner_id"]]
        used_owners.add(owner["id"])
        row: dict[str, Any] = {column: owner[model] for column, model in CSV_OWNER_COLUMNS.items()}
        for column, model in CSV_CAMERA_COLUMNS.items():
            value = camera[model]
            if model == "privacy_masks":
                value = json.dumps(value, separators=(",", ":")) if value else ""
            row[column] = "" if value is None else value
        policy = policies.get(camera["id"])
        if policy is not None:
            for column, model in CSV_POLICY_COLUMNS.items():
                value = policy[model]
                row[column] = format_windows(value) if model == "windows" else value
        writer.writerow(row)
    warnings = []
    left_out = [owner_id for owner_id in owners if owner_id not in used_owners]
    if left_out:
        warnings.append(
            f"{len(left_out)} owners without cameras are not in the CSV (one row per camera): "
            f"{', '.join(left_out[:5])}{'...' if len(left_out) > 5 else ''}; use --format json"
        )
    if snapshot.incidents:
        warnings.append(
            f"{len(snapshot.incidents)} incidents are not in the CSV; use --format json"
        )
    return buffer.getvalue(), warnings

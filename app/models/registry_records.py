"""The registry's records as files and the sync server carry them: owners, cameras, policies.

Pydantic models of one owner, camera or sharing-policy object of ``docs/registry-format.md``,
with every rule a record must meet on its own (``problems()`` adds the checks across its
fields). The workstation's registry import and the sync server validate with the same models,
and ``record_document`` gives the JSON object both write for a record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from app.models.camera import CameraTier, InstallState, PrivacyMask, check_privacy_masks
from app.models.owner import OwnerKind
from app.models.sharing_policy import PolicyError, PolicyMode, WeeklyWindow, parse_windows, zone
from app.models.stream_url import check_stream_url, redact_url

OWNER_FIELDS = ("name", "kind", "contact_name", "email", "phone", "time_zone")
CAMERA_FIELDS = (
    "owner_id",
    "name",
    "tier",
    "latitude",
    "longitude",
    "heading_deg",
    "fov_deg",
    "range_m",
    "address",
    "main_stream_url",
    "sub_stream_url",
    "privacy_masks",
    "install_state",
    "verified_at",
)

MAX_URL_LENGTH = 1000


# --- weekly windows as text ----------------------------------------------------------------

_WINDOW_TEXT = re.compile(r"^([A-Za-z]+)\s+(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})$")


def window_specs(windows: Iterable[WeeklyWindow]) -> list[dict[str, str]]:
    """Windows in their canonical stored form; a whole day is written 00:00-24:00."""
    return [window.as_dict() for window in windows]


def parse_window_text(text: str) -> list[dict[str, str]]:
    """``"mon 22:00-06:00; fri 18:00-23:30"`` as checked, canonical window specs."""
    raw = []
    for piece in text.split(";"):
        part = piece.strip()
        if not part:
            continue
        match = _WINDOW_TEXT.match(part)
        if match is None:
            raise PolicyError(f"window {part!r} is not written like 'mon 22:00-06:00'")
        day, start, end = match.groups()
        raw.append({"day": day, "start": start.zfill(5), "end": end.zfill(5)})
    return window_specs(parse_windows(raw))


def format_windows(specs: list[dict[str, str]]) -> str:
    return "; ".join(f"{spec['day']} {spec['start']}-{spec['end']}" for spec in specs)


def window_key(specs: list[dict[str, str]]) -> list[tuple[int, int, int]]:
    """Windows compared as sets of (day, start, end), whatever order they were written in."""
    return sorted((w.day, w.start, w.end) for w in parse_windows(specs))


# --- values as the file writes them --------------------------------------------------------


def time_text(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def plain_value(value: Any) -> Any:
    """A record's or entity's field value as JSON writes it: times in UTC, enums by value."""
    if isinstance(value, datetime):
        return time_text(value)
    if isinstance(value, OwnerKind | CameraTier | InstallState | PolicyMode):
        return value.value
    return value


def record_document(source: Any, names: Iterable[str]) -> dict[str, Any]:
    """The JSON object of ``source`` (a record or an entity with the same field names)."""
    return {name: plain_value(getattr(source, name)) for name in names}


def describe_error(item: Mapping[str, Any]) -> str:
    """One pydantic error as a reader-facing problem; a URL in it loses its credentials."""
    kind, message = item["type"], str(item["msg"])
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "unknown field (check the spelling)"
    if kind in ("value_error", "assertion_error"):
        return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    shown = item.get("input")
    return redact_url(f"{message[:1].lower()}{message[1:]} (got {shown!r})")


# --- records: one validated object each ----------------------------------------------------


def _not_empty(value: str) -> str:
    if not value:
        raise ValueError("is empty")
    return value


def lowercase_choice(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


class RegistryRecord(BaseModel):
    """A registry object: unknown fields are errors, text is stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # No text field means a NUL, and PostgreSQL (the server's database) cannot store one.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("contains a NUL character")
        return value


RecordId = Annotated[str, Field(max_length=64)]


class OwnerRecord(RegistryRecord):
    id: RecordId
    name: str = Field(max_length=200)
    kind: OwnerKind
    contact_name: str = Field("", max_length=200)
    email: str = Field("", max_length=254)
    phone: str = Field("", max_length=40)
    time_zone: str

    _kind = field_validator("kind", mode="before")(lowercase_choice)

    _required = field_validator("id", "name")(_not_empty)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone(value)
        return value

    def document(self) -> dict[str, Any]:
        return record_document(self, ("id", *OWNER_FIELDS))


def _in_range(value: float, low: float, high: float) -> float:
    if not low <= value <= high:
        raise ValueError(f"{value:g} is outside {low:g}..{high:g}")
    return value


class CameraRecord(RegistryRecord):
    id: RecordId
    owner_id: RecordId
    name: str = Field(max_length=200)
    tier: CameraTier
    latitude: float
    longitude: float
    heading_deg: float = 0.0
    fov_deg: float = 90.0
    range_m: float = 40.0
    address: str = Field("", max_length=300)
    main_stream_url: str | None = None
    sub_stream_url: str | None = None
    privacy_masks: list[PrivacyMask] = []
    install_state: InstallState = InstallState.UNVERIFIED
    verified_at: AwareDatetime | None = None

    _enums = field_validator("tier", "install_state", mode="before")(lowercase_choice)

    _required = field_validator("id", "owner_id", "name")(_not_empty)

    @field_validator("latitude")
    @classmethod
    def _latitude(cls, value: float) -> float:
        return _in_range(value, -90, 90)

    @field_validator("longitude")
    @classmethod
    def _longitude(cls, value: float) -> float:
        return _in_range(value, -180, 180)

    @field_validator("heading_deg")
    @classmethod
    def _heading(cls, value: float) -> float:
        return _in_range(value, 0, 360)

    @field_validator("fov_deg")
    @classmethod
    def _fov(cls, value: float) -> float:
        if not 0 < value <= 360:
            raise ValueError(f"{value:g} is outside 0..360 (and must be more than 0)")
        return value

    @field_validator("range_m")
    @classmethod
    def _range(cls, value: float) -> float:
        if not 0 < value <= 10_000:
            raise ValueError(f"{value:g} is not a range in metres (more than 0, at most 10000)")
        return value

    @field_validator("main_stream_url", "sub_stream_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        try:
            url = check_stream_url(value)
        except ValueError as exc:
            # Never echo a URL that may carry a password.
            raise ValueError(f"{exc} (got {redact_url(value or '')!r})") from None
        if url is not None and len(url) > MAX_URL_LENGTH:
            raise ValueError(f"is longer than {MAX_URL_LENGTH} characters")
        return url

    @field_validator("privacy_masks", mode="before")
    @classmethod
    def _masks_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f"is not JSON like [[[0.1,0.1],[0.4,0.1],[0.4,0.3]]] ({exc})"
                ) from None
        return value

    @field_validator("privacy_masks")
    @classmethod
    def _masks(cls, value: list[PrivacyMask]) -> list[PrivacyMask]:
        return check_privacy_masks(value)

    def problems(self) -> list[tuple[str, str]]:
        """Checks across fields: (field, problem)."""
        found = []
        if self.tier is CameraTier.REGISTERED:
            for key in ("main_stream_url", "sub_stream_url"):
                if getattr(self, key) is not None:
                    found.append((key, "a registered camera has no stream URLs (tier integrated?)"))
        elif self.main_stream_url is None:
            found.append(("main_stream_url", "an integrated camera needs its main stream URL"))
        return found

    def document(self) -> dict[str, Any]:
        return record_document(self, ("id", *CAMERA_FIELDS))


class PolicyTermsHolder(Protocol):
    """What a policy's terms are compared on: a stored policy version of either database."""

    @property
    def mode(self) -> PolicyMode: ...

    @property
    def time_zone(self) -> str: ...

    @property
    def window_specs(self) -> list[dict[str, str]]: ...


class StoredPolicy(PolicyTermsHolder, Protocol):
    """A stored policy version (the workstation's or the server's)."""

    @property
    def camera_id(self) -> str: ...

    @property
    def version(self) -> int: ...

    @property
    def changed_at(self) -> datetime: ...

    @property
    def note(self) -> str: ...


def policy_document(policy: StoredPolicy) -> dict[str, Any]:
    """The JSON object of a stored policy version, with its version and time."""
    return {
        "camera_id": policy.camera_id,
        "version": policy.version,
        "mode": policy.mode.value,
        "time_zone": policy.time_zone,
        "windows": window_specs(parse_windows(policy.window_specs)),
        "changed_at": time_text(policy.changed_at),
        "note": policy.note,
    }


class PolicyRecord(RegistryRecord):
    camera_id: RecordId
    mode: PolicyMode
    time_zone: str
    windows: list[dict[str, str]] = []
    note: str = Field("", max_length=500)
    version: int | None = None
    changed_at: AwareDatetime | None = None

    _mode = field_validator("mode", mode="before")(lowercase_choice)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone(value)
        return value

    @field_validator("windows", mode="before")
    @classmethod
    def _windows(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_window_text(value)
        if isinstance(value, list) and all(isinstance(item, dict) for item in value):
            return window_specs(parse_windows(value))
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise ValueError("policy versions start at 1")
        return value

    def problems(self) -> list[tuple[str, str]]:
        if self.mode is PolicyMode.SCHEDULED and not self.windows:
            return [("windows", "a scheduled policy needs at least one window")]
        if self.mode is not PolicyMode.SCHEDULED and self.windows:
            return [("windows", f"a {self.mode.value} policy takes no windows")]
        return []

    def same_terms(self, policy: PolicyTermsHolder) -> bool:
        return (
            self.mode is policy.mode
            and self.time_zone == policy.time_zone
            and window_key(self.windows) == window_key(policy.window_specs)
        )

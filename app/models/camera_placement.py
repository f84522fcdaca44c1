"""Where a camera is and what it sees, as a field technician set it during an install: position,
heading, field of view, range and privacy masks. A plain value: the install record saves it with
the camera; nothing here touches the registry.

Each field has its limits here, with the message a technician reads when a typed value is
outside them (``parse_placement_field``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from app.models.camera import PrivacyMask, check_privacy_masks

MAX_RANGE_M = 2000.0  # no camera identifies anything further out; a typo in metres is likelier


class PlacementError(ValueError):
    """A value outside its field's limits; the message names the field and the limits."""


@dataclass(frozen=True, slots=True)
class PlacementField:
    name: str  # the attribute of CameraPlacement
    label: str  # how the technician sees it
    low: float
    high: float
    low_included: bool = True
    high_included: bool = True
    unit: str = ""

    def limits_text(self) -> str:
        low = f"{self.low:g}{self.unit}"
        high = f"{self.high:g}{self.unit}"
        if not self.low_included:
            return f"more than {low} and at most {high}"
        return f"from {low} to {'' if self.high_included else 'below '}{high}"

    def check(self, value: float) -> float:
        above = value >= self.low if self.low_included else value > self.low
        below = value <= self.high if self.high_included else value < self.high
        if not (math.isfinite(value) and above and below):
            raise PlacementError(f"{self.label} {value:g}: must be {self.limits_text()}")
        return value


PLACEMENT_FIELDS: dict[str, PlacementField] = {
    spec.name: spec
    for spec in (
        PlacementField("latitude", "Latitude", -90.0, 90.0, unit="°"),
        PlacementField("longitude", "Longitude", -180.0, 180.0, unit="°"),
        # Compass degrees, clockwise from north; 360 is written 0.
        PlacementField("heading_deg", "Heading", 0.0, 360.0, high_included=False, unit="°"),
        PlacementField("fov_deg", "Field of view", 1.0, 360.0, unit="°"),
        PlacementField("range_m", "Range", 0.0, MAX_RANGE_M, low_included=False, unit=" m"),
    )
}


def parse_placement_field(name: str, text: str) -> float:
    """A typed value of one field (``1.5``, ``1,5`` and ``90°`` all read), checked against its
    limits; raises PlacementError with what to type instead."""
    spec = PLACEMENT_FIELDS[name]
    cleaned = text.strip().removesuffix(spec.unit.strip()).strip().replace(",", ".")
    try:
        value = float(cleaned)
    except ValueError:
        raise PlacementError(
            f"{spec.label} {text.strip()!r} is not a number: type one {spec.limits_text()}"
        ) from None
    return spec.check(value)


@dataclass(frozen=True, slots=True)
class CameraPlacement:
    """A camera's position (WGS84 degrees), heading (compass degrees, clockwise from north),
    field of view (degrees), range (metres) and privacy masks (normalised image polygons)."""

    latitude: float
    longitude: float
    heading_deg: float = 0.0
    fov_deg: float = 90.0
    range_m: float = 40.0
    privacy_masks: list[PrivacyMask] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name, spec in PLACEMENT_FIELDS.items():
            spec.check(getattr(self, name))
        try:
            check_privacy_masks(self.privacy_masks)
        except ValueError as error:
            raise PlacementError(str(error)) from None

    def moved(self, **changes: Any) -> CameraPlacement:
        """A copy with some fields changed (checked as any placement is); a heading is brought
        into 0..360 first, so turning past north goes on round."""
        if "heading_deg" in changes:
            changes["heading_deg"] = float(changes["heading_deg"]) % 360.0
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "latitude": self.latitude,
            "longitude": self.longitude,
            "heading_deg": self.heading_deg,
            "fov_deg": self.fov_deg,
            "range_m": self.range_m,
            "privacy_masks": [[list(point) for point in mask] for mask in self.privacy_masks],
        }


__all__ = [
    "MAX_RANGE_M",
    "PLACEMENT_FIELDS",
    "CameraPlacement",
    "PlacementError",
    "PlacementField",
    "parse_placement_field",
]

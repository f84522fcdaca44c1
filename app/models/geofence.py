"""Geofences: the areas an operator draws around an incident to find the cameras inside.

Shapes are WGS84 like the rest of the model; the map projects them. A circle is a centre and a
radius in metres on the ground; a polygon is a closed ring of at least three points.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GeofenceCircle:
    latitude: float
    longitude: float
    radius_m: float

    def __post_init__(self) -> None:
        if not self.radius_m > 0:
            raise ValueError(f"a geofence radius must be positive (got {self.radius_m} m)")


@dataclass(frozen=True, slots=True)
class GeofencePolygon:
    points: tuple[tuple[float, float], ...]  # (latitude, longitude); the ring closes itself

    def __post_init__(self) -> None:
        if len(self.points) < 3:
            raise ValueError(f"a geofence polygon needs 3 points or more (got {len(self.points)})")


Geofence = GeofenceCircle | GeofencePolygon

"""Web Mercator (EPSG:3857), the projection of the camera map and of XYZ map tiles.

The model keeps WGS84 degrees; only the map view and its tile sources work in these projected
metres. ``x`` grows east and ``y`` grows north, so a view with ``y`` up is north-up. Tiles use the
XYZ scheme (row 0 at the top, the north edge of the projection); MBTiles files count rows from the
bottom (TMS), see :func:`tms_row`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

EARTH_RADIUS_M = 6_378_137.0
HALF_WORLD_M = math.pi * EARTH_RADIUS_M  # 20,037,508.34: the projection runs -HALF..+HALF
WORLD_M = 2 * HALF_WORLD_M
MAX_LATITUDE = 85.0511287798  # where the square world ends, north and south
TILE_PX = 256

FloatArray = npt.NDArray[np.float64]


def to_mercator(latitude: float, longitude: float) -> tuple[float, float]:
    """(x, y) in projected metres of one WGS84 point."""
    lat = math.radians(min(max(latitude, -MAX_LATITUDE), MAX_LATITUDE))
    return EARTH_RADIUS_M * math.radians(longitude), EARTH_RADIUS_M * math.log(
        math.tan(math.pi / 4 + lat / 2)
    )


def to_mercator_arrays(
    latitudes: npt.ArrayLike, longitudes: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """:func:`to_mercator` for whole arrays."""
    lat = np.radians(np.clip(np.asarray(latitudes, np.float64), -MAX_LATITUDE, MAX_LATITUDE))
    x = EARTH_RADIUS_M * np.radians(np.asarray(longitudes, np.float64))
    y = EARTH_RADIUS_M * np.log(np.tan(np.pi / 4 + lat / 2))
    return x, y


def to_wgs84(x: float, y: float) -> tuple[float, float]:
    """(latitude, longitude) of a projected point."""
    latitude = math.degrees(2 * math.atan(math.exp(y / EARTH_RADIUS_M)) - math.pi / 2)
    return latitude, math.degrees(x / EARTH_RADIUS_M)


def scale_factor(latitude: float) -> float:
    """Projected metres per metre on the ground at ``latitude`` (1 at the equator, 2 at 60°)."""
    return 1.0 / math.cos(math.radians(min(max(latitude, -MAX_LATITUDE), MAX_LATITUDE)))


def metres_per_pixel(zoom: float) -> float:
    """Projected metres per screen pixel at a (fractional) zoom level of 256-pixel tiles."""
    return WORLD_M / (TILE_PX * math.pow(2.0, zoom))


def zoom_for(metres_per_px: float) -> float:
    """The (fractional) zoom level at which one pixel spans ``metres_per_px`` projected metres."""
    return math.log2(WORLD_M / (TILE_PX * metres_per_px))


def ground_resolution(latitude: float, zoom: float) -> float:
    """Metres on the ground per screen pixel at ``latitude`` and ``zoom``."""
    return metres_per_pixel(zoom) / scale_factor(latitude)


@dataclass(frozen=True, slots=True, order=True)
class TileKey:
    """One XYZ tile: zoom, column from the west, row from the north."""

    z: int
    x: int
    y: int

    def __str__(self) -> str:
        return f"{self.z}/{self.x}/{self.y}"

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) in projected metres."""
        size = WORLD_M / (1 << self.z)
        west = -HALF_WORLD_M + self.x * size
        north = HALF_WORLD_M - self.y * size
        return west, north - size, west + size, north

    def parent(self) -> TileKey | None:
        return TileKey(self.z - 1, self.x // 2, self.y // 2) if self.z > 0 else None


def tms_row(tile: TileKey) -> int:
    """The row of ``tile`` counted from the south, as MBTiles (TMS) stores it."""
    return (1 << tile.z) - 1 - tile.y


def tiles_covering(west: float, south: float, east: float, north: float, z: int) -> list[TileKey]:
    """The tiles of zoom ``z`` that cover a projected rectangle, nearest its centre first."""
    count = 1 << z
    size = WORLD_M / count

    def column(x: float) -> int:
        return min(max(math.floor((x + HALF_WORLD_M) / size), 0), count - 1)

    def row(y: float) -> int:
        return min(max(math.floor((HALF_WORLD_M - y) / size), 0), count - 1)

    x0, x1 = column(west), column(east)
    y0, y1 = row(north), row(south)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    tiles = [TileKey(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    tiles.sort(key=lambda t: (t.x - cx) ** 2 + (t.y - cy) ** 2)
    return tiles


def nice_length(longest: float) -> float:
    """The longest 1, 2 or 5 times a power of ten that is at most ``longest`` (for scale bars)."""
    if longest <= 0:
        raise ValueError("a scale bar needs a positive length")
    power = 10.0 ** math.floor(math.log10(longest))
    for step in (5.0, 2.0, 1.0):
        if step * power <= longest:
            return step * power
    return power  # pragma: no cover - step 1 always fits

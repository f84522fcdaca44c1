"""How much of a camera's picture its privacy masks black out.

A camera whose view is mostly masked as private property is probably pointed at the wrong place
(a neighbour's windows, a private yard) rather than the street it was integrated for: the install
verifier warns above ``MOSTLY_PRIVATE_SHARE``.

The share is measured by rasterising the masks at a modest resolution, with the same pixel
mapping as the wall's renderer (``app.video.decode_process.apply_privacy_masks``: a normalised
x lands on ``x * (width - 1)``) and the same rule inside one polygon (even-odd, as OpenCV fills
it). The union of the polygons is counted: where two masks overlap, the picture is masked once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from app.models.camera import PrivacyMask

# Above this share of the picture masked, the camera mostly watches private property: half of
# the picture is where an integration stops being "a street camera with a neighbour's window
# blacked out" and becomes "a camera the agency should not be watching through".
MOSTLY_PRIVATE_SHARE = 0.5
# Fine enough that the share is right to about half a percent, coarse enough to recompute on
# every point the technician clicks.
COVERAGE_SIZE = (320, 180)

BoolArray = npt.NDArray[np.bool_]


def mask_raster(masks: Sequence[PrivacyMask], width: int, height: int) -> BoolArray:
    """(height, width) booleans: True where a pixel's centre is inside any of the masks."""
    if width < 2 or height < 2:
        raise ValueError(f"a picture of {width}x{height} pixels is too small to mask")
    py, px = np.mgrid[0:height, 0:width].astype(np.float64)
    masked = np.zeros((height, width), np.bool_)
    for polygon in masks:
        points = np.asarray(polygon, np.float64) * (width - 1, height - 1)
        inside = np.zeros((height, width), np.bool_)
        for (x1, y1), (x2, y2) in zip(points, np.roll(points, -1, axis=0), strict=True):
            if y1 == y2:
                continue  # a horizontal edge crosses no scan line
            crosses = (y1 > py) != (y2 > py)
            at_x = x1 + (py - y1) * (x2 - x1) / (y2 - y1)
            inside ^= crosses & (px < at_x)
        masked |= inside
    return masked


def masked_share(masks: Sequence[PrivacyMask], size: tuple[int, int] = COVERAGE_SIZE) -> float:
    """The share (0..1) of the picture the masks black out, overlaps counted once."""
    if not masks:
        return 0.0
    return float(mask_raster(masks, *size).mean())


def mostly_private(share: float) -> bool:
    return share > MOSTLY_PRIVATE_SHARE


__all__ = ["COVERAGE_SIZE", "MOSTLY_PRIVATE_SHARE", "mask_raster", "masked_share", "mostly_private"]

"""The masked share of a camera's picture, and the placement a technician sets."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.models.camera_placement import CameraPlacement, PlacementError, parse_placement_field
from app.models.privacy_coverage import (
    COVERAGE_SIZE,
    MOSTLY_PRIVATE_SHARE,
    mask_raster,
    masked_share,
    mostly_private,
)
from app.video.decode_process import apply_privacy_masks

LEFT_HALF = [[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]]
TOP_LEFT = [[0.0, 0.0], [0.5, 0.0], [0.5, 0.5], [0.0, 0.5]]
MIDDLE = [[0.25, 0.25], [0.75, 0.25], [0.75, 0.75], [0.25, 0.75]]
WHOLE = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
# One polygon touching itself at the centre: two triangles, top and bottom, a quarter each.
HOURGLASS = [[0.0, 0.0], [1.0, 0.0], [0.5, 0.5], [1.0, 1.0], [0.0, 1.0], [0.5, 0.5]]


def test_no_masks_nothing_masked_and_the_whole_picture_all_of_it():
    assert masked_share([]) == 0.0
    assert masked_share([WHOLE]) == pytest.approx(1.0, abs=0.01)
    assert masked_share([LEFT_HALF]) == pytest.approx(0.5, abs=0.01)


def test_overlapping_masks_are_counted_once():
    # 0.25 + 0.25 - the overlap 0.0625: not 0.5.
    assert masked_share([TOP_LEFT, MIDDLE]) == pytest.approx(0.4375, abs=0.01)
    assert masked_share([LEFT_HALF, LEFT_HALF, TOP_LEFT]) == pytest.approx(0.5, abs=0.01)
    assert masked_share([WHOLE, MIDDLE]) == pytest.approx(1.0, abs=0.01)


def test_a_self_touching_polygon_counts_both_of_its_parts():
    assert masked_share([HOURGLASS]) == pytest.approx(0.5, abs=0.01)
    raster = mask_raster([HOURGLASS], 101, 101)
    assert raster[10, 50] and raster[90, 50]  # inside the top and the bottom triangle
    assert not raster[50, 10] and not raster[50, 90]  # left and right of the waist


def test_the_share_is_what_the_wall_blacks_out():
    """The coverage raster and the wall's renderer agree, overlaps included (each mask is
    filled on its own: OpenCV fills several polygons of one call even-odd, leaving their
    overlap unmasked)."""
    width, height = COVERAGE_SIZE
    for masks in ([TOP_LEFT, MIDDLE], [HOURGLASS], [LEFT_HALF, MIDDLE]):
        frame = np.full((height, width, 3), 255, np.uint8)
        apply_privacy_masks(cv2, frame, masks)
        black = float((frame.max(axis=2) == 0).mean())
        assert black == pytest.approx(masked_share(masks), abs=0.015)
        if MIDDLE in masks:  # (0.4, 0.4) is where the two masks overlap
            assert frame[int(0.4 * height), int(0.4 * width)].max() == 0


def test_mostly_private_above_the_threshold_only():
    assert MOSTLY_PRIVATE_SHARE == 0.5
    assert mostly_private(0.6) and not mostly_private(0.4) and not mostly_private(0.5)
    assert mostly_private(masked_share([LEFT_HALF, MIDDLE]))  # 0.625
    assert not mostly_private(masked_share([TOP_LEFT, MIDDLE]))  # 0.4375


def test_a_placement_checks_every_field_and_names_the_limits():
    placement = CameraPlacement(41.88, -87.63, 350.0, 90.0, 40.0, [LEFT_HALF])
    assert placement.moved(heading_deg=370.0).heading_deg == 10.0
    assert placement.moved(heading_deg=-10.0).heading_deg == 350.0
    assert placement.to_dict()["privacy_masks"] == [LEFT_HALF]
    cases = {
        "latitude": (91.0, "Latitude 91: must be from -90° to 90°"),
        "longitude": (-181.0, "Longitude -181: must be from -180° to 180°"),
        "fov_deg": (0.5, "Field of view 0.5: must be from 1° to 360°"),
        "range_m": (0.0, "Range 0: must be more than 0 m and at most 2000 m"),
    }
    for name, (value, message) in cases.items():
        with pytest.raises(PlacementError, match=message):
            placement.moved(**{name: value})
    with pytest.raises(PlacementError, match=r"point .* is not in normalised"):
        placement.moved(privacy_masks=[[[0.0, 0.0], [1.5, 0.0], [0.0, 1.0]]])


def test_typed_values_are_read_or_refused_with_what_to_type():
    assert parse_placement_field("heading_deg", " 45° ") == 45.0
    assert parse_placement_field("latitude", "41,5") == 41.5
    assert parse_placement_field("range_m", "35 m") == 35.0
    with pytest.raises(PlacementError, match="Heading 360: must be from 0° to below 360°"):
        parse_placement_field("heading_deg", "360")
    with pytest.raises(PlacementError, match="Range 'far' is not a number: type one more than 0"):
        parse_placement_field("range_m", "far")
    with pytest.raises(PlacementError, match="Latitude nan"):
        parse_placement_field("latitude", "nan")

"""The decoder's downscale: INTER_AREA's picture at a fraction of its cost."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.video.scaling import downscale


def textured(height: int, width: int) -> np.ndarray:
    """Fine detail that a careless shrink turns into aliasing: noise plus thin stripes."""
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    image[:, ::3] = 255
    return image


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ((1080, 1920), (480, 270)),  # a whole factor: two halvings, nothing else
        ((1080, 1920), (472, 262)),  # a 4x4 wall tile
        ((1080, 1920), (1400, 788)),  # less than half: bilinear only
        ((1081, 1917), (301, 169)),  # odd sizes
        ((360, 640), (120, 67)),
    ],
)
def test_the_picture_is_close_to_inter_area_and_far_from_aliased(source, target):
    image = textured(*source)
    fast = downscale(cv2, image, target)
    area = cv2.resize(image, target, interpolation=cv2.INTER_AREA)
    aliased = cv2.resize(image, target, interpolation=cv2.INTER_LINEAR)
    assert fast.shape == area.shape == (target[1], target[0], 3)

    def distance(other: np.ndarray) -> float:
        return float(np.abs(other.astype(np.int16) - area.astype(np.int16)).mean())

    # White noise is the worst case for any two filters: they may differ, but a shrink that
    # skips pixels (plain bilinear at 4x) is four times as far off as this one.
    assert distance(fast) <= 15
    if min(source[0] / target[1], source[1] / target[0]) >= 2:
        assert distance(fast) < distance(aliased) / 3
    assert abs(float(fast.mean()) - float(area.mean())) < 1


def test_a_whole_factor_is_an_exact_box_average():
    image = textured(1080, 1920)
    fast = downscale(cv2, image, (480, 270))
    box = image.reshape(270, 4, 480, 4, 3).mean(axis=(1, 3))
    assert np.abs(fast - box).max() <= 1

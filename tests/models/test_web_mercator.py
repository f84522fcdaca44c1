"""Web Mercator, tile arithmetic and the camera cluster pyramid."""

from __future__ import annotations

import numpy as np
import pytest

from app.models.camera_clusters import MAX_LEVEL, MIN_LEVEL, cluster_pyramid
from app.models.web_mercator import (
    HALF_WORLD_M,
    TileKey,
    ground_resolution,
    nice_length,
    tiles_covering,
    tms_row,
    to_mercator,
    to_mercator_arrays,
    to_wgs84,
    zoom_for,
)


def test_projection_round_trips_and_matches_known_points():
    assert to_mercator(0.0, 0.0) == pytest.approx((0.0, 0.0), abs=1e-6)
    assert to_mercator(0.0, 180.0)[0] == pytest.approx(HALF_WORLD_M)
    assert to_mercator(85.0511287798, 0.0)[1] == pytest.approx(HALF_WORLD_M, rel=1e-9)
    for latitude, longitude in ((41.88, -87.63), (-33.87, 151.21), (64.15, -21.94)):
        assert to_wgs84(*to_mercator(latitude, longitude)) == pytest.approx((latitude, longitude))
    xs, ys = to_mercator_arrays([41.88, -33.87], [-87.63, 151.21])
    assert (xs[1], ys[1]) == pytest.approx(to_mercator(-33.87, 151.21))


def test_ground_resolution_is_the_published_one():
    # 156,543.03 m per pixel at zoom 0 on the equator, halved at 60°, halved again per zoom.
    assert ground_resolution(0.0, 0) == pytest.approx(156_543.034, rel=1e-6)
    assert ground_resolution(60.0, 1) == pytest.approx(156_543.034 / 4, rel=1e-6)
    assert zoom_for(156_543.034 / 2**15) == pytest.approx(15)


def test_tiles_and_their_rows_from_the_south():
    tile = TileKey(2, 1, 0)
    west, south, east, north = tile.bounds
    assert (west, north) == pytest.approx((-HALF_WORLD_M / 2, HALF_WORLD_M))
    assert east - west == pytest.approx(north - south)
    assert tms_row(tile) == 3 and tms_row(TileKey(2, 1, 3)) == 0
    assert tile.parent() == TileKey(1, 0, 0) and TileKey(0, 0, 0).parent() is None
    covering = tiles_covering(west + 1, south + 1, east - 1, north - 1, 3)
    assert sorted(covering) == [TileKey(3, x, y) for x in (2, 3) for y in (0, 1)]
    assert tiles_covering(-1e9, -1e9, 1e9, 1e9, 1) == tiles_covering(
        -HALF_WORLD_M, -HALF_WORLD_M, HALF_WORLD_M, HALF_WORLD_M, 1
    )  # clamped to the world


def test_nice_lengths_for_scale_bars():
    assert [nice_length(v) for v in (0.9, 1.0, 3.7, 64, 999, 1800)] == [0.5, 1, 2, 50, 500, 1000]
    with pytest.raises(ValueError):
        nice_length(0)


def test_clusters_count_every_camera_once_and_by_state():
    rng = np.random.default_rng(3)
    x = rng.normal(-9_755_000, 3000, 5000)
    y = rng.normal(5_143_000, 3000, 5000)
    states = rng.integers(0, 5, 5000).astype(np.uint8)
    pyramid = cluster_pyramid(x, y, states, 5)
    assert sorted(pyramid) == list(range(MIN_LEVEL, MAX_LEVEL + 1))
    for level in pyramid.values():
        assert level.count.sum() == 5000
        assert (level.state_counts.sum(axis=1) == level.count).all()
        assert (level.state_counts.sum(axis=0) == np.bincount(states, minlength=5)).all()
        singles = level.single[level.count == 1]
        assert (singles >= 0).all()
        assert (level.x[level.count == 1] == x[singles]).all()
    # Closer in, fewer cameras share a cluster.
    assert len(pyramid[MIN_LEVEL]) < len(pyramid[MAX_LEVEL])

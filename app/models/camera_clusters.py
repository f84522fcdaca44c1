"""Camera clusters for the map's far zooms: a pyramid of grid cells, built once per camera set.

At each zoom level the world is cut into square cells ``CELL_PX`` screen pixels wide; the cameras
of one cell become one cluster at their centroid, counted per policy state. A cell holding a
single camera is that camera. The grid is fixed to the world, not to the screen, so clusters stay
put while the operator pans, and a frame only has to pick the clusters in view.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.models.web_mercator import HALF_WORLD_M, TILE_PX, WORLD_M

CELL_PX = 40  # a cluster's cell, in screen pixels at its own zoom level
MIN_LEVEL = 8  # a whole city is a few pixels below this
MAX_LEVEL = 16  # from the next level up every camera is drawn on its own

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class ClusterLevel:
    """The clusters of one zoom level, as parallel arrays."""

    level: int
    x: FloatArray  # centroid, projected metres
    y: FloatArray
    count: IntArray
    state_counts: IntArray  # (clusters, states): how many cameras of each policy state
    single: IntArray  # the camera's index when the cluster holds one camera, else -1

    def __len__(self) -> int:
        return len(self.count)


def cell_metres(level: int) -> float:
    return WORLD_M / (TILE_PX * 2.0**level) * CELL_PX


def cluster_level(
    level: int, x: FloatArray, y: FloatArray, states: npt.NDArray[np.uint8], state_count: int
) -> ClusterLevel:
    size = cell_metres(level)
    columns = np.floor((x + HALF_WORLD_M) / size).astype(np.int64)
    rows = np.floor((HALF_WORLD_M - y) / size).astype(np.int64)
    keys = columns * (int(WORLD_M / size) + 2) + rows
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    if len(sorted_keys) == 0:
        empty = np.zeros(0, np.int64)
        return ClusterLevel(
            level, np.zeros(0), np.zeros(0), empty, np.zeros((0, state_count), np.int64), empty
        )
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    count = np.diff(np.r_[starts, len(order)]).astype(np.int64)
    cx = np.add.reduceat(x[order], starts) / count
    cy = np.add.reduceat(y[order], starts) / count
    one_hot = np.zeros((len(order), state_count), np.int64)
    one_hot[np.arange(len(order)), states[order]] = 1
    state_counts = np.add.reduceat(one_hot, starts, axis=0)
    single = np.where(count == 1, order[starts], -1).astype(np.int64)
    return ClusterLevel(level, cx, cy, count, state_counts, single)


def cluster_pyramid(
    x: FloatArray, y: FloatArray, states: npt.NDArray[np.uint8], state_count: int
) -> dict[int, ClusterLevel]:
    """Clusters for every level from ``MIN_LEVEL`` to ``MAX_LEVEL`` (about 0.1 s per 100,000
    cameras on one core: build it off the UI thread)."""
    return {
        level: cluster_level(level, x, y, states, state_count)
        for level in range(MIN_LEVEL, MAX_LEVEL + 1)
    }

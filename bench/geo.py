"""Spatial index benchmark: radius queries over 1,000,000 cameras against a brute-force scan.

Two layouts of ``--cameras`` (default 1,000,000) cameras: a city, uniform over a 40 km x 40 km
square around Chicago (625 per km²: a 2 km geofence holds about 7,850 of them), and the globe,
uniform over the sphere. For each: the index's build time and memory (tracemalloc, which sees
numpy's buffers), then ``within_radius`` at 300 m and 2 km around randomly chosen cameras, p50
and p99 over ``--queries`` queries.

The reference, in the same run on the same query points, is the brute force the issue names: a
vectorised numpy haversine over every camera (radians and cosines precomputed), then the same
filter, nearest-first sort and bearings. Its answers are checked against the index's. A second,
stronger reference scans precomputed unit vectors with one dot product per camera. Also
measured: reading every hit as an (id, distance, bearing) tuple, ``nearest``, a polygon query,
and adds, moves and removes during a shift (with the queries run again afterwards).

Prints one JSON object on its last line; ``radius_p99_ms`` is the worst wall-clock p99 of the
four radius cases (``radius_cpu_p99_ms`` the same in CPU time, without waits for a busy core) and
``speedup_vs_bruteforce`` the smallest ratio of brute-force p50 to index p50. About 30 s.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.models.geo_index import EARTH_MEAN_RADIUS_M, CameraIndex

Floats = npt.NDArray[np.float64]
CITY_CENTRE = (41.88, -87.63)
CITY_HALF_SIDE_M = 20_000.0
RADII_M = (300.0, 2_000.0)


@dataclass
class Layout:
    name: str
    ids: list[str]
    lat: Floats
    lon: Floats


def city(count: int, rng: np.random.Generator) -> Layout:
    lat0, lon0 = CITY_CENTRE
    half_lat = math.degrees(CITY_HALF_SIDE_M / EARTH_MEAN_RADIUS_M)
    half_lon = half_lat / math.cos(math.radians(lat0))
    lat = rng.uniform(lat0 - half_lat, lat0 + half_lat, count)
    lon = rng.uniform(lon0 - half_lon, lon0 + half_lon, count)
    return Layout("city", [f"cam-{n:07d}" for n in range(count)], lat, lon)


def globe(count: int, rng: np.random.Generator) -> Layout:
    lat = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, count)))
    lon = rng.uniform(-180.0, 180.0, count)
    return Layout("globe", [f"cam-{n:07d}" for n in range(count)], lat, lon)


class HaversineScan:
    """The brute force: haversine from the query to every camera, in numpy, nearest first."""

    def __init__(self, layout: Layout) -> None:
        self.ids = np.array(layout.ids, dtype=object)
        self.phi = np.radians(layout.lat)
        self.lam = np.radians(layout.lon)
        self.cos_phi = np.cos(self.phi)

    def within_radius(
        self, lat: float, lon: float, radius_m: float
    ) -> tuple[npt.NDArray[np.object_], Floats, Floats]:
        phi0, lam0 = math.radians(lat), math.radians(lon)
        dlam = self.lam - lam0
        h = (
            np.sin((self.phi - phi0) / 2) ** 2
            + math.cos(phi0) * self.cos_phi * np.sin(dlam / 2) ** 2
        )
        distance = 2 * EARTH_MEAN_RADIUS_M * np.arcsin(np.sqrt(h))
        inside = np.flatnonzero(distance <= radius_m)
        order = inside[np.argsort(distance[inside])]
        y = np.sin(dlam[order]) * self.cos_phi[order]
        x = math.cos(phi0) * np.sin(self.phi[order]) - math.sin(phi0) * self.cos_phi[
            order
        ] * np.cos(dlam[order])
        return self.ids[order], distance[order], np.degrees(np.arctan2(y, x)) % 360.0


class DotScan:
    """A stronger brute force: one dot product per camera with precomputed unit vectors.

    Kept as three columns (x, y, z): plain numpy arithmetic, no BLAS call, whose threads only
    slow it down on a busy machine.
    """

    def __init__(self, layout: Layout) -> None:
        phi, lam = np.radians(layout.lat), np.radians(layout.lon)
        self.ids = np.array(layout.ids, dtype=object)
        self.x, self.y, self.z = np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)

    def within_radius(
        self, lat: float, lon: float, radius_m: float
    ) -> tuple[npt.NDArray[np.object_], Floats, Floats]:
        phi0, lam0 = math.radians(lat), math.radians(lon)
        cx, cy, cz = (
            math.cos(phi0) * math.cos(lam0),
            math.cos(phi0) * math.sin(lam0),
            math.sin(phi0),
        )
        up = self.x * cx + self.y * cy + self.z * cz
        near = np.flatnonzero(up >= math.cos(radius_m / EARTH_MEAN_RADIUS_M) - 1e-14)
        x, y, z = self.x[near], self.y[near], self.z[near]
        east = -math.sin(lam0) * x + math.cos(lam0) * y
        north = -math.sin(phi0) * (math.cos(lam0) * x + math.sin(lam0) * y) + math.cos(phi0) * z
        distance = EARTH_MEAN_RADIUS_M * np.arctan2(np.sqrt(east**2 + north**2), up[near])
        order = np.argsort(distance)
        bearing = np.degrees(np.arctan2(east[order], north[order])) % 360.0
        return self.ids[near[order]], distance[order], bearing


def timings_ms(
    query: Callable[[float, float], object],
    points: list[tuple[float, float]],
    clock: Callable[[], float] = time.perf_counter,
) -> Floats:
    spent = []
    for lat, lon in points:
        started = clock()
        query(lat, lon)
        spent.append(clock() - started)
    return np.array(spent) * 1e3


def percentiles(spent_ms: Floats) -> tuple[float, float]:
    return float(np.percentile(spent_ms, 50)), float(np.percentile(spent_ms, 99))


def check_same_answer(
    index: CameraIndex, scan: HaversineScan, points: list[tuple[float, float]], radius_m: float
) -> None:
    for lat, lon in points:
        hits = index.within_radius(lat, lon, radius_m)
        ids, distance, _ = scan.within_radius(lat, lon, radius_m)
        assert set(hits.ids.tolist()) == set(ids.tolist()), (lat, lon, radius_m)
        assert np.allclose(hits.distances_m, distance, rtol=0, atol=1e-6)


def build_measured(layout: Layout) -> tuple[CameraIndex, float, float]:
    started = time.perf_counter()
    index = CameraIndex.build(layout.ids, layout.lat, layout.lon)
    build_s = time.perf_counter() - started
    del index
    tracemalloc.start()
    index = CameraIndex.build(layout.ids, layout.lat, layout.lon)
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"{layout.name}: built {len(layout.ids):,} cameras in {build_s:.2f} s; "
        f"holds {held / 1e6:.0f} MB, peak {peak / 1e6:.0f} MB while building"
    )
    return index, build_s, held / 1e6


def radius_cases(
    layout: Layout,
    index: CameraIndex,
    queries: int,
    reference_queries: int,
    rng: np.random.Generator,
) -> dict[str, float]:
    scan, dots = HaversineScan(layout), DotScan(layout)
    chosen = rng.integers(len(layout.ids), size=queries)
    points = [(float(layout.lat[n]), float(layout.lon[n])) for n in chosen]
    figures: dict[str, float] = {}
    for radius_m in RADII_M:
        case = f"{layout.name}_{radius_m:g}m"
        check_same_answer(index, scan, points[:5], radius_m)
        hits = np.mean([len(index.within_radius(lat, lon, radius_m)) for lat, lon in points[:50]])

        def query(lat: float, lon: float, radius_m: float = radius_m) -> object:
            return index.within_radius(lat, lon, radius_m)

        def read_all(lat: float, lon: float, radius_m: float = radius_m) -> object:
            return list(index.within_radius(lat, lon, radius_m))

        def brute_force(lat: float, lon: float, radius_m: float = radius_m) -> object:
            return scan.within_radius(lat, lon, radius_m)

        def dot_scan(lat: float, lon: float, radius_m: float = radius_m) -> object:
            return dots.within_radius(lat, lon, radius_m)

        index_p50, index_p99 = percentiles(timings_ms(query, points))
        # This thread's CPU time leaves out waits for a core, which other work on a shared
        # machine causes; the wall clock above is what an operator gets.
        cpu_p50, cpu_p99 = percentiles(timings_ms(query, points, time.thread_time))
        read_p50, read_p99 = percentiles(timings_ms(read_all, points))
        brute_p50, brute_p99 = percentiles(timings_ms(brute_force, points[:reference_queries]))
        dot_p50, _ = percentiles(timings_ms(dot_scan, points[:reference_queries]))
        print(
            f"{case}: {hits:,.0f} hits/query; index p50 {index_p50:.3f} ms p99 {index_p99:.3f} ms "
            f"(CPU time p50 {cpu_p50:.3f} ms p99 {cpu_p99:.3f} ms); "
            f"reading every hit as a tuple p50 {read_p50:.3f} p99 {read_p99:.3f} ms; "
            f"haversine scan p50 {brute_p50:.1f} ms p99 {brute_p99:.1f} ms "
            f"({brute_p50 / index_p50:.0f}x); "
            f"dot scan p50 {dot_p50:.2f} ms ({dot_p50 / index_p50:.1f}x)"
        )
        figures |= {
            f"{case}_hits_per_query": round(float(hits), 1),
            f"{case}_p50_ms": round(index_p50, 4),
            f"{case}_p99_ms": round(index_p99, 4),
            f"{case}_cpu_p50_ms": round(cpu_p50, 4),
            f"{case}_cpu_p99_ms": round(cpu_p99, 4),
            f"{case}_read_all_hits_p50_ms": round(read_p50, 4),
            f"{case}_read_all_hits_p99_ms": round(read_p99, 4),
            f"{case}_bruteforce_p50_ms": round(brute_p50, 3),
            f"{case}_dot_scan_p50_ms": round(dot_p50, 3),
            f"{case}_speedup_vs_bruteforce": round(brute_p50 / index_p50, 1),
            f"{case}_speedup_vs_dot_scan": round(dot_p50 / index_p50, 2),
        }
    return figures


def other_queries(
    layout: Layout, index: CameraIndex, queries: int, rng: np.random.Generator
) -> dict[str, float]:
    chosen = rng.integers(len(layout.ids), size=queries)
    points = [(float(layout.lat[n]), float(layout.lon[n])) for n in chosen]
    nearest_p50, nearest_p99 = percentiles(
        timings_ms(lambda a, o: index.nearest(a, o, 10, 2_000.0), points)
    )

    def hexagon(lat: float, lon: float) -> list[tuple[float, float]]:
        step = math.degrees(1_000.0 / EARTH_MEAN_RADIUS_M)
        return [
            (
                lat + step * math.cos(math.radians(a)),
                lon + step * math.sin(math.radians(a)) / math.cos(math.radians(lat)),
            )
            for a in range(0, 360, 60)
        ]

    polygon_p50, polygon_p99 = percentiles(
        timings_ms(lambda a, o: index.within_polygon(hexagon(a, o)), points)
    )
    print(
        f"{layout.name}: nearest 10 within 2 km p50 {nearest_p50:.3f} ms p99 {nearest_p99:.3f} ms; "
        f"1 km hexagon p50 {polygon_p50:.3f} ms p99 {polygon_p99:.3f} ms"
    )
    return {
        f"{layout.name}_nearest10_p50_ms": round(nearest_p50, 4),
        f"{layout.name}_nearest10_p99_ms": round(nearest_p99, 4),
        f"{layout.name}_polygon_1km_p50_ms": round(polygon_p50, 4),
        f"{layout.name}_polygon_1km_p99_ms": round(polygon_p99, 4),
    }


def shift_changes(
    layout: Layout, index: CameraIndex, changes: int, queries: int, rng: np.random.Generator
) -> dict[str, float]:
    """Installs during a shift: adds, then moves and removes of existing cameras, one at a time."""
    lat0, lon0 = CITY_CENTRE
    spread = math.degrees(CITY_HALF_SIDE_M / EARTH_MEAN_RADIUS_M)
    new_lat = lat0 + rng.uniform(-spread, spread, changes)
    new_lon = lon0 + rng.uniform(-spread, spread, changes) / math.cos(math.radians(lat0))
    existing = rng.choice(len(layout.ids), size=2 * changes, replace=False)
    figures: dict[str, float] = {}

    def add(n: int) -> None:
        index.add(f"new-{n}", float(new_lat[n]), float(new_lon[n]))

    def move(n: int) -> None:
        index.move(layout.ids[existing[n]], float(new_lat[n]), float(new_lon[n]))

    def remove(n: int) -> None:
        index.remove(layout.ids[existing[changes + n]])

    for action, apply in (("add", add), ("move", move), ("remove", remove)):
        spent = []
        for n in range(changes):
            started = time.perf_counter()
            apply(n)
            spent.append(time.perf_counter() - started)
        spent_us = np.array(spent) * 1e6
        figures[f"{action}_mean_us"] = round(float(spent_us.mean()), 1)
        figures[f"{action}_max_ms"] = round(float(spent_us.max()) / 1e3, 2)
        print(
            f"{changes:,} {action}s one at a time: mean {spent_us.mean():.1f} µs, "
            f"p99 {np.percentile(spent_us, 99):.1f} µs, slowest {spent_us.max() / 1e3:.1f} ms"
        )
    chosen = rng.integers(len(layout.ids), size=queries)
    points = [(float(layout.lat[n]), float(layout.lon[n])) for n in chosen]

    def query(lat: float, lon: float) -> object:
        return index.within_radius(lat, lon, 2_000.0)

    p50, p99 = percentiles(timings_ms(query, points))
    _, cpu_p99 = percentiles(timings_ms(query, points, time.thread_time))
    print(f"after the changes: 2 km p50 {p50:.3f} ms p99 {p99:.3f} ms (CPU time p99 {cpu_p99:.3f})")
    figures |= {
        "city_2000m_after_changes_p50_ms": round(p50, 4),
        "city_2000m_after_changes_p99_ms": round(p99, 4),
        "city_2000m_after_changes_cpu_p99_ms": round(cpu_p99, 4),
    }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cameras", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=2_000, help="index queries per case")
    parser.add_argument(
        "--reference-queries", type=int, default=30, help="brute-force queries per case"
    )
    parser.add_argument("--changes", type=int, default=10_000, help="adds, moves and removes each")
    args = parser.parse_args()
    rng = np.random.default_rng(20261121)
    figures: dict[str, float] = {"cameras": args.cameras, "load_before": os.getloadavg()[0]}
    print(
        f"{args.cameras:,} cameras; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    )
    for make in (city, globe):
        layout = make(args.cameras, rng)
        index, build_s, held_mb = build_measured(layout)
        figures |= {
            f"{layout.name}_build_s": round(build_s, 3),
            f"{layout.name}_memory_mb": round(held_mb, 1),
        }
        figures |= radius_cases(layout, index, args.queries, args.reference_queries, rng)
        figures |= other_queries(layout, index, args.queries // 4, rng)
        if layout.name == "city":
            figures |= shift_changes(layout, index, args.changes, args.queries, rng)
    cases = [f"{name}_{radius:g}m" for name in ("city", "globe") for radius in RADII_M]
    figures["load_after"] = os.getloadavg()[0]
    print(f"load average {figures['load_after']:.2f}")
    summary = {
        "radius_p99_ms": max(figures[f"{case}_p99_ms"] for case in cases),
        "radius_cpu_p99_ms": max(figures[f"{case}_cpu_p99_ms"] for case in cases),
        "radius_p50_ms": max(figures[f"{case}_p50_ms"] for case in cases),
        "speedup_vs_bruteforce": min(figures[f"{case}_speedup_vs_bruteforce"] for case in cases),
        "speedup_vs_dot_scan": min(figures[f"{case}_speedup_vs_dot_scan"] for case in cases),
    }
    print(json.dumps(summary | figures))


if __name__ == "__main__":
    main()

"""Camera map benchmark: frame time while panning and zooming over 100,000 cameras.

Runs the console's own ``CameraMap`` offscreen (``QT_QPA_PLATFORM=offscreen``) at 1920x1080 with
``--cameras`` cameras (default 100,000) spread over the demo city's districts, ``--units`` units
(200) and ``--incidents`` open incidents (500), over the demo street layer. Phases:

1. load: the camera rows go in with ``set_cameras`` as the main window's refresh does; the time
   until they are drawn (arrays and cluster pyramid built in a background job), and the UI
   thread's worst stall meanwhile (a 5 ms timer's lateness);
2. frames: a scripted tour of pans (arrow-key steps) and zooms (wheel half-levels, key levels)
   from the whole city (zoom 11) down to single buildings (zoom 19) and back; a frame is the
   view change plus painting the whole widget (layers and overlays) into a 1920x1080 image;
   p50/p95/max overall and p95 by zoom band;
3. raster: the same tour over XYZ raster tiles from a local tile server (tests/tile_server.py),
   each view's tiles loaded before its frame is timed (drawing, not fetching, is measured);
4. reference: a plain pyqtgraph ``ScatterPlotItem`` of every camera (colour by state), the
   obvious way to put 100,000 points on a pyqtgraph map, rendered in the same window size.

5. cad: CAD records through the real console to their geofence lists (``bench/cad_geofence.py``).

Prints progress lines and, on its last line, one JSON object (``frame_p95_ms`` is the figure the
goal, 16 ms, applies to; ``cad_to_geofence_ms``, the median, has the 500 ms goal, and its p95
is printed beside it).

    .venv/bin/python -m bench.map --quick      # under a minute
    .venv/bin/python -m bench.map
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEventLoop, QRectF, QTimer
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QApplication, QWidget

from app.models.camera import CameraTier
from app.models.incident import IncidentStatus
from app.models.web_mercator import to_mercator_arrays
from app.services.basemap import DiskTileCache, XyzTileSource, read_street_geojson, user_agent
from app.services.demo_city import CENTRE_LAT, CENTRE_LON, DISTRICTS, HEIGHT_M, WIDTH_M
from app.services.map_features import (
    IncidentPoint,
    LiveLayers,
    UnitPosition,
    incident_features,
    unit_features,
)
from app.services.registry_rows import CameraRow, PolicyNow
from app.shell import configure_application
from app.widgets.background_jobs import BackgroundJobs
from app.widgets.camera_list import CameraList
from app.widgets.camera_map import CameraMap
from app.widgets.map_layers import STATE_COLOURS
from app.widgets.resources import resources_dir
from bench.cad_geofence import measure_cad_to_geofence
from tests.tile_server import running_tile_server

WINDOW = (1920, 1080)
GOAL_MS = 16.0
CAD_GOAL_MS = 500.0
STALL_TIMER_MS = 5
METRES_PER_DEG_LAT = 111_320.0
STATE_WEIGHTS = {
    PolicyNow.LIVE_ALLOWED: 0.30,
    PolicyNow.EMERGENCY_ONLY: 0.20,
    PolicyNow.SCHEDULED_CLOSED: 0.10,
    PolicyNow.REVOKED: 0.05,
    PolicyNow.REGISTERED_ONLY: 0.35,
}
POLICY_TEXT = {
    PolicyNow.LIVE_ALLOWED: "continuous",
    PolicyNow.EMERGENCY_ONLY: "emergency only",
    PolicyNow.SCHEDULED_CLOSED: "scheduled, closed now",
    PolicyNow.REVOKED: "revoked",
    PolicyNow.REGISTERED_ONLY: "no live feed",
}


def progress(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else math.nan


# --- synthetic city --------------------------------------------------------------------------


def city_points(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(latitudes, longitudes) clustered in the demo districts as the demo city's cameras are."""
    weights = np.array([d[2] for d in DISTRICTS])
    district = rng.choice(len(DISTRICTS), size=count, p=weights / weights.sum())
    spread = rng.random(count) < 0.25
    x = np.where(
        spread,
        rng.uniform(-WIDTH_M / 2, WIDTH_M / 2, count),
        np.array([d[0] for d in DISTRICTS])[district] + rng.normal(0, 900, count),
    )
    y = np.where(
        spread,
        rng.uniform(-HEIGHT_M / 2, HEIGHT_M / 2, count),
        np.array([d[1] for d in DISTRICTS])[district] + rng.normal(0, 900, count),
    )
    x = np.clip(x, -WIDTH_M / 2, WIDTH_M / 2)
    y = np.clip(y, -HEIGHT_M / 2, HEIGHT_M / 2)
    metres_per_deg_lon = METRES_PER_DEG_LAT * math.cos(math.radians(CENTRE_LAT))
    return CENTRE_LAT + y / METRES_PER_DEG_LAT, CENTRE_LON + x / metres_per_deg_lon


def synthetic_cameras(count: int, seed: int = 7) -> list[CameraRow]:
    rng = np.random.default_rng(seed)
    latitudes, longitudes = city_points(rng, count)
    states = list(STATE_WEIGHTS)
    picks = rng.choice(len(states), size=count, p=list(STATE_WEIGHTS.values()))
    headings = rng.uniform(0, 360, count)
    fovs = rng.choice([60.0, 90.0, 110.0], size=count)
    ranges = rng.uniform(20, 60, count)
    verified = datetime(2026, 11, 1, tzinfo=UTC)
    return [
        CameraRow(
            camera_id=f"cam-{n:06d}",
            name=f"Camera {n}",
            tier=CameraTier.REGISTERED
            if states[picks[n]] is PolicyNow.REGISTERED_ONLY
            else CameraTier.INTEGRATED,
            policy_now=POLICY_TEXT[states[picks[n]]],
            address=f"{n} W Harbor St",
            latitude=float(latitudes[n]),
            longitude=float(longitudes[n]),
            heading_deg=float(headings[n]),
            fov_deg=float(fovs[n]),
            range_m=float(ranges[n]),
            owner_name=f"Owner {n % 5000}",
            verified_at=verified - timedelta(days=n % 400),
            policy_state=states[picks[n]],
        )
        for n in range(count)
    ]


def synthetic_live_layers(units: int, incidents: int, seed: int = 11) -> LiveLayers:
    rng = np.random.default_rng(seed)
    now = datetime(2026, 11, 18, 15, tzinfo=UTC)
    latitudes, longitudes = city_points(rng, units + incidents)
    chooser = random.Random(seed)
    unit_rows = [
        UnitPosition(
            f"U{n:03d}",
            "patrol",
            chooser.choice(("available", "en_route", "on_scene")),
            float(latitudes[n]),
            float(longitudes[n]),
            chooser.uniform(0, 360),
            now,
        )
        for n in range(units)
    ]
    incident_rows = [
        IncidentPoint(
            f"2026-{n:06d}",
            "Suspicious person",
            chooser.randint(1, 5),
            chooser.random() < 0.1,
            IncidentStatus.DISPATCHED,
            f"{n} N Central Ave",
            float(latitudes[units + n]),
            float(longitudes[units + n]),
            now,
        )
        for n in range(incidents)
    ]
    return LiveLayers(unit_features(unit_rows), incident_features(incident_rows))


# --- the event loop ----------------------------------------------------------------------------


def wait_until(app: QApplication, ready: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if time.monotonic() > deadline:
            return False
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
    return True


class StallProbe:
    """The lateness of a 5 ms timer: how long the UI thread could not run its event loop."""

    def __init__(self) -> None:
        self.lateness_ms: list[float] = []
        self._last = time.perf_counter()
        self._timer = QTimer()
        self._timer.setInterval(STALL_TIMER_MS)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.lateness_ms.append(max(0.0, (now - self._last) * 1000 - STALL_TIMER_MS))
        self._last = now

    def stop(self) -> None:
        self._timer.stop()


# --- the tour ----------------------------------------------------------------------------------

Step = Callable[[CameraMap], None]


def arrow_key(dx: int, dy: int) -> Step:
    """A pan of a quarter of the view, as an arrow key makes it."""

    def pan(camera_map: CameraMap) -> None:
        camera_map.pan_by(dx * camera_map.width() * 0.25, dy * camera_map.height() * 0.25)

    return pan


def tour(quick: bool) -> list[Step]:
    """Zoom from the city (11) to buildings (19) in wheel half-levels, panning at each level
    with arrow-key steps, then back out by whole levels."""
    steps: list[Step] = [lambda m: m.centre_on(CENTRE_LAT, CENTRE_LON, 11.0)]
    pans_per_level = 4 if quick else 12
    directions = [(1, 0), (0, 1), (-1, 0), (0, -1)]
    zoom = 11.0
    while zoom < 19.0:
        zoom += 0.5
        steps.append(lambda m: m.zoom_by(0.5))
        for n in range(pans_per_level):
            steps.append(arrow_key(*directions[n % 4]))
    for _ in range(8):
        steps.append(lambda m: m.zoom_by(-1.0))
        steps.append(lambda m: m.pan_by(m.width() * 0.25, 0))
    return steps


@dataclass(frozen=True, slots=True)
class Frame:
    zoom: float
    wall_ms: float  # what the operator waits
    cpu_ms: float  # the UI thread's own CPU time: the same less time lost to other processes


def render_frames(
    app: QApplication,
    camera_map: CameraMap,
    steps: Sequence[Step],
    before_frame: Callable[[], None] | None = None,
) -> list[Frame]:
    """One frame per step: the view change and a full paint of the widget into an image.
    ``before_frame`` runs between the two, untimed (the raster phase waits for tiles there)."""
    image = QImage(
        camera_map.width(), camera_map.height(), QImage.Format.Format_ARGB32_Premultiplied
    )
    frames = []
    for step in steps:
        wall, cpu = time.perf_counter(), time.thread_time()
        step(camera_map)
        wall_ms, cpu_ms = (time.perf_counter() - wall) * 1000, (time.thread_time() - cpu) * 1000
        if before_frame is not None:
            before_frame()
        wall, cpu = time.perf_counter(), time.thread_time()
        QWidget.render(camera_map, image)
        wall_ms += (time.perf_counter() - wall) * 1000
        cpu_ms += (time.thread_time() - cpu) * 1000
        frames.append(Frame(camera_map.zoom, wall_ms, cpu_ms))
        app.processEvents()
    return frames


def zoom_bands(frames: Sequence[Frame]) -> dict[str, float]:
    bands: dict[str, list[float]] = {}
    for frame in frames:
        low = math.floor(frame.zoom / 2) * 2
        bands.setdefault(f"{low}-{low + 2}", []).append(frame.wall_ms)
    return {band: round(percentile(times, 95), 2) for band, times in sorted(bands.items())}


def summary(frames: Sequence[Frame]) -> dict[str, float]:
    times = [frame.wall_ms for frame in frames]
    return {
        "p50": round(percentile(times, 50), 2),
        "p95": round(percentile(times, 95), 2),
        "max": round(max(times), 2),
        "cpu_p95": round(percentile([frame.cpu_ms for frame in frames], 95), 2),
    }


# --- the reference -----------------------------------------------------------------------------


def naive_scatter(app: QApplication, rows: Sequence[CameraRow], frames: int) -> list[float]:
    """Every camera as one pyqtgraph ScatterPlotItem spot, panned and zoomed the same way."""
    x, y = to_mercator_arrays([r.latitude for r in rows], [r.longitude for r in rows])
    brushes = {state: pg.mkBrush(QColor(colour)) for state, colour in STATE_COLOURS.items()}
    view = pg.GraphicsView()
    box = pg.ViewBox(lockAspect=True)
    view.setCentralItem(box)
    scatter = pg.ScatterPlotItem(
        x=x, y=y, size=10, brush=[brushes[r.policy_state] for r in rows], pen=None
    )
    box.addItem(scatter)
    view.resize(*WINDOW)
    view.show()
    app.processEvents()
    image = QImage(*WINDOW, QImage.Format.Format_ARGB32_Premultiplied)
    cx, cy = float(np.mean(x)), float(np.mean(y))
    times = []
    for n in range(frames):
        width = 12_000.0 / 2 ** (n % 6)
        started = time.perf_counter()
        box.setRange(QRectF(cx - width / 2 + n * 50, cy - width / 4, width, width / 2), padding=0)
        painter = QPainter(image)
        view.render(painter)
        painter.end()
        times.append((time.perf_counter() - started) * 1000)
    view.hide()
    view.deleteLater()
    return times


# --- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=100_000)
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--incidents", type=int, default=500)
    parser.add_argument("--quick", action="store_true", help="fewer frames (under a minute)")
    args = parser.parse_args()

    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    configure_application(app)
    jobs = BackgroundJobs()
    streets = resources_dir() / "demo_streets.geojson"

    progress(f"building {args.cameras:,} synthetic cameras")
    rows = synthetic_cameras(args.cameras)
    layers = synthetic_live_layers(args.units, args.incidents)
    camera_map = CameraMap(jobs, open_basemap=lambda: read_street_geojson(streets))
    camera_map.resize(*WINDOW)
    camera_map.show()
    camera_map.set_live_layers(layers)
    wait_until(app, lambda: camera_map.street_layer.streets is not None, 30)

    progress("load: set_cameras, arrays and clusters in a background job")
    probe = StallProbe()
    started = time.perf_counter()
    camera_map.set_cameras(rows)
    if not wait_until(app, lambda: camera_map.camera_count == len(rows), 120):
        raise SystemExit("the cameras were not drawn within 120 s")
    load_s = time.perf_counter() - started
    probe.stop()
    stall_max = max(probe.lateness_ms, default=0.0)
    progress(f"load: {load_s:.2f} s to draw; UI stall max {stall_max:.1f} ms")

    steps = tour(args.quick)
    progress(f"frames: {len(steps)} pans and zooms, zoom 11 to 19 and back, vector streets")
    render_frames(app, camera_map, steps[:10])  # warm the sprite and label caches
    frames = render_frames(app, camera_map, steps)
    overall = summary(frames)
    bands = zoom_bands(frames)
    progress(
        f"frames: p50 {overall['p50']} ms, p95 {overall['p95']} ms, max {overall['max']} ms; "
        f"UI thread CPU p95 {overall['cpu_p95']} ms"
    )
    progress(f"frames: p95 by zoom {bands}")

    progress("raster: the same tour over XYZ tiles from a local tile server")
    with running_tile_server() as server, tempfile.TemporaryDirectory(dir=Path.cwd()) as scratch:
        raster_map = CameraMap(jobs)
        raster_map.resize(*WINDOW)
        raster_map.show()
        raster_map.set_live_layers(layers)
        raster_map.set_cameras(rows)
        wait_until(app, lambda: raster_map.camera_count == len(rows), 120)
        source = XyzTileSource(
            server.url("png"),
            attribution="bench tiles",
            user_agent=user_agent("bench"),
            cache=DiskTileCache(Path(scratch), 64 * 2**20),
        )
        raster_map.use_tile_source(source)

        def tiles_in() -> None:
            frame = raster_map.map_frame()
            wanted = raster_map.tile_layer.wanted(frame)
            wait_until(app, lambda: all(raster_map.tile_layer.has(k) for k in wanted), 30)

        raster_steps = tour(quick=True)
        raster = summary(render_frames(app, raster_map, raster_steps, before_frame=tiles_in))
        raster_map.shutdown()
        raster_map.close()
    progress(f"raster: p50 {raster['p50']} ms, p95 {raster['p95']} ms, max {raster['max']} ms")

    reference_frames = 6 if args.quick else 18
    progress(
        f"reference: a plain ScatterPlotItem of {len(rows):,} cameras, {reference_frames} frames"
    )
    reference = naive_scatter(app, rows, reference_frames)
    reference_p95 = round(percentile(reference, 95), 2)
    progress(f"reference: p95 {reference_p95} ms")

    progress("list: the camera list (Cameras dock) with the same cameras, on the UI thread")
    camera_list = CameraList()
    camera_list.resize(660, 700)
    camera_list.show()
    started = time.perf_counter()
    camera_list.set_cameras(rows)
    app.processEvents()
    list_load_ms = (time.perf_counter() - started) * 1000
    changed = [replace(rows[0], name="Camera 0 (renamed)"), *rows[1:]]
    started = time.perf_counter()
    camera_list.set_cameras(changed)
    app.processEvents()
    list_change_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    camera_list.filter_edit.setText("harbor st")
    app.processEvents()
    list_filter_ms = (time.perf_counter() - started) * 1000
    camera_list.close()
    camera_list.deleteLater()
    progress(
        f"list: load {list_load_ms:.0f} ms, a changed camera {list_change_ms:.0f} ms, "
        f"a filter keystroke {list_filter_ms:.0f} ms"
    )

    records = 10 if args.quick else 40
    progress(f"cad: {records} CAD records through the console to their geofence lists")
    cad = measure_cad_to_geofence(app, rows, records, wait_until, progress)
    progress(
        f"cad: median {cad['cad_to_geofence_ms']} ms, p95 {cad['cad_to_geofence_p95_ms']} ms "
        f"({cad['geofence_cameras_median']} cameras in a median geofence)"
    )

    camera_map.close()
    jobs.shutdown()
    print(
        json.dumps(
            {
                "cameras": len(rows),
                "units": args.units,
                "incidents": args.incidents,
                "window": f"{WINDOW[0]}x{WINDOW[1]}",
                "frames": len(frames),
                "frame_p50_ms": overall["p50"],
                "frame_p95_ms": overall["p95"],
                "frame_max_ms": overall["max"],
                "frame_cpu_p95_ms": overall["cpu_p95"],
                "frame_p95_ms_by_zoom": bands,
                "goal_frame_p95_ms": GOAL_MS,
                "raster_frame_p95_ms": raster["p95"],
                "camera_load_s": round(load_s, 2),
                "load_ui_stall_max_ms": round(stall_max, 1),
                "camera_list_load_ms": round(list_load_ms, 1),
                "camera_list_change_ms": round(list_change_ms, 1),
                "camera_list_filter_ms": round(list_filter_ms, 1),
                "naive_scatter_frame_p95_ms": reference_p95,
                "speedup_vs_naive_scatter": round(reference_p95 / overall["p95"], 1),
                **cad,
                "goal_cad_to_geofence_ms": CAD_GOAL_MS,
            }
        )
    )


if __name__ == "__main__":
    main()

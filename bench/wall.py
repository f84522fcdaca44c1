"""Video wall benchmark: the real wall on real RTSP streams, against ffmpeg in the same run.

Runs the console's own ``VideoWall`` offscreen (``QT_QPA_PLATFORM=offscreen``) with a real
``PolicyGate`` over a registry and audit log in a temporary data dir, and a real
``FeedSupervisor`` with its decode processes, on streams from the local GStreamer RTSP server of
the tests (``tests/rtsp``: one shared, looped 1080p mount and one 360p mount; a shared mount is
one pipeline however many clients it has, so the server stays cheap; its CPU is reported).
Feeds are opened as the operator opens them: ``VideoWall.open_camera`` for an incident, through
the gate (audited) on the background job pool.

Phases:

1. the reference: ``ffmpeg -threads 1 -f null`` on the same RTSP URLs (CPU per decoded frame),
   on the 1080p clip flat out in 4 processes (frames per second from a file), and on N live
   1080p15 streams at once, N ramped until one of them falls below 14 fps (the live streams
   ffmpeg alone sustains), from :mod:`bench.ffmpeg_reference`;
2. 16 main-stream-only 1080p15 cameras on a 4x4 wall in a 1920x1080 window: frames painted per
   tile per second, event-loop stalls (a 5 ms timer's lateness), decode-to-paint latency
   (``Frame.decoded_at_ns`` to the ``paintEvent`` that shows it, kept by the tile), CPU of this
   process and all decode processes per painted frame; then the soak (``--soak-s``; resident
   memory growth after the first minute; the full soak is ``--soak-s 1800``);
3. 25 cameras with a 640x360 sub stream on a 5x5 wall: CPU cores used;
4. saturation: more 1080p15 tiles (4x4 walls of the same tile size, one 1920x1080 window each)
   until a tile falls below 14 frames/s. ``saturation_ratio_vs_ffmpeg`` is the tiles sustained
   over the live streams ffmpeg alone sustains; ``saturation_ratio_vs_ffmpeg_flat_out`` divides
   by the flat-out file rate over 15 instead, a bound no live decoder reaches (no RTSP, no
   streams interleaved in the caches, no picture made).

The full run also measures the ceiling of any console that decodes with OpenCV, after ffmpeg's
ramp (:mod:`bench.opencv_reference`): the live streams OpenCV alone keeps up with in the same
decode-process layout, reading only (``opencv_read_*``), and reading and fitting each frame to
the saturation walls' tile (``opencv_tile_*``); each ``*_ratio_vs_ffmpeg`` is over ffmpeg's
count, as ``saturation_ratio_vs_ffmpeg`` is.

The ramps go by steps; the full run then halves the gap between the last step that kept up and
the first that did not, so every count is exact to within one (``--quick`` keeps the steps, to
stay under 3 minutes).

``--decoders N`` sets the number of network decode processes (default 2, measured better than 3
on 2 cores; decode processes run at nice 10, as in the console); ``--profile`` prints a
cProfile of the UI process over the 16-tile window. CPU is utime + stime from /proc of this
process and every decode process; the RTSP server's own CPU is reported apart
(``rtsp_server_cores``).

Prints progress lines and, on its last line, one JSON object.

    .venv/bin/python -m bench.wall --quick           # under 3 minutes
    .venv/bin/python -m bench.wall                   # full, 120 s soak
    .venv/bin/python -m bench.wall --soak-s 1800     # the 30-minute soak
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import math
import os
import pstats
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import FrameType

import numpy as np
from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop, QObject, Qt, QTimer
from PySide6.QtWidgets import QApplication

from app.models import PolicyMode, Role
from app.services.accounts import SignedInUser
from app.services.audit_log import AuditLog
from app.services.clock import utc_now
from app.services.credentials import CredentialStore
from app.services.policy_gate import PolicyGate
from app.settings import Settings, load_settings
from app.shell import configure_application
from app.video.feed_state import FeedStatus
from app.video.feed_supervisor import FeedSupervisor
from app.widgets.background_jobs import BackgroundJobs
from app.widgets.video_tile import VideoTile
from app.widgets.video_wall import VideoWall
from bench.ffmpeg_reference import (
    DecodeReference,
    decode_flat_out,
    decode_streams,
    refine_between,
    stream_rates,
    sustained_streams,
)
from bench.opencv_reference import opencv_sustained
from tests.factories import add_camera, add_incident, add_owner, registry_sessions
from tests.rtsp.fixtures import FPS, Mount, RtspClips, RtspServer, make_clips

# On this 2-core machine 2 network decode processes measured better than 3 (16 tiles: lowest
# tile 11.2 against 7.1 frames/s): each process runs a thread per feed, and more of them only
# queue the UI thread behind more decoding threads.
NETWORK_DECODERS = 2
WINDOW_SIZE = (1920, 1080)
MAIN_TILES = 16
SUB_TILES = 25
TILES_PER_WALL = 16  # saturation walls are 4x4 in a 1920x1080 window: every tile the same size
SATURATION_STEPS = (18, 20, 22, 24, 26, 28, 32)
QUICK_SATURATION_STEPS = (20, 24, 28)
FFMPEG_STEPS = (16, 20, 22, 24, 26, 28, 32, 36, 40)
QUICK_FFMPEG_STEPS = (20, 24, 28, 32)
OPENCV_READ_STEPS = (20, 24, 28, 32, 36)
DOWN_STEPS = (12, 8, 4)
SUSTAINED_FPS = 14.0
STALL_TIMER_MS = 5
INCIDENT = "2026-000101"
MAIN_PATH, SUB_PATH = "/main", "/sub"
OPERATOR = SignedInUser("bench", "Bench Operator", Role.OPERATOR)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def progress(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


# --- processes ------------------------------------------------------------------------------


def cpu_seconds(pids: Sequence[int]) -> float:
    """utime + stime of each process (all its threads), from /proc/PID/stat."""
    total = 0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def rss_bytes(pids: Sequence[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE
    return total


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else math.nan


# --- Ctrl+C inside the Qt event loop ---------------------------------------------------------


class Interrupted:
    """SIGINT/SIGTERM: a flag the event-loop helpers check (an exception raised inside a Qt slot
    would be printed and swallowed), raised directly outside the loop."""

    flag = False
    in_qt = False

    @classmethod
    def install(cls) -> None:
        signal.signal(signal.SIGINT, cls._handle)
        signal.signal(signal.SIGTERM, cls._handle)

    @classmethod
    def _handle(cls, signum: int, _frame: FrameType | None) -> None:
        cls.flag = True
        if not cls.in_qt:
            raise KeyboardInterrupt(signal.Signals(signum).name)

    @classmethod
    def check(cls) -> None:
        if cls.flag:
            raise KeyboardInterrupt("interrupted")


def spin(seconds: float, until: Callable[[], bool] | None = None) -> bool:
    """Run the Qt event loop for ``seconds`` or until ``until()``; True if ``until`` held."""
    loop = QEventLoop()
    deadline = time.monotonic() + seconds
    met = False

    def check() -> None:
        nonlocal met
        if Interrupted.flag or time.monotonic() >= deadline:
            loop.quit()
        elif until is not None and until():
            met = True
            loop.quit()

    checker = QTimer()
    checker.setInterval(50 if until is not None else 100)
    checker.timeout.connect(check)
    checker.start()
    Interrupted.in_qt = True
    try:
        if until is not None and until():
            met = True
        else:
            loop.exec()
    finally:
        Interrupted.in_qt = False
        checker.stop()
    Interrupted.check()
    return met


# --- measuring the wall ----------------------------------------------------------------------


class StallMeter(QObject):
    """A 5 ms precise timer on the UI thread; a stall is how much later than due a tick came."""

    def __init__(self) -> None:
        super().__init__()
        self.stalls_ms: list[float] = []
        self._last_ns = 0
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(STALL_TIMER_MS)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.stalls_ms.clear()
        self._last_ns = time.perf_counter_ns()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter_ns()
        self.stalls_ms.append(max(0.0, (now - self._last_ns) / 1e6 - STALL_TIMER_MS))
        self._last_ns = now


class PaintCollector(QObject):
    """Every second, takes each tile's decode-to-paint latencies painted since the last look
    (the tile keeps only its last few hundred)."""

    def __init__(self, tiles: Sequence[VideoTile]) -> None:
        super().__init__()
        self.tiles = list(tiles)
        self.latencies_ms: list[float] = []
        self._seen = [tile.frames_painted for tile in self.tiles]
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self.collect)
        self._timer.start()

    def collect(self) -> None:
        for index, tile in enumerate(self.tiles):
            new = tile.frames_painted - self._seen[index]
            self._seen[index] = tile.frames_painted
            if new > 0:
                history = list(tile.paint_latencies_ms)
                self.latencies_ms.extend(history[-min(new, len(history)) :])

    def stop(self) -> None:
        self._timer.stop()
        self.collect()


@dataclass
class WindowResult:
    tiles: int
    seconds: float
    tile_fps: list[float]
    painted: int
    cpu_s: float
    ui_cpu_s: float  # this process: the wall, the gate, the job pool
    server_cpu_s: float
    stalls_ms: list[float] = field(repr=False)
    latencies_ms: list[float] = field(repr=False)
    profile: str = ""

    @property
    def min_fps(self) -> float:
        return min(self.tile_fps) if self.tile_fps else 0.0

    @property
    def cores(self) -> float:
        return self.cpu_s / self.seconds

    def summary(self) -> str:
        return (
            f"{self.tiles} tiles: fps min {self.min_fps:.1f} / median "
            f"{float(np.median(self.tile_fps)):.1f}, painted {self.painted}, "
            f"{self.cores:.2f} cores (UI {self.ui_cpu_s / self.seconds:.2f}; "
            f"{1000 * self.cpu_s / max(1, self.painted):.2f} ms CPU/frame)"
            f", stall p99 {percentile(self.stalls_ms, 99):.1f} ms, decode-to-paint p95 "
            f"{percentile(self.latencies_ms, 95):.1f} ms, server "
            f"{self.server_cpu_s / self.seconds:.2f} cores"
        )


class Bench:
    """The console's parts, built as ``run_console`` builds them, over a temp data dir."""

    def __init__(
        self, stack: contextlib.ExitStack, scratch: Path, server: RtspServer, decoders: int
    ) -> None:
        self.server = server
        self.settings = make_settings(scratch)
        self.exports = scratch / "exports"  # snapshots; the bench takes none
        self.sessions = registry_sessions(self.settings)
        self.audit = AuditLog.open(self.settings.audit_db, self.settings.workstation, utc_now)
        stack.callback(self.audit.close)
        self.jobs = BackgroundJobs(max_threads=2)
        stack.callback(self.jobs.shutdown)
        self.supervisor = FeedSupervisor(network_decoders=decoders)
        stack.callback(self.supervisor.shutdown)
        credentials = CredentialStore.for_settings(self.settings)
        self.gate = PolicyGate(self.sessions, self.audit, credentials, utc_now, 1.0)
        self.gate.start()
        stack.callback(self.gate.stop)  # runs first: ends every lease, which closes its feed
        self.stalls = StallMeter()
        self.main_cameras: list[str] = []
        self.sub_cameras: list[str] = []

    def pids(self) -> list[int]:
        return [os.getpid(), *self.supervisor.decoder_pids()]

    def add_cameras(self, main_only: int, with_sub: int) -> None:
        now = utc_now()
        main_url, sub_url = self.server.url(MAIN_PATH), self.server.url(SUB_PATH)
        with self.sessions() as session:
            add_owner(session)
            add_incident(session, INCIDENT, now - timedelta(minutes=10))
            for number in range(1, main_only + 1):
                camera_id = f"cam-main-{number:02d}"
                add_camera(session, camera_id, mode=PolicyMode.CONTINUOUS, at=now, url=main_url)
                self.main_cameras.append(camera_id)
            for number in range(1, with_sub + 1):
                camera_id = f"cam-dual-{number:02d}"
                camera = add_camera(
                    session, camera_id, mode=PolicyMode.CONTINUOUS, at=now, url=main_url
                )
                camera.sub_stream_url = sub_url
                self.sub_cameras.append(camera_id)
            session.commit()

    @contextlib.contextmanager
    def walls(
        self, cameras: Sequence[str], layout: str, per_wall: int
    ) -> Iterator[list[VideoTile]]:
        """Walls (one 1920x1080 window each) showing ``cameras``; all tiles live on entry."""
        walls: list[VideoWall] = []
        try:
            for start in range(0, len(cameras), per_wall):
                wall = VideoWall(
                    gate=self.gate,
                    supervisor=self.supervisor,
                    jobs=self.jobs,
                    user=OPERATOR,
                    audit=self.audit,
                    export_dir=self.exports,
                    selected_incident=lambda: INCIDENT,
                    layout=layout,
                )
                wall.resize(*WINDOW_SIZE)
                wall.show()
                walls.append(wall)
                spin(0.2)
                for tile, camera_id in zip(
                    wall.tiles, cameras[start : start + per_wall], strict=False
                ):
                    wall.open_camera(tile, camera_id)
            tiles = [tile for wall in walls for tile in wall.tiles if not tile.is_empty]
            size = tiles[0].size()
            progress(
                f"opening {len(tiles)} feeds on {len(walls)} wall(s) of {layout}, tiles "
                f"{size.width()}x{size.height()}, window {walls[0].width()}x{walls[0].height()}"
            )
            started = time.monotonic()
            if not spin(90, lambda: all(is_live(tile) for tile in tiles)):
                dark = [tile.status_text for tile in tiles if not is_live(tile)]
                progress(f"not all live after 90 s: {len(dark)} dark: {dark[:4]}")
            else:
                progress(f"all {len(tiles)} tiles live after {time.monotonic() - started:.1f} s")
            yield tiles
        finally:
            for wall in walls:
                for tile in wall.tiles:
                    if not tile.is_empty:
                        wall.close_tile(tile, reason="bench_done")
            if not Interrupted.flag:
                spin(
                    20,
                    lambda: (
                        not self.gate.active_leases()
                        and self.jobs.idle
                        and not self.supervisor.handles()
                    ),
                )
            for wall in walls:
                wall.close()
                wall.deleteLater()
            QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)

    def measure(self, tiles: Sequence[VideoTile], seconds: float, profile: bool) -> WindowResult:
        pids = self.pids()
        painted_before = [tile.frames_painted for tile in tiles]
        collector = PaintCollector(tiles)
        cpu_before, server_before = cpu_seconds(pids), self.server.cpu_seconds()
        ui_before = cpu_seconds(pids[:1])
        profiler = cProfile.Profile() if profile else None
        self.stalls.start()
        started = time.monotonic()
        if profiler is not None:
            profiler.enable()
        try:
            spin(seconds)
        finally:
            if profiler is not None:
                profiler.disable()
            self.stalls.stop()
            collector.stop()
        elapsed = time.monotonic() - started
        cpu = cpu_seconds(pids) - cpu_before
        ui_cpu = cpu_seconds(pids[:1]) - ui_before
        server_cpu = self.server.cpu_seconds() - server_before
        deltas = [
            tile.frames_painted - before for tile, before in zip(tiles, painted_before, strict=True)
        ]
        report = ""
        if profiler is not None:
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(18)
            report = text.getvalue()
        return WindowResult(
            tiles=len(tiles),
            seconds=elapsed,
            tile_fps=[delta / elapsed for delta in deltas],
            painted=sum(deltas),
            cpu_s=cpu,
            ui_cpu_s=ui_cpu,
            server_cpu_s=server_cpu,
            stalls_ms=list(self.stalls.stalls_ms),
            latencies_ms=collector.latencies_ms,
            profile=report,
        )


def is_live(tile: VideoTile) -> bool:
    handle = tile.handle
    return tile.has_picture and handle is not None and handle.state.status is FeedStatus.LIVE


def make_settings(scratch: Path) -> Settings:
    data = scratch / "data"
    data.mkdir()
    config = scratch / "settings.toml"
    config.write_text('workstation = "bench-ws"\n[security]\nkeyring_backend = "file"\n')
    return load_settings(config, data, env={})


# --- the run --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    warmup_s: float
    window_s: float
    soak_s: float
    reference_s: float
    flat_loops: int
    steps: tuple[int, ...]
    ffmpeg_steps: tuple[int, ...]
    opencv_read_steps: tuple[int, ...]  # empty: no OpenCV ceiling (--quick)
    refine: bool  # between the last step that kept up and the first that did not, to within 1

    @property
    def reference_step_s(self) -> float:
        """Wall time of one step of ffmpeg's and OpenCV's ramps: the same for both."""
        return self.warmup_s + self.window_s / 2


def plan_for(args: argparse.Namespace) -> Plan:
    if args.quick:
        soak = 30.0 if args.soak_s is None else args.soak_s
        return Plan(5, 10, soak, 6, 3, QUICK_SATURATION_STEPS, QUICK_FFMPEG_STEPS, (), False)
    soak = 120.0 if args.soak_s is None else args.soak_s
    return Plan(10, 30, soak, 15, 6, SATURATION_STEPS, FFMPEG_STEPS, OPENCV_READ_STEPS, True)


def ffmpeg_sustained(server: RtspServer, plan: Plan) -> tuple[int, dict[str, float]]:
    """How many live 1080p15 streams ffmpeg alone keeps up with (>= 14 fps each)."""
    url = server.url(MAIN_PATH)

    def rates_for(count: int) -> list[float]:
        return stream_rates(url, count, plan.reference_step_s, plan.warmup_s)

    sustained, ramp = sustained_streams(
        rates_for, list(plan.ffmpeg_steps), SUSTAINED_FPS, refine=plan.refine
    )
    progress(f"ffmpeg alone keeps up with {sustained} live streams (slowest fps by count: {ramp})")
    return sustained, ramp


def opencv_ceiling(
    server: RtspServer, plan: Plan, decoders: int, ffmpeg_streams: int
) -> dict[str, object]:
    """How many live 1080p15 streams OpenCV alone keeps up with, decoding only and decoding and
    fitting each frame to a wall tile: the most any console decoding with OpenCV can show."""
    results: dict[str, object] = {}
    for work, steps in (("read", plan.opencv_read_steps), ("tile", plan.steps)):
        sustained, ramp = opencv_sustained(
            server.url(MAIN_PATH),
            work,
            decoders,
            list(steps),
            plan.reference_step_s,
            plan.warmup_s,
            SUSTAINED_FPS,
            refine=plan.refine,
        )
        progress(f"OpenCV alone ({work}) keeps up with {sustained} live streams: {ramp}")
        results[f"opencv_{work}_sustained_streams"] = sustained
        results[f"opencv_{work}_ramp_min_fps"] = ramp
        results[f"opencv_{work}_ratio_vs_ffmpeg"] = round(sustained / max(1, ffmpeg_streams), 3)
    return results


def reference(clips: RtspClips, server: RtspServer, plan: Plan) -> tuple[DecodeReference, ...]:
    url = server.url(MAIN_PATH)
    streams = decode_streams([url] * MAIN_TILES, plan.reference_s)
    progress(
        f"ffmpeg on {MAIN_TILES} RTSP streams: {streams.frames_per_s:.0f} frames/s, "
        f"{1000 * streams.cpu_s_per_frame:.2f} ms CPU/frame"
    )
    flat = decode_flat_out(str(clips.main), processes=4, loops=plan.flat_loops)
    progress(
        f"ffmpeg flat out (4 processes, clip): {flat.frames_per_s:.0f} frames/s = "
        f"{flat.realtime_streams(FPS):.1f} streams of {FPS} fps, "
        f"{1000 * flat.cpu_s_per_frame:.2f} ms CPU/frame"
    )
    return streams, flat


def soak(bench: Bench, tiles: Sequence[VideoTile], seconds: float) -> tuple[float, float]:
    """Resident memory growth (MB) after the first minute (or half the soak if shorter), and
    the lowest tile rate seen over any 10 s of it."""
    baseline_at = min(60.0, seconds / 2)
    started = time.monotonic()
    baseline: int | None = None
    lowest = math.inf
    counts = [tile.frames_painted for tile in tiles]
    last = started
    while (elapsed := time.monotonic() - started) < seconds:
        spin(min(10.0, seconds - elapsed))
        now = time.monotonic()
        rates = [(t.frames_painted - c) / (now - last) for t, c in zip(tiles, counts, strict=True)]
        lowest = min(lowest, *rates)
        counts, last = [tile.frames_painted for tile in tiles], now
        if baseline is None and now - started >= baseline_at:
            baseline = rss_bytes(bench.pids())
            progress(f"soak: RSS baseline {baseline / 2**20:.0f} MB at {now - started:.0f} s")
    end = rss_bytes(bench.pids())
    growth = (end - (baseline if baseline is not None else end)) / 2**20
    progress(f"soak: RSS {end / 2**20:.0f} MB after {seconds:.0f} s, growth {growth:+.1f} MB")
    return growth, lowest


def run(args: argparse.Namespace) -> dict[str, object]:
    plan = plan_for(args)
    results: dict[str, object] = {
        "quick": args.quick,
        "network_decoders": args.decoders,
    }
    with contextlib.ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="beacon-wall-")))
        progress("making clips")
        clips = make_clips(scratch / "clips")
        server = RtspServer(
            [
                Mount(MAIN_PATH, clips.main_stream, loop=True),
                Mount(SUB_PATH, clips.sub_stream, loop=True),
            ]
        )
        server.start()
        stack.callback(server.stop)
        progress(f"RTSP server on port {server.port} (pid {server.pid})")

        streams_ref, flat_ref = reference(clips, server, plan)
        results["ffmpeg_rtsp_cpu_ms_per_frame"] = round(1000 * streams_ref.cpu_s_per_frame, 3)
        results["ffmpeg_realtime_streams"] = round(flat_ref.realtime_streams(FPS), 1)
        ffmpeg_streams, ffmpeg_ramp = ffmpeg_sustained(server, plan)
        results["ffmpeg_sustained_rtsp_streams"] = ffmpeg_streams
        results["ffmpeg_rtsp_ramp_min_fps"] = ffmpeg_ramp
        if plan.opencv_read_steps:
            results.update(opencv_ceiling(server, plan, args.decoders, ffmpeg_streams))

        application = QApplication.instance() or QApplication([sys.argv[0]])
        assert isinstance(application, QApplication)
        configure_application(application)
        bench = Bench(stack, scratch, server, args.decoders)
        bench.add_cameras(max((*plan.steps, MAIN_TILES)), SUB_TILES)
        # Feeds are closed (and decode processes stopped) before the server goes.
        stack.callback(lambda: QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete))
        progress(f"decode processes: {bench.supervisor.decoder_pids()}")

        # 2. 16 tiles of 1080p15, main stream only, then the soak.
        with bench.walls(bench.main_cameras[:MAIN_TILES], "4x4", MAIN_TILES) as tiles:
            spin(plan.warmup_s)
            main = bench.measure(tiles, plan.window_s, args.profile)
            progress(main.summary())
            if main.profile:
                progress("UI process profile (tottime):\n" + main.profile)
            rss_growth, soak_min = soak(bench, tiles, plan.soak_s)
        results.update(
            min_tile_fps=round(main.min_fps, 2),
            median_tile_fps=round(float(np.median(main.tile_fps)), 2),
            ui_stall_p99_ms=round(percentile(main.stalls_ms, 99), 2),
            ui_stall_max_ms=round(max(main.stalls_ms, default=math.nan), 2),
            decode_to_paint_p95_ms=round(percentile(main.latencies_ms, 95), 2),
            decode_to_paint_p50_ms=round(percentile(main.latencies_ms, 50), 2),
            wall_cpu_ms_per_frame=round(1000 * main.cpu_s / max(1, main.painted), 3),
            cpu_per_frame_ratio_vs_ffmpeg=round(
                main.cpu_s / max(1, main.painted) / streams_ref.cpu_s_per_frame, 3
            ),
            cpu_per_frame_ratio_vs_ffmpeg_file=round(
                main.cpu_s / max(1, main.painted) / flat_ref.cpu_s_per_frame, 3
            ),
            main_16_cores=round(main.cores, 3),
            main_16_ui_cores=round(main.ui_cpu_s / main.seconds, 3),
            rtsp_server_cores=round(main.server_cpu_s / main.seconds, 3),
            rss_growth_mb=round(rss_growth, 1),
            soak_s=plan.soak_s,
            soak_min_tile_fps_10s=round(soak_min, 2),
        )

        # 3. 25 tiles on the 640x360 sub stream.
        with bench.walls(bench.sub_cameras, "5x5", SUB_TILES) as tiles:
            streams = {tile.handle.stream for tile in tiles if tile.handle is not None}
            spin(plan.warmup_s)
            sub = bench.measure(tiles, plan.window_s, False)
            progress(f"sub streams {sorted(streams)}: " + sub.summary())
        results.update(
            substream_25_cores=round(sub.cores, 3),
            substream_25_min_tile_fps=round(sub.min_fps, 2),
        )

        # 4. Saturation: more 1080p15 tiles until one falls below 14 frames/s.
        sustained = MAIN_TILES if main.min_fps >= SUSTAINED_FPS else 0
        ramp: dict[str, float] = {str(MAIN_TILES): round(main.min_fps, 2)}

        def keeps_up(count: int) -> bool:
            with bench.walls(bench.main_cameras[:count], "4x4", TILES_PER_WALL) as tiles:
                spin(plan.warmup_s)
                step = bench.measure(tiles, plan.window_s, False)
            progress("saturation " + step.summary())
            ramp[str(count)] = round(step.min_fps, 2)
            return step.min_fps >= SUSTAINED_FPS

        # Up from 16 while every tile keeps up; down from it when 16 already do not.
        fell_short = MAIN_TILES
        for count in plan.steps if sustained else DOWN_STEPS:
            kept_up = keeps_up(count)
            if count > MAIN_TILES:  # ramping up: the last count that kept up
                if not kept_up:
                    if plan.refine:
                        sustained = refine_between(sustained, count, keeps_up)
                    break
                sustained = count
            elif kept_up:  # ramping down: the first count that keeps up
                sustained = count
                if plan.refine:
                    sustained = refine_between(count, fell_short, keeps_up)
                break
            else:
                fell_short = count
        results.update(
            saturation_tiles=sustained,
            saturation_ramp_min_fps=ramp,
            saturation_ratio_vs_ffmpeg=round(sustained / max(1, ffmpeg_streams), 3),
            saturation_ratio_vs_ffmpeg_flat_out=round(
                sustained / flat_ref.realtime_streams(FPS), 3
            ),
        )
    return results


def main() -> None:
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="the whole run under 3 minutes")
    parser.add_argument(
        "--soak-s",
        type=float,
        default=None,
        help="soak length in seconds (default 120, 30 with --quick; the full soak is 1800)",
    )
    parser.add_argument(
        "--decoders",
        type=int,
        default=NETWORK_DECODERS,
        help=f"network decode processes (default {NETWORK_DECODERS})",
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the UI process over the 16-tile window"
    )
    args = parser.parse_args()
    Interrupted.install()
    started = time.monotonic()
    try:
        results = run(args)
    except KeyboardInterrupt:
        progress("interrupted: everything stopped and removed")
        sys.exit(130)
    results["run_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(results))


if __name__ == "__main__":
    main()

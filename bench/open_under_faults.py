"""Opening a wall while some cameras are silent: with and without the RTSP probe.

OpenCV's FFmpeg capture opens one stream at a time per process, so a camera that accepts the
connection and never answers holds every other open in its decode process for the whole open
timeout (5 s). This opens ``--silent`` feeds of a silent camera (tests.rtsp.fixtures'
SilentServer) and then ``--healthy`` feeds of the test RTSP server's 640x360 mount, all in ONE
decode process, and times each healthy feed from its OpenFeed to its first frame in shared
memory; once with the probe (as shipped), once with ``_Feed._probe`` switched off in the child.
It also times the probe of a healthy stream and of a wrong password, and a wrong password
from OpenFeed to the AUTH_FAILED report.

Needs the test RTSP server (Debian's python3-gi, GStreamer, ffmpeg: ``make system-packages``).
Run from the repository root: ``.venv/bin/python -m bench.open_under_faults``. Prints one JSON
object on its last line.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from app.video import decode_process
from app.video.decode_process import NETWORK_PROTOCOLS, decode_main
from app.video.feed_state import CloseFeed, DecoderCommand, FeedStatus, OpenFeed
from app.video.frame_exchange import FrameExchange
from app.video.rtsp_probe import probe_rtsp
from tests.rtsp.fixtures import (
    RtspServer,
    SilentServer,
    StandardPaths,
    make_clips,
    standard_mounts,
)

SIZE = 640, 360
LIMIT_S = 60.0  # a healthy feed with no frame by then counts as LIMIT_S


def _no_probe(_feed: decode_process._Feed) -> None:
    return None


def decode_main_without_probe(commands: Connection, reports: Connection, protocols: str) -> None:
    """The decode process as it was before the probe: every open goes straight to FFmpeg."""
    decode_process._Feed._probe = _no_probe  # type: ignore[method-assign,assignment]
    decode_main(commands, reports, protocols)


class Decoder:
    """One decode process, driven directly (no leases, no supervisor)."""

    def __init__(self, probe: bool) -> None:
        context = multiprocessing.get_context("spawn")
        parent_commands, child_commands = context.Pipe(duplex=False)[::-1]
        parent_reports, child_reports = context.Pipe(duplex=False)
        self.commands, self.reports = parent_commands, parent_reports
        self.process = context.Process(
            target=decode_main if probe else decode_main_without_probe,
            args=(child_commands, child_reports, NETWORK_PROTOCOLS),
            daemon=True,
        )
        self.process.start()
        child_commands.close()
        child_reports.close()
        self.exchanges: dict[str, FrameExchange] = {}
        self.states: dict[str, list[tuple[float, FeedStatus, str]]] = {}

    def send(self, command: DecoderCommand | None) -> None:
        self.commands.send(command)

    def open(self, feed_id: str, url: str) -> None:
        exchange = FrameExchange.create(*SIZE)
        self.exchanges[feed_id] = exchange
        self.send(OpenFeed(feed_id, url, exchange.name, *SIZE, *SIZE, [], False))

    def close(self, feed_id: str) -> None:
        self.send(CloseFeed(feed_id))

    def drain(self) -> None:
        while self.reports.poll():
            report = self.reports.recv()
            self.states.setdefault(report.feed_id, []).append(
                (time.monotonic(), report.state.status, report.state.detail)
            )

    def first_frames(self, feed_ids: list[str], started: float, limit_s: float) -> list[float]:
        """Seconds from ``started`` to each feed's first frame (``limit_s`` if none came)."""
        arrived: dict[str, float] = {}
        while len(arrived) < len(feed_ids) and time.monotonic() - started < limit_s:
            self.drain()
            for feed_id in feed_ids:
                if feed_id not in arrived and self.exchanges[feed_id].read() is not None:
                    arrived[feed_id] = time.monotonic() - started
            time.sleep(0.01)
        return [round(arrived.get(feed_id, limit_s), 3) for feed_id in feed_ids]

    def stop(self) -> None:
        self.send(None)
        self.process.join(15)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(2)
        for exchange in self.exchanges.values():
            exchange.unlink()


def warm_up(decoder: Decoder, url: str) -> None:
    """Wait until the process has imported cv2 and opened one stream, so that its start-up
    does not count."""
    decoder.open("warm-up", url)
    decoder.first_frames(["warm-up"], time.monotonic(), 30.0)
    decoder.close("warm-up")


def open_wall(
    probe: bool, healthy_url: str, silent_url: str, healthy: int, silent: int
) -> dict[str, Any]:
    decoder = Decoder(probe)
    try:
        warm_up(decoder, healthy_url)
        started = time.monotonic()
        for number in range(silent):
            decoder.open(f"silent-{number}", silent_url)
        healthy_ids = [f"healthy-{number}" for number in range(healthy)]
        for feed_id in healthy_ids:
            decoder.open(feed_id, healthy_url)
        times = decoder.first_frames(healthy_ids, started, LIMIT_S)
        silent_ids = [f"silent-{number}" for number in range(silent)]
        while time.monotonic() - started < LIMIT_S and not all(
            any(status is not FeedStatus.CONNECTING for _, status, _ in decoder.states.get(f, []))
            for f in silent_ids
        ):
            decoder.drain()
            time.sleep(0.01)
        silent_states = [decoder.states.get(feed_id, []) for feed_id in silent_ids]
        first_verdicts = [
            next(
                (
                    (round(at - started, 3), detail)
                    for at, status, detail in states
                    if status is not FeedStatus.CONNECTING
                ),
                None,
            )
            for states in silent_states
        ]
        return {
            "first_frame_s": times,
            "first_frame_median_s": round(statistics.median(times), 3),
            "first_frame_max_s": max(times),
            "healthy_without_a_frame": sum(t >= LIMIT_S for t in times),  # counted as LIMIT_S
            "silent_first_report": first_verdicts,
        }
    finally:
        decoder.stop()


def auth_failed_report(url: str, healthy_url: str) -> float:
    """Seconds from OpenFeed (process warm) to the AUTH_FAILED report."""
    decoder = Decoder(True)
    try:
        warm_up(decoder, healthy_url)
        started = time.monotonic()
        decoder.open("bad", url)
        while time.monotonic() - started < 30:
            decoder.drain()
            if any(s is FeedStatus.AUTH_FAILED for _, s, _ in decoder.states.get("bad", [])):
                return round(time.monotonic() - started, 4)
            time.sleep(0.002)
        return float("nan")
    finally:
        decoder.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--healthy", type=int, default=8)
    parser.add_argument("--silent", type=int, default=4)
    parser.add_argument("--probes", type=int, default=50, help="probes to time per case")
    args = parser.parse_args()
    clips = make_clips(Path(tempfile.mkdtemp(prefix="bench-clips-")))
    with RtspServer(standard_mounts(clips)) as server, SilentServer() as silent:
        healthy_url = server.url(StandardPaths.SUB)
        bad_url = server.url_with_credentials(StandardPaths.SECURE, password="Bad-pass1")
        probe_rtsp(healthy_url)  # the mount's pipeline starts with its first client
        healthy_probes = [probe_rtsp(healthy_url).elapsed_s for _ in range(args.probes)]
        auth_probes = [probe_rtsp(bad_url).elapsed_s for _ in range(args.probes)]
        results: dict[str, Any] = {
            "probe_healthy_median_ms": round(statistics.median(healthy_probes) * 1000, 2),
            "probe_healthy_max_ms": round(max(healthy_probes) * 1000, 2),
            "probe_wrong_password_median_ms": round(statistics.median(auth_probes) * 1000, 2),
            "open_to_auth_failed_report_s": auth_failed_report(bad_url, healthy_url),
            "healthy": args.healthy,
            "silent": args.silent,
        }
        for probe in (True, False):
            name = "with_probe" if probe else "without_probe"
            results[f"{name}_no_faults"] = open_wall(probe, healthy_url, silent.url(), 8, 0)
            results[name] = open_wall(probe, healthy_url, silent.url(), args.healthy, args.silent)
            print(name, json.dumps(results[name]), flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()

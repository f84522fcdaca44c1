"""The ceiling of an OpenCV decoder on this machine: live streams decoded as the console's decode
processes decode them, with nothing else running. No console that decodes with OpenCV can show
more live tiles than this sustains.

``processes`` processes, a thread per stream, each a ``VideoCapture`` with the console's capture
options and one decoding thread (as in ``app.video.decode_process``), doing per frame only:

- ``read``: ``VideoCapture.read`` (FFmpeg decodes, converts to full-size BGR, OpenCV copies the
  picture out);
- ``tile``: that, then the picture fitted to a wall tile and made BGRX
  (``bench.decode_paths.console_tile``), the least a decode process does before a tile can
  show the frame.

A stream's rate is its frames over the window after ``warmup_s`` (connecting, the first key
frame), as ``bench.ffmpeg_reference.stream_rates`` measures ffmpeg's.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from multiprocessing.connection import Connection

from bench.ffmpeg_reference import sustained_streams

WORKS = ("read", "tile")


def _rate(times: list[float]) -> float:
    if len(times) < 2 or times[-1] <= times[0]:
        return 0.0
    return (len(times) - 1) / (times[-1] - times[0])


def _decode_process(
    url: str, streams: int, work: str, measure_from: float, until: float, results: Connection
) -> None:
    from app.video.decode_process import NETWORK_PROTOCOLS, capture_options

    os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = capture_options(NETWORK_PROTOCOLS)
    import cv2

    from bench.decode_paths import console_tile

    cv2.setNumThreads(1)  # as decode_main does

    frame_times: list[list[float]] = [[] for _ in range(streams)]

    def decode(index: int) -> None:
        capture = cv2.VideoCapture(url, cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
        image = None
        times = frame_times[index]
        try:
            while True:
                ok, image = capture.read(image)
                if not ok:
                    return
                if work == "tile":
                    console_tile(image)
                done_at = time.monotonic()
                if done_at >= until:
                    return
                if done_at >= measure_from:
                    times.append(done_at)
        finally:
            capture.release()

    threads = [threading.Thread(target=decode, args=(index,)) for index in range(streams)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.send([_rate(times) for times in frame_times])
    results.close()


def stream_rates(
    url: str, streams: int, work: str, processes: int, seconds: float, warmup_s: float
) -> list[float]:
    """Decode ``streams`` live streams of ``url`` at once for ``seconds`` of wall time, spread
    over ``processes`` processes; each stream's frames per second after ``warmup_s``."""
    if work not in WORKS:
        raise ValueError(f"work must be one of {WORKS}")
    context = multiprocessing.get_context("spawn")
    started = time.monotonic()
    runs = []
    for number in range(processes):
        count = streams // processes + (1 if number < streams % processes else 0)
        if not count:
            continue
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(
            target=_decode_process,
            args=(url, count, work, started + warmup_s, started + seconds, sender),
        )
        process.start()
        sender.close()
        runs.append((process, receiver, count))
    rates: list[float] = []
    for process, receiver, count in runs:
        # A process that died sends nothing: its streams count as not kept up.
        try:
            rates += receiver.recv() if receiver.poll(seconds + 60) else [0.0] * count
        except EOFError:
            rates += [0.0] * count
        process.join(timeout=10)
    return rates


def opencv_sustained(
    url: str,
    work: str,
    processes: int,
    counts: list[int],
    seconds: float,
    warmup_s: float,
    needed_fps: float,
    refine: bool = False,
) -> tuple[int, dict[str, float]]:
    """The most live streams of ``url`` that OpenCV alone decodes (and, for ``tile``, fits to a
    tile) at ``needed_fps`` or better each; and each count's slowest rate."""

    def rates_for(count: int) -> list[float]:
        return stream_rates(url, count, work, processes, seconds, warmup_s)

    return sustained_streams(rates_for, counts, needed_fps, refine)

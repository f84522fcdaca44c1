"""The reference every video benchmark compares against: ffmpeg decoding on this machine, now.

``ffmpeg -threads 1 ... -f null -`` per stream, several at once, measured in the same run as
the thing compared (machines and loads differ from run to run, ratios hold).
"""

from __future__ import annotations

import re
import resource
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_FRAME = re.compile(r"^frame=(\d+)$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class DecodeReference:
    processes: int
    frames: int
    wall_s: float
    cpu_s: float

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.wall_s

    @property
    def cpu_s_per_frame(self) -> float:
        return self.cpu_s / self.frames

    def realtime_streams(self, stream_fps: float) -> float:
        """How many streams of ``stream_fps`` this throughput decodes in real time."""
        return self.frames_per_s / stream_fps


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def decode_flat_out(source: str, processes: int, loops: int = 1) -> DecodeReference:
    """Decode ``source`` (a file or URL) in ``processes`` ffmpeg processes at full speed."""
    command = ["ffmpeg", "-nostdin", "-loglevel", "error", "-threads", "1"]
    if loops > 1 and not source.startswith("rtsp"):
        command += ["-stream_loop", str(loops - 1)]
    command += ["-i", source, "-f", "null", "-", "-progress", "pipe:1", "-nostats"]
    cpu_before = _children_cpu()
    started = time.perf_counter()
    runs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for _ in range(processes)
    ]
    frames = 0
    for run in runs:
        output, _ = run.communicate()
        counts = _FRAME.findall(output)
        frames += int(counts[-1]) if counts else 0
    wall = time.perf_counter() - started
    return DecodeReference(processes, frames, wall, _children_cpu() - cpu_before)


def decode_streams(urls: list[str], seconds: float) -> DecodeReference:
    """Decode live streams for ``seconds`` each, all at once (RTSP over TCP)."""
    command = [
        "ffmpeg",
        "-nostdin",
        "-loglevel",
        "error",
        "-threads",
        "1",
        "-rtsp_transport",
        "tcp",
    ]
    cpu_before = _children_cpu()
    started = time.perf_counter()
    runs = [
        subprocess.Popen(
            [*command, "-i", url, "-t", str(seconds), "-f", "null", "-", "-progress", "pipe:1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for url in urls
    ]
    frames = 0
    for run in runs:
        output, _ = run.communicate(timeout=seconds + 60)
        counts = _FRAME.findall(output)
        frames += int(counts[-1]) if counts else 0
    return DecodeReference(
        len(urls), frames, time.perf_counter() - started, _children_cpu() - cpu_before
    )


def stream_rates(url: str, streams: int, seconds: float, warmup_s: float) -> list[float]:
    """Run ``streams`` ffmpeg decoders on the live ``url`` at once for ``seconds`` of wall time;
    each one's frames per second after ``warmup_s`` (connecting, the first keyframe)."""
    command = [
        "ffmpeg",
        *("-nostdin", "-loglevel", "error", "-threads", "1", "-rtsp_transport", "tcp"),
        *("-i", url, "-f", "null", "-", "-progress", "pipe:1", "-stats_period", "0.5"),
    ]
    runs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for _ in range(streams)
    ]
    samples: list[list[tuple[float, int]]] = [[] for _ in runs]

    def follow(index: int) -> None:
        stdout = runs[index].stdout
        assert stdout is not None
        for line in stdout:
            if line.startswith("frame="):
                samples[index].append((time.monotonic(), int(line[6:])))

    readers = [threading.Thread(target=follow, args=(i,), daemon=True) for i in range(streams)]
    started = time.monotonic()
    for reader in readers:
        reader.start()
    time.sleep(seconds)  # a benchmark's measuring window, not synchronisation
    for run in runs:
        run.terminate()
    for run, reader in zip(runs, readers, strict=True):
        run.wait(timeout=10)
        reader.join(timeout=10)
    rates = []
    for points in samples:
        window = [(at, frame) for at, frame in points if at >= started + warmup_s]
        if len(window) < 2:
            rates.append(0.0)
            continue
        (first_at, first), (last_at, last) = window[0], window[-1]
        rates.append((last - first) / (last_at - first_at) if last_at > first_at else 0.0)
    return rates


def refine_between(kept_up: int, fell_short: int, keeps_up: Callable[[int], bool]) -> int:
    """The largest count that keeps up, between ``kept_up`` (which did) and ``fell_short``
    (which did not), found by halving the gap: a ramp's steps leave it to within one."""
    while fell_short - kept_up > 1:
        middle = (kept_up + fell_short) // 2
        if keeps_up(middle):
            kept_up = middle
        else:
            fell_short = middle
    return kept_up


def sustained_streams(
    rates_for: Callable[[int], list[float]],
    counts: list[int],
    needed_fps: float,
    refine: bool = False,
) -> tuple[int, dict[str, float]]:
    """The most live streams a decoder keeps up with, ``needed_fps`` or better each, trying
    ``counts`` in order until one falls short (then, with ``refine``, the counts between that
    one and the last that kept up); and each count's slowest rate. ``rates_for(count)`` runs
    ``count`` streams at once and returns each one's frames per second."""
    ramp: dict[str, float] = {}

    def keeps_up(count: int) -> bool:
        slowest = min(rates_for(count))
        ramp[str(count)] = round(slowest, 2)
        return slowest >= needed_fps

    sustained = 0
    for count in counts:
        if not keeps_up(count):
            if refine and sustained:
                sustained = refine_between(sustained, count, keeps_up)
            break
        sustained = count
    return sustained, ramp


def main() -> None:
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("clip", type=Path)
    parser.add_argument("--processes", type=int, default=4)
    args = parser.parse_args()
    reference = decode_flat_out(str(args.clip), args.processes, loops=2)
    print(
        json.dumps(
            {
                "processes": reference.processes,
                "frames_per_s": round(reference.frames_per_s, 1),
                "cpu_ms_per_frame": round(reference.cpu_s_per_frame * 1000, 3),
                "realtime_streams_at_15fps": round(reference.realtime_streams(15), 1),
            }
        )
    )


if __name__ == "__main__":
    main()

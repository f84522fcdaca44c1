"""The install check on a healthy 1080p15 stream: its wall time and the CPU it costs.

A full check (``InstallCheck.run``: audit, RTSP probe, open, first frame, a ``--duration`` s
stability run, judging) of the test RTSP server's looped 1080p15 H.264 mount, timed end to end;
its CPU is this process's (user + system) over the check's wall time, as a fraction of one
core. The RTSP server is a process of its own and not counted. As the reference, measured in the
same run on the same mount for the same time: ``ffmpeg -threads 1 ... -f null -`` (decodes every
frame, as the check does) and ``ffprobe -show_packets`` (reads the stream, decodes nothing).

Goals (issue 6): a full check with a 10 s stability run in at most 13 s, and at most 0.3 of one
core. Needs the test RTSP server (``make system-packages``). Run from the repository root:
``.venv/bin/python -m bench.verify``. Prints one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from app.services.audit_log import AuditLog
from app.services.clock import utc_now
from app.services.credentials import CredentialStore
from app.services.install_check import InstallCheck, Target
from tests.rtsp.fixtures import RtspServer, StandardPaths, make_clips, standard_mounts

GOAL_WALL_S = 13.0
GOAL_CPU_CORES = 0.3


def _own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_check(url: str, duration_s: float, data_dir: Path) -> dict[str, Any]:
    audit = AuditLog.open(data_dir / "audit.db", "bench")

    def no_keyring() -> CredentialStore:
        raise AssertionError("the healthy mount needs no password")

    try:
        check = InstallCheck(None, audit, no_keyring, utc_now)
        cpu_before, started = _own_cpu_s(), time.perf_counter()
        report = check.run(Target("url", url), "bench", streams=("main",), duration_s=duration_s)
        wall_s = time.perf_counter() - started
        cpu_s = _own_cpu_s() - cpu_before
    finally:
        audit.close()
    stream = report.to_dict()["streams"]["main"]
    return {
        "wall_s": round(wall_s, 2),
        "cpu_s": round(cpu_s, 3),
        "cpu_cores": round(cpu_s / wall_s, 3),
        "verdict": report.verdict.value,
        "frames": stream["frames"],
        "fps_measured": stream["fps_measured"],
        "keyframe_interval_s": stream["keyframe_interval_s"],
        "time_to_first_frame_ms": stream["time_to_first_frame_ms"],
        "bitrate_kbps": stream["bitrate_kbps"],
    }


def timed_reference(command: list[str]) -> dict[str, Any]:
    cpu_before, started = _children_cpu_s(), time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall_s = time.perf_counter() - started
    cpu_s = _children_cpu_s() - cpu_before
    return {
        "wall_s": round(wall_s, 2),
        "cpu_s": round(cpu_s, 3),
        "cpu_cores": round(cpu_s / wall_s, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=10.0, help="stability run, seconds")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-verify-"))
    clips = make_clips(work / "clips")
    seconds = str(args.duration)
    with RtspServer(standard_mounts(clips)) as server:
        url = server.url(StandardPaths.MAIN)  # 1920x1080, 15 frames/s, about 4 Mbit/s
        check = timed_check(url, args.duration, work)
        print("check", json.dumps(check), flush=True)
        ffmpeg = timed_reference(
            [
                *("ffmpeg", "-nostdin", "-loglevel", "error", "-threads", "1"),
                *("-rtsp_transport", "tcp", "-i", url, "-t", seconds, "-f", "null", "-"),
            ]
        )
        print("ffmpeg", json.dumps(ffmpeg), flush=True)
        ffprobe = timed_reference(
            [
                *("ffprobe", "-loglevel", "error", "-rtsp_transport", "tcp"),
                *("-read_intervals", f"%+{seconds}", "-select_streams", "v", "-show_packets"),
                url,
            ]
        )
        print("ffprobe", json.dumps(ffprobe), flush=True)
    results = {
        "duration_s": args.duration,
        "check": check,
        "check_wall_s": check["wall_s"],
        "check_wall_goal_s": GOAL_WALL_S,
        "check_cpu_cores": check["cpu_cores"],
        "check_cpu_goal_cores": GOAL_CPU_CORES,
        "ffmpeg_decode_1_thread": ffmpeg,
        "ffprobe_packets": ffprobe,
        "check_cpu_vs_ffmpeg_decode": round(check["cpu_cores"] / ffmpeg["cpu_cores"], 2),
        "goals_met": check["wall_s"] <= GOAL_WALL_S and check["cpu_cores"] <= GOAL_CPU_CORES,
    }
    print(json.dumps(results))


if __name__ == "__main__":
    main()

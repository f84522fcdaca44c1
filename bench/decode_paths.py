"""Decode-to-tile paths, per frame, on one core: what a 1080p frame costs from the file to a
wall tile's BGRX picture, against ``ffmpeg -threads 1`` decoding the same file in the same run.

Measures the console's own path (OpenCV's ``VideoCapture.read``, which converts every frame to
full-size BGR and copies it out, then ``app.video.scaling.fit_within`` and BGRX) and, when PyAV
is importable, the paths a PyAV decoder would allow:

- ``pyav_swscale_tile``: FFmpeg's swscale converts and scales in one pass (``to_ndarray`` at the
  tile's size);
- ``pyav_planes_tile``: the decoded YUV 4:2:0 planes shrunk with OpenCV (the luma plane takes
  OpenCV's fast one-channel path, the chroma planes are a quarter of its size), then converted
  to BGRX at the tile's size.

The console decodes with OpenCV (the chosen stack); this benchmark is the evidence for the
decision to change that or not. Run it where PyAV is installed to see all the paths, e.g. a
scratch virtualenv with ``av``, ``numpy`` and this project's OpenCV:

    .venv/bin/python -m bench.decode_paths
    PYTHONPATH=. /tmp/pyav-venv/bin/python -m bench.decode_paths

Prints one JSON object on its last line: milliseconds of CPU per frame for each path (the
lowest of the rounds), and each path's ratio to ffmpeg's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from app.video.scaling import downscale, fit_within
from bench.ffmpeg_reference import decode_flat_out

TILE = (388, 218)  # a 4x4 wall tile's picture in a 1920x1080 window, between the overlay strips
SIZE = (1920, 1080)
FPS = 15


def make_clip(path: Path, seconds: int) -> None:
    subprocess.run(
        [
            *("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y"),
            *("-f", "lavfi", "-i", f"testsrc2=size={SIZE[0]}x{SIZE[1]}:rate={FPS}"),
            *("-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast"),
            *("-g", str(FPS), "-bf", "0", "-pix_fmt", "yuv420p", str(path)),
        ],
        check=True,
    )


def opencv_ms(clip: Path, frames: int, work: Callable[[Any], object]) -> float:
    capture = cv2.VideoCapture(str(clip), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
    image = None
    done = 0
    started = time.process_time()
    while done < frames:
        ok, image = capture.read(image)
        if not ok:
            capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            continue
        work(image)
        done += 1
    capture.release()
    return (time.process_time() - started) / done * 1000


def console_tile(image: Any) -> Any:
    return cv2.cvtColor(fit_within(cv2, image, TILE), cv2.COLOR_BGR2BGRA)


def pyav_ms(av: Any, clip: Path, frames: int, work: Callable[[Any], object]) -> float:
    done = 0
    started = time.process_time()
    while done < frames:
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "NONE"  # one thread per feed, as the console decodes
            for frame in container.decode(stream):
                work(frame)
                done += 1
                if done >= frames:
                    break
    return (time.process_time() - started) / done * 1000


def planes_tile(frame: Any) -> Any:
    width, height = TILE
    shrunk = []
    for index, plane in enumerate(frame.planes[:3]):
        scale = 1 if index == 0 else 2  # 4:2:0: the chroma planes are half as wide and high
        rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
        visible = rows[: frame.height // scale, : frame.width // scale]
        shrunk.append(downscale(cv2, visible, (width // scale, height // scale)).ravel())
    i420 = np.concatenate(shrunk).reshape(height * 3 // 2, width)
    return cv2.cvtColor(i420, cv2.COLOR_YUV2BGRA_I420)


def swscale_tile(frame: Any) -> Any:
    return frame.to_ndarray(width=TILE[0], height=TILE[1], format="bgra", interpolation="AREA")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300, help="frames per path and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    try:
        import av
    except ImportError:
        av = None
    paths: dict[str, Callable[[Path], float]] = {
        "opencv_read": lambda clip: opencv_ms(clip, args.frames, lambda image: None),
        "opencv_console_tile": lambda clip: opencv_ms(clip, args.frames, console_tile),
    }
    if av is not None:
        paths |= {
            "pyav_decode": lambda clip: pyav_ms(av, clip, args.frames, lambda frame: None),
            "pyav_swscale_tile": lambda clip: pyav_ms(av, clip, args.frames, swscale_tile),
            "pyav_planes_tile": lambda clip: pyav_ms(av, clip, args.frames, planes_tile),
        }
    with tempfile.TemporaryDirectory(prefix="beacon-decode-paths-") as directory:
        clip = Path(directory) / "main-1080p.mp4"
        make_clip(clip, seconds=args.frames // FPS + 1)
        rounds: dict[str, list[float]] = {name: [] for name in ["ffmpeg", *paths]}
        for number in range(args.rounds):  # interleaved: a busy moment hits every path alike
            rounds["ffmpeg"].append(1000 * decode_flat_out(str(clip), processes=1).cpu_s_per_frame)
            for name, measure in paths.items():
                rounds[name].append(measure(clip))
            latest = ", ".join(f"{name} {values[-1]:.2f}" for name, values in rounds.items())
            print(f"round {number + 1}: {latest}")
    best = {name: round(min(values), 3) for name, values in rounds.items()}
    result: dict[str, object] = {
        "tile": f"{TILE[0]}x{TILE[1]}",
        "ms_per_frame": best,
        "ratio_vs_ffmpeg": {name: round(ms / best["ffmpeg"], 3) for name, ms in best.items()},
        "pyav": None if av is None else av.__version__,
        "opencv": cv2.__version__,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Is an uploaded file video? ffprobe reads its plaintext from a pipe (it never touches the disk
unencrypted) and answers with the container, the first video stream's codec and size, and the
duration; anything else (a program renamed .mp4, an archive, a web page, a still picture, sound
only) is refused with the reason in words the owner can act on.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# Formats ffprobe reports for single pictures: a photo is not footage.
STILL_IMAGE_FORMATS = frozenset({"image2", "gif", "apng", "webp_pipe", "png_pipe", "svg_pipe"})
_SHOWN = "format=format_name,duration:stream=codec_type,codec_name,width,height,duration"


class NotVideo(Exception):
    """The file is not video this server can keep; the message says why."""


@dataclass(frozen=True, slots=True)
class MediaInfo:
    container: str
    codec: str
    width: int
    height: int
    duration_s: float | None


def _ffprobe() -> str:
    found = shutil.which("ffprobe")
    if found is None:
        raise NotVideo(
            "the server cannot check video files (ffprobe is not installed); tell the agency"
        )
    return found


def _feed(stdin: Any, chunks: Iterable[bytes]) -> None:
    """Write the plaintext to ffprobe until it has read enough (it closes the pipe early)."""
    with contextlib.suppress(OSError, ValueError):
        try:
            for chunk in chunks:
                stdin.write(chunk)
        finally:
            stdin.close()


def probe_video(chunks: Iterable[bytes], timeout_s: float) -> MediaInfo:
    """What the video in ``chunks`` is, or NotVideo; ffprobe is killed after ``timeout_s``."""
    command = [_ffprobe(), "-v", "error", "-show_entries", _SHOWN, "-of", "json", "-i", "pipe:0"]
    process = subprocess.Popen(  # noqa: S603 (a fixed command; the data goes to its stdin)
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    stdin, process.stdin = process.stdin, None  # the feeder owns it: communicate only reads
    feeder = threading.Thread(target=_feed, args=(stdin, chunks), daemon=True)
    feeder.start()
    try:
        output, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        process.kill()
        process.communicate()
        raise NotVideo(
            f"checking the file took longer than {timeout_s:g} s; it does not look like a "
            "video file we can read"
        ) from exc
    finally:
        feeder.join(timeout=timeout_s)
    if process.returncode != 0:
        raise NotVideo("it is not a video file we can read")
    return _media_info(output)


def _media_info(output: bytes) -> MediaInfo:
    try:
        report = json.loads(output)
        container = str(report["format"]["format_name"])
        streams = [s for s in report.get("streams", []) if s.get("codec_type") == "video"]
    except (ValueError, KeyError, TypeError) as exc:
        raise NotVideo("it is not a video file we can read") from exc
    if not streams:
        raise NotVideo("it has no video in it")
    if container in STILL_IMAGE_FORMATS or container.endswith("_pipe"):
        raise NotVideo("it is a picture, not video")
    stream = streams[0]
    duration = _number(report["format"].get("duration")) or _number(stream.get("duration"))
    return MediaInfo(
        container=container[:100],
        codec=str(stream.get("codec_name", "unknown"))[:64],
        width=int(stream.get("width") or 0),
        height=int(stream.get("height") or 0),
        duration_s=duration,
    )


def _number(value: object) -> float | None:
    try:
        number = float(str(value))
    except ValueError:
        return None
    return number if number > 0 else None

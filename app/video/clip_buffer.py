"""The last seconds of a feed as the wall showed it, kept for export as an evidence clip.

Each frame a feed delivers (fitted to its tile, privacy masks already applied) is kept as a JPEG
of at most 960x540, for ``seconds`` and within ``max_bytes``, the oldest dropped first. Measured
here: 0.4 ms and 19 KiB a frame at 640x360, 0.8 ms and 30 KiB at 960x540 (quality 85); 30 s at
15 frames/s of a 640x360 tile is about 9 MB, against 300 MB as raw pixels.

``write_mp4`` turns a snapshot of the buffer into an MP4 at the frames' own rate. Times when the
feed showed nothing (a hidden tile, a reconnect) are cut, not filled with a frozen picture:
evidence must not show a scene as still when nobody was watching it.
"""

from __future__ import annotations

import itertools
import os
import shutil
import statistics
import struct
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.video.scaling import fit_within

MAX_SIZE = (960, 540)
JPEG_QUALITY = 85
MAX_BYTES = 64 * 1024 * 1024
# H.264 where this OpenCV can encode it, else MPEG-4 Part 2, which every build writes. The
# opencv-python wheels' FFmpeg has no software H.264 encoder, only V4L2's memory-to-memory one,
# which needs a hardware encoder device: workstations have none, so "avc1" fails there.
MP4_CODECS = ("avc1", "mp4v")
# Less free than this after a write failed: the write filled the disk.
_FULL_DISK_BYTES = 1024 * 1024


class ClipWriteError(Exception):
    """No clip was written; the message says why, in the operator's words."""


@dataclass(frozen=True, slots=True)
class BufferedFrame:
    shown_at_ns: int  # time.monotonic_ns() when the feed delivered it
    jpeg: bytes
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class WrittenClip:
    frames: int
    seconds: float
    width: int
    height: int


class ClipBuffer:
    """The feed's thread adds frames; the decode process's command loop takes snapshots."""

    def __init__(self, cv2: Any, seconds: float, max_bytes: int = MAX_BYTES) -> None:
        self.seconds = seconds
        self.max_bytes = max_bytes
        self._cv2 = cv2
        self._frames: deque[BufferedFrame] = deque()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def add(self, image: Any, shown_at_ns: int) -> None:
        """Keep ``image`` (BGR, as shown), then drop what is too old or over the byte cap."""
        cv2 = self._cv2
        image = fit_within(cv2, image, MAX_SIZE)
        _, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        height, width = image.shape[:2]
        frame = BufferedFrame(shown_at_ns, encoded.tobytes(), width, height)
        with self._lock:
            self._frames.append(frame)
            self._bytes += len(frame.jpeg)
            self._trim(shown_at_ns)

    def frames(self, now_ns: int) -> list[BufferedFrame]:
        """The frames shown in the last ``seconds`` before ``now_ns``, oldest first."""
        with self._lock:
            self._trim(now_ns)
            return list(self._frames)

    def _trim(self, now_ns: int) -> None:
        oldest = now_ns - round(self.seconds * 1e9)
        frames = self._frames
        while frames and (frames[0].shown_at_ns < oldest or self._bytes > self.max_bytes):
            self._bytes -= len(frames.popleft().jpeg)


def frame_rate(frames: list[BufferedFrame]) -> float:
    """Frames per second from the median gap between frames, so that gaps where the feed showed
    nothing do not slow the clip down; 1 for a single frame."""
    gaps = [b.shown_at_ns - a.shown_at_ns for a, b in itertools.pairwise(frames)]
    positive = [gap for gap in gaps if gap > 0]
    if not positive:
        return 1.0
    # Two decimals: OpenCV derives the MPEG-4 time base from the rate, which must stay < 65536.
    return round(min(max(1e9 / statistics.median(positive), 1.0), 120.0), 2)


def write_mp4(cv2: Any, frames: list[BufferedFrame], path: str) -> WrittenClip:
    """Write ``frames`` (not empty) as an MP4 into ``path``, a file the requester created.

    If the requester removed ``path`` meanwhile (it gave up waiting), nothing is left behind.
    Raises ClipWriteError.
    """
    try:
        reserved = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise ClipWriteError("the export was given up before the clip was written") from None
    try:
        clip = _encode(cv2, frames, path)
        if os.stat(path).st_ino != os.fstat(reserved).st_ino:
            os.unlink(path)  # made by the writer after the requester's file was removed
            raise ClipWriteError("the export was given up before the clip was written")
        return clip
    except OSError as exc:
        raise ClipWriteError(_why_unwritten(path)) from exc
    finally:
        os.close(reserved)


def _encode(cv2: Any, frames: list[BufferedFrame], path: str) -> WrittenClip:
    newest = frames[-1]
    size = (max(2, newest.width & ~1), max(2, newest.height & ~1))  # both codecs want even sizes
    fps = frame_rate(frames)
    writer = _open_writer(cv2, path, fps, size)
    try:
        for frame in frames:
            image = cv2.imdecode(np.frombuffer(frame.jpeg, np.uint8), cv2.IMREAD_COLOR)
            if (image.shape[1], image.shape[0]) != size:  # the tile was resized meanwhile
                image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            writer.write(image)
    finally:
        writer.release()
    if not is_complete_mp4(path):
        raise ClipWriteError(_why_unwritten(path))
    return WrittenClip(len(frames), round(len(frames) / fps, 3), *size)


def _open_writer(cv2: Any, path: str, fps: float, size: tuple[int, int]) -> Any:
    for codec in MP4_CODECS:
        writer = cv2.VideoWriter(path, cv2.CAP_FFMPEG, cv2.VideoWriter.fourcc(*codec), fps, size)
        if writer.isOpened():
            return writer
        writer.release()
    raise ClipWriteError(_why_unwritten(path))


def _why_unwritten(path: str) -> str:
    try:
        full = shutil.disk_usage(os.path.dirname(path) or ".").free < _FULL_DISK_BYTES
    except OSError:
        full = False
    if full:
        return "the disk is full; free disk space or choose another export folder"
    return "the MP4 file could not be written"


def is_complete_mp4(path: str) -> bool:
    """True if ``path`` is a whole MP4: top-level boxes that end where the file ends, among them
    the index (``moov``), which the muxer writes last. A write cut short fails this; OpenCV's
    VideoWriter does not say when its writes fail."""
    kinds: set[bytes] = set()
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        offset = 0
        while offset < size:
            file.seek(offset)
            header = file.read(16)
            if len(header) < 8:
                return False
            box_size, kind = struct.unpack(">I4s", header[:8])
            if box_size == 1 and len(header) == 16:  # a 64-bit size follows
                box_size = struct.unpack(">Q", header[8:])[0]
            elif box_size == 0:  # the box runs to the end of the file
                box_size = size - offset
            if box_size < 8:
                return False
            kinds.add(kind)
            offset += box_size
    return offset == size and {b"ftyp", b"moov", b"mdat"} <= kinds

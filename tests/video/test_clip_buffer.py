"""The clip buffer: bounded by time and by bytes, and written back as a real MP4."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.video.clip_buffer import (
    MAX_SIZE,
    BufferedFrame,
    ClipBuffer,
    ClipWriteError,
    frame_rate,
    is_complete_mp4,
    write_mp4,
)

SECOND = 1_000_000_000
FRAME_NS = SECOND // 15


def picture(number: int, size: tuple[int, int] = (320, 180)) -> np.ndarray:
    """Grey with a white bar that moves: every frame differs, as a live feed's do."""
    image = np.full((size[1], size[0], 3), 96, np.uint8)
    image[:, (number * 7) % size[0]] = 255
    return image


def filled(seconds: float, frames: int, max_bytes: int = 64 * 1024 * 1024) -> ClipBuffer:
    buffer = ClipBuffer(cv2, seconds, max_bytes)
    for number in range(frames):
        buffer.add(picture(number), number * FRAME_NS)
    return buffer


def reserved(tmp_path: Path, name: str = "clip.mp4") -> str:
    """The empty file the evidence export makes for the decoder to write into."""
    path = tmp_path / name
    path.touch()
    return str(path)


def read_back(path: str | Path) -> list[np.ndarray]:
    """Every frame of a video file, decoded."""
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    frames: list[np.ndarray] = []
    while True:
        ok, image = capture.read()
        if not ok:
            return frames
        frames.append(image)


def test_the_buffer_keeps_only_the_last_seconds():
    buffer = filled(seconds=2, frames=90)  # 6 s at 15 frames/s
    frames = buffer.frames(89 * FRAME_NS)
    assert len(frames) == 31, "2 s at 15 frames/s, both ends included"
    assert frames[0].shown_at_ns == 59 * FRAME_NS and frames[-1].shown_at_ns == 89 * FRAME_NS
    assert buffer.frames(89 * FRAME_NS + 3 * SECOND) == [], "a hidden tile's old frames expire"


def test_the_buffer_drops_its_oldest_frames_over_the_byte_cap():
    one = filled(seconds=60, frames=1).size_bytes
    buffer = filled(seconds=60, frames=40, max_bytes=10 * one)
    frames = buffer.frames(39 * FRAME_NS)
    assert buffer.size_bytes <= 10 * one
    assert 5 <= len(frames) <= 11
    assert frames[-1].shown_at_ns == 39 * FRAME_NS, "the newest frame is kept"


def test_frames_larger_than_960x540_are_kept_downscaled():
    buffer = ClipBuffer(cv2, 10)
    buffer.add(picture(1, (1920, 1080)), 0)
    buffer.add(picture(2, (1280, 1024)), FRAME_NS)
    sizes = [(frame.width, frame.height) for frame in buffer.frames(FRAME_NS)]
    assert sizes == [MAX_SIZE, (675, 540)]
    kept = cv2.imdecode(np.frombuffer(buffer.frames(FRAME_NS)[0].jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert kept is not None and kept.shape == (540, 960, 3)


def test_a_clip_is_a_real_mp4_at_the_frames_own_rate(tmp_path: Path):
    frames = filled(seconds=30, frames=45).frames(44 * FRAME_NS)
    path = reserved(tmp_path)
    clip = write_mp4(cv2, frames, path)
    assert (clip.frames, clip.width, clip.height) == (45, 320, 180)
    assert clip.seconds == pytest.approx(3.0, abs=0.01)
    assert is_complete_mp4(path)
    capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(15, abs=0.01)
    back = read_back(path)
    assert len(back) == 45
    assert abs(int(np.argmax(back[10][90, :, 0])) - 70) <= 1, "frame 10's bar is at x=70"


def test_gaps_are_cut_not_filled_with_a_frozen_picture():
    times = [0, 1, 2, 3, 40, 41, 42]  # in frame durations: the tile was hidden for 2.5 s
    frames = [BufferedFrame(t * FRAME_NS, b"", 320, 180) for t in times]
    assert frame_rate(frames) == pytest.approx(15, abs=0.01)
    assert frame_rate(frames[:1]) == 1.0


def test_frames_of_a_resized_tile_are_fitted_to_the_newest_size(tmp_path: Path):
    buffer = ClipBuffer(cv2, 30)
    for number in range(10):
        buffer.add(picture(number, (320, 180) if number < 5 else (641, 361)), number * FRAME_NS)
    path = reserved(tmp_path)
    clip = write_mp4(cv2, buffer.frames(9 * FRAME_NS), path)
    assert (clip.width, clip.height) == (640, 360), "even sizes, as the codecs want"
    assert [image.shape for image in read_back(path)] == [(360, 640, 3)] * 10


def test_a_cut_short_mp4_is_recognised(tmp_path: Path):
    path = reserved(tmp_path)
    write_mp4(cv2, filled(seconds=30, frames=15).frames(14 * FRAME_NS), path)
    whole = Path(path).read_bytes()
    for cut in (len(whole) - 1, len(whole) // 2, 20):
        Path(path).write_bytes(whole[:cut])
        assert not is_complete_mp4(path), f"cut at {cut} of {len(whole)} bytes"


def test_nothing_is_left_when_the_requester_gave_up(tmp_path: Path):
    frames = filled(seconds=30, frames=5).frames(4 * FRAME_NS)
    with pytest.raises(ClipWriteError, match="given up"):
        write_mp4(cv2, frames, str(tmp_path / "removed.mp4"))
    assert os.listdir(tmp_path) == []

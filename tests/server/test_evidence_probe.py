"""Is it video? ffprobe on real files made by ffmpeg, fed through a pipe as the vault feeds it."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.evidence_probe import NotVideo, probe_video


def _made(tmp_path: Path, name: str, *arguments: str) -> bytes:
    path = tmp_path / name
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *arguments, str(path)], check=True
    )
    return path.read_bytes()


def _chunks(data: bytes, size: int = 4096) -> Iterator[bytes]:
    return (data[i : i + size] for i in range(0, len(data), size))


def test_a_real_clip_is_described(video_clip: bytes):
    media = probe_video(_chunks(video_clip), 10)
    assert (media.codec, media.width, media.height) == ("h264", 320, 240)
    assert media.container.startswith("mov,mp4")
    assert media.duration_s == pytest.approx(3, abs=0.2)


def test_sound_without_pictures_is_not_footage(tmp_path: Path):
    sound = _made(tmp_path, "a.m4a", "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac")
    with pytest.raises(NotVideo, match="no video in it"):
        probe_video(_chunks(sound), 10)


def test_a_photo_is_not_footage(tmp_path: Path):
    photo = _made(tmp_path, "p.png", "-f", "lavfi", "-i", "testsrc", "-frames:v", "1")
    with pytest.raises(NotVideo, match="a picture, not video"):
        probe_video(_chunks(photo), 10)


def test_a_probe_that_hangs_is_stopped(video_clip: bytes):
    release = threading.Event()

    def stalled() -> Iterator[bytes]:
        yield video_clip[:100]  # the start of a real file, then nothing more ever comes
        release.wait(30)

    try:
        with pytest.raises(NotVideo, match=r"longer than 0\.5 s"):
            probe_video(stalled(), 0.5)
    finally:
        release.set()

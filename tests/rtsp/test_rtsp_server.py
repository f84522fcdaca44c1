"""The RTSP test server is real: OpenCV's FFmpeg backend opens it, reads frames of the right
size, is refused without the password, loses it on stop() and finds it again on restart()."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.rtsp.fixtures import (
    SECURE_PASSWORD,
    SECURE_USERNAME,
    HttpInsteadOfRtsp,
    Mount,
    RtspClips,
    RtspServer,
    RtspServerError,
    RtspServerFactory,
    SilentServer,
    StandardPaths,
    redact,
)

REPO = Path(__file__).resolve().parents[2]
TIMEOUT_MS = 3000
# Opening includes FFmpeg's stream analysis: about 2 s with its defaults.
OPEN_SECONDS = 5.0


@pytest.fixture(autouse=True)
def rtsp_over_tcp(monkeypatch: pytest.MonkeyPatch) -> None:
    """RTP over the RTSP connection (TCP), not UDP: on loopback UDP works for one client, but
    with 16 clients decoding 1080p on two cores the receive buffers overflow and frames arrive
    damaged. OpenCV reads this variable at every open."""
    monkeypatch.setenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")


@contextmanager
def capture(url: str, timeout_ms: int = TIMEOUT_MS) -> Iterator[cv2.VideoCapture]:
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        timeout_ms,
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        timeout_ms,
    ]
    stream = cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)
    try:
        yield stream
    finally:
        stream.release()


def read_frame(stream: cv2.VideoCapture) -> np.ndarray:
    ok, frame = stream.read()
    assert ok, "no frame"
    return frame


def fails_within(url: str, seconds: float) -> bool:
    """Whether opening ``url`` and reading a frame fails, and does so within ``seconds``."""
    started = time.monotonic()
    with capture(url) as stream:
        failed = not stream.isOpened() or not stream.read()[0]
    return failed and time.monotonic() - started < seconds


@pytest.mark.parametrize(
    ("path", "size"),
    [
        (StandardPaths.MAIN, (1920, 1080)),
        (StandardPaths.SUB, (640, 360)),
        (StandardPaths.ONCE, (1920, 1080)),
        (StandardPaths.H265, (1920, 1080)),
        (StandardPaths.LIVE, (640, 360)),
    ],
)
def test_a_mount_opens_within_seconds_with_frames_of_its_size(
    rtsp_server: RtspServer, path: str, size: tuple[int, int]
) -> None:
    started = time.monotonic()
    with capture(rtsp_server.url(path)) as stream:
        assert stream.isOpened()
        frame = read_frame(stream)
        assert time.monotonic() - started < OPEN_SECONDS
        assert (frame.shape[1], frame.shape[0]) == size
        frames = [read_frame(stream) for _ in range(5)]
    assert all(f.shape == frame.shape for f in frames)
    assert any(not np.array_equal(f, frame) for f in frames), "the picture does not move"


def test_the_password_with_url_special_characters_opens_the_secure_mount(
    rtsp_server: RtspServer,
) -> None:
    url = rtsp_server.url_with_credentials(StandardPaths.SECURE)
    assert "p%25w%40d%21%3A@" in url  # percent-encoded, and GStreamer's side decodes it
    assert SECURE_PASSWORD not in repr(url) and "p%25" not in repr(url)
    with capture(url) as stream:
        assert stream.isOpened()
        assert read_frame(stream).shape == (360, 640, 3)


@pytest.mark.parametrize(
    "password", ["wrong", SECURE_PASSWORD[:-1], None], ids=["wrong", "almost", "none"]
)
def test_a_wrong_or_missing_password_fails_within_seconds(
    rtsp_server: RtspServer, password: str | None
) -> None:
    url = (
        rtsp_server.url(StandardPaths.SECURE)
        if password is None
        else rtsp_server.url_with_credentials(StandardPaths.SECURE, password=password)
    )
    assert fails_within(url, 5.0)


def test_a_password_opens_only_its_own_mount(rtsp_server_factory: RtspServerFactory, rtsp_clips):
    server = rtsp_server_factory(
        [
            Mount("/a", rtsp_clips.sub_stream, loop=True, username="ann", password="one"),
            Mount("/b", rtsp_clips.sub_stream, loop=True, username="bob", password="two"),
        ]
    )
    assert fails_within(server.url_with_credentials("/b", username="ann", password="one"), 5.0)
    with capture(server.url_with_credentials("/b")) as stream:
        assert stream.isOpened()


def test_urls_for_logs_never_carry_credentials(rtsp_server: RtspServer) -> None:
    plain = rtsp_server.url(StandardPaths.SECURE)
    assert "@" not in plain and SECURE_USERNAME not in plain
    secret = rtsp_server.url_with_credentials(StandardPaths.SECURE)
    assert repr(secret) == repr(plain.replace("rtsp://", "rtsp://***@"))
    assert redact(secret) == plain.replace("rtsp://", "rtsp://***@")
    assert SECURE_PASSWORD not in repr(rtsp_server) and SECURE_PASSWORD not in repr(
        rtsp_server.mounts[StandardPaths.SECURE]
    )


def test_stop_makes_reads_fail_and_restart_serves_the_same_url_again(
    rtsp_server: RtspServer,
) -> None:
    url = rtsp_server.url(StandardPaths.SUB)
    port = rtsp_server.port
    with capture(url) as stream:
        read_frame(stream)
        assert rtsp_server.stop() == 0  # a clean exit on SIGTERM, with a client streaming
        assert not rtsp_server.running
        # Frames already buffered may still come out; then reading fails (bounded by reads).
        assert not all(stream.read()[0] for _ in range(60))
        assert not stream.read()[0]

    rtsp_server.restart()
    assert rtsp_server.port == port
    assert rtsp_server.url(StandardPaths.SUB) == url
    with capture(url) as stream:
        assert stream.isOpened()
        assert read_frame(stream).shape == (360, 640, 3)


def test_the_server_goes_away_when_the_test_process_is_killed(rtsp_clips: RtspClips) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER.format(clip=str(rtsp_clips.sub_stream))],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        try:
            assert holder.stdout is not None
            server_pid = int(holder.stdout.readline())
            assert process_alive(server_pid)
        finally:
            holder.kill()  # no stop(), no finalizers: as a CI timeout would
    deadline = time.monotonic() + 10
    while process_alive(server_pid) and time.monotonic() < deadline:
        time.sleep(0.05)  # polling a real condition, bounded by the deadline
    assert not process_alive(server_pid)


HOLDER = """
import sys
from pathlib import Path
from tests.rtsp.fixtures import Mount, RtspServer
server = RtspServer([Mount("/m", Path({clip!r}), loop=True)])
server.start()
print(server.pid, flush=True)
sys.stdin.read()
"""


def process_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited; whoever adopted it has not reaped it yet


def test_a_silent_server_makes_the_open_give_up_within_its_timeout() -> None:
    with SilentServer() as silent:
        started = time.monotonic()
        with capture(silent.url()) as stream:
            opened = stream.isOpened()
        elapsed = time.monotonic() - started
        assert silent.connections_accepted >= 1
    assert not opened
    assert elapsed < TIMEOUT_MS / 1000 + 3.0


def test_http_instead_of_rtsp_is_refused_within_seconds() -> None:
    with HttpInsteadOfRtsp() as web:
        assert fails_within(web.url(), 5.0)
        assert web.connections_accepted >= 1


def test_a_server_that_cannot_start_says_why(rtsp_clips: RtspClips, tmp_path) -> None:
    server = RtspServer([Mount("/gone", tmp_path / "missing.mp4")])
    with pytest.raises(RtspServerError, match=r"no such clip file .*missing\.mp4"):
        server.start()
    assert not server.running


@pytest.mark.slow
def test_endless_mounts_keep_delivering_for_twenty_seconds(rtsp_server: RtspServer) -> None:
    """300 frames at 15 frames/s: 20 s of stream, twice the clip that the MAIN mount loops."""
    started = time.monotonic()
    with (
        capture(rtsp_server.url(StandardPaths.LIVE)) as live,
        capture(rtsp_server.url(StandardPaths.MAIN)) as looped,
    ):
        for _ in range(300):
            assert read_frame(live).shape == (360, 640, 3)
            assert read_frame(looped).shape == (1080, 1920, 3)
    # Paced in real time (not a burst of buffered frames): 300 frames take about 20 s.
    assert time.monotonic() - started > 15.0


@pytest.mark.slow
def test_the_resolution_change_mount_changes_size_mid_stream(rtsp_server: RtspServer) -> None:
    # Seen through ffmpeg, not cv2: OpenCV's FFmpeg backend keeps the first frame's size and
    # silently scales later frames to it, so cv2 never shows the change.
    url = rtsp_server.url(StandardPaths.RESOLUTION_CHANGE)
    command = ["ffmpeg", "-nostdin", "-hide_banner", "-rtsp_transport", "tcp", "-i", url]
    # 5 s of 640x360, then 1280x720: 7 s of stream cover the change.
    result = subprocess.run(
        [*command, "-t", "7", "-vf", "showinfo", "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    sizes: list[tuple[int, int]] = []
    for width, height in re.findall(r"\bs:(\d+)x(\d+)", result.stderr):
        if not sizes or sizes[-1] != (int(width), int(height)):
            sizes.append((int(width), int(height)))
    assert sizes == list(RtspClips.RESOLUTION_CHANGE_SIZES)


@pytest.mark.slow
def test_the_truncated_mount_stops_half_way(rtsp_server: RtspServer) -> None:
    with capture(rtsp_server.url(StandardPaths.TRUNCATED)) as stream:
        assert stream.isOpened()
        frames = 0
        while frames < 150 and stream.read()[0]:  # the whole clip would be 150 frames
            frames += 1
    assert 15 < frames < 120


@pytest.mark.slow
def test_sixteen_clients_of_the_1080p_clip_cost_the_server_little(
    rtsp_server: RtspServer,
) -> None:
    """The video wall benchmark runs 16 such streams on two cores: serving them must not take
    the CPU the decoders need (no re-encoding, one shared pipeline)."""
    url = rtsp_server.url(StandardPaths.MAIN)
    client = ["ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp"]
    started, cpu_before = time.monotonic(), rtsp_server.cpu_seconds()
    clients = [
        subprocess.Popen([*client, "-i", url, "-t", "6", "-c", "copy", "-f", "null", "-"])
        for _ in range(16)
    ]
    assert [c.wait(30) for c in clients] == [0] * 16
    share_of_a_core = (rtsp_server.cpu_seconds() - cpu_before) / (time.monotonic() - started)
    assert share_of_a_core < 0.5

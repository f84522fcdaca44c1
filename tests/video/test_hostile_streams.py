"""Streams from private recorders of every quality: the feed copes, says what happened, and
the decoder survives."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from app.video.decode_process import codec_to_blame
from app.video.feed_state import FeedStatus
from app.video.feed_supervisor import FeedHandle, FeedSupervisor
from tests.rtsp.fixtures import RtspServer, StandardPaths
from tests.video.conftest import LeaseFor, StateLog
from tests.video.test_feed_supervisor import assert_nothing_more_reported, next_frame


def frames_for(qtbot, handle: FeedHandle, count: int, timeout_ms: int) -> list[tuple[int, int]]:
    """Collect ``count`` frames' sizes (width, height)."""
    sizes: list[tuple[int, int]] = []

    def enough() -> bool:
        frame = handle.latest()
        if frame is not None:
            sizes.append((frame.image.shape[1], frame.image.shape[0]))
        return len(sizes) >= count

    qtbot.waitUntil(enough, timeout=timeout_ms)
    return sizes


@pytest.mark.slow
def test_a_resolution_change_mid_stream_keeps_the_feed_live(
    qtbot, supervisor: FeedSupervisor, lease_for: LeaseFor, rtsp_server: RtspServer
):
    handle = supervisor.open(
        lease_for(rtsp_server.url(StandardPaths.RESOLUTION_CHANGE)), "main", (640, 360)
    )
    # 5 s at 640x360, then 1280x720: 150 frames span the change at 15 fps
    sizes = frames_for(qtbot, handle, 120, 30_000)
    assert all(width <= 640 and height <= 360 for width, height in sizes), "fits the tile"
    assert handle.state.status is FeedStatus.LIVE
    assert supervisor.restarts == 0


@pytest.mark.slow
def test_a_corrupt_stream_keeps_delivering_without_crashing_the_decoder(
    qtbot, supervisor: FeedSupervisor, lease_for: LeaseFor, rtsp_server: RtspServer
):
    handle = supervisor.open(lease_for(rtsp_server.url(StandardPaths.CORRUPT)), "main", (640, 360))
    frames_for(qtbot, handle, 150, 30_000)  # past the corrupt chunks in the clip's second half
    assert handle.state.status is FeedStatus.LIVE
    assert supervisor.restarts == 0


@pytest.mark.slow
def test_a_truncated_stream_is_reported_and_retried(
    qtbot, supervisor: FeedSupervisor, lease_for: LeaseFor, rtsp_server: RtspServer
):
    handle = supervisor.open(
        lease_for(rtsp_server.url(StandardPaths.TRUNCATED)), "main", (640, 360)
    )
    frames_for(qtbot, handle, 10, 15_000)
    qtbot.waitUntil(lambda: handle.state.status is FeedStatus.RECONNECTING, timeout=20_000)
    assert handle.state.text.startswith("reconnecting (")
    qtbot.waitUntil(lambda: handle.state.status is FeedStatus.LIVE, timeout=20_000)
    assert handle.state.reconnects >= 1
    assert supervisor.restarts == 0


# --- a codec this FFmpeg cannot decode ----------------------------------------------------------


@pytest.fixture
def undecodable(tmp_path: Path) -> dict[str, Path]:
    """Files whose codec the opencv-python wheel's FFmpeg cannot decode.

    JPEG XL is the one codec Debian's ffmpeg decodes (libjxl) and the wheel's does not (its
    ``ffmpeg -decoders`` against the decoders of the wheel's libavcodec); FFmpeg gives it no
    four-character code. AVS2 has a code but no decoder in either, and ffmpeg cannot write it:
    an MPEG-4 AVI is labelled AVS2 in its headers, and FFmpeg, trusting the label, looks for an
    AVS2 decoder.
    """
    still = tmp_path / "still.jxl"
    labelled = tmp_path / "labelled-avs2.avi"
    mpeg4 = tmp_path / "mpeg4.avi"
    source = ("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=15")
    for arguments in (
        (*source, "-frames:v", "1", "-c:v", "libjxl", str(still)),
        (*source, "-t", "1", "-c:v", "mpeg4", "-vtag", "XVID", str(mpeg4)),
    ):
        subprocess.run(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *arguments], check=True
        )
    data = mpeg4.read_bytes()
    headers_end = data.index(b"movi")  # the label is in the stream's headers, before the data
    labelled.write_bytes(data[:headers_end].replace(b"XVID", b"AVS2") + data[headers_end:])
    return {"jpeg xl": still, "avs2": labelled}


@pytest.mark.parametrize(
    ("codec", "text"),
    [
        ("avs2", "stream lost: unsupported codec (avs2)"),
        ("jpeg xl", "stream lost: unsupported codec"),
    ],
)
def test_an_undecodable_codec_is_said_and_not_retried(
    qtbot,
    one_decoder: FeedSupervisor,
    state_log: StateLog,
    lease_for: LeaseFor,
    undecodable: dict[str, Path],
    clip: Path,
    codec: str,
    text: str,
):
    handle = one_decoder.open(lease_for(undecodable[codec].as_uri()), "main", (320, 240))
    qtbot.waitUntil(lambda: handle.state.status is FeedStatus.STREAM_LOST, timeout=10_000)
    assert handle.state.text == text
    # The answer cannot change by itself: no retries, each of which would hold every other
    # open of the decode process twice.
    assert_nothing_more_reported(qtbot, state_log, handle, 2000)
    assert [s.status for s in state_log.of(handle)] == [
        FeedStatus.CONNECTING,
        FeedStatus.STREAM_LOST,
    ]
    other = one_decoder.open(lease_for(clip.as_uri()), "main", (320, 240))
    next_frame(qtbot, other)  # the decode process carries on
    assert one_decoder.restarts == 0


def fourcc(code: str) -> int:
    return int.from_bytes(code.encode("latin-1"), "little")


@pytest.mark.parametrize(
    ("tag", "sdp", "url", "blamed"),
    [
        (fourcc("AVS2"), None, "file:///clips/a.avi", "AVS2"),
        (0, None, "file:///clips/a.jxl", ""),  # a file fails the same way each time
        (fourcc("h264"), "h264", "rtsp://cam.invalid/main", None),  # a 503 between two opens
        (fourcc("hevc"), None, "rtsp://cam.invalid/main", None),
        (fourcc("MJPG"), None, "file:///clips/a.avi", None),
        (0, None, "rtsp://cam.invalid/main", None),  # nothing names the codec: retry
        (0, "h265", "rtsp://cam.invalid/main", None),
        (0, "av2", "rtsp://cam.invalid/main", "av2"),  # the camera's SDP names it
    ],
)
def test_only_a_codec_this_ffmpeg_cannot_decode_is_blamed(tag, sdp, url, blamed):
    assert codec_to_blame(tag, sdp, url) == blamed

"""Streams from private recorders of every quality: the feed copes, says what happened, and
the decoder survives."""

from __future__ import annotations

import pytest

from app.video.feed_state import FeedStatus
from app.video.feed_supervisor import FeedHandle, FeedSupervisor
from tests.rtsp.fixtures import RtspServer, StandardPaths
from tests.video.conftest import LeaseFor


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

"""Stream health measured in the decoder: bitrate received, latency behind the camera's clock."""

from __future__ import annotations

import statistics
import time

from app.video.feed_state import FeedState, FeedStatus
from app.video.feed_supervisor import FeedSupervisor
from tests.rtsp.fixtures import CLIP_SECONDS, RtspClips, RtspServer, StandardPaths
from tests.video.conftest import LeaseFor, StateLog
from tests.video.test_feed_supervisor import next_frame


def live_states(state_log: StateLog, handle) -> list[FeedState]:
    return [state for state in state_log.of(handle) if state.status is FeedStatus.LIVE]


def test_a_live_rtsp_feed_reports_its_bitrate_and_latency(
    qtbot,
    one_decoder: FeedSupervisor,
    state_log: StateLog,
    lease_for: LeaseFor,
    rtsp_server: RtspServer,
    rtsp_clips: RtspClips,
):
    handle = one_decoder.open(lease_for(rtsp_server.url(StandardPaths.SUB)), "main", (640, 360))

    def measured() -> bool:
        states = live_states(state_log, handle)
        with_bitrate = [state for state in states if state.bitrate_kbps > 0]
        return len(with_bitrate) >= 3 and any(state.latency_ms is not None for state in states)

    # GStreamer sends its first RTCP sender report (the camera's clock) 1.6-1.9 s after PLAY.
    qtbot.waitUntil(measured, timeout=10_000)
    states = live_states(state_log, handle)
    clip_kbps = rtsp_clips.sub_stream.stat().st_size * 8 / 1000 / CLIP_SECONDS
    received = statistics.median(state.bitrate_kbps for state in states if state.bitrate_kbps)
    # RTP and RTSP interleaving add 1-2 %; a second's window holds 14-16 of the clip's frames.
    assert 0.85 * clip_kbps <= received <= 1.3 * clip_kbps
    latencies = [state.latency_ms for state in states if state.latency_ms is not None]
    # On loopback: the frame the H.264 parser waits for (67 ms at 15 frames/s) and decoding.
    assert all(0 <= latency < 500 for latency in latencies), latencies

    frame = next_frame(qtbot, handle)
    assert 0 < time.time_ns() - frame.source_time_ns < 1_000_000_000, "the camera's time, in ns"


def test_a_file_feed_has_no_camera_clock(
    qtbot, one_decoder: FeedSupervisor, state_log: StateLog, lease_for: LeaseFor, clip
):
    handle = one_decoder.open(lease_for(clip.as_uri()), "main", (320, 240))
    qtbot.waitUntil(lambda: len(live_states(state_log, handle)) >= 3, timeout=10_000)
    states = live_states(state_log, handle)
    assert all(state.latency_ms is None for state in states)
    assert states[-1].bitrate_kbps > 0, "the file's own bitrate"
    assert next_frame(qtbot, handle).source_time_ns == 0

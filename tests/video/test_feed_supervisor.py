from __future__ import annotations

import os
import signal
import time
from urllib.parse import quote

import pytest

from app.services.credentials import CameraCredentials
from app.services.policy_gate import LeaseEndedError, PolicyGate
from app.video.decode_process import PROBE_TIMEOUT_S
from app.video.feed_state import FeedStatus
from app.video.feed_supervisor import FeedHandle, FeedSupervisor
from app.video.frame_exchange import Frame
from tests.rtsp.fixtures import (
    SECURE_PASSWORD,
    SECURE_USERNAME,
    RtspServer,
    SilentServer,
    StandardPaths,
)
from tests.video.conftest import LeaseFor, StateLog


def next_frame(qtbot, handle: FeedHandle, timeout_ms: int = 10_000) -> Frame:
    got: list[Frame] = []

    def arrived() -> bool:
        frame = handle.latest()
        if frame is not None:
            got.append(frame)
        return bool(got)

    qtbot.waitUntil(arrived, timeout=timeout_ms)
    return got[0]


def test_file_feed_is_scaled_masked_and_paced(qtbot, supervisor, lease_for: LeaseFor, clip):
    lease = lease_for(clip.as_uri())
    lease.privacy_masks.append([[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]])
    handle = supervisor.open(lease, "main", (160, 160))
    frame = next_frame(qtbot, handle)
    assert frame.image.shape == (120, 160, 4), "fit inside the tile, aspect kept; BGRX"
    assert int(frame.image[..., 3].min()) == 255, "X is opaque: QImage.Format_RGB32 as it is"
    assert int(frame.image[:, :75, :3].max()) == 0, "privacy mask must black out the left half"
    assert int(frame.image[:, 85:].min()) >= 100
    qtbot.waitUntil(lambda: handle.state.status is FeedStatus.LIVE, timeout=5000)
    first = frame.number
    qtbot.waitUntil(
        lambda: (f := handle.latest()) is not None and f.number >= first + 15, timeout=5000
    )
    assert handle.state.width == 320 and handle.state.height == 240


def test_the_lease_ending_ends_the_feed(
    qtbot, supervisor, lease_for: LeaseFor, gate: PolicyGate, clip
):
    lease = lease_for(clip.as_uri())
    handle = supervisor.open(lease, "sub", (320, 240))
    next_frame(qtbot, handle)
    gate.close(lease, "closed_by_operator")
    assert handle.state.status is FeedStatus.ENDED
    assert handle.state.text == "ended: closed_by_operator"
    assert handle not in supervisor.handles()
    with pytest.raises(LeaseEndedError):
        supervisor.open(lease)


def test_rtsp_feed_reconnects_after_the_server_returns(
    qtbot, supervisor, lease_for: LeaseFor, rtsp_server: RtspServer
):
    handle = supervisor.open(lease_for(rtsp_server.url(StandardPaths.SUB)), "main", (640, 360))
    frame = next_frame(qtbot, handle)
    assert frame.image.shape == (360, 640, 4)
    rtsp_server.stop()
    qtbot.waitUntil(
        lambda: handle.state.status in (FeedStatus.RECONNECTING, FeedStatus.STREAM_LOST),
        timeout=15_000,
    )
    rtsp_server.restart()
    qtbot.waitUntil(lambda: handle.state.status is FeedStatus.LIVE, timeout=10_000)
    next_frame(qtbot, handle, 5000)
    assert handle.state.reconnects == 1


def test_credentials_come_from_the_keyring(
    qtbot, supervisor, lease_for: LeaseFor, rtsp_server: RtspServer
):
    good = lease_for(
        rtsp_server.url(StandardPaths.SECURE), CameraCredentials(SECURE_USERNAME, SECURE_PASSWORD)
    )
    bad = lease_for(
        rtsp_server.url(StandardPaths.SECURE), CameraCredentials(SECURE_USERNAME, "wrong!")
    )
    good_handle = supervisor.open(good, "main", (640, 360))
    bad_handle = supervisor.open(bad, "main", (640, 360))
    next_frame(qtbot, good_handle)
    qtbot.waitUntil(lambda: bad_handle.state.status is FeedStatus.AUTH_FAILED, timeout=15_000)
    assert bad_handle.latest() is None
    assert SECURE_PASSWORD not in bad_handle.state.text


@pytest.mark.slow
def test_a_killed_decoder_is_restarted_and_the_rest_of_the_wall_runs_on(
    qtbot, supervisor: FeedSupervisor, lease_for: LeaseFor, rtsp_server: RtspServer, clip
):
    network = supervisor.open(lease_for(rtsp_server.url(StandardPaths.SUB)), "main", (320, 180))
    local = supervisor.open(lease_for(clip.as_uri()), "main", (320, 240))
    next_frame(qtbot, network)
    next_frame(qtbot, local)
    pids_before = set(supervisor.decoder_pids())
    victim = supervisor._placement[network.feed_id].process.pid
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    local_frames = 0

    def network_back() -> bool:
        nonlocal local_frames
        local_frames += local.latest() is not None
        return network.state.status is FeedStatus.LIVE and network.latest() is not None

    qtbot.waitUntil(lambda: supervisor.restarts == 1, timeout=5000)
    qtbot.waitUntil(network_back, timeout=5000)
    assert local_frames > 0, "the file feed stalled while the other decoder restarted"
    assert victim not in supervisor.decoder_pids()
    assert len(set(supervisor.decoder_pids()) - pids_before) == 1


def test_a_network_decoder_refuses_local_files(qtbot, clip):
    from app.video.decode_process import NETWORK_PROTOCOLS
    from app.video.feed_state import OpenFeed
    from app.video.feed_supervisor import _Decoder
    from app.video.frame_exchange import FrameExchange

    decoder = _Decoder(NETWORK_PROTOCOLS)
    exchange = FrameExchange.create(320, 240)
    try:
        decoder.send(OpenFeed("f1", str(clip), exchange.name, 320, 240, 320, 240, [], False))

        def refused() -> bool:
            while decoder.reports.poll():
                if decoder.reports.recv().state.status is FeedStatus.STREAM_LOST:
                    return True
            return False

        qtbot.waitUntil(refused, timeout=10_000)
        assert exchange.read() is None, "a network decoder decoded a local file"
    finally:
        decoder.stop()
        exchange.unlink()


# --- why a tile is dark (the RTSP probe before each open) ---------------------------------------


def assert_nothing_more_reported(qtbot, state_log: StateLog, handle: FeedHandle, ms: int) -> None:
    seen = len(state_log.of(handle))
    with pytest.raises(qtbot.TimeoutError):
        qtbot.waitUntil(lambda: len(state_log.of(handle)) > seen, timeout=ms)


def test_a_wrong_password_stops_at_authentication_failed(
    qtbot, one_decoder, state_log: StateLog, lease_for: LeaseFor, rtsp_server: RtspServer
):
    lease = lease_for(
        rtsp_server.url(StandardPaths.SECURE), CameraCredentials(SECURE_USERNAME, "Bad-pass1")
    )
    handle = one_decoder.open(lease, "main", (640, 360))
    qtbot.waitUntil(lambda: handle.state.status is FeedStatus.AUTH_FAILED, timeout=5000)
    assert handle.state.text == "authentication failed: wrong user name or password"
    # Retrying a wrong password can lock the camera's account: the feed must not try again
    # (each attempt reports a state before it connects, so silence means no attempts).
    assert_nothing_more_reported(qtbot, state_log, handle, 3000)
    assert handle.state.status is FeedStatus.AUTH_FAILED
    assert [s.status for s in state_log.of(handle)] == [
        FeedStatus.CONNECTING,
        FeedStatus.AUTH_FAILED,
    ]
    assert handle.latest() is None


def test_a_silent_camera_says_no_answer_within_the_probe_timeout_and_no_credentials(
    qtbot, one_decoder, state_log: StateLog, lease_for: LeaseFor
):
    username, password = "cam-admin", "S1lent:p@ss"
    with SilentServer() as silent:
        lease = lease_for(silent.url(), CameraCredentials(username, password))
        handle = one_decoder.open(lease, "main", (640, 360))
        qtbot.waitUntil(lambda: handle.state.status is FeedStatus.CONNECTING, timeout=5000)
        connecting = time.monotonic()
        qtbot.waitUntil(
            lambda: handle.state.text == "stream lost: no answer from the camera",
            timeout=int(PROBE_TIMEOUT_S * 1000) + 2500,
        )
        # The decode process gives up at the probe timeout; the state still crosses a pipe and
        # the UI's event loop, which a loaded 2-core machine delays by up to a second.
        assert time.monotonic() - connecting < PROBE_TIMEOUT_S + 2.0
        assert silent.connections_accepted >= 1
        qtbot.waitUntil(lambda: handle.state.attempt >= 2, timeout=PROBE_TIMEOUT_S * 1000 + 2000)
    shown = [f"{s.text} {s.detail}" for s in state_log.of(handle)]
    assert shown
    for text in shown:
        for secret in (password, quote(password, safe=""), username):
            assert secret not in text, "the tile's state showed a credential"


def test_an_unreachable_host_is_reported_as_such(qtbot, one_decoder, lease_for: LeaseFor):
    lease = lease_for("rtsp://nonexistent.invalid/stream", CameraCredentials("admin", "pw1"))
    handle = one_decoder.open(lease, "main", (640, 360))
    qtbot.waitUntil(lambda: handle.state.status is FeedStatus.STREAM_LOST, timeout=5000)
    assert handle.state.text == "stream lost: host unreachable (unknown host name)"


def test_a_missing_stream_says_404_and_keeps_trying(
    qtbot, one_decoder, lease_for: LeaseFor, rtsp_server: RtspServer
):
    handle = one_decoder.open(
        lease_for(f"rtsp://127.0.0.1:{rtsp_server.port}/gone"), "main", (640, 360)
    )
    qtbot.waitUntil(lambda: handle.state.attempt >= 3, timeout=8000)
    assert handle.state.text == "stream lost: stream not found (404)"


def test_a_silent_camera_does_not_hold_up_the_other_feeds_of_its_decoder(
    qtbot, one_decoder, lease_for: LeaseFor, rtsp_server: RtspServer
):
    """OpenCV opens one stream at a time per process: without the probe, a healthy feed opened
    while a silent camera's open is under way waits out that open's 5 s timeout."""
    with SilentServer() as silent:
        silent_handles = [one_decoder.open(lease_for(silent.url()), "main") for _ in range(2)]
        qtbot.waitUntil(lambda: silent.connections_accepted >= 2, timeout=10_000)
        opened = time.monotonic()
        healthy = one_decoder.open(lease_for(rtsp_server.url(StandardPaths.SUB)), "main")
        next_frame(qtbot, healthy, timeout_ms=3000)
        assert time.monotonic() - opened < 3.0
        assert all(h.latest() is None for h in silent_handles)

"""Clip export from live feeds: the decoder's buffer written as an MP4, hashed and audited."""

from __future__ import annotations

import hashlib
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from app.services.audit_log import AuditLog, read_events
from app.services.snapshot_export import export_clip
from app.settings import Settings
from app.video.feed_state import ClipWritten, FeedStatus
from app.video.feed_supervisor import ClipExportError, FeedHandle, FeedSupervisor
from tests.disk import fill, small_filesystem
from tests.rtsp.fixtures import FPS, RtspServer, SilentServer, StandardPaths
from tests.video.conftest import LeaseFor
from tests.video.test_clip_buffer import read_back

LEFT_HALF = [[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]]


def export(handle: FeedHandle, audit: AuditLog, folder: Path):
    return export_clip(
        handle.export_clip,
        camera_id=handle.camera_id,
        camera_name="Harbor Deli door",
        purpose="case:24-1187",
        actor="ops1",
        export_dir=folder,
        audit=audit,
        seconds=30,
    )


def shown(qtbot, handle: FeedHandle, frames: int) -> int:
    """Wait until the feed has delivered ``frames`` frames since it opened; return how many it
    has (frame numbers count from 1 at each open)."""
    newest = 0

    def enough() -> bool:
        nonlocal newest
        frame = handle.latest()
        newest = frame.number if frame is not None else newest
        return newest >= frames

    qtbot.waitUntil(enough, timeout=frames * 1000 // FPS + 10_000)
    return newest


@pytest.fixture
def short_clips() -> Iterator[FeedSupervisor]:
    supervisor = FeedSupervisor(network_decoders=1, clip_seconds=1)
    yield supervisor
    supervisor.shutdown()


def test_a_clip_of_a_live_feed_is_a_masked_mp4_hashed_and_audited(
    qtbot,
    supervisor: FeedSupervisor,
    lease_for: LeaseFor,
    rtsp_server: RtspServer,
    audit_log: AuditLog,
    settings: Settings,
    tmp_path: Path,
):
    lease = lease_for(rtsp_server.url(StandardPaths.SUB))
    lease.privacy_masks.append(LEFT_HALF)
    handle = supervisor.open(lease, "main", (320, 180))
    delivered = shown(qtbot, handle, 3 * FPS)
    receipt = export(handle, audit_log, tmp_path / "exports")

    assert receipt.path.suffix == ".mp4" and receipt.path.parent == tmp_path / "exports"
    assert list((tmp_path / "exports").iterdir()) == [receipt.path], "no partial file left"
    data = receipt.path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == receipt.sha256
    [event] = [e for e in read_events(settings.audit_db) if e["event_type"] == "export"]
    details = event["details"]
    assert details["kind"] == "clip" and details["sha256"] == receipt.sha256
    assert details["bytes"] == len(data) and details["requested_duration_ms"] == 30_000
    assert event["camera_id"] == lease.camera_id and event["purpose"] == "case:24-1187"

    frames = read_back(receipt.path)
    assert len(frames) == details["frames"], "the file holds the frames the audit names"
    # Every frame shown since the feed opened, and those shown while the export was asked for.
    assert delivered <= len(frames) <= delivered + FPS // 2
    assert details["duration_ms"] == pytest.approx(len(frames) / FPS * 1000, rel=0.15)
    assert {image.shape for image in frames} == {(180, 320, 3)}, "the tile's size"
    assert (details["width"], details["height"]) == (320, 180)
    for image in frames:
        assert int(image[:, :150].max()) <= 40, "the privacy mask must be black in the clip"
        assert float(image[:, 170:].mean()) > 40, "the rest of the picture is there"


def test_an_export_before_any_frame_says_so_and_leaves_nothing(
    qtbot, supervisor: FeedSupervisor, lease_for: LeaseFor, audit_log: AuditLog, tmp_path: Path
):
    with SilentServer() as silent:
        handle = supervisor.open(lease_for(silent.url()), "main", (320, 180))
        qtbot.waitUntil(lambda: handle.state.status is FeedStatus.CONNECTING, timeout=5000)
        with pytest.raises(ClipExportError, match="has shown no picture in the last 30 s"):
            export(handle, audit_log, tmp_path / "exports")
    assert list((tmp_path / "exports").iterdir()) == []


def test_a_full_disk_says_so_and_leaves_no_partial_file(
    qtbot,
    supervisor: FeedSupervisor,
    lease_for: LeaseFor,
    rtsp_server: RtspServer,
    settings: Settings,
    audit_log: AuditLog,
    tmp_path: Path,
):
    handle = supervisor.open(lease_for(rtsp_server.url(StandardPaths.SUB)), "main", (320, 180))
    shown(qtbot, handle, FPS)
    with small_filesystem(tmp_path / "usb", 256) as disk:
        (disk / "exports").mkdir()
        fill(disk)
        with pytest.raises(ClipExportError, match="the disk is full; free disk space"):
            export(handle, audit_log, disk / "exports")
        assert list((disk / "exports").iterdir()) == []
    assert [e for e in read_events(settings.audit_db) if e["event_type"] == "export"] == []


def test_the_buffer_keeps_only_the_configured_seconds(
    qtbot, short_clips: FeedSupervisor, lease_for: LeaseFor, rtsp_server: RtspServer, tmp_path
):
    handle = short_clips.open(lease_for(rtsp_server.url(StandardPaths.SUB)), "main", (320, 180))
    shown(qtbot, handle, 3 * FPS)
    target = tmp_path / "clip.mp4"
    target.touch()
    clip = handle.export_clip(target)
    assert isinstance(clip, ClipWritten) and clip.error == ""
    assert FPS * 0.8 <= clip.frames <= FPS + 2, "1 s of frames, not the 3 s shown"
    assert len(read_back(target)) == clip.frames


def test_an_export_of_a_closed_feed_fails_at_once(
    supervisor: FeedSupervisor, lease_for: LeaseFor, rtsp_server: RtspServer, tmp_path
):
    handle = supervisor.open(lease_for(rtsp_server.url(StandardPaths.SUB)), "main", (320, 180))
    handle.close()
    started = time.monotonic()
    with pytest.raises(ClipExportError, match="the feed is closed"):
        handle.export_clip(tmp_path / "clip.mp4", timeout_s=5)
    assert time.monotonic() - started < 1.0


def test_a_decoder_dying_during_an_export_fails_it_and_leaves_nothing(
    qtbot,
    supervisor: FeedSupervisor,
    lease_for: LeaseFor,
    rtsp_server: RtspServer,
    audit_log: AuditLog,
    settings: Settings,
    tmp_path: Path,
):
    handle = supervisor.open(lease_for(rtsp_server.url(StandardPaths.SUB)), "main", (320, 180))
    shown(qtbot, handle, FPS)
    victim = supervisor._placement[handle.feed_id].process.pid
    assert victim is not None
    os.kill(victim, signal.SIGSTOP)  # it cannot answer until it is killed
    with ThreadPoolExecutor(1) as pool:
        exporting = pool.submit(export, handle, audit_log, tmp_path / "exports")
        qtbot.waitUntil(lambda: bool(supervisor._clip_requests), timeout=5000)
        os.kill(victim, signal.SIGKILL)
        with pytest.raises(ClipExportError, match="the decoder stopped while writing the clip"):
            exporting.result(timeout=10)
    assert list((tmp_path / "exports").iterdir()) == []
    assert [e for e in read_events(settings.audit_db) if e["event_type"] == "export"] == []

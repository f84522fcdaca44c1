from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from app.services.audit_log import AuditLog, AuditWriteError, read_events
from app.services.snapshot_export import ClipFacts, ExportError, export_clip, export_snapshot
from app.settings import Settings
from app.video.clip_buffer import ClipBuffer, ClipWriteError, WrittenClip, write_mp4
from tests.conftest import ManualClock
from tests.disk import fill, small_filesystem


def picture() -> np.ndarray:
    """As the wall shows it: BGRX."""
    image = np.zeros((90, 160, 4), np.uint8)
    image[:, :80] = (0, 0, 255, 255)
    image[30:60, 100:140] = (255, 255, 255, 255)
    image[:, 80:, 3] = 0  # padding: whatever X holds, nothing of it reaches the file
    return image


SUBJECT: dict[str, Any] = {
    "camera_id": "cam/0042",
    "camera_name": "Harbor Deli door",
    "purpose": "incident:2026-004518",
    "actor": "ops1",
}


def export(audit: AuditLog, folder: Path):
    return export_snapshot(picture(), **SUBJECT, export_dir=folder, audit=audit)


def test_snapshot_is_exact_hashed_and_audited(audit_log: AuditLog, settings: Settings, tmp_path):
    receipt = export(audit_log, tmp_path / "exports")
    assert receipt.path.parent == tmp_path / "exports"
    assert receipt.path.name == "cam_0042_20261118T153000_000000Z.png"
    data = receipt.path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == receipt.sha256 and len(data) == receipt.size_bytes
    back = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert back is not None and back.shape == (90, 160, 3), "BGR: no alpha channel"
    assert np.array_equal(back, picture()[..., :3]), "PNG is lossless"
    [event] = [e for e in read_events(settings.audit_db) if e["event_type"] == "export"]
    assert event["camera_id"] == "cam/0042" and event["purpose"] == "incident:2026-004518"
    assert event["details"]["sha256"] == receipt.sha256
    assert event["details"]["kind"] == "snapshot"
    assert list((tmp_path / "exports").iterdir()) == [receipt.path]


def test_no_snapshot_without_its_audit_event(audit_log: AuditLog, tmp_path):
    audit_log._connection.execute("PRAGMA query_only = ON")
    with pytest.raises(AuditWriteError):
        export(audit_log, tmp_path / "exports")
    audit_log._connection.execute("PRAGMA query_only = OFF")
    assert list((tmp_path / "exports").iterdir()) == []


def test_a_full_disk_leaves_no_partial_file(settings: Settings, clock: ManualClock, tmp_path):
    log = AuditLog.open(settings.audit_db, "ws", clock)
    try:
        with small_filesystem(tmp_path / "usb", 256) as disk:
            (disk / "exports").mkdir()
            fill(disk)
            with pytest.raises(ExportError, match="free disk space"):
                export(log, disk / "exports")
            assert list((disk / "exports").iterdir()) == []
        assert [e for e in read_events(settings.audit_db) if e["event_type"] == "export"] == []
    finally:
        log.close()


# --- clips --------------------------------------------------------------------------------------

FRAME_NS = 1_000_000_000 // 15


def clip_writer(frames: int = 30) -> Callable[[Path], WrittenClip]:
    """What a decode process does for FeedHandle.export_clip: its buffer written as an MP4."""
    buffer = ClipBuffer(cv2, 30)
    for number in range(frames):
        image = np.full((180, 320, 3), 80, np.uint8)
        image[:, (number * 9) % 320] = 255
        buffer.add(image, number * FRAME_NS)
    return lambda path: write_mp4(cv2, buffer.frames((frames - 1) * FRAME_NS), str(path))


def export_a_clip(audit: AuditLog, folder: Path, write: Callable[[Path], ClipFacts]):
    return export_clip(write, **SUBJECT, export_dir=folder, audit=audit, seconds=30)


def test_a_clip_is_hashed_audited_then_named(audit_log: AuditLog, settings: Settings, tmp_path):
    receipt = export_a_clip(audit_log, tmp_path / "exports", clip_writer(30))
    assert receipt.path.name == "cam_0042_20261118T153000_000000Z.mp4"
    data = receipt.path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == receipt.sha256 and len(data) == receipt.size_bytes
    assert cv2.VideoCapture(str(receipt.path)).get(cv2.CAP_PROP_FRAME_COUNT) == 30
    [event] = [e for e in read_events(settings.audit_db) if e["event_type"] == "export"]
    assert event["details"] | {"path": ""} == {
        "kind": "clip",
        "camera": "Harbor Deli door",
        "sha256": receipt.sha256,
        "bytes": len(data),
        "frames": 30,
        "duration_ms": 2000,
        "requested_duration_ms": 30_000,
        "width": 320,
        "height": 180,
        "path": "",
    }
    assert list((tmp_path / "exports").iterdir()) == [receipt.path]


def test_no_clip_without_its_audit_event(audit_log: AuditLog, tmp_path):
    audit_log._connection.execute("PRAGMA query_only = ON")
    with pytest.raises(AuditWriteError):
        export_a_clip(audit_log, tmp_path / "exports", clip_writer())
    audit_log._connection.execute("PRAGMA query_only = OFF")
    assert list((tmp_path / "exports").iterdir()) == []


def test_a_clip_that_cannot_be_written_leaves_nothing(
    audit_log: AuditLog, settings: Settings, tmp_path
):
    written = clip_writer()

    def cut_short(path: Path) -> WrittenClip:
        written(path)  # the file is there, whole, when the writer fails after all
        raise ClipWriteError("the MP4 file could not be written")

    with pytest.raises(ClipWriteError, match="could not be written"):
        export_a_clip(audit_log, tmp_path / "exports", cut_short)
    assert list((tmp_path / "exports").iterdir()) == []
    assert [e for e in read_events(settings.audit_db) if e["event_type"] == "export"] == []

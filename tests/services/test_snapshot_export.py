from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.services.audit_log import AuditLog, AuditWriteError, read_events
from app.services.snapshot_export import ExportError, export_snapshot
from app.settings import Settings
from tests.conftest import ManualClock
from tests.disk import fill, small_filesystem


def picture() -> np.ndarray:
    """As the wall shows it: BGRX."""
    image = np.zeros((90, 160, 4), np.uint8)
    image[:, :80] = (0, 0, 255, 255)
    image[30:60, 100:140] = (255, 255, 255, 255)
    image[:, 80:, 3] = 0  # padding: whatever X holds, nothing of it reaches the file
    return image


def export(audit: AuditLog, folder: Path):
    return export_snapshot(
        picture(),
        camera_id="cam/0042",
        camera_name="Harbor Deli door",
        purpose="incident:2026-004518",
        actor="ops1",
        export_dir=folder,
        audit=audit,
    )


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

"""Snapshots of a live feed as evidence: a PNG, its SHA-256, and an audit event.

The file is written under a temporary name and synced, hashed, audited, and only then given its
final name: if the audit write fails no snapshot is left behind (fail closed), and a full disk
leaves no partial file.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from app.models.audit_chain import AuditEventType
from app.services.audit_log import AuditLog, AuditWriteError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class ExportError(Exception):
    """The export could not be made; nothing was left behind. The message says what to do."""


@dataclass(frozen=True, slots=True)
class ExportReceipt:
    path: Path
    sha256: str
    size_bytes: int


def export_snapshot(
    image: npt.NDArray[np.uint8],
    *,
    camera_id: str,
    camera_name: str,
    purpose: str,
    actor: str,
    export_dir: Path,
    audit: AuditLog,
) -> ExportReceipt:
    """Save ``image`` (BGR or the wall's BGRX, as shown: scaled and privacy-masked) as evidence."""
    bgr = (
        cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
        if image.ndim == 3 and image.shape[2] == 4
        else image
    )
    ok, encoded = cv2.imencode(".png", bgr)  # no alpha: X is padding, not transparency
    if not ok:
        raise ExportError("the frame could not be encoded as PNG")
    data = encoded.tobytes()
    digest = hashlib.sha256(data).hexdigest()
    taken = audit.now()
    name = f"{_UNSAFE.sub('_', camera_id)}_{taken:%Y%m%dT%H%M%S_%f}Z.png"
    final = export_dir / name
    partial = export_dir / f".{name}.partial"
    try:
        export_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        try:
            os.write(descriptor, data)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ExportError(
            f"the snapshot could not be written to {export_dir} ({exc.strerror}); "
            "free disk space or choose another export folder"
        ) from exc
    try:
        audit.record(
            AuditEventType.EXPORT,
            actor=actor,
            subject=name,
            camera_id=camera_id,
            purpose=purpose,
            details={
                "kind": "snapshot",
                "camera": camera_name,
                "sha256": digest,
                "bytes": len(data),
                "width": int(image.shape[1]),
                "height": int(image.shape[0]),
                "path": str(final),
            },
        )
    except AuditWriteError:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, final)
    return ExportReceipt(final, digest, len(data))

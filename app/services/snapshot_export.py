"""Evidence exports of a live feed: a snapshot (PNG) or a clip (MP4), its SHA-256, an audit event.

Both are published the same way: the file is written under a temporary name, synced, hashed,
audited, and only then given its final name. If the audit write fails nothing is left behind
(fail closed), and a full disk, a failed clip or any other failure leaves no partial file.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import cv2
import numpy as np
import numpy.typing as npt

from app.models.audit_chain import AuditEventType, DetailValue
from app.services.audit_log import AuditLog

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_CHUNK = 1024 * 1024


class ExportError(Exception):
    """The export could not be made; nothing was left behind. The message says what to do."""


@dataclass(frozen=True, slots=True)
class ExportReceipt:
    path: Path
    sha256: str
    size_bytes: int


class ClipFacts(Protocol):
    """What a clip writer reports about the clip it wrote (app.video's ClipWritten)."""

    @property
    def frames(self) -> int: ...
    @property
    def seconds(self) -> float: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...


Written = TypeVar("Written")


def export_snapshot(
    image: npt.NDArray[np.uint8],
    *,
    camera_id: str,
    camera_name: str,
    purpose: str,
    actor: str,
    export_dir: Path,
    audit: AuditLog,
    source: Mapping[str, DetailValue] | None = None,
) -> ExportReceipt:
    """Save ``image`` (BGR or the wall's BGRX, as shown: scaled and privacy-masked) as evidence;
    ``source`` says where a picture that is not a live feed's came from (audit details: an
    evidence file's id, SHA-256 and frame)."""
    bgr = (
        cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
        if image.ndim == 3 and image.shape[2] == 4
        else image
    )
    ok, encoded = cv2.imencode(".png", bgr)  # no alpha: X is padding, not transparency
    if not ok:
        raise ExportError("the frame could not be encoded as PNG")
    data = encoded.tobytes()

    def write(path: Path) -> None:
        descriptor = os.open(path, os.O_WRONLY | os.O_TRUNC)
        try:
            os.write(descriptor, data)
        finally:
            os.close(descriptor)

    export = _Export(camera_id, camera_name, purpose, actor, export_dir, audit)
    facts = {"width": int(image.shape[1]), "height": int(image.shape[0]), **(source or {})}
    return export.publish(write, kind="snapshot", suffix=".png", details=lambda _: facts)


def export_clip(
    write: Callable[[Path], ClipFacts],
    *,
    camera_id: str,
    camera_name: str,
    purpose: str,
    actor: str,
    export_dir: Path,
    audit: AuditLog,
    seconds: float,
) -> ExportReceipt:
    """Save a clip of the last ``seconds`` of a feed as evidence.

    ``write(path)`` writes the MP4 into ``path`` (an empty file made for it), for example
    ``FeedHandle.export_clip``, and says what it wrote; whatever it raises propagates, with
    nothing left behind. Blocks while the clip is written: not for the UI thread.
    """

    def details(clip: ClipFacts) -> dict[str, Any]:  # audit details take integer units
        return {
            "frames": clip.frames,
            "duration_ms": round(clip.seconds * 1000),
            "requested_duration_ms": round(seconds * 1000),
            "width": clip.width,
            "height": clip.height,
        }

    export = _Export(camera_id, camera_name, purpose, actor, export_dir, audit)
    return export.publish(write, kind="clip", suffix=".mp4", details=details)


@dataclass(frozen=True, slots=True)
class _Export:
    """Who exports evidence of which camera, for what, and where it goes."""

    camera_id: str
    camera_name: str
    purpose: str
    actor: str
    export_dir: Path
    audit: AuditLog

    def publish(
        self,
        write: Callable[[Path], Written],
        *,
        kind: str,
        suffix: str,
        details: Callable[[Written], dict[str, Any]],
    ) -> ExportReceipt:
        """Write, sync, hash and audit under a temporary name, then rename: no file without its
        audit event, and no partial file on any failure."""
        export_dir = self.export_dir
        taken = self.audit.now()
        name = f"{_UNSAFE.sub('_', self.camera_id)}_{taken:%Y%m%dT%H%M%S_%f}Z{suffix}"
        final = export_dir / name
        # The suffix stays last: FFmpeg picks the container from it.
        partial = export_dir / f".{final.stem}.partial{suffix}"
        try:
            export_dir.mkdir(parents=True, exist_ok=True)
            os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640))
        except OSError as exc:
            raise _not_written(kind, export_dir, exc) from exc
        try:
            written = write(partial)
            digest, size = _sync_and_hash(partial)
            self.audit.record(
                AuditEventType.EXPORT,
                actor=self.actor,
                subject=name,
                camera_id=self.camera_id,
                purpose=self.purpose,
                details={
                    "kind": kind,
                    "camera": self.camera_name,
                    "sha256": digest,
                    "bytes": size,
                    **details(written),
                    "path": str(final),
                },
            )
            os.replace(partial, final)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise _not_written(kind, export_dir, exc) from exc
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return ExportReceipt(final, digest, size)


def _sync_and_hash(path: Path) -> tuple[str, int]:
    """The file's SHA-256 and size, read back after it is synced to disk."""
    digest = hashlib.sha256()
    size = 0
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
        while chunk := os.read(descriptor, _CHUNK):
            digest.update(chunk)
            size += len(chunk)
    finally:
        os.close(descriptor)
    return digest.hexdigest(), size


def _not_written(kind: str, export_dir: Path, exc: OSError) -> ExportError:
    return ExportError(
        f"the {kind} could not be written to {export_dir} ({exc.strerror}); "
        "free disk space or choose another export folder"
    )

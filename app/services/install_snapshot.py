"""A live snapshot for the install verifier's Placement tab: one decoded frame of a camera's main
stream (the picture privacy masks are drawn on), and the placement the registry holds for it.

What is opened, and how, is what the install check does (:mod:`app.services.install_check`):

- a **registry camera**: through the policy gate, for ``install:CAMERA`` (audited as any feed
  open; the lease is closed, audited, once the frame is in). Its credentials come from the
  keyring, where the check put them once the camera accepted them.
- a **stream URL**: audited as a stream check before anything is opened; the user name and
  password typed in the panel if any, else those the keyring holds for the URL.
- a **local file**: its first picture.

Runs on a worker thread (never the UI thread). ``SnapshotError`` says why there is no picture
and what to do; it never holds a credential.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.audit_chain import AuditEventType
from app.models.camera import Camera
from app.models.camera_placement import CameraPlacement, PlacementError
from app.models.policy import Purpose, PurposeKind
from app.models.stream_url import redact_url, split_credentials, url_with_credentials
from app.services.accounts import SignedInUser
from app.services.audit_log import AuditLog
from app.services.credentials import CameraCredentials, CredentialStore
from app.services.install_check import InstallCheckError, UnregisteredStream, parse_target
from app.services.policy_gate import FeedDenied, PolicyGate, UnknownCameraError
from app.video.decode_process import FILE_PROTOCOLS, NETWORK_PROTOCOLS
from app.video.install_probe import is_local_file, open_capture
from app.video.rtsp_probe import ProbeOutcome, probe_rtsp

CLOSE_REASON = "install_snapshot_taken"
OPEN_RETRY_PAUSES_S = (0.5, 1.5)
MAX_READS = 100  # pictures read past undecodable ones (waiting for a key frame) before giving up

Frame = npt.NDArray[np.uint8]


class SnapshotError(Exception):
    """No picture: the message says why and what to do, and holds no secret."""


@dataclass(frozen=True, eq=False)
class PlacementSnapshot:
    """One picture of the camera's main stream (BGR), where it came from, and the placement the
    registry holds for it (a registry camera only)."""

    frame: Frame
    address: str  # the camera id, or the redacted URL or file path
    camera_id: str | None = None
    camera_name: str | None = None
    placement: CameraPlacement | None = None


class PlacementSnapshots:
    """Takes placement snapshots; safe to use from a worker thread (never from the UI thread)."""

    def __init__(
        self,
        gate: PolicyGate | None,
        audit: AuditLog,
        credentials: Callable[[], CredentialStore],
        sessions: Callable[[], Session] | None,
    ) -> None:
        """``gate`` and ``sessions``: for registry cameras (None: URLs and files only)."""
        self._gate = gate
        self._audit = audit
        self._credentials = credentials
        self._sessions = sessions

    def take(
        self, text: str, actor: SignedInUser, typed: CameraCredentials | None = None
    ) -> PlacementSnapshot:
        try:
            target = parse_target(text)
        except InstallCheckError as error:
            raise SnapshotError(str(error)) from None
        if target.kind == "camera":
            return self._camera(target.value, actor)
        if target.kind == "file":
            return PlacementSnapshot(grab_frame(target.value, is_file=True), target.value)
        clean, username, password = split_credentials(target.value)
        address = redact_url(clean)
        self._audit.record(
            AuditEventType.STREAM_CHECKED,
            actor=actor.username,
            subject=address,
            purpose=f"install:{address}",
            details={"kind": "url", "snapshot": True},
        )
        if username is not None:
            typed = CameraCredentials(username, password or "")
        if typed is not None:
            url = url_with_credentials(clean, typed.username, typed.password)
        else:
            url = UnregisteredStream(clean, self._credentials()).connect_url()
        return PlacementSnapshot(grab_frame(url, is_file=False), address)

    def _camera(self, camera_id: str, actor: SignedInUser) -> PlacementSnapshot:
        if self._gate is None:
            raise SnapshotError("registry cameras cannot be opened here (no policy gate)")
        try:
            lease = self._gate.open_feed(camera_id, actor, Purpose(PurposeKind.INSTALL, camera_id))
        except UnknownCameraError:
            raise SnapshotError(
                f"no camera {camera_id!r} in the registry, and no file or stream URL by that name"
            ) from None
        except FeedDenied as denied:
            raise SnapshotError(
                f"camera {camera_id}: the policy gate denied the snapshot: "
                f"{denied.decision.explanation}"
            ) from None
        try:
            url = lease.connect_url("main")
            frame = grab_frame(url, is_file=is_local_file(url))  # a demo camera streams a file
        finally:
            self._gate.close(lease, CLOSE_REASON)
        name, placement = self.registry_placement(camera_id)
        return PlacementSnapshot(frame, camera_id, camera_id, name, placement)

    def registry_placement(self, camera_id: str) -> tuple[str | None, CameraPlacement | None]:
        """The camera's name and the placement the registry holds (None, None: no such camera;
        a name and None: its stored values are not a valid placement)."""
        if self._sessions is None:
            return None, None
        with self._sessions() as session:
            camera = session.scalar(select(Camera).where(Camera.id == camera_id))
            if camera is None:
                return None, None
            try:
                placement = CameraPlacement(
                    camera.latitude,
                    camera.longitude,
                    camera.heading_deg % 360.0,
                    camera.fov_deg,
                    camera.range_m,
                    [[list(point) for point in mask] for mask in camera.privacy_masks or []],
                )
            except PlacementError:
                placement = None
            return camera.name, placement


def grab_frame(url: str, *, is_file: bool) -> Frame:
    """The first picture ``url`` gives (BGR); raises SnapshotError saying why there is none."""
    shown = url if is_file else redact_url(url)
    if not is_file and url.lower().startswith("rtsp://"):
        probe = probe_rtsp(url)
        if probe.outcome is not ProbeOutcome.OK:
            hint = (
                " Run the check first: it asks for the camera's user name and password."
                if probe.outcome is ProbeOutcome.AUTH_FAILED
                else " Check that the camera is on and the address is right, then try again."
            )
            raise SnapshotError(f"no snapshot from {shown}: {probe.detail}.{hint}")
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    import cv2

    protocols = FILE_PROTOCOLS if is_file else NETWORK_PROTOCOLS
    capture = open_capture(cv2, url, protocols, one_thread=False)
    # A camera (or relay) still closing the previous session may refuse the next for a moment
    # (RTSP 503): asked again after a pause, as the wall's decoders do.
    for pause_s in () if is_file else OPEN_RETRY_PAUSES_S:
        if capture.isOpened():
            break
        capture.release()
        time.sleep(pause_s)  # a worker thread's wait, never the UI thread's
        capture = open_capture(cv2, url, protocols, one_thread=False)
    try:
        if not capture.isOpened():
            raise SnapshotError(
                f"no snapshot from {shown}: the stream did not open. Check the address, or run "
                "the check to see what the camera does"
            )
        for _ in range(MAX_READS):
            ok, frame = capture.read()
            if ok and frame is not None:
                return np.ascontiguousarray(frame)
            if is_file:
                break
        raise SnapshotError(
            f"no snapshot from {shown}: the stream opened but gave no picture. Run the check to "
            "see what the camera sends"
        )
    finally:
        capture.release()


__all__ = ["PlacementSnapshot", "PlacementSnapshots", "SnapshotError", "grab_frame"]

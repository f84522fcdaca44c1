"""Capture workers: decode one leased feed in a thread and keep only its newest frame.

A worker is built from a FeedLease, never from a URL, and stops when the lease ends. OpenCV's
FFmpeg backend releases the GIL while it reads and decodes, so one thread per feed scales across
cores. The UI takes ``latest()`` at display rate; frames it never took are dropped and counted.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from app.models.stream_url import redact_url
from app.services.policy_gate import FeedLease, LeaseEndedError, Stream

log = logging.getLogger(__name__)

Image = npt.NDArray[np.uint8]

_OPEN_TIMEOUT_MS = 5000
_READ_TIMEOUT_MS = 5000


class CaptureState(enum.StrEnum):
    CONNECTING = "connecting"
    LIVE = "live"
    STREAM_LOST = "stream lost"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class Frame:
    image: Image
    number: int
    decoded_at: float  # time.monotonic() when decoded


class CaptureWorker:
    """Decodes one leased stream on its own thread; the newest frame only is kept."""

    def __init__(self, lease: FeedLease, stream: Stream = "main") -> None:
        self.lease = lease
        self.stream = stream
        self._lock = threading.Lock()
        self._latest: Frame | None = None
        self._state = CaptureState.CONNECTING
        self._message = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"capture-{lease.camera_id}", daemon=True
        )
        self.frames_decoded = 0
        self.frames_dropped = 0
        lease.on_end(lambda _lease: self._stop.set())

    @property
    def state(self) -> CaptureState:
        with self._lock:
            return self._state

    @property
    def message(self) -> str:
        with self._lock:
            return self._message

    def start(self) -> None:
        self._thread.start()

    def latest(self) -> Frame | None:
        """The newest decoded frame, taken: the next call returns None until another arrives."""
        with self._lock:
            frame, self._latest = self._latest, None
            return frame

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _set_state(self, state: CaptureState, message: str = "") -> None:
        with self._lock:
            self._state, self._message = state, message

    def _run(self) -> None:
        try:
            url = self.lease.connect_url(self.stream)
        except LeaseEndedError as exc:
            self._set_state(CaptureState.ENDED, str(exc))
            return
        capture = cv2.VideoCapture(
            url,
            cv2.CAP_FFMPEG,
            [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
                _OPEN_TIMEOUT_MS,
                cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                _READ_TIMEOUT_MS,
            ],
        )
        del url
        try:
            if not capture.isOpened():
                self._set_state(CaptureState.STREAM_LOST, "could not open the stream")
                return
            while not self._stop.is_set():
                ok, image = capture.read()
                if not ok:
                    self._set_state(CaptureState.STREAM_LOST, "the stream stopped")
                    return
                frame = Frame(
                    np.asarray(image, dtype=np.uint8), self.frames_decoded, time.monotonic()
                )
                with self._lock:
                    if self._latest is not None:
                        self.frames_dropped += 1
                    self._latest = frame
                    self._state = CaptureState.LIVE
                self.frames_decoded += 1
        except cv2.error as exc:
            self._set_state(CaptureState.STREAM_LOST, redact_url(str(exc)))
        finally:
            capture.release()
            if self.lease.ended:
                self._set_state(CaptureState.ENDED, self.lease.end_reason or "")

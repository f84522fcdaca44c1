"""What a feed is doing, in the words a tile shows, and the messages decode processes exchange."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from app.models.camera import PrivacyMask


class FeedStatus(enum.StrEnum):
    CONNECTING = "connecting"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    STREAM_LOST = "stream lost"
    AUTH_FAILED = "authentication failed"
    ENDED = "ended"


# States whose detail says why: the operator has to know it to act.
_EXPLAINED = frozenset({FeedStatus.ENDED, FeedStatus.STREAM_LOST, FeedStatus.AUTH_FAILED})


@dataclass(frozen=True, slots=True)
class FeedState:
    status: FeedStatus
    detail: str = ""
    attempt: int = 0  # reconnect attempt, from 1
    reconnects: int = 0  # times the feed has come back since it first went live
    width: int = 0  # of the decoded stream, before scaling
    height: int = 0
    fps: float = 0.0
    bitrate_kbps: float = 0.0  # received over the last second; 0: unknown
    latency_ms: float | None = None  # behind the camera's clock; None: unknown (no clock yet)

    @property
    def text(self) -> str:
        """The tile's status line: ``live``, ``reconnecting (3): connection refused``,
        ``stream lost: no answer from the camera``, ``authentication failed: wrong user name or
        password``, ``ended: policy_revoked``."""
        if self.status is FeedStatus.RECONNECTING:
            counted = f"reconnecting ({self.attempt})"
            return f"{counted}: {self.detail}" if self.detail else counted
        if self.status in _EXPLAINED and self.detail:
            return f"{self.status.value}: {self.detail}"
        return self.status.value


@dataclass(frozen=True, slots=True)
class OpenFeed:
    """Start decoding. ``url`` carries credentials: it is never logged, shown or raised."""

    feed_id: str
    url: str = field(repr=False)
    exchange_name: str
    max_width: int
    max_height: int
    width: int
    height: int
    masks: list[PrivacyMask]
    realtime_file: bool  # pace a local file at its frame rate and loop it (demo clips)
    clip_seconds: float = 0.0  # how much of the feed to keep for clip export; 0: none


@dataclass(frozen=True, slots=True)
class ResizeFeed:
    feed_id: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class PauseFeed:
    feed_id: str
    paused: bool


@dataclass(frozen=True, slots=True)
class CloseFeed:
    feed_id: str


@dataclass(frozen=True, slots=True)
class ExportClip:
    """Write the feed's clip buffer (the last ``clip_seconds`` as shown) as an MP4 to ``path``,
    which the parent has created; the decoder answers with :class:`ClipWritten`."""

    feed_id: str
    path: str
    request_id: int


@dataclass(frozen=True, slots=True)
class FeedReport:
    feed_id: str
    state: FeedState


@dataclass(frozen=True, slots=True)
class ClipWritten:
    """The answer to :class:`ExportClip`. ``error`` (in the operator's words, never holding the
    stream's URL) is empty when the clip was written."""

    feed_id: str
    request_id: int
    frames: int = 0
    seconds: float = 0.0
    width: int = 0
    height: int = 0
    error: str = ""


DecoderCommand = OpenFeed | ResizeFeed | PauseFeed | CloseFeed | ExportClip
DecoderReport = FeedReport | ClipWritten

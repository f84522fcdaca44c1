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
class FeedReport:
    feed_id: str
    state: FeedState


DecoderCommand = OpenFeed | ResizeFeed | PauseFeed | CloseFeed

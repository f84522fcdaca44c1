"""A tile fed by hand: a stub of what ``VideoTile.poll`` reads of a ``FeedHandle``."""

from __future__ import annotations

import time
from typing import Any, cast

import numpy as np

from app.services.clock import Clock, utc_now
from app.video.feed_state import FeedState, FeedStatus
from app.video.frame_exchange import Frame
from app.widgets.video_tile import TileCamera, VideoTile


class StubHandle:
    """Just what ``VideoTile.poll`` reads of a FeedHandle: a state and the newest frame."""

    def __init__(self) -> None:
        self.state = FeedState(
            FeedStatus.LIVE,
            reconnects=2,
            width=1920,
            height=1080,
            fps=14.9,
            bitrate_kbps=3925.4,
            latency_ms=68.2,
        )
        self.next: Frame | None = None
        self.stream = "main"
        self.dropped_frames = 3

    def latest(self) -> Frame | None:
        frame, self.next = self.next, None
        return frame


def frame(number: int, age_ms: float, grey: int = 128) -> Frame:
    image = np.full((180, 320, 4), grey, np.uint8)
    return Frame(image, number, time.monotonic_ns() - int(age_ms * 1e6), 0)


def live_tile(qtbot: Any, clock: Clock = utc_now) -> tuple[VideoTile, StubHandle]:
    tile = VideoTile(1, clock=clock)
    qtbot.addWidget(tile)
    tile.resize(480, 270)
    tile.show_opening(TileCamera("cam-1", "Harbor Deli door", "integrated", "incident:1"))
    handle = StubHandle()
    tile.handle = cast(Any, handle)
    return tile, handle

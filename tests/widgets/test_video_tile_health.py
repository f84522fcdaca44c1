"""The tile's stream health: frames painted, decode-to-paint latency, and the panel shown on
demand."""

from __future__ import annotations

from typing import Any

from app.video.feed_state import FeedState, FeedStatus
from app.widgets.video_tile import PAINT_HISTORY
from tests.widgets.tile_stubs import frame, live_tile


def test_a_new_frame_counts_once_when_first_painted(qtbot: Any) -> None:
    tile, handle = live_tile(qtbot)
    assert tile.frames_painted == 0 and not tile.paint_latencies_ms

    handle.next = frame(1, age_ms=40)
    assert tile.poll()
    assert tile.frames_painted == 0  # taken, not yet on screen
    tile.grab()  # paints
    assert tile.frames_painted == 1
    (latency,) = tile.paint_latencies_ms
    assert 40 <= latency < 2000

    tile.grab()  # the same frame again (an overlay change, a resize): not a new frame
    assert tile.frames_painted == 1

    handle.next = frame(2, age_ms=5)
    tile.poll()
    tile.grab()
    assert tile.frames_painted == 2
    assert 5 <= tile.paint_latencies_ms[-1] < tile.paint_latencies_ms[0]


def test_a_dropped_picture_is_not_counted_and_history_is_bounded(qtbot: Any) -> None:
    tile, handle = live_tile(qtbot)
    handle.next = frame(1, age_ms=1)
    tile.poll()
    handle.state = FeedState(FeedStatus.ENDED, "policy_revoked")
    tile.poll()  # the last frame goes, unpainted
    tile.grab()
    assert tile.frames_painted == 0

    handle.state = FeedState(FeedStatus.LIVE)
    for number in range(PAINT_HISTORY + 10):
        handle.next = frame(number, age_ms=1)
        tile.poll()
        tile.grab()
    assert tile.frames_painted == PAINT_HISTORY + 10
    assert len(tile.paint_latencies_ms) == PAINT_HISTORY


def test_the_health_panel_shows_the_streams_facts_on_demand(qtbot: Any) -> None:
    tile, handle = live_tile(qtbot)
    for number, age_ms in enumerate((30, 20, 10), start=1):
        handle.next = frame(number, age_ms)
        tile.poll()
        tile.grab()
    facts = dict(tile.health_lines())
    assert facts["stream"] == "main · 1920×1080"
    assert facts["frame rate"].startswith("14.9 decoded")
    assert facts["frames dropped"] == "3" and facts["reconnects"] == "2"
    assert facts["decoder to screen"].endswith("ms (p95)")
    assert facts["bitrate"] == "3,925 kbit/s"
    assert facts["latency"] == "68 ms behind the camera"
    handle.state = FeedState(FeedStatus.LIVE)  # a file: no counter, no camera clock
    facts = dict(tile.health_lines())
    assert facts["bitrate"] == "unknown" and facts["latency"] == "no camera clock in the stream"
    handle.state = FeedState(FeedStatus.LIVE, fps=14.9)

    without = tile.grab().toImage()
    tile.set_health_visible(True)
    with_panel = tile.grab().toImage()
    assert with_panel != without, "the panel is painted over the picture"
    tile.set_health_visible(False)
    assert tile.grab().toImage() == without


def test_the_health_panel_shows_no_rate_before_there_is_one(qtbot: Any) -> None:
    tile, handle = live_tile(qtbot)
    handle.state = FeedState(FeedStatus.LIVE, width=1920, height=1080)  # decoder's first second
    handle.next = frame(1, age_ms=10)
    tile.poll()
    tile.grab()
    assert dict(tile.health_lines())["frame rate"] == "— decoded · — shown"

    handle.state = FeedState(FeedStatus.LIVE, fps=14.9)
    handle.next = frame(2, age_ms=10)
    tile.poll()
    tile.grab()
    decoded, shown = dict(tile.health_lines())["frame rate"].split(" · ")
    assert decoded == "14.9 decoded" and shown != "— shown"

"""The walls file kept for a restart: written whole, read back validated, refused when damaged,
and never overwritten by the session it recorded the clean end of."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest

from app.services.wall_session import OpenFeed, WallSessionStore, WallState
from tests.conftest import ManualClock

TILE_COUNTS = {"1x1": 1, "2x2": 4, "3x3": 9}
HARBOR = OpenFeed(tile=3, camera_id="cam-harbor-1", purpose="incident:2026-000101")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 18, 15, 30, tzinfo=UTC))


def store(tmp_path, clock, username: str = "dana") -> WallSessionStore:
    return WallSessionStore(tmp_path, username, clock, TILE_COUNTS)


def test_a_saved_session_reads_back_as_an_unclean_end(tmp_path, clock):
    walls = (
        WallState(layout="3x3", feeds=(HARBOR,)),
        WallState(screen="HDMI-2", layout="2x2", feeds=()),
    )
    assert store(tmp_path, clock).save(walls)
    previous = store(tmp_path, clock).unclean_end()
    assert previous is not None
    assert previous.walls == walls and previous.feed_count == 1
    assert previous.updated_at == clock() and previous.username == "dana"
    assert HARBOR.feed_purpose.reference == "2026-000101"
    assert [p.name for p in (tmp_path / "sessions").iterdir()] == [store(tmp_path, clock).path.name]


def test_each_user_has_their_own_file_whatever_their_name(tmp_path, clock):
    odd = store(tmp_path, clock, "../../etc/passwd")
    assert odd.save((WallState(layout="2x2", feeds=(HARBOR,)),))
    assert odd.path.parent == tmp_path / "sessions"
    assert store(tmp_path, clock, "dana").unclean_end() is None
    assert store(tmp_path, clock, "../../etc/passwd").unclean_end() is not None


def test_a_clean_end_keeps_layouts_drops_feeds_and_ignores_late_writes(tmp_path, clock):
    walls = store(tmp_path, clock)
    walls.save((WallState(layout="3x3", feeds=(HARBOR,)),))
    clock.advance(minutes=5)
    walls.end_cleanly()
    walls.end_cleanly()  # twice is harmless
    assert not walls.save((WallState(layout="1x1", feeds=(HARBOR,)),))
    session = walls.read()
    assert session is not None and session.ended_cleanly and session.updated_at == clock()
    assert session.walls == (WallState(layout="3x3"),)
    assert store(tmp_path, clock).unclean_end() is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: d.update(extra_key=1), "extra_key"),
        (lambda d: d["walls"][0]["feeds"][0].update(purpose=" "), "walls.0.feeds.0.purpose"),
        (lambda d: d["walls"][0]["feeds"][0].update(tile=0), "walls.0.feeds.0.tile"),
        (lambda d: d.update(updated_at="2026-11-18T15:30:00"), "updated_at"),
        (lambda d: d["walls"][0].update(layout="7x7"), "'7x7'"),
        (lambda d: d["walls"][0]["feeds"][0].update(tile=5, camera_id="x"), "tile 5"),
        (lambda d: d.update(username="eve"), "another user"),
    ],
)
def test_a_damaged_or_foreign_file_counts_as_none_and_says_why(
    tmp_path, clock, caplog, change, reason
):
    walls = store(tmp_path, clock)
    walls.save((WallState(layout="2x2", feeds=(HARBOR,)),))
    data = json.loads(walls.path.read_text())
    change(data)
    walls.path.write_text(json.dumps(data))
    with caplog.at_level(logging.WARNING, logger="app.services.wall_session"):
        assert walls.unclean_end() is None
    assert reason in caplog.text


def test_text_that_is_not_json_counts_as_none(tmp_path, clock, caplog):
    walls = store(tmp_path, clock)
    walls.path.parent.mkdir(parents=True)
    walls.path.write_text("{ half a file")
    with caplog.at_level(logging.WARNING, logger="app.services.wall_session"):
        assert walls.read() is None
    assert "damaged" in caplog.text

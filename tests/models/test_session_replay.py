from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.models.geofence import GeofenceCircle, GeofencePolygon
from app.models.session_replay import (
    EventMark,
    FeedOnTile,
    ReplayEvent,
    ReplayState,
    SessionReplay,
    find_sessions,
    geofence_of,
)

START = datetime(2026, 11, 21, 22, 0, tzinfo=UTC)


class Script:
    """Hand-built events of one workstation, one second apart unless told otherwise."""

    def __init__(self, workstation: str = "ws-1") -> None:
        self.workstation = workstation
        self.events: list[ReplayEvent] = []
        self.at = START

    def add(self, event_type: str, actor: str = "dana", *, after_s: float = 1, **fields: Any):
        self.at += timedelta(seconds=after_s)
        event = ReplayEvent(
            seq=len(self.events) + 1,
            time=self.at,
            event_type=event_type,
            actor=actor,
            workstation=self.workstation,
            **fields,
        )
        self.events.append(event)
        return event

    def allow(self, camera: str, tile: int, incident: str = "2026-000100", **fields: Any):
        return self.add(
            "feed_allowed",
            subject=f"Camera {camera}",
            camera_id=camera,
            purpose=f"incident:{incident}",
            details={"incident": incident, "role": "operator", "wall": "main wall", "tile": tile},
            **fields,
        )

    def close(self, camera: str, tile: int, reason: str = "closed_by_operator", **fields: Any):
        return self.add(
            "feed_closed",
            camera_id=camera,
            reason=reason,
            details={"wall": "main wall", "tile": tile},
            **fields,
        )


def shown(state: ReplayState, tile: int) -> FeedOnTile:
    feed = state.feed_on("main wall", tile)
    assert feed is not None, f"nothing on tile {tile}"
    return feed


def test_a_session_runs_from_login_to_logout_with_its_actors_events_only():
    script = Script()
    script.add("login_failed", "dana")
    script.add("login", "dana", details={"role": "operator"})
    script.allow("cam-1", 1)
    script.add("audit_read", "root")  # a command run on the same machine meanwhile
    script.add("logout", "dana")
    script.add("geofence_query", "dana")  # after the logout: no session

    (session,) = find_sessions(script.events)
    assert (session.actor, session.role, session.ended_by) == ("dana", "operator", "logout")
    assert [event.seq for event in session.events] == [2, 3, 5]
    assert session.start == script.events[1].time
    assert session.end == script.events[4].time


def test_the_feeds_the_console_closes_as_it_signs_out_belong_to_the_session():
    script = Script()
    script.add("login")
    script.allow("cam-1", 1)
    logout = script.add("logout")
    closed = script.close("cam-1", 1, reason="signed_out")
    script.add("geofence_query")  # the same user, later, outside any session
    (session,) = find_sessions(script.events)
    assert [event.seq for event in session.events] == [1, 2, 3, 4]
    assert (session.ended_by, session.end) == ("logout", closed.time)
    replay = SessionReplay(session)
    assert [feed.camera_id for feed in replay.state_at(logout.time).feeds] == ["cam-1"]
    assert replay.state_at(closed.time).feeds == ()


def test_a_session_without_logout_ends_at_the_next_login_or_the_last_event():
    script = Script()
    script.add("login", "dana")
    script.allow("cam-1", 1)
    script.add("login", "lee")  # the console crashed; Lee signed in next
    script.add("feed_denied", "lee", camera_id="cam-2")

    first, second = find_sessions(script.events)
    assert (first.actor, first.ended_by, first.last_seq) == ("dana", "next login", 2)
    assert (second.actor, second.ended_by, second.last_seq) == ("lee", "end of log", 4)
    assert second.count(EventMark.DENIAL) == 1
    assert first.count(EventMark.DENIAL) == 0


def test_sessions_are_found_per_workstation_from_mixed_events():
    one, two = Script("ws-1"), Script("ws-2")
    one.add("login", "dana")
    two.add("login", "lee")
    one.add("logout", "dana")
    mixed = [two.events[0], one.events[1], one.events[0]]  # any order
    sessions = find_sessions(mixed)
    assert [(s.workstation, s.actor, s.ended_by) for s in sessions] == [
        ("ws-1", "dana", "logout"),
        ("ws-2", "lee", "end of log"),
    ]


def test_locked_periods_are_listed_and_an_open_one_has_no_end():
    script = Script()
    script.add("login")
    locked = script.add("session_locked", details={"reason": "inactivity"})
    wrong = script.add("session_unlocked", after_s=100, outcome="failure")  # a wrong password
    unlocked = script.add("session_unlocked", after_s=200)
    again = script.add("session_locked")
    (session,) = find_sessions(script.events)
    assert session.locked == ((locked.time, unlocked.time), (again.time, None))
    replay = SessionReplay(session)
    assert replay.state_at(locked.time).locked
    assert replay.state_at(wrong.time).locked
    assert not replay.state_at(unlocked.time).locked
    assert replay.state_at(again.time + timedelta(hours=1)).locked


def test_feeds_are_on_their_tiles_between_their_open_and_their_close():
    script = Script()
    script.add("login")
    first = script.allow("cam-1", 1)
    script.allow("cam-2", 3, incident="2026-000200")
    closed = script.close("cam-1", 1)
    replay = SessionReplay(find_sessions(script.events)[0])

    before = replay.state_at(first.time - timedelta(microseconds=1))
    assert before.feeds == ()
    both = replay.state_at(closed.time - timedelta(microseconds=1))
    assert [(f.camera_id, f.wall, f.tile, f.incident) for f in both.feeds] == [
        ("cam-1", "main wall", 1, "2026-000100"),
        ("cam-2", "main wall", 3, "2026-000200"),
    ]
    assert shown(both, 1).since == first.time
    assert shown(both, 1).camera_name == "Camera cam-1"
    after = replay.state_at(closed.time)
    assert after.feed_on("main wall", 1) is None
    assert shown(after, 3).camera_id == "cam-2"
    assert after.incident == "2026-000200"
    assert after.event_index == 3


def test_a_camera_open_on_two_tiles_loses_only_the_closed_tile():
    script = Script()
    script.add("login")
    script.allow("cam-1", 1)
    script.allow("cam-1", 2)
    script.close("cam-1", 2)
    replay = SessionReplay(find_sessions(script.events)[0])
    state = replay.state_after(len(replay.events) - 1)
    assert [(feed.tile, feed.camera_id) for feed in state.feeds] == [(1, "cam-1")]


def test_a_tile_replaced_before_its_close_arrived_shows_the_newest_feed():
    script = Script()
    script.add("login")
    script.allow("cam-1", 1)
    script.allow("cam-2", 1)  # the new open was recorded before the old one's close
    state_between = SessionReplay(find_sessions(script.events)[0]).state_after(2)
    assert shown(state_between, 1).camera_id == "cam-2"
    script.close("cam-1", 1, reason="replaced_on_wall")
    replay = SessionReplay(find_sessions(script.events)[0])
    assert [feed.camera_id for feed in replay.state_after(3).feeds] == ["cam-2"]


def test_a_denied_tile_says_so_until_a_feed_opens_on_it():
    script = Script()
    script.add("login")
    denied = script.add(
        "feed_denied",
        camera_id="cam-porch",
        subject="Porch",
        reason="registered_only",
        outcome="failure",
        details={"incident": "2026-000300", "wall": "main wall", "tile": 2},
    )
    script.allow("cam-1", 2)
    replay = SessionReplay(find_sessions(script.events)[0])
    refused = replay.state_after(1)
    refusal = refused.refusal_on("main wall", 2)
    assert refusal is not None
    assert (refusal.camera_name, refusal.reason, refusal.time) == (
        "Porch",
        "registered_only",
        denied.time,
    )
    assert refused.refusal_on("main wall", 1) is None
    assert refused.incident == "2026-000300"
    opened = replay.state_after(2)
    assert opened.refusal_on("main wall", 2) is None
    assert shown(opened, 2).camera_id == "cam-1"


def test_feeds_without_a_recorded_tile_are_listed_last_and_closed_by_camera():
    script = Script()
    script.add("login")
    script.add("feed_allowed", camera_id="cam-9", subject="Old", purpose="case:77")
    script.allow("cam-1", 4)
    replay = SessionReplay(find_sessions(script.events)[0])
    state = replay.state_after(2)
    assert [(feed.camera_id, feed.tile) for feed in state.feeds] == [("cam-1", 4), ("cam-9", None)]
    script.add("feed_closed", camera_id="cam-9")
    replay = SessionReplay(find_sessions(script.events)[0])
    assert [feed.camera_id for feed in replay.state_after(3).feeds] == ["cam-1"]


def test_geofences_keep_the_newest_three_and_set_the_incident_in_focus():
    script = Script()
    script.add("login")
    for number in range(4):
        script.add(
            "geofence_query",
            details={
                "shape": "circle",
                "latitude": "52.370000",
                "longitude": "4.890000",
                "radius_m": 100 + number,
                "incident": f"2026-00010{number}",
                "results": number,
            },
        )
    replay = SessionReplay(find_sessions(script.events)[0])
    state = replay.state_after(len(replay.events) - 1)
    assert [drawn.fence for drawn in state.geofences] == [
        GeofenceCircle(52.37, 4.89, radius) for radius in (101, 102, 103)
    ]
    assert state.geofences[-1].results == 3
    assert state.incident == "2026-000103"
    assert replay.state_after(1).geofences[0].fence == GeofenceCircle(52.37, 4.89, 100)


def test_a_polygon_geofence_is_read_back_and_a_malformed_one_is_skipped():
    script = Script()
    polygon = script.add(
        "geofence_query",
        details={"shape": "polygon", "corners": 3, "polygon": "52.1,4.1;52.2,4.2;52.1,4.3"},
    )
    broken = script.add("geofence_query", details={"shape": "polygon", "polygon": "52.1;x"})
    assert geofence_of(polygon) == GeofencePolygon(((52.1, 4.1), (52.2, 4.2), (52.1, 4.3)))
    assert geofence_of(broken) is None


def test_marks_find_denials_revocations_and_exports_in_both_directions():
    script = Script()
    script.add("login")
    script.add("feed_denied", camera_id="cam-3", outcome="failure")  # 1
    script.allow("cam-1", 1)  # 2
    script.close("cam-1", 1, reason="revoked", outcome="failure")  # 3: the gate ended it
    script.allow("cam-2", 2)  # 4
    script.close("cam-2", 2)  # 5: the operator closed it: no revocation
    script.add("export", camera_id="cam-2")  # 6
    script.add("feed_denied", camera_id="cam-3", outcome="failure")  # 7
    replay = SessionReplay(find_sessions(script.events)[0])
    assert replay.marks(EventMark.DENIAL) == (1, 7)
    assert replay.marks(EventMark.REVOCATION) == (3,)
    assert replay.marks(EventMark.EXPORT) == (6,)
    assert replay.next_mark(EventMark.DENIAL, 1) == 7
    assert replay.next_mark(EventMark.DENIAL, 7) is None
    assert replay.previous_mark(EventMark.DENIAL, 7) == 1
    assert replay.previous_mark(EventMark.DENIAL, 1) is None
    assert replay.next_mark(EventMark.REVOCATION, -1) == 3


def test_a_clock_set_back_never_moves_the_replay_backwards():
    script = Script()
    script.add("login")
    script.allow("cam-1", 1)
    late = script.add("geofence_query", after_s=10)
    skewed = script.allow("cam-2", 2, after_s=-5)  # stamped before the event before it
    replay = SessionReplay(find_sessions(script.events)[0])
    assert replay.time_of(3) == late.time
    assert skewed.time < late.time
    assert [feed.camera_id for feed in replay.state_at(late.time).feeds] == ["cam-1", "cam-2"]


def test_moments_before_the_first_event_show_nothing():
    script = Script()
    script.add("login")
    replay = SessionReplay(find_sessions(script.events)[0])
    state = replay.state_at(START)
    assert (state.event_index, state.feeds, state.incident) == (-1, (), None)


def test_events_parse_from_exported_rows_and_say_what_is_wrong():
    row = {
        "seq": 4,
        "time": "2026-11-21T22:00:01.000000Z",
        "event_type": "feed_allowed",
        "actor": "dana",
        "workstation": "ws-1",
        "outcome": "success",
        "subject": "Corner",
        "camera_id": "cam-1",
        "purpose": "incident:2026-000100",
        "details": {"wall": "main wall", "tile": 2},
    }
    event = ReplayEvent.from_fields(row)
    assert (event.seq, event.tile, event.incident) == (4, ("main wall", 2), "2026-000100")
    with pytest.raises(ValueError, match="'actor'"):
        ReplayEvent.from_fields({key: value for key, value in row.items() if key != "actor"})
    with pytest.raises(ValueError, match="not a UTC audit time"):
        ReplayEvent.from_fields({**row, "time": "yesterday"})


def test_scrubbing_a_100k_event_session_is_instant():
    script = Script()
    script.add("login")
    for number in range(50_000):
        tile = number % 16 + 1
        script.allow(f"cam-{number % 400}", tile, after_s=0.5)
        script.close(f"cam-{number % 400}", tile, after_s=0.5)
    build_started = time.perf_counter()
    replay = SessionReplay(find_sessions(script.events)[0])
    build_s = time.perf_counter() - build_started
    span = replay.end - replay.start
    moments = [replay.start + span * (step / 999) for step in range(1000)]
    started = time.perf_counter()
    states = [replay.state_at(moment) for moment in moments]
    per_moment_s = (time.perf_counter() - started) / len(moments)
    assert len(replay.events) == 100_001
    assert per_moment_s < 0.001, per_moment_s
    assert build_s < 10, build_s
    assert all(len(state.feeds) <= 1 for state in states)
    assert states[-1].event_index == 100_000

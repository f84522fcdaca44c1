"""Sharing policies: window parsing and validation, ``check()``, and the weekly-window clock.

The window clock is checked against an oracle written here: the set of minutes of the week
(Monday 00:00 = 0) that the windows cover, enumerated minute by minute from the window texts,
and the instant's local wall-clock minute as zoneinfo gives it. Instants are drawn around the
daylight-saving changes of America/New_York and Europe/London in 2025-2027.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from app.models.sharing_policy import (
    PolicyError,
    PolicyMode,
    SharingPolicy,
    WeeklyWindow,
    in_any_window,
    parse_windows,
)

MINUTES_IN_DAY = 24 * 60
MINUTES_IN_WEEK = 7 * MINUTES_IN_DAY
ORACLE_DAYS = {
    name: number
    for number, names in enumerate(
        [
            ("mon", "monday"),
            ("tue", "tuesday"),
            ("wed", "wednesday"),
            ("thu", "thursday"),
            ("fri", "friday"),
            ("sat", "saturday"),
            ("sun", "sunday"),
        ]
    )
    for name in names
}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")

# The UTC instants of the changes, written out from the published rules (US: second Sunday
# of March and first Sunday of November at 02:00 local; EU: last Sunday of March and October
# at 01:00 UTC), not computed by zoneinfo; a test below checks zoneinfo agrees.
TRANSITIONS: dict[str, list[datetime]] = {
    "America/New_York": [
        datetime(2025, 3, 9, 7, tzinfo=UTC),
        datetime(2025, 11, 2, 6, tzinfo=UTC),
        datetime(2026, 3, 8, 7, tzinfo=UTC),
        datetime(2026, 11, 1, 6, tzinfo=UTC),
        datetime(2027, 3, 14, 7, tzinfo=UTC),
        datetime(2027, 11, 7, 6, tzinfo=UTC),
    ],
    "Europe/London": [
        datetime(2025, 3, 30, 1, tzinfo=UTC),
        datetime(2025, 10, 26, 1, tzinfo=UTC),
        datetime(2026, 3, 29, 1, tzinfo=UTC),
        datetime(2026, 10, 25, 1, tzinfo=UTC),
        datetime(2027, 3, 28, 1, tzinfo=UTC),
        datetime(2027, 10, 31, 1, tzinfo=UTC),
    ],
}
OTHER_ZONES = ["UTC", "Asia/Kolkata", "Australia/Lord_Howe", "America/Chicago"]


def spec(day: str, start: str, end: str) -> dict[str, str]:
    return {"day": day, "start": start, "end": end}


def policy(
    mode: PolicyMode,
    windows: list[dict[str, str]] | None = None,
    *,
    time_zone: str = "America/New_York",
    version: int = 1,
) -> SharingPolicy:
    return SharingPolicy(
        camera_id="cam-1",
        version=version,
        mode=mode,
        time_zone=time_zone,
        window_specs=windows or [],
        changed_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


# --- the oracle ---------------------------------------------------------------------------


def _hhmm(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def covered(window: dict[str, str]) -> set[int]:
    """The minutes of the week one window covers, counted out one by one."""
    day, start, end = (
        ORACLE_DAYS[window["day"].lower()],
        _hhmm(window["start"]),
        _hhmm(window["end"]),
    )
    length = end - start if end > start else MINUTES_IN_DAY - start + end
    first = day * MINUTES_IN_DAY + start
    return {(first + step) % MINUTES_IN_WEEK for step in range(length)}


def oracle_open(windows: list[dict[str, str]], time_zone: str, instant: datetime) -> bool:
    local = instant.astimezone(ZoneInfo(time_zone))
    minute_of_week = local.weekday() * MINUTES_IN_DAY + local.hour * 60 + local.minute
    return any(minute_of_week in covered(window) for window in windows)


def oracle_overlap(windows: list[dict[str, str]]) -> bool:
    return any(covered(a) & covered(b) for a, b in itertools.combinations(windows, 2))


# --- strategies ---------------------------------------------------------------------------

_EDGE_MINUTES = [0, 1, 59, 60, 61, 119, 120, 121, 179, 180, 181, 1380, 1438, 1439]


def _as_hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@st.composite
def window_specs(draw: st.DrawFn) -> dict[str, str]:
    # Sunday is the day both zones change their clocks; draw it more often.
    day = draw(st.sampled_from(["sun", "sat", "mon", *ORACLE_DAYS]))
    start = draw(st.one_of(st.sampled_from(_EDGE_MINUTES), st.integers(0, MINUTES_IN_DAY - 1)))
    end = draw(
        st.one_of(
            st.sampled_from([*_EDGE_MINUTES, MINUTES_IN_DAY]), st.integers(1, MINUTES_IN_DAY)
        ).filter(lambda value: value != start)
    )
    return spec(day, _as_hhmm(start), _as_hhmm(end))


@st.composite
def zone_and_instant(draw: st.DrawFn) -> tuple[str, datetime]:
    time_zone = draw(st.sampled_from([*TRANSITIONS, *OTHER_ZONES]))
    anywhere = st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    )
    changes = TRANSITIONS.get(time_zone) or TRANSITIONS["America/New_York"]
    # Within two days either side of a change, mostly to the second near the change itself.
    near_change = st.builds(
        lambda moment, seconds: moment + timedelta(seconds=seconds),
        st.sampled_from(changes),
        st.one_of(st.integers(-7200, 7200), st.integers(-2 * 86400, 2 * 86400)),
    )
    return time_zone, draw(st.one_of(near_change, near_change, anywhere))


# --- parsing ------------------------------------------------------------------------------


def test_a_window_parses_to_day_and_minutes() -> None:
    assert WeeklyWindow.parse(spec("tue", "09:30", "17:05")) == WeeklyWindow(1, 570, 1025)
    assert WeeklyWindow.parse(spec("Sunday", "00:00", "00:01")) == WeeklyWindow(6, 0, 1)
    assert WeeklyWindow.parse(spec("FRI", "22:00", "06:00")).crosses_midnight
    assert not WeeklyWindow.parse(spec("fri", "06:00", "22:00")).crosses_midnight


def test_24_00_ends_a_window_at_midnight() -> None:
    late = WeeklyWindow.parse(spec("mon", "22:00", "24:00"))
    assert late == WeeklyWindow(0, 22 * 60, 0)
    assert late.week_intervals() == [(22 * 60, MINUTES_IN_DAY)]
    whole_day = WeeklyWindow.parse(spec("sun", "00:00", "24:00"))
    assert whole_day.week_intervals() == [(6 * MINUTES_IN_DAY, MINUTES_IN_WEEK)]
    assert str(late) == "mon 22:00-00:00"


def test_a_window_crossing_the_week_end_splits_in_two() -> None:
    window = WeeklyWindow.parse(spec("sun", "22:00", "06:00"))
    assert window.week_intervals() == [(6 * MINUTES_IN_DAY + 22 * 60, MINUTES_IN_WEEK), (0, 360)]


@pytest.mark.parametrize(
    ("start", "end"), [("09:00", "09:00"), ("00:00", "00:00"), ("23:59", "23:59")]
)
def test_an_empty_window_is_refused(start: str, end: str) -> None:
    with pytest.raises(PolicyError, match="is empty"):
        WeeklyWindow.parse(spec("mon", start, end))


@pytest.mark.parametrize("day", ["monkey", "month", "mo", "", "funday", "sun day", 1, None, "7"])
def test_a_bad_day_name_is_refused(day: Any) -> None:
    with pytest.raises(PolicyError, match="is not one of mon, tue, wed, thu, fri, sat, sun"):
        WeeklyWindow.parse({"day": day, "start": "09:00", "end": "10:00"})


@pytest.mark.parametrize(
    "time", ["9:00", "0900", "09:0", "ab:cd", "09:00\n", " 09:00", "٠٩:٠٠", "-1:00", "", "09:00:00"]
)
def test_a_time_not_written_hh_mm_is_refused(time: str) -> None:
    with pytest.raises(PolicyError, match="is not HH:MM"):
        WeeklyWindow.parse(spec("mon", time, "23:00"))
    with pytest.raises(PolicyError, match="is not HH:MM"):
        WeeklyWindow.parse(spec("mon", "01:00", time))


@pytest.mark.parametrize("time", ["09:60", "25:00", "24:01", "99:99"])
def test_a_time_that_is_not_a_time_of_day_is_refused(time: str) -> None:
    with pytest.raises(PolicyError, match="is not a time of day"):
        WeeklyWindow.parse(spec("mon", time, "23:00"))
    with pytest.raises(PolicyError, match="is not a time of day"):
        WeeklyWindow.parse(spec("mon", "01:00", time))


def test_24_00_may_end_a_window_but_not_start_one() -> None:
    with pytest.raises(PolicyError, match="'24:00' is not a time of day"):
        WeeklyWindow.parse(spec("mon", "24:00", "02:00"))


@pytest.mark.parametrize("raw", [{"day": "mon", "start": "09:00"}, {}, ["mon"], "mon 09-10"])
def test_a_window_missing_its_parts_is_refused(raw: Any) -> None:
    with pytest.raises(PolicyError, match="needs day, start and end"):
        WeeklyWindow.parse(raw)


@pytest.mark.parametrize(
    "windows",
    [
        pytest.param([spec("mon", "09:00", "12:00"), spec("mon", "11:59", "13:00")], id="same-day"),
        pytest.param([spec("mon", "09:00", "12:00"), spec("mon", "09:00", "12:00")], id="twice"),
        pytest.param([spec("mon", "09:00", "17:00"), spec("mon", "10:00", "11:00")], id="inside"),
        pytest.param(
            [spec("mon", "22:00", "06:00"), spec("tue", "05:59", "07:00")], id="across-midnight"
        ),
        pytest.param(
            [spec("tue", "05:00", "07:00"), spec("mon", "22:00", "06:00")],
            id="across-midnight-listed-backwards",
        ),
        pytest.param(
            [spec("sun", "22:00", "06:00"), spec("mon", "05:00", "07:00")], id="across-week-end"
        ),
        pytest.param(
            # Both hold Monday 00:00-06:00 exactly (this once crashed with a TypeError).
            [spec("sun", "22:00", "06:00"), spec("mon", "00:00", "06:00")],
            id="same-span-across-week-end",
        ),
        pytest.param(
            [spec("sat", "23:00", "01:00"), spec("sun", "00:00", "24:00")], id="into-a-whole-day"
        ),
        pytest.param(
            [spec("mon", "10:00", "09:59"), spec("tue", "09:58", "10:00")], id="23h59-window"
        ),
    ],
)
def test_overlapping_windows_are_refused(windows: list[dict[str, str]]) -> None:
    assert oracle_overlap(windows)
    with pytest.raises(PolicyError, match="overlap"):
        parse_windows(windows)


@pytest.mark.parametrize(
    "windows",
    [
        pytest.param([spec("mon", "09:00", "10:00"), spec("mon", "10:00", "11:00")], id="touching"),
        pytest.param(
            [spec("mon", "22:00", "06:00"), spec("tue", "06:00", "07:00")], id="touch-after-night"
        ),
        pytest.param(
            [spec("sun", "22:00", "06:00"), spec("mon", "06:00", "22:00")], id="touch-week-end"
        ),
        pytest.param([spec(day, "22:00", "06:00") for day in WEEKDAYS], id="five-nights"),
        pytest.param(
            [spec(day, "00:00", "24:00") for day in ORACLE_DAYS if len(day) == 3], id="all"
        ),
        pytest.param([spec("mon", "10:00", "09:59"), spec("tue", "09:59", "10:00")], id="23h59"),
    ],
)
def test_windows_that_only_touch_are_accepted(windows: list[dict[str, str]]) -> None:
    assert not oracle_overlap(windows)
    assert len(parse_windows(windows)) == len(windows)


def test_the_overlap_message_names_both_windows() -> None:
    with pytest.raises(PolicyError, match=r"sun 22:00-06:00 and mon 05:00-07:00 overlap"):
        parse_windows([spec("mon", "05:00", "07:00"), spec("sun", "22:00", "06:00")])


@given(st.lists(window_specs(), max_size=4))
@example([spec("sun", "22:00", "06:00"), spec("mon", "00:00", "06:00")])
@example([spec("sun", "00:00", "24:00"), spec("mon", "00:00", "00:01")])
def test_windows_are_refused_exactly_when_they_share_a_minute(
    windows: list[dict[str, str]],
) -> None:
    if oracle_overlap(windows):
        with pytest.raises(PolicyError, match="overlap"):
            parse_windows(windows)
    else:
        parsed = parse_windows(windows)
        assert [covered(window.as_dict()) for window in parsed] == [covered(w) for w in windows]


# --- SharingPolicy.check ------------------------------------------------------------------


@pytest.mark.parametrize(
    "good",
    [
        policy(PolicyMode.CONTINUOUS),
        policy(PolicyMode.EMERGENCY_ONLY),
        policy(PolicyMode.REVOKED, version=9),
        policy(PolicyMode.SCHEDULED, [spec(day, "22:00", "06:00") for day in WEEKDAYS]),
        policy(PolicyMode.SCHEDULED, [spec("sun", "00:00", "24:00")], time_zone="Europe/London"),
    ],
    ids=lambda p: p.mode.value,
)
def test_a_usable_policy_passes_its_check(good: SharingPolicy) -> None:
    good.check()


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (policy(PolicyMode.SCHEDULED), "a scheduled policy needs at least one window"),
        (
            policy(PolicyMode.CONTINUOUS, [spec("mon", "09:00", "10:00")]),
            "a continuous policy takes no windows",
        ),
        (
            policy(PolicyMode.EMERGENCY_ONLY, [spec("mon", "09:00", "10:00")]),
            "a emergency_only policy takes no windows",
        ),
        (
            policy(PolicyMode.REVOKED, [spec("mon", "09:00", "10:00")]),
            "a revoked policy takes no windows",
        ),
        (policy(PolicyMode.CONTINUOUS, version=0), "policy versions start at 1"),
        (
            policy(PolicyMode.SCHEDULED, [spec("mon", "09:00", "09:00")]),
            "window mon 09:00-09:00 is empty",
        ),
        (
            policy(
                PolicyMode.SCHEDULED, [spec("mon", "22:00", "06:00"), spec("tue", "05:00", "06:00")]
            ),
            "overlap",
        ),
        (policy(PolicyMode.SCHEDULED, [spec("xyz", "09:00", "10:00")]), "window day 'xyz'"),
    ],
)
def test_an_unusable_policy_fails_its_check(bad: SharingPolicy, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        bad.check()


@pytest.mark.parametrize(
    "time_zone", ["Mars/Olympus", "America", "EST5EDT ", "", "../../etc/passwd"]
)
def test_an_unknown_time_zone_is_a_policy_error_that_says_what_to_use(time_zone: str) -> None:
    with pytest.raises(PolicyError) as raised:
        policy(PolicyMode.CONTINUOUS, time_zone=time_zone).check()
    assert str(raised.value) == (
        f"unknown time zone {time_zone!r} (use an IANA name such as America/New_York)"
    )
    with pytest.raises(PolicyError, match="unknown time zone"):
        in_any_window([], time_zone, datetime(2026, 1, 1, tzinfo=UTC))


def test_the_policy_windows_property_parses_the_stored_specs() -> None:
    stored = policy(PolicyMode.SCHEDULED, [spec("fri", "22:00", "06:00")])
    assert stored.windows == [WeeklyWindow(4, 22 * 60, 6 * 60)]


# --- the window clock ---------------------------------------------------------------------

NIGHTS = [spec(day, "22:00", "06:00") for day in WEEKDAYS]
EASTERN_WINTER = timezone(timedelta(hours=-5))
EASTERN_SUMMER = timezone(timedelta(hours=-4))


@pytest.mark.parametrize(
    ("local", "is_open"),
    [
        (datetime(2026, 11, 16, 22, 0), True),  # Monday 22:00: the first night starts
        (datetime(2026, 11, 16, 21, 59), False),
        (datetime(2026, 11, 17, 5, 59), True),  # Tuesday morning: Monday's night
        (datetime(2026, 11, 17, 6, 0), False),
        (datetime(2026, 11, 20, 23, 0), True),  # Friday 23:00
        (datetime(2026, 11, 21, 5, 59), True),  # Saturday 05:59: still Friday's night
        (datetime(2026, 11, 21, 6, 0), False),
        (datetime(2026, 11, 21, 23, 0), False),  # Saturday night: no window
        (datetime(2026, 11, 22, 23, 0), False),  # Sunday 23:00: no Sunday window
        (datetime(2026, 11, 23, 5, 0), False),  # Monday 05:00 belongs to Sunday's night
        (datetime(2026, 11, 23, 0, 0), False),
        (datetime(2026, 11, 18, 12, 0), False),  # Wednesday noon
    ],
)
def test_a_window_crossing_midnight_belongs_to_the_day_it_starts(
    local: datetime, is_open: bool
) -> None:
    instant = local.replace(tzinfo=EASTERN_WINTER)  # November 16-23, 2026: EST in New York
    assert in_any_window(parse_windows(NIGHTS), "America/New_York", instant) is is_open
    assert oracle_open(NIGHTS, "America/New_York", instant) is is_open


def test_the_window_clock_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        in_any_window(parse_windows(NIGHTS), "America/New_York", datetime(2026, 11, 20, 23))


def test_the_written_out_changes_are_where_zoneinfo_puts_them() -> None:
    for time_zone, changes in TRANSITIONS.items():
        zone = ZoneInfo(time_zone)
        for change in changes:
            before = (change - timedelta(seconds=1)).astimezone(zone).utcoffset()
            after = change.astimezone(zone).utcoffset()
            assert before != after, f"{time_zone} does not change its clocks at {change}"


OFFICE = [spec(day, "09:00", "17:00") for day in WEEKDAYS]
SUMMER_TIME = {"America/New_York": -4, "Europe/London": 1}
WINTER_TIME = {"America/New_York": -5, "Europe/London": 0}


@pytest.mark.parametrize(
    ("time_zone", "friday_before", "monday_after", "before_offset", "after_offset"),
    [
        ("America/New_York", datetime(2026, 3, 6), datetime(2026, 3, 9), "winter", "summer"),
        ("America/New_York", datetime(2026, 10, 30), datetime(2026, 11, 2), "summer", "winter"),
        ("Europe/London", datetime(2026, 3, 27), datetime(2026, 3, 30), "winter", "summer"),
        ("Europe/London", datetime(2026, 10, 23), datetime(2026, 10, 26), "summer", "winter"),
        ("America/New_York", datetime(2025, 3, 7), datetime(2025, 3, 10), "winter", "summer"),
        ("Europe/London", datetime(2027, 10, 29), datetime(2027, 11, 1), "summer", "winter"),
    ],
)
def test_window_local_times_do_not_move_across_a_clock_change(
    time_zone: str,
    friday_before: datetime,
    monday_after: datetime,
    before_offset: str,
    after_offset: str,
) -> None:
    offsets = {"summer": SUMMER_TIME[time_zone], "winter": WINTER_TIME[time_zone]}
    windows = parse_windows(OFFICE)
    for day, season in ((friday_before, before_offset), (monday_after, after_offset)):
        fixed = timezone(timedelta(hours=offsets[season]))

        def at(hour: int, minute: int, day: datetime = day, fixed: timezone = fixed) -> datetime:
            return day.replace(hour=hour, minute=minute, tzinfo=fixed).astimezone(UTC)

        assert in_any_window(windows, time_zone, at(9, 0)), f"{day:%a %d %b} 09:00 is closed"
        assert not in_any_window(windows, time_zone, at(8, 59)), f"{day:%a %d %b} 08:59 is open"
        assert in_any_window(windows, time_zone, at(16, 59)), f"{day:%a %d %b} 16:59 is closed"
        assert not in_any_window(windows, time_zone, at(17, 0)), f"{day:%a %d %b} 17:00 is open"


def test_the_repeated_hour_of_autumn_is_in_a_window_both_times() -> None:
    windows = parse_windows([spec("sun", "01:00", "02:00")])
    # 1 November 2026, New York: 01:30 EDT (05:30 UTC), then 01:30 EST (06:30 UTC).
    assert in_any_window(windows, "America/New_York", datetime(2026, 11, 1, 5, 30, tzinfo=UTC))
    assert in_any_window(windows, "America/New_York", datetime(2026, 11, 1, 6, 30, tzinfo=UTC))
    assert not in_any_window(windows, "America/New_York", datetime(2026, 11, 1, 7, 0, tzinfo=UTC))


def test_the_skipped_hour_of_spring_never_opens() -> None:
    windows = parse_windows([spec("sun", "02:00", "03:00")])
    # 8 March 2026, New York: 01:59:59 EST is 06:59:59 UTC, and the next second is 03:00 EDT.
    for seconds in range(-3600, 3600, 60):
        instant = datetime(2026, 3, 8, 7, tzinfo=UTC) + timedelta(seconds=seconds)
        assert not in_any_window(windows, "America/New_York", instant), instant


@settings(max_examples=400)
@given(st.lists(window_specs(), max_size=4), zone_and_instant())
@example(
    [spec("sun", "01:00", "02:00")], ("America/New_York", datetime(2026, 11, 1, 6, 30, tzinfo=UTC))
)
@example(
    [spec("sun", "00:30", "01:30")], ("Europe/London", datetime(2026, 3, 29, 0, 59, tzinfo=UTC))
)
@example([spec("sat", "23:00", "24:00")], ("Europe/London", datetime(2026, 10, 24, 22, tzinfo=UTC)))
def test_the_window_clock_agrees_with_the_minute_oracle(
    windows: list[dict[str, str]], zone_instant: tuple[str, datetime]
) -> None:
    time_zone, instant = zone_instant
    parsed = [WeeklyWindow.parse(window) for window in windows]
    local = instant.astimezone(ZoneInfo(time_zone))
    assert in_any_window(parsed, time_zone, instant) is oracle_open(windows, time_zone, instant), (
        f"{windows} at {instant.isoformat()} = {local.isoformat()} {local:%a} in {time_zone}"
    )

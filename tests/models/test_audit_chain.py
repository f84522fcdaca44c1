"""The audit chain's time encoding: ``parse_time`` reads what ``format_time`` writes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.models.audit_chain import format_time, parse_time


def strptime_reading(text: str) -> datetime | None:
    """How parse_time read every time before its fast path: None where it raised."""
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def parse_or_none(text: str) -> datetime | None:
    try:
        return parse_time(text)
    except ValueError:
        return None


# Years before 1000: strftime writes fewer than four digits, which neither reading takes.
@given(st.datetimes(min_value=datetime(1000, 1, 1), timezones=st.just(UTC)))
def test_a_formatted_time_reads_back_exactly(moment: datetime) -> None:
    assert parse_time(format_time(moment)) == moment


@given(st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z\Z"))
def test_the_canonical_shape_reads_as_strptime_reads_it_valid_or_not(text: str) -> None:
    assert parse_or_none(text) == strptime_reading(text)


@pytest.mark.parametrize(
    "text",
    [
        "2026-02-29T00:00:00.000000Z",  # no such day
        "2026-11-21T24:00:00.000000Z",
        "2026-11-21T23:59:60.000000Z",
        "2026-11-21T19:01:52.1Z",  # not canonical, but strptime took it and still does
        "2026-11-21T19:01:52.123456+00:00",
        "2026-11-21T19:01:52.123456z",
        "２０２６-11-21T19:01:52.123456Z",  # digits, but not ASCII ones
        "2026-11-21 19:01:52.123456Z",
    ],
)
def test_other_texts_read_as_before(text: str) -> None:
    assert parse_or_none(text) == strptime_reading(text)

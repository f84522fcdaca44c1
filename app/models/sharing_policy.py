"""SharingPolicy: the owner's terms for streaming an integrated camera, and its weekly windows.

A ``scheduled`` policy lists weekly windows in the owner's IANA time zone. A window is a start
day and local start and end times; when the end is not after the start the window crosses
midnight and belongs to the day it starts: ``fri 22:00-06:00`` covers Friday night into Saturday
morning. Windows are compared in local wall-clock time, so daylight-saving changes never move
them.
"""

from __future__ import annotations

import enum
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import JSON, Enum, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, UtcDateTime

if TYPE_CHECKING:
    from app.models.camera import Camera

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
_TIME = re.compile(r"([0-9]{2}):([0-9]{2})")


class PolicyMode(enum.StrEnum):
    CONTINUOUS = "continuous"
    EMERGENCY_ONLY = "emergency_only"
    SCHEDULED = "scheduled"
    REVOKED = "revoked"


class PolicyError(ValueError):
    """A policy that cannot be used as written; the message says what to fix."""


def _minutes(text: str, *, allow_24: bool) -> int:
    match = _TIME.fullmatch(text)
    if not match:
        raise PolicyError(f"time {text!r} is not HH:MM")
    hours, minutes = int(match[1]), int(match[2])
    value = hours * 60 + minutes
    if minutes >= 60 or value > MINUTES_PER_DAY or (value == MINUTES_PER_DAY and not allow_24):
        raise PolicyError(f"time {text!r} is not a time of day")
    return value


def _day(text: object) -> int | None:
    """0=Monday for ``mon``..``sun`` or ``monday``..``sunday`` (any case), else None."""
    if not isinstance(text, str):
        return None
    key = text.strip().lower()
    for names in (DAYS, DAY_NAMES):
        if key in names:
            return names.index(key)
    return None


@dataclass(frozen=True, slots=True)
class WeeklyWindow:
    """One weekly window: ``day`` 0=Monday, local ``start``/``end`` in minutes after midnight."""

    day: int
    start: int
    end: int

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> WeeklyWindow:
        try:
            day_text, start_text, end_text = raw["day"], raw["start"], raw["end"]
        except (KeyError, TypeError) as exc:
            raise PolicyError(f"window {raw!r} needs day, start and end") from exc
        day = _day(day_text)
        if day is None:
            raise PolicyError(f"window day {day_text!r} is not one of {', '.join(DAYS)}")
        start = _minutes(str(start_text), allow_24=False)
        end = _minutes(str(end_text), allow_24=True)
        if start == end:
            raise PolicyError(f"window {day_text} {start_text}-{end_text} is empty")
        return cls(day, start, end % MINUTES_PER_DAY)

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    def week_intervals(self) -> list[tuple[int, int]]:
        """The window as half-open minute intervals on the week ring (Monday 00:00 = 0)."""
        begin = self.day * MINUTES_PER_DAY + self.start
        length = (self.end - self.start) % MINUTES_PER_DAY or MINUTES_PER_DAY
        finish = begin + length
        if finish <= MINUTES_PER_WEEK:
            return [(begin, finish)]
        return [(begin, MINUTES_PER_WEEK), (0, finish - MINUTES_PER_WEEK)]

    def covers(self, weekday: int, minute_of_day: float) -> bool:
        if self.crosses_midnight:
            if weekday == self.day:
                return minute_of_day >= self.start
            return weekday == (self.day + 1) % 7 and minute_of_day < self.end
        return weekday == self.day and self.start <= minute_of_day < self.end

    def as_dict(self) -> dict[str, str]:
        def hhmm(value: int) -> str:
            return f"{value // 60:02d}:{value % 60:02d}"

        # A whole day (the only window whose end equals its start) ends at 24:00, so the
        # result parses back; "00:00-00:00" would be refused as empty.
        end = "24:00" if self.end == self.start else hhmm(self.end)
        return {"day": DAYS[self.day], "start": hhmm(self.start), "end": end}

    def __str__(self) -> str:
        shown = self.as_dict()
        return f"{shown['day']} {shown['start']}-{shown['end']}"


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # "America" is a folder
        raise PolicyError(
            f"unknown time zone {name!r} (use an IANA name such as America/New_York)"
        ) from exc


def parse_windows(raw: list[dict[str, Any]]) -> list[WeeklyWindow]:
    """Parse and check windows: none empty, none overlapping another."""
    windows = [WeeklyWindow.parse(item) for item in raw]
    # Sorted by interval only: two windows can share an interval (``sun 22:00-06:00`` and
    # ``mon 00:00-06:00`` both hold Monday 00:00-06:00), and windows have no order.
    spans = sorted(
        ((interval, window) for window in windows for interval in window.week_intervals()),
        key=lambda span: span[0],
    )
    for (first, first_window), (second, second_window) in itertools.pairwise(spans):
        if second[0] < first[1]:
            raise PolicyError(f"windows {first_window} and {second_window} overlap")
    return windows


def in_any_window(windows: Sequence[WeeklyWindow], time_zone: str, now: datetime) -> bool:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local = now.astimezone(zone(time_zone))
    minute = local.hour * 60 + local.minute + local.second / 60
    return any(window.covers(local.weekday(), minute) for window in windows)


@dataclass(frozen=True, slots=True)
class PolicyTerms:
    """A policy version as plain values: what the gate decides on, read once from the registry
    and safe to hand to another thread."""

    version: int
    mode: PolicyMode
    time_zone: str
    windows: tuple[WeeklyWindow, ...]


class SharingPolicy(Base):
    """One version of a camera's policy; every change adds a row with a higher version."""

    __tablename__ = "sharing_policies"
    __table_args__ = (UniqueConstraint("camera_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    mode: Mapped[PolicyMode] = mapped_column(Enum(PolicyMode, native_enum=False, length=16))
    time_zone: Mapped[str] = mapped_column(String(64))
    window_specs: Mapped[list[dict[str, str]]] = mapped_column("windows", JSON, default=list)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    note: Mapped[str] = mapped_column(String(500), default="")

    camera: Mapped[Camera] = relationship(back_populates="policies")

    @property
    def windows(self) -> list[WeeklyWindow]:
        return [WeeklyWindow.parse(item) for item in self.window_specs]

    def terms(self) -> PolicyTerms:
        """This version as plain values; raises PolicyError when its windows cannot be read."""
        return PolicyTerms(self.version, self.mode, self.time_zone, tuple(self.windows))

    def check(self) -> None:
        """Raise PolicyError when the policy cannot be applied as written."""
        zone(self.time_zone)
        windows = parse_windows(self.window_specs)
        if self.mode is PolicyMode.SCHEDULED and not windows:
            raise PolicyError("a scheduled policy needs at least one window")
        if self.mode is not PolicyMode.SCHEDULED and windows:
            raise PolicyError(f"a {self.mode.value} policy takes no windows")
        if self.version < 1:
            raise PolicyError("policy versions start at 1")

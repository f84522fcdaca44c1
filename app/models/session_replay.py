"""A supervisor's replay of an operator's session, built from audit events alone.

``find_sessions`` cuts one workstation's events into sessions (a login to its logout, or to the
next login on that workstation, or to the last event when neither came: a crash or a log that
ends mid-shift) and counts what a supervisor looks for first: denials, revocations, exports.
``SessionReplay`` answers "what did the console show at moment t": the feeds on each wall tile
(camera, incident, since when), the geofences drawn, the incident in focus, whether the console
was locked, and which event was the latest. Everything is computed once when the replay is
built; a moment costs two binary searches, so scrubbing a 100,000-event session stays instant.

Times come in with the events; nothing here reads a clock, a file or the network.
"""

from __future__ import annotations

import enum
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.models.audit_chain import AuditEventType, DetailValue, Outcome, parse_time
from app.models.geofence import Geofence, GeofenceCircle, GeofencePolygon

EXPORT_TYPES = frozenset(
    {AuditEventType.EXPORT, AuditEventType.AUDIT_EXPORT, AuditEventType.REGISTRY_EXPORT}
)
RECENT_GEOFENCES = 3  # the map shows the newest fence and the two before it, fainter


class EventMark(enum.StrEnum):
    """The events a supervisor jumps between."""

    DENIAL = "denial"  # the gate refused a feed
    REVOCATION = "revocation"  # the gate ended a feed: policy revoked or changed, window ended
    EXPORT = "export"  # evidence, an audit report or the registry left the console


@dataclass(frozen=True, slots=True)
class ReplayEvent:
    """One audit event as the replay needs it (from the local log or the server's copy)."""

    seq: int
    time: datetime
    event_type: str
    actor: str
    workstation: str
    outcome: str = Outcome.SUCCESS.value
    subject: str = ""
    camera_id: str | None = None
    purpose: str | None = None
    decision: str | None = None
    reason: str | None = None
    details: Mapping[str, DetailValue] = field(default_factory=dict)

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> ReplayEvent:
        """From an exported row (``read_events``) or a server's ``StoredEvent``; raises
        ValueError naming the field when one is missing or malformed."""
        try:
            moment = fields["time"]
            if isinstance(moment, str):
                moment = parse_time(moment) if moment.endswith("Z") else None
            if not isinstance(moment, datetime) or moment.tzinfo is None:
                raise ValueError(f"event {fields.get('seq')}: time is not a UTC audit time")
            details = fields.get("details") or {}
            if not isinstance(details, Mapping):
                raise ValueError(f"event {fields.get('seq')}: details is not an object")
            return cls(
                seq=int(fields["seq"]),
                time=moment,
                event_type=str(fields["event_type"]),
                actor=str(fields["actor"]),
                workstation=str(fields["workstation"]),
                outcome=str(fields.get("outcome") or Outcome.SUCCESS.value),
                subject=str(fields.get("subject") or ""),
                camera_id=fields.get("camera_id"),
                purpose=fields.get("purpose"),
                decision=fields.get("decision"),
                reason=fields.get("reason"),
                details=dict(details),
            )
        except KeyError as exc:
            raise ValueError(f"an audit event without {exc.args[0]!r}") from exc

    @property
    def mark(self) -> EventMark | None:
        if self.event_type == AuditEventType.FEED_DENIED:
            return EventMark.DENIAL
        if self.event_type == AuditEventType.FEED_CLOSED and self.outcome == Outcome.FAILURE:
            return EventMark.REVOCATION  # the gate's own ends are failures; a person's are not
        if self.event_type in EXPORT_TYPES:
            return EventMark.EXPORT
        return None

    @property
    def unlocked(self) -> bool:
        """An unlock that worked (a wrong password is recorded too, and leaves it locked)."""
        return (
            self.event_type == AuditEventType.SESSION_UNLOCKED and self.outcome == Outcome.SUCCESS
        )

    @property
    def incident(self) -> str | None:
        value = self.details.get("incident")
        if isinstance(value, str) and value:
            return value
        if self.purpose and self.purpose.startswith("incident:"):
            return self.purpose.removeprefix("incident:")
        return None

    @property
    def tile(self) -> tuple[str, int] | None:
        """The wall and tile of a feed event, when the console recorded them."""
        wall, tile = self.details.get("wall"), self.details.get("tile")
        if isinstance(wall, str) and isinstance(tile, int) and not isinstance(tile, bool):
            return wall, tile
        return None


@dataclass(frozen=True, slots=True)
class OperatorSession:
    """One actor's session on one workstation, login to logout."""

    workstation: str
    actor: str
    role: str | None
    start: datetime
    end: datetime
    ended_by: str  # "logout", "next login" or "end of log"
    events: tuple[ReplayEvent, ...]
    locked: tuple[tuple[datetime, datetime | None], ...]  # None: still locked at the end
    marked: Mapping[EventMark, int]  # how many denials, revocations, exports: counted once

    @property
    def first_seq(self) -> int:
        return self.events[0].seq

    @property
    def last_seq(self) -> int:
        return self.events[-1].seq

    def count(self, mark: EventMark) -> int:
        return self.marked.get(mark, 0)


def find_sessions(events: Iterable[ReplayEvent]) -> list[OperatorSession]:
    """Every session in ``events`` (any workstations, any order), oldest first per workstation.

    A session holds its actor's events from the login to the logout (both included), and the
    feed closes right after the logout (the console ends its feeds as it signs out). Events of
    other actors in between (a ``beacon`` command run on the same machine) are left out, and so
    are an actor's events outside any session.
    """
    by_workstation: dict[str, list[ReplayEvent]] = {}
    for event in events:
        by_workstation.setdefault(event.workstation, []).append(event)
    sessions: list[OperatorSession] = []
    for workstation in sorted(by_workstation):
        ordered = sorted(by_workstation[workstation], key=lambda event: event.seq)
        open_login: ReplayEvent | None = None
        collected: list[ReplayEvent] = []
        signed_out = False  # the logout came; the console's own feed closes may still follow
        for event in ordered:
            if event.event_type == AuditEventType.LOGIN:
                if open_login is not None:
                    ended_by = "logout" if signed_out else "next login"
                    sessions.append(_session(open_login, collected, ended_by))
                open_login, collected, signed_out = event, [event], False
                continue
            if open_login is None or event.actor != open_login.actor:
                continue
            if signed_out and event.event_type != AuditEventType.FEED_CLOSED:
                sessions.append(_session(open_login, collected, "logout"))
                open_login, collected, signed_out = None, [], False
                continue
            collected.append(event)
            signed_out = signed_out or event.event_type == AuditEventType.LOGOUT
        if open_login is not None:
            sessions.append(
                _session(open_login, collected, "logout" if signed_out else "end of log")
            )
    return sessions


def _session(login: ReplayEvent, events: list[ReplayEvent], ended_by: str) -> OperatorSession:
    locked: list[tuple[datetime, datetime | None]] = []
    locked_at: datetime | None = None
    for event in events:
        if event.event_type == AuditEventType.SESSION_LOCKED and locked_at is None:
            locked_at = event.time
        elif event.unlocked and locked_at is not None:
            locked.append((locked_at, event.time))
            locked_at = None
    if locked_at is not None:
        locked.append((locked_at, None))
    role = login.details.get("role")
    marked = Counter(mark for event in events if (mark := event.mark) is not None)
    return OperatorSession(
        workstation=login.workstation,
        actor=login.actor,
        role=role if isinstance(role, str) else None,
        start=login.time,
        end=max(event.time for event in events),
        ended_by=ended_by,
        events=tuple(events),
        locked=tuple(locked),
        marked=dict(marked),
    )


@dataclass(frozen=True, slots=True)
class FeedOnTile:
    """A feed open at some moment of the replay."""

    camera_id: str
    camera_name: str
    wall: str | None  # None (and tile None): the console did not record where it was shown
    tile: int | None
    purpose: str | None
    incident: str | None
    since: datetime
    opened_seq: int


@dataclass(frozen=True, slots=True)
class TileRefusal:
    """A feed the gate refused for a tile; the tile says so until a feed opens on it."""

    camera_id: str
    camera_name: str
    wall: str
    tile: int
    reason: str | None
    time: datetime
    seq: int


@dataclass(frozen=True, slots=True)
class DrawnGeofence:
    fence: Geofence
    time: datetime
    incident: str | None
    results: int | None
    seq: int


@dataclass(frozen=True, slots=True)
class ReplayState:
    """What the console showed at one moment."""

    moment: datetime
    event_index: int  # the latest event at or before the moment; -1 before the first
    feeds: tuple[FeedOnTile, ...]  # by wall, then tile; feeds without a tile last
    geofences: tuple[DrawnGeofence, ...]  # oldest first, the newest is the one on the map
    incident: str | None  # the incident the operator last worked on
    locked: bool
    refusals: tuple[TileRefusal, ...] = ()  # tiles that say "denied", by wall and tile

    def refusal_on(self, wall: str, tile: int) -> TileRefusal | None:
        return next((r for r in self.refusals if (r.wall, r.tile) == (wall, tile)), None)

    def feed_on(self, wall: str, tile: int) -> FeedOnTile | None:
        """The feed shown on a tile: the newest one opened there and not yet closed."""
        shown = [feed for feed in self.feeds if feed.wall == wall and feed.tile == tile]
        return max(shown, key=lambda feed: feed.opened_seq, default=None)


@dataclass(frozen=True, slots=True)
class _Snapshot:
    feeds: tuple[FeedOnTile, ...]
    geofences: tuple[DrawnGeofence, ...]
    incident: str | None
    locked: bool
    refusals: tuple[TileRefusal, ...]


_EMPTY = _Snapshot((), (), None, False, ())


def geofence_of(event: ReplayEvent) -> Geofence | None:
    """The fence a geofence_query event recorded, or None when its details do not say."""
    details = event.details
    try:
        if details.get("shape") == "circle":
            return GeofenceCircle(
                float(str(details["latitude"])),
                float(str(details["longitude"])),
                float(str(details["radius_m"])),
            )
        if details.get("shape") == "polygon":
            corners = str(details["polygon"]).split(";")
            points = tuple(
                (float(lat), float(lon))
                for lat, lon in (corner.split(",", 1) for corner in corners)
            )
            return GeofencePolygon(points)
    except (KeyError, ValueError):
        return None
    return None


def _feed_sort_key(feed: FeedOnTile) -> tuple[bool, str, int, int]:
    return (feed.wall is None, feed.wall or "", feed.tile or 0, feed.opened_seq)


class SessionReplay:
    """Scrub one session: the state at any moment, and the events to jump between."""

    def __init__(self, session: OperatorSession) -> None:
        self.session = session
        self.events: tuple[ReplayEvent, ...] = session.events
        # The replay clock never runs backwards: an event stamped earlier than the one before
        # it (the workstation's clock was set back) is placed at the one before's time.
        self._times: list[datetime] = []
        latest: datetime | None = None
        for event in self.events:
            latest = event.time if latest is None or event.time > latest else latest
            self._times.append(latest)
        self._change_at: list[int] = []  # event indexes where the state changed
        self._snapshots: list[_Snapshot] = []
        self._marks: dict[EventMark, list[int]] = {mark: [] for mark in EventMark}
        self._build()

    @property
    def start(self) -> datetime:
        return self._times[0]

    @property
    def end(self) -> datetime:
        return self._times[-1]

    def time_of(self, index: int) -> datetime:
        """Where event ``index`` sits on the replay clock."""
        return self._times[index]

    def _build(self) -> None:
        feeds: list[FeedOnTile] = []
        geofences: tuple[DrawnGeofence, ...] = ()
        refusals: dict[tuple[str, int], TileRefusal] = {}
        incident: str | None = None
        locked = False
        for index, event in enumerate(self.events):
            mark = event.mark
            if mark is not None:
                self._marks[mark].append(index)
            kind = event.event_type
            if kind == AuditEventType.FEED_ALLOWED and event.camera_id:
                where = event.tile
                if where is not None:
                    refusals.pop(where, None)
                feeds.append(
                    FeedOnTile(
                        camera_id=event.camera_id,
                        camera_name=event.subject or event.camera_id,
                        wall=where[0] if where else None,
                        tile=where[1] if where else None,
                        purpose=event.purpose,
                        incident=event.incident,
                        since=self._times[index],
                        opened_seq=event.seq,
                    )
                )
                incident = event.incident or incident
            elif kind == AuditEventType.FEED_CLOSED and event.camera_id:
                closed = _closed_feed(feeds, event)
                if closed is None:
                    continue  # opened before the session began: nothing on screen to take off
                feeds.remove(closed)
            elif kind == AuditEventType.GEOFENCE_QUERY:
                fence = geofence_of(event)
                if fence is None:
                    continue
                results = event.details.get("results")
                drawn = DrawnGeofence(
                    fence,
                    self._times[index],
                    event.incident,
                    results if isinstance(results, int) else None,
                    event.seq,
                )
                geofences = (*geofences, drawn)[-RECENT_GEOFENCES:]
                incident = event.incident or incident
            elif kind == AuditEventType.FEED_DENIED and event.camera_id:
                where = event.tile
                if where is None and event.incident is None:
                    continue
                if where is not None:
                    refusals[where] = TileRefusal(
                        camera_id=event.camera_id,
                        camera_name=event.subject or event.camera_id,
                        wall=where[0],
                        tile=where[1],
                        reason=event.reason,
                        time=self._times[index],
                        seq=event.seq,
                    )
                incident = event.incident or incident
            elif kind == AuditEventType.FOOTAGE_REQUEST:
                if event.incident is None:
                    continue
                incident = event.incident
            elif kind == AuditEventType.SESSION_LOCKED or event.unlocked:
                locked = kind == AuditEventType.SESSION_LOCKED
            else:
                continue
            self._change_at.append(index)
            self._snapshots.append(
                _Snapshot(
                    tuple(sorted(feeds, key=_feed_sort_key)),
                    geofences,
                    incident,
                    locked,
                    tuple(refusals[key] for key in sorted(refusals)),
                )
            )

    def index_at(self, moment: datetime) -> int:
        """The latest event at or before ``moment``; -1 before the session's first."""
        return bisect_right(self._times, moment) - 1

    def state_at(self, moment: datetime) -> ReplayState:
        index = self.index_at(moment)
        return self._state(moment, index)

    def state_after(self, index: int) -> ReplayState:
        """The state right after event ``index`` (a jump to that event)."""
        return self._state(self._times[index], index)

    def _state(self, moment: datetime, index: int) -> ReplayState:
        change = bisect_right(self._change_at, index) - 1
        snapshot = self._snapshots[change] if change >= 0 else _EMPTY
        return ReplayState(
            moment=moment,
            event_index=index,
            feeds=snapshot.feeds,
            geofences=snapshot.geofences,
            incident=snapshot.incident,
            locked=snapshot.locked,
            refusals=snapshot.refusals,
        )

    def marks(self, mark: EventMark) -> Sequence[int]:
        """The indexes of the events of one kind, in order."""
        return tuple(self._marks[mark])

    def next_mark(self, mark: EventMark, after: int) -> int | None:
        """The first event of ``mark`` after index ``after``; None when there is none."""
        indexes = self._marks[mark]
        position = bisect_right(indexes, after)
        return indexes[position] if position < len(indexes) else None

    def previous_mark(self, mark: EventMark, before: int) -> int | None:
        """The last event of ``mark`` before index ``before``; None when there is none."""
        indexes = self._marks[mark]
        position = bisect_right(indexes, before - 1)
        return indexes[position - 1] if position > 0 else None


def _closed_feed(feeds: list[FeedOnTile], closed: ReplayEvent) -> FeedOnTile | None:
    """The open feed a feed_closed event ends: the same camera, on the same tile when both
    events recorded it, the oldest first (a camera may be open on two tiles)."""
    same_camera = [feed for feed in feeds if feed.camera_id == closed.camera_id]
    where = closed.tile
    on_tile = [feed for feed in same_camera if (feed.wall, feed.tile) == where]
    return next(iter(on_tile or same_camera), None)

"""The signed-in operator's walls as they are now, kept on disk so a crash does not lose them.

While a console session runs, each change of a wall (layout, a feed opened or closed) is written
to a small JSON file per user in the data directory, with ``ended_cleanly`` false; a sign-out or
quit writes it once more with ``ended_cleanly`` true and no feeds. At the next sign-in of that
user, a file still saying ``ended_cleanly: false`` means the console did not end cleanly: the
console restores the layouts and asks whether to request the feeds again, each through the
policy gate for the purpose it had. Nothing here opens a feed.

The file is written whole to a temporary name and renamed over the old one, so a crash in the
middle of a write leaves the previous state. It is validated when read (unknown keys, bad
layouts or purposes are refused with the reason), and a damaged file counts as no state. No Qt.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from app.models.policy import Purpose
from app.services.clock import Clock

log = logging.getLogger(__name__)

SESSIONS_DIR = "sessions"


class OpenFeed(BaseModel):
    """A feed on a tile: the camera, the purpose it was allowed for, and the tile (1-based)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tile: int = Field(ge=1)
    camera_id: str = Field(min_length=1)
    purpose: str  # "incident:2026-000101", as ``str(Purpose)`` writes it

    @field_validator("purpose")
    @classmethod
    def _a_purpose(cls, text: str) -> str:
        if Purpose.parse(text) is None:
            raise ValueError("a feed needs the purpose it was opened for")
        return text

    @property
    def feed_purpose(self) -> Purpose:
        purpose = Purpose.parse(self.purpose)
        assert purpose is not None  # checked by the validator
        return purpose


class WallState(BaseModel):
    """One wall: the main window's (``screen`` None) or a wall window's on ``screen``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    screen: str | None = None
    layout: str = Field(min_length=1)
    feeds: tuple[OpenFeed, ...] = ()


class WallSession(BaseModel):
    """Every wall of a user's console session, and whether that session ended cleanly."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str = Field(min_length=1)
    ended_cleanly: bool
    updated_at: AwareDatetime
    walls: tuple[WallState, ...] = ()

    @property
    def feed_count(self) -> int:
        return sum(len(wall.feeds) for wall in self.walls)

    def unfit_layout(self, tile_counts: Mapping[str, int]) -> str | None:
        """Why the walls do not fit ``tile_counts`` (layout name -> tiles), or None."""
        for wall in self.walls:
            tiles = tile_counts.get(wall.layout)
            if tiles is None:
                return f"it names the wall layout {wall.layout!r}, which Beacon does not have"
            beyond = [feed.tile for feed in wall.feeds if feed.tile > tiles]
            if beyond:
                return f"it puts a feed on tile {beyond[0]} of a {wall.layout} wall"
        return None

    def without_feeds(self) -> WallSession:
        walls = tuple(wall.model_copy(update={"feeds": ()}) for wall in self.walls)
        return self.model_copy(update={"walls": walls})


class WallSessionStore:
    """One user's wall session file; ``save`` and ``end_cleanly`` are called from jobs.

    After ``end_cleanly`` a late ``save`` (a job queued before the sign-out) is ignored, so the
    clean end is never overwritten by the session it ended.
    """

    def __init__(
        self, data_dir: Path, username: str, clock: Clock, tile_counts: Mapping[str, int]
    ) -> None:
        # The user name may hold any character: the file is named by its hash, the name is kept
        # inside and checked on read.
        digest = hashlib.sha256(username.encode()).hexdigest()[:24]
        self.path = data_dir / SESSIONS_DIR / f"walls-{digest}.json"
        self._username = username
        self._clock = clock
        self._tile_counts = dict(tile_counts)
        self._lock = threading.Lock()
        self._ended = False

    def unclean_end(self) -> WallSession | None:
        """The last session's walls when it did not end cleanly, else None."""
        previous = self.read()
        if previous is None or previous.ended_cleanly:
            return None
        return previous

    def read(self) -> WallSession | None:
        """The stored session, validated; None when there is none or it is unusable (logged)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("the saved walls at %s cannot be read: %s", self.path, exc)
            return None
        try:
            session = WallSession.model_validate_json(text)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            log.warning(
                "the saved walls at %s are damaged (%s: %s); starting without them",
                self.path,
                where,
                first["msg"],
            )
            return None
        unfit = session.unfit_layout(self._tile_counts)
        if session.username != self._username or unfit is not None:
            log.warning(
                "the saved walls at %s are not usable: %s",
                self.path,
                unfit or "they belong to another user",
            )
            return None
        return session

    def save(self, walls: tuple[WallState, ...]) -> bool:
        """Store ``walls`` as the running session's; False when the session already ended."""
        with self._lock:
            if self._ended:
                return False
            self._write(
                WallSession(
                    username=self._username,
                    ended_cleanly=False,
                    updated_at=self._clock(),
                    walls=walls,
                )
            )
            return True

    def end_cleanly(self) -> None:
        """Record a clean end: the layouts are kept, the feeds are not. Idempotent."""
        with self._lock:
            if self._ended:
                return
            self._ended = True
            previous = self.read()
            walls = previous.without_feeds().walls if previous is not None else ()
            self._write(
                WallSession(
                    username=self._username,
                    ended_cleanly=True,
                    updated_at=self._clock(),
                    walls=walls,
                )
            )

    def _write(self, session: WallSession) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        with temporary.open("w", encoding="utf-8") as file:
            file.write(session.model_dump_json(indent=1))
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)

"""WallView: an operator's named view of the walls: which cameras on which tiles, on which
monitor. Each user has their own views; a name is unique per user.

The definition is kept as JSON text and validated when it is read (``WallViewDefinition``), so a
damaged or hand-edited row is refused with a reason instead of restoring half a wall.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UtcDateTime

MAX_VIEW_NAME_LENGTH = 100


class SavedWall(BaseModel):
    """One wall of a view: where it was, its layout, and the camera on each tile (reading order;
    None for an empty tile)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window: bool  # False: the main window's wall; True: a wall window
    screen: str = Field(min_length=1)  # the monitor's name (QScreen.name)
    layout: str = Field(min_length=1)  # a wall layout name ("2x2", "1+5", ...)
    cameras: tuple[str | None, ...]

    @property
    def camera_count(self) -> int:
        return sum(camera is not None for camera in self.cameras)


class WallViewDefinition(BaseModel):
    """Every wall of a view: at most one main wall, any number of wall windows."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    walls: tuple[SavedWall, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_main_wall(self) -> WallViewDefinition:
        if sum(not wall.window for wall in self.walls) > 1:
            raise ValueError("a view has at most one main wall")
        return self

    @property
    def camera_count(self) -> int:
        return sum(wall.camera_count for wall in self.walls)

    def unfit_layout(self, tile_counts: Mapping[str, int]) -> str | None:
        """Why the view does not fit ``tile_counts`` (layout name -> tiles), or None when it does.

        The layouts belong to the wall (a widget), so the caller says which exist.
        """
        for wall in self.walls:
            tiles = tile_counts.get(wall.layout)
            if tiles is None:
                return f"it names the wall layout {wall.layout!r}, which Beacon does not have"
            if len(wall.cameras) > tiles:
                return (
                    f"it puts {len(wall.cameras)} tiles on a {wall.layout} wall, which has {tiles}"
                )
        return None


class WallView(Base):
    __tablename__ = "wall_views"
    __table_args__ = (UniqueConstraint("owner", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)  # the user's username
    name: Mapped[str] = mapped_column(String(MAX_VIEW_NAME_LENGTH))
    definition: Mapped[str] = mapped_column(Text)  # WallViewDefinition as JSON
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

"""Each operator's saved views of the walls: list, save, load and delete, one unit of work each.

The console calls these from background jobs. A view belongs to one user (``owner``, the
username) and is never listed, loaded or deleted for another. Loading validates the stored JSON
and the layouts it names: a damaged view raises ``WallViewError`` with a message an operator can
act on, and the other views stay usable. No Qt here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models.wall_view import MAX_VIEW_NAME_LENGTH, WallView, WallViewDefinition

SessionFactory = Callable[[], Session]


class WallViewError(Exception):
    """A view that cannot be saved, restored or deleted; the message says why and what to do."""


class WallViewExists(WallViewError):
    """Saving under a name the user already has, without saying to replace it."""


class WallViewNotFound(WallViewError):
    """The user has no view of that name (deleted meanwhile, or another user's)."""


def clean_view_name(name: str) -> str:
    """The name as stored: surrounding spaces dropped; empty or overlong names are refused."""
    cleaned = " ".join(name.split())
    if not cleaned:
        raise WallViewError("A view needs a name: type one, such as “Harbor night”.")
    if len(cleaned) > MAX_VIEW_NAME_LENGTH:
        raise WallViewError(
            f"A view name has at most {MAX_VIEW_NAME_LENGTH} characters; this one has "
            f"{len(cleaned)}. Choose a shorter name."
        )
    return cleaned


def view_names(sessions: SessionFactory, owner: str) -> list[str]:
    """The names of ``owner``'s views, sorted as a person reads them (case aside)."""
    with sessions() as session:
        names = session.scalars(select(WallView.name).where(WallView.owner == owner))
        return sorted(names, key=lambda name: (name.casefold(), name))


def save_view(
    sessions: SessionFactory,
    owner: str,
    name: str,
    definition: WallViewDefinition,
    now: datetime,
    *,
    tile_counts: Mapping[str, int],
    replace: bool = False,
) -> str:
    """Store ``definition`` as ``owner``'s view ``name``; returns the name as stored.

    Raises ``WallViewExists`` when the name is taken and ``replace`` is false (the console then
    asks before saving again with ``replace``), ``WallViewError`` for an unusable name or walls.
    """
    name = clean_view_name(name)
    unfit = definition.unfit_layout(tile_counts)
    if unfit is not None:
        raise WallViewError(f"The view “{name}” was not saved: {unfit}.")
    text = definition.model_dump_json()
    with sessions() as session:
        view = session.scalars(
            select(WallView).where(WallView.owner == owner, WallView.name == name)
        ).one_or_none()
        if view is not None and not replace:
            raise WallViewExists(f"You already have a view named “{name}”.")
        if view is None:
            session.add(
                WallView(owner=owner, name=name, definition=text, created_at=now, updated_at=now)
            )
        else:
            view.definition = text
            view.updated_at = now
        try:
            session.commit()
        except IntegrityError as exc:
            # Saved under the same name from another console between our read and our write.
            raise WallViewExists(f"You already have a view named “{name}”.") from exc
    return name


def load_view(
    sessions: SessionFactory, owner: str, name: str, *, tile_counts: Mapping[str, int]
) -> WallViewDefinition:
    """``owner``'s view ``name``, validated; raises ``WallViewNotFound`` or ``WallViewError``."""
    with sessions() as session:
        text = session.scalars(
            select(WallView.definition).where(WallView.owner == owner, WallView.name == name)
        ).one_or_none()
    if text is None:
        raise WallViewNotFound(f"There is no view named “{name}” any more.")
    try:
        definition = WallViewDefinition.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        detail = f"{where}: {first['msg']}" if where else first["msg"]
        raise WallViewError(
            f"The view “{name}” cannot be restored: its saved definition is damaged ({detail}). "
            "Delete it and save the walls again."
        ) from exc
    unfit = definition.unfit_layout(tile_counts)
    if unfit is not None:
        raise WallViewError(
            f"The view “{name}” cannot be restored: {unfit}. Delete it and save the walls again."
        )
    return definition


def delete_view(sessions: SessionFactory, owner: str, name: str) -> None:
    """Delete ``owner``'s view ``name``; raises ``WallViewNotFound`` when there is none."""
    with sessions() as session:
        view = session.scalars(
            select(WallView).where(WallView.owner == owner, WallView.name == name)
        ).one_or_none()
        if view is None:
            raise WallViewNotFound(f"There is no view named “{name}” any more.")
        session.delete(view)
        session.commit()

"""Saved views of the walls in a real registry database: per user, validated when read."""

from __future__ import annotations

from datetime import UTC

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select, text, update
from sqlalchemy.orm import sessionmaker

from app.models import Base, SavedWall, WallView, WallViewDefinition
from app.services.sqlite_store import REGISTRY, create_sqlite_engine, open_database
from app.services.wall_views import (
    SessionFactory,
    WallViewError,
    WallViewExists,
    WallViewNotFound,
    clean_view_name,
    delete_view,
    load_view,
    save_view,
    view_names,
)
from tests.conftest import ManualClock
from tests.factories import registry_sessions

TILE_COUNTS = {"1x1": 1, "2x2": 4, "3x3": 9}
HARBOR = WallViewDefinition(
    walls=(
        SavedWall(window=False, screen="DP-1", layout="2x2", cameras=("cam-1", None, None, None)),
        SavedWall(window=True, screen="DP-2", layout="1x1", cameras=("cam-2",)),
    )
)


@pytest.fixture
def sessions(settings):
    return registry_sessions(settings)


def save(
    sessions: SessionFactory,
    clock: ManualClock,
    owner: str,
    name: str,
    definition: WallViewDefinition = HARBOR,
    *,
    replace: bool = False,
) -> str:
    return save_view(
        sessions, owner, name, definition, clock(), tile_counts=TILE_COUNTS, replace=replace
    )


def load(sessions: SessionFactory, owner: str, name: str) -> WallViewDefinition:
    return load_view(sessions, owner, name, tile_counts=TILE_COUNTS)


def test_a_saved_view_comes_back_as_saved(sessions, clock):
    assert save(sessions, clock, "dana", "  Harbor   night ") == "Harbor night"
    assert load(sessions, "dana", "Harbor night") == HARBOR
    assert HARBOR.camera_count == 2
    with sessions() as session:
        row = session.scalars(select(WallView)).one()
        assert row.owner == "dana" and row.created_at == clock() == row.updated_at
        assert row.created_at.tzinfo is UTC


def test_views_are_listed_by_name_for_their_owner_only(sessions, clock):
    for name in ("harbor", "Bank", "school"):
        save(sessions, clock, "dana", name)
    save(sessions, clock, "lee", "Lee's own")
    assert view_names(sessions, "dana") == ["Bank", "harbor", "school"]
    assert view_names(sessions, "lee") == ["Lee's own"]
    with pytest.raises(WallViewNotFound):
        load(sessions, "dana", "Lee's own")
    with pytest.raises(WallViewNotFound):
        delete_view(sessions, "dana", "Lee's own")
    assert view_names(sessions, "lee") == ["Lee's own"]
    save(sessions, clock, "lee", "harbor")  # the same name is another user's own view
    assert load(sessions, "dana", "harbor") == HARBOR


def test_an_existing_name_is_replaced_only_when_asked(sessions, clock):
    save(sessions, clock, "dana", "Harbor")
    created = clock()
    clock.advance(minutes=5)
    other = WallViewDefinition(
        walls=(SavedWall(window=False, screen="DP-1", layout="1x1", cameras=(None,)),)
    )
    with pytest.raises(WallViewExists, match="already have a view named “Harbor”"):
        save(sessions, clock, "dana", "Harbor", other)
    assert load(sessions, "dana", "Harbor") == HARBOR
    save(sessions, clock, "dana", "Harbor", other, replace=True)
    assert load(sessions, "dana", "Harbor") == other
    with sessions() as session:
        row = session.scalars(select(WallView)).one()
        assert (row.created_at, row.updated_at) == (created, clock())


def test_names_must_be_given_and_short(sessions, clock):
    with pytest.raises(WallViewError, match="needs a name"):
        save(sessions, clock, "dana", "   ")
    with pytest.raises(WallViewError, match="at most 100 characters"):
        clean_view_name("x" * 101)
    assert view_names(sessions, "dana") == []


def test_a_view_on_a_layout_the_wall_does_not_have_is_not_saved(sessions, clock):
    odd = WallViewDefinition(
        walls=(SavedWall(window=False, screen="DP-1", layout="7x7", cameras=()),)
    )
    with pytest.raises(WallViewError, match="'7x7', which Beacon does not have"):
        save(sessions, clock, "dana", "Odd", odd)
    assert view_names(sessions, "dana") == []


def test_a_definition_has_at_most_one_main_wall():
    main = SavedWall(window=False, screen="DP-1", layout="1x1", cameras=(None,))
    with pytest.raises(ValueError, match="at most one main wall"):
        WallViewDefinition(walls=(main, main))


def corrupt(sessions, name: str, definition: str) -> None:
    with sessions() as session:
        session.execute(update(WallView).where(WallView.name == name).values(definition=definition))
        session.commit()


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        ('{"walls": [', "saved definition is damaged"),
        ('{"walls": []}', "saved definition is damaged (walls: "),
        (
            '{"walls": [{"window": false, "screen": "DP-1", "layout": "2x2", "cameras": [], '
            '"colour": "red"}]}',
            "damaged (walls.0.colour: Extra inputs are not permitted)",
        ),
        (
            '{"walls": [{"window": false, "screen": "DP-1", "layout": "9+9", "cameras": []}]}',
            "it names the wall layout '9+9', which Beacon does not have",
        ),
        (
            '{"walls": [{"window": true, "screen": "DP-2", "layout": "1x1", '
            '"cameras": ["a", "b"]}]}',
            "it puts 2 tiles on a 1x1 wall, which has 1",
        ),
    ],
)
def test_a_damaged_view_is_refused_with_a_reason_and_the_others_still_load(
    sessions, clock, stored, reason
):
    save(sessions, clock, "dana", "Broken")
    save(sessions, clock, "dana", "Fine")
    corrupt(sessions, "Broken", stored)
    with pytest.raises(WallViewError) as refused:
        load(sessions, "dana", "Broken")
    message = str(refused.value)
    assert message.startswith("The view “Broken” cannot be restored: ")
    assert reason in message and "Delete it and save the walls again." in message
    assert view_names(sessions, "dana") == ["Broken", "Fine"]
    assert load(sessions, "dana", "Fine") == HARBOR
    delete_view(sessions, "dana", "Broken")  # a damaged view can still be deleted
    assert view_names(sessions, "dana") == ["Fine"]


def test_deleting_a_view(sessions, clock):
    save(sessions, clock, "dana", "Harbor")
    delete_view(sessions, "dana", "Harbor")
    assert view_names(sessions, "dana") == []
    with pytest.raises(WallViewNotFound, match="no view named “Harbor”"):
        delete_view(sessions, "dana", "Harbor")
    with pytest.raises(WallViewNotFound):
        load(sessions, "dana", "Harbor")


def test_the_migration_matches_the_model(tmp_path):
    engine = open_database(tmp_path / "registry.sqlite", REGISTRY)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        indexes = connection.execute(text("PRAGMA index_list('wall_views')")).all()
    engine.dispose()
    assert any(row[2] == 1 for row in indexes), "owner and name are unique together"


def test_a_registry_of_the_first_schema_is_upgraded_with_its_rows_kept(tmp_path, clock):
    path = tmp_path / "registry.sqlite"
    config = Config()
    config.set_main_option("script_location", str(REGISTRY.script_location))
    engine = create_sqlite_engine(path)
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(
            text(
                "INSERT INTO owners (id, name, kind, contact_name, email, phone, time_zone) "
                "VALUES ('own-1', 'Harbor Deli', 'BUSINESS', '', '', '', 'America/Chicago')"
            )
        )
        connection.commit()
        tables = {row[0] for row in connection.execute(text("SELECT name FROM sqlite_master"))}
        assert "owners" in tables and "wall_views" not in tables
    engine.dispose()

    upgraded = open_database(path, REGISTRY)
    with upgraded.connect() as connection:
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert revision == ScriptDirectory.from_config(config).get_current_head()
        assert connection.execute(text("SELECT name FROM owners")).scalar() == "Harbor Deli"
    sessions = sessionmaker(upgraded, expire_on_commit=False)
    save_view(sessions, "dana", "Harbor", HARBOR, clock(), tile_counts=TILE_COUNTS)
    assert view_names(sessions, "dana") == ["Harbor"]
    upgraded.dispose()

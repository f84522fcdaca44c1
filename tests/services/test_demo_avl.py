"""The demo's units drive their streets."""

from __future__ import annotations

import pytest

from app.models.unit import Unit
from app.services.demo_avl import PATROL_SPEED_M_S, DemoAvl
from app.services.demo_city import (
    CENTRE_LAT,
    CENTRE_LON,
    METRES_PER_DEG_LAT,
    METRES_PER_DEG_LON,
    WIDTH_M,
)
from tests.conftest import ManualClock
from tests.factories import registry_sessions


def east_of_centre(unit: Unit) -> float:
    return (unit.longitude - CENTRE_LON) * METRES_PER_DEG_LON


def north_of_centre(unit: Unit) -> float:
    return (unit.latitude - CENTRE_LAT) * METRES_PER_DEG_LAT


@pytest.fixture
def sessions(settings, clock: ManualClock):
    sessions = registry_sessions(settings)
    with sessions() as session:
        session.add_all(
            [
                Unit(id="east", kind="patrol", status="available", latitude=CENTRE_LAT,
                     longitude=CENTRE_LON, heading_deg=90.0, updated_at=clock()),
                Unit(id="south", kind="patrol", status="en_route", latitude=CENTRE_LAT,
                     longitude=CENTRE_LON, heading_deg=181.0, updated_at=clock()),
                Unit(id="parked", kind="patrol", status="on_scene", latitude=CENTRE_LAT,
                     longitude=CENTRE_LON, heading_deg=0.0, updated_at=clock()),
                Unit(id="edge", kind="k9", status="available", latitude=CENTRE_LAT,
                     longitude=CENTRE_LON + (WIDTH_M / 2 - 10) / METRES_PER_DEG_LON,
                     heading_deg=90.0, updated_at=clock()),
            ]
        )  # fmt: skip
        session.commit()
    return sessions


def test_moving_units_drive_along_their_street_and_parked_ones_stay(sessions, clock: ManualClock):
    avl = DemoAvl()
    with sessions() as session:
        assert avl(session, clock()) == 0  # the first call only starts the clock
        clock.advance(seconds=5)
        assert avl(session, clock()) == 3
        session.commit()
    with sessions() as session:
        units = {unit.id: unit for unit in session.query(Unit)}
    step = PATROL_SPEED_M_S * 5
    assert east_of_centre(units["east"]) == pytest.approx(step)
    assert north_of_centre(units["east"]) == pytest.approx(0, abs=1e-6)
    assert units["east"].updated_at == clock()
    assert north_of_centre(units["south"]) == pytest.approx(-step)
    assert units["south"].heading_deg == 180.0  # snapped to its street
    assert (units["parked"].latitude, units["parked"].longitude) == (CENTRE_LAT, CENTRE_LON)
    # 10 m short of the city's east edge: 30 m on, it has turned back and heads west.
    assert east_of_centre(units["edge"]) == pytest.approx(WIDTH_M / 2 - 30)
    assert units["edge"].heading_deg == 270.0


def test_a_long_pause_moves_units_no_further_than_ten_seconds(sessions, clock: ManualClock):
    avl = DemoAvl()
    with sessions() as session:
        avl(session, clock())
        clock.advance(hours=1)
        avl(session, clock())
        unit = session.get(Unit, "east")
        assert unit is not None
        assert east_of_centre(unit) == pytest.approx(PATROL_SPEED_M_S * 10)

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.models import Incident, IncidentStatus
from app.services.cad_feed import CadRecord, CadRecordError, ScriptedCadFeed, upsert_incident
from tests.factories import registry_sessions

START = datetime(2026, 11, 18, 22, 0, tzinfo=UTC)


def new(offset_s: Any, cad_number: str, **overrides: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "offset_s": offset_s,
        "cad_number": cad_number,
        "incident_type": "Burglary in progress",
        "priority": 1,
        "latitude": 41.8812,
        "longitude": -87.6402,
        "address": "1200 W Harbor St",
        "status": "dispatched",
        "emergency": True,
    }
    entry.update(overrides)
    return entry


def write_script(tmp_path: Path, records: list[dict[str, Any]]) -> Path:
    path = tmp_path / "cad_script.json"
    path.write_text(json.dumps({"records": records}))
    return path


def test_first_call_returns_everything_received_before_the_shift(tmp_path: Path):
    script = write_script(
        tmp_path,
        [
            new(-600, "2026-004512"),
            new(-60, "2026-004513", incident_type="Retail theft", priority=3, emergency=False),
            new(0, "2026-004514"),
            new(30, "2026-004515"),
        ],
    )
    feed = ScriptedCadFeed(script, START)
    first = feed.due(START)
    assert [r.cad_number for r in first] == ["2026-004512", "2026-004513", "2026-004514"]
    assert first[0].received_at == START - timedelta(minutes=10)
    assert first[1].incident_type == "Retail theft"
    assert first[1].priority == 3
    assert first[1].emergency is False
    assert feed.due(START) == []


def test_records_come_due_as_time_passes_in_order(tmp_path: Path):
    script = write_script(
        tmp_path,
        [new(120, "2026-004514"), new(30, "2026-004512"), new(60, "2026-004513")],
    )
    feed = ScriptedCadFeed(script, START)
    assert feed.due(START) == []
    assert [r.cad_number for r in feed.due(START + timedelta(seconds=30))] == ["2026-004512"]
    assert feed.due(START + timedelta(seconds=59)) == []
    assert [r.cad_number for r in feed.due(START + timedelta(seconds=200))] == [
        "2026-004513",
        "2026-004514",
    ]
    assert feed.due(START + timedelta(hours=2)) == []
    assert feed.remaining == 0


def test_time_going_backwards_returns_nothing_and_repeats_nothing(tmp_path: Path):
    feed = ScriptedCadFeed(write_script(tmp_path, [new(10, "A-1"), new(20, "A-2")]), START)
    assert len(feed.due(START + timedelta(seconds=15))) == 1
    assert feed.due(START) == []
    assert [r.cad_number for r in feed.due(START + timedelta(seconds=20))] == ["A-2"]


def test_an_update_resends_the_whole_record_with_the_new_status(tmp_path: Path):
    script = write_script(
        tmp_path,
        [
            new(-300, "2026-004512", status="pending"),
            {"offset_s": -100, "cad_number": "2026-004512", "status": "dispatched"},
            {"offset_s": 240, "cad_number": "2026-004512", "status": "on_scene", "priority": 2},
            {"offset_s": 900, "cad_number": "2026-004512", "status": "closed"},
        ],
    )
    feed = ScriptedCadFeed(script, START)
    before = feed.due(START)
    assert [r.status for r in before] == [IncidentStatus.PENDING, IncidentStatus.DISPATCHED]
    assert before[1].received_at == START - timedelta(seconds=300)
    assert before[1].address == "1200 W Harbor St"
    (on_scene,) = feed.due(START + timedelta(minutes=5))
    assert on_scene.status is IncidentStatus.ON_SCENE
    assert on_scene.priority == 2
    assert on_scene.closed_at is None
    (closed,) = feed.due(START + timedelta(minutes=15))
    assert closed.status is IncidentStatus.CLOSED
    assert closed.closed_at == START + timedelta(seconds=900)
    assert closed.received_at == START - timedelta(seconds=300)
    assert closed.priority == 2
    assert closed.incident_type == "Burglary in progress"


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        (new(0, "X-1", latitude=95.2), "latitude"),
        (new(0, "X-1", longitude=-190.0), "longitude"),
        ({k: v for k, v in new(0, "X-1").items() if k != "latitude"}, "latitude"),
        ({k: v for k, v in new(0, "X-1").items() if k != "longitude"}, "longitude"),
        (new(0, "X-1", latitude="north"), "latitude"),
        (new(0, "X-1", priority=0), "priority"),
        (new(0, "X-1", priority=6), "priority"),
        (new(0, "X-1", priority="urgent"), "priority"),
        (new(0, "X-1", status="en_route"), "status"),
        (new(0, "X-1", emergency="yes"), "emergency"),
        (new(0, "", incident_type="x"), "cad_number"),
        (new(0, "X-1", incident_type=" "), "incident_type"),
        (new(0, "X-1", colour="red"), "colour"),
        (new("soon", "X-1"), "offset_s"),
    ],
)
def test_malformed_script_entries_name_the_field(tmp_path: Path, entry, field):
    with pytest.raises(CadRecordError) as caught:
        ScriptedCadFeed(write_script(tmp_path, [new(-5, "OK-1"), entry]), START)
    assert caught.value.field == field
    assert f"field {field}:" in str(caught.value)
    assert "entry 2" in str(caught.value)


def test_a_bad_update_names_the_field(tmp_path: Path):
    script = write_script(
        tmp_path, [new(0, "X-1"), {"offset_s": 60, "cad_number": "X-1", "latitude": -91}]
    )
    with pytest.raises(CadRecordError, match=r"entry 2 \(X-1\), field latitude: -91"):
        ScriptedCadFeed(script, START)


def test_an_unreadable_script_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "cad_script.json"
    path.write_text("{not json")
    with pytest.raises(CadRecordError, match="cannot be read as a CAD script"):
        ScriptedCadFeed(path, START)


def record(**overrides: Any) -> CadRecord:
    values: dict[str, Any] = {
        "cad_number": "2026-004512",
        "incident_type": "Shots fired",
        "priority": 1,
        "latitude": 41.8812,
        "longitude": -87.6402,
        "address": "1200 W Harbor St",
        "received_at": START,
        "status": IncidentStatus.DISPATCHED,
        "emergency": True,
    }
    values.update(overrides)
    return CadRecord(**values)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"latitude": 91.0}, "latitude"),
        ({"latitude": None}, "latitude"),
        ({"longitude": float("nan")}, "longitude"),
        ({"priority": 9}, "priority"),
        ({"priority": True}, "priority"),
        ({"received_at": datetime(2026, 11, 18, 22, 0)}, "received_at"),
        ({"closed_at": START + timedelta(hours=1)}, "closed_at"),
        (
            {"status": IncidentStatus.CLOSED, "closed_at": START - timedelta(hours=1)},
            "closed_at",
        ),
    ],
)
def test_a_cad_record_validates_itself(overrides, field):
    with pytest.raises(CadRecordError) as caught:
        record(**overrides)
    assert caught.value.field == field


def test_upsert_inserts_then_updates_by_cad_number(settings):
    sessions = registry_sessions(settings)
    with sessions() as session, session.begin():
        first = upsert_incident(session, record())
        assert first.id is not None
    closed_at = START + timedelta(minutes=40)
    with sessions() as session, session.begin():
        again = upsert_incident(
            session, record(status=IncidentStatus.CLOSED, closed_at=closed_at, priority=2)
        )
        assert again.id == first.id
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 1
        stored = session.scalars(select(Incident)).one()
        assert stored.status is IncidentStatus.CLOSED
        assert stored.closed_at == closed_at
        assert stored.priority == 2
        assert stored.received_at == START
        assert stored.emergency is True


def test_upsert_keeps_distinct_cad_numbers_apart(settings):
    sessions = registry_sessions(settings)
    with sessions() as session, session.begin():
        upsert_incident(session, record())
        upsert_incident(session, record(cad_number="2026-004513", emergency=False, priority=4))
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 2


def test_feed_records_upsert_to_one_incident_each(tmp_path: Path, settings):
    script = write_script(
        tmp_path,
        [
            new(-120, "2026-004512"),
            {"offset_s": -30, "cad_number": "2026-004512", "status": "on_scene"},
            new(-10, "2026-004513", emergency=False, priority=3),
        ],
    )
    feed = ScriptedCadFeed(script, START)
    sessions = registry_sessions(settings)
    with sessions() as session, session.begin():
        for item in feed.due(START):
            upsert_incident(session, item)
    with sessions() as session:
        stored = {i.cad_number: i for i in session.scalars(select(Incident))}
    assert set(stored) == {"2026-004512", "2026-004513"}
    assert stored["2026-004512"].status is IncidentStatus.ON_SCENE

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from app.models import IncidentStatus
from app.services.address_history import earlier_call_counts, earlier_calls
from app.services.registry_rows import read_incident_rows
from tests.factories import add_incident, registry_sessions

NOON = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)


def add(session: Session, cad_number: str, hours_ago: float, address: str) -> None:
    incident = add_incident(session, cad_number, NOON - timedelta(hours=hours_ago))
    incident.address = address
    if hours_ago > 24:
        incident.status = IncidentStatus.CLOSED
        incident.closed_at = incident.received_at + timedelta(hours=1)


def test_rows_count_earlier_calls_at_the_same_address(settings):
    sessions = registry_sessions(settings)
    with sessions() as session:
        add(session, "A-1", 72, "1200 W Harbor Street")
        add(session, "A-2", 30, "1200 w harbor st, Harbor City")
        add(session, "A-3", 1, "1200 W Harbor St Apt 2")
        add(session, "B-1", 2, "88 N Pier Ave")
        add(session, "C-1", 3, "")
        add(session, "C-2", 0, "")
        session.commit()
    rows = {row.cad_number: row for row in read_incident_rows(sessions)}
    assert {cad: row.earlier_calls for cad, row in rows.items()} == {
        "A-1": 0,
        "A-2": 1,
        "A-3": 2,
        "B-1": 0,
        "C-1": 0,  # no address: no history
        "C-2": 0,
    }
    history = earlier_calls(list(rows.values()), rows["A-3"])
    assert [row.cad_number for row in history] == ["A-2", "A-1"]  # newest first
    assert earlier_calls(list(rows.values()), rows["C-2"]) == []


def test_calls_at_the_same_moment_are_not_earlier_than_each_other(settings):
    sessions = registry_sessions(settings)
    with sessions() as session:
        add(session, "A-1", 1, "5 Dock Rd")
        add(session, "A-2", 1, "5 Dock Road")
        add(session, "A-3", 0, "5 dock rd")
        session.commit()
    rows = read_incident_rows(sessions)
    assert earlier_call_counts(rows) == [
        {"A-1": 0, "A-2": 0, "A-3": 2}[row.cad_number] for row in rows
    ]

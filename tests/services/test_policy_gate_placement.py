"""The wall tile a feed is opened for goes into its allow or deny event, its lease and its
close event (flat strings and integers, as the audit chain requires)."""

from __future__ import annotations

import pytest

from app.models import AuditEventType
from app.services.policy_gate import FeedDenied, PolicyGate, TilePlacement
from tests.services.test_policy_gate import INCIDENT, OPERATOR, credentials, events, gate

__all__ = ["credentials", "gate"]  # fixtures shared with the policy gate tests


def details(event: dict[str, object]) -> dict[str, object]:
    found = event["details"]
    assert isinstance(found, dict)
    return found


def test_the_placement_is_recorded_with_the_open_the_lease_and_the_close(
    gate: PolicyGate, settings
):
    lease = gate.open_feed("cam-cont", OPERATOR, INCIDENT, placement=TilePlacement("main wall", 5))
    allowed = events(settings)[-1]
    assert allowed["event_type"] == AuditEventType.FEED_ALLOWED
    assert allowed["details"] == {
        "incident": "2026-000100",
        "role": "operator",
        "wall": "main wall",
        "tile": 5,
    }
    assert lease.placement == TilePlacement("main wall", 5)
    gate.close(lease)
    closed = events(settings)[-1]
    assert closed["event_type"] == AuditEventType.FEED_CLOSED
    assert closed["details"] == {"incident": "2026-000100", "wall": "main wall", "tile": 5}


def test_a_denial_records_the_tile_it_was_refused_for(gate: PolicyGate, settings):
    with pytest.raises(FeedDenied):
        gate.open_feed("cam-reg", OPERATOR, INCIDENT, placement=TilePlacement("wall on DP-2", 1))
    denied = events(settings)[-1]
    assert denied["event_type"] == "feed_denied"
    assert details(denied)["wall"] == "wall on DP-2"
    assert details(denied)["tile"] == 1


def test_without_a_placement_no_tile_is_recorded(gate: PolicyGate, settings):
    lease = gate.open_feed("cam-cont", OPERATOR, INCIDENT)
    assert "tile" not in details(events(settings)[-1])
    gate.close(lease, "tour_step")
    closed = events(settings)[-1]
    assert closed["details"] == {"incident": "2026-000100"}
    assert closed["reason"] == "tour_step"

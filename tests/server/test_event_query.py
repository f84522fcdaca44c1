"""Supervisors query the received events by camera, actor, incident and time, page by page."""

from __future__ import annotations

from typing import Any

import pytest

from server.models import TokenRole
from tests.server.conftest import Server, Workstation


@pytest.fixture
def filled(server: Server, make_workstation) -> tuple[Server, str]:
    for name in ("ws-1", "ws-2"):
        token = server.register(name)
        workstation: Workstation = make_workstation(name)
        workstation.record_login("ops1")
        workstation.record_feeds(4, camera=f"cam-{name}", incident=f"inc-{name}")
        assert server.upload(name, token, workstation.events()).status_code == 200
    return server, server.token(TokenRole.SUPERVISOR)


def query(server: Server, token: str, **params: Any) -> dict[str, Any]:
    response = server.get("/v1/events", token, **params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def test_filters(filled: tuple[Server, str]):
    server, token = filled
    assert len(query(server, token)["events"]) == 10
    by_camera = query(server, token, camera="cam-ws-2")["events"]
    assert {event["workstation_id"] for event in by_camera} == {"ws-2"}
    assert len(by_camera) == 4
    by_incident = query(server, token, incident="inc-ws-1")["events"]
    assert [event["seq"] for event in by_incident] == [2, 3, 4, 5]
    assert all(event["incident"] == "inc-ws-1" for event in by_incident)
    by_actor = query(server, token, actor="ops2")["events"]
    assert len(by_actor) == 4 and {event["actor"] for event in by_actor} == {"ops2"}
    logins = query(server, token, event_type="login", workstation="ws-1")["events"]
    assert [(event["seq"], event["subject"]) for event in logins] == [(1, "ops1")]


def test_time_window_is_workstation_time(filled: tuple[Server, str]):
    server, token = filled
    # Both workstations' clocks start at 15:30:00; logins at :01, feeds at :04, :07, :10, :13.
    events = query(server, token, since="2026-11-18T15:30:04Z", until="2026-11-18T15:30:10Z")[
        "events"
    ]
    assert sorted((event["workstation_id"], event["seq"]) for event in events) == [
        ("ws-1", 2),
        ("ws-1", 3),
        ("ws-2", 2),
        ("ws-2", 3),
    ]
    naive = server.get("/v1/events", token, since="2026-11-18T15:30:04")
    assert naive.status_code == 422
    assert "time zone" in naive.json()["detail"]


def test_pages_cover_everything_once_in_time_order(filled: tuple[Server, str]):
    server, token = filled
    seen: list[tuple[str, int]] = []
    times: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = query(server, token, **params)
        pages += 1
        seen += [(event["workstation_id"], event["seq"]) for event in page["events"]]
        times += [event["time"] for event in page["events"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 4
    assert len(seen) == len(set(seen)) == 10
    assert times == sorted(times)
    bad = server.get("/v1/events", token, cursor="not-a-cursor")
    assert bad.status_code == 422

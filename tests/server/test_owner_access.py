"""Camera owners read the audit trail of their own cameras, and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx2 as httpx
import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from server.database import alembic_config, create_server_engine, migrate
from server.models import TokenRole
from tests.conftest import ManualClock
from tests.server.conftest import Server, Workstation
from tests.server.test_registry_api import CAMERA, OWNER, Admin, with_changes

DELI, MORENO = "own-017", "own-031"
# cam-a and cam-c are the deli's, cam-b is Rosa Moreno's.
CAMERA_OWNERS = {"cam-a": DELI, "cam-b": MORENO, "cam-c": DELI}


def registered(camera_id: str, owner_id: str) -> dict[str, Any]:
    return with_changes(
        CAMERA,
        id=camera_id,
        owner_id=owner_id,
        tier="registered",
        main_stream_url=None,
        sub_stream_url=None,
    )


@pytest.fixture
def admin(server: Server) -> Admin:
    admin = Admin(server)
    admin.owner(OWNER)
    admin.owner(with_changes(OWNER, id=MORENO, name="Rosa Moreno", kind="resident"))
    for camera_id, owner_id in CAMERA_OWNERS.items():
        admin.camera(registered(camera_id, owner_id))
    return admin


def issue_owner_token(admin: Admin, owner_id: str, days: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"name": f"portal login of {owner_id}"}
    if days is not None:
        body["expires_in_days"] = days
    response = admin.server.client.post(
        f"/v1/owners/{owner_id}/tokens", json=body, headers=admin.headers
    )
    assert response.status_code == 201, response.text
    issued: dict[str, Any] = response.json()
    assert (issued["role"], issued["owner_id"], issued["workstation_id"]) == (
        "owner",
        owner_id,
        None,
    )
    return issued


def owner_token(admin: Admin, owner_id: str, days: int | None = None) -> str:
    token: str = issue_owner_token(admin, owner_id, days)["token"]
    return token


def upload_feeds(server: Server, workstation: Workstation, cameras: list[str]) -> None:
    token = server.register(workstation.name)
    workstation.record_login()
    for camera_id in cameras:
        workstation.record_feeds(2, camera=camera_id, incident=f"inc-{camera_id}")
    assert server.upload(workstation.name, token, workstation.events()).status_code == 200


def owner_events(server: Server, token: str, owner_id: str, **params: Any) -> httpx.Response:
    return server.get(f"/v1/owners/{owner_id}/events", token, **params)


def seen(response: httpx.Response) -> list[tuple[str, int]]:
    assert response.status_code == 200, response.text
    return [(event["workstation_id"], event["seq"]) for event in response.json()["events"]]


def expected(workstations: list[Workstation], cameras: set[str]) -> list[tuple[str, int]]:
    """The events about ``cameras`` in the workstations' own logs, in time order."""
    rows = [
        (row["time"], workstation.name, row["seq"])
        for workstation in workstations
        for row in workstation.events()
        if row["camera_id"] in cameras
    ]
    return [(name, seq) for _time, name, seq in sorted(rows)]


def test_an_owner_sees_exactly_the_events_of_their_own_cameras(
    server: Server, admin: Admin, make_workstation: Callable[..., Workstation]
):
    workstations = [make_workstation("ws-1"), make_workstation("ws-2")]
    upload_feeds(server, workstations[0], ["cam-a", "cam-b", "cam-c"])
    upload_feeds(server, workstations[1], ["cam-b", "cam-a", "cam-x"])
    deli, moreno = owner_token(admin, DELI), owner_token(admin, MORENO)

    deli_events = seen(owner_events(server, deli, DELI))
    moreno_events = seen(owner_events(server, moreno, MORENO))

    assert deli_events == expected(workstations, {"cam-a", "cam-c"})
    assert len(deli_events) == 6
    assert moreno_events == expected(workstations, {"cam-b"})
    assert len(moreno_events) == 4
    supervisor = server.token(TokenRole.SUPERVISOR)
    assert seen(owner_events(server, supervisor, DELI)) == deli_events
    assert seen(owner_events(server, deli, DELI, camera="cam-c")) == expected(
        workstations, {"cam-c"}
    )
    # Another owner's camera named as a filter finds nothing, rather than that camera's events.
    assert seen(owner_events(server, deli, DELI, camera="cam-b")) == []


def test_an_owners_events_page_like_the_supervisors_query(
    server: Server, admin: Admin, workstation: Workstation
):
    upload_feeds(server, workstation, ["cam-a", "cam-b", "cam-c", "cam-a"])
    token = owner_token(admin, DELI)
    pages, collected, cursor = 0, [], None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        response = owner_events(server, token, DELI, **params)
        pages += 1
        collected += seen(response)
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    assert collected == expected([workstation], {"cam-a", "cam-c"})
    assert pages == 3
    assert owner_events(server, token, DELI, since="2026-11-18T15:30:04").status_code == 422


def test_an_owner_token_is_refused_everything_but_its_own_events(
    server: Server, admin: Admin, workstation: Workstation
):
    upload_feeds(server, workstation, ["cam-a", "cam-b"])
    token = owner_token(admin, DELI)

    other = owner_events(server, token, MORENO)
    assert other.status_code == 403
    assert (
        other.json()["detail"]
        == f"this token belongs to owner {DELI}; it cannot read the events of owner {MORENO}"
    )
    everything = server.get("/v1/events", token)
    assert everything.status_code == 403
    assert "needs a supervisor token" in everything.json()["detail"]
    for path in (
        f"/v1/workstations/{workstation.name}/head",
        f"/v1/workstations/{workstation.name}/checkpoint",
        "/v1/registry/changes",
    ):
        assert server.get(path, token).status_code == 403, path
    assert (
        server.get(f"/v1/workstations/{workstation.name}/inclusion", token, seq=1).status_code
        == 403
    )
    workstation_token = server.register("ws-2")
    assert owner_events(server, workstation_token, DELI).status_code == 403


def test_an_expired_or_revoked_owner_token_is_401(server: Server, admin: Admin):
    short = owner_token(admin, DELI, days=1)
    to_revoke = issue_owner_token(admin, MORENO)
    assert owner_events(server, short, DELI).status_code == 200
    revoke = server.client.post(f"/v1/tokens/{to_revoke['id']}/revoke", headers=admin.headers)
    assert revoke.status_code == 200 and revoke.json()["owner_id"] == MORENO

    server.clock.advance(days=1)

    expired = owner_events(server, short, DELI)
    assert expired.status_code == 401
    assert "expired at 2026-11-19T16:00:00.000000Z" in expired.json()["detail"]
    refused = owner_events(server, to_revoke["token"], MORENO)
    assert refused.status_code == 401
    assert "revoked at 2026-11-18T16:00:00.000000Z" in refused.json()["detail"]


def test_only_administrators_issue_owner_tokens_for_owners_the_registry_has(
    server: Server, admin: Admin
):
    unknown = server.client.post("/v1/owners/own-404/tokens", json={}, headers=admin.headers)
    assert unknown.status_code == 404
    assert "no owner own-404 is in the server's registry" in unknown.json()["detail"]
    supervisor = server.token(TokenRole.SUPERVISOR)
    as_supervisor = server.client.post(
        f"/v1/owners/{DELI}/tokens", json={}, headers={"Authorization": f"Bearer {supervisor}"}
    )
    assert as_supervisor.status_code == 403


def test_after_a_camera_changes_hands_each_owner_sees_their_own_time(
    server: Server, admin: Admin, make_workstation: Callable[..., Workstation]
):
    # The workstation's feeds: 15:59:53, :56, :59, then 16:00:02, :05 (3 s apart). The server
    # gives cam-a to Rosa Moreno at 16:00:00 by its own clock.
    early = ManualClock(datetime(2026, 11, 18, 15, 59, 50, tzinfo=UTC))
    workstation = make_workstation("ws-1", clock=early)
    token = server.register("ws-1")
    workstation.record_feeds(5, camera="cam-a")
    assert server.upload("ws-1", token, workstation.events()).status_code == 200
    admin.camera(registered("cam-a", MORENO))

    deli = seen(owner_events(server, owner_token(admin, DELI), DELI))
    moreno = seen(owner_events(server, owner_token(admin, MORENO), MORENO))

    assert deli == [("ws-1", 1), ("ws-1", 2), ("ws-1", 3)]
    assert moreno == [("ws-1", 4), ("ws-1", 5)]


def test_the_database_holds_an_owner_token_to_its_owner(db_url: str):
    """The schema itself refuses an owner token without an owner and any other token with one,
    also in a database made by the first server version and migrated since."""
    engine = create_server_engine(db_url)
    try:
        config = alembic_config()
        with engine.connect() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "s001")
            connection.commit()
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO api_tokens (token_hash, role, name, created_at, expires_at) "
                    "VALUES ('a1', 'supervisor', 'kept', '2026-11-18 16:00', '2027-11-18 16:00')"
                )
            )
        migrate(engine)
        with engine.begin() as connection:
            assert connection.scalar(text("SELECT name FROM api_tokens")) == "kept"
            connection.execute(
                text(
                    "INSERT INTO registry_owners (id, name, kind, contact_name, email, phone, "
                    "time_zone) VALUES ('own-1', 'Deli', 'business', '', '', '', 'UTC')"
                )
            )
        insert = (
            "INSERT INTO api_tokens (token_hash, role, owner_id, name, created_at, expires_at) "
            "VALUES (:hash, :role, :owner, '', '2026-11-18 16:00', '2027-11-18 16:00')"
        )
        for number, (role, owner) in enumerate(
            [("owner", None), ("supervisor", "own-1"), ("owner", "own-404")]
        ):
            with pytest.raises(IntegrityError), engine.begin() as connection:
                connection.execute(
                    text(insert), {"hash": f"bad{number}", "role": role, "owner": owner}
                )
        with engine.begin() as connection:
            connection.execute(text(insert), {"hash": "good", "role": "owner", "owner": "own-1"})
    finally:
        engine.dispose()

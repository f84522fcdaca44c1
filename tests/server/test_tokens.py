"""Who may do what: workstation, supervisor and administrator tokens; expiry and revocation."""

from __future__ import annotations

from sqlalchemy import select

from server.models import ApiToken, TokenRole
from tests.server.conftest import Server, Workstation


def test_a_batch_without_a_token_or_with_an_unknown_one_is_401(
    server: Server, workstation: Workstation
):
    server.register("ws-1")
    workstation.record_feeds(1)
    events = {"events": workstation.events()}

    missing = server.client.post("/v1/workstations/ws-1/events", json=events)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in missing.json()["detail"]

    unknown = server.upload("ws-1", "bst_not-a-token", events["events"])
    assert unknown.status_code == 401
    assert "not known" in unknown.json()["detail"]


def test_a_batch_for_an_unknown_workstation_is_refused(server: Server, workstation: Workstation):
    token = server.register("ws-1")
    workstation.record_feeds(2)

    response = server.upload("ghost-ws", token, workstation.events())

    assert response.status_code == 403
    assert "belongs to workstation ws-1" in response.json()["detail"]
    assert "ghost-ws" in response.json()["detail"]
    supervisor = server.token(TokenRole.SUPERVISOR)
    unknown_head = server.get("/v1/workstations/ghost-ws/head", supervisor)
    assert unknown_head.status_code == 404
    assert "no workstation ghost-ws" in unknown_head.json()["detail"]


def test_one_workstation_cannot_upload_for_another(server: Server, make_workstation):
    token_1 = server.register("ws-1")
    server.register("ws-2")
    other: Workstation = make_workstation("ws-2")
    other.record_feeds(2)

    response = server.upload("ws-2", token_1, other.events())

    assert response.status_code == 403
    assert server.get("/v1/workstations/ws-2/head", token_1).status_code == 403


def test_an_expired_token_is_401_with_when_it_expired(server: Server, workstation: Workstation):
    token = server.register("ws-1", days=1)
    workstation.record_feeds(2)
    assert server.upload("ws-1", token, workstation.events(last=1)).status_code == 200
    server.clock.advance(days=1)

    response = server.upload("ws-1", token, workstation.events(first=2))

    assert response.status_code == 401
    assert "expired at 2026-11-19T16:00:00.000000Z" in response.json()["detail"]


def test_a_revoked_token_is_refused_at_once(server: Server, workstation: Workstation):
    token = server.register("ws-1")
    admin = server.token(TokenRole.ADMIN)
    workstation.record_feeds(2)
    assert server.upload("ws-1", token, workstation.events(last=1)).status_code == 200
    with server.sessions() as session:
        token_id = session.scalar(select(ApiToken.id).where(ApiToken.workstation_id == "ws-1"))

    revoked = server.client.post(
        f"/v1/tokens/{token_id}/revoke", headers={"Authorization": f"Bearer {admin}"}
    )
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None

    response = server.upload("ws-1", token, workstation.events(first=2))
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_roles_are_enforced(server: Server, workstation: Workstation):
    workstation_token = server.register("ws-1")
    supervisor = server.token(TokenRole.SUPERVISOR)
    workstation.record_feeds(1)

    as_supervisor = server.upload("ws-1", supervisor, workstation.events())
    assert as_supervisor.status_code == 403
    assert "needs a workstation token" in as_supervisor.json()["detail"]
    query = server.get("/v1/events", workstation_token)
    assert query.status_code == 403
    assert "needs a supervisor token" in query.json()["detail"]
    register = server.client.post(
        "/v1/workstations",
        json={"id": "ws-9"},
        headers={"Authorization": f"Bearer {supervisor}"},
    )
    assert register.status_code == 403


def test_an_administrator_registers_workstations_and_issues_tokens(
    server: Server, workstation: Workstation
):
    admin = {"Authorization": f"Bearer {server.token(TokenRole.ADMIN)}"}
    registered = server.client.post(
        "/v1/workstations", json={"id": "ws-1", "description": "RTCC desk 1"}, headers=admin
    )
    assert registered.status_code == 201
    assert registered.json()["seq"] == 0
    again = server.client.post("/v1/workstations", json={"id": "ws-1"}, headers=admin)
    assert again.status_code == 409

    issued = server.client.post(
        "/v1/workstations/ws-1/tokens", json={"name": "desk 1", "expires_in_days": 7}, headers=admin
    )
    assert issued.status_code == 201
    body = issued.json()
    assert body["role"] == "workstation"
    assert body["expires_at"].startswith("2026-11-25T16:00:00")
    unknown = server.client.post("/v1/workstations/ws-9/tokens", json={}, headers=admin)
    assert unknown.status_code == 404

    workstation.record_feeds(2)
    assert server.upload("ws-1", body["token"], workstation.events()).status_code == 200

    supervisor = server.client.post("/v1/tokens", json={"role": "supervisor"}, headers=admin)
    assert supervisor.status_code == 201
    listed = server.get("/v1/workstations", supervisor.json()["token"])
    assert [row["seq"] for row in listed.json()] == [2]


def test_only_a_hash_of_each_token_is_stored(server: Server):
    token = server.register("ws-1")
    with server.sessions() as session:
        stored = session.scalars(select(ApiToken)).all()
    assert stored
    for row in stored:
        assert token not in (row.token_hash, row.name)
        assert len(row.token_hash) == 64

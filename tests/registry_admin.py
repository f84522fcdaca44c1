"""The sync server's registry, written the way its administrator does (through the server's own
API), and the registry documents the tests write: owners, cameras and policies in the registry
file's format (docs/registry-format.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2 as httpx

from server.models import TokenRole
from server.tokens import issue_token
from tests.sync_server import ServerDatabase

ZONE = "America/Chicago"


def owner_document(owner_id: str = "own-1", name: str = "Harbor Deli") -> dict[str, Any]:
    return {"id": owner_id, "name": name, "kind": "business", "time_zone": ZONE}


def camera_document(
    camera_id: str = "cam-1", owner_id: str = "own-1", **fields: Any
) -> dict[str, Any]:
    return {
        "id": camera_id,
        "owner_id": owner_id,
        "name": f"Harbor Deli {camera_id}",
        "tier": "integrated",
        "latitude": 41.8812,
        "longitude": -87.6402,
        "main_stream_url": "rtsp://127.0.0.1:8554/cam",
        **fields,
    }


def policy_document(
    camera_id: str = "cam-1", version: int = 1, mode: str = "continuous", **fields: Any
) -> dict[str, Any]:
    return {
        "camera_id": camera_id,
        "mode": mode,
        "time_zone": ZONE,
        "windows": [],
        "note": "",
        "version": version,
        "changed_at": "2026-11-18T15:00:00Z",
        **fields,
    }


def registry_document(*camera_ids: str) -> dict[str, Any]:
    """One owner and integrated cameras, each on a continuous policy, as an import sends them."""
    policies = [policy_document(camera_id) for camera_id in camera_ids]
    for policy in policies:
        del policy["version"], policy["changed_at"]  # the server numbers and times them
    return {
        "format_version": 1,
        "owners": [owner_document()],
        "cameras": [camera_document(camera_id) for camera_id in camera_ids],
        "policies": policies,
    }


class RegistryAdmin:
    """The server's administrator, writing the registry through the server's own API."""

    def __init__(self, server_url: str, token: str) -> None:
        self._client = httpx.Client(
            base_url=server_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )

    @classmethod
    def issued(cls, database: ServerDatabase, server_url: str) -> RegistryAdmin:
        """An administrator with a fresh admin token of the server's database."""
        with database.sessions.begin() as session:
            secret = issue_token(
                session, TokenRole.ADMIN, datetime.now(UTC), timedelta(days=1)
            ).secret
        return cls(server_url, secret)

    def _sent(self, response: httpx.Response) -> Any:
        assert response.status_code == 200, response.text
        return response.json()

    def import_registry(self, document: dict[str, Any]) -> Any:
        return self._sent(self._client.post("/v1/registry/import", json=document))

    def put_owner(self, document: dict[str, Any]) -> Any:
        return self._sent(self._client.put(f"/v1/registry/owners/{document['id']}", json=document))

    def put_policy(self, camera_id: str, mode: str) -> Any:
        terms = {"camera_id": camera_id, "mode": mode, "time_zone": ZONE, "windows": [], "note": ""}
        return self._sent(self._client.put(f"/v1/registry/cameras/{camera_id}/policy", json=terms))

    def close(self) -> None:
        self._client.close()


def server_latest(server_url: str, token: str) -> int:
    """The server's latest registry version, as its change feed tells a workstation."""
    answer = httpx.get(
        f"{server_url}/v1/registry/changes",
        params={"after": 0, "limit": 1},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    latest = answer.json()["latest_version"]
    assert isinstance(latest, int)
    return latest

"""The registry on the server: administrators write owners, cameras and policies (one at a time
or a whole file), every change gets the next version in a change log, workstations pull it."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2 as httpx
import pytest
from sqlalchemy import select, text

from server.models import RegistryChange, RegistryHead, TokenRole
from tests.server.conftest import Server

OWNER = {
    "id": "own-017",
    "name": "Harbor Deli",
    "kind": "business",
    "contact_name": "Maria Delgado",
    "email": "info.harbor-deli@example.org",
    "phone": "312-555-0117",
    "time_zone": "America/Chicago",
}
CAMERA = {
    "id": "cam-0042",
    "owner_id": "own-017",
    "name": "Harbor Deli - Entrance",
    "tier": "integrated",
    "latitude": 41.881204,
    "longitude": -87.64021,
    "heading_deg": 180.0,
    "fov_deg": 90.0,
    "range_m": 30.0,
    "address": "1200 W Harbor St",
    "main_stream_url": "rtsp://cam-0042.invalid:554/stream1",
    "sub_stream_url": "rtsp://cam-0042.invalid:554/stream2",
    "privacy_masks": [[[0.0, 0.0], [0.28, 0.0], [0.28, 0.4], [0.0, 0.4]]],
    "install_state": "verified",
    "verified_at": "2026-10-01T17:05:00Z",
}
SCHEDULED = {
    "camera_id": "cam-0042",
    "mode": "scheduled",
    "time_zone": "America/Chicago",
    "windows": [
        {"day": "mon", "start": "22:00", "end": "06:00"},
        {"day": "sat", "start": "00:00", "end": "24:00"},
    ],
    "note": "while the store is closed",
}
PASSWORD = "hunter2-not-for-logs"


class Admin:
    """An administrator's calls to the registry endpoints."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.headers = {"Authorization": f"Bearer {server.token(TokenRole.ADMIN)}"}

    def put(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.server.client.put(f"/v1/registry/{path}", json=body, headers=self.headers)

    def owner(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._ok(self.put(f"owners/{body['id']}", body))

    def camera(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._ok(self.put(f"cameras/{body['id']}", body))

    def policy(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._ok(self.put(f"cameras/{body['camera_id']}/policy", body))

    def import_file(self, document: dict[str, Any]) -> httpx.Response:
        return self.server.client.post("/v1/registry/import", json=document, headers=self.headers)

    @staticmethod
    def _ok(response: httpx.Response) -> dict[str, Any]:
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


@pytest.fixture
def admin(server: Server) -> Admin:
    return Admin(server)


def pull(server: Server, token: str, after: int = 0, limit: int | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"after": after}
    if limit is not None:
        params["limit"] = limit
    response = server.get("/v1/registry/changes", token, **params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def pull_all(server: Server, token: str, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Every change from the start, page by page as a workstation would; and the page count."""
    changes: list[dict[str, Any]] = []
    after, pages = 0, 0
    while True:
        page = pull(server, token, after, limit)
        pages += 1
        changes += page["changes"]
        if not page["more"]:
            assert page["latest_version"] == (changes[-1]["version"] if changes else 0)
            return changes, pages
        after = page["changes"][-1]["version"]


def with_changes(body: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**body, **changes}


def test_changes_come_in_version_order_with_each_record_as_it_became(server: Server, admin: Admin):
    admin.owner(OWNER)
    admin.camera(CAMERA)
    server.clock.advance(minutes=5)
    admin.policy({**SCHEDULED, "mode": "continuous", "windows": []})
    admin.owner(with_changes(OWNER, phone="312-555-0199"))
    server.clock.advance(minutes=5)
    admin.policy(SCHEDULED)
    workstation = server.register("ws-1")

    changes, pages = pull_all(server, workstation, limit=2)

    assert pages == 3
    assert [change["version"] for change in changes] == [1, 2, 3, 4, 5]
    assert [(change["kind"], change["id"]) for change in changes] == [
        ("owner", "own-017"),
        ("camera", "cam-0042"),
        ("policy", "cam-0042"),
        ("owner", "own-017"),
        ("policy", "cam-0042"),
    ]
    assert changes[0]["document"] == OWNER
    assert changes[1]["document"] == CAMERA
    assert changes[3]["document"]["phone"] == "312-555-0199"
    assert changes[3]["document"]["email"] == OWNER["email"]  # contact details for footage
    first_policy, second_policy = changes[2]["document"], changes[4]["document"]
    assert (first_policy["version"], first_policy["mode"]) == (1, "continuous")
    assert first_policy["changed_at"] == "2026-11-18T16:05:00Z"
    assert second_policy == {**SCHEDULED, "version": 2, "changed_at": "2026-11-18T16:10:00Z"}

    middle = pull(server, workstation, after=2, limit=2)
    assert [change["version"] for change in middle["changes"]] == [3, 4]
    assert middle["more"] is True and middle["latest_version"] == 5
    caught_up = pull(server, workstation, after=5)
    assert caught_up == {"latest_version": 5, "changes": [], "more": False}


def test_replaying_the_feed_from_zero_gives_the_current_registry(server: Server, admin: Admin):
    admin.owner(OWNER)
    admin.owner(with_changes(OWNER, id="own-031", name="Rosa Moreno", kind="resident"))
    admin.camera(CAMERA)
    admin.camera(with_changes(CAMERA, name="Entrance (north)"))
    admin.camera(with_changes(CAMERA, owner_id="own-031", name="Entrance (sold)"))
    admin.policy({**SCHEDULED, "mode": "emergency_only", "windows": []})
    admin.policy({**SCHEDULED, "mode": "revoked", "windows": []})
    supervisor = server.token(TokenRole.SUPERVISOR)

    changes, _ = pull_all(server, supervisor, limit=3)
    replayed: dict[tuple[str, str], dict[str, Any]] = {}
    for change in changes:
        replayed[(change["kind"], change["id"])] = change["document"]

    assert replayed[("camera", "cam-0042")] == with_changes(
        CAMERA, owner_id="own-031", name="Entrance (sold)"
    )
    assert replayed[("policy", "cam-0042")]["mode"] == "revoked"
    assert replayed[("policy", "cam-0042")]["version"] == 2
    assert set(replayed) == {
        ("owner", "own-017"),
        ("owner", "own-031"),
        ("camera", "cam-0042"),
        ("policy", "cam-0042"),
    }


def test_an_unchanged_put_adds_no_version(server: Server, admin: Admin):
    first = admin.owner(OWNER)
    assert (first["created"], first["changed"], first["change_version"]) == (True, True, 1)
    again = admin.owner(OWNER)
    assert (again["created"], again["changed"], again["change_version"]) == (False, False, None)
    assert again["latest_version"] == 1

    admin.camera(CAMERA)
    # Same values written differently: upper-case choices, padded text, integer coordinates.
    assert not admin.camera(
        with_changes(CAMERA, tier="Integrated", name=" Harbor Deli - Entrance ", heading_deg=180)
    )["changed"]
    admin.policy(SCHEDULED)
    reordered = {**SCHEDULED, "windows": "sat 00:00-24:00; mon 22:00-06:00"}
    same_terms = admin.policy(reordered)
    assert not same_terms["changed"]
    assert same_terms["document"]["version"] == 1
    # Only the terms make a new version, as on the workstation: a new note alone does not.
    assert not admin.policy({**SCHEDULED, "note": "closed Sundays too"})["changed"]

    assert pull(server, server.token(TokenRole.SUPERVISOR))["latest_version"] == 3


def test_policy_versions_increase_with_each_change_of_terms(server: Server, admin: Admin):
    admin.owner(OWNER)
    admin.camera(CAMERA)
    versions = []
    for mode in ("continuous", "emergency_only", "revoked", "continuous"):
        server.clock.advance(hours=1)
        written = admin.policy({**SCHEDULED, "mode": mode, "windows": []})
        versions.append((written["document"]["version"], written["change_version"]))
    assert versions == [(1, 3), (2, 4), (3, 5), (4, 6)]
    revoked = pull(server, server.token(TokenRole.SUPERVISOR), after=4, limit=1)["changes"][0]
    assert revoked["document"]["mode"] == "revoked"
    assert revoked["document"]["changed_at"] == "2026-11-18T19:00:00Z"


def problems(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {item["field"]: item["problem"] for item in response.json()["errors"]}


def test_invalid_records_are_refused_naming_each_field(server: Server, admin: Admin):
    bad_owner = problems(
        admin.put("owners/own-017", with_changes(OWNER, kind="shop", time_zone="Mars/Base"))
    )
    assert set(bad_owner) == {"kind", "time_zone"}
    assert "unknown time zone 'Mars/Base'" in bad_owner["time_zone"]

    assert (
        "owner own-017 is not in the server's registry"
        in problems(admin.put("cameras/cam-0042", CAMERA))["owner_id"]
    )
    admin.owner(OWNER)
    bad_camera = problems(
        admin.put("cameras/cam-0042", with_changes(CAMERA, latitude=95.2, fov_deg=0, color="red"))
    )
    assert bad_camera == {
        "latitude": "95.2 is outside -90..90",
        "fov_deg": "0 is outside 0..360 (and must be more than 0)",
        "color": "unknown field (check the spelling)",
    }
    registered_with_stream = with_changes(CAMERA, tier="registered", sub_stream_url=None)
    assert (
        "a registered camera has no stream URLs"
        in problems(admin.put("cameras/cam-0042", registered_with_stream))["main_stream_url"]
    )
    other_id = problems(admin.put("cameras/cam-0099", CAMERA))
    assert other_id == {"id": "is 'cam-0042' but the path names 'cam-0099'"}

    admin.camera(
        with_changes(
            CAMERA, id="cam-0043", tier="registered", main_stream_url=None, sub_stream_url=None
        )
    )
    assert (
        "registered camera: those have no sharing policy"
        in problems(admin.put("cameras/cam-0043/policy", {**SCHEDULED, "camera_id": "cam-0043"}))[
            "mode"
        ]
    )
    admin.camera(CAMERA)
    assert problems(admin.put("cameras/cam-0042/policy", {**SCHEDULED, "windows": []})) == {
        "windows": "a scheduled policy needs at least one window"
    }
    assert (
        "leave version and changed_at out"
        in problems(admin.put("cameras/cam-0042/policy", {**SCHEDULED, "version": 7}))["version"]
    )
    assert (
        "not in the server's registry"
        in problems(admin.put("cameras/cam-0077/policy", {**SCHEDULED, "camera_id": "cam-0077"}))[
            "camera_id"
        ]
    )

    supervisor = server.token(TokenRole.SUPERVISOR)
    assert pull(server, supervisor)["latest_version"] == 3  # owner and two cameras only


def test_a_stream_url_with_a_password_is_refused_and_never_echoed(
    server: Server, admin: Admin, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    admin.owner(OWNER)
    with_password = with_changes(
        CAMERA, main_stream_url=f"rtsp://admin:{PASSWORD}@cam-0042.invalid:554/stream1"
    )

    refused = admin.put("cameras/cam-0042", with_password)
    imported = admin.import_file({"owners": [OWNER], "cameras": [with_password]})

    assert "rtsp://***@cam-0042.invalid:554/stream1" in problems(refused)["main_stream_url"]
    assert "stored without credentials" in problems(imported)["main_stream_url"]
    assert imported.json()["errors"][0]["row"] == "cameras row 1"
    for response in (refused, imported):
        assert PASSWORD not in response.text
    assert PASSWORD not in caplog.text
    with server.sessions() as session:
        dumped = "\n".join(
            str(row)
            for table in ("registry_cameras", "registry_changes")
            for row in session.execute(text(f"SELECT * FROM {table}"))
        )
    assert PASSWORD not in dumped
    assert "cam-0042" not in dumped  # nothing of the camera was stored


def test_only_administrators_write_and_only_workstations_and_supervisors_pull(
    server: Server, admin: Admin
):
    admin.owner(OWNER)
    workstation = server.register("ws-1")
    for role_token in (workstation, server.token(TokenRole.SUPERVISOR)):
        response = server.client.put(
            "/v1/registry/owners/own-017",
            json=OWNER,
            headers={"Authorization": f"Bearer {role_token}"},
        )
        assert response.status_code == 403
        assert "needs an admin token" in response.json()["detail"]
    refused_pull = server.get("/v1/registry/changes", admin.headers["Authorization"][7:])
    assert refused_pull.status_code == 403
    assert "needs a workstation or supervisor token" in refused_pull.json()["detail"]
    unauthenticated = server.client.get("/v1/registry/changes")
    assert unauthenticated.status_code == 401
    assert pull(server, workstation)["latest_version"] == 1


def test_the_changes_query_is_checked(server: Server):
    token = server.token(TokenRole.SUPERVISOR)
    for params in ({"after": -1}, {"limit": 0}, {"limit": 5001}, {"after": "one"}):
        response = server.get("/v1/registry/changes", token, **params)
        assert response.status_code == 422, params
        assert next(iter(params)) in {item["field"] for item in response.json()["errors"]}
    assert server.get("/v1/registry/changes", token, limit=5000).status_code == 200


REGISTRY_FILE: dict[str, Any] = {
    "format_version": 1,
    "owners": [OWNER, with_changes(OWNER, id="own-031", name="Rosa Moreno", kind="resident")],
    "cameras": [
        CAMERA,
        with_changes(
            CAMERA,
            id="cam-0043",
            name="Harbor Deli - Alley",
            tier="registered",
            main_stream_url=None,
            sub_stream_url=None,
        ),
    ],
    "policies": [{**SCHEDULED, "version": 4, "changed_at": "2026-03-02T15:00:00Z"}],
    "incidents": [],
}


def test_an_import_is_all_or_nothing_and_repeatable(server: Server, admin: Admin):
    broken = {
        **REGISTRY_FILE,
        "cameras": [
            with_changes(CAMERA, latitude=95.2),
            with_changes(CAMERA, id="cam-0050", owner_id="own-404"),
            with_changes(CAMERA, id="cam-0050", owner_id="own-017"),
        ],
        "policies": [{**SCHEDULED, "camera_id": "cam-0043"}],
    }
    refused = admin.import_file(broken)
    assert refused.status_code == 422
    errors = [(item["row"], item["field"]) for item in refused.json()["errors"]]
    assert errors == [("cameras row 1", "latitude")]  # field errors come first, alone
    fixed_fields = {**broken, "cameras": broken["cameras"][1:]}
    cross = admin.import_file(fixed_fields)
    assert [(item["row"], item["field"], item["problem"]) for item in cross.json()["errors"]] == [
        (
            "cameras row 1",
            "owner_id",
            "owner own-404 is neither in this file nor in the server's registry",
        ),
        ("cameras row 2", "id", "camera cam-0050 appears again (first in cameras row 1)"),
        (
            "policies row 1",
            "camera_id",
            "camera cam-0043 is neither in this file nor in the server's registry",
        ),
    ]
    assert "3 rows of the registry file are invalid" in cross.json()["detail"]
    supervisor = server.token(TokenRole.SUPERVISOR)
    assert pull(server, supervisor)["latest_version"] == 0

    imported = admin.import_file(REGISTRY_FILE)
    assert imported.status_code == 200, imported.text
    assert imported.json() == {
        "owners_created": 2,
        "owners_updated": 0,
        "cameras_created": 2,
        "cameras_updated": 0,
        "policy_versions_added": 1,
        "unchanged": 0,
        "latest_version": 5,
    }
    policy = pull(server, supervisor, after=4)["changes"][0]["document"]
    # A camera's first policy keeps the file's version and time (an export's history).
    assert (policy["version"], policy["changed_at"]) == (4, "2026-03-02T15:00:00Z")

    again = admin.import_file(REGISTRY_FILE)
    assert again.json()["unchanged"] == 5 and again.json()["latest_version"] == 5
    server.clock.advance(days=1)
    changed_terms = {**REGISTRY_FILE, "policies": [{**SCHEDULED, "mode": "revoked", "windows": []}]}
    assert admin.import_file(changed_terms).json()["policy_versions_added"] == 1
    revoked = pull(server, supervisor, after=5)["changes"][0]["document"]
    assert (revoked["version"], revoked["changed_at"]) == (5, "2026-11-19T16:00:00Z")


def test_an_import_with_incidents_or_unknown_sections_is_refused(admin: Admin):
    incident = {"cad_number": "2026-004512"}
    with_incidents = admin.import_file({**REGISTRY_FILE, "incidents": [incident]})
    assert "(they come from CAD)" in problems(with_incidents)["incidents"]
    typo = admin.import_file({**REGISTRY_FILE, "camera": []})
    assert problems(typo) == {"camera": "unknown field (check the spelling)"}


def test_change_versions_are_unique_and_the_head_matches_the_log(server: Server, admin: Admin):
    admin.import_file(REGISTRY_FILE)
    admin.owner(with_changes(OWNER, name="Harbor Deli & Grill"))
    with server.sessions() as session:
        versions = list(session.scalars(select(RegistryChange.version)))
        head = session.get(RegistryHead, 1)
    assert head is not None
    assert sorted(versions) == list(range(1, head.latest_version + 1)) == list(range(1, 7))


def test_concurrent_writers_get_one_version_each_in_commit_order(server: Server, admin: Admin):
    writers, per_writer = 4, 10
    start = threading.Barrier(writers)

    def write_owners(writer: int) -> list[int]:
        start.wait(timeout=30)
        return [
            admin.owner(with_changes(OWNER, id=f"own-{writer}-{number}"))["change_version"]
            for number in range(per_writer)
        ]

    with ThreadPoolExecutor(writers) as pool:
        results = list(pool.map(write_owners, range(writers)))

    for versions in results:  # each writer saw its own versions rise
        assert versions == sorted(versions)
    everything = sorted(version for versions in results for version in versions)
    assert everything == list(range(1, writers * per_writer + 1))
    changes, _ = pull_all(server, server.token(TokenRole.SUPERVISOR), limit=7)
    assert [change["version"] for change in changes] == everything


def test_text_with_a_nul_is_refused_before_it_reaches_the_database(server: Server, admin: Admin):
    # PostgreSQL cannot store NUL in text: without the check this is a 500 there.
    assert problems(admin.put("owners/own-017", with_changes(OWNER, name="Harbor\x00Deli"))) == {
        "name": "contains a NUL character"
    }
    imported = admin.import_file({"owners": [with_changes(OWNER, phone="312\x00")]})
    assert problems(imported) == {"phone": "contains a NUL character"}
    assert imported.json()["errors"][0]["row"] == "owners row 1"
    assert admin.put("owners/own%00", OWNER).status_code == 422
    assert pull(server, server.token(TokenRole.SUPERVISOR))["latest_version"] == 0


def test_a_password_in_a_stream_url_of_the_wrong_type_is_not_echoed_either(admin: Admin):
    admin.owner(OWNER)
    url = f"rtsp://admin:{PASSWORD}@cam-0042.invalid/stream1"
    refused = admin.put("cameras/cam-0042", with_changes(CAMERA, main_stream_url=[url]))
    assert "rtsp://***@cam-0042.invalid/stream1" in problems(refused)["main_stream_url"]
    assert PASSWORD not in refused.text

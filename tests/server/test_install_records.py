"""The server's install record endpoints, on SQLite and PostgreSQL, with records a workstation's
real services saved: stored once per id, listed for supervisors, refused when they cannot be."""

from __future__ import annotations

import base64
import copy
import hashlib
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from app.models import InstallRecord
from app.services.install_record_sync import record_document
from server.models import ReceivedInstallRecord, ReceivedInstallSnapshot, TokenRole
from tests.factories import registry_sessions
from tests.install_records import CAMERA, add_technician_and_camera, save
from tests.registry_admin import camera_document, owner_document


@pytest.fixture
def document(settings, audit_log, clock) -> dict[str, Any]:
    """A record as the workstation sends it (saved through the real service)."""
    sessions = registry_sessions(settings)
    add_technician_and_camera(sessions, clock)
    saved = save(sessions, audit_log, clock)
    with sessions() as session:
        record = session.get(InstallRecord, saved.record_id)
        assert record is not None
        return record_document(record)


def put(server, token: str, document: dict[str, Any], record_id: str | None = None):
    return server.client.put(
        f"/v1/install-records/{record_id or document['id']}",
        json=document,
        headers={"Authorization": f"Bearer {token}"},
    )


def stored_counts(server) -> tuple[int, int]:
    with server.sessions() as session:
        return (
            session.scalar(select(func.count()).select_from(ReceivedInstallRecord)),
            session.scalar(select(func.count()).select_from(ReceivedInstallSnapshot)),
        )


def test_a_record_is_stored_once_and_listed_for_supervisors(server, document):
    token = server.register("tech-laptop-7")

    first = put(server, token, document)
    again = put(server, token, document)

    assert first.status_code == 201, first.text
    assert first.json()["stored"] is True
    assert again.status_code == 200 and again.json()["stored"] is False
    assert again.json()["received_at"] == first.json()["received_at"]
    assert stored_counts(server) == (1, 1)

    supervisor = server.token(TokenRole.SUPERVISOR)
    listed = server.get(f"/v1/cameras/{CAMERA}/install-records", supervisor)
    assert listed.status_code == 200, listed.text
    (record,) = listed.json()["records"]
    assert record["id"] == document["id"] and record["workstation_id"] == "tech-laptop-7"
    assert record["verdict"] == "pass" and record["technician"] == "kim"
    assert record["check_report"]["format"] == 1
    assert record["placement"]["heading_deg"] == 135.0
    jpeg = base64.b64decode(document["snapshots"][0]["jpeg"])
    (snapshot,) = record["snapshots"]
    assert snapshot["sha256"] == hashlib.sha256(jpeg).hexdigest() and snapshot["jpeg"] is None

    with_pictures = server.get(
        f"/v1/cameras/{CAMERA}/install-records", supervisor, include_snapshots="true"
    )
    assert base64.b64decode(with_pictures.json()["records"][0]["snapshots"][0]["jpeg"]) == jpeg
    assert server.get("/v1/cameras/cam-other/install-records", supervisor).json()["records"] == []


def test_a_different_record_under_a_taken_id_is_refused(server, document):
    token = server.register("tech-laptop-7")
    assert put(server, token, document).status_code == 201
    changed = copy.deepcopy(document)
    changed["notes"] = "rewritten afterwards"

    answer = put(server, token, changed)

    assert answer.status_code == 409
    assert "different install record" in answer.json()["detail"]
    listed = server.get(f"/v1/cameras/{CAMERA}/install-records", server.token(TokenRole.ADMIN))
    assert listed.json()["records"][0]["notes"] == document["notes"]


def test_only_workstations_send_and_only_supervisors_read(server, document):
    token = server.register("tech-laptop-7")
    supervisor = server.token(TokenRole.SUPERVISOR)

    assert put(server, supervisor, document).status_code == 403
    assert put(server, "bst_not-a-token", document).status_code == 401
    assert server.get(f"/v1/cameras/{CAMERA}/install-records", token).status_code == 403
    assert stored_counts(server) == (0, 0)


BROKEN = [
    (lambda d: d["snapshots"].clear(), "snapshots"),
    (lambda d: d["snapshots"][0].update(stream="sub"), "main stream"),
    (lambda d: d["snapshots"][0].update(jpeg=base64.b64encode(b"GIF89a").decode()), "JPEG"),
    (lambda d: d["snapshots"][0].update(jpeg="not base64!"), "base64"),
    (lambda d: d["check_report"].pop("format"), "format"),
    (lambda d: d["placement"].update(heading_deg=400), "heading_deg"),
    (lambda d: d["placement"].update(privacy_masks=[[[0, 0], [1, 1]]]), "privacy mask"),
    (lambda d: d.update(notes="x" * 4001), "notes"),
    (lambda d: d.update(verdict="great"), "verdict"),
    (lambda d: d.update(camera_id="cam\x00"), "camera_id"),
    (lambda d: d.update(created_at="2026-11-18T15:30:00"), "created_at"),
]


@pytest.mark.parametrize(("change", "problem"), BROKEN, ids=[problem for _, problem in BROKEN])
def test_a_record_that_cannot_be_read_is_refused_and_nothing_is_stored(
    server, document, change, problem
):
    token = server.register("tech-laptop-7")
    broken = copy.deepcopy(document)
    change(broken)

    answer = put(server, token, broken)

    assert answer.status_code == 422, answer.text
    assert problem in answer.text
    assert stored_counts(server) == (0, 0)


def test_the_id_in_the_body_must_be_the_paths(server, document):
    token = server.register("tech-laptop-7")

    answer = put(server, token, document, record_id="0b7e8f8c-1d2a-4c55-9a0e-2f1d3c4b5a69")

    assert answer.status_code == 422
    (problem,) = answer.json()["detail"]
    assert problem["loc"] == ["body", "id"] and "path names" in problem["msg"]
    assert stored_counts(server) == (0, 0)


def registry_camera(server, **fields: Any) -> None:
    """The camera in the server's registry, written as its administrator does."""
    headers = {"Authorization": f"Bearer {server.token(TokenRole.ADMIN)}"}
    owner = server.client.put("/v1/registry/owners/own-1", json=owner_document(), headers=headers)
    assert owner.status_code in (200, 201), owner.text
    camera = server.client.put(
        f"/v1/registry/cameras/{CAMERA}",
        json=camera_document(CAMERA, heading_deg=10.0, **fields),
        headers=headers,
    )
    assert camera.status_code in (200, 201), camera.text


def camera_changes(server, token: str) -> list[dict[str, Any]]:
    changes = server.get("/v1/registry/changes", token, after=0).json()["changes"]
    return [change["document"] for change in changes if change["kind"] == "camera"]


def test_a_record_places_the_registry_camera_for_every_workstation(server, document):
    registry_camera(server)
    token = server.register("tech-laptop-7")

    assert put(server, token, document).status_code == 201
    assert put(server, token, document).status_code == 200  # sent again: no second change

    before, placed = camera_changes(server, token)
    assert before["heading_deg"] == 10.0 and before["install_state"] == "unverified"
    assert placed["main_stream_url"] == before["main_stream_url"]  # the rest is kept
    for name, value in document["placement"].items():
        assert placed[name] == value, name
    assert placed["install_state"] == "verified"
    assert datetime.fromisoformat(placed["verified_at"]) == datetime.fromisoformat(
        document["created_at"]
    )


def test_an_older_record_than_the_cameras_verification_changes_nothing(server, document):
    registry_camera(server, install_state="failed", verified_at="2030-01-01T00:00:00Z")
    token = server.register("tech-laptop-7")

    assert put(server, token, document).status_code == 201

    (camera,) = camera_changes(server, token)
    assert camera["install_state"] == "failed" and camera["heading_deg"] == 10.0

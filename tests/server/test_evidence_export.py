"""Case packages exported from the vault, against the real app on SQLite and PostgreSQL: owners
upload real clips through their links, a workstation views one, a supervisor exports; the
package verifies against the server's agency key, holds the uploads byte for byte and their
chain of custody, and the export is in the vault's own custody log. A file touched at rest, an
evidence id of another incident, a token of the wrong role: refused, nothing handed out."""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.evidence.agency_key import AgencyKey, parse_public_key
from app.evidence.package import KeyStatus, verify_package
from server.cli import default_agency_key
from server.cli import main as server_main
from server.evidence_export import PACKAGE_PREFIX, package_file_name
from server.models import TokenRole
from server.tokens import issue_token
from tests.evidence_uploads import Owner as UploadingOwner
from tests.evidence_uploads import video_file
from tests.server.conftest import Server, footage_request
from tests.server.test_registry_api import OWNER, Admin

Owner = UploadingOwner[Server]
CAD = "2026-004512"
PURPOSE = "case:24-1187"


@pytest.fixture(scope="module")
def other_clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return video_file(tmp_path_factory.mktemp("clips") / "alley.mp4", seconds=2).read_bytes()


@pytest.fixture
def vault_server(make_server: Callable[..., Server], vault_settings: dict[str, Any]) -> Server:
    return make_server(**vault_settings)


@pytest.fixture
def workstation_token(vault_server: Server) -> str:
    return vault_server.register("rtcc-ws-03")


@pytest.fixture
def supervisor(vault_server: Server) -> str:
    return vault_server.token(TokenRole.SUPERVISOR)


def upload(
    server: Server, token: str, reference: str, name: str, data: bytes, **request: Any
) -> str:
    """An owner answers the footage request ``reference`` with ``data``; the evidence id."""
    answer = server.client.post(
        "/v1/footage-requests",
        json=footage_request(reference, **request),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 201, answer.text
    owner = Owner(server, answer.json()["upload_url"])
    sent = owner.send(name, data, chunk=256 * 1024)
    assert sent.json()["complete"], sent.text
    assert owner.done().status_code == 200
    cad = request.get("cad_number", CAD)
    listed = server.get(f"/v1/incidents/{cad}/evidence", token).json()["evidence"]
    return str(next(item["id"] for item in listed if item["original_name"] == name))


@pytest.fixture
def uploads(
    vault_server: Server, workstation_token: str, video_clip: bytes, other_clip: bytes
) -> dict[str, bytes]:
    """Two clips of the incident (the door viewed once by the workstation), by evidence id."""
    door = upload(vault_server, workstation_token, "FR-12", "door 18-11.mp4", video_clip)
    vault_server.clock.advance(minutes=5)
    alley = upload(
        vault_server,
        workstation_token,
        "FR-13",
        "alley.mp4",
        other_clip,
        camera_id="cam-0413",
        camera_name="Harbor Deli alley",
    )
    vault_server.clock.advance(minutes=5)
    viewed = vault_server.get(
        f"/v1/evidence/{door}/content", workstation_token, purpose=f"incident:{CAD}"
    )
    assert viewed.status_code == 200
    vault_server.clock.advance(hours=1)
    return {door: video_clip, alley: other_clip}


def export(server: Server, token: str | None, cad: str = CAD, **body: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return server.client.post(
        f"/v1/incidents/{cad}/case-package",
        json={"purpose": PURPOSE, **body},
        headers=headers,
    )


def agency_public_key(server: Server) -> Any:
    answer = server.client.get("/v1/agency-key")
    assert answer.status_code == 200
    return parse_public_key(answer.json()["public_key_pem"].encode(), "the server's agency key")


def leftover_folders() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob(f"{PACKAGE_PREFIX}*")}


def custody(server: Server, token: str, evidence_id: str) -> list[tuple[str, str, str]]:
    answer = server.get(f"/v1/evidence/{evidence_id}/custody", token)
    return [(e["action"], e["actor"], e["purpose"]) for e in answer.json()["events"]]


def test_a_case_package_verifies_and_carries_the_clips_and_their_custody(
    vault_server: Server,
    supervisor: str,
    workstation_token: str,
    uploads: dict[str, bytes],
    tmp_path: Path,
):
    before = leftover_folders()
    answer = export(vault_server, supervisor)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    assert answer.headers["content-disposition"] == (
        f'attachment; filename="case-{CAD}-20261118.zip"'
    )
    package = tmp_path / "case.zip"
    package.write_bytes(answer.content)

    report = verify_package(package, agency_public_key(vault_server))
    assert report.intact, report.problems
    assert report.signing_key is KeyStatus.PINNED
    assert report.incident == CAD and len(report.clips) == 2
    with zipfile.ZipFile(package) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        clips = {clip["evidence_id"]: archive.read(clip["path"]) for clip in manifest["clips"]}
    assert clips == uploads
    actor = manifest["export"]["by"]
    assert actor.startswith("supervisor") and manifest["export"]["purpose"] == PURPOSE
    door, alley = list(uploads)
    path_of = {clip["evidence_id"]: clip["path"] for clip in manifest["clips"]}
    by_clip = [
        (entry["action"], entry["actor"], entry["purpose"])
        for entry in manifest["custody"]
        if entry["clip"] == path_of[door]
    ]
    assert by_clip == [
        ("received", "owner (upload link)", f"incident:{CAD}"),
        ("viewed", "workstation rtcc-ws-03", f"incident:{CAD}"),
        ("exported", actor, PURPOSE),
    ]
    [record] = [clip for clip in manifest["clips"] if clip["evidence_id"] == alley]
    assert record["camera"] == {"id": "cam-0413", "name": "Harbor Deli alley"}
    assert record["footage_request"] == "FR-13 (workstation rtcc-ws-03)"
    assert record["received"]["by"] == "owner (upload link)"
    # The export is in the vault's own log, and no plaintext is left on the server's disk.
    for evidence_id in uploads:
        assert custody(vault_server, supervisor, evidence_id)[-1] == ("exported", actor, PURPOSE)
    assert leftover_folders() == before


def test_a_later_package_lists_the_earlier_export(
    vault_server: Server, supervisor: str, workstation_token: str, uploads: dict[str, bytes]
):
    assert export(vault_server, workstation_token).status_code == 200
    vault_server.clock.advance(days=1)
    door = next(iter(uploads))
    answer = export(vault_server, supervisor, evidence_ids=[door], purpose="court order 77")
    assert answer.status_code == 200, answer.text
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert [clip["evidence_id"] for clip in manifest["clips"]] == [door]
    assert [(e["action"], e["purpose"]) for e in manifest["custody"]] == [
        ("received", f"incident:{CAD}"),
        ("viewed", f"incident:{CAD}"),
        ("exported", PURPOSE),
        ("exported", "court order 77"),
    ]
    assert manifest["custody"][2]["actor"] == "workstation rtcc-ws-03"


def test_a_file_touched_in_the_vault_refuses_the_export(
    vault_server: Server, supervisor: str, uploads: dict[str, bytes]
):
    _door, alley = list(uploads)
    vault = vault_server.client.app.state.evidence.vault  # type: ignore[attr-defined]
    path = vault.path(alley)
    os.chmod(path, 0o600)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    before = leftover_folders()
    answer = export(vault_server, supervisor)
    assert answer.status_code == 409
    assert answer.headers["content-type"] == "application/json"
    detail = answer.json()["detail"]
    assert f"evidence {alley} (alley.mp4) fails its check in the vault" in detail
    assert "no package was exported" in detail
    for evidence_id in uploads:
        assert "exported" not in [e[0] for e in custody(vault_server, supervisor, evidence_id)]
    assert leftover_folders() == before


def test_evidence_of_another_incident_or_unknown_or_deleted_is_refused(
    vault_server: Server,
    supervisor: str,
    workstation_token: str,
    uploads: dict[str, bytes],
    video_clip: bytes,
):
    elsewhere = upload(
        vault_server, workstation_token, "FR-20", "other.mp4", video_clip, cad_number="2026-009999"
    )
    door = next(iter(uploads))
    answer = export(vault_server, supervisor, evidence_ids=[door, elsewhere])
    assert answer.status_code == 404
    assert f"evidence {elsewhere} is not evidence of incident {CAD}" in answer.json()["detail"]
    assert export(vault_server, supervisor, evidence_ids=["a" * 32]).status_code == 404
    nothing = export(vault_server, supervisor, cad="2026-000001")
    assert nothing.status_code == 404
    assert "has no evidence in the vault to export" in nothing.json()["detail"]
    assert export(vault_server, supervisor, evidence_ids=["../../etc"]).status_code == 422
    admin = vault_server.token(TokenRole.ADMIN)
    deleted = vault_server.client.delete(
        f"/v1/evidence/{door}",
        params={"purpose": "retention: 90 days"},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert deleted.status_code == 200
    assert export(vault_server, supervisor, evidence_ids=[door]).status_code == 410
    for evidence_id in (door, elsewhere):
        assert "exported" not in [e[0] for e in custody(vault_server, supervisor, evidence_id)]


def test_a_purpose_is_needed(vault_server: Server, supervisor: str, uploads: dict[str, bytes]):
    for body in ({}, {"purpose": ""}, {"purpose": "x", "extra": 1}):
        answer = vault_server.client.post(
            f"/v1/incidents/{CAD}/case-package",
            json=body,
            headers={"Authorization": f"Bearer {supervisor}"},
        )
        assert answer.status_code == 422, body


def test_only_workstations_and_supervisors_export(
    vault_server: Server, supervisor: str, uploads: dict[str, bytes]
):
    assert export(vault_server, None).status_code == 401
    Admin(vault_server).owner(OWNER)
    with vault_server.sessions.begin() as session:
        owner = issue_token(
            session, TokenRole.OWNER, vault_server.clock(), timedelta(days=1), owner_id=OWNER["id"]
        ).secret
    for token in (owner, vault_server.token(TokenRole.ADMIN)):
        answer = export(vault_server, token)
        assert answer.status_code == 403
        assert "needs a workstation or supervisor token" in answer.json()["detail"]
    for evidence_id in uploads:
        assert "exported" not in [e[0] for e in custody(vault_server, supervisor, evidence_id)]


def test_the_agency_key_comes_from_its_file_and_survives_a_restart(
    make_server: Callable[..., Server], vault_settings: dict[str, Any], tmp_path: Path
):
    key_file = tmp_path / "server-keys" / "agency-key.pem"
    first = make_server(**vault_settings, agency_key_file=key_file).client.get("/v1/agency-key")
    assert first.status_code == 200
    assert first.json()["fingerprint"] == AgencyKey.from_file(key_file).fingerprint
    assert key_file.stat().st_mode & 0o077 == 0
    again = make_server(**vault_settings, agency_key_file=key_file).client.get("/v1/agency-key")
    assert again.json() == first.json()
    assert first.json()["algorithm"] == "Ed25519"


def test_the_agency_key_file_is_found_like_the_checkpoint_key(
    checkpoint_key_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    assert default_agency_key() == checkpoint_key_file.parent / "agency-key.pem"
    monkeypatch.setenv("BEACON_SERVER_AGENCY_KEY", str(tmp_path / "agency.pem"))
    assert default_agency_key() == tmp_path / "agency.pem"


def test_an_unusable_agency_key_stops_the_server_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    not_a_key = tmp_path / "agency.pem"
    not_a_key.write_text("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    url = f"sqlite:///{tmp_path / 'server.sqlite3'}"
    assert server_main(["serve", "--db-url", url, "--agency-key", str(not_a_key)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {not_a_key} is not an unencrypted PEM private key")
    assert "agency key" in error


def test_the_package_file_name_is_safe_whatever_the_cad_number():
    at = datetime(2026, 11, 18, 16, tzinfo=UTC)
    assert package_file_name("2026-004512", at) == "case-2026-004512-20261118.zip"
    assert package_file_name('../20"26\r\n/45', at) == "case-20_26_45-20261118.zip"
    assert package_file_name("..", at) == "case-incident-20261118.zip"

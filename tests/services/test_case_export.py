"""The workstation exporting a case package from the real evidence server on loopback: owners
upload real clips through the real upload page, the package is streamed into a file, verified
against the agency key pinned at the first export, and audited; an existing file is never
written over, a package signed with another key is refused and deleted, a server that is down
says so."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from app.evidence.agency_key import AgencyKey
from app.models.audit_chain import AuditEventType
from app.services.audit_log import AuditLog, read_events
from app.services.case_export import (
    AGENCY_KEY_FILE,
    AgencyKeyPin,
    CaseExportError,
    CaseExportUnavailable,
    PackageNotIntact,
    PinnedAgencyKey,
    export_case_package,
)
from app.services.sync_link import SyncConnection
from app.settings import Settings
from tests.evidence_uploads import Owner, UploadPage, video_file
from tests.sync_server import ServerDatabase, ThreadServer, free_port

CAD = "2026-004512"
PURPOSE = "case:24-1187"
WORKSTATION = "test-ws"


@dataclass(frozen=True)
class EvidenceServer:
    """The real server with a vault and an agency key of its own, and this workstation's token."""

    server: ThreadServer
    database: ServerDatabase
    token: str
    agency_key: AgencyKey

    @property
    def url(self) -> str:
        return self.server.url

    def upload(self, reference: str, name: str, data: bytes, camera: str = "cam-0412") -> str:
        """An owner answers footage request ``reference`` with ``data``; the evidence id."""
        with httpx.Client(base_url=self.url, timeout=30) as client:
            headers = {"Authorization": f"Bearer {self.token}"}
            registered = client.post(
                "/v1/footage-requests",
                json=footage_request(reference, camera),
                headers=headers,
            )
            assert registered.status_code == 201, registered.text
            link = registered.json()["upload_url"]
            with contextlib.closing(UploadPage(link)) as page:
                owner = Owner(page, link)
                assert owner.send(name, data, chunk=512 * 1024).json()["complete"]
                assert owner.done().status_code == 200
            listed = client.get(f"/v1/incidents/{CAD}/evidence", headers=headers).json()
        return str(next(item["id"] for item in listed["evidence"] if item["original_name"] == name))

    def custody(self, evidence_id: str) -> list[str]:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            answer = client.get(
                f"/v1/evidence/{evidence_id}/custody",
                headers={"Authorization": f"Bearer {self.token}"},
            )
        return [event["action"] for event in answer.json()["events"]]


def footage_request(reference: str, camera: str) -> dict[str, Any]:
    return {
        "reference": reference,
        "cad_number": CAD,
        "incident_type": "Armed robbery",
        "camera_id": camera,
        "camera_name": f"Harbor Deli {camera}",
        "window_start": "2026-11-18T15:40:00Z",
        "window_end": "2026-11-18T16:10:00Z",
        "time_zone": "America/Chicago",
        "expires_at": "2099-11-25T16:00:00Z",
    }


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    folder = tmp_path_factory.mktemp("clips")
    return [
        video_file(folder / "door.mp4", seconds=2).read_bytes(),
        video_file(folder / "alley.mp4", seconds=1, size="160x120").read_bytes(),
    ]


@pytest.fixture
def evidence_server(server_db: ServerDatabase, tmp_path: Path) -> Iterator[EvidenceServer]:
    keys = tmp_path / "server-keys"
    server = ThreadServer(
        server_db.url,
        vault_folder=tmp_path / "vault",
        vault_key_file=keys / "vault-key",
        agency_key_file=keys / "agency-key.pem",
    ).start()
    try:
        yield EvidenceServer(
            server,
            server_db,
            server_db.register(WORKSTATION),
            AgencyKey.from_file(keys / "agency-key.pem"),
        )
    finally:
        server.stop()


@pytest.fixture
def uploaded(evidence_server: EvidenceServer, clips: list[bytes]) -> dict[str, bytes]:
    door = evidence_server.upload("FR-12", "door.mp4", clips[0])
    alley = evidence_server.upload("FR-13", "alley.mp4", clips[1], camera="cam-0413")
    return {door: clips[0], alley: clips[1]}


@pytest.fixture
def pin(settings: Settings) -> AgencyKeyPin:
    return AgencyKeyPin(settings.data_dir / AGENCY_KEY_FILE)


def export(
    server: EvidenceServer, audit: AuditLog, out: Path, pin: AgencyKeyPin, url: str | None = None
) -> Any:
    return export_case_package(
        SyncConnection(url or server.url, connect_timeout_s=2),
        lambda: server.token,
        audit,
        "dana",
        CAD,
        PURPOSE,
        out,
        pin,
    )


def exports(audit: AuditLog) -> list[dict[str, Any]]:
    return [e for e in read_events(audit.path) if e["event_type"] == AuditEventType.EXPORT.value]


def test_an_export_is_verified_pinned_written_and_audited(
    evidence_server: EvidenceServer,
    uploaded: dict[str, bytes],
    audit_log: AuditLog,
    settings: Settings,
    pin: AgencyKeyPin,
    tmp_path: Path,
):
    out = tmp_path / "export" / "case-24-1187.zip"
    out.parent.mkdir()
    exported = export(evidence_server, audit_log, out, pin)

    assert exported.newly_pinned and exported.clip_count == 2
    assert exported.key.fingerprint == evidence_server.agency_key.fingerprint
    assert exported.report.intact
    data = out.read_bytes()
    assert exported.sha256 == hashlib.sha256(data).hexdigest() and exported.size == len(data)
    with zipfile.ZipFile(out) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        received = {c["evidence_id"]: archive.read(c["path"]) for c in manifest["clips"]}
    assert received == uploaded
    assert manifest["export"]["by"] == f"workstation {WORKSTATION}"
    assert list(out.parent.iterdir()) == [out]  # no partial file left beside it
    pinned = json.loads((settings.data_dir / AGENCY_KEY_FILE).read_text())
    assert pinned["fingerprint"] == evidence_server.agency_key.fingerprint
    assert pinned["server_url"] == evidence_server.url
    [event] = exports(audit_log)
    assert (event["actor"], event["outcome"], event["purpose"]) == ("dana", "success", PURPOSE)
    assert event["subject"] == out.name
    assert event["details"] == {
        "kind": "case_package",
        "incident": CAD,
        "sha256": exported.sha256,
        "bytes": len(data),
        "clips": 2,
        "package_id": manifest["package_id"],
        "agency_key": evidence_server.agency_key.fingerprint,
        "path": str(out),
    }
    for evidence_id in uploaded:
        assert evidence_server.custody(evidence_id) == ["received", "exported"]

    again = export(evidence_server, audit_log, tmp_path / "export" / "second.zip", pin)
    assert not again.newly_pinned  # the key is pinned once, then kept


def test_an_existing_file_is_never_written_over(
    evidence_server: EvidenceServer,
    uploaded: dict[str, bytes],
    audit_log: AuditLog,
    pin: AgencyKeyPin,
    tmp_path: Path,
):
    out = tmp_path / "case.zip"
    out.write_bytes(b"the detective's own notes")
    with pytest.raises(CaseExportError, match="exists already; a case package is never written"):
        export(evidence_server, audit_log, out, pin)
    assert out.read_bytes() == b"the detective's own notes"
    assert exports(audit_log) == []
    for evidence_id in uploaded:
        assert evidence_server.custody(evidence_id) == ["received"]  # the server was not asked


def test_a_package_signed_with_another_key_than_the_pinned_one_is_deleted(
    evidence_server: EvidenceServer,
    uploaded: dict[str, bytes],
    audit_log: AuditLog,
    pin: AgencyKeyPin,
    tmp_path: Path,
):
    other = AgencyKey.generate()
    pin.save(
        PinnedAgencyKey(
            other.public_key, other.fingerprint, "https://old.invalid", audit_log.now()
        ),
        other.public_key_pem.decode(),
    )
    out = tmp_path / "case.zip"
    with pytest.raises(PackageNotIntact, match="does not verify against the agency key") as caught:
        export(evidence_server, audit_log, out, pin)
    assert any("not signed by your agency" in str(p) for p in caught.value.report.problems)
    assert not out.exists()
    assert list(tmp_path.glob(".case.zip.*")) == []
    [event] = exports(audit_log)
    assert (event["outcome"], event["reason"]) == ("failure", "package_not_intact")
    assert event["details"]["incident"] == CAD


def test_a_damaged_pin_is_not_silently_replaced(
    evidence_server: EvidenceServer, audit_log: AuditLog, pin: AgencyKeyPin, tmp_path: Path
):
    pin.path.write_text("{not json")
    with pytest.raises(CaseExportError, match="delete it to pin the key"):
        export(evidence_server, audit_log, tmp_path / "case.zip", pin)
    assert pin.path.read_text() == "{not json"


def test_a_server_that_is_down_says_so_and_nothing_is_written(
    evidence_server: EvidenceServer, audit_log: AuditLog, pin: AgencyKeyPin, tmp_path: Path
):
    down = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(CaseExportUnavailable, match=f"the evidence server at {down} cannot be"):
        export(evidence_server, audit_log, tmp_path / "case.zip", pin, url=down)
    assert list(tmp_path.glob("*case.zip*")) == []
    assert exports(audit_log) == []


def test_a_refusal_of_the_server_is_passed_on(
    evidence_server: EvidenceServer, audit_log: AuditLog, pin: AgencyKeyPin, tmp_path: Path
):
    with pytest.raises(CaseExportError, match="has no evidence in the vault to export"):
        export(evidence_server, audit_log, tmp_path / "case.zip", pin)
    assert list(tmp_path.glob("*case.zip*")) == []
    assert exports(audit_log) == []


class _CutOff(http.server.BaseHTTPRequestHandler):
    """A server that starts sending a package and drops the connection half-way."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(4 * 1024 * 1024))
        self.end_headers()
        self.wfile.write(b"PK\x03\x04" + b"\0" * 1024 * 1024)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *_args: Any) -> None:
        return


def test_a_package_cut_off_on_the_way_leaves_no_file_and_is_audited(
    audit_log: AuditLog, pin: AgencyKeyPin, tmp_path: Path
):
    key = AgencyKey.generate()
    pin.save(
        PinnedAgencyKey(key.public_key, key.fingerprint, "http://127.0.0.1", audit_log.now()),
        key.public_key_pem.decode(),
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CutOff)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        out = tmp_path / "case.zip"
        with pytest.raises(CaseExportUnavailable, match="the answer was cut off"):
            export_case_package(
                SyncConnection(f"http://127.0.0.1:{server.server_address[1]}"),
                lambda: "bst_token",
                audit_log,
                "dana",
                CAD,
                PURPOSE,
                out,
                pin,
            )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
    assert list(tmp_path.glob("*case.zip*")) == []
    [event] = exports(audit_log)
    assert (event["outcome"], event["reason"]) == ("failure", "transfer_failed")
    assert event["details"]["bytes"] == 4 + 1024 * 1024

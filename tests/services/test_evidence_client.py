"""The console's side of the evidence vault against the real server on loopback: footage
requests e-mailed with upload links, owners answering on the real upload page, the list read
back, a file fetched and checked against its fingerprint, every view audited first, and the
owners' answers recorded on the workstation's own requests."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.models import FootageRequestStatus
from app.models.policy import Purpose, PurposeKind
from app.services.audit_log import AuditLog, AuditWriteError, read_events
from app.services.credentials import CredentialStore
from app.services.evidence_client import (
    COPY_PREFIX,
    MISMATCH_TEXT,
    EvidenceClient,
    EvidenceError,
    EvidenceUnavailable,
    FingerprintMismatch,
    IncidentEvidence,
    copy_for_viewing,
    evidence_client,
    record_server_answers,
    remove_leftover_copies,
    viewers,
)
from app.services.footage_requests import SessionFactory, read_request_rows
from app.services.sync_link import ServerLink, SyncConnection
from app.services.upload_links import ServerUploadLinks
from app.settings import Settings
from tests.cad_server import closed_port_url
from tests.conftest import ManualClock
from tests.evidence_uploads import Owner, UploadPage, video_file
from tests.services.test_footage_requests import (
    CAD,
    OPERATOR,
    UPLOAD_LINK,
    draft,
    evidence_server,
    mailer_for,
    send_with_links,
    sessions,
    smtp_server,
    template,
)
from tests.smtp_server import SmtpServer
from tests.sync_server import ServerDatabase, ThreadServer

__all__ = ["evidence_server", "sessions", "smtp_server", "template"]  # fixtures shared with
# the footage request tests

WORKSTATION = "ws-footage"
PURPOSE = Purpose(PurposeKind.INCIDENT, CAD)


@dataclasses.dataclass(frozen=True)
class Vault:
    """The server with three requests of CAD answered three ways on the upload page."""

    token: str
    clip: bytes
    references: dict[str, str]  # camera id -> request reference


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return video_file(tmp_path_factory.mktemp("clips") / "doorcam.mp4").read_bytes()


@pytest.fixture
def vault(
    sessions: SessionFactory,
    audit_log: AuditLog,
    clock: ManualClock,
    smtp_server: SmtpServer,
    template: Any,
    evidence_server: ThreadServer,
    server_db: ServerDatabase,
    clip: bytes,
) -> Vault:
    """The deli's door camera sent a clip, the garage declined, the alley has not answered."""
    token = server_db.register(WORKSTATION)
    rows = draft(sessions, audit_log, clock, ["cam-deli-door", "cam-deli-alley", "cam-garage"])
    uploads = ServerUploadLinks(SyncConnection(evidence_server.url), lambda: token)
    send_with_links(sessions, audit_log, mailer_for(smtp_server.port), template, clock, uploads)
    uploads.close()
    links = [
        link
        for mail in smtp_server.mails()
        for link in UPLOAD_LINK.findall(mail.message.get_content())
    ]
    pages = {}
    for link in links:
        with contextlib.closing(UploadPage(link)) as page:
            owner = Owner(page, link)
            text = owner.page().text
            camera = next(row.camera_name for row in rows if row.camera_name in text)
            pages[camera] = link
    with contextlib.closing(UploadPage(pages["Deli front door"])) as page:
        door = Owner(page, pages["Deli front door"])
        assert door.send("doorcam 2026-11-18.mp4", clip).json()["complete"]
        assert door.done().status_code == 200
    with contextlib.closing(UploadPage(pages["Garage forecourt"])) as page:
        answer = Owner(page, pages["Garage forecourt"]).decline("Camera was off that night")
        assert answer.status_code == 200, answer.text
    return Vault(token, clip, {row.camera_id: row.reference for row in rows})


@pytest.fixture
def client(
    evidence_server: ThreadServer, vault: Vault, audit_log: AuditLog
) -> Iterator[EvidenceClient]:
    client = EvidenceClient(
        SyncConnection(evidence_server.url), lambda: vault.token, audit_log, OPERATOR
    )
    yield client
    client.close()


@pytest.fixture
def copies(tmp_path: Path) -> Path:
    """Where the copies for the player go (the system's temporary folder in the console)."""
    folder = tmp_path / "copies"
    folder.mkdir()
    return folder


def viewed(settings: Settings) -> list[dict[str, Any]]:
    return [e for e in read_events(settings.audit_db) if e["event_type"] == "evidence_viewed"]


def custody(token: str, evidence_id: str, url: str) -> list[tuple[str, str, str]]:
    """The file's custody log on the server: (action, actor, purpose)."""
    link = ServerLink(SyncConnection(url))
    try:
        answer = link.request("GET", f"/v1/evidence/{evidence_id}/custody", token)
    finally:
        link.close()
    assert answer.status == 200, answer.body
    return [(e["action"], e["actor"], e["purpose"]) for e in answer.body["events"]]


def test_an_incident_lists_its_requests_and_the_files_owners_sent(
    client: EvidenceClient, vault: Vault
):
    listed = client.incident_evidence(CAD)

    statuses = {r.reference: (r.status, r.decline_reason) for r in listed.requests}
    assert statuses == {
        vault.references["cam-deli-door"]: ("fulfilled", None),
        vault.references["cam-deli-alley"]: ("open", None),
        vault.references["cam-garage"]: ("declined", "Camera was off that night"),
    }
    [item] = listed.evidence
    assert item.original_name == "doorcam 2026-11-18.mp4"
    assert item.sha256 == hashlib.sha256(vault.clip).hexdigest()
    assert (item.size, item.camera_id, item.codec) == (len(vault.clip), "cam-deli-door", "h264")
    assert (item.width, item.height) == (320, 240)
    assert item.duration_s == pytest.approx(3, abs=0.2)
    assert item.request_reference == vault.references["cam-deli-door"]
    assert client.incident_evidence("2026-999999") == IncidentEvidence("2026-999999", [], [])


def test_a_file_is_copied_privately_checked_and_every_view_audited(
    client: EvidenceClient,
    vault: Vault,
    settings: Settings,
    evidence_server: ThreadServer,
    server_db: ServerDatabase,
    copies: Path,
):
    [item] = client.incident_evidence(CAD).evidence
    copy = copy_for_viewing(client, item, PURPOSE, copies)

    assert copy.path.read_bytes() == vault.clip
    assert copy.path.parent == copy.folder and copy.folder.name.startswith(COPY_PREFIX)
    assert stat.S_IMODE(copy.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(copy.folder.stat().st_mode) == 0o700
    assert copy.path.suffix == ".mp4"
    requested, opened = viewed(settings)
    for event in (requested, opened):
        assert (event["actor"], event["purpose"], event["camera_id"]) == (
            "ops1",
            "incident:2026-000100",
            "cam-deli-door",
        )
        assert event["details"]["evidence"] == item.id
        assert event["details"]["sha256"] == item.sha256
    assert [requested["details"]["status"], opened["details"]["status"]] == ["requested", "opened"]
    assert custody(vault.token, item.id, evidence_server.url)[-1] == (
        "viewed",
        f"workstation {WORKSTATION}",
        "incident:2026-000100",
    )
    [viewing] = viewers(settings.audit_db, [item])[item.id]
    assert (viewing.viewer, viewing.purpose) == ("ops1", "incident:2026-000100")
    copy.remove()
    assert not copy.folder.exists()


def test_a_view_that_cannot_be_audited_is_never_asked_of_the_server(
    client: EvidenceClient,
    vault: Vault,
    audit_log: AuditLog,
    evidence_server: ThreadServer,
    server_db: ServerDatabase,
    copies: Path,
):
    [item] = client.incident_evidence(CAD).evidence
    audit_log._connection.execute("PRAGMA query_only = ON")
    with pytest.raises(AuditWriteError):
        copy_for_viewing(client, item, PURPOSE, copies)
    audit_log._connection.execute("PRAGMA query_only = OFF")

    assert list(copies.iterdir()) == []
    actions = custody(vault.token, item.id, evidence_server.url)
    assert [action for action, _, _ in actions] == ["received"]


@pytest.mark.parametrize(
    "change",
    [
        {"sha256": "0" * 64},  # the listed fingerprint is not the one of the bytes
        {"size": 1000},  # more bytes arrive than listed: refused before they are all written
    ],
)
def test_a_file_that_does_not_match_its_fingerprint_is_deleted_and_refused(
    client: EvidenceClient, settings: Settings, copies: Path, change: dict[str, Any]
):
    [item] = client.incident_evidence(CAD).evidence
    tampered = dataclasses.replace(item, **change)

    with pytest.raises(FingerprintMismatch, match=MISMATCH_TEXT):
        copy_for_viewing(client, tampered, PURPOSE, copies)

    assert list(copies.iterdir()) == [], "the copy and its folder are gone"
    requested, failed = viewed(settings)
    assert requested["details"]["status"] == "requested"
    assert (failed["outcome"], failed["reason"]) == ("failure", "fingerprint_mismatch")
    assert failed["details"]["status"] == "not_opened"
    assert viewers(settings.audit_db, [item]) == {}
    # The client still works: the listed file opens.
    copy_for_viewing(client, item, PURPOSE, copies).remove()


def test_a_server_that_is_down_is_said_so_and_an_attempted_view_stays_audited(
    client: EvidenceClient, audit_log: AuditLog, settings: Settings, copies: Path
):
    [item] = client.incident_evidence(CAD).evidence
    down = closed_port_url().removesuffix("/cad/records")
    offline = EvidenceClient(
        SyncConnection(down, connect_timeout_s=2), lambda: "bst_x", audit_log, OPERATOR
    )

    with pytest.raises(EvidenceUnavailable, match=f"the evidence server at {down} cannot be"):
        offline.incident_evidence(CAD)
    with pytest.raises(EvidenceUnavailable):
        copy_for_viewing(offline, item, PURPOSE, copies)

    assert list(copies.iterdir()) == []
    requested, failed = viewed(settings)
    assert requested["details"]["status"] == "requested"
    assert (failed["outcome"], failed["reason"]) == ("failure", "server_unreachable")


def test_a_token_the_server_refuses_says_what_to_do(
    evidence_server: ThreadServer, vault: Vault, audit_log: AuditLog
):
    refused = EvidenceClient(
        SyncConnection(evidence_server.url), lambda: "bst_not-a-token", audit_log, OPERATOR
    )
    with pytest.raises(EvidenceError, match=r"refused the token.*beacon sync token"):
        refused.incident_evidence(CAD)
    missing = EvidenceClient(SyncConnection(evidence_server.url), lambda: None, audit_log, OPERATOR)
    with pytest.raises(EvidenceError, match=r"no workstation token .* in the keyring"):
        missing.incident_evidence(CAD)


def test_no_server_configured_gives_no_client(settings: Settings, audit_log: AuditLog):
    credentials = CredentialStore.for_settings(settings)
    assert evidence_client(settings, credentials, audit_log, OPERATOR) is None


def test_the_owners_answers_on_the_page_reach_the_workstations_requests_once(
    client: EvidenceClient,
    vault: Vault,
    sessions: SessionFactory,
    audit_log: AuditLog,
    settings: Settings,
    clock: ManualClock,
):
    listed = client.incident_evidence(CAD)

    recorded = record_server_answers(sessions, audit_log, OPERATOR, WORKSTATION, listed, clock())

    assert sorted(recorded) == sorted(
        [vault.references["cam-deli-door"], vault.references["cam-garage"]]
    )
    rows = {row.camera_id: row for row in read_request_rows(sessions, CAD)}
    assert rows["cam-deli-door"].status is FootageRequestStatus.FULFILLED
    assert rows["cam-deli-door"].answer_note.startswith("Footage sent through the upload link")
    assert rows["cam-garage"].status is FootageRequestStatus.DECLINED
    assert rows["cam-garage"].answer_note == (
        "Declined on the upload page: Camera was off that night"
    )
    assert rows["cam-deli-alley"].status is FootageRequestStatus.SENT
    answers = [
        (e["camera_id"], e["details"]["status"])
        for e in read_events(settings.audit_db)
        if e["event_type"] == "footage_request"
        and e["details"]["status"] in ("fulfilled", "declined")
    ]
    assert sorted(answers) == [("cam-deli-door", "fulfilled"), ("cam-garage", "declined")]
    # Read again: nothing is recorded twice.
    assert record_server_answers(sessions, audit_log, OPERATOR, WORKSTATION, listed, clock()) == []
    # Another workstation's requests with the same references are not this one's.
    assert record_server_answers(sessions, audit_log, OPERATOR, "ws-other", listed, clock()) == []


def test_copies_left_by_a_console_that_crashed_are_removed(tmp_path: Path):
    left = Path(tempfile.mkdtemp(prefix=COPY_PREFIX, dir=tmp_path))
    (left / "evidence-1.mp4").write_bytes(b"video")
    other = tmp_path / "someone-elses-folder"
    other.mkdir()

    assert remove_leftover_copies(tmp_path) == 1

    assert not left.exists() and other.exists()
    assert os.listdir(tmp_path) == ["someone-elses-folder"]

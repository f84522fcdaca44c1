"""Owners uploading footage through their link, against the real app on SQLite and PostgreSQL:
the resumable protocol, the receipt, the answers, and every bad input the issue names; then
reading the evidence back: the custody log is append-only in the database itself, a touched file
is refused rather than served, a deletion is logged before the file goes."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError

from server.evidence_models import CustodyEvent, EvidenceFile, EvidenceUpload, UploadToken
from server.evidence_service import delete_evidence
from server.evidence_upload_page import human_window
from server.evidence_vault import SEGMENT_SIZE
from server.models import TokenRole
from tests.evidence_uploads import Owner as UploadingOwner
from tests.server.conftest import Server, footage_request

Owner = UploadingOwner[Server]  # the owner's link to this test's server


@pytest.fixture
def vault_server(make_server: Callable[..., Server], vault_settings: dict[str, Any]) -> Server:
    return make_server(**vault_settings, max_evidence_file_bytes=2 * 1024 * 1024,
                       max_evidence_request_bytes=3 * 1024 * 1024,
                       max_upload_chunk_bytes=1024 * 1024)  # fmt: skip


@pytest.fixture
def workstation_token(vault_server: Server) -> str:
    return vault_server.register("rtcc-ws-03")


def register(server: Server, token: str, **changes: Any) -> httpx.Response:
    return server.client.post(
        "/v1/footage-requests",
        json=footage_request(**changes),
        headers={"Authorization": f"Bearer {token}"},
    )


@pytest.fixture
def owner(vault_server: Server, workstation_token: str) -> Owner:
    answer = register(vault_server, workstation_token)
    assert answer.status_code == 201, answer.text
    return Owner(vault_server, answer.json()["upload_url"])


def evidence_of(server: Server, token: str, cad: str = "2026-004512") -> dict[str, Any]:
    answer = server.get(f"/v1/incidents/{cad}/evidence", token)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_the_page_shows_only_what_was_asked(owner: Owner):
    page = owner.page()
    assert page.status_code == 200
    text = page.text
    assert "Harbor Deli front door" in text
    assert "Wednesday 18 November 2026, 09:40 to 10:10 (CST, America/Chicago)" in text
    assert "Armed robbery" in text
    assert "2026-004512" not in text  # no CAD number, no narrative
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text
    assert "http" not in text.replace("http-equiv", "")  # no external assets
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


def test_what_a_workstation_sends_is_escaped_on_the_page(vault_server, workstation_token):
    answer = register(
        vault_server, workstation_token, camera_name="<script>alert(1)</script>", reference="FR-9"
    )
    text = Owner(vault_server, answer.json()["upload_url"]).page().text
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_an_upload_in_chunks_gives_a_receipt_and_the_original_back(
    vault_server: Server, workstation_token: str, owner: Owner, video_clip: bytes
):
    answer = owner.send("doorcam 2026-11-18.mp4", video_clip)
    digest = hashlib.sha256(video_clip).hexdigest()
    assert answer.json() == {
        "received": len(video_clip),
        "size": len(video_clip),
        "complete": True,
        "name": "doorcam 2026-11-18.mp4",
        "sha256": digest,
    }
    receipt = owner.done()
    assert receipt.status_code == 200
    assert "doorcam 2026-11-18.mp4" in receipt.text and digest in receipt.text
    listed = evidence_of(vault_server, workstation_token)
    [request] = listed["requests"]
    assert request["status"] == "fulfilled"
    assert request["receipt_number"] in receipt.text
    [item] = listed["evidence"]
    assert (item["sha256"], item["size"], item["codec"]) == (digest, len(video_clip), "h264")
    assert (item["width"], item["height"]) == (320, 240)
    content = vault_server.get(
        f"/v1/evidence/{item['id']}/content", workstation_token, purpose="incident:2026-004512"
    )
    assert content.status_code == 200
    assert content.content == video_clip
    custody = vault_server.get(f"/v1/evidence/{item['id']}/custody", workstation_token).json()
    assert [(e["action"], e["actor"], e["purpose"]) for e in custody["events"]] == [
        ("received", "owner (upload link)", "incident:2026-004512"),
        ("viewed", "workstation rtcc-ws-03", "incident:2026-004512"),
    ]


def test_reading_evidence_needs_a_purpose(vault_server, workstation_token, owner, video_clip):
    owner.send("clip.mp4", video_clip)
    [item] = evidence_of(vault_server, workstation_token)["evidence"]
    answer = vault_server.get(f"/v1/evidence/{item['id']}/content", workstation_token)
    assert answer.status_code == 422
    custody = vault_server.get(f"/v1/evidence/{item['id']}/custody", workstation_token).json()
    assert [e["action"] for e in custody["events"]] == ["received"]


def test_a_used_link_says_so(owner: Owner, video_clip: bytes):
    owner.send("clip.mp4", video_clip)
    assert owner.done().status_code == 200
    for answer in (owner.page(), owner.done(), owner.decline("again")):
        assert answer.status_code == 410
        assert "already used" in answer.text
        assert "contact the agency" in answer.text
        assert "Traceback" not in answer.text
    refused = owner.open("more.mp4", 1000)
    assert refused.status_code == 410


def test_an_expired_link_says_what_to_do(owner: Owner):
    owner.server.clock.advance(days=8)
    page = owner.page()
    assert page.status_code == 410
    assert "This link has expired" in page.text and "contact the" in page.text
    assert owner.open("clip.mp4", 1000).status_code == 410


@pytest.mark.parametrize("token", ["x" * 43, "short", "a" * 43 + "%00"])
def test_an_unknown_link_says_what_to_do(vault_server: Server, token: str):
    page = vault_server.client.get(f"/upload/{token}")
    assert page.status_code == 404
    assert "contact the agency" in page.text
    assert "<main>" in page.text


def _zip_bomb() -> bytes:
    """A small archive that would inflate to 200 MB, named like a video."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("clip.mp4", b"\0" * (200 * 1024 * 1024))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("holiday.mp4", lambda: Path(shutil.which("ls") or "/bin/ls").read_bytes()),
        ("bomb.mp4", _zip_bomb),
        ("page.mp4", lambda: b"<!doctype html><html><body><script>x()</script></body></html>"),
    ],
)
def test_a_file_that_is_not_video_is_removed_with_the_reason(
    vault_server: Server, workstation_token: str, owner: Owner, name: str, make: Any
):
    data = make()
    assert len(data) <= 2 * 1024 * 1024
    answer = owner.send(name, data, chunk=256 * 1024)
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith(f"{name} was not kept: ")
    assert "video" in answer.json()["detail"]
    assert evidence_of(vault_server, workstation_token)["evidence"] == []
    vault = vault_server.client.app.state.evidence.vault  # type: ignore[attr-defined]
    assert list((vault.folder / "evidence").iterdir()) == []
    assert list((vault.folder / "partial").iterdir()) == []
    done = owner.done()  # nothing kept: the owner is told, and the link still works
    assert done.status_code == 400
    assert "No video has been received yet" in done.text


def test_a_file_over_the_limit_is_refused_before_it_is_sent(owner: Owner):
    answer = owner.open("night.mp4", 2 * 1024 * 1024 + 1)
    assert answer.status_code == 413
    assert "more than the 2.0 MB one file may be" in answer.json()["detail"]


def test_a_request_over_its_total_is_refused(owner: Owner):
    assert owner.open("one.mp4", 2 * 1024 * 1024).status_code == 201
    answer = owner.open("two.mp4", 2 * 1024 * 1024)
    assert answer.status_code == 413
    assert "over 3.0 MB" in answer.json()["detail"]


def test_a_chunk_over_the_chunk_limit_is_refused(owner: Owner):
    size = 2 * 1024 * 1024
    upload_id = owner.open("big.mp4", size).json()["upload_id"]
    answer = owner.put(upload_id, b"\0" * (1024 * 1024 + 1), 0, size)
    assert answer.status_code == 413
    assert "smaller chunks" in answer.json()["detail"]
    assert owner.server.client.get(f"{owner.base}/files/{upload_id}").json()["received"] == 0


def test_a_body_longer_than_a_declared_size_is_refused(owner: Owner):
    upload_id = owner.open("a.mp4", 100).json()["upload_id"]
    answer = owner.put(upload_id, b"\0" * 101, 0, 101)
    assert answer.status_code == 400
    assert "does not fit this 100-byte file" in answer.json()["detail"]


def test_a_chunk_from_the_wrong_place_is_told_where_to_continue(owner: Owner, video_clip: bytes):
    size = len(video_clip)
    upload_id = owner.open("clip.mp4", size).json()["upload_id"]
    assert owner.put(upload_id, video_clip[:1000], 0, size).json()["received"] == 1000
    answer = owner.put(upload_id, video_clip[2000:3000], 2000, size)
    assert answer.status_code == 409
    assert answer.json()["received"] == 1000 and answer.headers["Upload-Offset"] == "1000"
    head = owner.server.client.head(f"{owner.base}/files/{upload_id}")
    assert head.headers["Upload-Offset"] == "1000"
    assert head.headers["Upload-Length"] == str(size)


def test_an_upload_resumes_after_the_server_restarts(
    make_server: Callable[..., Server],
    vault_settings: dict[str, Any],
    workstation_token: str,
    owner: Owner,
    video_clip: bytes,
):
    size = len(video_clip)
    upload_id = owner.open("clip.mp4", size).json()["upload_id"]
    half = SEGMENT_SIZE // 3 if size > SEGMENT_SIZE else size // 2
    assert owner.put(upload_id, video_clip[:half], 0, size).status_code == 200
    restarted = Owner(make_server(**vault_settings), owner.link)  # a new process's memory
    answer = restarted.put(upload_id, video_clip[half:], half, size)
    assert answer.status_code == 200, answer.text
    assert answer.json()["sha256"] == hashlib.sha256(video_clip).hexdigest()


def test_another_requests_file_is_not_reachable(
    vault_server: Server, workstation_token: str, owner: Owner, video_clip: bytes
):
    other = Owner(
        vault_server,
        register(vault_server, workstation_token, reference="FR-13").json()["upload_url"],
    )
    upload_id = owner.open("clip.mp4", len(video_clip)).json()["upload_id"]
    for answer in (
        other.put(upload_id, video_clip[:100], 0, len(video_clip)),
        vault_server.client.get(f"{other.base}/files/{upload_id}"),
    ):
        assert answer.status_code == 404
        assert "not being uploaded for this request" in answer.json()["detail"]
    assert vault_server.client.get(f"{owner.base}/files/{upload_id}").json()["received"] == 0


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("../../etc/passwd.mp4", "passwd.mp4"),
        ("C:\\..\\x.mp4", "x.mp4"),
        ("clip\x00.exe.mp4", "clip.exe.mp4"),
        ("..", "unnamed file"),
        ("\u202eevil\u202c.mp4", "evil.mp4"),
    ],
)
def test_a_hostile_file_name_is_shown_sanitised_and_never_used_as_a_path(
    vault_server: Server,
    workstation_token: str,
    owner: Owner,
    video_clip: bytes,
    tmp_path: Path,
    name: str,
    shown: str,
):
    answer = owner.send(name, video_clip)
    assert answer.json()["name"] == shown
    [item] = evidence_of(vault_server, workstation_token)["evidence"]
    assert item["original_name"] == shown
    vault = vault_server.client.app.state.evidence.vault  # type: ignore[attr-defined]
    assert [p.name for p in (vault.folder / "evidence").iterdir()] == [item["id"]]
    assert not (tmp_path / "etc").exists() and not Path("/etc/passwd.mp4").exists()
    assert shown in owner.done().text


def test_declining_with_a_reason_is_recorded_and_uses_the_link(
    vault_server: Server, workstation_token: str, owner: Owner
):
    assert owner.decline("").status_code == 400  # a reason is needed
    answer = owner.decline("The camera was off <that night>")
    assert answer.status_code == 200
    assert "Your answer was recorded" in answer.text
    [request] = evidence_of(vault_server, workstation_token)["requests"]
    assert request["status"] == "declined"
    assert request["decline_reason"] == "The camera was off <that night>"
    assert owner.page().status_code == 410


def test_registering_again_gives_a_new_link_and_ends_the_unused_one(
    vault_server: Server, workstation_token: str, owner: Owner
):
    """The workstation registers again only when the mail with the link was not sent."""
    assert owner.page().status_code == 200  # looking is not using
    again = register(vault_server, workstation_token)
    assert again.status_code == 200 and again.json()["created"] is False
    replacement = Owner(vault_server, again.json()["upload_url"])
    assert replacement.token != owner.token
    assert owner.page().status_code == 410
    assert replacement.page().status_code == 200
    [request] = evidence_of(vault_server, workstation_token)["requests"]
    assert request["reference"] == again.json()["reference"]  # one request, not two
    other_workstation = vault_server.register("rtcc-ws-04")
    assert register(vault_server, other_workstation).status_code == 201


def test_once_the_owner_used_the_link_registering_again_gives_none(
    vault_server: Server, workstation_token: str, owner: Owner, video_clip: bytes
):
    opened = owner.open("front.mp4", len(video_clip))
    assert opened.status_code == 201, opened.text
    first = owner.put(opened.json()["upload_id"], video_clip[:4096], 0, len(video_clip))
    assert first.status_code == 200, first.text
    again = register(vault_server, workstation_token)
    assert again.status_code == 200
    assert again.json()["created"] is False and again.json()["upload_url"] is None
    assert owner.page().status_code == 200  # the owner's upload goes on


def test_only_a_workstation_registers_and_only_readers_read(vault_server: Server, owner: Owner):
    admin = vault_server.token(TokenRole.ADMIN)
    assert register(vault_server, admin).status_code == 403
    assert vault_server.get("/v1/incidents/2026-004512/evidence", admin).status_code == 403
    supervisor = vault_server.token(TokenRole.SUPERVISOR)
    assert vault_server.get("/v1/incidents/2026-004512/evidence", supervisor).status_code == 200


def test_a_request_already_expired_is_refused(vault_server: Server, workstation_token: str):
    answer = register(vault_server, workstation_token, expires_at="2026-11-18T15:00:00Z")
    assert answer.status_code == 422
    assert "expires_at is in the past" in answer.text


def test_no_key_and_no_link_secret_is_in_the_database(
    vault_server: Server, workstation_token: str, owner: Owner, video_clip: bytes
):
    owner.send("clip.mp4", video_clip)
    vault = vault_server.client.app.state.evidence.vault  # type: ignore[attr-defined]
    vault_key: bytes = vault._key
    with vault_server.sessions() as session:
        evidence = session.scalars(select(EvidenceFile)).one()
        data_key = _unwrapped(vault_key, bytes(evidence.wrapped_key))
        token_row = session.scalars(select(UploadToken)).one()
        assert token_row.token_hash == hashlib.sha256(owner.token.encode()).hexdigest()
        assert session.scalars(select(EvidenceUpload)).all() == []
        dump = _every_value(session)
    for secret in (vault_key, data_key, owner.token.encode()):
        assert secret not in dump
        assert secret.hex().encode() not in dump
    assert bytes(evidence.wrapped_key) in dump  # the wrapped key is what the row holds


def _unwrapped(vault_key: bytes, wrapped: bytes) -> bytes:
    from cryptography.hazmat.primitives.keywrap import aes_key_unwrap

    return aes_key_unwrap(vault_key, wrapped)


def _every_value(session: Any) -> bytes:
    """Every value of every table of the server's database, as bytes."""
    from server.models import ServerBase

    values = []
    for table in ServerBase.metadata.sorted_tables:
        for row in session.execute(table.select()):
            for value in row:
                values.append(value if isinstance(value, bytes) else str(value).encode())
    return b"\x1f".join(values)


# --- reading evidence back, and its custody log ---------------------------------------------


@pytest.fixture
def received(vault_server: Server, workstation_token: str, owner: Owner, video_clip: bytes) -> str:
    """The id of a clip an owner sent."""
    owner.send("clip.mp4", video_clip)
    [item] = evidence_of(vault_server, workstation_token)["evidence"]
    evidence_id: str = item["id"]
    return evidence_id


def test_the_custody_log_cannot_be_changed_or_emptied(vault_server: Server, received: str):
    for statement in (
        update(CustodyEvent).values(actor="nobody"),
        delete(CustodyEvent),
    ):
        with pytest.raises(DBAPIError, match="append-only"), vault_server.sessions.begin() as s:
            s.execute(statement)
    with vault_server.sessions() as session:
        [event] = session.scalars(select(CustodyEvent)).all()
    assert (event.action, event.actor) == ("received", "owner (upload link)")


def test_a_touched_file_is_refused_not_served(
    vault_server: Server, workstation_token: str, received: str
):
    vault = vault_server.client.app.state.evidence.vault  # type: ignore[attr-defined]
    path = vault.path(received)
    os.chmod(path, 0o600)
    data = bytearray(path.read_bytes())
    data[40] ^= 0xFF
    path.write_bytes(bytes(data))
    answer = vault_server.get(
        f"/v1/evidence/{received}/content", workstation_token, purpose="case:24-1187"
    )
    assert answer.status_code == 500
    assert "does not authenticate" in answer.json()["detail"]


def test_a_deletion_is_logged_then_the_file_is_gone(
    vault_server: Server, workstation_token: str, received: str
):
    vault = vault_server.client.app.state.evidence.vault  # type: ignore[attr-defined]
    with vault_server.sessions() as session:
        evidence = session.get_one(EvidenceFile, received)
        delete_evidence(
            session, vault, evidence, "retention job", "retention: 90 days", vault_server.clock()
        )
    assert not vault.path(received).exists()
    custody = vault_server.get(f"/v1/evidence/{received}/custody", workstation_token).json()
    assert [(e["action"], e["actor"]) for e in custody["events"]] == [
        ("received", "owner (upload link)"),
        ("deleted", "retention job"),
    ]
    answer = vault_server.get(
        f"/v1/evidence/{received}/content", workstation_token, purpose="case:24-1187"
    )
    assert answer.status_code == 410


def test_unknown_evidence_is_404(vault_server: Server, workstation_token: str):
    for path in ("/v1/evidence/" + "a" * 32 + "/custody", "/v1/evidence/" + "a" * 32 + "/content"):
        answer = vault_server.get(path, workstation_token, purpose="case:1")
        assert answer.status_code == 404


def test_the_access_log_never_shows_an_upload_links_secret(vault_server: Server, owner: Owner):
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:50412", "PUT", f"/upload/{owner.token}/files/{'a' * 32}", "1.1", 200),
        None,
    )
    logging.getLogger("uvicorn.access").handle(record)
    assert owner.token not in record.getMessage()
    assert f"/upload/<token>/files/{'a' * 32}" in record.getMessage()


def test_an_administrator_deletes_with_a_purpose_and_the_log_keeps_it(
    vault_server: Server, workstation_token: str, received: str
):
    vault = vault_server.client.app.state.evidence.vault  # type: ignore[attr-defined]
    admin = vault_server.token(TokenRole.ADMIN)
    path = f"/v1/evidence/{received}"
    assert (
        vault_server.client.delete(path, headers={"Authorization": f"Bearer {admin}"}).status_code
        == 422
    )
    as_workstation = vault_server.client.delete(
        path, params={"purpose": "x"}, headers={"Authorization": f"Bearer {workstation_token}"}
    )
    assert as_workstation.status_code == 403
    assert vault.path(received).exists()
    answer = vault_server.client.delete(
        path,
        params={"purpose": "court order 24-1187"},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert answer.status_code == 200, answer.text
    assert [(e["action"], e["purpose"]) for e in answer.json()["events"]][-1] == (
        "deleted",
        "court order 24-1187",
    )
    assert not vault.path(received).exists()


def test_a_request_nobody_answered_is_listed_as_expired(
    vault_server: Server, workstation_token: str, owner: Owner
):
    vault_server.clock.advance(days=8)
    [request] = evidence_of(vault_server, workstation_token)["requests"]
    assert request["status"] == "expired"


def test_the_window_is_told_in_the_owners_time_zone_over_midnight_and_a_clock_change():
    start = datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 01:30 CST, before the clocks go forward
    end = datetime(2026, 3, 8, 9, 0, tzinfo=UTC)  # 04:00 CDT
    assert human_window(start, end, "America/Chicago") == (
        "Sunday 8 March 2026, 01:30 to 04:00 (CST to CDT, America/Chicago)"
    )
    assert human_window(start, end, "Australia/Sydney") == (
        "Sunday 8 March 2026, 18:30 to 20:00 (AEDT, Australia/Sydney)"
    )
    assert human_window(
        datetime(2026, 11, 18, 23, 0, tzinfo=UTC), datetime(2026, 11, 19, 1, 0, tzinfo=UTC), "UTC"
    ) == ("Wednesday 18 November 2026 23:00 to Thursday 19 November 2026 01:00 (UTC, UTC)")

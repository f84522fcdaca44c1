"""The retention policy and legal holds, against the real app on SQLite and PostgreSQL: old
evidence deleted through the audited path and gone from disk, young or held evidence kept,
expired requests' unfinished uploads discarded while live ones stay resumable, the dry run, the
server's periodic run, the hold endpoints, and ``python -m server retention``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError

from server.cli import main
from server.config import ServerSettings
from server.evidence_models import (
    EvidenceFile,
    EvidenceRequest,
    EvidenceRequestStatus,
    EvidenceUpload,
    LegalHoldEvent,
)
from server.evidence_retention import RetentionReport, RetentionSchedule, apply_retention
from server.evidence_service import custody_of
from server.evidence_vault import EvidenceVault
from server.models import TokenRole
from tests.evidence_uploads import Owner as UploadingOwner
from tests.server.conftest import Server, footage_request

Owner = UploadingOwner[Server]
INCIDENT = "2026-004512"
OTHER_INCIDENT = "2026-004513"
RUN_TIMEOUT_S = 30
TOKEN_DAYS = 3650  # the tests move the server's clock years on


@pytest.fixture
def make_vault_server(
    make_server: Callable[..., Server], vault_settings: dict[str, Any]
) -> Callable[..., Server]:
    def make(**settings: Any) -> Server:
        return make_server(**vault_settings, **settings)

    return make


def _vault(server: Server) -> EvidenceVault:
    vault: EvidenceVault = server.client.app.state.evidence.vault  # type: ignore[attr-defined]
    return vault


def _retain(server: Server, *, dry_run: bool = False, **settings: Any) -> RetentionReport:
    """The retention job at the server's time, with the given settings."""
    return apply_retention(
        server.sessions, _vault(server), server.clock(), ServerSettings(**settings), dry_run=dry_run
    )


def _owner(server: Server, token: str, reference: str, **changes: Any) -> Owner:
    changes.setdefault("expires_at", (server.clock() + timedelta(days=7)).isoformat())
    answer = server.client.post(
        "/v1/footage-requests",
        json=footage_request(reference, **changes),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 201, answer.text
    return Owner(server, answer.json()["upload_url"])


def _send(server: Server, token: str, reference: str, clip: bytes, **changes: Any) -> str:
    """An owner sends ``clip`` for a new request and says done; the evidence id."""
    owner = _owner(server, token, reference, **changes)
    assert owner.send("doorcam.mp4", clip, chunk=64 * 1024).json()["complete"] is True
    assert owner.done().status_code == 200
    with server.sessions() as session:
        return session.scalars(select(EvidenceFile.id).order_by(EvidenceFile.received_at)).all()[-1]


def _custody(server: Server, evidence_id: str) -> list[tuple[str, str, str]]:
    with server.sessions() as session:
        return [(e.action, e.actor, e.purpose) for e in custody_of(session, evidence_id)]


def _hold(server: Server, token: str, cad: str, reason: str) -> httpx.Response:
    return server.client.put(
        f"/v1/incidents/{cad}/hold",
        json={"reason": reason},
        headers={"Authorization": f"Bearer {token}"},
    )


def _release(server: Server, token: str, cad: str, reason: str) -> httpx.Response:
    return server.client.delete(
        f"/v1/incidents/{cad}/hold",
        params={"reason": reason},
        headers={"Authorization": f"Bearer {token}"},
    )


def test_old_evidence_is_deleted_through_the_custody_log_and_young_evidence_kept(
    make_vault_server: Callable[..., Server], video_clip: bytes
):
    server = make_vault_server()
    token = server.register("rtcc-ws-03", days=TOKEN_DAYS)
    old = _send(server, token, "FR-1", video_clip)
    server.clock.advance(days=20)
    young = _send(server, token, "FR-2", video_clip, cad_number=OTHER_INCIDENT)
    server.clock.advance(days=10, seconds=1)  # old: 30 days and a second; young: 10 days

    report = _retain(server, evidence_retention_days=30)

    assert [kept.evidence_id for kept in report.deleted] == [old]
    assert report.held == ()
    assert _custody(server, old)[-1] == ("deleted", "retention", "retention: 30 days")
    assert not _vault(server).path(old).exists()
    with server.sessions() as session:
        assert session.get_one(EvidenceFile, old).deleted_at == server.clock()
    gone = server.get(f"/v1/evidence/{old}/content", token, purpose=f"incident:{INCIDENT}")
    assert gone.status_code == 410
    kept = server.get(f"/v1/evidence/{young}/content", token, purpose=f"incident:{INCIDENT}")
    assert kept.status_code == 200 and kept.content == video_clip
    assert [action for action, _, _ in _custody(server, young)] == ["received", "viewed"]
    assert _retain(server, evidence_retention_days=30).deleted == ()  # deleted once only


def test_a_held_incident_is_kept_until_its_hold_is_cleared(
    make_vault_server: Callable[..., Server], video_clip: bytes
):
    server = make_vault_server()
    token = server.register("rtcc-ws-03", days=TOKEN_DAYS)
    admin = server.token(TokenRole.ADMIN, days=TOKEN_DAYS)
    held = _send(server, token, "FR-1", video_clip)
    other = _send(server, token, "FR-2", video_clip, cad_number=OTHER_INCIDENT)
    answer = _hold(server, admin, INCIDENT, "preservation letter PL-0193")
    assert answer.status_code == 200, answer.text
    assert answer.json()["held"] is True
    server.clock.advance(days=400)

    report = _retain(server, evidence_retention_days=365)

    assert [kept.evidence_id for kept in report.held] == [held]
    assert [kept.evidence_id for kept in report.deleted] == [other]
    assert _vault(server).path(held).exists()
    assert [action for action, _, _ in _custody(server, held)] == ["received"]

    cleared = _release(server, admin, INCIDENT, "case closed, court order 24-1187 ended")
    assert cleared.status_code == 200, cleared.text
    body = cleared.json()
    assert body["held"] is False
    assert [(e["action"], e["reason"]) for e in body["events"]] == [
        ("set", "preservation letter PL-0193"),
        ("cleared", "case closed, court order 24-1187 ended"),
    ]
    assert body["events"][0]["actor"].startswith("admin")
    report = _retain(server, evidence_retention_days=365)
    assert [kept.evidence_id for kept in report.deleted] == [held]
    assert not _vault(server).path(held).exists()


def test_an_administrator_cannot_delete_a_held_incidents_evidence_until_the_hold_is_cleared(
    make_vault_server: Callable[..., Server], video_clip: bytes
):
    server = make_vault_server()
    admin = server.token(TokenRole.ADMIN, days=TOKEN_DAYS)
    held = _send(server, server.register("rtcc-ws-03", days=TOKEN_DAYS), "FR-1", video_clip)
    assert _hold(server, admin, INCIDENT, "preservation letter PL-0193").status_code == 200

    def delete() -> httpx.Response:
        return server.client.delete(
            f"/v1/evidence/{held}",
            params={"purpose": "court order 24-9"},
            headers={"Authorization": f"Bearer {admin}"},
        )

    refused = delete()
    assert refused.status_code == 409
    assert f"incident {INCIDENT} is under legal hold" in refused.json()["detail"]
    assert _vault(server).path(held).exists()
    assert [action for action, _, _ in _custody(server, held)] == ["received"]

    assert _release(server, admin, INCIDENT, "case closed").status_code == 200
    deleted = delete()
    assert deleted.status_code == 200, deleted.text
    assert not _vault(server).path(held).exists()
    assert [action for action, _, _ in _custody(server, held)] == ["received", "deleted"]


def test_the_hold_log_is_append_only_in_the_database(make_vault_server: Callable[..., Server]):
    server = make_vault_server()
    assert (
        _hold(
            server, server.token(TokenRole.ADMIN, days=TOKEN_DAYS), INCIDENT, "letter"
        ).status_code
        == 200
    )
    with pytest.raises(DBAPIError, match="append-only"), server.sessions.begin() as session:
        session.execute(update(LegalHoldEvent).values(reason="never held"))


def test_without_a_retention_period_nothing_is_deleted(
    make_vault_server: Callable[..., Server], video_clip: bytes
):
    server = make_vault_server()
    evidence = _send(server, server.register("rtcc-ws-03", days=TOKEN_DAYS), "FR-1", video_clip)
    server.clock.advance(days=20 * 365)

    report = _retain(server)

    assert report.retention_days is None and report.deleted == ()
    assert _vault(server).path(evidence).exists()
    assert [action for action, _, _ in _custody(server, evidence)] == ["received"]
    assert report.lines()[0].startswith("no retention period is set")


def test_an_expired_requests_unfinished_upload_is_discarded_and_a_live_one_resumes(
    make_vault_server: Callable[..., Server], video_clip: bytes
):
    server = make_vault_server()
    token = server.register("rtcc-ws-03", days=TOKEN_DAYS)
    soon = server.clock() + timedelta(days=1)
    gave_up = _owner(server, token, "FR-1", expires_at=soon.isoformat())
    still_going = _owner(server, token, "FR-2", expires_at=(soon + timedelta(days=6)).isoformat())
    half = len(video_clip) // 2
    uploads = {}
    for owner in (gave_up, still_going):
        upload_id = owner.open("doorcam.mp4", len(video_clip)).json()["upload_id"]
        assert owner.put(upload_id, video_clip[:half], 0, len(video_clip)).status_code == 200
        uploads[owner] = upload_id
    vault = _vault(server)

    server.clock.advance(days=1, minutes=30)  # expired, but a chunk may still be arriving
    report = _retain(server)
    assert [r.reference for r in report.expired_requests] == ["FR-1"]
    assert report.discarded_uploads == ()
    assert vault.partial_path(uploads[gave_up]).exists()

    server.clock.advance(hours=1)
    report = _retain(server)
    assert report.expired_requests == ()  # expired by the run before
    assert [(u.reference, u.received) for u in report.discarded_uploads] == [("FR-1", half)]
    assert not vault.partial_path(uploads[gave_up]).exists()
    with server.sessions() as session:
        assert session.get(EvidenceUpload, uploads[gave_up]) is None
        assert session.get(EvidenceUpload, uploads[still_going]) is not None
        rows = session.execute(select(EvidenceRequest.reference, EvidenceRequest.status))
        statuses = {reference: status for reference, status in rows}
    assert statuses == {"FR-1": EvidenceRequestStatus.EXPIRED, "FR-2": EvidenceRequestStatus.OPEN}
    assert gave_up.page().status_code == 410

    upload_id = uploads[still_going]
    assert vault.partial_path(upload_id).exists()
    rest = still_going.put(upload_id, video_clip[half:], half, len(video_clip))
    assert rest.status_code == 200, rest.text
    assert rest.json()["complete"] is True
    assert still_going.done().status_code == 200


def test_a_dry_run_changes_nothing_and_says_what_the_run_will_do(
    make_vault_server: Callable[..., Server], video_clip: bytes
):
    server = make_vault_server()
    token = server.register("rtcc-ws-03", days=TOKEN_DAYS)
    evidence = _send(server, token, "FR-1", video_clip)
    owner = _owner(
        server, token, "FR-2", expires_at=(server.clock() + timedelta(days=1)).isoformat()
    )
    upload_id = owner.open("doorcam.mp4", len(video_clip)).json()["upload_id"]
    assert owner.put(upload_id, video_clip[:4096], 0, len(video_clip)).status_code == 200
    server.clock.advance(days=31)

    planned = _retain(server, dry_run=True, evidence_retention_days=30)

    assert [kept.evidence_id for kept in planned.deleted] == [evidence]
    assert [r.reference for r in planned.expired_requests] == ["FR-2"]
    assert [u.upload_id for u in planned.discarded_uploads] == [upload_id]
    assert planned.lines()[-1] == (
        "dry run, nothing changed: 1 file would be deleted, 0 kept under legal hold, "
        "1 request would be expired, 1 unfinished upload would be discarded"
    )
    vault = _vault(server)
    assert vault.path(evidence).exists() and vault.partial_path(upload_id).exists()
    assert [action for action, _, _ in _custody(server, evidence)] == ["received"]
    with server.sessions() as session:
        assert session.get_one(EvidenceFile, evidence).deleted_at is None
        assert session.get(EvidenceUpload, upload_id) is not None
        request = session.scalars(
            select(EvidenceRequest).where(EvidenceRequest.reference == "FR-2")
        ).one()
        assert request.status is EvidenceRequestStatus.OPEN

    done = _retain(server, evidence_retention_days=30)
    assert (done.deleted, done.expired_requests, done.discarded_uploads) == (
        planned.deleted,
        planned.expired_requests,
        planned.discarded_uploads,
    )
    assert not vault.path(evidence).exists() and not vault.partial_path(upload_id).exists()


def _schedule(server: Server) -> RetentionSchedule:
    schedule: RetentionSchedule = server.client.app.state.retention  # type: ignore[attr-defined]
    return schedule


def test_the_server_runs_the_retention_job_by_itself(
    make_vault_server: Callable[..., Server], video_clip: bytes
):
    server = make_vault_server(evidence_retention_days=1, evidence_retention_interval_s=0.05)
    evidence = _send(server, server.register("rtcc-ws-03", days=TOKEN_DAYS), "FR-1", video_clip)
    schedule = _schedule(server)
    assert schedule.wait_for_runs(schedule.runs + 2, RUN_TIMEOUT_S)
    assert _vault(server).path(evidence).exists()  # a day has not passed on the server's clock

    server.clock.advance(days=1, seconds=1)
    # A run that began before the clock moved may still be going: wait for one after it.
    assert schedule.wait_for_runs(schedule.runs + 2, RUN_TIMEOUT_S)
    assert not _vault(server).path(evidence).exists()
    assert _custody(server, evidence)[-1] == ("deleted", "retention", "retention: 1 days")


def test_a_failed_run_is_logged_and_the_server_keeps_serving(
    make_vault_server: Callable[..., Server], video_clip: bytes, caplog: pytest.LogCaptureFixture
):
    server = make_vault_server(evidence_retention_days=1, evidence_retention_interval_s=0.05)
    evidence = _send(server, server.register("rtcc-ws-03", days=TOKEN_DAYS), "FR-1", video_clip)
    sealed = _vault(server).path(evidence)
    sealed.unlink()
    sealed.mkdir()  # the file cannot be removed: the run fails
    schedule = _schedule(server)

    with caplog.at_level(logging.ERROR, logger="server.evidence_retention"):
        server.clock.advance(days=2)
        assert schedule.wait_for_runs(schedule.runs + 3, RUN_TIMEOUT_S)

    assert "the retention job failed" in caplog.text
    assert server.client.get("/v1/checkpoint-key").status_code == 200
    assert _custody(server, evidence)[-1][0] == "deleted"  # logged before the file was touched


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_only_an_administrator_sets_or_clears_a_hold(
    make_vault_server: Callable[..., Server], method: str
):
    server = make_vault_server()
    admin = server.token(TokenRole.ADMIN, days=TOKEN_DAYS)
    assert _hold(server, admin, INCIDENT, "letter").status_code == 200  # one to clear
    url = f"/v1/incidents/{INCIDENT}/hold"
    call: dict[str, Any] = (
        {"json": {"reason": "letter"}} if method == "PUT" else {"params": {"reason": "closed"}}
    )

    assert server.client.request(method, url, **call).status_code == 401
    for token in (server.token(TokenRole.SUPERVISOR), server.register("rtcc-ws-03")):
        headers = {"Authorization": f"Bearer {token}"}
        assert server.client.request(method, url, headers=headers, **call).status_code == 403
    with server.sessions() as session:
        assert len(session.scalars(select(LegalHoldEvent)).all()) == 1
    headers = {"Authorization": f"Bearer {admin}"}
    assert server.client.request(method, url, headers=headers, **call).status_code == 200


def test_clearing_a_hold_that_is_not_set_says_so(make_vault_server: Callable[..., Server]):
    server = make_vault_server()
    answer = _release(server, server.token(TokenRole.ADMIN), INCIDENT, "closed")
    assert answer.status_code == 409
    assert answer.json()["detail"] == f"incident {INCIDENT} is not under legal hold"


def test_a_hold_needs_a_reason(make_vault_server: Callable[..., Server]):
    server = make_vault_server()
    admin = server.token(TokenRole.ADMIN, days=TOKEN_DAYS)
    assert _hold(server, admin, INCIDENT, "").status_code == 422
    assert _release(server, admin, INCIDENT, "").status_code == 422


def test_python_m_server_retention_prints_then_deletes(
    db_url: str,
    make_vault_server: Callable[..., Server],
    vault_settings: dict[str, Any],
    video_clip: bytes,
    capsys: pytest.CaptureFixture[str],
):
    server = make_vault_server()
    server.clock.now = datetime.now(UTC) - timedelta(days=40)  # the command runs at real time
    evidence = _send(server, server.register("rtcc-ws-03", days=TOKEN_DAYS), "FR-1", video_clip)
    command = [
        "retention",
        "--db-url",
        db_url,
        "--vault-key",
        str(vault_settings["vault_key_file"]),
        "--vault-dir",
        str(vault_settings["vault_folder"]),
        "--retention-days",
        "30",
    ]

    assert main([*command, "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert f"would delete evidence {evidence} (doorcam.mp4, incident {INCIDENT}" in printed
    assert "dry run, nothing changed: 1 file would be deleted" in printed
    assert _vault(server).path(evidence).exists()

    assert main(command) == 0
    printed = capsys.readouterr().out
    assert f"\ndelete evidence {evidence}" in f"\n{printed}"
    assert "1 file deleted" in printed
    assert not _vault(server).path(evidence).exists()
    assert _custody(server, evidence)[-1] == ("deleted", "retention", "retention: 30 days")


def test_python_m_server_retention_refuses_a_vault_it_cannot_find(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    missing = tmp_path / "nowhere" / "vault-key"
    assert main(["retention", "--db-url", db_url, "--vault-key", str(missing)]) == 2
    error = capsys.readouterr().err
    assert f"there is no vault key at {missing}; give the server's with --vault-key" in error
    assert not missing.exists()  # not made: a new key would open no existing evidence
    with pytest.raises(SystemExit):
        main(["retention", "--db-url", db_url, "--retention-days", "0"])
    assert "is not a retention period" in capsys.readouterr().err

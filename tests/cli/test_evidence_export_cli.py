"""``beacon evidence export`` end to end against the real evidence server on loopback: the
package written and verified, the verdict printed, the export audited; then checked again by
``beacon evidence verify`` with the agency's key. An existing file, a server that is down or not
configured: a message that says what to do, and the exit code."""

from __future__ import annotations

import getpass
import io
import json
from pathlib import Path

import pytest

from app.cli import main
from app.evidence.agency_key import AgencyKey
from app.models.audit_chain import AuditEventType
from app.services.audit_log import read_events
from app.services.case_export import AGENCY_KEY_FILE
from app.settings import Settings
from tests.services.test_case_export import (
    CAD,
    PURPOSE,
    EvidenceServer,
    clips,
    evidence_server,
    uploaded,
)
from tests.sync_server import free_port

__all__ = ["clips", "evidence_server", "uploaded"]  # fixtures shared with the service's tests


def short(fingerprint: str) -> str:
    return f"{fingerprint[:6]}…{fingerprint[-4:]}"


@pytest.fixture
def configured(
    config_file: Path,
    data_options: list[str],
    evidence_server: EvidenceServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> list[str]:
    """The workstation set up for the server, its token in the (file) keyring."""
    text = config_file.read_text() + f'[sync]\nserver_url = "{evidence_server.url}"\n'
    config_file.write_text(text)
    monkeypatch.setattr("sys.stdin", io.StringIO(evidence_server.token + "\n"))
    assert main(["sync", "token", "--token-stdin", *data_options]) == 0
    capsys.readouterr()
    return data_options


def run(options: list[str], *args: str) -> int:
    return main(["evidence", "export", *args, *options])


def exports(settings: Settings) -> list[dict[str, object]]:
    return [
        event
        for event in read_events(settings.audit_db)
        if event["event_type"] == AuditEventType.EXPORT.value
    ]


def test_export_writes_verifies_prints_and_audits(
    configured: list[str],
    evidence_server: EvidenceServer,
    uploaded: dict[str, bytes],
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
):
    out = tmp_path / "case-24-1187.zip"
    assert run(configured, CAD, "--purpose", PURPOSE, "--out", str(out)) == 0
    captured = capsys.readouterr()
    fingerprint = evidence_server.agency_key.fingerprint
    lines = captured.out.splitlines()
    assert captured.err == ""
    assert lines[0].startswith(f"exported the case package of {CAD} to {out}: 2 clips, ")
    assert lines[1] == (
        f"package intact: signed by the agency key {short(fingerprint)} this workstation pinned"
    )
    assert lines[2].startswith("package SHA-256 ")
    assert lines[3] == (
        f"pinned the agency key {fingerprint} from {evidence_server.url} (the first export "
        "here): compare it with the fingerprint your agency published"
    )
    [event] = exports(settings)
    details = event["details"]
    assert isinstance(details, dict)
    assert (event["purpose"], details["incident"], details["clips"]) == (PURPOSE, CAD, 2)
    assert details["sha256"] == lines[2].removeprefix("package SHA-256 ")
    assert event["actor"] == f"os:{getpass.getuser()}"

    key = tmp_path / "agency.pem"
    key.write_bytes(evidence_server.agency_key.public_key_pem)
    assert main(["evidence", "verify", str(out), "--key", str(key), *configured]) == 0
    assert capsys.readouterr().out.startswith("package intact: 2 clips")


def test_only_the_named_files_are_exported(
    configured: list[str],
    uploaded: dict[str, bytes],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
):
    door = next(iter(uploaded))
    out = tmp_path / "door.zip"
    assert run(configured, CAD, "--purpose", PURPOSE, "--out", str(out), "--evidence", door) == 0
    assert ": 1 clip, " in capsys.readouterr().out


def test_an_existing_file_is_left_alone(
    configured: list[str],
    uploaded: dict[str, bytes],
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
):
    out = tmp_path / "case.zip"
    out.write_text("notes")
    assert run(configured, CAD, "--purpose", PURPOSE, "--out", str(out)) == 2
    assert "exists already; a case package is never written over" in capsys.readouterr().err
    assert out.read_text() == "notes"
    assert exports(settings) == []


def test_a_server_that_is_down_gets_a_clear_message(
    config_file: Path,
    data_options: list[str],
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
):
    down = f"http://127.0.0.1:{free_port()}"
    config_file.write_text(config_file.read_text() + f'[sync]\nserver_url = "{down}"\n')
    monkeypatch.setattr("sys.stdin", io.StringIO("bst_token\n"))
    assert main(["sync", "token", "--token-stdin", *data_options]) == 0
    capsys.readouterr()
    out = tmp_path / "case.zip"
    assert run(data_options, CAD, "--purpose", PURPOSE, "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"beacon: the evidence server at {down} cannot be reached (")
    assert "try again when it is back" in err and "Traceback" not in err
    assert not out.exists() and not (settings.data_dir / AGENCY_KEY_FILE).exists()


def test_no_server_or_no_token_says_what_to_do(
    config_file: Path,
    data_options: list[str],
    evidence_server: EvidenceServer,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
):
    out = str(tmp_path / "case.zip")
    assert run(data_options, CAD, "--purpose", PURPOSE, "--out", out) == 2
    assert "set server_url under [sync]" in capsys.readouterr().err
    config_file.write_text(
        config_file.read_text() + f'[sync]\nserver_url = "{evidence_server.url}"\n'
    )
    assert run(data_options, CAD, "--purpose", PURPOSE, "--out", out) == 2
    assert "beacon sync token" in capsys.readouterr().err
    assert run(data_options, CAD, "--purpose", " ", "--out", out) == 2
    assert "--purpose: say why" in capsys.readouterr().err


def test_a_package_that_does_not_verify_exits_1_and_lists_the_problems(
    configured: list[str],
    uploaded: dict[str, bytes],
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
):
    other = AgencyKey.generate()
    (settings.data_dir / AGENCY_KEY_FILE).write_text(
        json.dumps(
            {
                "format": 1,
                "fingerprint": other.fingerprint,
                "public_key_pem": other.public_key_pem.decode(),
                "server_url": "https://old.invalid",
                "pinned_at": "2026-11-01T00:00:00.000000Z",
            }
        )
    )
    out = tmp_path / "case.zip"
    assert run(configured, CAD, "--purpose", PURPOSE, "--out", str(out)) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("package NOT intact: ")
    assert "not signed by your agency" in captured.out
    assert "does not verify against the agency key" in captured.err
    assert not out.exists()

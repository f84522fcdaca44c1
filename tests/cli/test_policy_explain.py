"""``beacon policy explain`` run in-process against a real registry and audit log."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.cli import main
from app.cli.context import os_actor
from app.models import (
    Camera,
    CameraTier,
    Incident,
    IncidentStatus,
    Owner,
    OwnerKind,
    PolicyMode,
    Role,
    SharingPolicy,
)
from app.services.accounts import create_user
from app.services.audit_log import AuditLog, AuditWriteError, read_events
from app.services.sqlite_store import REGISTRY, open_database
from app.settings import Settings

ZONE = "America/Chicago"
# Wednesday 18 November 2026, 15:30 UTC = 09:30 CST in Chicago.
AT = datetime(2026, 11, 18, 15, 30, tzinfo=UTC)
SCHEDULE = [{"day": "wed", "start": "09:00", "end": "10:00"}]
EMERGENCY, ROUTINE, CLOSED = "2026-000100", "2026-000200", "2026-000300"
PASSWORD = "correct horse battery"
JSON_KEYS = {
    "decision",
    "reason",
    "explanation",
    "policy_version",
    "camera_id",
    "purpose",
    "incident",
    "at",
    "actor",
}


def _camera(session: Session, camera_id: str, tier: CameraTier, *modes: PolicyMode) -> None:
    session.add(
        Camera(
            id=camera_id,
            owner_id="own-1",
            name=f"Harbor Deli {camera_id}",
            tier=tier,
            latitude=41.88,
            longitude=-87.63,
            main_stream_url="rtsp://127.0.0.1:8554/cam" if tier is CameraTier.INTEGRATED else None,
        )
    )
    for version, mode in enumerate(modes, start=1):
        session.add(
            SharingPolicy(
                camera_id=camera_id,
                version=version,
                mode=mode,
                time_zone=ZONE,
                window_specs=SCHEDULE if mode is PolicyMode.SCHEDULED else [],
                changed_at=AT,
            )
        )


def _incident(session: Session, cad_number: str, emergency: bool, status: IncidentStatus) -> None:
    session.add(
        Incident(
            cad_number=cad_number,
            incident_type="Burglary in progress",
            priority=1 if emergency else 3,
            latitude=41.88,
            longitude=-87.63,
            received_at=AT,
            status=status,
            emergency=emergency,
        )
    )


@pytest.fixture(scope="module")
def registry_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One registry built per module (migrations and scrypt are slow), copied into each test."""
    path = tmp_path_factory.mktemp("registry") / "beacon.sqlite"
    engine = open_database(path, REGISTRY)
    try:
        with Session(engine) as session:
            session.add(
                Owner(id="own-1", name="Harbor Deli", kind=OwnerKind.BUSINESS, time_zone=ZONE)
            )
            session.flush()
            integrated, registered = CameraTier.INTEGRATED, CameraTier.REGISTERED
            _camera(session, "cam-cont", integrated, PolicyMode.REVOKED, PolicyMode.CONTINUOUS)
            _camera(session, "cam-sched", integrated, PolicyMode.SCHEDULED)
            _camera(session, "cam-emerg", integrated, PolicyMode.EMERGENCY_ONLY)
            _camera(session, "cam-gone", integrated, PolicyMode.CONTINUOUS, PolicyMode.REVOKED)
            _camera(session, "cam-reg", registered)
            _incident(session, EMERGENCY, True, IncidentStatus.DISPATCHED)
            _incident(session, ROUTINE, False, IncidentStatus.ON_SCENE)
            _incident(session, CLOSED, True, IncidentStatus.CLOSED)
            for username, role in [
                ("tech1", Role.FIELD_TECH),
                ("boss1", Role.SUPERVISOR),
                ("root1", Role.ADMIN),
            ]:
                create_user(session, username, username.title(), role, PASSWORD, lambda: AT)
            session.commit()
    finally:
        engine.dispose()  # the last connection closes: the WAL is checkpointed into the file
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture
def registry(settings: Settings, registry_template: Path) -> Settings:
    shutil.copyfile(registry_template, settings.registry_db)
    return settings


def explain(data_options: list[str], *args: str) -> int:
    return main(["policy", "explain", *data_options, *args])


def fields(text: str) -> dict[str, str]:
    """The ``label: value`` lines of the human output."""
    return {
        label.strip(): value.strip()
        for label, _, value in (line.partition(":") for line in text.splitlines())
    }


def explain_events(settings: Settings) -> list[dict[str, Any]]:
    if not settings.audit_db.exists():
        return []
    return [e for e in read_events(settings.audit_db) if e["event_type"] == "policy_explain"]


def run_json(data_options: list[str], capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    assert explain(data_options, *args, "--json") == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return json.loads(captured.out)


# --- answers ------------------------------------------------------------------------------


def test_continuous_allows_and_uses_the_newest_policy_version(
    registry: Settings, data_options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert explain(data_options, "--camera", "cam-cont", "--purpose", "case:C-17") == 0
    shown = fields(capsys.readouterr().out)
    assert shown["decision"] == "ALLOW"
    assert shown["reason"] == "allowed_continuous"
    assert shown["why"] == "the owner shares this camera continuously"
    assert shown["policy"] == "version 2"
    assert shown["mode"] == "continuous"
    assert shown["purpose"] == "case:C-17"
    assert shown["actor"] == f"{os_actor()} (operator)"
    assert "windows" not in shown


def test_the_json_answer_has_exactly_the_documented_keys(
    registry: Settings, data_options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    answer = run_json(
        data_options, capsys, "--camera", "cam-cont", "--purpose", "C-17", "--at", AT.isoformat()
    )
    assert answer == {
        "decision": "allow",
        "reason": "allowed_continuous",
        "explanation": "the owner shares this camera continuously",
        "policy_version": 2,
        "camera_id": "cam-cont",
        "purpose": "case:C-17",
        "incident": None,
        "at": "2026-11-18T15:30:00+00:00",
        "actor": os_actor(),
    }
    assert set(answer) == JSON_KEYS


def test_without_at_the_answer_is_for_now(
    registry: Settings, data_options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    before = datetime.now(UTC)
    answer = run_json(data_options, capsys, "--camera", "cam-cont", "--purpose", "C-17")
    after = datetime.now(UTC)
    assert before <= datetime.fromisoformat(answer["at"]) <= after


@pytest.mark.parametrize(
    ("at", "decision", "reason", "local"),
    [
        ("2026-11-18T16:30:00", "DENY", "outside_window", "Wed 2026-11-18 10:30:00 CST"),
        ("2026-11-18T10:00:00-06:00", "DENY", "outside_window", "Wed 2026-11-18 10:00:00 CST"),
        ("2026-11-18T15:59:59Z", "ALLOW", "allowed_in_window", "Wed 2026-11-18 09:59:59 CST"),
        ("2026-11-18T09:00:00-06:00", "ALLOW", "allowed_in_window", "Wed 2026-11-18 09:00:00 CST"),
        # Naive means UTC: 09:30 UTC is 03:30 in Chicago, outside the window.
        ("2026-11-18T09:30:00", "DENY", "outside_window", "Wed 2026-11-18 03:30:00 CST"),
    ],
)
def test_scheduled_shows_windows_zone_and_local_time(
    registry: Settings,
    data_options: list[str],
    capsys: pytest.CaptureFixture[str],
    at: str,
    decision: str,
    reason: str,
    local: str,
) -> None:
    args = ("--camera", "cam-sched", "--purpose", "incident:2026-000100", "--at", at)
    assert explain(data_options, *args) == 0
    shown = fields(capsys.readouterr().out)
    assert (shown["decision"], shown["reason"], shown["policy"]) == (decision, reason, "version 1")
    assert shown["mode"] == "scheduled"
    assert shown["windows"] == "wed 09:00-10:00"
    assert shown["time zone"] == ZONE
    assert shown["local time"] == f"{local} (owner's time zone)"


@pytest.mark.parametrize(
    ("args", "reason", "incident"),
    [
        # The incident named by the purpose is looked up, as the gate does.
        (["--purpose", f"incident:{EMERGENCY}"], "allowed_emergency", EMERGENCY),
        (
            ["--purpose", f"incident:{EMERGENCY}", "--incident", EMERGENCY],
            "allowed_emergency",
            EMERGENCY,
        ),
        (["--purpose", f"incident:{ROUTINE}"], "not_emergency", ROUTINE),
        (["--purpose", f"incident:{CLOSED}"], "incident_closed", CLOSED),
        (
            ["--purpose", f"incident:{EMERGENCY}", "--incident", ROUTINE],
            "incident_mismatch",
            ROUTINE,
        ),
        (
            ["--purpose", "case:C-17", "--incident", EMERGENCY],
            "emergency_needs_incident",
            EMERGENCY,
        ),
        (["--purpose", "incident:2026-999999"], "emergency_needs_incident", None),
    ],
)
def test_emergency_only(
    registry: Settings,
    data_options: list[str],
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    reason: str,
    incident: str | None,
) -> None:
    answer = run_json(data_options, capsys, "--camera", "cam-emerg", *args)
    assert answer["reason"] == reason
    assert answer["decision"] == ("allow" if reason == "allowed_emergency" else "deny")
    assert answer["policy_version"] == 1
    assert answer["incident"] == incident


def test_an_incident_purpose_not_in_the_registry_is_said_so(
    registry: Settings, data_options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert explain(data_options, "--camera", "cam-emerg", "--purpose", "incident:2026-9") == 0
    shown = fields(capsys.readouterr().out)
    assert shown["incident"] == "2026-9 (not in the registry: decided without)"
    assert shown["reason"] == "emergency_needs_incident"


def test_emergency_incident_is_described(
    registry: Settings, data_options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert explain(data_options, "--camera", "cam-emerg", "--purpose", f"incident:{CLOSED}") == 0
    shown = fields(capsys.readouterr().out)
    assert shown["incident"] == f"{CLOSED} (emergency, closed)"
    assert shown["decision"] == "DENY"


def test_a_registered_camera_is_never_streamed(
    registry: Settings, data_options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert explain(data_options, "--camera", "cam-reg", "--purpose", f"incident:{EMERGENCY}") == 0
    shown = fields(capsys.readouterr().out)
    assert (shown["decision"], shown["reason"], shown["policy"]) == (
        "DENY",
        "registered_only",
        "none",
    )
    answer = run_json(data_options, capsys, "--camera", "cam-reg", "--purpose", "C-1")
    assert (answer["reason"], answer["policy_version"]) == ("registered_only", None)


def test_a_revoked_policy_denies_with_its_version(
    registry: Settings, data_options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    answer = run_json(data_options, capsys, "--camera", "cam-gone", "--purpose", "C-1")
    assert (answer["decision"], answer["reason"], answer["policy_version"]) == (
        "deny",
        "policy_revoked",
        2,
    )


@pytest.mark.parametrize(
    ("as_user", "purpose", "decision", "reason"),
    [
        ("tech1", "install:cam-cont", "allow", "allowed_install_verification"),
        ("tech1", "install:cam-sched", "deny", "field_tech_scope"),
        ("tech1", f"incident:{EMERGENCY}", "deny", "field_tech_scope"),
        ("boss1", "install:cam-cont", "deny", "install_purpose_not_permitted"),
        ("boss1", "case:C-17", "allow", "allowed_continuous"),
        ("root1", "case:C-17", "deny", "role_not_permitted"),
        (None, "install:cam-cont", "deny", "install_purpose_not_permitted"),
    ],
)
def test_the_actor_is_the_user_named_by_as(
    registry: Settings,
    data_options: list[str],
    capsys: pytest.CaptureFixture[str],
    as_user: str | None,
    purpose: str,
    decision: str,
    reason: str,
) -> None:
    as_args = ["--as", as_user] if as_user else []
    answer = run_json(data_options, capsys, "--camera", "cam-cont", "--purpose", purpose, *as_args)
    assert (answer["decision"], answer["reason"], answer["policy_version"]) == (
        decision,
        reason,
        2,
    )
    assert answer["actor"] == (as_user or os_actor())


def test_field_tech_text_names_the_role(
    registry: Settings, data_options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        explain(
            data_options, "--camera", "cam-cont", "--purpose", "install:cam-cont", "--as", "tech1"
        )
        == 0
    )
    shown = fields(capsys.readouterr().out)
    assert shown["actor"] == "tech1 (field_tech)"
    assert shown["decision"] == "ALLOW"
    assert shown["why"] == "install verification of this camera"


def test_an_empty_purpose_is_explained_not_refused(
    registry: Settings, data_options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    answer = run_json(data_options, capsys, "--camera", "cam-cont", "--purpose", "  ")
    assert (answer["decision"], answer["reason"], answer["purpose"]) == ("deny", "no_purpose", None)


def test_data_options_may_also_come_before_the_subcommand(
    registry: Settings, data_options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [*data_options, "policy", "explain", "--camera", "cam-cont", "--purpose", "C-1"]
    assert main([*argv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["reason"] == "allowed_continuous"


# --- the audit trail ----------------------------------------------------------------------


def test_each_question_is_audited_once_with_its_answer(
    registry: Settings, data_options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--camera", "cam-sched", "--purpose", f"incident:{EMERGENCY}", "--as", "boss1"]
    assert explain(data_options, *args, "--at", "2026-11-18T16:30:00Z") == 0
    capsys.readouterr()
    (event,) = explain_events(registry)
    assert event["actor"] == os_actor()  # who ran the command; --as does not sign anyone in
    assert event["workstation"] == "test-ws"
    assert event["subject"] == "cam-sched"
    assert event["camera_id"] == "cam-sched"
    assert event["purpose"] == f"incident:{EMERGENCY}"
    assert event["policy_version"] == 1
    assert (event["decision"], event["reason"]) == ("deny", "outside_window")
    assert event["details"] == {
        "incident": EMERGENCY,
        "incident_found": True,
        "at": "2026-11-18T16:30:00+00:00",
        "as_user": "boss1",
        "role": "supervisor",
        "mode": "scheduled",
        "local_time": "2026-11-18T10:30:00-06:00",
    }

    assert explain(data_options, "--camera", "cam-cont", "--purpose", "C-1", "--json") == 0
    events = explain_events(registry)
    assert len(events) == 2
    assert (events[1]["camera_id"], events[1]["decision"], events[1]["reason"]) == (
        "cam-cont",
        "allow",
        "allowed_continuous",
    )
    assert events[1]["details"]["as_user"] is None
    assert events[1]["details"]["role"] == "operator"


def test_no_answer_is_shown_when_the_question_cannot_be_audited(
    registry: Settings,
    data_options: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(self: AuditLog, *args: object, **kwargs: object) -> None:
        raise AuditWriteError("the audit log could not record policy_explain (disk full)")

    monkeypatch.setattr(AuditLog, "record", refuse)
    assert explain(data_options, "--camera", "cam-cont", "--purpose", "C-1") == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "could not record policy_explain" in captured.err


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--camera", "cam-nope", "--purpose", "C-1"], "no camera 'cam-nope' in the registry"),
        (
            ["--camera", "cam-emerg", "--purpose", "C-1", "--incident", "2026-404"],
            "no incident '2026-404' in the registry",
        ),
        (["--camera", "cam-cont", "--purpose", "C-1", "--as", "nobody"], "no user 'nobody'"),
        (
            ["--camera", "cam-cont", "--purpose", "C-1", "--at", "yesterday"],
            "--at 'yesterday' is not an ISO 8601 time",
        ),
        (
            ["--camera", "cam-cont", "--purpose", "C-1", "--at", "2026-13-01T00:00"],
            "is not an ISO 8601 time",
        ),
    ],
)
def test_unknown_names_and_bad_times_are_errors_with_exit_2(
    registry: Settings,
    data_options: list[str],
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    assert explain(data_options, *args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("beacon: ")
    assert message in captured.err
    assert "Traceback" not in captured.err
    assert explain_events(registry) == []


def test_camera_and_purpose_are_required(
    registry: Settings, data_options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        explain(data_options, "--purpose", "C-1")
    assert exited.value.code == 2
    assert "--camera" in capsys.readouterr().err


def test_the_help_says_deny_also_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["policy", "explain", "--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "Exit status: 0 when an answer was given, ALLOW or DENY alike" in text

from __future__ import annotations

import io

import pytest

from app.cli import main
from app.services.accounts import SignInError, sign_in
from app.services.audit_log import AuditLog, read_events
from app.settings import Settings
from tests.factories import registry_sessions


def run(settings: Settings, *args: str) -> int:
    return main(["user", *args, "--data-dir", str(settings.data_dir)])


def feed(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def test_add_list_disable(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys):
    feed(monkeypatch, "night-shift-2026\n")
    assert (
        run(
            settings, "add", "dana", "--role", "operator", "--name", "Dana Ruiz", "--password-stdin"
        )
        == 0
    )
    feed(monkeypatch, "night-shift-2026\n")
    assert run(settings, "add", "dana", "--role", "operator", "--password-stdin") == 2
    assert "already exists" in capsys.readouterr().err
    assert run(settings, "list") == 0
    assert "dana" in capsys.readouterr().out
    log = AuditLog.open(settings.audit_db, "ws")
    try:
        with registry_sessions(settings)() as session:
            assert sign_in(session, log, "dana", "night-shift-2026").display_name == "Dana Ruiz"
        assert run(settings, "disable", "dana") == 0
        with registry_sessions(settings)() as session, pytest.raises(SignInError):
            sign_in(session, log, "dana", "night-shift-2026")
    finally:
        log.close()
    actions = [
        e["details"].get("action")
        for e in read_events(settings.audit_db)
        if e["event_type"] == "user_admin"
    ]
    assert actions == ["add", "disable"]


def test_short_password_and_no_terminal(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys
):
    feed(monkeypatch, "short\n")
    assert run(settings, "add", "x", "--role", "admin", "--password-stdin") == 2
    assert "at least 10 characters" in capsys.readouterr().err
    feed(monkeypatch, "")
    assert run(settings, "add", "x", "--role", "admin") == 2
    assert "no terminal" in capsys.readouterr().err

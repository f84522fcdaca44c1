"""``beacon sync token`` and ``beacon sync now`` against a real sync server on loopback."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from app.cli import main
from app.models.audit_chain import AuditEventType
from app.services.credentials import CredentialStore
from app.services.sync_link import sync_token_name
from app.settings import Settings, load_settings
from tests.sync_server import free_port

WORKSTATION = "test-ws"


def run(options: list[str], *args: str) -> int:
    return main(["sync", *args, *options])


def configure(config_file: Path, server_url: str) -> None:
    config_file.write_text(config_file.read_text() + f'[sync]\nserver_url = "{server_url}"\n')


def test_the_token_goes_into_the_keyring_and_nowhere_else(
    settings: Settings, config_file: Path, data_options: list[str], monkeypatch, capsys
):
    configure(config_file, "https://audit.city.example")
    monkeypatch.setattr("sys.stdin", io.StringIO("bst_S3cret-token\n"))
    assert run(data_options, "token", "--token-stdin") == 0
    out = capsys.readouterr().out
    assert out == (
        "stored the sync token of workstation test-ws at https://audit.city.example "
        "in the keyring\n"
    )
    configured = load_settings(config_file, data_dir=settings.data_dir, env={})
    store = CredentialStore.for_settings(configured)
    assert store.get_secret(sync_token_name(configured)) == "bst_S3cret-token"
    assert "bst_S3cret" not in config_file.read_text()


@pytest.mark.parametrize(
    ("server_url", "stdin", "message"),
    [
        (None, "bst_x\n", "set server_url under [sync]"),
        ("https://audit.city.example", "\n", "an empty token was not stored"),
        ("https://audit.city.example", "bst_a b\n", "not a token"),
    ],
)
def test_token_refusals_say_what_to_do(
    config_file: Path, data_options: list[str], monkeypatch, capsys, server_url, stdin, message
):
    if server_url is not None:
        configure(config_file, server_url)
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert run(data_options, "token", "--token-stdin") == 2
    assert message in capsys.readouterr().err


def test_sync_now_sends_what_is_pending_and_prints_the_state(
    audit_log, clock, config_file, data_options, server_db, live_server, monkeypatch, capsys
):
    configure(config_file, live_server.url)
    token = server_db.register(WORKSTATION)
    for _ in range(5):
        audit_log.record(AuditEventType.LOGIN, actor="dana")

    assert run(data_options, "now") == 1
    out = capsys.readouterr().out
    assert out.startswith("no sync token\n")
    assert "beacon sync token" in out

    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    assert run(data_options, "token", "--token-stdin") == 0
    capsys.readouterr()
    assert run(data_options, "now") == 0
    out = capsys.readouterr().out
    assert out == (
        f"synced\nworkstation test-ws at {live_server.url}: 5 of 5 events acknowledged, "
        "5 sent now\n"
    )
    assert token not in out
    assert len(server_db.rows(WORKSTATION)) == 5

    assert run(data_options, "now") == 0
    assert "5 of 5 events acknowledged, 0 sent now" in capsys.readouterr().out


def test_sync_now_with_the_server_down(audit_log, config_file, data_options, monkeypatch, capsys):
    configure(config_file, f"http://127.0.0.1:{free_port()}")
    monkeypatch.setattr("sys.stdin", io.StringIO("bst_x\n"))
    assert run(data_options, "token", "--token-stdin") == 0
    audit_log.record(AuditEventType.LOGIN, actor="dana")
    capsys.readouterr()
    assert run(data_options, "now") == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("server unreachable (since ")
    assert lines[0].endswith("), 1 event pending")
    assert lines[1] == "connection refused"
    assert lines[2].endswith(": 0 of 1 events acknowledged, 0 sent now")


def test_sync_now_needs_a_server_and_a_log(
    settings: Settings, config_file: Path, data_options: list[str], capsys
):
    assert run(data_options, "now") == 2
    assert "set server_url under [sync]" in capsys.readouterr().err
    configure(config_file, "https://audit.city.example")
    assert run(data_options, "now") == 2
    assert "no audit log here yet" in capsys.readouterr().err


def test_beacon_server_is_the_servers_own_command_line(tmp_path, capsys):
    from app.cli import main

    key = tmp_path / "key.pem"
    assert main(["server", "show-key", "--checkpoint-key", str(key)]) == 0
    shown = capsys.readouterr().out
    assert key.is_file() and "ed25519" in shown.lower()

"""The audit sync over HTTPS: ``python -m server --certfile --keyfile`` in a child process with a
certificate for 127.0.0.1 from a CA made for the test, and the client trusting that CA through
``[sync] ca_file``, or refusing the server without it; and no token sent in the clear."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.models.audit_chain import AuditEventType
from app.services.audit_log import AuditLog
from app.services.audit_sync import STATE_FILE, AuditSync, SyncPhase
from app.settings import SettingsError, load_settings
from server.cli import main as server_main
from tests.sync_server import ProcessServer, ServerCertificate, ServerDatabase

WORKSTATION = "test-ws"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> ServerCertificate:
    return ServerCertificate.make(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def https_server(
    server_db: ServerDatabase, certificate: ServerCertificate
) -> Iterator[ProcessServer]:
    server = ProcessServer(server_db.url, tls=certificate).start()
    yield server
    server.stop()


def client(
    audit_log: AuditLog, server: ProcessServer, token: str, ca_file: Path | None
) -> AuditSync:
    return AuditSync(
        audit_path=audit_log.path,
        server_url=server.url,
        workstation_id=WORKSTATION,
        token=lambda: token,
        state_path=audit_log.path.parent / STATE_FILE,
        ca_file=ca_file,
    )


def record(audit_log: AuditLog, count: int) -> None:
    for number in range(count):
        audit_log.record(AuditEventType.LOGIN, actor=f"dana-{number}")


def test_the_client_syncs_over_https_trusting_the_configured_ca(
    audit_log: AuditLog,
    server_db: ServerDatabase,
    https_server: ProcessServer,
    certificate: ServerCertificate,
):
    assert https_server.url.startswith("https://127.0.0.1:")
    token = server_db.register(WORKSTATION)
    record(audit_log, 4)
    state = client(audit_log, https_server, token, certificate.ca_file).sync_once()
    assert state.phase is SyncPhase.SYNCED, state.detail
    assert [row.seq for row in server_db.rows(WORKSTATION)] == [1, 2, 3, 4]


def test_without_the_ca_the_server_is_refused_and_no_token_leaks(
    audit_log: AuditLog,
    server_db: ServerDatabase,
    https_server: ProcessServer,
    caplog: pytest.LogCaptureFixture,
):
    token = server_db.register(WORKSTATION)
    record(audit_log, 2)
    caplog.set_level(logging.DEBUG)
    state = client(audit_log, https_server, token, ca_file=None).sync_once()
    assert state.phase is SyncPhase.STALLED
    assert state.reason == "the sync server's certificate is not trusted"
    assert "unable to get local issuer certificate" in state.detail
    assert "set ca_file under [sync]" in state.detail
    assert server_db.rows(WORKSTATION) == []
    assert token not in state.text(datetime.now(UTC)) + state.detail
    assert token not in caplog.text


def test_a_missing_ca_file_is_named(
    audit_log: AuditLog, server_db: ServerDatabase, https_server: ProcessServer, tmp_path: Path
):
    token = server_db.register(WORKSTATION)
    record(audit_log, 1)
    missing = tmp_path / "no-such-ca.pem"
    state = client(audit_log, https_server, token, missing).sync_once()
    assert state.phase is SyncPhase.STALLED
    assert state.reason == "the sync server's CA file cannot be read"
    assert str(missing) in state.detail


@pytest.mark.parametrize(
    ("sync", "refused"),
    [
        ('server_url = "http://audit.city.example:8470"', True),
        ('server_url = "http://audit.city.example:8470"\nallow_plain_http = true', False),
        ('server_url = "http://127.0.0.1:8470"', False),
        ('server_url = "https://audit.city.example:8470"', False),
    ],
)
def test_a_token_goes_over_plain_http_only_to_loopback_or_when_allowed(
    tmp_path: Path, data_dir: Path, sync: str, refused: bool
):
    config = tmp_path / "settings.toml"
    config.write_text(f'workstation = "{WORKSTATION}"\n[sync]\n{sync}\n')
    if not refused:
        assert load_settings(config, data_dir, env={}).sync.server_url is not None
        return
    with pytest.raises(SettingsError) as raised:
        load_settings(config, data_dir, env={})
    message = str(raised.value)
    assert "token in the clear to audit.city.example" in message
    assert "allow_plain_http = true" in message


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--certfile", "{cert}"], "HTTPS needs both --certfile and --keyfile"),
        (["--certfile", "{missing}", "--keyfile", "{key}"], "no-such.pem: no such file"),
        (["--certfile", "{cert}", "--keyfile", "{ca}"], "cannot serve HTTPS"),
    ],
)
def test_the_server_refuses_an_unusable_certificate_in_words(
    certificate: ServerCertificate,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    message: str,
):
    files = {
        "cert": certificate.certfile,
        "key": certificate.keyfile,
        "ca": certificate.ca_file,
        "missing": tmp_path / "no-such.pem",
    }
    arguments = [option.format(**files) for option in options]
    code = server_main(
        [
            "serve",
            "--db-url",
            f"sqlite:///{tmp_path / 'server.sqlite3'}",
            "--checkpoint-key",
            str(tmp_path / "key.pem"),
            "--port",
            "1",  # never bound: the check comes first
            *arguments,
        ]
    )
    assert code == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ")
    assert message in error
    assert "Traceback" not in error

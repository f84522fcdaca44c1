"""The first run's connection check against real servers on loopback (the sync server in a
thread or, for HTTPS, in a child process; a plain web server that is not Beacon; a closed port),
and its settings file, token, first administrator and demo city."""

from __future__ import annotations

import http.server
import logging
import socket
import threading
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.models.audit_chain import AuditEventType
from app.models.user import Role, User
from app.services.audit_log import read_events
from app.services.credentials import CredentialStore
from app.services.first_run import (
    CheckStep,
    ConnectionReport,
    FirstRunError,
    FirstRunPlan,
    Remedy,
    ServerChoice,
    StepResult,
    StepState,
    check_connection,
    create_first_admin,
    demo_changes,
    has_local_users,
    prepare_demo,
    render_settings,
    server_changes,
    settings_with,
    store_token,
    write_settings,
)
from app.services.sqlite_store import REGISTRY, open_database
from app.services.sync_link import sync_token_name
from app.settings import Settings, load_settings
from server.models import TokenRole
from server.tokens import issue_token
from tests.conftest import ManualClock
from tests.factories import registry_sessions
from tests.sync_server import (
    ProcessServer,
    ServerCertificate,
    ServerDatabase,
    ThreadServer,
    free_port,
)

WORKSTATION = "rtcc-ws-03"


class RecordingWebServer:
    """A plain web server on 127.0.0.1 (not Beacon) that answers every GET with ``status`` and
    an HTML page, and keeps the headers of every request it got."""

    def __init__(self, status: int = 404) -> None:
        self.requests: list[dict[str, str]] = []
        recorded, answer = self.requests, status

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorded.append({"path": self.path, **dict(self.headers.items())})
                page = b"<html><body><h1>Not Found</h1></body></html>"
                self.send_response(answer)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> RecordingWebServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


@pytest.fixture
def web_server() -> Iterator[RecordingWebServer]:
    with RecordingWebServer() as server:
        yield server


@pytest.fixture
def token(server_db: ServerDatabase) -> str:
    return server_db.register(WORKSTATION)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> ServerCertificate:
    return ServerCertificate.make(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def https_server(
    server_db: ServerDatabase, certificate: ServerCertificate, token: str
) -> Iterator[ProcessServer]:
    server = ProcessServer(server_db.url, tls=certificate).start()
    yield server
    server.stop()


def states(report: ConnectionReport) -> dict[CheckStep, StepState]:
    return {result.step: result.state for result in report.results}


def failed_at(report: ConnectionReport, step: CheckStep) -> StepResult:
    failure = report.failure
    assert failure is not None, f"the check passed: {report.results}"
    assert failure.step is step, failure
    steps = list(CheckStep)
    for result in report.results:
        if steps.index(result.step) < steps.index(step):
            assert result.state in (StepState.PASSED, StepState.SKIPPED), result
        elif result.step is not step:
            assert result.state is StepState.NOT_RUN, result
    return failure


def texts(report: ConnectionReport) -> str:
    return " ".join(f"{r.detail} {r.advice}" for r in report.results)


def test_a_registered_workstation_with_its_token_passes_every_step(
    live_server: ThreadServer, token: str
):
    seen: list[StepResult] = []
    report = check_connection(ServerChoice(live_server.url, WORKSTATION, token), seen.append)
    assert report.passed, report.failure
    assert [r.step for r in report.results] == list(CheckStep)
    assert seen == list(report.results)  # each step was told as it was known, in order
    assert states(report)[CheckStep.CERTIFICATE] is StepState.SKIPPED  # plain http, loopback
    assert "checkpoint key" in report.results[4].detail
    assert WORKSTATION in report.results[6].detail


def test_a_wrong_token_is_rejected_and_never_repeated(live_server: ThreadServer, token: str):
    wrong = "bcn_" + "x" * 40
    report = check_connection(ServerChoice(live_server.url, WORKSTATION, wrong))
    failure = failed_at(report, CheckStep.TOKEN)
    assert failure.remedy is Remedy.TOKEN
    assert "not known to the server" in failure.detail
    assert "new token" in failure.advice
    assert wrong not in texts(report) and token not in texts(report)


def test_the_token_of_another_workstation_names_that_workstation(
    live_server: ThreadServer, server_db: ServerDatabase, token: str
):
    other = server_db.register("rtcc-ws-07")
    report = check_connection(ServerChoice(live_server.url, WORKSTATION, other))
    failure = failed_at(report, CheckStep.WORKSTATION)
    assert states(report)[CheckStep.TOKEN] is StepState.PASSED
    assert failure.remedy is Remedy.WORKSTATION
    assert "belongs to workstation rtcc-ws-07, not rtcc-ws-03" in failure.detail
    assert other not in texts(report)


def test_an_untrusted_certificate_is_refused_then_trusted_with_the_agencys_ca_file(
    https_server: ProcessServer, certificate: ServerCertificate, token: str
):
    report = check_connection(ServerChoice(https_server.url, WORKSTATION, token))
    failure = failed_at(report, CheckStep.CERTIFICATE)
    assert states(report)[CheckStep.CONNECTED] is StepState.PASSED
    assert failure.remedy is Remedy.CA_FILE
    assert "not trusted" in failure.detail and "CA certificate file" in failure.advice

    trusted = check_connection(
        ServerChoice(https_server.url, WORKSTATION, token, ca_file=certificate.ca_file)
    )
    assert trusted.passed, trusted.failure
    certificate_step = trusted.results[3]
    assert certificate_step.state is StepState.PASSED
    assert "Beacon test CA" in certificate_step.detail and "ca.pem" in certificate_step.detail


def test_a_ca_file_that_is_no_certificate_says_so(
    https_server: ProcessServer, tmp_path: Path, token: str
):
    not_a_certificate = tmp_path / "notes.pem"
    not_a_certificate.write_text("shopping list\n")
    report = check_connection(
        ServerChoice(https_server.url, WORKSTATION, token, ca_file=not_a_certificate)
    )
    failure = failed_at(report, CheckStep.CERTIFICATE)
    assert "cannot be used" in failure.detail and failure.remedy is Remedy.CA_FILE


def test_a_closed_port_is_refused_with_what_to_check():
    port = free_port()
    report = check_connection(ServerChoice(f"http://127.0.0.1:{port}", WORKSTATION, "t0ken"))
    failure = failed_at(report, CheckStep.CONNECTED)
    assert f"127.0.0.1 port {port} refused the connection" in failure.detail
    assert "port" in failure.advice and failure.remedy is Remedy.ADDRESS


def test_an_unknown_host_fails_at_dns():
    report = check_connection(ServerChoice("https://beacon.invalid:8470", WORKSTATION, "t0ken"))
    failure = failed_at(report, CheckStep.HOST)
    assert "beacon.invalid" in failure.detail and "DNS" in failure.detail
    assert "spelling" in failure.advice


def test_a_web_server_that_is_not_beacon_is_named_as_such(web_server: RecordingWebServer):
    report = check_connection(
        ServerChoice(f"http://127.0.0.1:{web_server.port}", WORKSTATION, "secret-t0ken")
    )
    failure = failed_at(report, CheckStep.BEACON)
    assert "HTTP 404 (text/html)" in failure.detail and "another kind of server" in failure.detail
    assert [request["path"] for request in web_server.requests] == ["/v1/checkpoint-key"]
    assert "Authorization" not in web_server.requests[0]  # the token is kept for Beacon


def test_a_failing_server_is_a_server_error():
    with RecordingWebServer(status=503) as failing:
        report = check_connection(
            ServerChoice(f"http://127.0.0.1:{failing.port}", WORKSTATION, "t0ken")
        )
    failure = failed_at(report, CheckStep.BEACON)
    assert "HTTP 503" in failure.detail and "running, but failing" in failure.detail
    assert failure.remedy is Remedy.RETRY


def test_plain_http_to_another_machine_is_refused_before_anything_is_sent(
    web_server: RecordingWebServer,
):
    looked_up: list[str] = []

    def resolve(host: str, port: int) -> list[tuple[str, int]]:
        looked_up.append(host)
        return [("127.0.0.1", port)]  # "another machine" is the recording server

    address = f"http://audit.city.example:{web_server.port}"
    report = check_connection(ServerChoice(address, WORKSTATION, "secret-t0ken"), resolve=resolve)
    failure = failed_at(report, CheckStep.ADDRESS)
    assert "unencrypted to audit.city.example" in failure.detail
    assert "https://audit.city.example" in failure.advice
    assert "ALLOW_PLAIN_HTTP" in failure.advice
    assert looked_up == [] and web_server.requests == []

    # Allowed by the administrator, the same address is looked up and asked (and is no Beacon).
    allowed = ServerChoice(address, WORKSTATION, "secret-t0ken", allow_plain_http=True)
    failed_at(check_connection(allowed, resolve=resolve), CheckStep.BEACON)
    assert looked_up == ["audit.city.example"] and len(web_server.requests) == 1


def test_a_server_that_accepts_but_never_answers_times_out():
    with socket.create_server(("127.0.0.1", 0)) as silent:  # listens, never answers
        port = silent.getsockname()[1]
        choice = ServerChoice(f"http://127.0.0.1:{port}", WORKSTATION, "t0ken", read_timeout_s=0.3)
        report = check_connection(choice)
    failure = failed_at(report, CheckStep.BEACON)
    assert "did not answer within 0.3 s" in failure.detail
    assert failure.remedy is Remedy.RETRY


def test_https_to_a_plain_http_port_fails_at_the_handshake(web_server: RecordingWebServer):
    report = check_connection(
        ServerChoice(f"https://127.0.0.1:{web_server.port}", WORKSTATION, "t0ken")
    )
    failure = failed_at(report, CheckStep.CONNECTED)
    assert "not a TLS (https) handshake" in failure.detail
    assert "plain http" in failure.advice


def test_an_unregistered_workstation_is_named_with_how_to_register_it(
    live_server: ThreadServer, server_db: ServerDatabase
):
    with server_db.sessions.begin() as session:  # a supervisor's token reads any position
        supervisor = issue_token(
            session, TokenRole.SUPERVISOR, datetime.now(UTC), timedelta(days=1), name="IT"
        ).secret
    report = check_connection(ServerChoice(live_server.url, "rtcc-ws-99", supervisor))
    failure = failed_at(report, CheckStep.WORKSTATION)
    assert "no workstation rtcc-ws-99 registered" in failure.detail
    assert "register-workstation rtcc-ws-99" in failure.advice


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("", "No address"),
        ("audit.city.example:8470", "Type it as https://audit.city.example:8470"),
        ("htps://audit.city.example", "“htps://” is not https://"),
        ("https://audit city.example", "is not a host name"),
        ("https://audit.city.example:84700", "not a number from 1 to 65535"),
        ("https://ws:pw@audit.city.example", "user name or password"),
    ],
)
def test_a_typo_in_the_address_says_what_to_correct(typed: str, said: str):
    report = check_connection(ServerChoice(typed, WORKSTATION, "t0ken"))
    failure = failed_at(report, CheckStep.ADDRESS)
    assert said in f"{failure.detail} {failure.advice}"
    assert "pw" not in failure.detail


def test_no_token_or_typed_password_reaches_the_log(
    live_server: ThreadServer, token: str, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    check_connection(ServerChoice(live_server.url, WORKSTATION, "bcn_wrong-token-value"))
    check_connection(ServerChoice(live_server.url, WORKSTATION, token))
    check_connection(ServerChoice("https://ws:s3cret-pw@audit.city.example", WORKSTATION, token))
    check_connection(ServerChoice("ws:s3cret-pw@audit.city.example", WORKSTATION, token))
    assert "first-run connection check" in caplog.text
    for secret in ("bcn_wrong-token-value", token, "s3cret-pw"):
        assert secret not in caplog.text


# --- settings, token, first administrator, demo ------------------------------------------------


@pytest.fixture
def plan(tmp_path: Path, data_dir: Path) -> FirstRunPlan:
    base = load_settings(None, data_dir, env={"BEACON_SECURITY__KEYRING_BACKEND": "file"})
    return FirstRunPlan(base, tmp_path / "config" / "settings.toml", "os:it", False)


def test_the_server_settings_are_written_readable_with_only_what_was_set(
    plan: FirstRunPlan, tmp_path: Path
):
    ca = tmp_path / 'agency "root" CA\\2026.pem'
    choice = ServerChoice("https://audit.city.example:8470/", WORKSTATION, "t0ken", ca_file=ca)
    settings = write_settings(plan.config_path, server_changes(plan, choice))
    text = plan.config_path.read_text(encoding="utf-8")
    assert "t0ken" not in text
    assert "# the agency's Beacon sync server" in text
    assert tomllib.loads(text) == {
        "workstation": WORKSTATION,
        "data_dir": str(plan.base.data_dir.resolve()),
        "security": {"keyring_backend": "file"},
        "sync": {"server_url": "https://audit.city.example:8470", "ca_file": str(ca.resolve())},
    }
    assert settings.sync.ca_file == ca.resolve()
    assert list(plan.config_path.parent.iterdir()) == [plan.config_path]  # no temp file left


def test_setting_up_again_keeps_the_rest_of_the_file(plan: FirstRunPlan, tmp_path: Path):
    plan.config_path.parent.mkdir(parents=True)
    plan.config_path.write_text(
        'workstation = "old-ws"\n[cad]\nadapter = "folder"\nfolder = "/srv/cad"\n'
        '[sync]\nserver_url = "https://old.example"\nca_file = "/etc/old.pem"\n'
        'workstation_id = "old-id"\n',
        encoding="utf-8",
    )
    choice = ServerChoice("https://audit.city.example", WORKSTATION, "t0ken")
    write_settings(plan.config_path, server_changes(plan, choice))
    values = tomllib.loads(plan.config_path.read_text(encoding="utf-8"))
    assert values["cad"] == {"adapter": "folder", "folder": "/srv/cad"}
    assert values["sync"] == {"server_url": "https://audit.city.example"}  # old CA and id gone
    assert values["workstation"] == WORKSTATION


def test_any_text_survives_the_round_trip_through_the_file():
    values = {
        "workstation": "ws-1",
        "footage": {"reply_instructions": 'Say "no" \\ or\n\tyes\x7f\x01 — ünïcode ✓'},
        "cad": {"adapter": "folder", "folder": "C:\\cad\\outbox", "interval_s": 0.5},
        "odd": {"a key with spaces": [1, 2.5, True, "x"]},
    }
    assert tomllib.loads(render_settings(values)) == values


def test_settings_that_would_not_load_are_not_written(plan: FirstRunPlan):
    with pytest.raises(FirstRunError, match="would not be valid"):
        write_settings(plan.config_path, {"map": {"default_radius_m": -1}})
    assert not plan.config_path.exists()


def test_the_token_goes_to_the_keyring_under_the_sync_clients_name(plan: FirstRunPlan):
    choice = ServerChoice("https://audit.city.example", WORKSTATION, "t0ken-of-ws-03")
    changes = server_changes(plan, choice)
    store_token(settings_with(plan, changes), choice.token)
    written = write_settings(plan.config_path, changes)
    store = CredentialStore.for_settings(written)
    assert store.get_secret(sync_token_name(written)) == "t0ken-of-ws-03"
    assert sync_token_name(written) == f"sync:{WORKSTATION}@audit.city.example"


def audit_admin_events(settings: Settings) -> list[dict[str, Any]]:
    events = read_events(settings.audit_db)
    return [e for e in events if e["event_type"] == AuditEventType.USER_ADMIN]


def test_the_first_administrator_is_created_and_audited(settings: Settings, clock: ManualClock):
    assert not has_local_users(settings)
    assert not settings.registry_db.exists()  # asking made no database
    create_first_admin(settings, "it.admin", "long-enough-pw", "os:it", clock)
    assert has_local_users(settings)
    with registry_sessions(settings)() as session:
        (user,) = session.query(User).all()
        assert (user.username, user.role) == ("it.admin", Role.ADMIN)
    (event,) = audit_admin_events(settings)
    assert event["actor"] == "os:it" and event["subject"] == "it.admin"
    assert "long-enough-pw" not in str(event)
    # Again with the same password (a Finish whose settings could not be written): no change.
    create_first_admin(settings, "it.admin", "long-enough-pw", "os:it", clock)
    assert len(audit_admin_events(settings)) == 1
    with pytest.raises(FirstRunError, match="exists already"):
        create_first_admin(settings, "it.admin", "another-password", "os:it", clock)
    with pytest.raises(FirstRunError, match="at least 10"):
        create_first_admin(settings, "other", "short", "os:it", clock)


def test_the_demo_is_never_built_into_a_real_registry(data_dir: Path, clock: ManualClock):
    open_database(data_dir / "beacon.sqlite", REGISTRY).dispose()
    with pytest.raises(FirstRunError, match="not the demo city"):
        prepare_demo(data_dir, "os:it", clock)
    assert not (data_dir / "clips").exists()


def test_the_demo_settings_point_at_the_demo_city(plan: FirstRunPlan):
    settings = write_settings(plan.config_path, demo_changes(plan))
    assert settings.data_dir == plan.base.data_dir.resolve()
    assert settings.security.keyring_backend == "file"
    assert "DEMO/TEST ONLY" in plan.config_path.read_text(encoding="utf-8")

"""The first run of a workstation: connecting it to the agency's sync server, or to the demo city.

``check_connection`` walks the way from an address typed by IT to a token the server accepts, one
step at a time, and stops at the first step that fails with what happened and what to do:

1. the address is understood (https://, a host, no user name, plain http only to this machine
   unless ``allow_plain_http``: the same rules as ``[sync]`` in the settings);
2. the host is found (DNS);
3. a connection is made (TCP, and for https the TLS handshake);
4. the server's certificate is trusted (the system's authorities, or the agency's CA file);
5. it is a Beacon sync server (``GET /v1/checkpoint-key`` answers with a checkpoint key);
6. the workstation's token is accepted (``GET /v1/workstations/{id}/head``: not 401);
7. the token is this workstation's (not 403, and the workstation is registered: not 404).

Nothing is sent before step 1 has passed, and the token only in step 6, over the connection
steps 3 and 4 checked. The token is never in a result, a log line or an exception text.

``write_settings`` writes ``settings.toml`` atomically with only the keys the first run set
(merged into a file that is already there, for ``beacon setup``), as readable TOML with a
comment per key; ``store_token`` puts the token in the keyring under the name the sync clients
read; ``create_first_admin`` makes the workstation's first local account; ``prepare_demo``
builds the demo city as ``beacon demo ensure`` does.
"""

from __future__ import annotations

import enum
import http.client
import ipaddress
import json
import logging
import os
import re
import socket
import ssl
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import __version__
from app.models.audit_chain import AuditEventType
from app.models.user import Role, User
from app.services.accounts import MIN_PASSWORD_LENGTH, create_user, verify_password
from app.services.audit_log import AuditLog
from app.services.clock import Clock
from app.services.credentials import CredentialStore, InsecureKeyringError
from app.services.demo_city import (
    SCRIPT_NAME,
    WORKSTATION,
    build_demo_city,
    has_registry,
)
from app.services.sqlite_store import REGISTRY, open_database
from app.services.sync_link import sync_token_name
from app.settings import SYNC_WORKSTATION_ID, Settings, SyncSettings

log = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 64 * 1024  # a checkpoint key or a head is a few hundred bytes
CHECKPOINT_KEY_PATH = "/v1/checkpoint-key"
REGISTER_HINT = "python -m server register-workstation {workstation}"
USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_HOST_NAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+$")
_OTHER_WORKSTATION = re.compile(r"belongs to workstation (\S+?);")

# getaddrinfo's signature, narrowed: (host, port) -> the addresses to try, in order.
Resolver = Callable[[str, int], list[tuple[str, int]]]


class FirstRunError(Exception):
    """A first-run step that cannot be done as asked; the message says why and what to do."""


class CheckStep(enum.Enum):
    """The steps of the connection check, in order, with what the operator reads."""

    ADDRESS = "Address understood"
    HOST = "Host found (DNS)"
    CONNECTED = "Connected"
    CERTIFICATE = "Certificate trusted"
    BEACON = "It is a Beacon server"
    TOKEN = "Token accepted"  # noqa: S105 (a step's name)
    WORKSTATION = "Workstation name matches the token"


class StepState(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"  # does not apply (no certificate over plain http)
    NOT_RUN = "not run"  # an earlier step failed


class Remedy(enum.StrEnum):
    """Which field or button a failure points the operator to."""

    ADDRESS = "address"
    CA_FILE = "ca_file"
    TOKEN = "token"  # noqa: S105 (the name of a field)
    WORKSTATION = "workstation"
    RETRY = "retry"


@dataclass(frozen=True, slots=True)
class StepResult:
    step: CheckStep
    state: StepState
    detail: str = ""  # what happened
    advice: str = ""  # what to do (failures)
    remedy: Remedy | None = None


@dataclass(frozen=True, slots=True)
class ConnectionReport:
    results: tuple[StepResult, ...]

    @property
    def passed(self) -> bool:
        return all(r.state in (StepState.PASSED, StepState.SKIPPED) for r in self.results)

    @property
    def failure(self) -> StepResult | None:
        return next((r for r in self.results if r.state is StepState.FAILED), None)


@dataclass(frozen=True, slots=True)
class ServerChoice:
    """What IT typed on the server page."""

    server_url: str
    workstation: str
    token: str = field(repr=False)
    ca_file: Path | None = None
    allow_plain_http: bool = False  # from the settings' environment: an administrator's choice
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 10.0


class _StepFailed(Exception):
    def __init__(self, result: StepResult) -> None:
        super().__init__(result.detail)
        self.result = result


def _fail(step: CheckStep, detail: str, advice: str, remedy: Remedy | None = None) -> _StepFailed:
    return _StepFailed(StepResult(step, StepState.FAILED, detail, advice, remedy))


def workstation_problem(name: str) -> str | None:
    """Why ``name`` cannot be this workstation's name (the sync server's rule), or None."""
    if SYNC_WORKSTATION_ID.match(name):
        return None
    return (
        "A workstation name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or "
        "digit (for example rtcc-ws-03)."
    )


def token_problem(token: str) -> str | None:
    """Why ``token`` cannot be a token (empty, spaces, control characters), or None."""
    if not token:
        return "Paste the workstation's token (IT has it: the server printed it once)."
    if any(character.isspace() or not character.isprintable() for character in token):
        return (
            "That is not a token: it holds spaces or line breaks. Paste exactly the line the "
            "server printed."
        )
    return None


def _resolve(host: str, port: int) -> list[tuple[str, int]]:
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [(str(info[4][0]), port) for info in found]


@dataclass(frozen=True, slots=True)
class _Address:
    https: bool
    host: str
    port: int
    prefix: str
    url: str


def _understood(choice: ServerChoice) -> _Address:
    step = CheckStep.ADDRESS
    text = choice.server_url.strip()
    example = "for example https://audit.city.example:8470"
    if not text:
        raise _fail(step, "No address was given.", f"Type the server's address, {example}.")
    if "://" not in text:
        raise _fail(
            step,
            f"“{text}” does not start with https://.",
            f"Type it as https://{text} ({example}).",
            Remedy.ADDRESS,
        )
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise _fail(
            step,
            f"“{parts.scheme}://” is not https:// or http:// (a typo?).",
            f"Correct the start of the address to https:// ({example}).",
            Remedy.ADDRESS,
        )
    if parts.username is not None or parts.password is not None:
        raise _fail(
            step,
            "The address holds a user name or password.",
            "Remove it from the address: the workstation proves who it is with its token, "
            "typed into the Token field.",
            Remedy.ADDRESS,
        )
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise _fail(
            step,
            "The port after the host name is not a number from 1 to 65535.",
            f"Correct the port ({example}).",
            Remedy.ADDRESS,
        ) from None
    if not host or not (_is_ip(host) or _HOST_NAME.match(host)):
        raise _fail(
            step,
            f"“{host or text}” is not a host name (a typo, or a space in it?).",
            f"Correct the host name ({example}).",
            Remedy.ADDRESS,
        )
    if parts.query or parts.fragment:
        raise _fail(
            step,
            "The address has a '?' or '#' part, which a server address never has.",
            f"Remove everything from the '?' or '#' on ({example}).",
            Remedy.ADDRESS,
        )
    url = f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}"
    try:
        SyncSettings(server_url=url, allow_plain_http=choice.allow_plain_http)
    except ValidationError:
        # The settings' one rule left over: plain http off this machine.
        raise _fail(
            step,
            f"http:// would send the workstation's token unencrypted to {host}, and anyone on "
            "the network between could copy it.",
            f"Use https://{parts.netloc}{parts.path} if the server offers it (ask IT). Plain "
            "http is allowed only for a server on this machine, or when the agency's "
            "administrator has decided the network is itself encrypted (a VPN) and set "
            "BEACON_SYNC__ALLOW_PLAIN_HTTP=true for this program.",
            Remedy.ADDRESS,
        ) from None
    return _Address(scheme == "https", host, port, parts.path.rstrip("/"), url)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _found(address: _Address, resolve: Resolver) -> list[tuple[str, int]]:
    if _is_ip(address.host):
        return [(address.host, address.port)]
    try:
        found = resolve(address.host, address.port)
    except (socket.gaierror, UnicodeError) as exc:
        no_name = isinstance(exc, socket.gaierror) and exc.errno in (
            socket.EAI_NONAME,
            getattr(socket, "EAI_NODATA", socket.EAI_NONAME),
        )
        what = "is not known to" if no_name else "could not be looked up by"
        raise _fail(
            CheckStep.HOST,
            f"The name {address.host} {what} this workstation's DNS.",
            "Check the spelling of the host name in the address. If it is right, this "
            "workstation cannot look agency names up: ask IT whether it reaches the agency's "
            "network (is the VPN connected?).",
            Remedy.ADDRESS,
        ) from None
    if not found:
        raise _fail(
            CheckStep.HOST,
            f"DNS has no address for {address.host}.",
            "Check the host name in the address, or ask IT for the server's address.",
            Remedy.ADDRESS,
        )
    return found


def _reason(error: OSError) -> str:
    return (error.strerror or type(error).__name__).lower()


def _tcp(address: _Address, targets: list[tuple[str, int]], timeout_s: float) -> socket.socket:
    step, where = CheckStep.CONNECTED, f"{address.host} port {address.port}"
    last: OSError | None = None
    for target in targets:
        try:
            return socket.create_connection(target, timeout=timeout_s)
        except OSError as exc:
            last = exc
    if isinstance(last, ConnectionRefusedError):
        raise _fail(
            step,
            f"{where} refused the connection: nothing is listening there.",
            "Check the port in the address (a Beacon server usually listens on 8470). If it "
            "is right, the server is not running: tell the server's administrator.",
            Remedy.ADDRESS,
        )
    if isinstance(last, TimeoutError):
        raise _fail(
            step,
            f"{where} did not answer within {timeout_s:g} s.",
            "The server may be down, or a firewall between this workstation and the server "
            "drops the connection: ask IT to let this workstation reach that port, then check "
            "again.",
            Remedy.RETRY,
        )
    reason = _reason(last) if last is not None else "no address to try"
    raise _fail(
        step,
        f"{where} cannot be reached: {reason}.",
        "Check that this workstation is on the agency's network, then check again.",
        Remedy.RETRY,
    )


def _tls_context(ca_file: Path | None) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise _fail(
            CheckStep.CERTIFICATE,
            f"The CA certificate file {ca_file} cannot be used: {_reason(exc)}.",
            "Choose the agency's CA certificate file again: a PEM file (.pem or .crt) that "
            "starts with -----BEGIN CERTIFICATE-----.",
            Remedy.CA_FILE,
        ) from None


def _connected(
    address: _Address, targets: list[tuple[str, int]], choice: ServerChoice
) -> tuple[socket.socket, str, str]:
    """An open (for https: verified TLS) socket, what step 3 says and what step 4 says."""
    raw = _tcp(address, targets, choice.connect_timeout_s)
    peer = f"{address.host} port {address.port}"
    if not address.https:
        return raw, f"{peer} (plain http).", ""
    try:
        context = _tls_context(choice.ca_file)
    except _StepFailed as unusable:
        raw.close()
        raise _CertificateRefused(peer, unusable) from None
    try:
        secure = context.wrap_socket(raw, server_hostname=address.host)
    except ssl.SSLCertVerificationError as exc:
        raw.close()
        refused = _certificate_refused(peer, exc.verify_message or str(exc), choice.ca_file)
        raise _CertificateRefused(peer, refused) from None
    except (ssl.SSLError, OSError) as exc:
        raw.close()
        raise _fail(
            CheckStep.CONNECTED,
            f"{peer} accepted the connection but not a TLS (https) handshake "
            f"({_reason(exc) if isinstance(exc, OSError) else exc}).",
            "The port may serve plain http or another program: check the address with IT "
            "(https:// and the Beacon server's port).",
            Remedy.ADDRESS,
        ) from None
    certificate = secure.getpeercert() or {}
    issuer = _name(certificate.get("issuer", ()))
    trusted_by = f"the CA file {choice.ca_file.name}" if choice.ca_file else "this system"
    return (
        secure,
        f"{peer} ({secure.version()}).",
        f"Issued by {issuer or 'an authority'}, trusted by {trusted_by}.",
    )


def _name(parts: Any) -> str:
    for rdn in parts:
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return ""


class _CertificateRefused(Exception):
    """Connected, but the certificate step failed (``failure``)."""

    def __init__(self, peer: str, failure: _StepFailed) -> None:
        super().__init__(failure.result.detail)
        self.peer, self.failure = peer, failure


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    content_type: str
    body: Any


def _get(
    sock: socket.socket, address: _Address, path: str, timeout_s: float, token: str | None
) -> _Answer:
    """One GET over ``sock`` (closed after); the server's status, type and JSON (or None)."""
    connection = http.client.HTTPConnection(address.host, address.port, timeout=timeout_s)
    sock.settimeout(timeout_s)
    connection.sock = sock
    headers = {"Accept": "application/json", "User-Agent": f"Beacon-RTCC/{__version__}"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    try:
        connection.request("GET", address.prefix + path, headers=headers)
        response = connection.getresponse()
        raw = response.read(MAX_ANSWER_BYTES + 1)
    finally:
        connection.close()
    try:
        body = json.loads(raw) if raw and len(raw) <= MAX_ANSWER_BYTES else None
    except (UnicodeDecodeError, ValueError):
        body = None
    content_type = (response.getheader("Content-Type") or "no type").split(";")[0]
    return _Answer(response.status, content_type, body)


def _asked(
    step: CheckStep,
    address: _Address,
    path: str,
    choice: ServerChoice,
    targets: list[tuple[str, int]],
    token: str | None,
) -> _Answer:
    try:
        sock, _, _ = _connected(address, targets, choice)
    except _StepFailed as failed:  # it connected a moment ago: say so at this step
        raise _fail(
            step, failed.result.detail, failed.result.advice, failed.result.remedy
        ) from None
    except _CertificateRefused as refused:
        result = refused.failure.result
        raise _fail(step, result.detail, result.advice, result.remedy) from None
    try:
        return _get(sock, address, path, choice.read_timeout_s, token)
    except TimeoutError:
        raise _fail(
            step,
            f"The server accepted the connection but did not answer within "
            f"{choice.read_timeout_s:g} s.",
            "It may be overloaded or stuck: check again in a minute, and tell the server's "
            "administrator if it keeps happening.",
            Remedy.RETRY,
        ) from None
    except (http.client.HTTPException, OSError) as exc:
        advice = (
            "It does not speak HTTP: check the port, or whether the server wants https://."
            if not address.https
            else "Check the port in the address with IT."
        )
        raise _fail(
            step,
            f"{address.host} port {address.port} did not answer as a web server does "
            f"({type(exc).__name__}).",
            advice,
            Remedy.ADDRESS,
        ) from None


def _server_error(step: CheckStep, answer: _Answer) -> _StepFailed:
    return _fail(
        step,
        f"The server answered HTTP {answer.status}: it is running, but failing.",
        "Check again in a minute; if it keeps failing, tell the server's administrator "
        "(the server's log says why).",
        Remedy.RETRY,
    )


def _detail(answer: _Answer) -> str:
    body = answer.body
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return str(body["detail"])
    return f"HTTP {answer.status}"


def _is_beacon(answer: _Answer) -> str | None:
    body = answer.body
    if answer.status != 200 or not isinstance(body, dict):
        return None
    if body.get("algorithm") != "Ed25519" or not isinstance(body.get("key_id"), str):
        return None
    return str(body["key_id"])


def check_connection(
    choice: ServerChoice,
    on_step: Callable[[StepResult], None] | None = None,
    resolve: Resolver = _resolve,
) -> ConnectionReport:
    """Check every step from the typed address to an accepted token; ``on_step`` is called
    with each result as it is known (from the calling thread)."""
    if workstation_problem(choice.workstation) is not None:
        raise ValueError(f"not a workstation name: {choice.workstation!r}")
    results: list[StepResult] = []

    def passed(step: CheckStep, detail: str, state: StepState = StepState.PASSED) -> None:
        result = StepResult(step, state, detail)
        results.append(result)
        if on_step is not None:
            on_step(result)

    try:
        address = _understood(choice)
        passed(CheckStep.ADDRESS, address.url)
        targets = _found(address, resolve)
        passed(
            CheckStep.HOST,
            f"{address.host} is an IP address: nothing to look up."
            if _is_ip(address.host)
            else f"{address.host} is {', '.join(t[0] for t in targets[:3])}.",
        )
        try:
            sock, connected, trusted = _connected(address, targets, choice)
        except _CertificateRefused as refused:
            passed(CheckStep.CONNECTED, f"{refused.peer}.")
            raise refused.failure from None
        sock.close()
        passed(CheckStep.CONNECTED, connected)
        if address.https:
            passed(CheckStep.CERTIFICATE, trusted)
        else:
            passed(CheckStep.CERTIFICATE, "Plain http: no certificate.", StepState.SKIPPED)
        _check_server(choice, address, targets, passed)
    except _StepFailed as failed:
        results.append(failed.result)
        if on_step is not None:
            on_step(failed.result)
    done = {result.step for result in results}
    results.extend(StepResult(step, StepState.NOT_RUN) for step in CheckStep if step not in done)
    report = ConnectionReport(tuple(results))
    failure = report.failure
    # The step, never the typed text: a user name or password typed into the address is
    # refused at step 1, and must not reach the log either.
    log.info(
        "first-run connection check: %s",
        "passed" if failure is None else f"{failure.step.name.lower()} failed",
    )
    return report


def _certificate_refused(peer: str, reason: str, ca_file: Path | None) -> _StepFailed:
    if ca_file is not None:
        advice = (
            f"The CA file {ca_file.name} is not the authority that signed this "
            "server's certificate: ask IT for the right one. If the message says the name does "
            "not match, type the server's name exactly as IT gave it."
        )
    else:
        advice = (
            "Agencies often sign their servers' certificates themselves: choose the agency's CA "
            "certificate file (IT has it, a .pem or .crt file). If the message says the name "
            "does not match, type the server's name exactly as IT gave it."
        )
    return _fail(
        CheckStep.CERTIFICATE,
        f"The certificate of {peer} is not trusted: {reason}.",
        advice,
        Remedy.CA_FILE,
    )


def _check_server(
    choice: ServerChoice,
    address: _Address,
    targets: list[tuple[str, int]],
    passed: Callable[[CheckStep, str], None],
) -> None:
    answer = _asked(CheckStep.BEACON, address, CHECKPOINT_KEY_PATH, choice, targets, None)
    key_id = _is_beacon(answer)
    if key_id is None:
        if answer.status >= 500:
            raise _server_error(CheckStep.BEACON, answer)
        raise _fail(
            CheckStep.BEACON,
            f"{address.host} port {address.port} answered HTTP {answer.status} "
            f"({answer.content_type}) where a Beacon sync server gives its checkpoint key: it "
            "is another kind of server.",
            "Check the port and any path in the address: it must be the Beacon sync server's "
            "(IT has it; for example https://audit.city.example:8470).",
            Remedy.ADDRESS,
        )
    passed(CheckStep.BEACON, f"Beacon sync server, checkpoint key {key_id}.")
    workstation = choice.workstation
    head_path = f"/v1/workstations/{quote(workstation, safe='')}/head"
    answer = _asked(CheckStep.TOKEN, address, head_path, choice, targets, choice.token)
    if answer.status == 401:
        raise _fail(
            CheckStep.TOKEN,
            f"The server refused the token: {_detail(answer)}.",
            f"Ask IT (the sync server's administrator) for a new token for workstation "
            f"{workstation} and paste it here.",
            Remedy.TOKEN,
        )
    if answer.status >= 500:
        raise _server_error(CheckStep.TOKEN, answer)
    if answer.status not in (200, 403, 404):
        raise _fail(
            CheckStep.TOKEN,
            f"The server answered HTTP {answer.status}: {_detail(answer)}.",
            "Tell the server's administrator what it said.",
            Remedy.RETRY,
        )
    passed(CheckStep.TOKEN, "The server knows this token.")
    if answer.status == 403:
        other = _OTHER_WORKSTATION.search(_detail(answer))
        belongs = (
            f"The token belongs to workstation {other.group(1)}, not {workstation}."
            if other
            else f"The token may not be used by {workstation}: {_detail(answer)}."
        )
        raise _fail(
            CheckStep.WORKSTATION,
            belongs,
            "If this is that workstation, change the workstation name to match; otherwise "
            f"ask IT for a token of {workstation}.",
            Remedy.WORKSTATION,
        )
    if answer.status == 404:
        raise _fail(
            CheckStep.WORKSTATION,
            f"The server has no workstation {workstation} registered.",
            f"Ask IT to register it ({REGISTER_HINT.format(workstation=workstation)}) and "
            "to give you its token, or correct the workstation name.",
            Remedy.WORKSTATION,
        )
    seq = answer.body.get("seq") if isinstance(answer.body, dict) else None
    passed(
        CheckStep.WORKSTATION,
        f"Workstation {workstation} is registered"
        + (f"; the server holds {seq} of its audit events." if isinstance(seq, int) else "."),
    )


# --- the keyring, local users, the demo --------------------------------------------------------


def keyring_problem(settings: Settings) -> str | None:
    """Why the token cannot be kept in this workstation's keyring, or None."""
    if settings.security.keyring_backend == "file":
        return None  # the demo's file keyring: made when the token is stored
    try:
        CredentialStore.for_settings(settings)
    except InsecureKeyringError as exc:
        return str(exc)
    return None


def store_token(settings: Settings, token: str) -> None:
    """Keep ``token`` in the keyring under the name the sync clients read for ``settings``."""
    CredentialStore.for_settings(settings).set_secret(sync_token_name(settings), token)


def has_local_users(settings: Settings) -> bool:
    """Whether the workstation's registry has any account (no registry yet: none)."""
    if not settings.registry_db.exists():
        return False
    engine = open_database(settings.registry_db, REGISTRY)
    try:
        with Session(engine) as session:
            return bool(session.scalar(select(func.count()).select_from(User)))
    finally:
        engine.dispose()


def admin_problem(username: str, password: str, repeated: str) -> str | None:
    """Why the first administrator cannot be made from these, or None."""
    if not USER_NAME.match(username):
        return (
            "A user name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or "
            "digit (for example j.doe)."
        )
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"The password needs at least {MIN_PASSWORD_LENGTH} characters."
    if password != repeated:
        return "The two passwords differ: type the same password twice."
    return None


def create_first_admin(
    settings: Settings, username: str, password: str, actor: str, clock: Clock
) -> None:
    """The workstation's first account, an administrator, audited as ``beacon user add`` is."""
    problem = admin_problem(username, password, password)
    if problem is not None:
        raise FirstRunError(problem)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = open_database(settings.registry_db, REGISTRY)
    audit = AuditLog.open(settings.audit_db, settings.workstation, clock)
    try:
        with Session(engine) as session:
            existing = session.scalar(select(User).where(User.username == username))
            if existing is not None:
                if existing.role is Role.ADMIN and verify_password(
                    password, existing.password_hash
                ):
                    return  # made by an earlier Finish that could not write the settings
                raise FirstRunError(f"An account {username!r} exists already: choose another name.")
            audit.record(
                AuditEventType.USER_ADMIN,
                actor=actor,
                subject=username,
                details={"action": "add", "role": Role.ADMIN.value, "source": "first_run"},
            )
            create_user(session, username, username, Role.ADMIN, password, clock)
            session.commit()
    finally:
        audit.close()
        engine.dispose()


def prepare_demo(data_dir: Path, actor: str, clock: Clock) -> None:
    """Build the demo city into ``data_dir`` unless it is there already (``beacon demo
    ensure``); a registry there that is not the demo's is refused."""
    if has_registry(data_dir):
        if not (data_dir / SCRIPT_NAME).is_file():
            raise FirstRunError(
                f"{data_dir} already holds a camera registry that is not the demo city, and the "
                "demo is never mixed into real data. Connect to the agency's server instead, or "
                "try the demo elsewhere: beacon demo init --data-dir OTHER-FOLDER."
            )
        return
    city = build_demo_city(data_dir, clock)
    audit = AuditLog.open(data_dir / "audit.sqlite", WORKSTATION, clock)
    try:
        city.record_import(audit, actor, data_dir / "beacon.sqlite")
    finally:
        audit.close()


# --- the settings file -------------------------------------------------------------------------

HEADER = (
    "# Beacon settings, written by the first-run set-up (`beacon setup` runs it again).\n"
    '# Every setting and its default: README.md, "Settings".\n'
)
COMMENTS = {
    "workstation": "this workstation's name: in every audit event, and its id on the server",
    "data_dir": "databases, the audit log and the console's log file",
    "security.keyring_backend": (
        'DEMO/TEST ONLY: "file" keeps secrets in a plain file under the data directory; a '
        'real workstation uses the OS keyring ("system")'
    ),
    "sync.server_url": "the agency's Beacon sync server; its token is in the keyring",
    "sync.ca_file": "the agency's CA certificate, trusted for the server's https",
    "sync.allow_plain_http": "the administrator's choice: the network is itself encrypted",
}


_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _toml_string(value: str) -> str:
    escaped = []
    for character in value:
        if character in '"\\':
            escaped.append("\\" + character)
        elif character in _ESCAPES:
            escaped.append(_ESCAPES[character])
        elif ord(character) < 0x20 or ord(character) == 0x7F:
            escaped.append(f"\\u{ord(character):04X}")
        else:
            escaped.append(character)
    return '"' + "".join(escaped) + '"'


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return _toml_string(str(value))
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"a setting cannot be {type(value).__name__}")


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_string(key)


def _toml_lines(values: Mapping[str, Any], section: str) -> list[str]:
    lines = []
    for key, value in values.items():
        if isinstance(value, Mapping):
            continue
        line = f"{_toml_key(key)} = {_toml_value(value)}"
        comment = COMMENTS.get(f"{section}.{key}" if section else key)
        if comment:
            lines.append(f"# {comment}")
        lines.append(line)
    return lines


def render_settings(values: Mapping[str, Any]) -> str:
    """``values`` (top-level keys and one level of tables) as commented TOML."""
    out = [HEADER.rstrip("\n"), *_toml_lines(values, "")]
    for name, table in values.items():
        if isinstance(table, Mapping):
            out += ["", f"[{_toml_key(name)}]", *_toml_lines(table, name)]
    return "\n".join(out) + "\n"


def _merged(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping):
            known = merged.get(key)
            merged[key] = _merged(known if isinstance(known, Mapping) else {}, value)
        elif value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def settings_text(path: Path, changes: Mapping[str, Any]) -> tuple[str, Settings]:
    """The settings file ``changes`` make of the one at ``path`` (if any), and the settings it
    gives (no environment); ``FirstRunError`` when they would not be valid. A value None
    removes its key."""
    existing: dict[str, Any] = {}
    if path.is_file():
        try:
            existing = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise FirstRunError(
                f"{path} is there but is not valid TOML ({exc}); move it away, then set up again"
            ) from None
    text = render_settings(_merged(existing, changes))
    try:
        return text, Settings.model_validate(tomllib.loads(text))
    except ValidationError as exc:
        raise FirstRunError(f"these settings would not be valid: {exc}") from None


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically: a reader sees the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".settings-", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    log.info("first run: settings written to %s", path)


def write_settings(path: Path, changes: Mapping[str, Any]) -> Settings:
    """Write ``changes`` into the settings file at ``path`` (``settings_text``), atomically."""
    text, settings = settings_text(path, changes)
    _replace(path, text)
    return settings


@dataclass(frozen=True, slots=True)
class FirstRunPlan:
    """Where the first run writes, and what it starts from: the settings before (defaults and
    environment), the settings file to write, the OS account that does it."""

    base: Settings
    config_path: Path
    actor: str
    data_dir_is_default: bool = True


def server_changes(plan: FirstRunPlan, choice: ServerChoice) -> dict[str, Any]:
    """The settings the server path sets: only what differs from the defaults, and the
    keys it owns under ``[sync]`` (a CA file no longer chosen is removed)."""
    sync: dict[str, Any] = {
        "server_url": _understood(choice).url,
        "workstation_id": None,  # the workstation name is its id on the server
        "ca_file": str(choice.ca_file.resolve()) if choice.ca_file else None,
        "allow_plain_http": True if choice.allow_plain_http else None,
    }
    changes: dict[str, Any] = {"workstation": choice.workstation, "sync": sync}
    if plan.base.security.keyring_backend == "file":
        changes["security"] = {"keyring_backend": "file"}
    if not plan.data_dir_is_default:
        changes["data_dir"] = str(plan.base.data_dir.resolve())
    return changes


def demo_changes(plan: FirstRunPlan) -> dict[str, Any]:
    """The demo city's settings (those ``beacon demo init`` writes beside it)."""
    return {
        "workstation": WORKSTATION,
        "data_dir": str(plan.base.data_dir.resolve()),
        "security": {"keyring_backend": "file"},
    }


def settings_with(plan: FirstRunPlan, changes: Mapping[str, Any]) -> Settings:
    """The settings ``changes`` would give on top of the plan's (for the keyring's name)."""
    return Settings.model_validate(_merged(plan.base.model_dump(mode="json"), changes))


@dataclass(frozen=True, slots=True)
class FirstAdmin:
    """The workstation's first account, asked for when it has none."""

    username: str
    password: str = field(repr=False)


def finish_with_server(
    plan: FirstRunPlan, choice: ServerChoice, admin: FirstAdmin | None, clock: Clock
) -> Settings:
    """The server path's writes, the settings file last (until it is there, the next start
    asks again): the token into the keyring, the first administrator, the settings."""
    changes = server_changes(plan, choice)
    text, written = settings_text(plan.config_path, changes)  # refused before anything is done
    target = settings_with(plan, changes)
    store_token(target, choice.token)
    if admin is not None:
        create_first_admin(target, admin.username, admin.password, plan.actor, clock)
    _replace(plan.config_path, text)
    return written


def finish_with_demo(plan: FirstRunPlan, clock: Clock) -> Settings:
    """The demo path's writes: the demo city (unless it is there), then the settings."""
    text, written = settings_text(plan.config_path, demo_changes(plan))
    prepare_demo(plan.base.data_dir, plan.actor, clock)
    _replace(plan.config_path, text)
    return written

"""The workstation's HTTP(S) link to the sync server, shared by its clients.

The audit log's upload (``audit_sync``), the registry's pull (``registry_sync``), the check of
the log against the server (``audit_server_check``) and the supervisor's replay of the server's
copy (``audit_replay_sources``) all speak to the same server with the same token, timeouts and
CA file, and sort what goes wrong the same way: the server cannot be reached (try again later)
or a person must act (token, registration, keyring, certificate). ``SyncConnection`` is where
the server is and how to reach it, read once from ``[sync]``; ``keyring_token`` reads a token
from the keyring the way every client does.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import ssl
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from app import __version__
from app.services.credentials import CredentialStoreError
from app.settings import Settings

MAX_ANSWER_BYTES = 16 * 1024 * 1024  # an acknowledgement (with its proofs) is a few KB
DOWNLOAD_CHUNK_BYTES = 1024 * 1024  # what ``ServerLink.download`` hands on at a time
TOKEN_HINT = "store the workstation's token with `beacon sync token`"  # noqa: S105 (advice)

TokenSource = Callable[[], str | None]
Answered = TypeVar("Answered")


class ServerUnreachable(Exception):
    """The server could not be reached or answered with an error: try again later."""


class SyncStalled(Exception):
    """A person must act (token, registration, keyring, files); tried again later all the same."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


def sync_token_name(settings: Settings) -> str:
    """The keyring name of the workstation's token. It names the workstation id and the server,
    so a token stored for one server is never offered to another after ``server_url`` changes."""
    server = urlsplit(settings.sync.server_url or "").netloc
    return f"sync:{settings.sync_workstation_id}@{server}"


def keyring_token(source: TokenSource) -> str | None:
    """The token ``source`` reads from the keyring, None (or empty) when none is stored there;
    ``SyncStalled`` when the keyring cannot be read."""
    try:
        return source()
    except CredentialStoreError as exc:
        raise SyncStalled("the keyring cannot be read", str(exc)) from None


def required_token(source: TokenSource, server: str) -> str:
    """The workstation's token for ``server`` from the keyring; ``SyncStalled`` when the keyring
    cannot be read or holds none."""
    token = keyring_token(source)
    if not token:
        raise SyncStalled(
            "no sync token",
            f"no workstation token for {server} is in the keyring: {TOKEN_HINT}",
        )
    return token


@dataclass(frozen=True, slots=True)
class SyncConnection:
    """Where the sync server is and how to reach it: the connection settings of ``[sync]``."""

    server_url: str
    ca_file: Path | None = None  # PEM certificates to trust for https; None: the system's
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0  # each answer of the server

    @classmethod
    def from_settings(cls, settings: Settings) -> SyncConnection | None:
        """The server ``[sync]`` names, or None when no server_url is set."""
        sync = settings.sync
        if sync.server_url is None:
            return None
        return cls(sync.server_url, sync.ca_file, sync.connect_timeout_s, sync.read_timeout_s)


def proof_hashes(values: Any) -> list[bytes]:
    """A proof's hashes from the wire: 64 hex digits each (else ValueError or TypeError)."""
    hashes = [bytes.fromhex(value) for value in values]
    if any(len(value) != 32 for value in hashes):
        raise ValueError("a proof's hashes are 32 bytes each")
    return hashes


@dataclass(frozen=True, slots=True)
class ServerAnswer:
    status: int
    body: Any  # the decoded JSON, or None


def answer_detail(answer: ServerAnswer) -> str:
    body = answer.body
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return str(body["detail"])
    return f"HTTP {answer.status}"


def refusal_text(answer: ServerAnswer, *, forbidden: str, refused: str) -> str:
    """What the evidence server's refusal means to a person: the token refused (401), a token
    that may not ``forbidden`` (403), or ``refused`` (what it refused) with its words."""
    detail = answer_detail(answer)
    if answer.status == 401:
        return f"the evidence server refused the token ({detail}); {TOKEN_HINT}"
    if answer.status == 403:
        return (
            f"the evidence server does not let this token {forbidden} ({detail}); ask the "
            "administrator for a workstation token"
        )
    return f"the evidence server refused {refused} (HTTP {answer.status}: {detail})"


class HashingWriter:
    """A download's receiver: writes each piece to an open file (``descriptor``) and hashes it."""

    def __init__(self, descriptor: int) -> None:
        self._descriptor = descriptor
        self._digest = hashlib.sha256()
        self.size = 0

    def __call__(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            view = view[os.write(self._descriptor, view) :]
        self._digest.update(chunk)
        self.size += len(chunk)

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()


def _os_reason(error: OSError) -> str:
    return (error.strerror or type(error).__name__).lower()


def _sent(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None = None,
) -> http.client.HTTPResponse:
    connection.request(method, path, body=body, headers=headers)
    return connection.getresponse()


class ServerLink:
    """One HTTP(S) connection to the sync server, kept open for the batches of one job."""

    def __init__(self, connection: SyncConnection) -> None:
        parts = urlsplit(connection.server_url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._ca_file = connection.ca_file
        self._connect_timeout_s = connection.connect_timeout_s
        self._read_timeout_s = connection.read_timeout_s
        self._connection: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()

    def _connect(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection
        if self._https:
            try:
                context = ssl.create_default_context(
                    cafile=str(self._ca_file) if self._ca_file else None
                )
            except (OSError, ssl.SSLError) as exc:
                raise SyncStalled(
                    "the sync server's CA file cannot be read",
                    f"{self._ca_file}: {exc}; fix ca_file under [sync] in the settings",
                ) from exc
            connection = http.client.HTTPSConnection(
                self._host, self._port, timeout=self._connect_timeout_s, context=context
            )
        else:
            connection = http.client.HTTPConnection(
                self._host, self._port, timeout=self._connect_timeout_s
            )
        try:
            connection.connect()
        except ssl.SSLCertVerificationError as exc:
            connection.close()
            raise SyncStalled(
                "the sync server's certificate is not trusted",
                f"{exc.verify_message or exc}; set ca_file under [sync] to the certificate "
                "of the server's authority",
            ) from exc
        except TimeoutError:
            connection.close()
            raise ServerUnreachable(f"no connection within {self._connect_timeout_s:g} s") from None
        except OSError as exc:
            connection.close()
            raise ServerUnreachable(_os_reason(exc)) from exc
        if connection.sock is not None:
            connection.sock.settimeout(self._read_timeout_s)
        return connection

    def request(
        self, method: str, path: str, token: str, body: bytes | None = None
    ) -> ServerAnswer:
        with self._lock:
            connection = self._connection
        if connection is None:
            connection = self._connect()
            with self._lock:
                self._connection = connection
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "User-Agent": f"Beacon-RTCC/{__version__}",
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            connection.request(method, self._prefix + path, body=body, headers=headers)
            response = connection.getresponse()
            raw = response.read(MAX_ANSWER_BYTES + 1)
            if response.will_close:
                self.close()
        except TimeoutError:
            self.close()
            raise ServerUnreachable(f"no answer within {self._read_timeout_s:g} s") from None
        except http.client.HTTPException as exc:
            self.close()
            raise ServerUnreachable(f"connection lost ({type(exc).__name__})") from exc
        except OSError as exc:
            self.close()
            raise ServerUnreachable(f"connection lost ({_os_reason(exc)})") from exc
        if len(raw) > MAX_ANSWER_BYTES:
            self.close()
            raise ServerUnreachable(f"the server's answer to {method} was too large")
        try:
            decoded = json.loads(raw) if raw else None
        except (UnicodeDecodeError, ValueError):
            decoded = None
        return ServerAnswer(response.status, decoded)

    def download(
        self,
        path: str,
        token: str,
        receive: Callable[[bytes], None],
        *,
        method: str = "GET",
        body: bytes | None = None,
    ) -> ServerAnswer:
        """GET ``path`` (or ``method`` it with the JSON ``body``: a case package is POSTed) and
        hand a 200's body to ``receive`` piece by piece as it arrives, without ``request``'s
        size cap (a video file; ``receive`` bounds it by raising); any other answer is read as
        ``request`` reads it. What ``receive`` raises ends the request and propagates as it is."""
        with self._lock:
            connection = self._connection
        if connection is None:
            connection = self._connect()
            with self._lock:
                self._connection = connection
        headers = {"Authorization": f"Bearer {token}", "User-Agent": f"Beacon-RTCC/{__version__}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = self._network(
                lambda: _sent(connection, method, self._prefix + path, headers, body)
            )
            if response.status != 200:
                raw = self._network(lambda: response.read(MAX_ANSWER_BYTES))
                self.close()
                try:
                    return ServerAnswer(response.status, json.loads(raw) if raw else None)
                except (UnicodeDecodeError, ValueError):
                    return ServerAnswer(response.status, None)
            while chunk := self._network(lambda: response.read(DOWNLOAD_CHUNK_BYTES)):
                receive(chunk)
            if response.length:  # the server closed before the end it announced
                raise ServerUnreachable("connection lost (the answer was cut off)")
        except BaseException:
            self.close()
            raise
        if response.will_close:
            self.close()
        return ServerAnswer(200, None)

    def _network(self, step: Callable[[], Answered]) -> Answered:
        """One step of ``download`` on the network, its failures sorted as ``request``'s."""
        try:
            return step()
        except TimeoutError:
            raise ServerUnreachable(f"no answer within {self._read_timeout_s:g} s") from None
        except http.client.HTTPException as exc:
            raise ServerUnreachable(f"connection lost ({type(exc).__name__})") from exc
        except OSError as exc:
            raise ServerUnreachable(f"connection lost ({_os_reason(exc)})") from exc

    def close(self) -> None:
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def abort(self) -> None:
        """From another thread: end a request that is waiting on the network, now."""
        with self._lock:
            sock = self._connection.sock if self._connection is not None else None
        if sock is not None:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

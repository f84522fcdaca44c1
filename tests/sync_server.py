"""The real sync server on loopback for the sync client's tests, two ways:

- ``ThreadServer``: ``server.app.create_app`` under uvicorn in a thread of the test process;
  ``stop()`` shuts it down (requests in flight are answered or cut), ``start()`` serves the
  same database on the same port again, signing with the same checkpoint key (set
  ``checkpoint_key`` to another file before ``start()`` for a server whose key changed).
- ``ProcessServer``: ``python -m server`` in a child process; ``kill()`` is SIGKILL, so a batch
  can be cut off anywhere, even inside the server's database transaction. Given a
  ``ServerCertificate`` (a CA and a certificate for 127.0.0.1, made at test time) it serves HTTPS.

Both share ``ServerDatabase``: registering workstations, issuing tokens and reading back what
the server stored, straight from its database.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.models.audit_chain import GENESIS_HASH
from server import ServerSettings, create_app
from server.clock import Clock, utc_now
from server.database import create_server_engine, migrate, session_factory
from server.models import ReceivedAuditEvent, TokenRole, Workstation
from server.tokens import issue_token, register_workstation, revoke_token

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for(condition: Any, timeout: float = 30.0, what: str = "the condition") -> None:
    """Poll ``condition`` until it is true (not a sleep: returns as soon as it holds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.01)


@dataclass(frozen=True, slots=True)
class StoredRow:
    seq: int
    record: bytes
    hash: bytes
    prev_hash: bytes


class ServerDatabase:
    """The server's database, for the test's administrator: register, issue, read back."""

    def __init__(self, db_url: str) -> None:
        self.url = db_url
        self.engine = create_server_engine(db_url)
        migrate(self.engine)
        self.sessions: sessionmaker[Session] = session_factory(self.engine)

    def register(self, workstation_id: str) -> str:
        """Register a workstation; its token."""
        now = datetime.now(UTC)
        with self.sessions.begin() as session:
            register_workstation(session, workstation_id, now)
            issued = issue_token(
                session,
                TokenRole.WORKSTATION,
                now,
                timedelta(days=30),
                workstation_id=workstation_id,
            )
            return issued.secret

    def token(self, workstation_id: str) -> tuple[int, str]:
        """Another token of a registered workstation: (id, secret)."""
        with self.sessions.begin() as session:
            issued = issue_token(
                session,
                TokenRole.WORKSTATION,
                datetime.now(UTC),
                timedelta(days=30),
                workstation_id=workstation_id,
            )
            return issued.token.id, issued.secret

    def revoke(self, token_id: int) -> None:
        with self.sessions.begin() as session:
            revoke_token(session, token_id, datetime.now(UTC))

    def rows(self, workstation_id: str) -> list[StoredRow]:
        with self.sessions() as session:
            found = session.scalars(
                select(ReceivedAuditEvent)
                .where(ReceivedAuditEvent.workstation_id == workstation_id)
                .order_by(ReceivedAuditEvent.seq)
            )
            return [
                StoredRow(row.seq, bytes(row.record), bytes(row.hash), bytes(row.prev_hash))
                for row in found
            ]

    def head(self, workstation_id: str) -> tuple[int, bytes]:
        with self.sessions() as session:
            workstation = session.get(Workstation, workstation_id)
            if workstation is None:
                return 0, GENESIS_HASH
            return workstation.head_seq, bytes(workstation.head_hash)

    def close(self) -> None:
        self.engine.dispose()


def _temporary_key_file(server: object) -> Path:
    """Where ``server`` keeps its signing key: a folder of its own, removed with the server."""
    folder = tempfile.mkdtemp(prefix="beacon-sync-key-")
    weakref.finalize(server, shutil.rmtree, folder, ignore_errors=True)
    return Path(folder) / "key.pem"


class ThreadServer:
    """The sync server under uvicorn in a thread, on one port for its whole life."""

    def __init__(
        self,
        db_url: str,
        port: int | None = None,
        *,
        clock: Clock = utc_now,
        **settings: Any,
    ) -> None:
        self.db_url = db_url
        self.port = port or free_port()
        self.clock = clock
        self.settings = ServerSettings(**settings)
        # Its own signing key, kept across a stop and a start, never the user's data folder.
        self.checkpoint_key = self.settings.checkpoint_key_file or _temporary_key_file(self)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ThreadServer:
        settings = self.settings.model_copy(update={"checkpoint_key_file": self.checkpoint_key})
        application = create_app(self.db_url, settings=settings, clock=self.clock)
        config = uvicorn.Config(
            application, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="sync-server", daemon=True)
        thread.start()
        wait_for(lambda: server.started or not thread.is_alive(), 30, "the server's start")
        assert server.started, "uvicorn did not start (port taken?)"
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(30)
        assert not self._thread.is_alive(), "uvicorn did not stop"
        self._server = self._thread = None


@dataclass(frozen=True, slots=True)
class ServerCertificate:
    """A server certificate for 127.0.0.1 and localhost, signed by a CA made for one test."""

    ca_file: Path  # the CA's certificate: what a client must trust
    certfile: Path
    keyfile: Path

    @classmethod
    def make(cls, folder: Path) -> ServerCertificate:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        now = datetime.now(UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Beacon test CA")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        server_key = ec.generate_private_key(ec.SECP256R1())
        server = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name)
            .public_key(server_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                        x509.DNSName("localhost"),
                    ]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        made = cls(folder / "ca.pem", folder / "server.pem", folder / "server-key.pem")
        made.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        made.certfile.write_bytes(server.public_bytes(serialization.Encoding.PEM))
        made.keyfile.write_bytes(
            server_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return made


class ProcessServer:
    """``python -m server`` in a child process, to be killed outright."""

    def __init__(
        self, db_url: str, port: int | None = None, tls: ServerCertificate | None = None
    ) -> None:
        self.db_url = db_url
        self.port = port or free_port()
        self.tls = tls  # serve HTTPS with this certificate
        self._process: subprocess.Popen[bytes] | None = None
        # Its own signing key, kept across a kill and a restart, never the user's data folder.
        self.checkpoint_key = _temporary_key_file(self)

    @property
    def url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The running server's process id (the benchmark reads its CPU time)."""
        assert self._process is not None, "the server is not running"
        return self._process.pid

    def start(self) -> ProcessServer:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "server",
                "--db-url",
                self.db_url,
                "--port",
                str(self.port),
                "--checkpoint-key",
                str(self.checkpoint_key),
                *(
                    ["--certfile", str(self.tls.certfile), "--keyfile", str(self.tls.keyfile)]
                    if self.tls is not None
                    else []
                ),
            ],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._process = process

        def listening() -> bool:
            assert process.poll() is None, "the server process exited"
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                return False

        wait_for(listening, 60, "the server process's start")
        return self

    def kill(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(30)
            self._process = None

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(30)
            self._process = None

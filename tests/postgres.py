"""A real, throw-away PostgreSQL cluster from Debian's binaries, in a temporary directory.

``PostgresCluster.start()`` runs ``initdb`` and ``pg_ctl start`` (as the ``postgres`` user, or
``nobody``, when running as root: PostgreSQL refuses to run as root) with the data directory and
the Unix socket in a fresh temporary directory, listening on a free port on 127.0.0.1 with
``trust`` authentication and durability off (tests need speed, not crash safety). ``stop()``
stops it and removes the directory. It installs nothing: ``scripts/system-packages.sh`` (run by
``make test``) installs Debian's ``postgresql``.

Used by the server's tests and benchmarks:

    with PostgresCluster.start() as cluster:
        url = cluster.create_database("beacon")
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import psycopg

SUPERUSER = "postgres"
TEST_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "100",
    "log_min_messages": "warning",
}


class PostgresUnavailable(RuntimeError):
    """PostgreSQL's server binaries are not installed, or the cluster would not start."""


def find_bindir() -> Path:
    """The newest installed ``/usr/lib/postgresql/N/bin`` (Debian), else the PATH's initdb."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1].parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise PostgresUnavailable(
        "PostgreSQL's server (initdb, pg_ctl) is not installed: run scripts/system-packages.sh "
        "(or `apt-get install postgresql`)"
    )


def _service_user() -> str | None:
    """Whom to run PostgreSQL as: None for ourselves, else an unprivileged account."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise PostgresUnavailable("running as root with neither a postgres nor a nobody account")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class PostgresCluster:
    directory: Path
    bindir: Path
    port: int
    user: str | None
    started_in_s: float = 0.0
    _databases: int = 0

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def logfile(self) -> Path:
        return self.directory / "postgres.log"

    def _run(self, *command: str | Path) -> subprocess.CompletedProcess[str]:
        args: Sequence[str | Path] = command
        if self.user is not None:
            args = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(
            args,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            cwd=self.directory,  # the service user may not enter ours
        )

    @classmethod
    def start(cls, attempts: int = 3) -> PostgresCluster:
        bindir = find_bindir()
        user = _service_user()
        began = time.perf_counter()
        directory = Path(tempfile.mkdtemp(prefix="beacon-pg-"))
        if user is not None:
            account = pwd.getpwnam(user)
            os.chown(directory, account.pw_uid, account.pw_gid)
        cluster = cls(directory, bindir, 0, user)
        try:
            initdb = cluster._run(
                bindir / "initdb",
                "-D",
                cluster.data,
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            )
            if initdb.returncode != 0:
                raise PostgresUnavailable(f"initdb failed: {initdb.stderr.strip()}")
            for _ in range(attempts):  # another process may take the free port first
                cluster.port = _free_port()
                options = " ".join(
                    [f"-p {cluster.port}", f"-k {directory}"]
                    + [f"-c {key}={value}" for key, value in TEST_SETTINGS.items()]
                )
                started = cluster._run(
                    bindir / "pg_ctl",
                    "-D",
                    cluster.data,
                    "-l",
                    cluster.logfile,
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                )
                if started.returncode == 0:
                    cluster.started_in_s = time.perf_counter() - began
                    return cluster
            log = cluster.logfile.read_text(errors="replace")[-2000:]
            raise PostgresUnavailable(f"PostgreSQL would not start: {started.stderr}\n{log}")
        except BaseException:
            cluster.stop()
            raise

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host=str(self.directory),
            port=self.port,
            user=SUPERUSER,
            dbname="postgres",
            autocommit=True,
        )

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; its SQLAlchemy URL."""
        if name is None:
            self._databases += 1
            name = f"test_{self._databases}"
        with self._admin() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with self._admin() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(self.bindir / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

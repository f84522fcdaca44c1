"""What every subcommand shares: settings, the data directory, the audit log, the registry."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.services.audit_log import AuditLog
from app.services.clock import Clock, utc_now
from app.services.sqlite_store import REGISTRY, open_database
from app.settings import Settings


class CommandError(Exception):
    """A failure the user can act on: printed without a trace, with an exit code."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def os_actor() -> str:
    """The actor of a command-line action that names no Beacon user: the OS account."""
    return f"os:{getpass.getuser()}"


@dataclass
class CommandContext:
    settings: Settings
    clock: Clock = utc_now
    _audit: AuditLog | None = field(default=None, repr=False)
    _registry: Engine | None = field(default=None, repr=False)

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir

    def audit_log(self) -> AuditLog:
        if self._audit is None:
            self._audit = AuditLog.open(
                self.settings.audit_db, self.settings.workstation, self.clock
            )
        return self._audit

    def registry(self) -> Engine:
        if self._registry is None:
            self._registry = open_database(self.settings.registry_db, REGISTRY)
        return self._registry

    def sessions(self) -> Callable[[], Session]:
        return sessionmaker(self.registry(), expire_on_commit=False)

    def close(self) -> None:
        if self._audit is not None:
            self._audit.close()
            self._audit = None
        if self._registry is not None:
            self._registry.dispose()
            self._registry = None

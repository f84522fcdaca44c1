"""A background worker that talks to the sync server: what the audit log's upload
(``audit_sync.AuditSync``) and the registry's pull (``registry_sync.RegistrySync``) share.

One worker thread runs the subclass's job every ``interval_s`` (sooner when nudged), or one job
runs in the caller's thread (``beacon sync now``, ``beacon sync registry``); one job at a time,
under the job lock, over one connection that is closed after the job.

Failures
    The server down, a timeout or a 5xx (``ServerUnreachable``) and what needs a person
    (``SyncStalled``: a refused token, no token in the keyring, ...) are both retried with
    exponential backoff and jitter (``retry_initial_s`` doubling up to ``retry_max_s``), the
    first of a run logged as a warning, the recovery as info. The token is read from the
    keyring at the first request after a start or a failure, so a new one stored with
    ``beacon sync token`` is picked up at the next retry, and an idle worker reads neither the
    keyring nor the network.

State
    ``state()`` is a thread-safe snapshot that a status bar polls; ``on_change`` is called from
    the worker thread with each new state (a Qt consumer must queue it to its own thread).
"""

from __future__ import annotations

import logging
import random
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Generic, Required, TypedDict, TypeVar

from app.services.clock import Clock, utc_now
from app.services.credentials import CredentialStore
from app.services.sync_link import (
    TOKEN_HINT,
    ServerAnswer,
    ServerLink,
    ServerUnreachable,
    SyncConnection,
    SyncStalled,
    TokenSource,
    answer_detail,
    required_token,
    sync_token_name,
)
from app.settings import Settings

State = TypeVar("State")


def backoff_delay(failures: int, initial_s: float, max_s: float, jitter: float) -> float:
    """The wait after the ``failures``-th failure in a row: ``initial_s`` doubling up to
    ``max_s``, then cut by up to half at random (``jitter`` in [0, 1)) so that workstations
    that lost the server together do not all come back in the same second."""
    ceiling = min(max_s, initial_s * 2.0 ** min(failures - 1, 64))
    return ceiling * (0.5 + 0.5 * jitter)


class SyncWorkerArguments(TypedDict, total=False):
    """The keywords every sync worker takes besides its own: the server, the workstation id
    and its token source, and options (the defaults are ``SyncWorker``'s)."""

    server_url: Required[str]
    workstation_id: Required[str]
    token: Required[TokenSource]
    connect_timeout_s: float
    read_timeout_s: float
    retry_initial_s: float
    retry_max_s: float
    ca_file: Path | None
    clock: Clock
    jitter: Callable[[], float]


def worker_arguments(
    settings: Settings, credentials: CredentialStore, clock: Clock
) -> SyncWorkerArguments | None:
    """What ``[sync]`` says every worker needs (the token read from ``credentials`` under
    ``sync_token_name``), or None when no server_url is set."""
    connection = SyncConnection.from_settings(settings)
    if connection is None:
        return None
    name = sync_token_name(settings)
    return SyncWorkerArguments(
        server_url=connection.server_url,
        workstation_id=settings.sync_workstation_id,
        token=lambda: credentials.get_secret(name),
        connect_timeout_s=connection.connect_timeout_s,
        read_timeout_s=connection.read_timeout_s,
        retry_initial_s=settings.sync.retry_initial_s,
        retry_max_s=settings.sync.retry_max_s,
        ca_file=connection.ca_file,
        clock=clock,
    )


class SyncWorker(ABC, Generic[State]):
    """The thread, the job lock, the backoff, the token and the state of one sync client.

    A subclass does its job in ``_work`` (raising ``ServerUnreachable`` or ``SyncStalled``),
    says what a 404 means in ``_not_found`` and publishes its state after a failure in
    ``_publish_failure``. It names itself in its class statement, for its thread and its log
    lines (written to its own module's logger):
    ``class AuditSync(SyncWorker[SyncState], name="audit sync", toward="to")``.
    """

    _log: ClassVar[logging.Logger]
    _name: ClassVar[str]  # "audit sync": "the audit sync worker did not stop within 5 s"
    _toward: ClassVar[str]  # "audit sync to": "audit sync to <server> works again"

    def __init_subclass__(cls, *, name: str, toward: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._log = logging.getLogger(cls.__module__)
        cls._name = name
        cls._toward = f"{name} {toward}"

    def __init__(
        self,
        interval_s: float,
        state: State,
        on_change: Callable[[State], None] | None,
        /,
        *,
        server_url: str,
        workstation_id: str,
        token: TokenSource,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 30.0,
        retry_initial_s: float = 2.0,
        retry_max_s: float = 300.0,
        ca_file: Path | None = None,
        clock: Clock = utc_now,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.server_url = server_url
        self.workstation_id = workstation_id
        self._token = token
        self._interval_s = interval_s
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._clock = clock
        self._jitter = jitter
        self._on_change = on_change
        self._link = ServerLink(
            SyncConnection(server_url, ca_file, connect_timeout_s, read_timeout_s)
        )

        # Used by one job at a time (the worker's, or one in the caller's thread), under
        # _job_lock.
        self._job_lock = threading.Lock()
        self._cached_token: str | None = None
        self._failures = 0
        self._failing_since: datetime | None = None

        self._state_lock = threading.Lock()
        self._state = state
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._last_job = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- the thread ------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, name=self._name.replace(" ", "-"), daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0, *, flush: bool = False) -> None:
        """Stop the worker. ``flush``: let it first do one more job (send what was written up
        to now), if that takes less than ``timeout``. Then a request still waiting on the
        network is cut off."""
        thread = self._thread
        if flush and thread is not None and thread.is_alive():
            self._last_job.set()
            self._wake.set()
            thread.join(timeout)
        self._stopping.set()
        self._wake.set()
        self._link.abort()
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                self._log.warning("the %s worker did not stop within %g s", self._name, timeout)
        self._link.close()

    def nudge(self) -> None:
        """Do the job (or retry) now rather than at the next interval."""
        self._wake.set()

    def state(self) -> State:
        with self._state_lock:
            return self._state

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            last = self._last_job.is_set()  # set before the job: it sees all written so far
            delay = self._job(scheduled=True)
            if last or self._stopping.is_set():
                break
            self._wake.wait(delay)

    # ---- one job ---------------------------------------------------------------------------

    def _job(self, *, scheduled: bool) -> float | None:
        """Do the job; the seconds until the next one (None: only when nudged)."""
        with self._job_lock:
            try:
                if not self._work():
                    return None
            except (ServerUnreachable, SyncStalled) as failure:
                self._cached_token = None  # read the keyring again (a new token?)
                if self._stopping.is_set():
                    return None
                return self._failed(failure, scheduled)
            finally:
                # One connection per job: between jobs the server would close it as idle, and
                # the next job's first request would fail on a dead socket.
                self._link.close()
            if self._failures:
                self._log.info("%s %s works again", self._toward, self.server_url)
            self._failures = 0
            self._failing_since = None
            return self._interval_s

    @abstractmethod
    def _work(self) -> bool:
        """The job itself; False when it must not run again until nudged (and did not
        succeed). Raises ``ServerUnreachable`` or ``SyncStalled`` to be retried."""

    def _failed(self, failure: ServerUnreachable | SyncStalled, scheduled: bool) -> float:
        now = self._clock()
        self._failures += 1
        if self._failing_since is None:
            self._failing_since = now
        delay = backoff_delay(
            self._failures, self._retry_initial_s, self._retry_max_s, self._jitter()
        )
        if isinstance(failure, SyncStalled):
            reason, detail = failure.reason, failure.detail
        else:
            reason, detail = "server unreachable", str(failure)
        if self._failures == 1:
            self._log.warning("%s %s: %s (%s)", self._toward, self.server_url, reason, detail)
        self._publish_failure(
            stalled=isinstance(failure, SyncStalled),
            reason=reason,
            detail=detail,
            failing_since=self._failing_since,
            retry_at=now + timedelta(seconds=delay) if scheduled else None,
        )
        return delay

    @abstractmethod
    def _publish_failure(self, *, stalled: bool, **fields: Any) -> None:
        """Publish the state after a failed job: stalled (a person must act) or unreachable,
        with the state's ``reason``, ``detail``, ``failing_since`` and ``retry_at`` (None when
        no retry is scheduled: a job in the caller's thread)."""

    def _token_now(self) -> str:
        """The token, read from the keyring at the first request after a start or a failure."""
        if self._cached_token is not None:
            return self._cached_token
        token = required_token(
            self._token, f"workstation {self.workstation_id} at {self.server_url}"
        )
        self._cached_token = token
        return token

    def _refusal(self, answer: ServerAnswer) -> Exception:
        """What a failed answer means: a refused token, ``_not_found``, or a server error."""
        detail = answer_detail(answer)
        if answer.status == 401:
            return SyncStalled("sync token refused by the server", f"{detail}; {TOKEN_HINT}")
        if answer.status == 403:
            return SyncStalled(
                f"sync token not valid for workstation {self.workstation_id}", detail
            )
        if answer.status == 404:
            return self._not_found(detail)
        return ServerUnreachable(f"server error {answer.status}: {detail}")

    @abstractmethod
    def _not_found(self, detail: str) -> SyncStalled:
        """What a 404 from the server means to this client (``detail``: the server's words)."""

    # ---- state -----------------------------------------------------------------------------

    def _set_state(self, state: State) -> None:
        with self._state_lock:
            changed = state != self._state
            self._state = state
        if changed and self._on_change is not None:
            try:
                self._on_change(state)
            except Exception:  # a broken listener must not stop the sync
                self._log.exception("%s state listener failed", self._name)

"""Work that must not run on the UI thread (registry reads, password checks, audit writes).

A job is a plain callable run on a ``QThreadPool``; its result or exception comes back to the UI
thread as a queued signal and is handed to the callback given with the job. Jobs receive and
return plain values (dataclasses, tuples), never ORM objects, and open their own short-lived
database sessions inside the worker thread.

Failures without a callback of their own go to one channel, ``failed``, which the main window
shows in its status bar and logs (napari's single notification manager, in spirit).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import shiboken6
from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal

log = logging.getLogger(__name__)

T = TypeVar("T")

ErrorCallback = Callable[[Exception], None]


class _Job(QRunnable):
    def __init__(self, job_id: int, work: Callable[[], Any], jobs: BackgroundJobs) -> None:
        super().__init__()
        self._job_id = job_id
        self._work = work
        self._jobs = jobs

    def run(self) -> None:
        try:
            result = self._work()
        except Exception as exc:  # every failure is reported, none is lost in a thread
            self._jobs._failed_in_worker.emit(self._job_id, exc)
        else:
            self._jobs._done_in_worker.emit(self._job_id, result)


@dataclass(frozen=True, slots=True)
class _Pending:
    what: str
    on_done: Callable[[Any], None]
    on_error: ErrorCallback | None
    owner: QObject | None


class BackgroundJobs(QObject):
    """A small pool for the console's blocking work, with results delivered on the UI thread."""

    failed = Signal(str)  # the one error channel: "what failed: why"

    _done_in_worker = Signal(int, object)
    _failed_in_worker = Signal(int, object)

    def __init__(self, parent: QObject | None = None, max_threads: int = 2) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._closed = False
        queued = Qt.ConnectionType.QueuedConnection
        self._done_in_worker.connect(self._deliver_result, queued)
        self._failed_in_worker.connect(self._deliver_failure, queued)

    @property
    def idle(self) -> bool:
        """True when no job is running or waiting to deliver its result."""
        return not self._pending

    def submit(
        self,
        what: str,
        work: Callable[[], T],
        on_done: Callable[[T], None],
        on_error: ErrorCallback | None = None,
        *,
        owner: QObject | None = None,
    ) -> None:
        """Run ``work`` off the UI thread; ``on_done``/``on_error`` run later on the UI thread.

        ``what`` names the job for the error channel ("Reading the camera list"). When ``owner``
        (the widget the callbacks update) has been deleted by then, the result is dropped.
        """
        if self._closed:
            log.warning("%s: not started, the console is shutting down", what)
            return
        job_id = next(self._ids)
        self._pending[job_id] = _Pending(what, on_done, on_error, owner)
        self._pool.start(_Job(job_id, work, self))

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Wait for started jobs (an audit write must finish); drop results not yet delivered."""
        self._closed = True
        self._pool.clear()
        if not self._pool.waitForDone(timeout_ms):
            log.error("background jobs still running after %d ms at shutdown", timeout_ms)
        self._pending.clear()

    def _take(self, job_id: int) -> _Pending | None:
        entry = self._pending.pop(job_id, None)
        if entry is None or self._closed:
            return None
        if entry.owner is not None and not shiboken6.isValid(entry.owner):
            return None
        return entry

    def _deliver_result(self, job_id: int, result: object) -> None:
        entry = self._take(job_id)
        if entry is not None:
            entry.on_done(result)

    def _deliver_failure(self, job_id: int, error: object) -> None:
        entry = self._take(job_id)
        assert isinstance(error, Exception)
        if entry is None:
            log.error("a background job failed after its owner went away", exc_info=error)
            return
        if entry.on_error is not None:
            # The caller expects and shows this failure (a wrong password, say): no trace.
            log.debug("%s failed", entry.what, exc_info=error)
            entry.on_error(error)
        else:
            log.error("%s failed", entry.what, exc_info=error)
            self.failed.emit(f"{entry.what} failed: {error}")

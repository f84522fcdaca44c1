"""Guard against a PySide6 fault seen in 6.12.0: calls from Qt into Python released references
to None/True/False they never took, which aborts CPython 3.11 ("bool_dealloc") within minutes
of a console running. Every PySide6 upgrade must keep these counts steady."""

from __future__ import annotations

import sys

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QRunnable, QThreadPool, Signal

ROUNDS = 5000
TOLERANCE = 50  # other code may hold or drop a few references meanwhile; the fault was -ROUNDS


class _Emitter(QObject):
    with_none = Signal(object)
    with_bool = Signal(bool)
    bare = Signal()


class _Receiver(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.events = 0

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.User:
            self.events += 1
            return True
        return super().event(event)


class _Job(QRunnable):
    def run(self) -> None:
        return None


def _counts() -> tuple[int, int, int]:
    return sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False)


def _assert_steady(before: tuple[int, int, int], what: str) -> None:
    after = _counts()
    drift = [a - b for a, b in zip(after, before, strict=True)]
    assert all(abs(d) < TOLERANCE for d in drift), f"{what}: None/True/False refs drifted {drift}"


def test_signals_and_slots_keep_singleton_refcounts(qapp):
    emitter = _Emitter()
    calls = []
    emitter.with_none.connect(lambda value: calls.append(value))
    emitter.with_bool.connect(lambda value: calls.append(value))
    emitter.bare.connect(lambda: calls.append(0))
    before = _counts()
    for _ in range(ROUNDS):
        emitter.with_none.emit(None)
        emitter.with_bool.emit(True)
        emitter.with_bool.emit(False)
        emitter.bare.emit()
    assert len(calls) == 4 * ROUNDS
    calls.clear()
    _assert_steady(before, "signal emits")


def test_thread_pool_jobs_and_posted_events_keep_singleton_refcounts(qapp, qtbot):
    receiver = _Receiver()
    before = _counts()
    pool = QThreadPool()
    for _ in range(ROUNDS // 10):
        pool.start(_Job())
    pool.waitForDone()
    for _ in range(ROUNDS):
        QCoreApplication.postEvent(receiver, QEvent(QEvent.Type.User))
    qtbot.waitUntil(lambda: receiver.events == ROUNDS, timeout=10_000)
    _assert_steady(before, "thread pool jobs and posted events")

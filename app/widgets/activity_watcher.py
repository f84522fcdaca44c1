"""Notices keyboard and mouse input anywhere in the application, for the inactivity lock."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject

INPUT_EVENTS = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseButtonDblClick,
        QEvent.Type.MouseMove,
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
        QEvent.Type.TabletPress,
    }
)


class ActivityWatcher(QObject):
    """An application-wide event filter that remembers when the operator last gave input.

    ``monotonic`` is the time source (seconds); tests pass one they move by hand. The filter
    only reads events, it never consumes them.
    """

    def __init__(self, monotonic: Callable[[], float], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._monotonic = monotonic
        self.last_input = monotonic()

    def idle_seconds(self) -> float:
        return self._monotonic() - self.last_input

    def reset(self) -> None:
        self.last_input = self._monotonic()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in INPUT_EVENTS:
            self.last_input = self._monotonic()
        return False

"""The keyboard shortcut overlay (``?`` or F1): every shortcut of the console, on one card."""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

Shortcut = tuple[str, str]  # (what it does, the keys as the operator types them)
KEYS_COLUMNS = (0, 3)  # grid columns of the keys of each half (its text is the next column)
CARD_MARGIN = 16  # at least this much of the dimmed window shows left and right of the card


class ShortcutHelp(QWidget):
    """A dimmed overlay over its parent window listing the shortcuts; any key or click closes it."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("shortcutHelp")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._card = QFrame()
        self._card.setObjectName("shortcutCard")
        title = QLabel("Keyboard shortcuts")
        title.setObjectName("overlayTitle")
        self._grid = QGridLayout()
        self._grid.setHorizontalSpacing(18)
        self._grid.setVerticalSpacing(6)
        self._grid.setColumnMinimumWidth(KEYS_COLUMNS[1] - 1, 36)  # between the two halves
        footer = QLabel("Press any key or click to close")
        footer.setObjectName("mutedText")
        self._card_layout = QVBoxLayout(self._card)
        self._card_layout.addWidget(title)
        self._card_layout.addLayout(self._grid)
        self._card_layout.addWidget(footer)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self._card)
        row.addStretch(1)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(CARD_MARGIN, 4, CARD_MARGIN, 4)
        outer.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(1)
        self._one_line_width = 0
        self.hide()
        parent.installEventFilter(self)

    def set_shortcuts(self, shortcuts: Sequence[Shortcut]) -> None:
        while self._grid.count():
            item = self._grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        # Two columns of (keys, what) side by side: one column of 45 rows would not fit a
        # 1080-line screen without squeezing the rows.
        per_column = math.ceil(len(shortcuts) / 2)
        for number, (action, keys) in enumerate(shortcuts):
            row, first = number % per_column, KEYS_COLUMNS[number // per_column]
            key_label = QLabel(keys)
            key_label.setObjectName("shortcutKeys")
            self._grid.addWidget(key_label, row, first, Qt.AlignmentFlag.AlignRight)
            self._grid.addWidget(QLabel(action), row, first + 1)
        self._wrap(False)
        self._one_line_width = self._card.sizeHint().width()
        self._fit()

    def _action_labels(self) -> list[QLabel]:
        labels = []
        for first in KEYS_COLUMNS:
            for row in range(self._grid.rowCount()):
                item = self._grid.itemAtPosition(row, first + 1)
                label = item.widget() if item is not None else None
                if isinstance(label, QLabel):
                    labels.append(label)
        return labels

    def _wrap(self, wrap: bool) -> None:
        for label in self._action_labels():
            label.setWordWrap(wrap)

    def _fit(self) -> None:
        """One line per shortcut where the card fits; where it does not (a 1366x768 laptop
        screen), the long descriptions take two lines instead of running off the edge, and the
        text is a point smaller and the rows closer so that the taller card still fits."""
        narrow = self._one_line_width > self.width() - 2 * CARD_MARGIN
        if self._card.property("compact") != narrow:  # 10 pt instead of 11 (theme.qss)
            self._card.setProperty("compact", narrow)
            for widget in (self._card, *self._card.findChildren(QLabel)):
                widget.style().unpolish(widget)
                widget.style().polish(widget)
        self._wrap(narrow)
        self._grid.setVerticalSpacing(1 if narrow else 6)
        self._card_layout.setContentsMargins(*((20, 10, 20, 10) if narrow else (32, 24, 32, 24)))
        self._card_layout.setSpacing(6 if narrow else 16)

    def shortcuts_text(self) -> list[str]:
        """The rows as shown, "keys: what" (for tests and screen readers)."""
        texts = []
        for first in KEYS_COLUMNS:
            for row in range(self._grid.rowCount()):
                keys = self._grid.itemAtPosition(row, first)
                action = self._grid.itemAtPosition(row, first + 1)
                if keys is None or action is None:
                    continue
                key_label, action_label = keys.widget(), action.widget()
                if isinstance(key_label, QLabel) and isinstance(action_label, QLabel):
                    texts.append(f"{key_label.text()}: {action_label.text()}")
        return texts

    def open(self) -> None:
        parent = self.parentWidget()
        assert parent is not None
        self.setGeometry(parent.rect())
        self._fit()
        self.show()
        self.raise_()
        self.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        self.hide()
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.hide()
        event.accept()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        parent = self.parentWidget()
        if parent is not None and watched is parent and event.type() == QEvent.Type.Resize:
            self.setGeometry(parent.rect())
            self._fit()
        return False

"""Privacy masks drawn with the mouse and keys on a picture, previewed as the wall shows them."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor

from app.widgets.privacy_mask_editor import PrivacyMaskEditor

WIDTH, HEIGHT = 320, 180  # the picture; the editor shows it twice as large


@pytest.fixture
def editor(qtbot, themed) -> PrivacyMaskEditor:
    widget = PrivacyMaskEditor()
    qtbot.addWidget(widget)
    widget.resize(2 * WIDTH, 2 * HEIGHT)
    frame = np.full((HEIGHT, WIDTH, 3), 200, np.uint8)
    frame[:, :, 2] = 255  # a warm grey: no pixel of it is black
    widget.set_frame(frame)
    with qtbot.waitExposed(widget):
        widget.show()
    return widget


def at(x: float, y: float) -> QPoint:
    """The editor's point over normalised picture coordinates (x, y)."""
    return QPoint(round(2 * (x * (WIDTH - 1) + 0.5)), round(2 * (y * (HEIGHT - 1) + 0.5)))


def click(qtbot, editor: PrivacyMaskEditor, *points: tuple[float, float]) -> None:
    for x, y in points:
        qtbot.mouseClick(editor, Qt.MouseButton.LeftButton, pos=at(x, y))


def test_clicked_corners_closed_by_a_double_click_make_one_normalised_mask(qtbot, editor):
    with qtbot.waitSignal(editor.masks_changed) as changed:
        click(qtbot, editor, (0.1, 0.2), (0.5, 0.2), (0.5, 0.8))
        qtbot.mouseDClick(editor, Qt.MouseButton.LeftButton, pos=at(0.1, 0.8))
    (mask,) = changed.args[0]
    assert len(mask) == 4
    expected = [(0.1, 0.2), (0.5, 0.2), (0.5, 0.8), (0.1, 0.8)]
    for point, (x, y) in zip(mask, expected, strict=True):
        assert point == pytest.approx([x, y], abs=0.005)
    assert editor.masks == [mask] and editor.draft == []


def test_keys_close_take_back_drop_select_and_delete(qtbot, editor):
    click(qtbot, editor, (0.1, 0.1), (0.3, 0.1), (0.3, 0.3), (0.9, 0.9))
    qtbot.keyClick(editor, Qt.Key.Key_Backspace)  # the stray corner at (0.9, 0.9)
    assert len(editor.draft) == 3
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert len(editor.masks) == 1 and editor.masks[0][-1] == pytest.approx([0.3, 0.3], abs=0.005)

    click(qtbot, editor, (0.6, 0.6), (0.8, 0.6))
    qtbot.keyClick(editor, Qt.Key.Key_Escape)  # drops the polygon being drawn
    assert editor.draft == [] and len(editor.masks) == 1

    qtbot.keyClick(editor, Qt.Key.Key_Return)  # two corners: nothing to close
    assert len(editor.masks) == 1
    editor.selected = None
    click(qtbot, editor, (0.25, 0.15))  # inside the mask: selects it, draws nothing
    assert editor.selected == 0 and editor.draft == []
    with qtbot.waitSignal(editor.masks_changed) as changed:
        qtbot.keyClick(editor, Qt.Key.Key_Delete)
    assert changed.args[0] == [] and editor.selected is None


def test_page_down_steps_through_the_masks_for_the_keyboard(qtbot, editor):
    editor.set_masks([[[0.0, 0.0], [0.2, 0.0], [0.2, 0.2]], [[0.5, 0.5], [0.7, 0.5], [0.7, 0.7]]])
    editor.setFocus()
    qtbot.keyClick(editor, Qt.Key.Key_PageDown)
    assert editor.selected == 0
    qtbot.keyClick(editor, Qt.Key.Key_PageDown)
    assert editor.selected == 1
    qtbot.keyClick(editor, Qt.Key.Key_Delete)
    assert editor.masks == [[[0.0, 0.0], [0.2, 0.0], [0.2, 0.2]]]


def test_preview_shows_the_picture_blacked_out_where_the_mask_is_and_nothing_else(qtbot, editor):
    editor.set_masks([[[0.1, 0.2], [0.5, 0.2], [0.5, 0.8], [0.1, 0.8]]])
    editor.clearFocus()
    drawn = editor.grab().toImage()
    inside = QColor(drawn.pixel(at(0.3, 0.5)))
    assert inside != QColor(0, 0, 0)  # while editing: hatched over the picture, not black

    editor.set_preview_masked(True)
    shown = editor.grab().toImage()
    assert QColor(shown.pixel(at(0.3, 0.5))) == QColor(0, 0, 0)
    assert QColor(shown.pixel(at(0.12, 0.22))) == QColor(0, 0, 0)
    for x, y in ((0.7, 0.5), (0.3, 0.1), (0.3, 0.9), (0.05, 0.5)):
        assert QColor(shown.pixel(at(x, y))) == QColor(255, 200, 200), (x, y)
    masked = editor.masked_frame()
    assert masked is not None and masked[90, 96].max() == 0 and masked[90, 250].min() == 200
    assert editor.frame is not None and editor.frame[90, 96].min() == 200  # left unmasked

"""Every window readable on a 1366x768 laptop and on a 4K monitor at 150 % scaling, in both
themes: no label, button or field smaller than its text needs, no font under 9 pt.

Qt fixes its screens when the application starts, so each screen is a pytest run of its own in
a subprocess (``test_readable_on``): the offscreen platform with that one screen, and
``QT_SCALE_FACTOR=1.5`` for the 4K one. That run is the ``on_this_screen`` tests below, skipped
in the ordinary run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QFontInfo
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QWidget,
)
from pytestqt.exceptions import TimeoutError

from app.models.user import Role
from app.services.accounts import SignedInUser
from app.shell import configure_application
from app.widgets import palette
from app.widgets.theme import DARK

SCREEN_ENV = "BEACON_TEST_READABILITY_SCREEN"
SCREENS = {  # name: (width, height, QT_SCALE_FACTOR)
    "laptop-1366x768": (1366, 768, None),
    "4k-150-percent": (3840, 2160, "1.5"),
}
SMALLEST_POINTS = 9.0
SUPERVISOR = SignedInUser("sam", "Sam Reyes", Role.SUPERVISOR)
TECH = SignedInUser("priya", "Priya Tech", Role.FIELD_TECH)
TEXT_WIDGETS = (QLabel, QAbstractButton, QLineEdit, QComboBox, QAbstractSpinBox)
SPIN_BOX_FIELD = "qt_spinbox_lineedit"  # measured as its spin box, which draws its frame

on_this_screen = pytest.mark.skipif(
    SCREEN_ENV not in os.environ, reason="runs in test_readable_on's subprocess, on its screen"
)


@pytest.mark.slow
@pytest.mark.skipif(SCREEN_ENV in os.environ, reason="this is the subprocess")
@pytest.mark.parametrize("screen", SCREENS)
def test_readable_on(screen, tmp_path):
    width, height, scale = SCREENS[screen]
    config = tmp_path / "screens.json"
    config.write_text(
        json.dumps(
            {
                "screens": [
                    {
                        "name": screen,
                        "x": 0,
                        "y": 0,
                        "width": width,
                        "height": height,
                        "logicalDpi": 96,
                        "logicalBaseDpi": 96,
                        "dpr": 1,
                    }
                ]
            }
        )
    )
    env = {**os.environ, SCREEN_ENV: screen, "QT_QPA_PLATFORM": f"offscreen:configfile={config}"}
    env.pop("QT_SCALE_FACTOR", None)
    if scale is not None:
        env["QT_SCALE_FACTOR"] = scale
    result = subprocess.run(  # this interpreter, this file
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__, "-k", "screen_"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout.splitlines()[-1]


# ---- in the subprocess, on one screen ------------------------------------------------------


def points(widget: QWidget) -> float:
    """The font size the widget really gets, in points (pixel sizes converted at its dpi)."""
    return QFontInfo(widget.font()).pointSizeF()


def text_of(widget: QWidget) -> str:
    if isinstance(widget, QComboBox):
        return widget.currentText()
    if isinstance(widget, QAbstractSpinBox):
        return widget.text()
    text = getattr(widget, "text", None)
    return str(text()) if callable(text) else ""


def unreadable(root: QWidget) -> list[str]:
    """Every visible text widget under ``root`` smaller than it needs, or in too small a font."""
    problems = []
    for widget in [root, *root.findChildren(QWidget)]:
        if not isinstance(widget, TEXT_WIDGETS) or not widget.isVisible():
            continue
        if widget.objectName() == SPIN_BOX_FIELD:
            continue
        if widget.visibleRegion().isEmpty():  # on a dock tab that is not the current one
            continue
        name = f"{type(widget).__name__} {widget.objectName()!r} {text_of(widget)[:40]!r}"
        needed, size = widget.minimumSizeHint(), widget.size()
        if size.width() < needed.width() or size.height() < needed.height():
            problems.append(
                f"{name}: {size.width()}x{size.height()} < {needed.width()}x{needed.height()}"
            )
        if widget.hasHeightForWidth() and size.height() < widget.heightForWidth(size.width()):
            needed_height = widget.heightForWidth(size.width())
            problems.append(f"{name}: {size.height()} high < {needed_height} its lines need")
        shown = QRect(widget.mapTo(root, QPoint(0, 0)), size)
        if not root.rect().contains(shown):
            problems.append(f"{name}: {shown.getRect()} is cut off by the window's edge")
        if text_of(widget) and points(widget) < SMALLEST_POINTS:
            problems.append(f"{name}: {points(widget):.1f} pt")
    return problems


def fits_the_screen(window: QWidget) -> bool:
    """Its first size (before the operator touches it) is no larger than the screen."""
    area = window.screen().availableGeometry()
    return window.width() <= area.width() and window.height() <= area.height()


def fill_screen(qtbot, window: QWidget) -> None:
    area = window.screen().availableGeometry()
    window.setGeometry(area)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.size() == area.size() or window.isFullScreen())


@pytest.fixture(params=[False, True], ids=["dark", "high-contrast"])
def theme_on_screen(request, qapp):
    configure_application(qapp, high_contrast=request.param)
    yield
    configure_application(qapp)
    assert palette.current() is DARK


def check(qtbot, window: QWidget) -> None:
    """No unreadable widget once the layouts have caught up with the texts set while loading
    (a label's new text is laid out on a later turn of the event loop)."""
    scale = float(os.environ.get("QT_SCALE_FACTOR", "1"))
    assert window.devicePixelRatioF() == scale  # the screen this run is about
    try:
        qtbot.waitUntil(lambda: not unreadable(window), timeout=3000)
    except TimeoutError:
        problems = "\n".join(unreadable(window))
        pytest.fail(f"{window.objectName()} on {os.environ[SCREEN_ENV]}:\n{problems}")


@on_this_screen
def test_screen_main_window_and_map(qtbot, make_window, theme_on_screen):
    window = make_window()
    assert fits_the_screen(window)
    fill_screen(qtbot, window)
    assert window.minimumSizeHint().width() <= window.screen().availableGeometry().width()
    assert window.map_dock.isVisible() and window.camera_map.legend.isVisible()
    check(qtbot, window)
    window.help_action.trigger()
    check(qtbot, window.help_overlay)


@on_this_screen
def test_screen_wall_window(qtbot, make_window, theme_on_screen):
    window = make_window()
    wall_window = window.wall_windows.open_on(window.screen())
    qtbot.waitUntil(wall_window.isVisible)
    check(qtbot, wall_window)


@on_this_screen
def test_screen_replay(qtbot, make_window, theme_on_screen):
    window = make_window(user=SUPERVISOR)
    replay = window.open_replay()
    assert replay is not None and fits_the_screen(replay)
    fill_screen(qtbot, replay)
    check(qtbot, replay)


@on_this_screen
def test_screen_install_verifier(qtbot, make_window, theme_on_screen):
    window = make_window(user=TECH)
    verifier = window.open_install_verifier()
    assert verifier is not None and fits_the_screen(verifier)
    fill_screen(qtbot, verifier)
    check(qtbot, verifier)

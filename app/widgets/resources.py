"""Where the console's resources (theme, icons) live, in a source tree and in a bundle."""

from __future__ import annotations

import functools
import sys
from pathlib import Path


def resources_dir() -> Path:
    """The ``resources/`` folder: next to the package in a checkout, in ``_MEIPASS`` when frozen.

    The PyInstaller spec copies ``resources/`` to ``resources`` inside the bundle, and a frozen
    program finds its bundle through ``sys._MEIPASS``; everywhere else it is the repository root,
    two levels above this file (``app/widgets/resources.py``).
    """
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle is not None:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


@functools.cache
def theme_stylesheet() -> str:
    """The dark theme (``resources/theme.qss``), read once per process, icon paths resolved."""
    text = (resources_dir() / "theme.qss").read_text(encoding="utf-8")
    return text.replace("@ICONS@", (resources_dir() / "icons").as_posix())


def icon_path(name: str) -> Path:
    return resources_dir() / "icons" / name

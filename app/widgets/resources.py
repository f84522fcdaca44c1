"""Where the console's resources (theme, icons) live, in a source tree and in a bundle."""

from __future__ import annotations

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


def icon_path(name: str) -> Path:
    return resources_dir() / "icons" / name

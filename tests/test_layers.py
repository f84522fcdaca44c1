"""The core imports and works with no display and without Qt."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PROBE = """
import sys
import app.cli.main, app.models, app.services.audit_log, app.services.policy_gate
import app.services.credentials, app.video, app.settings
from app.models import Purpose
assert Purpose.parse("incident:1") is not None
loaded = sorted(name for name in sys.modules if name.split(".")[0] in {"PySide6", "pyqtgraph"})
assert not loaded, loaded
print("core ok")
"""


def test_core_imports_without_display_or_qt():
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DISPLAY", "QT_QPA_PLATFORM", "WAYLAND_DISPLAY"}
    }
    env["PYTHONPATH"] = str(REPO)
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=env,
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "core ok"


def test_beacon_runs_as_a_module():
    result = subprocess.run(
        [sys.executable, "-m", "app", "--version"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.startswith("beacon ")


def test_the_main_module_is_safe_to_import_as_spawned_children_do():
    """Decode processes are spawned; each imports the parent's main module as __mp_main__.
    Under `python -m app` that is app/__main__.py, which must not start the console then."""
    code = "import runpy; runpy.run_module('app', run_name='__mp_main__'); print('imported')"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        check=False,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imported"

"""``beacon self-test`` run as IT runs it: a separate process, offscreen, on a demo city."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from app.cli import main
from app.models.user import User
from app.services.audit_log import read_events, verify_file
from app.services.sqlite_store import REGISTRY, open_database
from app.settings import load_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("demo-city")
    assert main(["demo", "init", "--data-dir", str(directory)]) == 0
    return directory


def self_test(demo_dir: Path) -> tuple[int, dict[str, Any]]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    finished = subprocess.run(
        [sys.executable, "-m", "app", "self-test", "--demo-dir", str(demo_dir), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    return finished.returncode, json.loads(finished.stdout.strip().splitlines()[-1])


def test_the_self_test_signs_in_paints_and_closes_the_console(demo_city, tmp_path):
    demo_dir = tmp_path / "demo"
    shutil.copytree(demo_city, demo_dir)
    settings = load_settings(demo_dir / "settings.toml", demo_dir)
    events_before = len(list(read_events(settings.audit_db)))

    code, report = self_test(demo_dir)

    assert code == 0, report
    assert report["passed"] is True
    assert report["platform"] == "offscreen"
    checks = {check["name"]: check for check in report["checks"]}
    assert set(checks) == {
        "main window",
        "clean exit",
        "audit chain",
        "session audited",
        "video decoding",
        "text services",
    }
    assert all(check["passed"] for check in checks.values())
    timings = report["timings_ms"]
    assert 0 < timings["login_dialog_shown"] < timings["main_window_painted"]
    assert report["painted_at_epoch"] > 0
    # It really signed in and out through the console: the log of that data dir says so.
    kinds = [row["event_type"] for row in read_events(settings.audit_db)][events_before:]
    assert kinds[0] == "login" and kinds[-1] == "logout"
    assert verify_file(settings.audit_db).intact


def test_a_refused_sign_in_fails_the_self_test_at_once_with_the_reason(demo_city, tmp_path):
    demo_dir = tmp_path / "demo"
    shutil.copytree(demo_city, demo_dir)
    engine = open_database(demo_dir / "beacon.sqlite", REGISTRY)
    try:
        with engine.begin() as connection:
            connection.execute(update(User).values(active=False))
            assert connection.scalars(select(User.active)).all() == [False] * 4
    finally:
        engine.dispose()

    code, report = self_test(demo_dir)

    assert code == 1
    assert report["passed"] is False
    (window,) = [check for check in report["checks"] if check["name"] == "main window"]
    assert window["passed"] is False
    assert "refused" in window["detail"] and "do not match an active account" in window["detail"]
    assert "main_window_painted" not in report["timings_ms"]

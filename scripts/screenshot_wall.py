"""Screenshots of the live video wall, to look at: demo feeds opened through the real gate.

Run under a real X server (Xvfb)::

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python scripts/screenshot_wall.py

It builds the demo city into ``--data-dir`` (unless one is there), signs in as the demo operator
through the real login dialog, selects the most urgent incident, and opens demo cameras on a
3x3 wall through the policy gate: continuously shared ones (live), an emergency-only one and a
registered one (both denied, saying why). It saves the console, the wall with the overlay
hidden (``O``), a maximised tile and a 2x2 wall into ``--out-dir``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QWidget
from sqlalchemy.orm import sessionmaker

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.cli.main import main as beacon  # noqa: E402
from app.services.audit_log import AuditLog  # noqa: E402
from app.services.credentials import CredentialStore  # noqa: E402
from app.services.sqlite_store import REGISTRY, open_database  # noqa: E402
from app.settings import load_settings  # noqa: E402
from app.shell import ConsoleShell, configure_application, demo_cad_poll  # noqa: E402
from app.widgets.login_dialog import LoginDialog  # noqa: E402
from app.widgets.main_window import MainWindow  # noqa: E402

Step = tuple[str, Callable[[], bool], Callable[[], None]]
LIVE_FEEDS = 6


def save(widget: QWidget, path: Path) -> None:
    widget.grab().save(str(path))
    print(f"saved {path} ({widget.width()}x{widget.height()})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    temp = Path(tempfile.gettempdir())
    parser.add_argument("--data-dir", type=Path, default=temp / "wall-demo")
    parser.add_argument("--out-dir", type=Path, default=temp)
    parser.add_argument("--user", default="operator")
    parser.add_argument("--password", default="beacon-operator")
    parser.add_argument("--timeout-s", type=float, default=60)
    args = parser.parse_args()

    if not (args.data_dir / "beacon.sqlite").is_file():
        code = beacon(["demo", "init", "--data-dir", str(args.data_dir)])
        if code != 0:
            return code
    settings = load_settings(args.data_dir / "settings.toml", args.data_dir, env={})
    out: Path = args.out_dir
    out.mkdir(parents=True, exist_ok=True)

    app = QApplication(sys.argv[:1])
    configure_application(app)
    app.setQuitOnLastWindowClosed(False)
    credentials = CredentialStore.for_settings(settings)
    audit = AuditLog.open(settings.audit_db, settings.workstation)
    engine = open_database(settings.registry_db, REGISTRY)
    ui_state = Path(tempfile.mkdtemp()) / "ui.ini"
    shell = ConsoleShell(
        settings,
        audit=audit,
        sessions=sessionmaker(engine, expire_on_commit=False),
        credentials_insecure=credentials.insecure,
        credentials=credentials,
        cad_poll=demo_cad_poll(settings),
        window_state=QSettings(str(ui_state), QSettings.Format.IniFormat),
    )
    shell.start()
    screen = app.primaryScreen().availableGeometry()

    def dialog() -> LoginDialog:
        assert shell.login_dialog is not None
        return shell.login_dialog

    def window() -> MainWindow:
        assert shell.window is not None
        return shell.window

    def sign_in() -> None:
        dialog().username_edit.setText(args.user)
        dialog().password_edit.setText(args.password)
        dialog()._submit()

    def panels_full() -> bool:
        return (
            shell.window is not None
            and window().camera_list.model.rowCount() > 0
            and window().incident_panel.model.rowCount() > 0
        )

    def open_feeds() -> None:
        wall = window().wall
        window().incident_panel.focus_table()  # selects the most urgent incident
        wall.set_layout("3x3")
        rows = window().camera_list.model.rows
        live = [row for row in rows if row.policy_now == "continuous"][:LIVE_FEEDS]
        emergency = next(row for row in rows if row.policy_now == "emergency only")
        registered = next(row for row in rows if row.policy_now == "no live feed")
        chosen = [*live[:4], emergency, *live[4:], registered]
        for tile, row in zip(wall.tiles, chosen, strict=False):
            wall.open_camera(tile, row.camera_id)
        wall.tiles[0].setFocus()

    def feeds_live() -> bool:
        tiles = window().wall.tiles
        live = [t for t in tiles if t.has_picture and t.status_text == "live"]
        refused = [t for t in tiles if t.status_text.startswith("denied")]
        return (
            len(live) >= LIVE_FEEDS and len(refused) >= 1 and all(t.measured_fps > 0 for t in live)
        )

    def hide_overlay() -> None:
        window().wall.set_overlay_visible(False)

    def maximise() -> None:
        wall = window().wall
        wall.set_overlay_visible(True)
        wall.maximise(wall.tiles[1])

    def two_by_two() -> None:
        wall = window().wall
        wall.restore()
        wall.set_layout("2x2")

    def settled() -> bool:
        tiles = window().wall.tiles
        return all(t.has_picture for t in tiles if t.handle is not None)

    ticks = {"n": 0}

    def after(count: int) -> Callable[[], bool]:
        def ready() -> bool:
            ticks["n"] += 1
            if ticks["n"] >= count:
                ticks["n"] = 0
                return True
            return False

        return ready

    steps: list[Step] = [
        ("login dialog", lambda: shell.login_dialog is not None, sign_in),
        ("signed in", lambda: shell.window is not None, lambda: window().setGeometry(screen)),
        ("panels loaded", panels_full, open_feeds),
        ("feeds live", feeds_live, lambda: None),
        ("fps measured", after(25), lambda: save(window(), out / "beacon-wall.png")),
        ("wall only", lambda: True, lambda: save(window().wall, out / "beacon-wall-tiles.png")),
        ("overlay off", lambda: True, hide_overlay),
        ("overlay hidden", after(3), lambda: save(window(), out / "beacon-wall-no-overlay.png")),
        ("maximise", lambda: True, maximise),
        ("main stream", after(40), lambda: save(window(), out / "beacon-wall-maximised.png")),
        ("2x2", lambda: True, two_by_two),
        ("2x2 settled", settled, lambda: None),
        ("2x2 shot", after(20), lambda: save(window(), out / "beacon-wall-2x2.png")),
        ("quit", lambda: True, lambda: window().quit()),
    ]
    state = {"index": 0, "waited_ms": 0, "code": 0}
    timer = QTimer()
    timer.setInterval(100)

    def tick() -> None:
        if state["index"] >= len(steps):
            timer.stop()
            app.quit()
            return
        name, ready, act = steps[state["index"]]
        if ready():
            act()
            state["index"] += 1
            state["waited_ms"] = 0
            return
        state["waited_ms"] += timer.interval()
        if state["waited_ms"] > args.timeout_s * 1000:
            print(f"timed out waiting for: {name}", file=sys.stderr)
            if shell.window is not None:
                for tile in window().wall.tiles:
                    print(f"  tile {tile.number}: {tile.status_text}", file=sys.stderr)
            state["code"] = 1
            timer.stop()
            app.quit()

    timer.timeout.connect(tick)
    timer.start()
    app.exec()
    shell.shutdown()
    audit.close()
    engine.dispose()
    return state["code"]


if __name__ == "__main__":
    sys.exit(main())

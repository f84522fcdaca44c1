"""Screenshots of the real console, to look at: sign-in, main window, shortcut help, lock screen.

Run under a real X server (Xvfb) so the window manager-free screen gives real pixels::

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python scripts/screenshot_console.py

It builds the demo city into ``--data-dir`` (unless one is there), signs in as the demo operator
through the real login dialog, waits for the registry and the scripted CAD feed to fill the
panels, and saves PNGs into ``--out-dir``. Window layout is kept in a throw-away QSettings file,
so every run shows the default layout.
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
from app.widgets.main_window import LockReason, MainWindow  # noqa: E402

Step = tuple[str, Callable[[], bool], Callable[[], None]]


def save(widget: QWidget, path: Path) -> None:
    widget.grab().save(str(path))
    print(f"saved {path} ({widget.width()}x{widget.height()})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    temp = Path(tempfile.gettempdir())
    parser.add_argument("--data-dir", type=Path, default=temp / "shot-demo")
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

    def wrong_password() -> None:
        dialog().username_edit.setText(args.user)
        dialog().password_edit.setText("not-my-password")
        dialog()._submit()

    def sign_in() -> None:
        save(dialog(), out / "beacon-login-error.png")
        dialog().password_edit.setText(args.password)
        dialog()._submit()

    def place_window() -> None:
        window().setGeometry(screen)

    def panels_full() -> bool:
        return (
            shell.window is not None
            and window().camera_list.model.rowCount() > 0
            and window().incident_panel.model.rowCount() > 0
            and window().audit_label.text().startswith("Audit: ")
            and "counting" not in window().audit_label.text()
        )

    def lock() -> None:
        window().help_overlay.hide()
        window().lock(LockReason.MANUAL)

    def open_help() -> None:
        window().help_action.trigger()

    def help_shown() -> bool:
        return bool(window().help_overlay.isVisible())

    def lock_wrong() -> None:
        window().lock_screen.password_edit.setText("not-my-password")
        window().lock_screen._submit()

    steps: list[Step] = [
        (
            "login dialog",
            lambda: shell.login_dialog is not None,
            lambda: save(dialog(), out / "beacon-login.png"),
        ),
        ("wrong password", lambda: True, wrong_password),
        ("error shown", lambda: "do not match" in dialog().message.text(), sign_in),
        ("signed in", lambda: shell.window is not None, place_window),
        ("panels loaded", panels_full, lambda: None),
        ("settled", lambda: True, lambda: save(window(), out / "beacon-main.png")),
        ("help", lambda: True, open_help),
        (
            "help shown",
            help_shown,
            lambda: save(window(), out / "beacon-help.png"),
        ),
        (
            "lock",
            lambda: True,
            lock,
        ),
        ("locked", lambda: window().locked, lambda: save(window(), out / "beacon-lock.png")),
        ("lock wrong", lambda: True, lock_wrong),
        (
            "lock error",
            lambda: "does not match" in window().lock_screen.message.text(),
            lambda: save(window(), out / "beacon-lock-error.png"),
        ),
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

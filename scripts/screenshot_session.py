"""What the screenshot scripts share: the demo console under a real X server, driven in steps.

Each step is (name, ready, act): on a 100 ms timer, once ``ready()`` is true, ``act()`` runs and
the next step begins; a step that is not ready within ``--timeout-s`` ends the run with code 1.
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


def select_busiest_incident(main: MainWindow) -> None:
    """Select the open incident with the most cameras near it: the geofence list, the footage
    requests and the wall then have something in them."""
    panel = main.incident_panel
    incidents = [row for row in panel.model.rows if row.status.value != "closed"]
    cameras = main.camera_list.model.rows

    def near(row: object) -> int:
        lat, lon = row.latitude, row.longitude  # type: ignore[attr-defined]
        return sum(
            abs(c.latitude - lat) < 0.003 and abs(c.longitude - lon) < 0.004 for c in cameras
        )

    panel.view.selectRow(panel.model.rows.index(max(incidents, key=near)))


def arguments(description: str, data_dir_name: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    temp = Path(tempfile.gettempdir())
    parser.add_argument("--data-dir", type=Path, default=temp / data_dir_name)
    parser.add_argument("--out-dir", type=Path, default=temp)
    parser.add_argument("--user", default="operator")
    parser.add_argument("--password", default="beacon-operator")
    parser.add_argument("--timeout-s", type=float, default=60)
    parser.add_argument(
        "--high-contrast", action="store_true", help="in the high-contrast theme ([display])"
    )
    return parser.parse_args()


def save(widget: QWidget, path: Path) -> None:
    widget.grab().save(str(path))
    print(f"saved {path} ({widget.width()}x{widget.height()})")


def after(count: int) -> Callable[[], bool]:
    """Ready on the ``count``-th time it is asked: lets frames and fps settle for a shot."""
    asked = 0

    def ready() -> bool:
        nonlocal asked
        asked += 1
        return asked >= count

    return ready


class ScreenshotSession:
    """The demo city's console, signed out, in a default window layout."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        if not (args.data_dir / "beacon.sqlite").is_file():
            code = beacon(["demo", "init", "--data-dir", str(args.data_dir)])
            if code != 0:
                raise SystemExit(code)
        settings = load_settings(args.data_dir / "settings.toml", args.data_dir, env={})
        self.out: Path = args.out_dir
        self.out.mkdir(parents=True, exist_ok=True)
        self.app = QApplication(sys.argv[:1])
        configure_application(self.app, high_contrast=args.high_contrast)
        self.app.setQuitOnLastWindowClosed(False)
        credentials = CredentialStore.for_settings(settings)
        self.audit = AuditLog.open(settings.audit_db, settings.workstation)
        self.engine = open_database(settings.registry_db, REGISTRY)
        ui_state = Path(tempfile.mkdtemp()) / "ui.ini"  # every run shows the default layout
        self.shell = ConsoleShell(
            settings,
            audit=self.audit,
            sessions=sessionmaker(self.engine, expire_on_commit=False),
            credentials=credentials,
            cad_poll=demo_cad_poll(settings),
            window_state=QSettings(str(ui_state), QSettings.Format.IniFormat),
        )
        self.shell.start()
        self.screen = self.app.primaryScreen().availableGeometry()

    def dialog(self) -> LoginDialog:
        assert self.shell.login_dialog is not None
        return self.shell.login_dialog

    def window(self) -> MainWindow:
        assert self.shell.window is not None
        return self.shell.window

    def sign_in(self, password: str | None = None) -> None:
        self.dialog().username_edit.setText(self.args.user)
        self.dialog().password_edit.setText(password or self.args.password)
        self.dialog()._submit()

    def panels_loaded(self) -> bool:
        return (
            self.shell.window is not None
            and self.window().camera_list.model.rowCount() > 0
            and self.window().incident_panel.model.rowCount() > 0
        )

    def run(self, steps: list[Step], on_timeout: Callable[[], None] | None = None) -> int:
        """Run the steps, then shut the console down; 0 when every step happened."""
        index, waited_ms, code = 0, 0, 0
        timer = QTimer()
        timer.setInterval(100)

        def tick() -> None:
            nonlocal index, waited_ms, code
            if index >= len(steps):
                timer.stop()
                self.app.quit()
                return
            name, ready, act = steps[index]
            if ready():
                act()
                index, waited_ms = index + 1, 0
                return
            waited_ms += timer.interval()
            if waited_ms > self.args.timeout_s * 1000:
                print(f"timed out waiting for: {name}", file=sys.stderr)
                if on_timeout is not None:
                    on_timeout()
                code = 1
                timer.stop()
                self.app.quit()

        timer.timeout.connect(tick)
        timer.start()
        self.app.exec()
        self.shell.shutdown()
        self.audit.close()
        self.engine.dispose()
        return code

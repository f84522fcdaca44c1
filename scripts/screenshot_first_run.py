"""Screenshots of each page of the first-run wizard, to look at, on a laptop-sized screen.

Run under a real X server (Xvfb)::

    xvfb-run -a -s "-screen 0 1366x768x24" .venv/bin/python scripts/screenshot_first_run.py

It starts the real sync server on loopback twice (plain http in a thread, and https in a child
process with a certificate from a CA made for the run), registers workstation rtcc-ws-03, and
drives the wizard as IT would: the welcome page, the server page, a check that stops at an
untrusted certificate, one that stops at a refused token, one that passes, the first
administrator, the done page; then the demo path while it builds the demo city. Each page is
saved into ``--out-dir`` as ``beacon-first-run-N-NAME.png``; nothing outside a temporary folder
is written (the settings file and keyring too go there).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QDialog, QWizard
from screenshot_session import save

from app.services.first_run import FirstRunPlan
from app.settings import load_settings
from app.shell import configure_application
from app.widgets.background_jobs import BackgroundJobs
from app.widgets.first_run_wizard import FirstRunWizard
from tests.sync_server import ProcessServer, ServerCertificate, ServerDatabase, ThreadServer

WORKSTATION = "rtcc-ws-03"
Step = tuple[str, Callable[[], bool], Callable[[], None]]


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--timeout-s", type=float, default=120)
    return parser.parse_args()


def make_wizard(folder: Path, jobs: BackgroundJobs) -> FirstRunWizard:
    base = load_settings(None, folder / "data", env={"BEACON_SECURITY__KEYRING_BACKEND": "file"})
    plan = FirstRunPlan(base, folder / "config" / "settings.toml", "os:screenshots", False)
    wizard = FirstRunWizard(plan, jobs)
    wizard.move(40, 40)
    wizard.show()
    return wizard


def run(steps: list[Step], timeout_s: float) -> int:
    """Each step's action once its condition holds, on a 100 ms timer; 1 if one never does."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    timer, waited, outcome = QTimer(), [0.0], [0]

    def tick() -> None:
        if not steps:
            app.quit()
            return
        name, ready, act = steps[0]
        if ready():
            steps.pop(0)
            waited[0] = 0.0
            act()
            return
        waited[0] += 0.1
        if waited[0] > timeout_s:
            print(f"step {name!r} was not ready within {timeout_s:g} s", file=sys.stderr)
            outcome[0] = 1
            app.quit()

    timer.timeout.connect(tick)
    timer.start(100)
    app.exec()
    return outcome[0]


def main() -> int:
    args = arguments()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    app = QApplication(sys.argv[:1])
    configure_application(app)
    app.setQuitOnLastWindowClosed(False)  # the steps end the run
    with tempfile.TemporaryDirectory(prefix="beacon-first-run-shots-") as temp:
        folder = Path(temp)
        database = ServerDatabase(f"sqlite:///{folder / 'server.sqlite3'}")
        token = database.register(WORKSTATION)
        http_server = ThreadServer(database.url).start()
        https_server = ProcessServer(database.url, tls=ServerCertificate.make(folder)).start()
        jobs = BackgroundJobs()
        try:
            return take_screenshots(args, folder, jobs, http_server, https_server, token)
        finally:
            jobs.shutdown()
            https_server.stop()
            http_server.stop()
            database.close()


def take_screenshots(
    args: argparse.Namespace,
    folder: Path,
    jobs: BackgroundJobs,
    http_server: ThreadServer,
    https_server: ProcessServer,
    token: str,
) -> int:
    wizard = make_wizard(folder / "server-path", jobs)
    page = wizard.server_page
    check = wizard.check_page
    shots = iter(range(1, 100))

    def shot(name: str) -> Callable[[], None]:
        return lambda: save(wizard, args.out_dir / f"beacon-first-run-{next(shots)}-{name}.png")

    def fill(url: str, secret: str) -> None:
        page.address_edit.setText(url)
        page.workstation_edit.setText(WORKSTATION)
        page.token_edit.setText(secret)

    def then(*actions: Callable[[], None]) -> Callable[[], None]:
        def act() -> None:
            for action in actions:
                action()

        return act

    def checked() -> bool:
        return check.outcome is not None

    def next_page() -> None:
        wizard.next()

    def back() -> None:
        wizard.back()

    steps: list[Step] = [
        ("welcome", wizard.isVisible, shot("welcome")),
        ("server", lambda: True, then(next_page, lambda: fill(https_server.url, token))),
        ("server filled", lambda: True, shot("server")),
        ("certificate", lambda: True, next_page),
        ("certificate refused", checked, shot("check-certificate")),
        ("wrong token", lambda: True, then(back, lambda: fill(http_server.url, "bcn_nope"))),
        ("check it", lambda: True, next_page),
        ("token refused", checked, shot("check-token")),
        ("right token", lambda: True, then(back, lambda: fill(http_server.url, token))),
        ("check again", lambda: True, next_page),
        ("passed", check.isComplete, shot("check-passed")),
        ("admin", lambda: True, next_page),
        ("admin page", lambda: True, then(_fill_admin(wizard), shot("admin"))),
        ("done", lambda: True, then(next_page, shot("done"))),
        ("cancel", lambda: True, wizard.reject),
    ]
    demo = make_wizard(folder / "demo-path", jobs)
    demo.hide()

    def demo_shot(name: str) -> Callable[[], None]:
        return lambda: save(demo, args.out_dir / f"beacon-first-run-{next(shots)}-{name}.png")

    steps += [
        ("demo", lambda: True, then(demo.show, demo.welcome_page.demo_choice.click)),
        ("demo done page", lambda: True, demo_shot("demo-ready")),
        (
            "demo finish",
            lambda: True,
            lambda: demo.button(QWizard.WizardButton.FinishButton).click(),
        ),
        ("demo building", lambda: demo.done_page.working, demo_shot("demo-building")),
        ("demo built", lambda: demo.result() == QDialog.DialogCode.Accepted, lambda: None),
    ]
    return run(steps, args.timeout_s)


def _fill_admin(wizard: FirstRunWizard) -> Callable[[], None]:
    def fill() -> None:
        admin = wizard.admin_page
        admin.username_edit.setText("it.admin")
        admin.password_edit.setText("first-admin-pass")
        admin.repeat_edit.setText("first-admin-pass")

    return fill


if __name__ == "__main__":
    sys.exit(main())

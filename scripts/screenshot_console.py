"""Screenshots of the real console, to look at: sign-in, main window, shortcut help, lock screen.

Run under a real X server (Xvfb) so the window manager-free screen gives real pixels::

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python scripts/screenshot_console.py

It builds the demo city into ``--data-dir`` (unless one is there), signs in as the demo operator
through the real login dialog, waits for the registry and the scripted CAD feed to fill the
panels, and saves PNGs into ``--out-dir``; ``--high-contrast`` shows the high-contrast theme (as
every screenshot script does). For a 4K monitor at 150 %::

    QT_SCALE_FACTOR=1.5 xvfb-run -a -s "-screen 0 3840x2160x24" \
        .venv/bin/python scripts/screenshot_console.py --high-contrast

Window layout is kept in a throw-away QSettings file, so every run shows the default layout.
"""

from __future__ import annotations

import sys

from screenshot_session import ScreenshotSession, Step, arguments, save

from app.widgets.main_window import LockReason


def main() -> int:
    args = arguments(__doc__.splitlines()[0], "shot-demo")
    session = ScreenshotSession(args)
    out, dialog, window = session.out, session.dialog, session.window

    def wrong_password() -> None:
        session.sign_in("not-my-password")

    def sign_in() -> None:
        save(dialog(), out / "beacon-login-error.png")
        session.sign_in()

    def place_window() -> None:
        window().setGeometry(session.screen)

    def panels_full() -> bool:
        return (
            session.panels_loaded()
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
            lambda: session.shell.login_dialog is not None,
            lambda: save(dialog(), out / "beacon-login.png"),
        ),
        ("wrong password", lambda: True, wrong_password),
        ("error shown", lambda: "do not match" in dialog().message.text(), sign_in),
        ("signed in", lambda: session.shell.window is not None, place_window),
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
    return session.run(steps)


if __name__ == "__main__":
    sys.exit(main())

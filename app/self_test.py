"""``beacon self-test``: prove an installed console works, on a throw-away demo city.

IT runs it after installing (and CI runs it on the frozen bundle): it builds the demo city in a
temporary directory (or uses the demo city given), signs in through the real login dialog,
waits for the main window's first paint, closes the console the way an operator does, and then
checks what the session left behind: a clean exit, the sign-in and sign-out in an intact audit
chain, a demo clip that OpenCV's FFmpeg decodes, and Qt's text services on the ICU data the
bundle keeps. The user's own data and saved window layout are never touched.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cmp_to_key
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSettings, QTimer

from app.models.audit_chain import AuditEventType
from app.services.audit_log import AuditLog, read_events, verify_file
from app.services.clock import utc_now
from app.services.demo_city import CLIPS_DIR, DEMO_USERS, SETTINGS_NAME, build_demo_city
from app.settings import Settings, load_settings
from app.shell import ConsoleShell, run_console
from app.widgets.login_dialog import LoginDialog

# Longer than any healthy start (about 2 s here); a console that needs this long is broken.
PAINT_TIMEOUT_S = 60.0


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class SelfTestReport:
    checks: list[Check] = field(default_factory=list)
    timings_ms: dict[str, int] = field(default_factory=dict)
    platform: str = ""
    painted_at_epoch: float | None = None  # lets a caller time the start from outside

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(check.passed for check in self.checks)

    def add(self, name: str, passed: bool, detail: str) -> None:
        self.checks.append(Check(name, passed, detail))

    def as_json(self) -> str:
        return json.dumps(
            {
                "passed": self.passed,
                "platform": self.platform,
                "timings_ms": self.timings_ms,
                "painted_at_epoch": self.painted_at_epoch,
                "checks": [
                    {"name": c.name, "passed": c.passed, "detail": c.detail} for c in self.checks
                ],
            }
        )

    def as_text(self) -> str:
        lines = [f"{'ok  ' if c.passed else 'FAIL'} {c.name}: {c.detail}" for c in self.checks]
        lines.append("self-test passed" if self.passed else "self-test FAILED")
        return "\n".join(lines)


def _elapsed_ms(start: float) -> int:
    return round((time.perf_counter() - start) * 1000)


@contextmanager
def _demo_data_dir(given: Path | None, report: SelfTestReport) -> Iterator[Path]:
    if given is not None:
        yield given
        return
    with tempfile.TemporaryDirectory(prefix="beacon-self-test-") as directory:
        started = time.perf_counter()
        city = build_demo_city(Path(directory), utc_now)
        report.timings_ms["demo_city_build"] = _elapsed_ms(started)
        report.add("demo city", True, f"{city.cameras} cameras built in a temporary directory")
        yield Path(directory)


class _FirstPaint(QObject):
    """Notes the moment a watched widget is first painted."""

    def __init__(self, on_paint: Callable[[], None]) -> None:
        super().__init__()
        self._on_paint = on_paint
        self.painted = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if not self.painted and event.type() == QEvent.Type.Paint:
            self.painted = True
            self._on_paint()
        return False


class _Operator(QObject):
    """Signs in as the demo operator, waits for the first paint, then quits like an operator."""

    def __init__(self, shell: ConsoleShell, report: SelfTestReport, started: float) -> None:
        super().__init__(shell)
        self._shell = shell
        self._report = report
        self._started = started
        self._paint = _FirstPaint(self._painted)
        self._poll = QTimer(self)
        self._poll.setInterval(10)
        self._poll.timeout.connect(self._step)
        self._deadline = time.perf_counter() + PAINT_TIMEOUT_S
        self._signed_in_at: float | None = None
        self._watching = False

    def begin(self) -> None:
        self._poll.start()

    def _step(self) -> None:
        shell = self._shell
        if time.perf_counter() > self._deadline:
            self._poll.stop()
            self._report.add(
                "main window", False, f"not painted within {PAINT_TIMEOUT_S:.0f} s of the start"
            )
            if shell.window is not None:
                shell.window.quit()
            elif shell.login_dialog is not None:
                shell.login_dialog.reject()
            return
        dialog = shell.login_dialog
        if dialog is not None and dialog.isVisible():
            if self._signed_in_at is None:
                self._sign_in(dialog)
            elif not dialog.busy and dialog.message.text():
                self._poll.stop()
                self._report.add(
                    "main window", False, f"the sign-in was refused: {dialog.message.text()}"
                )
                dialog.reject()
        elif shell.window is not None and not self._watching:
            self._watching = True
            shell.window.installEventFilter(self._paint)
            shell.window.update()

    def _sign_in(self, dialog: LoginDialog) -> None:
        operator = DEMO_USERS[0]
        self._report.timings_ms["login_dialog_shown"] = _elapsed_ms(self._started)
        dialog.username_edit.setText(operator.username)
        dialog.password_edit.setText(operator.password)
        self._signed_in_at = time.perf_counter()
        dialog.sign_in_button.click()

    def _painted(self) -> None:
        self._poll.stop()
        self._report.timings_ms["main_window_painted"] = _elapsed_ms(self._started)
        if self._signed_in_at is not None:
            self._report.timings_ms["sign_in_to_painted"] = _elapsed_ms(self._signed_in_at)
        self._report.painted_at_epoch = time.time()
        self._report.add(
            "main window",
            True,
            f"signed in as the demo operator and painted "
            f"{self._report.timings_ms['main_window_painted']} ms after the console started",
        )
        # Leave the event loop a turn so the first frame finishes, then quit as an operator.
        window = self._shell.window
        if window is not None:
            QTimer.singleShot(0, window.quit)


def _check_audit(settings: Settings, report: SelfTestReport, since_seq: int) -> None:
    verdict = verify_file(settings.audit_db)
    report.add(
        "audit chain",
        verdict.intact,
        f"{verdict.count} events intact"
        if verdict.intact
        else f"broken at event {verdict.first_bad_seq}: {verdict.problem}",
    )
    kinds = [row["event_type"] for row in read_events(settings.audit_db) if row["seq"] > since_seq]
    session_audited = AuditEventType.LOGIN in kinds and AuditEventType.LOGOUT in kinds
    report.add(
        "session audited",
        session_audited,
        "sign-in and sign-out recorded"
        if session_audited
        else f"expected a login and a logout, the log has {', '.join(kinds) or 'nothing'}",
    )


def _check_decoding(data_dir: Path, report: SelfTestReport) -> None:
    import cv2

    clips = sorted((data_dir / CLIPS_DIR).glob("*.mp4"))
    if not clips:
        report.add("video decoding", False, f"no demo clip in {data_dir / CLIPS_DIR}")
        return
    capture = cv2.VideoCapture(str(clips[0]), cv2.CAP_FFMPEG)
    try:
        ok, frame = capture.read()
    finally:
        capture.release()
    report.add(
        "video decoding",
        bool(ok) and frame is not None,
        f"OpenCV {cv2.__version__} decoded a {frame.shape[1]}x{frame.shape[0]} frame"
        if ok and frame is not None
        else f"OpenCV {cv2.__version__} could not decode {clips[0].name} with FFmpeg",
    )


def _check_text_services(report: SelfTestReport) -> None:
    """Qt's ICU services on the data the bundle keeps (``build_installer.spec`` trims ICU's data
    to the English locales): ordering with accents, and a time zone's name."""
    from PySide6.QtCore import QCollator, QLocale, QTimeZone

    english = QLocale(QLocale.Language.English, QLocale.Country.UnitedStates)
    ordered = sorted(["zulu", "Éclair", "apple"], key=cmp_to_key(QCollator(english).compare))
    zone = QTimeZone(b"America/Chicago").displayName(
        QTimeZone.TimeType.StandardTime, QTimeZone.NameType.LongName, english
    )
    passed = ordered == ["apple", "Éclair", "zulu"] and zone == "Central Standard Time"
    report.add(
        "text services",
        passed,
        f"sorted {', '.join(ordered)}; America/Chicago is {zone!r}"
        + ("" if passed else " (ICU's data is missing what Qt needs)"),
    )


def run_self_test(data_dir: Path | None) -> SelfTestReport:
    """Run every check; ``data_dir`` is a demo city to use instead of a temporary one."""
    report = SelfTestReport()
    with _demo_data_dir(data_dir, report) as directory:
        settings = load_settings(directory / SETTINGS_NAME, directory)
        before = AuditLog.open(settings.audit_db, settings.workstation)
        try:
            since_seq = before.head.seq
        finally:
            before.close()
        with tempfile.TemporaryDirectory(prefix="beacon-self-test-layout-") as layout:
            window_state = QSettings(str(Path(layout) / "layout.ini"), QSettings.Format.IniFormat)

            def operate(shell: ConsoleShell) -> None:
                from PySide6.QtGui import QGuiApplication

                report.platform = QGuiApplication.platformName()
                _Operator(shell, report, console_started).begin()

            console_started = time.perf_counter()
            exit_code = run_console(
                settings,
                window_state=window_state,
                report_error=lambda title, text: report.add("console start", False, text),
                on_started=operate,
            )
            report.timings_ms["console_run"] = _elapsed_ms(console_started)
        report.add("clean exit", exit_code == 0, f"the console exited with code {exit_code}")
        _check_audit(settings, report, since_seq)
        _check_decoding(directory, report)
        _check_text_services(report)
    return report


def main(data_dir: Path | None, as_json: bool) -> int:
    headless = not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if sys.platform.startswith("linux") and headless and "QT_QPA_PLATFORM" not in os.environ:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    report = run_self_test(data_dir)
    print(report.as_json() if as_json else report.as_text(), file=sys.stdout)
    return 0 if report.passed else 1

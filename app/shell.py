"""The application shell: opens what the console needs, then signs in and shows the console.

Each console session (from sign-in to sign-out or quit) has one ``PolicyGate``, watching its
leases so a revocation ends a feed within seconds, and one ``FeedSupervisor`` with its decode
processes; both are shut down when the session ends, every open lease ended and audited.

``run_console`` refuses to start (exit code 2, with a message the operator can act on) when the
keyring is not a real OS keyring and the settings did not opt in to the demo file keyring, when
the audit log cannot be opened durably, or when the registry cannot be opened.

With ``[sync] server_url`` set, an ``AuditSync`` sends the audit log to the sync server from its
own thread for as long as the console runs (signed in or not: the sign-in screen writes events
too), and a ``RegistrySync`` pulls registry and policy changes from it; while a session is signed
in, its gate re-checks the leases after each applied page, so a revocation on the server ends
feeds at once. Each main window shows both states in the status bar.

While it runs, the console writes its log to a rotating file in the data directory
(``logs/beacon.log``) and a ``CrashGuard`` catches exceptions no code expected (in a slot, an
event handler or a worker thread): each is logged with its trace and shown in one dialog that
tells the operator what to do, while the wall, the leases and the audit log carry on. Each
signed-in user's walls are kept on disk as they change (``WallSessionStore``); the session's
clean end is recorded once its feeds are closed, so the next sign-in after a crash restores the
layouts and asks before asking the gate again for the feeds.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QObject, QSettings
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox
from sqlalchemy.orm import Session, sessionmaker

from app import __version__
from app.models.stream_url import redact_url
from app.services.accounts import SignedInUser
from app.services.audit_log import AuditLog, AuditLogUnavailable
from app.services.audit_sync import AuditSync
from app.services.cad_intake import CadIntake, CadPollReport, adapter_for, demo_intake
from app.services.clock import Clock, utc_now
from app.services.credentials import CredentialStore, InsecureKeyringError
from app.services.demo_avl import DemoAvl
from app.services.first_run import FirstRunPlan
from app.services.install_record_sync import InstallRecordSync
from app.services.policy_gate import PolicyGate
from app.services.registry_sync import RegistrySync
from app.services.sqlite_store import REGISTRY, DatabaseOpenError, open_database
from app.services.wall_session import WallSessionStore
from app.settings import Settings
from app.video.feed_supervisor import FeedSupervisor
from app.widgets.background_jobs import BackgroundJobs
from app.widgets.crash_dialog import CrashGuard
from app.widgets.first_run_wizard import FirstRunWizard
from app.widgets.login_dialog import LoginDialog
from app.widgets.main_window import CadPoll, MainWindow, SessionEnd
from app.widgets.palette import apply_theme
from app.widgets.theme import stylesheet, theme_for
from app.widgets.wall_views_menu import TILE_COUNTS

log = logging.getLogger(__name__)

APP_NAME = "Beacon"
ORGANISATION = "Beacon RTCC"
CAD_SCRIPT = "cad_script.json"
EXIT_REFUSED = 2
LEASE_CHECK_INTERVAL_S = 1.0  # how soon a revoked policy or an ended window ends a feed
END_REASONS = {SessionEnd.SIGN_OUT.value: "signed_out", SessionEnd.QUIT.value: "console_closed"}
LOG_FILE = Path("logs") / "beacon.log"  # under the data directory
LOG_FILE_BYTES = 5 * 1024 * 1024
LOG_FILE_BACKUPS = 4  # beacon.log.1 … .4: at most 25 MB in all
LOG_FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"

# (title, message): shows the operator why the console will not start.
ErrorReporter = Callable[[str, str], None]


class RedactingFormatter(logging.Formatter):
    """Formats a record, its trace included, with any ``user:password@`` in a URL masked: a
    message or an exception text from a library may hold a camera's URL."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_url(super().format(record))


class ConsoleLog:
    """The console's rotating log file, attached to the root logger until ``close``.

    The root logger is lowered to INFO while it runs so the file says what the console did; the
    handlers that were there (stderr) keep the level they showed before.
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOG_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handler = logging.handlers.RotatingFileHandler(
            self.path, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_BACKUPS, encoding="utf-8"
        )
        self._handler.setLevel(logging.INFO)
        self._handler.setFormatter(RedactingFormatter(LOG_FORMAT))
        root = logging.getLogger()
        self._root_level = root.level
        self._quietened = [handler for handler in root.handlers if handler.level == logging.NOTSET]
        if root.getEffectiveLevel() > logging.INFO:
            for handler in self._quietened:
                handler.setLevel(root.getEffectiveLevel())
            root.setLevel(logging.INFO)
        else:
            self._quietened = []
        root.addHandler(self._handler)

    def close(self) -> None:
        root = logging.getLogger()
        root.removeHandler(self._handler)
        self._handler.close()
        root.setLevel(self._root_level)
        for handler in self._quietened:
            handler.setLevel(logging.NOTSET)


def show_error_dialog(title: str, message: str) -> None:
    QMessageBox.critical(None, title, message)


def configure_application(app: QApplication, *, high_contrast: bool = False) -> None:
    """Names (QSettings uses them), the Fusion style and the theme (dark unless
    ``high_contrast``), applied once."""
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setOrganizationName(ORGANISATION)
    app.setApplicationVersion(__version__)
    theme = theme_for(high_contrast)
    if app.styleSheet() == stylesheet(theme):
        return
    app.setStyle("Fusion")
    apply_theme(app, theme)


def demo_cad_poll(settings: Settings, clock: Clock = utc_now) -> CadPoll | None:
    """The demo's scripted CAD feed when the data dir holds ``cad_script.json``, else None;
    each poll also moves the demo's units (``DemoAvl``), the demo's stand-in for an AVL feed.

    The script is read in the first poll, inside a background job: a bad script is reported in
    the status bar with its entry and field, and never blocks the UI thread.
    """
    script = settings.data_dir / CAD_SCRIPT
    if not script.is_file():
        return None
    intake, avl = demo_intake(script, clock), DemoAvl()

    def poll(session: Session, now: datetime) -> CadPollReport:
        report = intake(session, now)
        avl(session, now)  # committed with the poll, by the job that runs it
        return report

    return poll


def cad_poll_for(settings: Settings, clock: Clock = utc_now) -> CadPoll | None:
    """The CAD source ``[cad] adapter`` names: the demo's script, or a real CAD's adapter."""
    if settings.cad.adapter == "scripted":
        return demo_cad_poll(settings, clock)
    return CadIntake(adapter_for(settings.cad, clock), interval_s=settings.cad.interval_s)


class ConsoleShell(QObject):
    """Signs in, shows the console, and after a sign-out signs in again."""

    def __init__(
        self,
        settings: Settings,
        *,
        audit: AuditLog,
        sessions: Callable[[], Session],
        credentials: CredentialStore | None = None,
        cad_poll: CadPoll | None = None,
        window_state: QSettings | None = None,
        clock: Clock = utc_now,
        network_decoders: int = 2,
        sync: AuditSync | None = None,
        registry_sync: RegistrySync | None = None,
        install_record_sync: InstallRecordSync | None = None,
    ) -> None:
        super().__init__()
        self._settings = settings
        self._sync = sync
        self._registry_sync = registry_sync
        self._install_record_sync = install_record_sync
        self._audit = audit
        self._sessions = sessions
        self._credentials = credentials or CredentialStore.for_settings(settings)
        self._network_decoders = network_decoders
        self.gate: PolicyGate | None = None
        self.supervisor: FeedSupervisor | None = None
        self.wall_session: WallSessionStore | None = None
        self._ending: list[tuple[PolicyGate, FeedSupervisor, WallSessionStore | None]] = []
        self._cad_poll = cad_poll
        self._window_state = window_state or QSettings()
        self._clock = clock
        self.jobs = BackgroundJobs(self)
        self.login_dialog: LoginDialog | None = None
        self.window: MainWindow | None = None

    def start(self) -> None:
        self.show_login()

    def show_login(self, username: str = "") -> None:
        dialog = LoginDialog(
            self._sessions,
            self._audit,
            self.jobs,
            workstation=self._settings.workstation,
            username=username,
        )
        dialog.signed_in.connect(self._open_console)
        dialog.rejected.connect(self._login_cancelled)
        self.login_dialog = dialog
        dialog.show()

    def _login_cancelled(self) -> None:
        self._forget_login_dialog()
        QApplication.quit()

    def _forget_login_dialog(self) -> None:
        if self.login_dialog is not None:
            self.login_dialog.deleteLater()
            self.login_dialog = None

    def _open_console(self, user: SignedInUser) -> None:
        self._forget_login_dialog()
        self.gate = PolicyGate(
            self._sessions, self._audit, self._credentials, self._clock, LEASE_CHECK_INTERVAL_S
        )
        self.gate.start()
        if self._registry_sync is not None:
            self._registry_sync.attach_gate(self.gate)
        self.supervisor = FeedSupervisor(
            network_decoders=self._network_decoders,
            clip_seconds=self._settings.evidence.clip_seconds,
        )
        self.wall_session = WallSessionStore(
            self._settings.data_dir, user.username, self._clock, TILE_COUNTS
        )
        window = MainWindow(
            settings=self._settings,
            user=user,
            audit=self._audit,
            sessions=self._sessions,
            jobs=self.jobs,
            gate=self.gate,
            supervisor=self.supervisor,
            window_state=self._window_state,
            credentials=self._credentials,
            cad_poll=self._cad_poll,
            sync=self._sync,
            registry_sync=self._registry_sync,
            install_record_sync=self._install_record_sync,
            wall_session=self.wall_session,
            clock=self._clock,
        )
        window.session_ended.connect(self._session_ended)
        self.window = window
        if window.has_saved_geometry:
            window.show()
        else:
            window.showMaximized()

    def _session_ended(self, reason: str) -> None:
        if self.window is not None:
            self.window.deleteLater()
            self.window = None
        self._end_feeds(END_REASONS.get(reason, "console_closed"))
        if reason == SessionEnd.SIGN_OUT:
            self.show_login()
        else:
            QApplication.quit()

    def _end_feeds(self, reason: str) -> None:
        """End the session's leases (each end audited), stop its decode processes, and record
        the clean end of its walls.

        Audit writes and process joins take a while, so this runs as a background job; until
        it has finished, ``shutdown`` keeps the session's parts and ends them itself if need be.
        """
        gate, supervisor, walls = self.gate, self.supervisor, self.wall_session
        self.gate = self.supervisor = self.wall_session = None
        if self._registry_sync is not None:
            self._registry_sync.attach_gate(None)
        if gate is None or supervisor is None:
            return
        parts = (gate, supervisor, walls)
        self._ending.append(parts)
        self.jobs.submit(
            "Closing the session's feeds",
            lambda: end_session(gate, supervisor, walls, reason),
            lambda _: self._ending.remove(parts),
        )

    def shutdown(self) -> None:
        """Close what is open and wait for background work (the last audit writes)."""
        if self.window is not None:
            self.window.close()
        self._forget_login_dialog()
        self.jobs.shutdown()
        # A job the pool dropped or never delivered: ending twice is harmless.
        if self.gate is not None and self.supervisor is not None:
            self._ending.append((self.gate, self.supervisor, self.wall_session))
            self.gate = self.supervisor = self.wall_session = None
        ending, self._ending = self._ending, []
        for gate, supervisor, walls in ending:
            end_session(gate, supervisor, walls, "console_closed")


def end_session(
    gate: PolicyGate, supervisor: FeedSupervisor, walls: WallSessionStore | None, reason: str
) -> None:
    """``stop_feeds``, then the clean end of the session's walls (no feeds to offer back)."""
    try:
        stop_feeds(gate, supervisor, reason)
    finally:
        if walls is not None:
            walls.end_cleanly()


def stop_feeds(gate: PolicyGate, supervisor: FeedSupervisor, reason: str) -> None:
    """End every lease of ``gate`` (audited with ``reason``), then stop the decode processes."""
    try:
        gate.stop(reason)
    finally:
        supervisor.shutdown()


def run_console(
    settings: Settings,
    *,
    report_error: ErrorReporter | None = None,
    window_state: QSettings | None = None,
    on_started: Callable[[ConsoleShell], None] | None = None,
) -> int:
    """Run the operator console until it is quit; 0 on a normal exit, 2 when it refuses to run.

    ``report_error`` shows a refusal (a modal message box unless given, for tests);
    ``window_state`` is where window geometry and dock layout are kept (the user's QSettings
    unless given); ``on_started`` is called with the shell once it shows the sign-in (the
    self-test drives the console from there).
    """
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    configure_application(app, high_contrast=settings.display.high_contrast)
    report = report_error or show_error_dialog
    console_log = ConsoleLog(settings.data_dir)
    log.info("Beacon %s started; this log: %s", __version__, console_log.path)
    guard = CrashGuard(console_log.path)
    guard.install()
    try:
        return _run_console(settings, app, report, window_state, on_started)
    finally:
        guard.uninstall()
        log.info("Beacon ended")
        console_log.close()


def run_first_run(plan: FirstRunPlan, *, finish_text: str = "Save and sign in") -> bool:
    """The first-run wizard, before any sign-in (``beacon`` with no settings file, ``beacon
    setup``): True once it has written the settings, False when it was cancelled (nothing
    written). ``run_console`` then starts from the settings it wrote."""
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    configure_application(app)
    app.setQuitOnLastWindowClosed(False)
    jobs = BackgroundJobs()
    wizard = FirstRunWizard(plan, jobs, finish_text=finish_text)
    try:
        return wizard.exec() == QDialog.DialogCode.Accepted and wizard.settings is not None
    finally:
        jobs.shutdown()
        wizard.deleteLater()


def _run_console(
    settings: Settings,
    app: QApplication,
    report: ErrorReporter,
    window_state: QSettings | None,
    on_started: Callable[[ConsoleShell], None] | None,
) -> int:
    """``run_console`` once its log file and crash guard are in place."""

    try:
        credentials = CredentialStore.for_settings(settings)
    except InsecureKeyringError as exc:
        log.error("refusing to start: %s", exc)
        report("Beacon cannot protect camera passwords", f"Beacon will not start: {exc}")
        return EXIT_REFUSED
    try:
        audit = AuditLog.open(settings.audit_db, settings.workstation)
    except AuditLogUnavailable as exc:
        log.error("refusing to start: %s", exc)
        report("Beacon cannot record what happens", f"Beacon will not start: {exc}")
        return EXIT_REFUSED
    try:
        engine = open_database(settings.registry_db, REGISTRY)
    except DatabaseOpenError as exc:
        audit.close()
        log.error("refusing to start: %s", exc)
        report("Beacon cannot open the camera registry", f"Beacon will not start: {exc}")
        return EXIT_REFUSED

    app.setQuitOnLastWindowClosed(False)  # the shell quits: sign-out closes a window, not Beacon
    sessions = sessionmaker(engine, expire_on_commit=False)
    sync = AuditSync.from_settings(settings, credentials)
    registry_sync = RegistrySync.from_settings(
        settings, credentials, sessions=sessions, audit=audit
    )
    # Field technicians' install records, saved offline, go to the server when it answers.
    install_record_sync = InstallRecordSync.from_settings(settings, credentials, sessions=sessions)
    shell = ConsoleShell(
        settings,
        audit=audit,
        sessions=sessions,
        credentials=credentials,
        cad_poll=cad_poll_for(settings),
        window_state=window_state,
        sync=sync,
        registry_sync=registry_sync,
        install_record_sync=install_record_sync,
    )
    try:
        if sync is not None:
            sync.start()
        if registry_sync is not None:
            registry_sync.start()
        if install_record_sync is not None:
            install_record_sync.start()
        shell.start()
        if on_started is not None:
            on_started(shell)
        return app.exec()
    finally:
        if registry_sync is not None:
            registry_sync.stop()
        if install_record_sync is not None:
            install_record_sync.stop()
        shell.shutdown()
        if sync is not None:
            # The session's last events (the logout) go now if the server answers within
            # 3 s, else at the next start.
            sync.stop(timeout=3.0, flush=True)
        audit.close()
        engine.dispose()

"""The console's main window: the video wall, the camera and incident docks, the status bar,
and the session guard (inactivity lock, periodic re-authentication)."""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QStackedWidget,
    QToolBar,
    QWidget,
)
from sqlalchemy.orm import Session

from app.models.audit_chain import AuditEventType, DetailValue, Outcome
from app.models.user import Role
from app.services.accounts import SignedInUser, confirm_unlock
from app.services.audit_log import AuditLog, AuditWriteError
from app.services.audit_replay_sources import (
    LocalLogSource,
    ReplaySource,
    ServerCopySource,
    store_replay_token,
)
from app.services.audit_sync import NOT_CONFIGURED, SyncStateSource
from app.services.cad_intake import CadPollReport
from app.services.clock import Clock, utc_now
from app.services.credentials import CredentialStore
from app.services.geofence_search import CameraCatalog
from app.services.install_check import AskCredentials, InstallCheck
from app.services.install_record_sync import InstallRecordSyncSource
from app.services.install_snapshot import PlacementSnapshots
from app.services.policy_gate import PolicyGate
from app.services.registry_rows import CameraRow, IncidentRow, incident_rows, read_camera_rows
from app.services.registry_sync import RegistrySyncStateSource
from app.services.wall_session import WallSessionStore
from app.settings import Settings
from app.video.feed_supervisor import FeedSupervisor
from app.widgets.activity_watcher import ActivityWatcher
from app.widgets.audit_replay import AuditReplay
from app.widgets.background_jobs import BackgroundJobs
from app.widgets.camera_list import CameraList
from app.widgets.camera_map import MAP_SHORTCUTS, console_map
from app.widgets.evidence_panel import EVIDENCE_SHORTCUTS, EvidencePanel
from app.widgets.footage_request_panel import FootageRequestPanel
from app.widgets.geofence_editor import DrawMode
from app.widgets.geofence_panel import GeofencePanel
from app.widgets.incident_panel import IncidentPanel
from app.widgets.install_placement import placement_map
from app.widgets.install_record_form import InstallRecordForm
from app.widgets.install_verifier import InstallVerifier
from app.widgets.lock_screen import LOCKED_TEXT, LockScreen, reauth_text
from app.widgets.palette import apply_theme, current
from app.widgets.shortcut_help import Shortcut, ShortcutHelp
from app.widgets.theme import HIGH_CONTRAST, theme_for
from app.widgets.video_wall import VideoWall
from app.widgets.wall_recovery import WallRecovery
from app.widgets.wall_views_menu import WallViewsMenu
from app.widgets.wall_window import WallWindow, WallWindows
from app.widgets.window_menu import WindowMenu

log = logging.getLogger(__name__)

# Runs in a worker with a fresh session: brings new CAD records into the registry through a
# CAD adapter (app/services/cad_intake.py) and says how the source is doing.
CadPoll = Callable[[Session, datetime], CadPollReport]
SessionFactory = Callable[[], Session]

GEOMETRY_KEY = "main_window/geometry"
STATE_KEY = "main_window/state"
CAMERA_REFRESH_MS = 30_000  # "policy now" changes as scheduled windows open and close
MAX_INCIDENT_BACKOFF_MS = 60_000
SYNC_STATE_MS = 1000  # the sync state is a snapshot; "retry in N s" counts down
REPLAY_ROLES = (Role.SUPERVISOR, Role.ADMIN)  # who may replay an operator's session
REPLAY_SERVER_DAYS = 30  # how far back the replay reads the sync server's copy
INSTALL_ROLES = (Role.FIELD_TECH,)  # who checks a camera's install (the gate's install rule)
UNLOCK_REFUSED_TEXT = "That password does not match. The console stays locked."
UNLOCK_NOT_RECORDED = (
    "The unlock could not be recorded in the audit log, so the console stays locked. "
    "Free disk space on this workstation or call the administrator."
)


class LockReason(enum.StrEnum):
    MANUAL = "manual"
    INACTIVITY = "inactivity"
    REAUTHENTICATION = "reauthentication"


class SessionEnd(enum.StrEnum):
    SIGN_OUT = "sign_out"
    QUIT = "quit"


@dataclass(frozen=True, slots=True)
class _IncidentRefresh:
    rows: list[IncidentRow]
    audit_count: int
    cad: CadPollReport | None


def _confirm_unlock(
    sessions: Callable[[], Session], audit: AuditLog, username: str, password: str
) -> bool:
    with sessions() as session:
        return confirm_unlock(session, audit, username, password)


def resize_within_screen(window: QWidget, width: int, height: int) -> None:
    """A window's first size, made smaller where the screen is (a 1366x768 laptop)."""
    area = window.screen().availableGeometry()
    window.resize(min(width, area.width()), min(height, area.height()))


def role_text(role: Role) -> str:
    return role.value.replace("_", " ")


def audit_text(count: int, sync: str = NOT_CONFIGURED.text(utc_now())) -> str:
    noun = "event" if count == 1 else "events"
    return f"Audit: {count} {noun} · {sync}"


class MainWindow(QMainWindow):
    """The operator console for one signed-in user; emits ``session_ended`` when closed."""

    session_ended = Signal(str)  # a SessionEnd value

    def __init__(
        self,
        *,
        settings: Settings,
        user: SignedInUser,
        audit: AuditLog,
        sessions: SessionFactory,
        jobs: BackgroundJobs,
        gate: PolicyGate,
        supervisor: FeedSupervisor,
        window_state: QSettings,
        credentials: CredentialStore,
        cad_poll: CadPoll | None = None,
        sync: SyncStateSource | None = None,
        registry_sync: RegistrySyncStateSource | None = None,
        install_record_sync: InstallRecordSyncSource | None = None,
        wall_session: WallSessionStore | None = None,
        clock: Clock = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        check_interval_ms: int = 1000,
        incident_interval_ms: int = 5000,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.user = user
        self._settings = settings
        self._audit = audit
        self._sessions = sessions
        self._jobs = jobs
        self._window_state = window_state
        self._cad_poll = cad_poll
        self._clock = clock
        self._monotonic = monotonic
        self._lock_after_s = settings.security.inactivity_lock_minutes * 60
        self._reauth_after_s = settings.security.reauth_hours * 3600
        self._authenticated_at = monotonic()
        self._locked_for: LockReason | None = None
        self._state_before_lock = QByteArray()
        self._end_reason = SessionEnd.QUIT
        self._ended = False
        self._incidents_loading = False
        self._cameras_loading = False
        self._incident_interval_ms = 1000 if cad_poll is not None else incident_interval_ms
        self._incident_failures = 0
        self._audit_count = 0
        self._audit_counted = False
        self._sync = sync
        self._sync_text = NOT_CONFIGURED.text(clock())
        self._credentials = credentials
        self._gate = gate
        self.install_verifier: InstallVerifier | None = None
        self.audit_replay: AuditReplay | None = None
        self._registry_sync = registry_sync
        self._install_record_sync = install_record_sync

        self.setObjectName("mainWindow")
        self.setWindowTitle(f"Beacon — {user.display_name} — {settings.workstation}")
        self.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks
        )

        # Built before the wall: the wall asks the incident panel which incident is selected.
        self.incident_panel = IncidentPanel(jobs, sessions, clock, sound=settings.cad.sound)
        self.wall = self._new_wall(gate, supervisor)
        self.wall.message.connect(self._show_failure)
        self.lock_screen = LockScreen(user.display_name, user.username)
        self.lock_screen.unlock_requested.connect(self._check_unlock)
        self.lock_screen.sign_out_requested.connect(self.sign_out)
        self._centre = QStackedWidget()
        self._centre.addWidget(self.wall)
        self._centre.addWidget(self.lock_screen)
        self.setCentralWidget(self._centre)

        self.camera_list = CameraList()
        self.camera_list.camera_activated.connect(self.wall.open_in_free_tile)
        self.camera_dock = self._dock("Cameras", "cameraDock", self.camera_list)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.camera_dock)
        self.incident_dock = self._dock("Incidents", "incidentDock", self.incident_panel)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.incident_dock)
        # The camera list runs the full height on the left; incidents sit under the wall.
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        # The map shares the left column with the camera list, under it.
        self.camera_map = console_map(settings, sessions, jobs, clock)
        self.camera_map.camera_activated.connect(self.wall.open_in_free_tile)
        self.map_dock = self._dock("Map", "mapDock", self.camera_map)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.map_dock)
        self.splitDockWidget(self.camera_dock, self.map_dock, Qt.Orientation.Vertical)
        # The geofence's cameras share the camera list's place, as a tab raised by a selection.
        self.geofence_panel = GeofencePanel(
            jobs, audit, user, default_radius_m=settings.map.default_radius_m
        )
        self.geofence_dock = self._dock("Geofence", "geofenceDock", self.geofence_panel)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.geofence_dock)
        self.tabifyDockWidget(self.camera_dock, self.geofence_dock)
        # Footage requests of the selected incident: the third tab of that column.
        self.footage_panel = FootageRequestPanel(
            jobs=jobs,
            sessions=sessions,
            audit=audit,
            user=user,
            settings=settings,
            credentials=credentials,
            clock=clock,
        )
        self.footage_dock = self._dock(
            self.footage_panel.tab_title, "footageDock", self.footage_panel
        )
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.footage_dock)
        self.tabifyDockWidget(self.geofence_dock, self.footage_dock)
        # What the owners sent for the selected incident: next to its footage requests.
        self.evidence_panel = EvidencePanel(
            jobs=jobs,
            sessions=sessions,
            audit=audit,
            user=user,
            settings=settings,
            credentials=credentials,
            clock=clock,
        )
        self.evidence_dock = self._dock(
            self.evidence_panel.tab_title, "evidenceDock", self.evidence_panel
        )
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.evidence_dock)
        self.tabifyDockWidget(self.footage_dock, self.evidence_dock)
        self.camera_dock.raise_()
        self.docks = (
            self.camera_dock,
            self.incident_dock,
            self.map_dock,
            self.geofence_dock,
            self.footage_dock,
            self.evidence_dock,
        )
        self._connect_geofence()

        # Wall windows on other monitors, and saved views of all walls (the Window menu).
        self.wall_windows = WallWindows(
            lambda: self._new_wall(gate, supervisor), window_state, self
        )
        self.wall_windows.message.connect(self._show_failure)
        self.views_menu = WallViewsMenu(
            sessions=sessions,
            jobs=jobs,
            user=user,
            main_wall=self.wall,
            wall_windows=self.wall_windows,
            selected_incident=self.incident_panel.selected_cad_number,
            locked=lambda: self.locked,
            clock=clock,
            parent=self,
        )
        self.views_menu.message.connect(self._show_failure)

        self._build_status_bar(credentials.insecure)
        self._build_actions()
        self.help_overlay = ShortcutHelp(self)
        self.help_overlay.set_shortcuts(self.shortcuts())
        jobs.failed.connect(self._show_failure)

        self._watcher = ActivityWatcher(monotonic, self)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self._watcher)

        self._guard_timer = QTimer(self)
        self._guard_timer.setInterval(check_interval_ms)
        self._guard_timer.timeout.connect(self._check_session)
        self._guard_timer.start()
        self._incident_timer = QTimer(self)
        self._incident_timer.setInterval(self._incident_interval_ms)
        self._incident_timer.timeout.connect(self.refresh_incidents)
        self._incident_timer.start()
        self._camera_timer = QTimer(self)
        self._camera_timer.setInterval(CAMERA_REFRESH_MS)
        self._camera_timer.timeout.connect(self.refresh_cameras)
        self._camera_timer.start()
        self._sync_timer = QTimer(self)
        self._sync_timer.setInterval(SYNC_STATE_MS)
        self._sync_timer.timeout.connect(self._show_sync_state)
        if sync is not None or registry_sync is not None:
            self._sync_timer.start()
            self._show_sync_state()

        resize_within_screen(self, 1600, 960)
        self.has_saved_geometry = self._restore_window_state()
        self.refresh_cameras()
        self.refresh_incidents()
        self.wall_windows.restore_arrangement()
        # The walls kept for a restart, and offered back after a crash (never without the gate).
        self.wall_recovery: WallRecovery | None = None
        if wall_session is not None:
            self.wall_recovery = WallRecovery(
                wall_session, jobs, self.wall, self.wall_windows, self
            )
            self.wall_recovery.message.connect(self._show_failure)
            self.wall_recovery.start()

    # ---- layout ---------------------------------------------------------------------------

    def _dock(self, title: str, name: str, widget: QWidget) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        return dock

    def _connect_geofence(self) -> None:
        """Incident selection, the map's drawing and the geofence list, kept in step."""
        panel, camera_map = self.geofence_panel, self.camera_map
        self.incident_panel.incident_selected.connect(self._incident_selected)
        camera_map.geofence_edited.connect(panel.set_fence)
        panel.fence_changed.connect(camera_map.set_geofence)
        panel.draw_requested.connect(self._draw_geofence)
        panel.camera_selected.connect(camera_map.select_camera)
        panel.camera_activated.connect(self.wall.open_in_free_tile)
        panel.open_requested.connect(self.wall.open_cameras)
        panel.message.connect(self._show_failure)
        footage = self.footage_panel
        footage.request_wanted.connect(self._request_footage)
        footage.message.connect(self._show_failure)
        footage.count_changed.connect(
            lambda _count: self.footage_dock.setWindowTitle(footage.tab_title)
        )
        panel.add_action_button(footage.request_action)
        evidence = self.evidence_panel
        evidence.message.connect(self._show_failure)
        evidence.count_changed.connect(
            lambda _count: self.evidence_dock.setWindowTitle(evidence.tab_title)
        )
        evidence.answers_recorded.connect(lambda _cad: footage.refresh())
        # Both work from anywhere in the window, not only while the footage tab is in front.
        self.addActions([footage.request_action, footage.send_action])

    def _request_footage(self) -> None:
        """Ask the owners for the geofence's selected cameras, or for every camera in it that
        cannot be opened live."""
        if self.locked:
            return
        panel = self.geofence_panel
        hits = panel.selected_hits() or (list(panel.result.hits) if panel.result else [])
        if self.footage_panel.request_footage(hits) is not None:
            self.footage_dock.show()
            self.footage_dock.raise_()

    def _incident_selected(self, incident: IncidentRow | None) -> None:
        self.footage_panel.set_incident(incident)
        self.evidence_panel.set_incident(incident)
        fence = self.geofence_panel.set_incident(incident)
        if fence is None:
            return
        self.camera_map.set_geofence(fence)
        self.camera_map.show_geofence(fence)
        if not self.locked:
            self.geofence_dock.show()
            self.geofence_dock.raise_()

    def _draw_geofence(self, mode: str) -> None:
        if self.locked:
            return
        self.map_dock.show()
        self.map_dock.raise_()
        self.camera_map.start_drawing(DrawMode(mode))

    def _new_wall(self, gate: PolicyGate, supervisor: FeedSupervisor) -> VideoWall:
        """The main wall, or a wall window's: each opens feeds the same way."""
        return VideoWall(
            gate=gate,
            supervisor=supervisor,
            jobs=self._jobs,
            user=self.user,
            audit=self._audit,
            export_dir=self._settings.exports_dir,
            selected_incident=self.incident_panel.selected_cad_number,
            # The main wall is built before the camera list: look it up when asked.
            selected_cameras=lambda: self.camera_list.selected_camera_ids(),  # noqa: PLW0108
            clock=self._clock,
            tour_interval_s=self._settings.wall.tour_interval_s,
            clip_seconds=self._settings.evidence.clip_seconds,
        )

    def _build_status_bar(self, credentials_insecure: bool) -> None:
        bar = self.statusBar()
        bar.setObjectName("statusBar")
        self.user_label = QLabel(
            f"Signed in: {self.user.display_name} · {role_text(self.user.role)}"
        )
        self.workstation_label = QLabel(f"Workstation: {self._settings.workstation}")
        self.audit_label = QLabel("Audit: counting events…")
        self.audit_label.setObjectName("auditState")
        self.registry_label = QLabel("registry: connecting")
        self.registry_label.setObjectName("registryState")
        self.registry_label.setVisible(self._registry_sync is not None)
        self.insecure_label = QLabel("Credentials: demo file keyring (insecure)")
        self.insecure_label.setObjectName("insecureWarning")
        self.insecure_label.setToolTip(
            "Camera passwords are kept in a plain file on this workstation. Acceptable on a "
            "demo or test machine only; production workstations use the OS keyring."
        )
        self.insecure_label.setVisible(credentials_insecure)
        for label in (
            self.user_label,
            self.workstation_label,
            self.audit_label,
            self.registry_label,
        ):
            label.setObjectName(label.objectName() or "statusText")
            bar.addPermanentWidget(label)
        bar.addPermanentWidget(self.insecure_label)

    def _action(
        self,
        text: str,
        slot: Callable[[], object],
        keys: tuple[str, ...] = (),
        *,
        checkable: bool = False,
    ) -> QAction:
        action = QAction(text, self)
        action.setShortcuts([QKeySequence(key) for key in keys])
        action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    @property
    def _dock_actions(self) -> tuple[QAction, ...]:
        return (
            self.camera_dock_action,
            self.incident_dock_action,
            self.map_dock_action,
            self.geofence_dock_action,
            self.footage_dock_action,
            self.evidence_dock_action,
        )

    def _build_actions(self) -> None:
        self.lock_action = self._action("&Lock", lambda: self.lock(LockReason.MANUAL), ("Ctrl+L",))
        self.sign_out_action = self._action("Sign &out", self.sign_out)
        self.quit_action = self._action("&Quit", self.quit, ("Ctrl+Q",))
        self.camera_dock_action = self.camera_dock.toggleViewAction()
        self.camera_dock_action.setText("&Cameras")
        self.camera_dock_action.setShortcut(QKeySequence("Ctrl+1"))
        self.incident_dock_action = self.incident_dock.toggleViewAction()
        self.incident_dock_action.setText("&Incidents")
        self.incident_dock_action.setShortcut(QKeySequence("Ctrl+2"))
        self.map_dock_action = self.map_dock.toggleViewAction()
        self.map_dock_action.setText("&Map")
        self.map_dock_action.setShortcut(QKeySequence("Ctrl+3"))
        self.geofence_dock_action = self.geofence_dock.toggleViewAction()
        self.geofence_dock_action.setText("&Geofence")
        self.geofence_dock_action.setShortcut(QKeySequence("Ctrl+4"))
        self.footage_dock_action = self.footage_dock.toggleViewAction()
        self.footage_dock_action.setText("Footage &requests")
        self.footage_dock_action.setShortcut(QKeySequence("Ctrl+5"))
        self.evidence_dock_action = self.evidence_dock.toggleViewAction()
        self.evidence_dock_action.setText("&Evidence")
        self.evidence_dock_action.setShortcut(QKeySequence("Ctrl+6"))
        for action in self._dock_actions:
            action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
            self.addAction(action)
        self.filter_action = self._action("&Filter cameras", self._focus_camera_filter, ("Ctrl+F",))
        self.incidents_action = self._action("Focus i&ncidents", self._focus_incidents, ("Ctrl+I",))
        self.rejected_action = self._action("&Rejected CAD records…", self._show_rejected_records)
        self.full_screen_action = self._action(
            "F&ull screen", self._toggle_full_screen, ("F11",), checkable=True
        )
        self.help_action = self._action("&Keyboard shortcuts", self._toggle_help, ("F1", "?"))
        self.high_contrast_action = self._action(
            "&High contrast", self._switch_theme, ("Ctrl+Alt+H",), checkable=True
        )
        self.high_contrast_action.setChecked(current() is HIGH_CONTRAST)
        self.high_contrast_action.setToolTip(
            "Black and white with yellow focus outlines, in every window, for this session; "
            "to start in it, set high_contrast = true under [display] in settings.toml"
        )
        wall = self.wall
        self.wall_toolbar = QToolBar("Wall layout", self)
        self.wall_toolbar.setObjectName("wallToolBar")
        self.wall_toolbar.setMovable(False)
        self.wall_toolbar.setFloatable(False)
        self.wall_toolbar.addWidget(QLabel("Layout"))
        self.wall_toolbar.addActions(wall.layout_actions)
        self.wall_toolbar.addSeparator()
        self.wall_toolbar.addAction(wall.overlay_action)
        self.wall_toolbar.addAction(wall.case_action)
        self.wall_toolbar.addAction(wall.snapshot_action)
        self.wall_toolbar.addAction(wall.clip_action)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.wall_toolbar)

        menus = self.menuBar()
        file_menu = menus.addMenu("&File")
        file_menu.addAction(wall.snapshot_action)
        file_menu.addAction(wall.clip_action)
        file_menu.addSeparator()
        file_menu.addAction(self.lock_action)
        file_menu.addAction(self.sign_out_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        view_menu = menus.addMenu("&View")
        view_menu.addActions(list(self._dock_actions))
        view_menu.addSeparator()
        view_menu.addAction(self.filter_action)
        view_menu.addAction(self.incidents_action)
        view_menu.addAction(self.rejected_action)
        view_menu.addSeparator()
        layout_menu = view_menu.addMenu("Wall &layout")
        layout_menu.addActions(wall.layout_actions)
        view_menu.addAction(wall.overlay_action)
        view_menu.addAction(wall.restore_action)
        view_menu.addAction(wall.case_action)
        tile_menu = view_menu.addMenu("&Tile")
        tile_menu.addActions(
            [wall.recall_action, wall.health_action, wall.tour_tile_action, wall.tour_wall_action]
        )
        tile_menu.addAction(wall.stop_tour_action)
        view_menu.addSeparator()
        view_menu.addAction(self.full_screen_action)
        view_menu.addAction(self.high_contrast_action)
        geofence = self.geofence_panel
        geofence_menu = menus.addMenu("&Geofence")
        geofence_menu.addActions(
            [
                geofence.circle_action,
                geofence.polygon_action,
                geofence.reset_action,
                geofence.refresh_action,
            ]
        )
        geofence_menu.addSeparator()
        geofence_menu.addAction(geofence.open_action)
        footage = self.footage_panel
        geofence_menu.addSeparator()
        geofence_menu.addActions(
            [
                footage.request_action,
                footage.send_action,
                footage.fulfilled_action,
                footage.declined_action,
            ]
        )
        self.window_menu = WindowMenu(self.wall_windows, self.views_menu, self)
        menus.addMenu(self.window_menu)
        self.addActions([self.wall_windows.next_monitor_action, self.views_menu.save_action])
        # Supervisors and administrators only: an operator's console has no such entry at all.
        self.replay_action: QAction | None = None
        if self.user.role in REPLAY_ROLES:
            self.replay_action = self._action(
                "&Replay a session…", self.open_replay, ("Ctrl+Shift+A",)
            )
            menus.addMenu("&Audit").addAction(self.replay_action)
        # Field technicians only: the policy gate lets no one else open a feed to verify it.
        self.install_action: QAction | None = None
        if self.user.role in INSTALL_ROLES:
            self.install_action = self._action(
                "&Check a camera install…", self.open_install_verifier, ("Ctrl+Shift+I",)
            )
            menus.addMenu("&Install").addAction(self.install_action)
        help_menu = menus.addMenu("&Help")
        help_menu.addAction(self.help_action)
        self._locked_out_actions = (
            *self.window_menu.locked_out_actions,
            *([self.replay_action] if self.replay_action is not None else []),
            *([self.install_action] if self.install_action is not None else []),
            *self._dock_actions,
            *geofence.actions(),
            *footage.actions(),
            *self.evidence_panel.actions(),
            self.filter_action,
            self.incidents_action,
            self.rejected_action,
            *wall.layout_actions,
            wall.overlay_action,
            wall.restore_action,
            wall.case_action,
            wall.snapshot_action,
            wall.clip_action,
            wall.recall_action,
            wall.health_action,
            wall.tour_tile_action,
            wall.tour_wall_action,
            wall.stop_tour_action,
        )

    def shortcuts(self) -> list[Shortcut]:
        """Every shortcut of the window, as the help overlay lists it."""
        listed = (
            self.lock_action,
            self.quit_action,
            self.filter_action,
            self.incidents_action,
            *self._dock_actions,
            self.geofence_panel.circle_action,
            self.geofence_panel.polygon_action,
            self.geofence_panel.open_action,
            self.footage_panel.request_action,
            self.footage_panel.send_action,
            self.footage_panel.fulfilled_action,
            self.footage_panel.declined_action,
            self.footage_panel.refresh_action,
            self.full_screen_action,
            self.high_contrast_action,
            self.help_action,
            self.views_menu.save_action,
            self.wall_windows.next_monitor_action,
            *([self.replay_action] if self.replay_action is not None else []),
            *([self.install_action] if self.install_action is not None else []),
        )
        rows = []
        for action in listed:
            keys = " or ".join(
                key.toString(QKeySequence.SequenceFormat.NativeText) for key in action.shortcuts()
            )
            label = action.text().replace("&", "")
            if action.isCheckable() and action in self._dock_actions:
                label = f"Show or hide {label.lower()}"
            elif action in self.geofence_panel.actions():
                label = f"Geofence: {label[0].lower()}{label[1:]}"
            elif action in self.footage_panel.actions():
                label = f"Footage requests: {label[0].lower()}{label[1:]}"
            rows.append((label, keys))
        native = QKeySequence.SequenceFormat.NativeText
        first, last = self.wall.layout_actions[0], self.wall.layout_actions[-1]
        names = ", ".join(action.text() for action in self.wall.layout_actions)
        rows += [
            (
                f"Wall layout: {names}",
                f"{first.shortcut().toString(native)} … {last.shortcut().toString(native)}",
            ),
            ("Show or hide the tile overlay", "O"),
            ("Open the selected camera on a free tile", "Enter (camera list)"),
            ("Maximise the focused tile", "Enter or double-click"),
            ("Back to the wall from a maximised tile", "Esc"),
            ("Close the focused tile's feed", "Delete"),
            ("Save a snapshot of the focused tile (PNG, SHA-256, audited)", "Ctrl+S"),
            (
                f"Save the focused tile's last {self._settings.evidence.clip_seconds} s "
                "as a clip (MP4, SHA-256, audited)",
                "Ctrl+Shift+S",
            ),
            ("Recall the focused tile's previous camera", "Backspace"),
            *EVIDENCE_SHORTCUTS,
            ("Show or hide the focused tile's stream health", "H"),
            ("Tour the cameras selected in the list on the focused tile", "Ctrl+T"),
            ("Tour the selected cameras across the whole wall", "Ctrl+Shift+T"),
            ("Stop the focused tile's tour", "Ctrl+Shift+P"),
            ("Tour several cameras on one tile", "Drag them onto it"),
            *MAP_SHORTCUTS,
            ("Close this list", "Esc"),
        ]
        return rows

    # ---- state persistence ----------------------------------------------------------------

    def _restore_window_state(self) -> bool:
        geometry = self._window_state.value(GEOMETRY_KEY)
        state = self._window_state.value(STATE_KEY)
        restored = False
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            restored = self.restoreGeometry(geometry)
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)
        return restored

    def _save_window_state(self) -> None:
        state = self._state_before_lock if self.locked else self.saveState()
        self._window_state.setValue(GEOMETRY_KEY, self.saveGeometry())
        self._window_state.setValue(STATE_KEY, state)
        self._window_state.sync()

    # ---- registry reads (off the UI thread) ------------------------------------------------

    def refresh_cameras(self) -> None:
        if self._cameras_loading or self._ended:
            return
        self._cameras_loading = True
        sessions, clock = self._sessions, self._clock

        def work() -> tuple[list[CameraRow], CameraCatalog]:
            rows = read_camera_rows(sessions, clock())
            return rows, CameraCatalog.build(rows)

        self._jobs.submit(
            "Reading the camera list",
            work,
            self._cameras_loaded,
            self._cameras_failed,
            owner=self,
        )

    def _cameras_loaded(self, loaded: tuple[list[CameraRow], CameraCatalog]) -> None:
        self._cameras_loading = False
        rows, catalog = loaded
        self.geofence_panel.set_catalog(catalog)
        self.camera_list.set_cameras(rows)
        self.camera_map.set_cameras(rows)
        self.wall.set_cameras(rows)
        self.wall_windows.set_cameras(rows)

    def _cameras_failed(self, error: Exception) -> None:
        self._cameras_loading = False
        self._show_failure(f"Reading the camera list failed: {error}")

    def refresh_incidents(self) -> None:
        if self._incidents_loading or self._ended:
            return
        self._incidents_loading = True
        sessions, poll, clock, audit = self._sessions, self._cad_poll, self._clock, self._audit

        def work() -> _IncidentRefresh:
            with sessions() as session:
                report = None
                if poll is not None:
                    report = poll(session, clock())
                    session.commit()
                rows = incident_rows(session)
            return _IncidentRefresh(rows, audit.head.seq, report)

        self._jobs.submit(
            "Reading incidents", work, self._incidents_loaded, self._incidents_failed, owner=self
        )

    def _incidents_loaded(self, refresh: _IncidentRefresh) -> None:
        self._incidents_loading = False
        if self._incident_failures:
            self._incident_failures = 0
            self._incident_timer.setInterval(self._incident_interval_ms)
        self.incident_panel.set_incidents(refresh.rows)
        if refresh.cad is not None:
            self.incident_panel.set_cad_report(refresh.cad)
        self._set_audit_count(refresh.audit_count)

    def _incidents_failed(self, error: Exception) -> None:
        self._incidents_loading = False
        self._incident_failures += 1
        backoff = self._incident_interval_ms * 2**self._incident_failures
        self._incident_timer.setInterval(min(backoff, MAX_INCIDENT_BACKOFF_MS))
        self._show_failure(f"Reading incidents failed: {error}")

    def _set_audit_count(self, count: int) -> None:
        # Counts arrive from jobs: AuditLog.head waits on the lock an audit write holds during
        # its fsync, so the UI thread never reads it. Jobs may report out of order: keep the max.
        if count >= self._audit_count:
            self._audit_count = count
            self._audit_counted = True
            self.audit_label.setText(audit_text(count, self._sync_text))

    def _show_sync_state(self) -> None:
        """The sync client's state, polled: a snapshot it swaps under a lock it never holds
        while it waits on the network or the disk, so this never blocks the UI thread."""
        if self._registry_sync is not None:
            registry = self._registry_sync.state()
            self.registry_label.setText(registry.text())
            self.registry_label.setToolTip(registry.detail)
        if self._sync is None:
            return
        state = self._sync.state()
        self._sync_text = state.text(self._clock())
        if self._audit_counted:
            self.audit_label.setText(audit_text(self._audit_count, self._sync_text))
        self.audit_label.setToolTip(state.detail)

    def _show_failure(self, text: str) -> None:
        if not self._ended:
            self.statusBar().showMessage(text, 30_000)

    def _record(
        self,
        event_type: AuditEventType,
        *,
        outcome: Outcome = Outcome.SUCCESS,
        details: dict[str, DetailValue] | None = None,
    ) -> None:
        """Append an audit event off the UI thread; a failure goes to the error channel."""
        audit, actor = self._audit, self.user.username

        def work() -> int:
            return audit.record(
                event_type, actor=actor, subject=actor, outcome=outcome, details=details
            ).seq

        self._jobs.submit(
            f"Recording {event_type.value} in the audit log",
            work,
            self._set_audit_count,
            owner=self,
        )

    # ---- lock, unlock, re-authentication --------------------------------------------------

    @property
    def locked(self) -> bool:
        return self._locked_for is not None

    @property
    def lock_reason(self) -> LockReason | None:
        return self._locked_for

    def lock(self, reason: LockReason) -> None:
        """Hide the wall and the docks behind the lock screen; audited as session_locked."""
        if self._ended:
            return
        title = (
            reauth_text(self._settings.security.reauth_hours)
            if reason is LockReason.REAUTHENTICATION
            else LOCKED_TEXT
        )
        if self.locked:
            if reason is LockReason.REAUTHENTICATION and self._locked_for is not reason:
                self._locked_for = reason
                self.lock_screen.prepare(title)
            return
        self._locked_for = reason
        self._state_before_lock = self.saveState()
        self.help_overlay.hide()
        if self.wall_recovery is not None:
            self.wall_recovery.pause()
        if self.audit_replay is not None:
            self.audit_replay.pause()
            self.audit_replay.hide()  # a replayed session is as private as the live wall
        self.evidence_panel.close_players()  # so is an owner's footage
        for dock in self.docks:
            dock.hide()
        self.wall_toolbar.hide()
        for action in self._locked_out_actions:
            action.setEnabled(False)
        self._centre.setCurrentWidget(self.lock_screen)
        self.wall_windows.set_locked(True)
        self.lock_screen.prepare(title)
        self._record(AuditEventType.SESSION_LOCKED, details={"reason": reason.value})

    def _check_unlock(self, password: str) -> None:
        sessions, audit, username = self._sessions, self._audit, self.user.username
        self._jobs.submit(
            "Checking the password",
            lambda: (_confirm_unlock(sessions, audit, username, password), audit.head.seq),
            self._unlock_checked,
            self._unlock_failed,
            owner=self,
        )

    def _unlock_checked(self, result: tuple[bool, int]) -> None:
        valid, audit_count = result
        self._set_audit_count(audit_count)
        if not valid:
            self.lock_screen.show_error(UNLOCK_REFUSED_TEXT)
            return
        self._unlock()

    def _unlock_failed(self, error: Exception) -> None:
        if isinstance(error, AuditWriteError):
            self.lock_screen.show_error(UNLOCK_NOT_RECORDED)
        else:
            self.lock_screen.show_error(f"The password could not be checked: {error}")

    def _unlock(self) -> None:
        if not self.locked:
            return
        self._locked_for = None
        self._authenticated_at = self._monotonic()
        self._watcher.reset()
        for action in self._locked_out_actions:
            action.setEnabled(True)
        self.wall.restore_action.setEnabled(self.wall.maximised is not None)
        self._centre.setCurrentWidget(self.wall)
        self.wall_windows.set_locked(False)
        if self.wall_recovery is not None:
            self.wall_recovery.resume()
        if not self._state_before_lock.isEmpty():
            self.restoreState(self._state_before_lock)
        else:
            for dock in self.docks:
                dock.show()
            self.wall_toolbar.show()

    def _check_session(self) -> None:
        if self._ended:
            return
        if self._monotonic() - self._authenticated_at >= self._reauth_after_s:
            self.lock(LockReason.REAUTHENTICATION)
        elif not self.locked and self._watcher.idle_seconds() >= self._lock_after_s:
            self.lock(LockReason.INACTIVITY)

    # ---- other actions --------------------------------------------------------------------

    def _focus_camera_filter(self) -> None:
        if self.locked:
            return
        self.camera_dock.show()
        self.camera_dock.raise_()
        self.camera_list.focus_filter()

    def _focus_incidents(self) -> None:
        if self.locked:
            return
        self.incident_dock.show()
        self.incident_dock.raise_()
        self.incident_panel.focus_table()

    def _show_rejected_records(self) -> None:
        if self.locked:
            return
        self.incident_dock.show()
        self.incident_dock.raise_()
        self.incident_panel.show_rejected_records()

    def _toggle_full_screen(self) -> None:
        active = QApplication.activeWindow()
        if isinstance(active, WallWindow):  # F11 is one shortcut for every window
            active.toggle_full_screen()
            self.full_screen_action.setChecked(self.isFullScreen())
            return
        if self.isFullScreen():
            self.showNormal()
        else:
            self.showFullScreen()
        self.full_screen_action.setChecked(self.isFullScreen())

    def _switch_theme(self) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication):  # every window, the wall windows too
            apply_theme(app, theme_for(self.high_contrast_action.isChecked()))

    def open_replay(self) -> AuditReplay | None:
        """The session replay window (supervisors and administrators only), opened once and
        raised after that."""
        if self.locked or self.user.role not in REPLAY_ROLES:
            return None
        if self.audit_replay is None:
            settings, credentials, username = self._settings, self._credentials, self.user.username
            sources: list[tuple[str, ReplaySource]] = [
                ("This workstation's audit log", LocalLogSource(settings.audit_db))
            ]
            since = self._clock() - timedelta(days=REPLAY_SERVER_DAYS)
            server = ServerCopySource.from_settings(settings, credentials, username, since)
            store_token = None
            if server is not None:
                sources.append((f"The sync server's copy (last {REPLAY_SERVER_DAYS} days)", server))
                url = server.server_url

                def store_token(token: str) -> None:
                    store_replay_token(credentials, url, username, token)

            self.audit_replay = AuditReplay(
                jobs=self._jobs,
                audit=self._audit,
                user=self.user,
                sources=sources,
                export_dir=settings.exports_dir,
                store_token=store_token,
                clock=self._clock,
                parent=self,
            )
            self.audit_replay.setWindowFlag(Qt.WindowType.Window)
            self.audit_replay.message.connect(self._show_failure)
            resize_within_screen(self.audit_replay, 1500, 950)
        self.audit_replay.show()
        self.audit_replay.raise_()
        self.audit_replay.activateWindow()
        return self.audit_replay

    def open_install_verifier(self) -> InstallVerifier | None:
        """The install check window (field technicians only), opened once and raised after
        that."""
        if self.locked or self.user.role not in INSTALL_ROLES:
            return None
        if self.install_verifier is None:
            gate, audit, clock = self._gate, self._audit, self._clock
            credentials = self._credentials

            def make_check(ask: AskCredentials) -> InstallCheck:
                return InstallCheck(gate, audit, lambda: credentials, clock, ask_credentials=ask)

            self.install_verifier = InstallVerifier(
                make_check=make_check,
                user=self.user,
                snapshots=PlacementSnapshots(gate, audit, lambda: credentials, self._sessions),
                placement_map=placement_map(self._settings, self._jobs),
                parent=self,
            )
            self.install_verifier.set_record_page(
                InstallRecordForm(
                    sessions=self._sessions,
                    audit=audit,
                    jobs=self._jobs,
                    user=self.user,
                    workstation=self._settings.workstation,
                    sync=self._install_record_sync,
                    export_dir=self._settings.exports_dir,
                    clock=clock,
                )
            )
            self.install_verifier.setWindowFlag(Qt.WindowType.Window)
            self.install_verifier.message.connect(self._show_failure)
            resize_within_screen(self.install_verifier, 1100, 680)
        self.install_verifier.show()
        self.install_verifier.raise_()
        self.install_verifier.activateWindow()
        return self.install_verifier

    def _toggle_help(self) -> None:
        if self.help_overlay.isVisible():
            self.help_overlay.hide()
        else:
            self.help_overlay.open()

    def sign_out(self) -> None:
        self._end_reason = SessionEnd.SIGN_OUT
        self.close()

    def quit(self) -> None:
        self._end_reason = SessionEnd.QUIT
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._ended:
            if self.wall_recovery is not None:
                self.wall_recovery.stop()  # closing wall windows below is not a wall to keep
            self.wall_windows.end_session()
            if self.install_verifier is not None:
                self.install_verifier.shutdown()  # its lease ends, audited, before the logout
            self.evidence_panel.close_players()  # their decoders stop, their copies go
            self._save_window_state()
            self._record(AuditEventType.LOGOUT, details={"reason": self._end_reason.value})
            self._ended = True
            for timer in (
                self._guard_timer,
                self._incident_timer,
                self._camera_timer,
                self._sync_timer,
            ):
                timer.stop()
            app = QApplication.instance()
            if app is not None:
                app.removeEventFilter(self._watcher)
            self.session_ended.emit(self._end_reason.value)
        super().closeEvent(event)

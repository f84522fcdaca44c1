"""Beacon's Qt views and their small view-models (the only package, with app.shell, using Qt)."""

from app.widgets.background_jobs import BackgroundJobs
from app.widgets.camera_list import CameraList, CameraTableModel
from app.widgets.camera_map import CameraMap
from app.widgets.case_number_dialog import CaseNumberDialog
from app.widgets.incident_panel import IncidentPanel, IncidentTableModel
from app.widgets.lock_screen import LockScreen
from app.widgets.login_dialog import LoginDialog
from app.widgets.main_window import LockReason, MainWindow, SessionEnd
from app.widgets.shortcut_help import ShortcutHelp
from app.widgets.video_tile import VideoTile
from app.widgets.video_wall import VideoWall

__all__ = [
    "BackgroundJobs",
    "CameraList",
    "CameraMap",
    "CameraTableModel",
    "CaseNumberDialog",
    "IncidentPanel",
    "IncidentTableModel",
    "LockReason",
    "LockScreen",
    "LoginDialog",
    "MainWindow",
    "SessionEnd",
    "ShortcutHelp",
    "VideoTile",
    "VideoWall",
]

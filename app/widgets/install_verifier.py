"""The InstallVerifier: the field technician's install check in the console, on the same engine
as ``beacon verify`` (:mod:`app.services.install_check`).

The technician names a registry camera, a stream URL or a video file, picks the streams and the
length of the stability run, and runs the check; it runs on a worker thread of the panel's own
(a check holds its thread for the whole run, which must not starve the console's shared pool),
and its table lists every check with what was measured, pass / warn / fail (in words and
colour) and the threshold. The camera's user name and password, when it asks for them, are
taken from the panel's fields and kept in the keyring once the camera accepted them.

Discover… probes the local network for ONVIF cameras (WS-Discovery) and lists those that
answered; choosing one (Enter, a double click, or Read streams) reads its profiles with the user
name and password typed in the panel (the fields are where the panel asks for them when the
camera wants some), prefills the URL with the main stream's URI and shows the sub's. Both run
on the panel's worker thread too.
Keyboard: Enter in any field runs the check, Escape cancels a running one.

The panel has three tabs (Ctrl+1, Ctrl+2, Ctrl+3, or Alt and the underlined letter): **Check**
(the above), **Placement** (:mod:`app.widgets.install_placement`: position, heading, field of
view and privacy masks drawn on a live snapshot of the camera named here) and **Record**
(:mod:`app.widgets.install_record_form`, given by ``set_record_page``: saves what the other two
found, ``record_context``, handed to it whenever that changes).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.models.camera_placement import CameraPlacement
from app.models.stream_url import redact_url
from app.services.accounts import SignedInUser
from app.services.credentials import CameraCredentials
from app.services.install_check import (
    DEFAULT_DURATION_S,
    AskCredentials,
    CheckStatus,
    InstallCheck,
    InstallCheckReport,
    parse_target,
)
from app.services.install_snapshot import PlacementSnapshots
from app.services.onvif_discovery import (
    DEFAULT_TIMEOUT_S,
    WS_DISCOVERY_MULTICAST,
    DeviceProfiles,
    DiscoveryResult,
    MediaProfile,
    OnvifAuthError,
    OnvifDevice,
    discover,
    read_profiles,
)
from app.video.install_probe import StreamName
from app.widgets import palette
from app.widgets.background_jobs import BackgroundJobs
from app.widgets.camera_map import CameraMap
from app.widgets.install_placement import Frame, InstallPlacement, SnapshotTaker
from app.widgets.install_record_form import InstallRecordForm
from app.widgets.row_table_model import RowTableModel, row_table_view

# Makes the engine for one run, with that run's way of answering a password request.
InstallCheckFactory = Callable[[AskCredentials], InstallCheck]
STREAM_CHOICES: tuple[tuple[str, tuple[StreamName, ...]], ...] = (
    ("Main and sub", ("main", "sub")),
    ("Main only", ("main",)),
    ("Sub only", ("sub",)),
)
STATUS_COLOURS = palette.ThemeColours(
    {CheckStatus.PASS: "CHECK_PASS", CheckStatus.WARN: "CHECK_WARN", CheckStatus.FAIL: "CHECK_FAIL"}
)
_ModelIndex = QModelIndex | QPersistentModelIndex
TAB_TITLES = ("C&heck", "&Placement", "Rec&ord")


@dataclass(frozen=True, eq=False)
class InstallRecordContext:
    """What the Record tab saves: the check's report, the camera, the placement the technician
    set and the snapshot as the wall shows it (BGR), each None until there is one."""

    report: InstallCheckReport | None
    camera_id: str | None
    placement: CameraPlacement | None
    masked_snapshot: Frame | None


@dataclass(frozen=True, slots=True)
class CheckRow:
    stream: str
    name: str
    value: str
    status: CheckStatus
    threshold: str


class CheckTableModel(RowTableModel[CheckRow]):
    COLUMNS = ("Stream", "Check", "Measured", "Result", "Threshold")
    RESULT_COLUMN = 3

    def show_report(self, report: InstallCheckReport | None) -> None:
        self.replace_rows(
            []
            if report is None
            else [
                CheckRow(
                    stream.measurement.stream,
                    check.name,
                    check.value,
                    check.status,
                    check.threshold,
                )
                for stream in report.streams
                for check in stream.checks
            ]
        )

    def data(self, index: _ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (row.stream, row.name, row.value, row.status.value.upper(), row.threshold)[
                column
            ]
        if role == Qt.ItemDataRole.ForegroundRole and column == self.RESULT_COLUMN:
            return QBrush(QColor(STATUS_COLOURS[row.status]))  # the active theme's
        return None


class InstallVerifier(QWidget):
    """The install check panel (see the module's docstring)."""

    report_ready = Signal(object)  # InstallCheckReport
    devices_found = Signal(object)  # DiscoveryResult
    streams_read = Signal(object)  # DeviceProfiles
    message = Signal(str)

    def __init__(
        self,
        *,
        make_check: InstallCheckFactory,
        user: SignedInUser,
        snapshots: PlacementSnapshots,
        placement_map: CameraMap | None = None,
        discovery_target: tuple[str, int] = WS_DISCOVERY_MULTICAST,
        discovery_timeout_s: float = DEFAULT_TIMEOUT_S,
        parent: QWidget | None = None,
    ) -> None:
        """``snapshots``: takes the Placement tab's snapshots; ``placement_map``: its map (a
        bare ``CameraMap`` without one). ``discovery_target``: where Discover… sends its probe
        (the multicast group; one address for a unicast probe)."""
        super().__init__(parent)
        self.setObjectName("installVerifier")
        self.setWindowTitle("Beacon — install check")
        self._make_check = make_check
        self._user = user
        self._jobs = BackgroundJobs(self, max_threads=1)
        self._cancel: threading.Event | None = None
        self.discovery_target = discovery_target
        self._discovery_timeout_s = discovery_timeout_s
        self._looking = False  # a discovery or a profile read is on the worker thread
        self.devices: list[OnvifDevice] = []
        self.report: InstallCheckReport | None = None

        self.target_edit = QLineEdit()
        self.target_edit.setObjectName("installTarget")
        self.target_edit.setPlaceholderText("camera id, rtsp://host/path, or a video file")
        self.target_edit.setAccessibleName("Camera, stream URL or file to check")
        self.target_edit.setToolTip(
            "A registry camera id, a stream URL (rtsp://host/path) or a video file an owner "
            "sent; Discover… fills in a camera's main stream"
        )
        self.stream_box = QComboBox()
        for label, _streams in STREAM_CHOICES:
            self.stream_box.addItem(label)
        self.stream_box.setToolTip("Which of a registry camera's streams to check")
        self.duration_box = QSpinBox()
        self.duration_box.setRange(1, 3600)
        self.duration_box.setValue(int(DEFAULT_DURATION_S))
        self.duration_box.setSuffix(" s")
        self.duration_box.setAccessibleName("Length of the stability run in seconds")
        self.duration_box.setToolTip("How long the stream is watched for drops, stalls and jumps")
        self.username_edit = QLineEdit()
        self.username_edit.setPlaceholderText("only if the camera asks")
        self.username_edit.setToolTip(
            "The camera's own user name, for its stream and for reading its ONVIF profiles"
        )
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setPlaceholderText("kept in the keyring once accepted")
        self.password_edit.setToolTip(
            "The camera's password: kept in the keyring once the stream accepted it, shown nowhere"
        )
        self.device_list = QListWidget()
        self.device_list.setObjectName("onvifDevices")
        self.device_list.setAccessibleName("ONVIF cameras found")
        self.device_list.setToolTip(
            "The ONVIF cameras that answered Discover…; Enter or a double click reads the chosen "
            "one's streams"
        )
        self.device_list.setMaximumHeight(self.fontMetrics().height() * 5)
        self.device_list.itemActivated.connect(lambda _item: self.read_streams())
        self.discover_button = QPushButton("&Discover…")
        self.discover_button.setToolTip(
            "Look for ONVIF cameras on the laptop's network (WS-Discovery, "
            f"{discovery_timeout_s:g} s)"
        )
        self.discover_button.clicked.connect(self.start_discovery)
        self.read_button = QPushButton("Read str&eams")
        self.read_button.setToolTip(
            "Read the chosen camera's profiles (with the user name and password above) and fill "
            "in its main stream's URL"
        )
        self.read_button.setEnabled(False)
        self.read_button.clicked.connect(self.read_streams)
        self.sub_stream_label = QLabel("—")
        self.sub_stream_label.setObjectName("onvifSubStream")
        self.sub_stream_label.setToolTip("The camera's sub stream, as its ONVIF profiles give it")
        self.sub_stream_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        device_buttons = QVBoxLayout()
        device_buttons.addWidget(self.discover_button)
        device_buttons.addWidget(self.read_button)
        device_buttons.addStretch(1)
        devices = QHBoxLayout()
        devices.addWidget(self.device_list, 1)
        devices.addLayout(device_buttons)

        form = QFormLayout()
        form.addRow("&Check:", self.target_edit)
        form.addRow("&Streams:", self.stream_box)
        form.addRow("Stability &run:", self.duration_box)
        form.addRow("Camera &user name:", self.username_edit)
        form.addRow("Camera pass&word:", self.password_edit)
        devices_label = QLabel("ONVIF de&vices:")
        devices_label.setBuddy(self.device_list)  # a row holding a layout gets no buddy itself
        form.addRow(devices_label, devices)
        form.addRow("Sub stream:", self.sub_stream_label)

        self.run_button = QPushButton("Run chec&k")
        self.run_button.setDefault(True)
        self.run_button.setToolTip("Run the check (Enter in any field)")
        self.run_button.clicked.connect(self.start_check)
        self.cancel_button = QPushButton("Cancel (Esc)")
        self.cancel_button.setEnabled(False)
        self.cancel_button.setToolTip("Stop the running check; the report says it was cancelled")
        self.cancel_button.clicked.connect(self.cancel_check)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        for edit in (self.target_edit, self.username_edit, self.password_edit):
            edit.returnPressed.connect(self.start_check)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.cancel_check)

        self.status_label = QLabel("Name a camera, a stream URL or a file, then run the check.")
        self.status_label.setObjectName("installStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.model = CheckTableModel()
        self.table = row_table_view(self.model, "installChecks", "Install check results")
        self.table.setTabKeyNavigation(False)  # Tab leaves the results, arrows move in them
        header = self.table.horizontalHeader()
        for column in range(len(CheckTableModel.COLUMNS) - 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)

        self.check_page = QWidget()
        self.check_page.setObjectName("installCheckPage")
        check_layout = QVBoxLayout(self.check_page)
        check_layout.addLayout(form)
        check_layout.addLayout(buttons)
        check_layout.addWidget(self.status_label)
        check_layout.addWidget(self.table, 1)

        self._snapshots = snapshots
        self.placement = InstallPlacement(
            self._jobs,
            self._snapshot_work,
            placement_map if placement_map is not None else CameraMap(self._jobs),
        )
        self.placement.message.connect(self.message)
        self.placement.placement_changed.connect(self._give_record_context)
        self.placement.snapshot_ready.connect(self._give_record_context)
        self.report_ready.connect(self._give_record_context)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("installTabs")
        self.tabs.addTab(self.check_page, TAB_TITLES[0])
        self.tabs.addTab(self.placement, TAB_TITLES[1])
        self.tabs.setTabToolTip(0, "Check the camera's streams (Ctrl+1)")
        self.tabs.setTabToolTip(1, "Position, heading, field of view and privacy masks (Ctrl+2)")
        for number in range(1, 4):
            QShortcut(
                QKeySequence(f"Ctrl+{number}"), self, lambda index=number - 1: self.show_tab(index)
            )
        self.record_page: InstallRecordForm | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.tabs)
        self.target_edit.setFocus()

    @property
    def running(self) -> bool:
        return self._cancel is not None

    def show_tab(self, index: int) -> None:
        if 0 <= index < self.tabs.count():
            self.tabs.setCurrentIndex(index)

    def set_record_page(self, page: InstallRecordForm) -> None:
        """The Record tab: the form that saves ``record_context()``, given it now and on every
        change of the check, the snapshot or the placement."""
        if self.record_page is not None:
            self.tabs.removeTab(self.tabs.indexOf(self.record_page))
        self.record_page = page
        self.tabs.addTab(page, TAB_TITLES[2])
        self.tabs.setTabToolTip(self.tabs.count() - 1, "Save the install record (Ctrl+3)")
        page.message.connect(self.message)
        self._give_record_context()

    def record_context(self) -> InstallRecordContext:
        """What the check and the placement found, for the Record tab. The camera is the one
        checked; the placement and snapshot come with it only when they are of that camera
        (a snapshot of another camera is not saved with this one's check)."""
        report = self.report
        camera_id = report.camera_id if report is not None else self.placement.camera_id
        same_camera = camera_id is not None and self.placement.camera_id == camera_id
        return InstallRecordContext(
            report,
            camera_id,
            self.placement.placement if same_camera else None,
            self.placement.masked_snapshot() if same_camera else None,
        )

    def _give_record_context(self, *_changed: object) -> None:
        if self.record_page is None:
            return
        context = self.record_context()
        self.record_page.set_context(
            report=context.report,
            camera_id=context.camera_id,
            placement=context.placement,
            snapshot=context.masked_snapshot,
        )

    def _snapshot_work(self) -> SnapshotTaker:
        """What the Placement tab's snapshot opens: the camera, URL or file named on the Check
        tab, with the user name and password typed there (read here, on the UI thread)."""
        text, user, snapshots = self.target_edit.text(), self._user, self._snapshots
        username = self.username_edit.text().strip()
        typed = CameraCredentials(username, self.password_edit.text()) if username else None
        return lambda: snapshots.take(text, user, typed)

    def start_check(self) -> None:
        if self.running or self._looking:
            return
        text = self.target_edit.text()
        streams = STREAM_CHOICES[self.stream_box.currentIndex()][1]
        duration_s = float(self.duration_box.value())
        username = self.username_edit.text().strip()
        typed = CameraCredentials(username, self.password_edit.text()) if username else None
        cancel = threading.Event()
        check = self._make_check(lambda _prompt: typed)
        user = self._user

        def work() -> InstallCheckReport:
            target = parse_target(text)  # looks for a file: not on the UI thread
            chosen = streams if target.kind == "camera" else ("main",)
            return check.run(target, user, streams=chosen, duration_s=duration_s, cancel=cancel)

        self._cancel = cancel
        self._set_running(True)
        self.model.show_report(None)
        self.status_label.setText(f"Checking for {duration_s:g} s…")
        self._jobs.submit("Install check", work, self._finished, self._failed, owner=self)

    def start_discovery(self) -> None:
        """Probe for ONVIF cameras on the worker thread; the list fills when they answered."""
        if self.running or self._looking:
            return
        target, timeout_s = self.discovery_target, self._discovery_timeout_s
        self._set_looking(True)
        self.status_label.setText(f"Looking for ONVIF cameras for {timeout_s:g} s…")
        self._jobs.submit(
            "ONVIF discovery",
            lambda: discover(timeout_s, target),
            self._discovered,
            self._discovery_failed,
            owner=self,
        )

    def read_streams(self) -> None:
        """Read the chosen camera's profiles with the typed credentials (kept in memory only)."""
        row = self.device_list.currentRow()
        if self.running or self._looking or not 0 <= row < len(self.devices):
            return
        device = self.devices[row]
        username = self.username_edit.text().strip()
        typed = CameraCredentials(username, self.password_edit.text()) if username else None
        self._set_looking(True)
        self.status_label.setText(f"Reading the streams of {device.label()}…")
        self._jobs.submit(
            "Reading a camera's ONVIF profiles",
            lambda: read_profiles(device, typed),
            self._streams_read,
            self._discovery_failed,
            owner=self,
        )

    def cancel_check(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
            self.status_label.setText("Cancelling…")

    def shutdown(self) -> None:
        """Stop a running check and wait for its thread (the console is closing)."""
        self.cancel_check()
        self._jobs.shutdown()

    def _set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        for field in (self.target_edit, self.stream_box, self.duration_box):
            field.setEnabled(not running)
        self.discover_button.setEnabled(not running)
        self.read_button.setEnabled(not running and bool(self.devices))

    def _set_looking(self, looking: bool) -> None:
        self._looking = looking
        for button in (self.run_button, self.discover_button):
            button.setEnabled(not looking)
        self.read_button.setEnabled(not looking and bool(self.devices))

    def _discovered(self, result: DiscoveryResult) -> None:
        self.devices = list(result.devices)
        self.device_list.clear()
        for device in self.devices:
            self.device_list.addItem(device.label())
            item = self.device_list.item(self.device_list.count() - 1)
            item.setToolTip(f"{device.location or 'no location given'} · {device.address}")
        self._set_looking(False)
        refused = f" ({result.refused[0]})" if result.refused else ""
        self.status_label.setText(result.summary + refused)
        if self.devices:
            self.device_list.setCurrentRow(0)
            self.device_list.setFocus()
        self.devices_found.emit(result)

    def _streams_read(self, profiles: DeviceProfiles) -> None:
        self._set_looking(False)
        main, sub = profiles.main, profiles.sub
        if main is None or main.uri is None:
            problems = "; ".join(profiles.problems) or "no profile has a stream URI"
            self.status_label.setText(f"The camera gave no stream to check: {problems}")
            return
        self.target_edit.setText(main.uri)
        self.sub_stream_label.setText(_profile_text(sub) if sub is not None else "none")
        self.status_label.setText(f"Main stream {_profile_text(main)} filled in: run the check.")
        self.target_edit.setFocus()
        self.streams_read.emit(profiles)

    def _discovery_failed(self, error: Exception) -> None:
        self._set_looking(False)
        reason = redact_url(str(error))
        self.message.emit(f"ONVIF: {reason}")
        if isinstance(error, OnvifAuthError):
            # This is where the panel asks for the camera's user name and password.
            self.status_label.setText(
                f"{reason}. Type the camera's user name and password above, then choose the "
                "camera again."
            )
            self.username_edit.setFocus()
            self.username_edit.selectAll()
        else:
            self.status_label.setText(f"ONVIF: {reason}")

    def _finished(self, report: InstallCheckReport) -> None:
        self._cancel = None
        self._set_running(False)
        self.report = report
        self.model.show_report(report)
        stopped = f" (stopped: {report.stopped_reason})" if report.stopped_reason else ""
        self.status_label.setText(
            f"{report.kind} {report.address}: {report.verdict.value.upper()}{stopped}"
        )
        self.table.setFocus()  # the results, for reading by keyboard
        self.report_ready.emit(report)

    def _failed(self, error: Exception) -> None:
        self._cancel = None
        self._set_running(False)
        reason = redact_url(str(error))
        self.status_label.setText(f"The check could not run: {reason}")
        self.message.emit(f"Install check: {reason}")
        self.target_edit.setFocus()


def _profile_text(profile: MediaProfile) -> str:
    encoding = f" {profile.encoding}" if profile.encoding else ""
    return f"{profile.uri} ({profile.resolution}{encoding}, profile {profile.name})"

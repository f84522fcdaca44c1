"""The install verifier's Record tab, a real widget on a real registry, audit log and sync server:
Save says what it waits for, saves from the keyboard off the UI thread, follows the record to
the server, and writes the owner's PDF report."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import select

from app.models import InstallRecord, InstallRecordSyncState
from app.services.install_record_sync import InstallRecordSync
from app.widgets.install_record_form import InstallRecordForm
from tests.factories import registry_sessions
from tests.install_records import (
    CAMERA,
    TECHNICIAN,
    add_technician_and_camera,
    check_report,
    placement,
    street_picture,
)
from tests.sync_server import ServerDatabase, ThreadServer
from tests.widgets.test_help import controls_without_tooltip

WAIT_MS = 20_000


@pytest.fixture
def record_sessions(settings, clock):
    factory = registry_sessions(settings)
    add_technician_and_camera(factory, clock)
    return factory


@pytest.fixture
def make_form(qtbot, record_sessions, audit_log, jobs, clock, tmp_path):
    def make(sync: InstallRecordSync | None = None) -> InstallRecordForm:
        form = InstallRecordForm(
            sessions=record_sessions,
            audit=audit_log,
            jobs=jobs,
            user=TECHNICIAN,
            workstation="tech-laptop-7",
            sync=sync,
            export_dir=tmp_path,
            clock=clock,
        )
        qtbot.addWidget(form)
        # Shortcuts need an active window, as on a real desk.
        with qtbot.waitActive(form):
            form.show()
            form.activateWindow()
        return form

    return make


def ready(form: InstallRecordForm, camera_id: str = CAMERA) -> None:
    """What the verifier gives once the check ran and the Placement tab took its snapshot."""
    form.set_context(
        report=check_report(camera_id),
        camera_id=camera_id,
        placement=placement(),
        snapshot=street_picture(),
    )


def saved_records(sessions) -> list[InstallRecord]:
    with sessions() as session:
        return list(session.scalars(select(InstallRecord)))


def test_save_waits_for_a_check_and_a_snapshot_and_says_so(make_form):
    form = make_form()

    assert not form.save_button.isEnabled()
    assert "Run the install check first" in form.save_button.toolTip()
    form.set_context(report=check_report(), camera_id=CAMERA, placement=placement())
    assert not form.save_button.isEnabled()
    assert "Take a snapshot of the main stream" in form.save_button.toolTip()
    assert "PASS" in form.verdict_label.text()
    ready(form)
    assert form.save_button.isEnabled()
    shown = form.snapshot_label.pixmap().toImage()
    assert shown.pixelColor(40, 20).value() < 10  # under the window mask: black
    assert shown.pixelColor(shown.width() - 40, shown.height() - 20).value() > 100
    assert not form.report_button.isEnabled()
    assert "Save the install record first" in form.report_button.toolTip()
    assert controls_without_tooltip(form) == []


def test_too_long_notes_keep_save_disabled(make_form):
    form = make_form()
    ready(form)

    form.notes_edit.setPlainText("x" * 4001)

    assert not form.save_button.isEnabled()
    assert "keep them to 4000" in form.save_button.toolTip()
    assert form.notes_count.text() == "4001 / 4000 characters: too long"


def test_ctrl_return_saves_the_record_with_the_notes(qtbot, make_form, record_sessions):
    form = make_form()
    ready(form)
    qtbot.keyClicks(form.notes_edit, "Cable run through the soffit.")

    with qtbot.waitSignal(form.saved, timeout=WAIT_MS):
        qtbot.keyClick(form.notes_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)

    (record,) = saved_records(record_sessions)
    assert record.notes == "Cable run through the soffit."
    assert record.sync_state is InstallRecordSyncState.QUEUED
    assert form.sync_label.text() == "Saved, waiting for the server."
    assert not form.save_button.isEnabled()
    assert record.id in form.save_button.toolTip()
    assert form.notes_edit.toPlainText() == ""
    assert form.report_button.isEnabled()

    form.set_context(
        report=check_report(), camera_id=CAMERA, placement=placement(), snapshot=street_picture()
    )  # another check: another record
    assert form.save_button.isEnabled()
    assert form.sync_label.text() == "Not saved yet."


def test_a_refused_save_says_why_and_the_form_carries_on(qtbot, make_form, record_sessions):
    form = make_form()
    ready(form, camera_id="cam-gone")

    form.save_record()
    qtbot.waitUntil(lambda: form.error_label.text() != "", timeout=WAIT_MS)

    assert "Not saved: no camera 'cam-gone' in the registry" in form.error_label.text()
    assert form.save_button.isEnabled() and form.record is None
    assert saved_records(record_sessions) == []


def test_the_record_is_followed_until_the_server_has_it(
    qtbot, make_form, record_sessions, clock, server_db: ServerDatabase
):
    token = server_db.register("tech-laptop-7")
    server = ThreadServer(server_db.url)  # down while the technician saves
    sync = InstallRecordSync(
        sessions=record_sessions,
        interval_s=0.2,
        server_url=server.url,
        workstation_id="tech-laptop-7",
        token=lambda: token,
        retry_initial_s=0.05,
        retry_max_s=0.2,
        clock=clock,
    )
    sync.start()
    try:
        form = make_form(sync)
        ready(form)
        with qtbot.waitSignal(form.saved, timeout=WAIT_MS):
            form.save_button.click()
        qtbot.waitUntil(
            lambda: "Last try: server unreachable" in form.sync_label.text(), timeout=WAIT_MS
        )
        assert form.sync_label.text().startswith("Saved, waiting for the server.")

        server.start()
        qtbot.waitUntil(
            lambda: form.sync_label.text().startswith("Sent to the server at"), timeout=WAIT_MS
        )
    finally:
        sync.stop()
        server.stop()
    assert saved_records(record_sessions)[0].sync_state is InstallRecordSyncState.SENT


def test_the_pdf_report_of_the_saved_record_is_written(qtbot, make_form, tmp_path):
    form = make_form()
    ready(form)
    with qtbot.waitSignal(form.saved, timeout=WAIT_MS):
        form.save_record()
    path = tmp_path / "reports" / "harbor.pdf"

    with qtbot.waitSignal(form.report_written, timeout=WAIT_MS) as written:
        form.export_report(path)

    assert written.args == [path]
    assert path.read_bytes().startswith(b"%PDF")

    form.export_report(tmp_path / "harbor.docx")
    assert "the report is a PDF" in form.error_label.text()


def test_the_tab_fits_a_small_laptop_screen(make_form):
    form = make_form()
    ready(form)
    hint = form.minimumSizeHint()

    assert hint.width() <= 1366 and hint.height() <= 560, hint

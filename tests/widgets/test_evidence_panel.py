"""The evidence panel against the real evidence server on loopback: owners answered footage
requests on the real upload page (one sent a clip, one declined), the panel lists what came,
brings the answers back to the workstation's requests, plays a file for a purpose the operator
confirms or types, and says plainly when no server is configured or the server is down."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from app.evidence.package import verify_package
from app.models import FootageRequestStatus
from app.models.audit_chain import AuditEventType
from app.models.policy import Purpose, PurposeKind
from app.services.audit_log import AuditLog
from app.services.credentials import CredentialStore
from app.services.evidence_client import NO_SERVER_TEXT
from app.services.footage_requests import SessionFactory, read_request_rows
from app.services.registry_rows import IncidentRow, read_incident_rows
from app.services.sync_link import sync_token_name
from app.settings import Settings
from app.widgets.background_jobs import BackgroundJobs
from app.widgets.evidence_panel import EvidencePanel
from app.widgets.evidence_player import EvidencePlayer
from app.widgets.main_window import LockReason
from tests.cad_server import closed_port_url
from tests.conftest import ManualClock
from tests.services.test_evidence_client import (
    WORKSTATION,
    Vault,
    clip,
    copies,
    evidence_server,
    sessions,
    smtp_server,
    template,
    vault,
)
from tests.services.test_footage_requests import CAD, OPERATOR
from tests.sync_server import ThreadServer
from tests.widgets.conftest import audit_events
from tests.widgets.test_help import controls_without_tooltip

__all__ = ["clip", "copies", "evidence_server", "sessions", "smtp_server", "template", "vault"]


def with_server(settings: Settings, url: str) -> Settings:
    sync = settings.sync.model_copy(update={"server_url": url, "workstation_id": WORKSTATION})
    return settings.model_copy(update={"sync": sync})


def incident(sessions: SessionFactory) -> IncidentRow:
    (row,) = [row for row in read_incident_rows(sessions) if row.cad_number == CAD]
    return row


@pytest.fixture
def make_panel(
    qtbot,
    sessions: SessionFactory,
    audit_log: AuditLog,
    jobs: BackgroundJobs,
    clock: ManualClock,
    copies: Path,
) -> Callable[[Settings], EvidencePanel]:
    def make(settings: Settings) -> EvidencePanel:
        panel = EvidencePanel(
            jobs=jobs,
            sessions=sessions,
            audit=audit_log,
            user=OPERATOR,
            settings=settings,
            credentials=CredentialStore.for_settings(settings),
            clock=clock,
            temp_root=copies,
        )
        qtbot.addWidget(panel)
        panel.show()
        return panel

    return make


@pytest.fixture
def panel(
    qtbot,
    make_panel,
    settings: Settings,
    evidence_server: ThreadServer,
    vault: Vault,
    sessions: SessionFactory,
) -> EvidencePanel:
    served = with_server(settings, evidence_server.url)
    CredentialStore.for_settings(served).set_secret(sync_token_name(served), vault.token)
    panel: EvidencePanel = make_panel(served)
    with qtbot.waitSignal(panel.answers_recorded) as answered:
        panel.set_incident(incident(sessions))
    assert answered.args == [CAD]
    qtbot.waitUntil(lambda: not panel.loading and panel.model.rowCount() == 3)
    return panel


def cells(panel: EvidencePanel) -> list[tuple[str, ...]]:
    model = panel.model
    return [
        tuple(model.index(row, column).data() for column in (0, 2, 1))  # camera, file, status
        for row in range(model.rowCount())
    ]


def test_the_incidents_files_and_requests_are_listed_and_the_answers_come_back(
    panel: EvidencePanel, vault: Vault, sessions: SessionFactory
):
    door, alley, garage = (
        vault.references[c] for c in ("cam-deli-door", "cam-deli-alley", "cam-garage")
    )
    listed = cells(panel)
    assert listed[0] == ("Deli front door", "doorcam 2026-11-18.mp4", "received")
    assert listed[1][0] == "Deli alley" and listed[1][1].startswith(f"{alley} · ")
    assert listed[1][2].startswith("requested, waiting until")
    assert listed[2][0] == "Garage forecourt" and listed[2][1].startswith(f"{garage} · ")
    assert listed[2][2] == "declined: Camera was off that night"
    panel.view.selectRow(2)
    assert (
        panel.details.text() == f"{garage} · Garage forecourt: declined: Camera was off that night"
    )
    row = panel.model.index(0, 0)
    assert "SHA-256" in row.data(0x3)  # the tooltip names the fingerprint
    assert panel.model.index(0, 5).data() == "320×240 h264"
    assert panel.model.index(0, 4).data().startswith("0:03")
    assert panel.summary.text().startswith("1 file received, 1 request waiting, 1 declined")
    assert panel.tab_title == "Evidence (1)"
    statuses = {row.reference: row.status for row in read_request_rows(sessions, CAD)}
    assert statuses[door] is FootageRequestStatus.FULFILLED
    assert statuses[garage] is FootageRequestStatus.DECLINED
    assert statuses[alley] is FootageRequestStatus.SENT
    assert controls_without_tooltip(panel) == []


def open_player(qtbot, panel: EvidencePanel, purpose: str | None = None) -> EvidencePlayer:
    panel.view.selectRow(0)
    assert panel.play_action.isEnabled()
    panel.play_action.trigger()
    dialog = panel.purpose_dialog
    assert dialog is not None and dialog.purpose_edit.text() == f"incident:{CAD}"
    if purpose is not None:
        dialog.purpose_edit.setText(purpose)
    dialog.accept()
    [player] = panel.players
    qtbot.addWidget(player)
    qtbot.waitUntil(lambda: player.frame_number == 0 and not player.busy)
    return player


def test_a_file_plays_for_the_incident_and_the_view_is_audited_and_shown(
    qtbot, panel: EvidencePanel, settings: Settings, copies: Path
):
    player = open_player(qtbot, panel)

    assert player.facts is not None and player.facts.frame_count == 45
    requested, opened = audit_events(settings, AuditEventType.EVIDENCE_VIEWED)
    assert [e["details"]["status"] for e in (requested, opened)] == ["requested", "opened"]
    assert requested["purpose"] == f"incident:{CAD}" and requested["actor"] == OPERATOR.username
    assert requested["details"]["sha256"] == player.evidence.sha256
    qtbot.waitUntil(lambda: cells(panel)[0][2] == f"viewed by {OPERATOR.username}")
    [folder] = list(copies.iterdir())
    player.close()
    assert not folder.exists() and panel.players == []


def test_a_case_number_typed_for_the_view_is_the_purpose(
    qtbot, panel: EvidencePanel, settings: Settings
):
    player = open_player(qtbot, panel, "24-1187")

    assert str(player.purpose) == "case:24-1187"
    purposes = {e["purpose"] for e in audit_events(settings, AuditEventType.EVIDENCE_VIEWED)}
    assert purposes == {"case:24-1187"}
    player.close()


def test_an_empty_purpose_is_asked_again(qtbot, panel: EvidencePanel, settings: Settings):
    panel.view.selectRow(0)
    panel.play_action.trigger()
    dialog = panel.purpose_dialog
    assert dialog is not None
    dialog.purpose_edit.setText("   ")
    dialog.accept()
    assert dialog.isVisible() and "Enter an incident or case number" in dialog.message.text()
    assert panel.players == []
    assert audit_events(settings, AuditEventType.EVIDENCE_VIEWED) == []
    dialog.reject()


def test_a_request_row_does_not_play(panel: EvidencePanel):
    panel.view.selectRow(2)
    assert not panel.play_action.isEnabled()
    panel.play_selected()
    assert panel.players == [] and panel.purpose_dialog is None


def test_the_server_going_down_is_said_and_the_list_kept(
    qtbot, panel: EvidencePanel, evidence_server: ThreadServer
):
    evidence_server.stop()
    panel.refresh()
    qtbot.waitUntil(lambda: not panel.loading)

    assert "cannot be reached" in panel.status_line.text()
    assert "The list shows what was read at" in panel.status_line.text()
    assert panel.status_line.objectName() == "errorText"
    assert panel.model.rowCount() == 3
    evidence_server.start()
    panel.refresh()
    qtbot.waitUntil(lambda: not panel.loading)
    assert panel.status_line.isHidden()


def test_a_player_whose_file_cannot_be_fetched_says_why(
    qtbot, panel: EvidencePanel, evidence_server: ThreadServer, copies: Path
):
    evidence_server.stop()
    panel.view.selectRow(0)
    panel.play_action.trigger()
    assert panel.purpose_dialog is not None
    panel.purpose_dialog.accept()
    [player] = panel.players
    qtbot.addWidget(player)
    qtbot.waitUntil(lambda: "cannot be reached" in player.status_line.text())
    assert list(copies.iterdir()) == []
    player.close()


def test_no_server_configured_says_what_to_do(
    qtbot, make_panel, settings: Settings, sessions: SessionFactory
):
    panel = make_panel(settings)
    panel.set_incident(incident(sessions))

    assert panel.server_line.isVisibleTo(panel)
    assert panel.server_line.text() == f"{NO_SERVER_TEXT}."
    assert not panel.refresh_action.isEnabled() and not panel.loading
    assert panel.model.rowCount() == 0


def test_the_refresh_runs_by_itself_while_the_panel_is_shown(
    qtbot,
    sessions: SessionFactory,
    audit_log: AuditLog,
    jobs: BackgroundJobs,
    clock: ManualClock,
    settings: Settings,
    copies: Path,
):
    down = closed_port_url().removesuffix("/cad/records")
    served = with_server(settings, down)
    CredentialStore.for_settings(served).set_secret(sync_token_name(served), "bst_x")
    panel = EvidencePanel(
        jobs=jobs,
        sessions=sessions,
        audit=audit_log,
        user=OPERATOR,
        settings=served,
        credentials=CredentialStore.for_settings(served),
        clock=clock,
        temp_root=copies,
        refresh_ms=50,
    )
    qtbot.addWidget(panel)
    panel.show()
    panel.set_incident(incident(sessions))
    qtbot.waitUntil(lambda: "cannot be reached" in panel.status_line.text())
    panel.status_line.setText("")
    qtbot.waitUntil(lambda: "cannot be reached" in panel.status_line.text())
    panel.set_incident(None)


def test_the_console_has_the_evidence_dock_and_lists_its_keys(qtbot, make_window):
    window = make_window()

    assert window.evidence_dock.windowTitle() == "Evidence"
    assert window.evidence_dock_action.shortcut().toString() == "Ctrl+6"
    texts = window.help_overlay.shortcuts_text()
    assert "Ctrl+6: Show or hide evidence" in texts
    assert (
        "Space, ← → or , ., Ctrl+S: Evidence player: play or pause, previous or next frame, "
        "save the frame (audited)"
    ) in texts
    assert controls_without_tooltip(window.evidence_panel) == []
    assert window.evidence_panel.server_line.isVisibleTo(window.evidence_panel)


def test_locking_or_quitting_the_console_closes_its_players_and_their_copies_go(
    qtbot,
    make_window,
    settings: Settings,
    evidence_server: ThreadServer,
    vault: Vault,
    sessions: SessionFactory,
):
    served = with_server(settings, evidence_server.url)
    credentials = CredentialStore.for_settings(served)
    credentials.set_secret(sync_token_name(served), vault.token)
    window = make_window(settings=served, credentials=credentials)
    panel = window.evidence_panel
    panel.set_incident(incident(sessions))
    qtbot.waitUntil(lambda: panel.model.rowCount() == 3 and not panel.loading)
    file = panel.rows[0].file
    assert file is not None

    def playing() -> EvidencePlayer:
        player: EvidencePlayer = panel.play(file, Purpose(PurposeKind.INCIDENT, CAD))
        qtbot.waitUntil(lambda: player.frame_number == 0 and player.copy is not None)
        return player

    first = playing()
    assert first.copy is not None
    window.lock(LockReason.MANUAL)
    assert panel.players == [] and not first.copy.folder.exists()
    window._unlock()
    second = playing()
    assert second.copy is not None
    window.quit()
    assert not second.copy.folder.exists()


def test_the_incidents_case_package_is_exported_signed_verified_and_audited(
    qtbot, panel: EvidencePanel, settings: Settings, tmp_path: Path
):
    assert panel.export_action.isEnabled() and panel.export_button.isVisible()
    out = tmp_path / "case-24-1187.zip"
    panel.export_to(CAD, Purpose(PurposeKind.CASE, "24-1187"), out)
    assert not panel.export_action.isEnabled()  # one export at a time
    qtbot.waitUntil(lambda: "Case package saved" in panel.status_line.text(), timeout=30_000)

    assert str(out) in panel.status_line.text() and "1 file, intact" in panel.status_line.text()
    assert "pinned now" in panel.status_line.text()  # the first export here
    report = verify_package(out)
    assert report.intact and report.incident == CAD
    assert [clip.path for clip in report.clips] == ["clips/doorcam_2026-11-18.mp4"]
    [event] = audit_events(settings, AuditEventType.EXPORT)
    assert event["purpose"] == "case:24-1187" and event["actor"] == OPERATOR.username
    assert event["details"]["kind"] == "case_package" and event["details"]["clips"] == 1
    qtbot.waitUntil(lambda: panel.export_action.isEnabled())


def test_the_export_asks_why_with_the_incident_filled_in(panel: EvidencePanel):
    panel.export_action.trigger()
    dialog = panel.purpose_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.purpose_edit.text() == f"incident:{CAD}"
    assert "leave the agency" in dialog.windowTitle()
    dialog.reject()


def test_an_export_the_server_cannot_make_says_so_and_writes_nothing(
    qtbot, panel: EvidencePanel, evidence_server: ThreadServer, tmp_path: Path
):
    evidence_server.stop()
    out = tmp_path / "case.zip"
    panel.export_to(CAD, Purpose(PurposeKind.INCIDENT, CAD), out)
    qtbot.waitUntil(lambda: "was not exported" in panel.status_line.text(), timeout=30_000)
    assert panel.status_line.objectName() == "errorText"
    assert not out.exists()
    qtbot.waitUntil(lambda: panel.export_action.isEnabled())

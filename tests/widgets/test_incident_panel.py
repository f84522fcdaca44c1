"""The incident panel on a real registry: filters, search, NEW marks and sound, history,
emergencies, the CAD source's state and the rejected records."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QFont, QIcon

from app.models import IncidentStatus
from app.services.cad_adapters import RejectedRecord, SourceState
from app.services.cad_intake import CadPollReport
from app.services.cad_quarantine import quarantine
from app.services.registry_rows import read_incident_rows
from app.widgets.incident_panel import (
    ADDRESS,
    ALERT,
    CAD,
    EMERGENCY_BADGE,
    HISTORY,
    LAST_SEEN,
    NEW_BADGE,
    NEW_HIGHLIGHT_S,
    ORIGIN,
    REASON,
    RECORD,
    REJECTED_TAB,
    SELECT_FOR_HISTORY,
    SOURCE,
    IncidentPanel,
)
from tests.factories import add_incident

PIER = "88 N Pier Ave"


def cell(model, row: int, column: int, role=Qt.ItemDataRole.DisplayRole) -> Any:
    return model.data(model.index(row, column), role)


def shown(panel: IncidentPanel) -> list[str]:
    return [row.cad_number for row in panel.model.rows]


def add_call(
    sessions,
    clock,
    cad_number: str,
    *,
    minutes_ago: float = 0,
    incident_type: str = "Burglary in progress",
    priority: int = 3,
    address: str = "1200 W Harbor St",
    status: IncidentStatus = IncidentStatus.DISPATCHED,
    emergency: bool = False,
) -> None:
    with sessions() as session:
        incident = add_incident(
            session, cad_number, clock() - timedelta(minutes=minutes_ago), emergency=emergency
        )
        incident.incident_type = incident_type
        incident.priority = priority
        incident.address = address
        incident.status = status
        session.commit()


def refresh(panel: IncidentPanel, sessions) -> None:
    """What the main window's refresh job hands the panel."""
    panel.set_incidents(read_incident_rows(sessions))


def choose(combo, text: str) -> None:
    index = combo.findText(text)
    assert index >= 0, text
    combo.setCurrentIndex(index)


class Beeps:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


@pytest.fixture
def make_panel(qtbot, jobs, sessions, clock):
    def make(**options: Any) -> IncidentPanel:
        panel = IncidentPanel(jobs, sessions, clock, **options)
        qtbot.addWidget(panel)
        panel.resize(1200, 520)
        panel.show()
        return panel

    return make


@pytest.fixture
def panel(make_panel, sessions, clock) -> IncidentPanel:
    """The fixture registry (000100 closed, 000101 P3, 000102 P1 emergency, all at 1200 W
    Harbor St) and a pending P4 retail theft on the pier."""
    add_call(
        sessions,
        clock,
        "2026-000103",
        minutes_ago=2,
        incident_type="Retail theft",
        priority=4,
        address=PIER,
        status=IncidentStatus.PENDING,
    )
    made: IncidentPanel = make_panel()
    refresh(made, sessions)
    return made


# ---- filters and search ------------------------------------------------------------------


def test_filters_narrow_by_status_type_and_priority(panel):
    assert shown(panel) == ["2026-000102", "2026-000101", "2026-000103", "2026-000100"]
    assert not panel.clear_filters_button.isEnabled()
    choose(panel.status_filter, "Open")
    assert shown(panel) == ["2026-000102", "2026-000101", "2026-000103"]
    assert panel.count_label.text() == "3 open incidents · 1 emergency · showing 3 of 4"
    choose(panel.status_filter, "Pending")
    assert shown(panel) == ["2026-000103"]
    choose(panel.status_filter, "All statuses")
    choose(panel.type_filter, "Retail theft")
    assert shown(panel) == ["2026-000103"]
    choose(panel.type_filter, "Burglary in progress")
    choose(panel.priority_filter, "P1 only")
    assert shown(panel) == ["2026-000102"]
    choose(panel.type_filter, "All types")
    choose(panel.priority_filter, "P1–P3")
    assert shown(panel) == ["2026-000102", "2026-000101", "2026-000100"]
    assert panel.clear_filters_button.isEnabled()
    panel.clear_filters_button.click()
    assert len(shown(panel)) == 4
    assert panel.count_label.text() == "3 open incidents · 1 emergency"


def test_a_chosen_type_stays_while_its_calls_come_and_go(panel, sessions, clock):
    choose(panel.type_filter, "Retail theft")
    add_call(sessions, clock, "2026-000104", incident_type="Shots fired", priority=1)
    refresh(panel, sessions)
    assert panel.type_filter.currentText() == "Retail theft"
    assert shown(panel) == ["2026-000103"]
    assert panel.type_filter.findText("Shots fired") > 0


def test_search_by_cad_number_or_address(qtbot, panel):
    qtbot.keyClicks(panel.search_edit, "000103")
    assert shown(panel) == ["2026-000103"]
    panel.search_edit.clear()
    qtbot.keyClicks(panel.search_edit, "1200 west harbor street")
    assert shown(panel) == ["2026-000102", "2026-000101", "2026-000100"]
    panel.search_edit.clear()
    qtbot.keyClicks(panel.search_edit, "PIER")
    assert shown(panel) == ["2026-000103"]
    qtbot.keyClicks(panel.search_edit, " nothing like it")
    assert shown(panel) == []
    assert panel.count_label.text().endswith("showing 0 of 4")


def test_the_selection_follows_its_incident_when_sorted(panel):
    panel.view.selectRow(1)
    assert panel.selected_cad_number() == "2026-000101"
    panel.view.sortByColumn(CAD, Qt.SortOrder.DescendingOrder)
    assert shown(panel)[0] == "2026-000103"
    assert panel.selected_cad_number() == "2026-000101"
    panel.view.sortByColumn(ADDRESS, Qt.SortOrder.AscendingOrder)
    assert panel.selected_cad_number() == "2026-000101"


# ---- new incidents, sound, emergencies ---------------------------------------------------------


def test_a_new_incident_is_marked_in_words_and_colour_for_a_while(qtbot, panel, sessions, clock):
    model = panel.model
    assert all(cell(model, row, ALERT) in ("", EMERGENCY_BADGE) for row in range(4))
    add_call(sessions, clock, "2026-000105", address="7 Dock Rd")
    refresh(panel, sessions)
    row = model.row_of("2026-000105")
    assert row is not None
    assert cell(model, row, ALERT) == NEW_BADGE
    assert isinstance(cell(model, row, CAD, Qt.ItemDataRole.BackgroundRole), QBrush)
    assert cell(model, row, CAD, Qt.ItemDataRole.FontRole).bold()
    assert cell(model, model.row_of("2026-000101"), ALERT) == ""
    clock.advance(seconds=NEW_HIGHLIGHT_S + 1)
    qtbot.waitUntil(lambda: cell(model, model.row_of("2026-000105"), ALERT) == "", timeout=3000)
    assert cell(model, model.row_of("2026-000105"), CAD, Qt.ItemDataRole.BackgroundRole) is None


def test_the_alert_sound_is_off_unless_the_setting_turns_it_on(make_panel, sessions, clock):
    quiet_beeps, loud_beeps = Beeps(), Beeps()
    quiet = make_panel(alert_sound=quiet_beeps)
    loud = make_panel(sound=True, alert_sound=loud_beeps)
    for made in (quiet, loud):
        refresh(made, sessions)  # the first load brings nothing new
    assert (quiet_beeps.count, loud_beeps.count) == (0, 0)
    add_call(sessions, clock, "2026-000106")
    add_call(sessions, clock, "2026-000107", emergency=True)
    for made in (quiet, loud):
        refresh(made, sessions)
        refresh(made, sessions)  # nothing new the second time
    assert (quiet_beeps.count, loud_beeps.count) == (0, 1)


def test_an_emergency_is_said_with_a_badge_an_icon_and_colour(panel, sessions, clock):
    model = panel.model
    row = model.row_of("2026-000102")
    assert cell(model, row, ALERT) == EMERGENCY_BADGE
    icon = cell(model, row, ALERT, Qt.ItemDataRole.DecorationRole)
    assert isinstance(icon, QIcon)
    assert not icon.isNull()
    assert cell(model, model.row_of("2026-000101"), ALERT, Qt.ItemDataRole.DecorationRole) is None
    assert isinstance(cell(model, row, ADDRESS, Qt.ItemDataRole.BackgroundRole), QBrush)
    assert isinstance(cell(model, row, ADDRESS, Qt.ItemDataRole.FontRole), QFont)
    add_call(sessions, clock, "2026-000108", priority=1, emergency=True)
    refresh(panel, sessions)
    assert cell(model, model.row_of("2026-000108"), ALERT) == f"{EMERGENCY_BADGE} · {NEW_BADGE}"


# ---- history -----------------------------------------------------------------------------


def test_history_lists_the_earlier_calls_at_the_selected_address(panel, sessions, clock):
    add_call(sessions, clock, "2026-000109", address="1200 W. Harbor Street, Harbor City")
    refresh(panel, sessions)
    model = panel.model
    assert panel.history_title.text() == SELECT_FOR_HISTORY
    assert cell(model, model.row_of("2026-000109"), HISTORY) == "3 earlier"
    assert cell(model, model.row_of("2026-000103"), HISTORY) == ""
    panel.view.selectRow(model.row_of("2026-000109"))
    assert panel.history_title.text() == ("3 earlier calls at 1200 W. Harbor Street, Harbor City:")
    items = [panel.history_list.item(n).text() for n in range(panel.history_list.count())]
    assert len(items) == 3
    assert "2026-000102" in items[0]
    assert f"{EMERGENCY_BADGE} · P1" in items[0]
    assert "2026-000100" in items[2]
    assert items[2].endswith("Closed")
    panel.view.selectRow(model.row_of("2026-000100"))
    assert panel.history_title.text() == "No earlier calls at 1200 W Harbor St."
    assert panel.history_list.count() == 0


def test_history_counts_calls_the_filter_hides(panel):
    choose(panel.status_filter, "Open")
    panel.view.selectRow(panel.model.row_of("2026-000101"))
    assert panel.history_title.text() == "1 earlier call at 1200 W Harbor St:"
    assert "2026-000100" in panel.history_list.item(0).text()


# ---- the CAD source and its rejected records -----------------------------------------------


def rejected(reason: str, origin: str, raw: str, clock) -> RejectedRecord:
    data = raw.encode()
    return RejectedRecord(
        "http://cad.example.org/records", origin, reason, data, len(data), clock()
    )


def report(total: int, state: SourceState | None = None) -> CadPollReport:
    return CadPollReport(state or SourceState(True, "CAD live, checked 09:30:00"), 0, 0, total)


def test_the_rejected_tab_lists_quarantined_records(qtbot, panel, sessions, clock):
    with sessions() as session:
        quarantine(
            session,
            [
                rejected(
                    "field latitude: 123.0 is outside -90..90",
                    "record 2 of 3",
                    '{"cad_number": "2026-9", "latitude": 123.0}',
                    clock,
                )
            ],
        )
        session.commit()
    clock.advance(minutes=1)
    with sessions() as session:
        quarantine(
            session,
            [rejected("the file is not valid JSON (…)", "call-17.json", "{not json", clock)],
        )
        session.commit()
    panel.set_cad_report(report(2))
    assert panel.tabs.tabText(1) == f"{REJECTED_TAB} (2)"
    panel.show_rejected_records()
    assert panel.tabs.currentIndex() == 1
    model = panel.rejected_model
    qtbot.waitUntil(lambda: model.rowCount() == 2)
    assert cell(model, 0, ORIGIN) == "call-17.json"  # the newest first
    assert cell(model, 1, REASON) == "field latitude: 123.0 is outside -90..90"
    assert cell(model, 1, SOURCE) == "http://cad.example.org/records"
    assert cell(model, 1, RECORD) == '{"cad_number": "2026-9", "latitude": 123.0}'
    assert cell(model, 1, LAST_SEEN) == (clock() - timedelta(minutes=1)).astimezone().strftime(
        "%H:%M:%S"
    )
    assert "received once" in cell(model, 1, LAST_SEEN, Qt.ItemDataRole.ToolTipRole)
    assert panel.rejected_count_label.text() == "2 rejected records, newest first"


def test_the_rejected_tab_follows_new_rejections_while_open(qtbot, panel, sessions, clock):
    panel.set_cad_report(report(0))
    assert panel.tabs.tabText(1) == REJECTED_TAB
    panel.show_rejected_records()
    qtbot.waitUntil(lambda: panel.rejected_count_label.text().startswith("No rejected records"))
    with sessions() as session:
        quarantine(session, [rejected("field priority: unknown", "record 1 of 1", "{}", clock)])
        session.commit()
    panel.set_cad_report(report(1))
    qtbot.waitUntil(lambda: panel.rejected_model.rowCount() == 1)
    assert panel.tabs.tabText(1) == f"{REJECTED_TAB} (1)"


def test_a_failing_cad_source_is_shown_under_the_list(panel):
    failing = SourceState(False, "CAD server unreachable since 09:12 (connection refused)")
    panel.set_cad_report(report(0, failing))
    assert panel.cad_state_label.text() == failing.text
    assert panel.cad_state_label.property("healthy") is False
    panel.set_cad_report(report(0))
    assert panel.cad_state_label.text() == "CAD live, checked 09:30:00"
    assert panel.cad_state_label.property("healthy") is True

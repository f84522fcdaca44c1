"""The camera list: filtering, sorting and a selection that survives both and a refresh."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import QItemSelectionModel, QPoint, Qt

from app.models.camera import CameraTier
from app.services.registry_rows import CameraRow, PolicyNow
from app.widgets.camera_list import CameraList

pytestmark = pytest.mark.usefixtures("themed")


def row(camera_id: str, name: str, address: str, tier: CameraTier = CameraTier.INTEGRATED):
    return CameraRow(
        camera_id=camera_id,
        name=name,
        tier=tier,
        policy_now="continuous" if tier is CameraTier.INTEGRATED else "no live feed",
        address=address,
        latitude=41.88,
        longitude=-87.63,
        heading_deg=0.0,
        fov_deg=90.0,
        range_m=40.0,
        owner_name="Harbor Deli",
        verified_at=None,
        policy_state=PolicyNow.LIVE_ALLOWED
        if tier is CameraTier.INTEGRATED
        else PolicyNow.REGISTERED_ONLY,
    )


ROWS = [
    row("cam-3", "bank lobby", "12 Canal St"),
    row("cam-1", "Deli door", "40 Market St"),
    row("cam-2", "Alley", "7 Canal St", CameraTier.REGISTERED),
]


@pytest.fixture
def camera_list(qtbot) -> CameraList:
    widget = CameraList()
    qtbot.addWidget(widget)
    widget.show()
    widget.set_cameras(ROWS)
    return widget


def select(camera_list: CameraList, *camera_ids: str) -> None:
    model = camera_list.model
    for number, shown in enumerate(model.rows):
        if shown.camera_id in camera_ids:
            camera_list.view.selectionModel().select(
                model.index(number, 0),
                QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
            )


def test_the_filter_matches_any_column_whatever_the_case(qtbot, camera_list: CameraList):
    qtbot.keyClicks(camera_list.filter_edit, "CANAL")
    assert camera_list.visible_camera_ids() == ["cam-2", "cam-3"]
    assert camera_list.count_label.text() == "2 of 3 cameras match the filter"
    camera_list.filter_edit.setText("registered")
    assert camera_list.visible_camera_ids() == ["cam-2"]
    camera_list.filter_edit.clear()
    assert camera_list.visible_camera_ids() == ["cam-1", "cam-2", "cam-3"]
    assert camera_list.count_label.text() == "3 cameras"


def test_columns_sort_both_ways_by_the_header(qtbot, camera_list: CameraList):
    header = camera_list.view.horizontalHeader()
    name = header.sectionViewportPosition(1) + header.sectionSize(1) // 2
    by_name = ["cam-2", "cam-3", "cam-1"]  # Alley, bank lobby, Deli door: case does not count
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(name, 5))
    first = camera_list.visible_camera_ids()
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(name, 5))
    second = camera_list.visible_camera_ids()
    assert sorted([first, second]) == sorted([by_name, by_name[::-1]])


def test_the_selection_survives_a_refresh_a_sort_and_a_filter(qtbot, camera_list: CameraList):
    select(camera_list, "cam-1", "cam-3")
    assert camera_list.selected_camera_ids() == ["cam-1", "cam-3"]
    changed = [replace(ROWS[0], name="bank lobby (moved)"), *ROWS[1:]]
    camera_list.set_cameras(changed)
    assert camera_list.selected_camera_ids() == ["cam-1", "cam-3"]
    camera_list.view.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    assert camera_list.selected_camera_ids() == ["cam-3", "cam-1"]
    camera_list.filter_edit.setText("deli")
    assert camera_list.selected_camera_ids() == ["cam-1"]

"""Screenshots of the camera map in the console, to look at: the demo city with no network.

Run under a real X server (Xvfb)::

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python scripts/screenshot_map.py

It builds the demo city into ``--data-dir`` (unless one is there), signs in as the demo operator,
waits for the cameras, units and scripted incidents to reach the map, and saves into
``--out-dir``: the console with the map dock (the whole city, clustered; the legend folds itself
in a dock this size), the map dock with its legend unfolded, and the map dock at street level
around the most urgent incident with a camera's card showing; then the console with the geofence
of the open incident with the most cameras around it, and the footage request window for the
cameras of that geofence that cannot be opened.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from screenshot_session import (
    ScreenshotSession,
    Step,
    after,
    arguments,
    save,
    select_busiest_incident,
)


def main() -> int:
    args = arguments(__doc__.splitlines()[0], "map-demo")
    session = ScreenshotSession(args)
    out, window = session.out, session.window

    def map_ready() -> bool:
        camera_map = window().camera_map
        return (
            session.panels_loaded()
            and camera_map.camera_count > 0
            and len(camera_map.incident_layer.features) > 0
            and len(camera_map.unit_layer.features) > 0
            and camera_map.street_layer.streets is not None
        )

    def widen_map() -> None:
        # An operator making the map the main thing on the left: most of the column.
        main = window()
        main.resizeDocks([main.camera_dock, main.map_dock], [300, 700], Qt.Orientation.Vertical)

    def street_level() -> None:
        camera_map = window().camera_map
        window().incident_panel.focus_table()  # the most urgent incident
        incident = camera_map.incident_layer.features.incidents[-1]
        camera_map.centre_on(incident.latitude, incident.longitude, 17.2)

    def hover_a_camera() -> None:
        camera_map = window().camera_map
        middle = QPointF(camera_map.viewport().rect().center())
        shown = [
            (position, row.camera_id)
            for row in window().camera_list.model.rows
            if (position := camera_map.camera_screen_position(row.camera_id)) is not None
        ]
        position, camera_id = min(shown, key=lambda item: (item[0] - middle).manhattanLength())
        camera_map.select_camera(camera_id)
        QTest.mouseMove(camera_map.viewport(), position.toPoint())

    def request_footage() -> None:
        window().footage_panel.request_action.trigger()

    def save_dialog() -> None:
        dialog = window().footage_panel.dialog
        if dialog is not None:
            save(dialog, out / "beacon-footage-request.png")

    def unfold_legend() -> None:
        window().camera_map.legend.set_expanded(True)

    def fold_legend() -> None:
        window().camera_map.legend.set_expanded(False)

    listed_settle = after(4)
    steps: list[Step] = [
        ("login dialog", lambda: session.shell.login_dialog is not None, session.sign_in),
        (
            "signed in",
            lambda: session.shell.window is not None,
            lambda: window().setGeometry(session.screen),
        ),
        ("map loaded", map_ready, widen_map),
        ("settled", after(10), lambda: save(window(), out / "beacon-map-console.png")),
        ("legend", lambda: True, unfold_legend),
        ("unfolded", after(3), lambda: save(window().map_dock, out / "beacon-map-legend.png")),
        ("street level", lambda: True, lambda: (fold_legend(), street_level())),
        ("drawn", after(5), hover_a_camera),
        ("card", after(3), lambda: save(window().map_dock, out / "beacon-map-street.png")),
        ("geofence", lambda: True, lambda: select_busiest_incident(window())),
        (
            "listed",
            lambda: window().geofence_panel.result is not None and listed_settle(),
            lambda: save(window(), out / "beacon-geofence-console.png"),
        ),
        ("request", lambda: True, request_footage),
        ("dialog", after(2), save_dialog),
        ("quit", lambda: True, lambda: window().quit()),
    ]
    return session.run(steps)


if __name__ == "__main__":
    sys.exit(main())

"""The camera map: real widgets, a real registry, a real tile server on 127.0.0.1."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QColor, QDrag, QImage, QWheelEvent
from PySide6.QtWidgets import QApplication

from app.models import CameraTier, Unit
from app.models.geofence import GeofenceCircle
from app.models.web_mercator import metres_per_pixel, to_mercator
from app.services.basemap import (
    DiskTileCache,
    XyzTileSource,
    open_basemap,
    read_street_geojson,
    user_agent,
)
from app.services.map_features import read_live_layers
from app.services.registry_rows import CameraRow, PolicyNow
from app.settings import BasemapSettings
from app.widgets import palette
from app.widgets.camera_list import CameraTableModel
from app.widgets.camera_map import CameraMap
from app.widgets.map_layers import MapLayer
from app.widgets.video_tile import CAMERA_MIME
from tests.factories import metres_east
from tests.tile_server import running_tile_server, tile_colour

HARBOR = (41.88, -87.63)
STREETS = Path(__file__).resolve().parents[2] / "resources" / "demo_streets.geojson"
VERIFIED = datetime(2026, 10, 2, 12, 0, tzinfo=UTC)  # 47 days before the test clock


def camera(
    camera_id: str,
    latitude: float = HARBOR[0],
    longitude: float = HARBOR[1],
    state: PolicyNow = PolicyNow.LIVE_ALLOWED,
    **changes,
) -> CameraRow:
    values: dict[str, Any] = {
        "camera_id": camera_id,
        "name": f"Camera {camera_id}",
        "tier": CameraTier.REGISTERED
        if state is PolicyNow.REGISTERED_ONLY
        else CameraTier.INTEGRATED,
        "policy_now": {
            PolicyNow.LIVE_ALLOWED: "continuous",
            PolicyNow.EMERGENCY_ONLY: "emergency only",
            PolicyNow.SCHEDULED_CLOSED: "scheduled, closed now",
            PolicyNow.REVOKED: "revoked",
            PolicyNow.REGISTERED_ONLY: "no live feed",
        }[state],
        "address": "1200 W Harbor St",
        "latitude": latitude,
        "longitude": longitude,
        "heading_deg": 90.0,
        "fov_deg": 90.0,
        "range_m": 40.0,
        "owner_name": "Harbor Deli",
        "verified_at": VERIFIED,
        "policy_state": state,
    }
    values.update(changes)
    return CameraRow(**values)


@pytest.fixture
def camera_map(qtbot, jobs, themed, clock):
    widget = CameraMap(jobs, clock=clock)
    qtbot.addWidget(widget)
    widget.resize(900, 700)
    with qtbot.waitExposed(widget):
        widget.show()
    return widget


def load(qtbot, camera_map: CameraMap, rows: list[CameraRow]) -> None:
    camera_map.set_cameras(rows)
    qtbot.waitUntil(lambda: camera_map.camera_count == len(rows), timeout=60_000)


def pixel(camera_map: CameraMap, point: QPointF) -> QColor:
    image = camera_map.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    colour: QColor = image.pixelColor(round(point.x()), round(point.y()))
    return colour


def at(camera_map: CameraMap, camera_id: str) -> QPoint:
    position = camera_map.camera_screen_position(camera_id)
    assert position is not None
    return position.toPoint()


# ---- layers and the legend ---------------------------------------------------------------


def test_layers_switch_from_the_legend_and_from_their_keys(qtbot, camera_map):
    load(qtbot, camera_map, [camera("cam-1")])
    camera_map.centre_on(*HARBOR, 17)
    camera_map.set_geofence(GeofenceCircle(*metres_east(*HARBOR, -120), 60))
    symbol = QPointF(at(camera_map, "cam-1"))
    fence = camera_map.screen_position(*metres_east(*HARBOR, -120))
    assert pixel(camera_map, symbol) == QColor(palette.MAP_LIVE_ALLOWED)
    tinted = pixel(camera_map, fence)
    assert tinted != QColor(palette.MAP_BACKGROUND)
    assert all(camera_map.layer_visible(layer) for layer in MapLayer)

    qtbot.mouseClick(camera_map.legend.checkboxes[MapLayer.CAMERAS], Qt.MouseButton.LeftButton)
    assert not camera_map.layer_visible(MapLayer.CAMERAS)
    assert pixel(camera_map, symbol) != QColor(palette.MAP_LIVE_ALLOWED)
    assert camera_map.camera_at(symbol) is None  # a hidden camera cannot be hovered either

    camera_map.setFocus()
    qtbot.keyClick(camera_map, Qt.Key.Key_G)
    assert not camera_map.layer_visible(MapLayer.GEOFENCES)
    assert not camera_map.legend.checkboxes[MapLayer.GEOFENCES].isChecked()
    assert pixel(camera_map, fence) == QColor(palette.MAP_BACKGROUND)
    qtbot.keyClick(camera_map, Qt.Key.Key_C)
    qtbot.keyClick(camera_map, Qt.Key.Key_G)
    assert camera_map.layer_visible(MapLayer.CAMERAS)
    assert camera_map.legend.checkboxes[MapLayer.CAMERAS].isChecked()
    assert pixel(camera_map, fence) == tinted

    qtbot.keyClick(camera_map, Qt.Key.Key_L)
    assert not camera_map.legend.expanded
    qtbot.keyClick(camera_map, Qt.Key.Key_L)
    assert camera_map.legend.expanded


def test_the_legend_says_what_each_symbol_means(camera_map):
    entries = camera_map.legend.key.entries
    for words in (
        "Live allowed now",
        "Emergency only",
        "Scheduled, closed now",
        "Revoked or no policy",
        "Registered only (hollow)",
        "White ring: emergency",
    ):
        assert words in entries
    legend = camera_map.legend.geometry()
    assert camera_map.rect().contains(legend)  # not clipped


def test_each_policy_state_has_its_own_symbol_and_colour(qtbot, camera_map):
    states = list(PolicyNow)
    rows = [
        camera(f"cam-{n}", *metres_east(*HARBOR, 60 * n), state=state)
        for n, state in enumerate(states)
    ]
    load(qtbot, camera_map, rows)
    camera_map.centre_on(*metres_east(*HARBOR, 120), 18)
    image = camera_map.grab().toImage()
    shapes = []
    for row in rows:
        centre = at(camera_map, row.camera_id)
        box = image.copy(centre.x() - 8, centre.y() - 8, 17, 17)
        colour = QColor(palette.__dict__[f"MAP_{row.policy_state.name}"])
        mask = [
            box.pixelColor(x, y) == colour for y in range(box.height()) for x in range(box.width())
        ]
        assert any(mask), row.policy_state
        shapes.append(tuple(mask))
    assert len(set(shapes)) == len(states)  # told apart without their colours


# ---- hover, click, double-click, drag -------------------------------------------------------


def test_hovering_a_camera_shows_its_card(qtbot, camera_map):
    row = camera("cam-bank-2", state=PolicyNow.EMERGENCY_ONLY, name="First Harbor Bank lobby")
    load(qtbot, camera_map, [row, camera("cam-far", *metres_east(*HARBOR, 300))])
    camera_map.centre_on(*HARBOR, 17)
    with qtbot.waitSignal(camera_map.camera_hovered) as hovered:
        qtbot.mouseMove(camera_map.viewport(), at(camera_map, "cam-bank-2") + QPoint(3, 2))
    assert hovered.args == ["cam-bank-2"]
    assert camera_map.card.isVisible()
    text = camera_map.card.text
    assert "First Harbor Bank lobby" in text and "cam-bank-2" in text
    assert "Owner: Harbor Deli" in text
    assert "Tier: integrated" in text
    assert "Policy now: emergency only" in text
    assert "Last verified: 2026-10-02 (47 days ago)" in text

    with qtbot.waitSignal(camera_map.camera_hovered) as left:
        qtbot.mouseMove(camera_map.viewport(), at(camera_map, "cam-bank-2") + QPoint(120, 90))
    assert left.args == [""]
    assert not camera_map.card.isVisible()
    assert camera_map.hovered_camera_id is None


def test_a_click_selects_a_camera_and_escape_or_a_click_elsewhere_clears_it(qtbot, camera_map):
    load(qtbot, camera_map, [camera("cam-1"), camera("cam-2", *metres_east(*HARBOR, 80))])
    camera_map.centre_on(*HARBOR, 17)
    with qtbot.waitSignal(camera_map.camera_clicked) as clicked:
        qtbot.mouseClick(
            camera_map.viewport(), Qt.MouseButton.LeftButton, pos=at(camera_map, "cam-2")
        )
    assert clicked.args == ["cam-2"]
    assert camera_map.selected_camera_id == "cam-2"
    camera_map.setFocus()
    qtbot.keyClick(camera_map, Qt.Key.Key_Escape)
    assert camera_map.selected_camera_id is None

    qtbot.mouseClick(camera_map.viewport(), Qt.MouseButton.LeftButton, pos=at(camera_map, "cam-1"))
    assert camera_map.selected_camera_id == "cam-1"
    empty = at(camera_map, "cam-1") + QPoint(0, 150)
    qtbot.mouseClick(camera_map.viewport(), Qt.MouseButton.LeftButton, pos=empty)
    assert camera_map.selected_camera_id is None


def test_double_click_or_enter_opens_a_camera(qtbot, camera_map):
    load(qtbot, camera_map, [camera("cam-1")])
    camera_map.centre_on(*HARBOR, 17)
    with qtbot.waitSignal(camera_map.camera_activated) as activated:
        qtbot.mouseDClick(
            camera_map.viewport(), Qt.MouseButton.LeftButton, pos=at(camera_map, "cam-1")
        )
    assert activated.args == ["cam-1"]
    camera_map.select_camera("cam-1")
    camera_map.setFocus()
    with qtbot.waitSignal(camera_map.camera_activated) as entered:
        qtbot.keyClick(camera_map, Qt.Key.Key_Return)
    assert entered.args == ["cam-1"]


def test_dragging_a_camera_carries_its_id_as_the_camera_list_does(qtbot, camera_map):
    rows = [camera("cam-1"), camera("cam-2", *metres_east(*HARBOR, 80))]
    load(qtbot, camera_map, rows)
    camera_map.centre_on(*HARBOR, 17)
    start = at(camera_map, "cam-2")
    centre_before = camera_map.centre
    qtbot.mousePress(camera_map.viewport(), Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(camera_map.viewport(), start + QPoint(40, 25))
    drag = camera_map.findChild(QDrag)
    assert drag is not None
    assert bytes(drag.mimeData().data(CAMERA_MIME).data()) == b"cam-2"
    # The same bytes as a drag from the camera list, which the wall opens through the gate.
    table = CameraTableModel()
    table.set_rows(rows)
    from_list = table.mimeData([table.index(1, 0)])
    assert drag.mimeData().data(CAMERA_MIME) == from_list.data(CAMERA_MIME)
    assert camera_map.centre == centre_before  # dragging a camera does not pan the map
    qtbot.mouseRelease(camera_map.viewport(), Qt.MouseButton.LeftButton, pos=start)


def test_dragging_the_map_elsewhere_pans_it(qtbot, camera_map):
    load(qtbot, camera_map, [camera("cam-1")])
    camera_map.centre_on(*HARBOR, 16)
    before = camera_map.centre
    start = at(camera_map, "cam-1") + QPoint(0, 120)
    qtbot.mousePress(camera_map.viewport(), Qt.MouseButton.LeftButton, pos=start)
    for step in range(1, 6):
        qtbot.mouseMove(camera_map.viewport(), start + QPoint(20 * step, 0))
    qtbot.mouseRelease(camera_map.viewport(), Qt.MouseButton.LeftButton, pos=start + QPoint(100, 0))
    assert camera_map.centre[1] < before[1]  # dragged east, so the view moved west
    assert camera_map.findChild(QDrag) is None


# ---- pan, zoom, scale ---------------------------------------------------------------------


def test_arrow_keys_pan_and_plus_minus_home_zoom(qtbot, camera_map):
    rows = [
        camera("cam-w", *metres_east(*HARBOR, -2000)),
        camera("cam-e", *metres_east(*HARBOR, 2000)),
    ]
    load(qtbot, camera_map, rows)
    camera_map.centre_on(*HARBOR, 15)
    camera_map.setFocus()
    width_m = camera_map.view_box.width() * metres_per_pixel(15)
    x0, y0 = to_mercator(*camera_map.centre)
    qtbot.keyClick(camera_map, Qt.Key.Key_Right)
    x1, y1 = to_mercator(*camera_map.centre)
    assert x1 - x0 == pytest.approx(width_m / 4, rel=1e-6) and y1 == pytest.approx(y0)
    qtbot.keyClick(camera_map, Qt.Key.Key_Up)
    assert to_mercator(*camera_map.centre)[1] > y1
    qtbot.keyClick(camera_map, Qt.Key.Key_Plus)
    assert camera_map.zoom == pytest.approx(16)
    qtbot.keyClick(camera_map, Qt.Key.Key_Minus)
    qtbot.keyClick(camera_map, Qt.Key.Key_Minus)
    assert camera_map.zoom == pytest.approx(14)
    qtbot.keyClick(camera_map, Qt.Key.Key_Home)
    inside = camera_map.viewport().rect()
    assert all(inside.contains(at(camera_map, row.camera_id)) for row in rows)
    assert camera_map.zoom > 13  # fitted, not zoomed out to the world


def test_the_wheel_zooms_about_the_pointer(qtbot, camera_map):
    load(qtbot, camera_map, [camera("cam-1"), camera("cam-2", *metres_east(*HARBOR, 400))])
    camera_map.centre_on(*HARBOR, 15)
    anchor = at(camera_map, "cam-2")
    event = QWheelEvent(
        QPointF(anchor),
        QPointF(camera_map.viewport().mapToGlobal(anchor)),
        QPoint(0, 0),
        QPoint(0, 240),  # two notches towards the screen
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(camera_map.viewport(), event)
    assert camera_map.zoom == pytest.approx(16)
    moved = at(camera_map, "cam-2") - anchor
    assert abs(moved.x()) <= 1 and abs(moved.y()) <= 1  # the camera stayed under the pointer


def test_the_scale_bar_is_true_at_a_known_latitude(qtbot, camera_map):
    camera_map.centre_on(60.0, 10.0, 15)
    # At 60° north the ground is half the projected length: 40,075,016.7 m / 256 / 2^15 / 2.
    metres_per_px = 2 * math.pi * 6_378_137 / 256 / 2**15 * 0.5
    assert camera_map.metres_per_pixel == pytest.approx(metres_per_px, rel=1e-6)
    bar = camera_map.scale_bar
    assert bar.metres == 200 and bar.metric_label == "200 m"
    assert bar.metric_px == pytest.approx(200 / metres_per_px, rel=1e-6)  # 83.7 px
    assert bar.imperial_label == "1000 ft"
    assert bar.imperial_px == pytest.approx(1000 * 0.3048 / metres_per_px, rel=1e-6)

    # The bar is painted as long as it says: the unbroken run of lit pixels on its line.
    image = bar.grab().toImage()
    lit = [image.pixelColor(x, 14).lightness() > 200 for x in range(image.width())]
    first = lit.index(True)
    length = lit[first:].index(False)
    assert length == pytest.approx(bar.metric_px, abs=2)

    camera_map.centre_on(0.0, 10.0, 15)
    assert bar.metric_label == "500 m"  # twice the metres per pixel at the equator
    camera_map.centre_on(60.0, 10.0, 13)
    assert (bar.metric_label, bar.imperial_label) == ("1 km", "0.5 mi")


def test_the_readout_shows_the_coordinates_under_the_pointer(qtbot, camera_map):
    camera_map.centre_on(*HARBOR, 16)
    point = camera_map.screen_position(41.8812, -87.6321).toPoint()
    qtbot.mouseMove(camera_map.viewport(), point)
    assert "41.881" in camera_map.readout.text() and "87.632" in camera_map.readout.text()
    assert "W" in camera_map.readout.text() and "zoom 16.0" in camera_map.readout.text()


# ---- many cameras, clusters --------------------------------------------------------------------


def many_cameras(count: int) -> list[CameraRow]:
    rng = np.random.default_rng(5)
    latitudes = HARBOR[0] + rng.normal(0, 0.02, count)
    longitudes = HARBOR[1] + rng.normal(0, 0.03, count)
    states = list(PolicyNow)
    return [
        camera(f"cam-{n:06d}", float(lat), float(lon), state=states[n % len(states)])
        for n, (lat, lon) in enumerate(zip(latitudes, longitudes, strict=True))
    ]


@pytest.mark.slow
def test_a_hundred_thousand_cameras_load_without_blocking_the_ui(qtbot, camera_map):
    rows = many_cameras(100_000)
    lateness: list[float] = []
    last = time.perf_counter()

    def tick() -> None:
        nonlocal last
        now = time.perf_counter()
        lateness.append(now - last - 0.010)
        last = now

    probe = QTimer()
    probe.setInterval(10)
    probe.timeout.connect(tick)
    probe.start()
    camera_map.set_cameras(rows)
    assert camera_map.preparing  # built in a background job, not here
    qtbot.waitUntil(lambda: camera_map.camera_count == len(rows), timeout=60_000)
    probe.stop()
    # A generous bound: the event loop kept turning while 100,000 cameras were prepared.
    assert len(lateness) > 3
    assert max(lateness) < 0.25, f"the UI thread stalled {max(lateness) * 1000:.0f} ms"
    assert camera_map.status_label.text().startswith("100,000 cameras")

    camera_map.centre_on(*HARBOR, 12)  # clusters, and they are counted right
    shown = camera_map.camera_layer.visible(camera_map.map_frame())
    assert shown is not None and shown.clustered
    assert int(shown.count.sum()) > 95_000


def test_a_cluster_shows_its_count_and_a_click_zooms_into_it(qtbot, camera_map):
    rows = [camera(f"cam-{n}", *metres_east(*HARBOR, n * 3)) for n in range(12)]
    load(qtbot, camera_map, rows)
    camera_map.centre_on(*HARBOR, 12)
    shown = camera_map.camera_layer.visible(camera_map.map_frame())
    assert shown is not None and list(shown.count) == [12]
    bubble = QPointF(shown.px[0], shown.py[0]).toPoint()
    qtbot.mouseMove(camera_map.viewport(), bubble)
    assert "12 cameras here" in camera_map.card.text
    assert "12 live allowed now" in camera_map.card.text
    qtbot.mouseClick(camera_map.viewport(), Qt.MouseButton.LeftButton, pos=bubble)
    assert camera_map.zoom >= 14


# ---- units and incidents --------------------------------------------------------------------


def test_units_and_open_incidents_come_from_the_registry_and_units_move(
    qtbot, jobs, themed, sessions, clock
):
    with sessions() as session:
        for call_sign, east in (("1A11", -200.0), ("1B22", 200.0)):
            lat, lon = metres_east(*HARBOR, east, 150)
            session.add(
                Unit(
                    id=call_sign,
                    kind="patrol",
                    status="available",
                    latitude=lat,
                    longitude=lon,
                    heading_deg=90,
                    updated_at=clock(),
                )
            )
        session.commit()
    camera_map = CameraMap(
        jobs, read_live_layers=lambda: read_live_layers(sessions), live_interval_ms=50, clock=clock
    )
    qtbot.addWidget(camera_map)
    camera_map.resize(900, 700)
    camera_map.show()
    camera_map.centre_on(*HARBOR, 16)
    qtbot.waitUntil(lambda: len(camera_map.unit_layer.features) == 2)
    # The registry has two open incidents and a closed one: the closed one is not drawn.
    assert sorted(i.cad_number for i in camera_map.incident_layer.features.incidents) == [
        "2026-000101",
        "2026-000102",
    ]
    assert "2 units" in camera_map.status_label.text()

    frame = camera_map.map_frame()
    before = camera_map.unit_layer.screen_positions(frame)[0][0]
    with sessions() as session:
        unit = session.get(Unit, "1A11")
        unit.longitude = metres_east(*HARBOR, -100)[1]
        unit.updated_at = clock() + timedelta(seconds=5)
        session.commit()
    qtbot.waitUntil(
        lambda: camera_map.unit_layer.screen_positions(camera_map.map_frame())[0][0] > before + 50
    )
    lat, lon = metres_east(*HARBOR, -100, 150)
    qtbot.mouseMove(camera_map.viewport(), camera_map.screen_position(lat, lon).toPoint())
    assert camera_map.card.text.startswith("Unit 1A11")
    incident = camera_map.screen_position(*HARBOR).toPoint()  # both incidents are there
    qtbot.mouseMove(camera_map.viewport(), incident)
    assert "2026-000102" in camera_map.card.text and "EMERGENCY" in camera_map.card.text


# ---- the basemap ----------------------------------------------------------------------------


def test_tiles_load_off_the_ui_thread_and_are_drawn(qtbot, camera_map, tmp_path):
    with running_tile_server() as server:
        source = XyzTileSource(
            server.url("png"),
            attribution="© Harbor test tiles",
            user_agent=user_agent("ops@harbor.example"),
            cache=DiskTileCache(tmp_path / "tiles", 2**22),
        )
        camera_map.centre_on(*HARBOR, 14)
        camera_map.use_tile_source(source)
        wanted = camera_map.tile_layer.wanted(camera_map.map_frame())
        qtbot.waitUntil(lambda: all(camera_map.tile_layer.has(key) for key in wanted))
        assert camera_map.attribution.text() == "© Harbor test tiles"
        assert camera_map.attribution.isVisible()
        assert not camera_map.notice_text
        middle = QPointF(camera_map.viewport().rect().center())
        x, y = to_mercator(*camera_map.geo_position(middle))
        tile = next(key for key in wanted if _contains(key.bounds, x, y))
        red, green, blue = tile_colour(tile.z, tile.x, tile.y)
        assert pixel(camera_map, middle) == QColor(red, green, blue)
        camera_map.shutdown()


def _contains(bounds: tuple[float, float, float, float], x: float, y: float) -> bool:
    west, south, east, north = bounds
    return west <= x < east and south < y <= north


def test_a_tile_server_sending_garbage_leaves_a_notice_and_a_working_map(qtbot, camera_map):
    load(qtbot, camera_map, [camera("cam-1")])
    camera_map.centre_on(*HARBOR, 16)
    with running_tile_server() as server:
        source = XyzTileSource(
            server.url("garbage"), attribution="x", user_agent=user_agent(""), cache=None
        )
        camera_map.use_tile_source(source)
        qtbot.waitUntil(lambda: "not an image" in camera_map.notice_text)
        assert camera_map.notice.isVisible()
        assert "The map still works" in camera_map.notice_text
        assert pixel(camera_map, QPointF(at(camera_map, "cam-1"))) == QColor(
            palette.MAP_LIVE_ALLOWED
        )
        camera_map.setFocus()
        zoom = camera_map.zoom
        qtbot.keyClick(camera_map, Qt.Key.Key_Plus)
        assert camera_map.zoom == zoom + 1
        camera_map.shutdown()


def test_a_missing_tile_server_leaves_a_notice(qtbot, camera_map):
    with running_tile_server() as server:
        url = server.url("png")
    camera_map.centre_on(*HARBOR, 15)
    camera_map.use_tile_source(
        XyzTileSource(url, attribution="x", user_agent=user_agent(""), cache=None)
    )
    qtbot.waitUntil(lambda: "cannot reach 127.0.0.1" in camera_map.notice_text)
    camera_map.shutdown()


def test_an_mbtiles_file_that_is_not_one_is_named_and_streets_are_drawn_instead(
    qtbot, jobs, themed, tmp_path
):
    junk = tmp_path / "city.mbtiles"
    junk.write_bytes(b"this is not a database" * 200)
    settings = BasemapSettings(mbtiles=junk)
    camera_map = CameraMap(
        jobs,
        open_basemap=lambda: open_basemap(settings, cache_dir=tmp_path, streets=STREETS),
        fallback_streets=lambda: read_street_geojson(STREETS),
    )
    qtbot.addWidget(camera_map)
    camera_map.resize(800, 600)
    camera_map.show()
    qtbot.waitUntil(lambda: camera_map.street_layer.streets is not None)
    assert "city.mbtiles is not an MBTiles file" in camera_map.notice_text
    assert camera_map.attribution.text().startswith("Streets: Harbor City")


def test_a_closed_session_leaves_no_tile_threads_behind(qtbot, jobs, themed):
    """A hanging tile server must not keep threads alive after the map (the session) is gone."""
    with running_tile_server() as server:
        camera_map = CameraMap(jobs)
        camera_map.resize(600, 400)
        camera_map.show()
        source = XyzTileSource(
            server.url("hang"), attribution="x", user_agent=user_agent(""), cache=None, timeout_s=1
        )
        camera_map.use_tile_source(source)
        loader = camera_map.tile_loader
        assert loader is not None
        qtbot.waitUntil(lambda: len(server.paths("hang")) >= 1)  # a request is hanging
        camera_map.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        for thread in loader.threads:
            thread.join(timeout=10)
            assert not thread.is_alive()

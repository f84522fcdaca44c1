"""The two themes: contrast of every text and background pair, the style sheet made from one
template, the switch while the console runs, and states told apart by shape, not colour alone."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter

from app.models.camera import CameraTier
from app.models.session_replay import EventMark
from app.services.map_features import POLICY_STATES
from app.services.registry_rows import CameraRow, PolicyNow, read_incident_rows
from app.settings import load_settings
from app.widgets import palette
from app.widgets.audit_replay import MARK_SHAPES, draw_mark_shape
from app.widgets.camera_list import ICON_PX, ICON_RATIO, POLICY_COLUMN, CameraTableModel
from app.widgets.incident_panel import ALERT, EMERGENCY_BADGE, IncidentPanel
from app.widgets.map_layers import STATE_COLOURS, STATE_SYMBOLS, camera_icon, unit_icon
from app.widgets.resources import resources_dir
from app.widgets.theme import (
    BODY_TEXT_RATIO,
    DARK,
    HIGH_CONTRAST,
    OTHER_TEXT_RATIO,
    TEMPLATE,
    Theme,
    colour_names,
    contrast_ratio,
    over,
    render_stylesheet,
    stylesheet,
)
from tests.factories import add_incident

THEMES = pytest.mark.parametrize("theme", [DARK, HIGH_CONTRAST], ids=lambda t: t.name)
SURFACES = ("window", "panel", "panel_alt", "chrome")

# (text, background) pairs, by field name. A translucent background is checked over black and
# over white (a video frame can be either), a translucent overlay over the map.
BODY_TEXT = [
    *(("text", surface) for surface in SURFACES),
    ("text", "new_row"),
    ("text", "selection"),
    ("selection_text", "selection"),
    ("emergency_row_text", "emergency_row"),
    ("video_text", "video_scrim"),
    ("map_cluster_text", "map_cluster"),
]
OTHER_TEXT = [
    *(("text_muted", surface) for surface in SURFACES),
    *(("closed_row_text", surface) for surface in ("panel", "panel_alt")),
    *(("accent", surface) for surface in SURFACES),
    *(("focus", surface) for surface in SURFACES),
    *(("emergency", surface) for surface in ("panel", "panel_alt")),
    ("emergency", "emergency_row"),
    ("new_badge", "new_row"),
    ("warning", "panel"),
    ("warning_text", "warning"),
    ("tile_hint", "window"),
    *(
        (check, surface)
        for check in ("check_pass", "check_warn", "check_fail")
        for surface in ("panel", "panel_alt")
    ),
    *(
        (state, "video_scrim")
        for state in (
            "video_text_muted",
            "video_live",
            "video_warning",
            "video_denied",
            "video_focus",
        )
    ),
    ("video_text", "video_dim"),
    ("map_street_label", "map_background"),
    ("map_unit_label", "map_background"),
    ("map_scale_bar", "map_background"),
    *(("map_incident_text", f"map_incident_{priority}") for priority in ("p1", "p2", "p3", "low")),
    # Symbols and outlines on the map: no one should have to squint for a camera.
    *(
        (symbol, "map_background")
        for symbol in (
            "map_live_allowed",
            "map_emergency_only",
            "map_scheduled_closed",
            "map_revoked",
            "map_registered_only",
            "map_unit",
            "map_unit_busy",
            "map_selected",
            "map_hover",
            "map_geofence",
            "map_emergency_ring",
        )
    ),
]
# Colours that are neither text nor a surface text sits on: edges, fills under other marks.
NOT_TEXT = {
    "border",
    "grid",
    "wall",
    "backdrop",
    "video_bars",
    "map_street",
    "map_street_major",
    "map_symbol_outline",
    "map_cluster_edge",
    "map_scale_bar_shadow",
}


def backdrops(theme: Theme, background: str) -> list[str]:
    colour = getattr(theme, background)
    if len(colour) == 9:  # #AARRGGBB
        return [over(colour, "#000000"), over(colour, "#ffffff")]
    return [colour]


def worst_ratio(theme: Theme, text: str, background: str) -> float:
    return min(contrast_ratio(getattr(theme, text), b) for b in backdrops(theme, background))


@pytest.fixture
def restore_dark(qapp) -> Iterator[None]:
    """Tests that switch the theme leave the process as they found it: dark, styled or not."""
    sheet, qt_palette = qapp.styleSheet(), qapp.palette()
    yield
    palette.use(DARK)
    qapp.setPalette(qt_palette)
    qapp.setStyleSheet(sheet)


# ---- contrast --------------------------------------------------------------------------------


def test_contrast_ratio_is_wcags():
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#ffffff", "#000000") == pytest.approx(21.0)
    assert contrast_ratio("#123456", "#123456") == pytest.approx(1.0)
    # WCAG's own example of a grey that just fails 4.5:1 on white.
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert over("#80ffffff", "#000000") == "#808080"
    with pytest.raises(ValueError, match="#RRGGBB"):
        contrast_ratio("red", "#000000")


@THEMES
def test_body_text_meets_aaa_and_the_rest_aa(theme):
    failures = [
        f"{text} on {background}: {worst_ratio(theme, text, background):.2f}:1 < {needed}:1"
        for pairs, needed in ((BODY_TEXT, BODY_TEXT_RATIO), (OTHER_TEXT, OTHER_TEXT_RATIO))
        for text, background in pairs
        if worst_ratio(theme, text, background) < needed
    ]
    assert not failures, f"{theme.name}: " + "; ".join(failures)


def test_every_colour_is_held_to_a_contrast_or_named_as_no_text():
    checked = {name for pair in BODY_TEXT + OTHER_TEXT for name in pair}
    fields = {name.lower() for name in colour_names()}
    assert fields - checked - NOT_TEXT == set()


def test_high_contrast_is_white_on_black_with_a_thick_focus_outline():
    assert (HIGH_CONTRAST.text, HIGH_CONTRAST.window) == ("#ffffff", "#000000")
    assert HIGH_CONTRAST.focus_width > DARK.focus_width
    assert worst_ratio(HIGH_CONTRAST, "text", "panel_alt") > worst_ratio(DARK, "text", "panel_alt")


# ---- one style sheet, filled from the theme ---------------------------------------------------


def test_the_template_holds_no_colour_of_its_own():
    template = (resources_dir() / TEMPLATE).read_text(encoding="utf-8")
    rules = re.sub(r"/\*.*?\*/", "", template, flags=re.DOTALL)
    assert re.findall(r"#[0-9a-fA-F]{3,8}\b|rgba?\(", rules) == []


@THEMES
def test_the_style_sheet_is_the_template_with_every_name_filled_in(theme):
    sheet = stylesheet(theme)
    assert "@" not in sheet
    assert f"color: {theme.text};" in sheet
    assert f"border: {theme.focus_width}px solid {theme.focus};" in sheet
    assert str(resources_dir() / "icons") in sheet


def test_a_name_no_theme_has_is_an_error_that_names_it():
    with pytest.raises(ValueError, match="@TXET@"):
        render_stylesheet("QWidget { color: @TXET@; }", DARK, "/icons")
    assert render_stylesheet("a { b: @PANEL/128@; }", DARK, "") == "a { b: rgba(22, 27, 33, 128); }"
    # A focused field's padding gives back what its thicker outline takes: the text stays put.
    for theme in (DARK, HIGH_CONTRAST):
        padding = render_stylesheet("@INSET:6@", theme, "")
        assert int(padding.removesuffix("px")) + theme.focus_width == 6 + 1


# ---- palette: the active theme's colours by name ---------------------------------------------


def test_palette_names_are_the_themes(restore_dark):
    declared = {name for name in palette.__annotations__ if name.isupper()}
    assert declared == set(colour_names())
    assert DARK.text == palette.TEXT
    palette.use(HIGH_CONTRAST)
    assert (HIGH_CONTRAST.text, HIGH_CONTRAST.map_revoked) == (palette.TEXT, palette.MAP_REVOKED)
    assert STATE_COLOURS[POLICY_STATES[0]] == getattr(
        HIGH_CONTRAST, f"map_{POLICY_STATES[0].name.lower()}"
    )
    with pytest.raises(ValueError, match="MAP_TYPO"):
        palette.ThemeColours({"x": "MAP_TYPO"})


def test_display_setting_and_its_environment_override(tmp_path):
    config = tmp_path / "settings.toml"
    config.write_text("[display]\nhigh_contrast = true\n")
    assert load_settings(config, tmp_path, env={}).display.high_contrast
    assert not load_settings(
        config, tmp_path, env={"BEACON_DISPLAY__HIGH_CONTRAST": "false"}
    ).display.high_contrast
    config.write_text("")
    assert not load_settings(config, tmp_path, env={}).display.high_contrast


# ---- switching while the console runs --------------------------------------------------------


def test_ctrl_alt_h_switches_every_window_live_and_back(
    qtbot, qapp, make_window, themed, restore_dark
):
    window = make_window()
    action = window.high_contrast_action
    assert not action.isChecked()
    assert ("High contrast", "Ctrl+Alt+H") in window.shortcuts()
    assert action in window.menuBar().actions()[1].menu().actions()  # View

    wall_window = window.wall_windows.open_on(QGuiApplication.screens()[-1])
    qtbot.waitUntil(wall_window.isVisible)

    def map_background() -> str:
        image = window.camera_map.grab().toImage()
        return str(image.pixelColor(image.width() - 3, image.height() // 2).name())

    assert map_background() == DARK.map_background
    qtbot.keyClick(
        window, Qt.Key.Key_H, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
    )
    assert action.isChecked() and palette.current() is HIGH_CONTRAST
    assert qapp.styleSheet() == stylesheet(HIGH_CONTRAST)
    assert qapp.palette().color(qapp.palette().ColorRole.Window).name() == HIGH_CONTRAST.window
    qtbot.waitUntil(lambda: map_background() == HIGH_CONTRAST.map_background)
    for wall in (window.wall, wall_window.wall):  # the wall windows on other monitors too
        tile = wall.tiles[0].grab().toImage()
        assert tile.pixelColor(6, 6).name() == HIGH_CONTRAST.window  # an empty tile's background

    action.trigger()
    assert palette.current() is DARK and qapp.styleSheet() == stylesheet(DARK)
    qtbot.waitUntil(lambda: map_background() == DARK.map_background)


def test_incident_rows_take_the_colours_of_the_theme_now(
    qtbot, jobs, sessions, clock, restore_dark
):
    with sessions() as session:
        add_incident(session, "2026-000900", clock(), emergency=True)
        session.commit()
    panel = IncidentPanel(jobs, sessions, clock)
    qtbot.addWidget(panel)
    panel.set_incidents(read_incident_rows(sessions))
    model = panel.model

    def background() -> str:
        brush = model.data(model.index(0, ALERT), Qt.ItemDataRole.BackgroundRole)
        return str(brush.color().name())

    assert background() == DARK.emergency_row
    palette.use(HIGH_CONTRAST)
    assert background() == HIGH_CONTRAST.emergency_row
    assert model.data(model.index(0, ALERT)) == EMERGENCY_BADGE  # in words too


# ---- nothing by colour alone -----------------------------------------------------------------


def shape_of(image: QImage) -> frozenset[tuple[int, int]]:
    """The pixels a symbol covers, whatever their colour."""
    return frozenset(
        (x, y)
        for x in range(image.width())
        for y in range(image.height())
        if image.pixelColor(x, y).alpha() > 128
    )


@THEMES
def test_each_policy_state_has_its_own_shape_on_the_map(theme, restore_dark):
    palette.use(theme)
    assert len(set(STATE_SYMBOLS.values())) == len(POLICY_STATES)
    shapes = {state: shape_of(camera_icon(state, 32).toImage()) for state in POLICY_STATES}
    for first, second in itertools.combinations(POLICY_STATES, 2):
        differing = len(shapes[first] ^ shapes[second])
        assert differing > 0.15 * len(shapes[first] | shapes[second]), (first, second)


def test_the_camera_list_shows_each_policy_in_words_and_as_the_maps_symbol(restore_dark):
    model = CameraTableModel()
    model.set_rows([camera_row(f"cam-{n}", state) for n, state in enumerate(POLICY_STATES)])
    shapes = set()
    for number, state in enumerate(POLICY_STATES):
        index = model.index(number, POLICY_COLUMN)
        assert model.data(index) == f"words for {state.name}"
        icon = model.data(index, Qt.ItemDataRole.DecorationRole).toImage()
        assert icon == camera_icon(state, ICON_PX, ICON_RATIO).toImage()
        shapes.add(shape_of(icon))
    assert len(shapes) == len(POLICY_STATES)
    palette.use(HIGH_CONTRAST)
    icon = model.data(model.index(0, POLICY_COLUMN), Qt.ItemDataRole.DecorationRole).toImage()
    assert icon == camera_icon(POLICY_STATES[0], ICON_PX, ICON_RATIO).toImage()


def camera_row(camera_id: str, state: PolicyNow) -> CameraRow:
    registered = state is PolicyNow.REGISTERED_ONLY
    return CameraRow(
        camera_id=camera_id,
        name=camera_id,
        tier=CameraTier.REGISTERED if registered else CameraTier.INTEGRATED,
        policy_now=f"words for {state.name}",
        address="1 Canal St",
        latitude=41.88,
        longitude=-87.63,
        heading_deg=0.0,
        fov_deg=90.0,
        range_m=40.0,
        owner_name="Harbor Deli",
        verified_at=None,
        policy_state=state,
    )


def test_available_and_busy_units_differ_in_shape():
    available, busy = (shape_of(unit_icon(b, 32).toImage()) for b in (False, True))
    assert len(available ^ busy) > 0.15 * len(available | busy)  # the busy chevron is hollow


def test_each_replay_mark_has_its_own_shape(restore_dark):
    assert len(set(MARK_SHAPES.values())) == len(EventMark)
    shapes = {}
    for mark in EventMark:
        image = QImage(24, 24, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(QColor(0, 0, 0, 0))
        painter = QPainter(image)
        draw_mark_shape(painter, mark, QPointF(12, 12))
        painter.end()
        shapes[mark] = shape_of(image)
    for first, second in itertools.combinations(EventMark, 2):
        assert len(shapes[first] ^ shapes[second]) > 10, (first, second)

"""The active theme's colours, by name, for what the style sheet cannot colour; and how a theme
is applied to the application.

Why colours outside the style sheet: a style sheet cannot colour individual rows of a table (a
model gives each row its colours through ``BackgroundRole``/``ForegroundRole``), widgets that Qt
draws natively (scroll bars, check marks, the Fusion style's bevels) read ``QPalette``, and the
wall's tiles and the map paint themselves. They read ``palette.NAME`` (``palette.TEXT``) when
they paint, never at import, so a theme switched while the console runs reaches them: each name
below is the active theme's colour of that name (``app/widgets/theme.py`` defines both themes;
the style sheet is filled in from the same ``Theme``). No widget module writes a colour literal.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping
from typing import TypeVar

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from app.widgets.theme import DARK, Theme, colour_names, stylesheet

MAP_CONE_ALPHA = 46  # of 255: fields of view tint the street without hiding it
MAP_GEOFENCE_FILL_ALPHA = 38

# The active theme's colours (``use`` sets them; tests/widgets/test_theme.py checks that these
# names are exactly the theme's).
WINDOW: str
PANEL: str
PANEL_ALT: str
CHROME: str
WALL: str
BORDER: str
GRID: str
BACKDROP: str
TEXT: str
TEXT_MUTED: str
TILE_HINT: str
ACCENT: str
FOCUS: str
SELECTION: str
SELECTION_TEXT: str
EMERGENCY: str
EMERGENCY_ROW: str
EMERGENCY_ROW_TEXT: str
WARNING: str
WARNING_TEXT: str
CLOSED_ROW_TEXT: str
NEW_ROW: str
NEW_BADGE: str
CHECK_PASS: str
CHECK_WARN: str
CHECK_FAIL: str
VIDEO_BARS: str
VIDEO_SCRIM: str
VIDEO_DIM: str
VIDEO_TEXT: str
VIDEO_TEXT_MUTED: str
VIDEO_LIVE: str
VIDEO_FOCUS: str
VIDEO_WARNING: str
VIDEO_DENIED: str
MAP_BACKGROUND: str
MAP_STREET: str
MAP_STREET_MAJOR: str
MAP_STREET_LABEL: str
MAP_SYMBOL_OUTLINE: str
MAP_LIVE_ALLOWED: str
MAP_EMERGENCY_ONLY: str
MAP_SCHEDULED_CLOSED: str
MAP_REVOKED: str
MAP_REGISTERED_ONLY: str
MAP_CLUSTER: str
MAP_CLUSTER_EDGE: str
MAP_CLUSTER_TEXT: str
MAP_SELECTED: str
MAP_HOVER: str
MAP_UNIT: str
MAP_UNIT_BUSY: str
MAP_UNIT_LABEL: str
MAP_INCIDENT_P1: str
MAP_INCIDENT_P2: str
MAP_INCIDENT_P3: str
MAP_INCIDENT_LOW: str
MAP_INCIDENT_TEXT: str
MAP_EMERGENCY_RING: str
MAP_GEOFENCE: str
MAP_SCALE_BAR: str
MAP_SCALE_BAR_SHADOW: str

_active = DARK


def current() -> Theme:
    return _active


def use(theme: Theme) -> None:
    """Make ``theme`` the one ``palette.NAME`` reads; ``apply_theme`` also restyles the
    application."""
    global _active  # noqa: PLW0603  # one theme for the process, like QApplication's palette
    _active = theme
    globals().update({name: getattr(theme, name.lower()) for name in colour_names()})


use(DARK)


Key = TypeVar("Key", bound=Hashable)


class ThemeColours(Mapping[Key, str]):
    """Colours by key (a policy state, an event mark) that follow the active theme: built from
    colour names (``"MAP_REVOKED"``), read when looked up. A name no theme has is an error at
    import, not a missing colour on screen."""

    def __init__(self, names: Mapping[Key, str]) -> None:
        unknown = sorted(set(names.values()) - set(colour_names()))
        if unknown:
            raise ValueError(f"no theme has the colours {', '.join(unknown)}")
        self._names = dict(names)

    def __getitem__(self, key: Key) -> str:
        return str(globals()[self._names[key]])

    def __iter__(self) -> Iterator[Key]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def application_palette() -> QPalette:
    """The palette for what Qt draws natively, in the active theme's colours."""
    theme = _active
    roles = QPalette.ColorRole
    qt_palette = QPalette()
    for role, colour in (
        (roles.Window, theme.window),
        (roles.WindowText, theme.text),
        (roles.Base, theme.panel),
        (roles.AlternateBase, theme.panel_alt),
        (roles.Text, theme.text),
        (roles.Button, theme.panel_alt),
        (roles.ButtonText, theme.text),
        (roles.ToolTipBase, theme.panel_alt),
        (roles.ToolTipText, theme.text),
        (roles.PlaceholderText, theme.text_muted),
        (roles.Highlight, theme.selection),
        (roles.HighlightedText, theme.selection_text),
        (roles.Link, theme.accent),
        (roles.BrightText, theme.emergency),
        (roles.Mid, theme.border),
        (roles.Dark, theme.window),
    ):
        qt_palette.setColor(role, QColor(colour))
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        qt_palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(theme.text_muted))
    return qt_palette


def apply_theme(app: QApplication, theme: Theme) -> None:
    """Switch the running application to ``theme``: the colours ``palette.NAME`` reads, Qt's
    palette and the style sheet. Every widget gets a ``StyleChange`` event and repaints; widgets
    that keep something drawn in the old colours (the map's sprites) render it again then."""
    use(theme)
    app.setPalette(application_palette())
    app.setStyleSheet(stylesheet(theme))

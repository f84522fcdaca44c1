"""The few colours Qt cannot take from the style sheet, mirrored from ``resources/theme.qss``.

Why a second place for colours: a style sheet cannot colour individual rows of a table (a model
gives each row its colours through ``BackgroundRole``/``ForegroundRole``), and widgets that Qt
draws natively (scroll bars, check marks, the Fusion style's bevels) read ``QPalette``, not QSS.
So the row colours and the application palette are defined here, once, as named constants that
copy the values of ``theme.qss``; when the theme changes, change both. No widget module writes a
colour literal of its own.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette

# The base colours of theme.qss.
WINDOW = "#101418"  # near-black: the room is dim and the wall must dominate
PANEL = "#161b21"  # docks, tables
PANEL_ALT = "#1b2129"  # alternate table rows
BORDER = "#2c3440"
TEXT = "#e6e9ee"
TEXT_MUTED = "#98a2b0"
ACCENT = "#4ea1ff"  # the one accent: focus, selection, links
SELECTION = "#1f4f80"
EMERGENCY = "#ff5c5c"  # text and badges of emergencies
EMERGENCY_ROW = "#4a1216"  # background of an emergency row
WARNING = "#f0b429"  # insecure keyring and similar states that need attention

# Incident rows.
CLOSED_ROW_TEXT = TEXT_MUTED
EMERGENCY_ROW_TEXT = "#ffe3e3"
# An incident that just arrived (its badge says NEW too): green, so it never looks selected.
NEW_ROW = "#15301f"
NEW_BADGE = "#5fd38d"

# Install check results (the InstallVerifier's table); the word (PASS, WARN, FAIL) says it too.
CHECK_PASS = NEW_BADGE
CHECK_WARN = WARNING
CHECK_FAIL = EMERGENCY

# Video tiles: what ``VideoTile.paintEvent`` draws over and around the picture (the tile's own
# background, border and hint colour come from the ``VideoTile`` rule of theme.qss).
VIDEO_BARS = "#000000"  # letterbox bars around a picture whose aspect differs from the tile's
VIDEO_SCRIM = "#cc07090c"  # #AARRGGBB: the overlay strips, dark enough for text over any frame
VIDEO_DIM = "#99000000"  # over a last frame that is no longer live, under the state text
VIDEO_TEXT = TEXT
VIDEO_TEXT_MUTED = "#b4bcc8"  # secondary overlay text; readable on the scrim
VIDEO_LIVE = "#5fd38d"  # the "live" word of the overlay
VIDEO_FOCUS = ACCENT  # the focused tile's edge, and a tile under a drag
VIDEO_WARNING = WARNING  # reconnecting, stream lost, ended
VIDEO_DENIED = EMERGENCY  # denied by the policy gate, not recorded in the audit log

# The camera map (``app/widgets/map_layers.py`` paints these; its overlays take theirs from the
# ``#cameraMap`` rules of theme.qss). Camera colours say the policy state now and every state
# also has its own symbol, so no one has to tell the colours apart; registered cameras are
# hollow. Every symbol has a dark outline, to stand out on light raster tiles as well.
MAP_BACKGROUND = "#0d1115"  # under the street layer, and where no tile has loaded yet
MAP_STREET = "#2c3641"
MAP_STREET_MAJOR = "#404d5c"
MAP_STREET_LABEL = "#8d99a8"
MAP_SYMBOL_OUTLINE = "#05070a"
MAP_LIVE_ALLOWED = "#5fd38d"  # circle
MAP_EMERGENCY_ONLY = "#f0b429"  # triangle
MAP_SCHEDULED_CLOSED = "#a78bfa"  # square
MAP_REVOKED = "#ff5c5c"  # cross
MAP_REGISTERED_ONLY = "#c7ced8"  # hollow diamond
MAP_CONE_ALPHA = 46  # of 255: fields of view tint the street without hiding it
MAP_CLUSTER = "#1b2129"
MAP_CLUSTER_EDGE = "#6d7785"
MAP_CLUSTER_TEXT = TEXT
MAP_SELECTED = ACCENT
MAP_HOVER = "#ffffff"
MAP_UNIT = "#38d6e8"  # chevron pointing where the unit heads
MAP_UNIT_BUSY = "#e879f9"  # en route or on scene
MAP_UNIT_LABEL = "#e6fbff"
MAP_INCIDENT_P1 = EMERGENCY
MAP_INCIDENT_P2 = "#ff9f43"
MAP_INCIDENT_P3 = "#ffd166"
MAP_INCIDENT_LOW = "#9fb3c8"  # priorities 4 and 5
MAP_INCIDENT_TEXT = "#101418"
MAP_EMERGENCY_RING = "#ffffff"
MAP_GEOFENCE = ACCENT
MAP_GEOFENCE_FILL_ALPHA = 38
MAP_SCALE_BAR = TEXT
MAP_SCALE_BAR_SHADOW = "#000000"


def application_palette() -> QPalette:
    """The palette for what Qt draws natively, in the theme's colours."""
    roles = QPalette.ColorRole
    qt_palette = QPalette()
    for role, colour in (
        (roles.Window, WINDOW),
        (roles.WindowText, TEXT),
        (roles.Base, PANEL),
        (roles.AlternateBase, PANEL_ALT),
        (roles.Text, TEXT),
        (roles.Button, PANEL_ALT),
        (roles.ButtonText, TEXT),
        (roles.ToolTipBase, PANEL_ALT),
        (roles.ToolTipText, TEXT),
        (roles.PlaceholderText, TEXT_MUTED),
        (roles.Highlight, SELECTION),
        (roles.HighlightedText, TEXT),
        (roles.Link, ACCENT),
        (roles.BrightText, EMERGENCY),
        (roles.Mid, BORDER),
        (roles.Dark, WINDOW),
    ):
        qt_palette.setColor(role, QColor(colour))
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        qt_palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(TEXT_MUTED))
    return qt_palette

"""The console's two themes, dark and high contrast, and the style sheet made from each.

A ``Theme`` names every colour the console paints: ``resources/theme.qss`` is a template that
refers to them by name (``@TEXT@``), and ``app/widgets/palette.py`` gives the active theme's
colours to what a style sheet cannot colour (table rows, Qt's native palette, video tiles, the
map). ``contrast_ratio`` is WCAG 2's: ``tests/widgets/test_theme.py`` holds every text and
background pair of both themes to 7:1 for body text and 4.5:1 for the rest.

Colours are ``#RRGGBB``, or ``#AARRGGBB`` for a translucent one (Qt's order).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass

from app.widgets.resources import resources_dir

TEMPLATE = "theme.qss"
BODY_TEXT_RATIO = 7.0  # WCAG AAA for body text
OTHER_TEXT_RATIO = 4.5  # secondary text, badges, symbols and outlines
_TOKEN = re.compile(r"@([A-Z_]+)(?:/(\d{1,3})|:(\d{1,2}))?@")


@dataclass(frozen=True, slots=True)
class Theme:
    name: str
    focus_width: int  # of a focus outline, in pixels
    # Surfaces.
    window: str
    panel: str  # docks, tables
    panel_alt: str  # alternate rows, buttons, cards
    chrome: str  # menu bar, headers, status bar, text fields
    wall: str  # behind the video tiles
    border: str
    grid: str  # table grid lines and tile edges
    backdrop: str  # dims the window under the shortcut overlay
    # Text and accents.
    text: str
    text_muted: str
    tile_hint: str  # what an empty tile says
    accent: str  # selection edge, links, primary button, current tab
    focus: str  # the focused control's outline
    selection: str
    selection_text: str
    emergency: str  # text and badges of emergencies
    emergency_row: str
    emergency_row_text: str
    warning: str  # states that need attention (an insecure keyring, CAD down)
    warning_text: str  # on a warning badge
    closed_row_text: str
    new_row: str  # an incident that just arrived (its badge says NEW too)
    new_badge: str
    # Install check results; the words PASS, WARN, FAIL say it too.
    check_pass: str
    check_warn: str
    check_fail: str
    # Video tiles: over and around the picture.
    video_bars: str  # letterbox bars
    video_scrim: str  # the overlay strips, dark enough for text over any frame
    video_dim: str  # over a last frame that is no longer live
    video_text: str
    video_text_muted: str
    video_live: str
    video_focus: str  # the focused tile's edge, and a tile under a drag
    video_warning: str  # reconnecting, stream lost, ended
    video_denied: str  # refused by the policy gate
    # The camera map. Every policy state has its own symbol too (map_layers.STATE_SYMBOLS).
    map_background: str
    map_street: str
    map_street_major: str
    map_street_label: str
    map_symbol_outline: str
    map_live_allowed: str  # circle
    map_emergency_only: str  # triangle
    map_scheduled_closed: str  # square
    map_revoked: str  # cross
    map_registered_only: str  # hollow diamond
    map_cluster: str
    map_cluster_edge: str
    map_cluster_text: str
    map_selected: str
    map_hover: str
    map_unit: str  # chevron pointing where the unit heads
    map_unit_busy: str  # en route or on scene
    map_unit_label: str
    map_incident_p1: str
    map_incident_p2: str
    map_incident_p3: str
    map_incident_low: str  # priorities 4 and 5
    map_incident_text: str
    map_emergency_ring: str
    map_geofence: str
    map_scale_bar: str
    map_scale_bar_shadow: str


def colour_names() -> tuple[str, ...]:
    """The theme's colour names as the style sheet and ``palette`` spell them (``TEXT``)."""
    return tuple(
        field.name.upper()
        for field in dataclasses.fields(Theme)
        if field.name not in ("name", "focus_width")
    )


DARK = Theme(
    name="dark",
    focus_width=2,
    window="#101418",  # near-black: the room is dim and the wall must dominate
    panel="#161b21",
    panel_alt="#1b2129",
    chrome="#0c0f12",
    wall="#0a0c0f",
    border="#2c3440",
    grid="#232a33",
    backdrop="#d7050709",
    text="#e6e9ee",
    text_muted="#98a2b0",
    tile_hint="#8d97a5",
    accent="#4ea1ff",
    focus="#4ea1ff",
    selection="#1d4a78",
    selection_text="#ffffff",
    emergency="#ff5c5c",
    emergency_row="#4a1216",
    emergency_row_text="#ffe3e3",
    warning="#f0b429",
    warning_text="#101418",
    closed_row_text="#98a2b0",
    new_row="#15301f",
    new_badge="#5fd38d",
    check_pass="#5fd38d",  # noqa: S106  # a colour, not a password
    check_warn="#f0b429",
    check_fail="#ff5c5c",
    video_bars="#000000",
    video_scrim="#e007090c",
    video_dim="#99000000",
    video_text="#e6e9ee",
    video_text_muted="#b4bcc8",
    video_live="#5fd38d",
    video_focus="#4ea1ff",
    video_warning="#f0b429",
    video_denied="#ff5c5c",
    map_background="#0d1115",
    map_street="#2c3641",
    map_street_major="#404d5c",
    map_street_label="#8d99a8",
    map_symbol_outline="#05070a",
    map_live_allowed="#5fd38d",
    map_emergency_only="#f0b429",
    map_scheduled_closed="#a78bfa",
    map_revoked="#ff5c5c",
    map_registered_only="#c7ced8",
    map_cluster="#1b2129",
    map_cluster_edge="#6d7785",
    map_cluster_text="#e6e9ee",
    map_selected="#4ea1ff",
    map_hover="#ffffff",
    map_unit="#38d6e8",
    map_unit_busy="#e879f9",
    map_unit_label="#e6fbff",
    map_incident_p1="#ff5c5c",
    map_incident_p2="#ff9f43",
    map_incident_p3="#ffd166",
    map_incident_low="#9fb3c8",
    map_incident_text="#101418",
    map_emergency_ring="#ffffff",
    map_geofence="#4ea1ff",
    map_scale_bar="#e6e9ee",
    map_scale_bar_shadow="#000000",
)

# Black surfaces, pure white text, yellow focus and cyan accents, thick focus outlines; greys
# only for edges and secondary text that still passes 7:1.
HIGH_CONTRAST = Theme(
    name="high contrast",
    focus_width=3,
    window="#000000",
    panel="#000000",
    panel_alt="#121212",
    chrome="#000000",
    wall="#000000",
    border="#b0b0b0",
    grid="#6e6e6e",
    backdrop="#eb000000",
    text="#ffffff",
    text_muted="#d6d6d6",
    tile_hint="#d6d6d6",
    accent="#00e5ff",
    focus="#ffff00",
    selection="#003c8f",
    selection_text="#ffffff",
    emergency="#ff7a7a",
    emergency_row="#5a0000",
    emergency_row_text="#ffffff",
    warning="#ffd400",
    warning_text="#000000",
    closed_row_text="#d6d6d6",
    new_row="#00361b",
    new_badge="#66ff99",
    check_pass="#66ff99",  # noqa: S106  # a colour, not a password
    check_warn="#ffd400",
    check_fail="#ff7a7a",
    video_bars="#000000",
    video_scrim="#e6000000",
    video_dim="#b3000000",
    video_text="#ffffff",
    video_text_muted="#e0e0e0",
    video_live="#66ff99",
    video_focus="#ffff00",
    video_warning="#ffd400",
    video_denied="#ff7a7a",
    map_background="#000000",
    map_street="#5a5a5a",
    map_street_major="#8a8a8a",
    map_street_label="#e0e0e0",
    map_symbol_outline="#000000",
    map_live_allowed="#66ff99",
    map_emergency_only="#ffd400",
    map_scheduled_closed="#c7a6ff",
    map_revoked="#ff7a7a",
    map_registered_only="#ffffff",
    map_cluster="#121212",
    map_cluster_edge="#b0b0b0",
    map_cluster_text="#ffffff",
    map_selected="#00e5ff",
    map_hover="#ffff00",
    map_unit="#00e5ff",
    map_unit_busy="#ff8cff",
    map_unit_label="#ffffff",
    map_incident_p1="#ff7a7a",
    map_incident_p2="#ffab5e",
    map_incident_p3="#ffe066",
    map_incident_low="#c8d6e5",
    map_incident_text="#000000",
    map_emergency_ring="#ffffff",
    map_geofence="#00e5ff",
    map_scale_bar="#ffffff",
    map_scale_bar_shadow="#000000",
)


def theme_for(high_contrast: bool) -> Theme:
    return HIGH_CONTRAST if high_contrast else DARK


# ---- contrast (WCAG 2.x) -------------------------------------------------------------------


def rgba(colour: str) -> tuple[int, int, int, int]:
    """``#RRGGBB`` or ``#AARRGGBB`` as (red, green, blue, alpha), each 0-255."""
    digits = colour.removeprefix("#")
    if len(digits) not in (6, 8) or not all(c in "0123456789abcdefABCDEF" for c in digits):
        raise ValueError(f"{colour!r} is not a #RRGGBB or #AARRGGBB colour")
    alpha = int(digits[:2], 16) if len(digits) == 8 else 255
    red, green, blue = (int(digits[i : i + 2], 16) for i in range(len(digits) - 6, len(digits), 2))
    return red, green, blue, alpha


def over(colour: str, backdrop: str) -> str:
    """``colour`` composited over the opaque ``backdrop``, as ``#RRGGBB``."""
    *front, alpha = rgba(colour)
    back = rgba(backdrop)[:3]
    mixed = (round((f * alpha + b * (255 - alpha)) / 255) for f, b in zip(front, back, strict=True))
    return "#" + "".join(f"{channel:02x}" for channel in mixed)


def relative_luminance(colour: str) -> float:
    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue, _ = rgba(colour)
    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG contrast of two opaque colours, from 1 (the same) to 21 (black on white)."""
    lighter, darker = sorted(
        (relative_luminance(foreground), relative_luminance(background)), reverse=True
    )
    return (lighter + 0.05) / (darker + 0.05)


# ---- the style sheet -------------------------------------------------------------------------


def qss_colour(colour: str, alpha: int | None = None) -> str:
    """A theme colour as a style sheet writes it (``#rrggbb``, or ``rgba()`` if translucent)."""
    red, green, blue, own_alpha = rgba(colour)
    alpha = own_alpha if alpha is None else alpha
    if alpha == 255:
        return f"#{red:02x}{green:02x}{blue:02x}"
    return f"rgba({red}, {green}, {blue}, {alpha})"


def render_stylesheet(template: str, theme: Theme, icons: str) -> str:
    """``template`` with every ``@NAME@``, ``@NAME/ALPHA@`` and ``@INSET:PIXELS@`` replaced from
    ``theme``; a name the theme does not have is an error that names it (a typo must not become
    no colour)."""

    def value(match: re.Match[str]) -> str:
        name, alpha, padding = match.groups()
        if name == "ICONS":
            return icons
        if name == "FOCUS_WIDTH":
            return f"{theme.focus_width}px"
        if name == "INSET" and padding is not None:  # the focus outline replaces a 1 px border
            return f"{max(0, int(padding) + 1 - theme.focus_width)}px"
        if name not in colour_names():
            raise ValueError(f"the style sheet names @{name}@, which no theme defines")
        if alpha is not None and not 0 <= int(alpha) <= 255:
            raise ValueError(f"@{name}/{alpha}@: the alpha must be 0-255")
        return qss_colour(getattr(theme, name.lower()), None if alpha is None else int(alpha))

    return _TOKEN.sub(value, template)


@functools.cache
def stylesheet(theme: Theme) -> str:
    """The console's style sheet in ``theme`` (``resources/theme.qss`` filled in)."""
    template = (resources_dir() / TEMPLATE).read_text(encoding="utf-8")
    return render_stylesheet(template, theme, (resources_dir() / "icons").as_posix())

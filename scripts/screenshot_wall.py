"""Screenshots of the live video wall, to look at: demo feeds opened through the real gate.

Run under a real X server (Xvfb)::

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python scripts/screenshot_wall.py

It builds the demo city into ``--data-dir`` (unless one is there), signs in as the demo operator
through the real login dialog, selects the most urgent incident, and opens demo cameras on a
3x3 wall through the policy gate: continuously shared ones (live), an emergency-only one and a
registered one (both denied, saying why). It saves the console, a tile touring four cameras
with its stream health shown, the wall with the overlay hidden (``O``), a maximised tile and a
2x2 wall into ``--out-dir``.
"""

from __future__ import annotations

import sys

from screenshot_session import ScreenshotSession, Step, after, arguments, save

LIVE_FEEDS = 6


def main() -> int:
    args = arguments(__doc__.splitlines()[0], "wall-demo")
    session = ScreenshotSession(args)
    out, window = session.out, session.window

    def open_feeds() -> None:
        wall = window().wall
        window().incident_panel.focus_table()  # selects the most urgent incident
        wall.set_layout("3x3")
        rows = window().camera_list.model.rows
        live = [row for row in rows if row.policy_now == "continuous"][:LIVE_FEEDS]
        emergency = next(row for row in rows if row.policy_now == "emergency only")
        registered = next(row for row in rows if row.policy_now == "no live feed")
        chosen = [*live[:4], emergency, *live[4:], registered]
        for tile, row in zip(wall.tiles, chosen, strict=False):
            wall.open_camera(tile, row.camera_id)
        wall.tiles[0].setFocus()

    def feeds_live() -> bool:
        tiles = window().wall.tiles
        live = [t for t in tiles if t.has_picture and t.status_text == "live"]
        refused = [t for t in tiles if t.status_text.startswith("denied")]
        return (
            len(live) >= LIVE_FEEDS and len(refused) >= 1 and all(t.measured_fps > 0 for t in live)
        )

    def start_tour() -> None:
        wall = window().wall
        rows = window().camera_list.model.rows
        live = [row.camera_id for row in rows if row.policy_now == "continuous"]
        wall.start_tour([wall.tiles[2]], live[LIVE_FEEDS : LIVE_FEEDS + 4])
        wall.tiles[2].set_health_visible(True)

    def hide_overlay() -> None:
        window().wall.set_overlay_visible(False)

    def maximise() -> None:
        wall = window().wall
        wall.set_overlay_visible(True)
        wall.maximise(wall.tiles[1])

    def two_by_two() -> None:
        wall = window().wall
        wall.restore()
        wall.set_layout("2x2")

    def settled() -> bool:
        tiles = window().wall.tiles
        return all(t.has_picture for t in tiles if t.handle is not None)

    steps: list[Step] = [
        ("login dialog", lambda: session.shell.login_dialog is not None, session.sign_in),
        (
            "signed in",
            lambda: session.shell.window is not None,
            lambda: window().setGeometry(session.screen),
        ),
        ("panels loaded", session.panels_loaded, open_feeds),
        ("feeds live", feeds_live, lambda: None),
        ("fps measured", after(25), lambda: save(window(), out / "beacon-wall.png")),
        ("wall only", lambda: True, lambda: save(window().wall, out / "beacon-wall-tiles.png")),
        ("tour", lambda: True, start_tour),
        (
            "touring",
            lambda: window().wall.tiles[2].has_picture,
            lambda: save(window(), out / "beacon-wall-tour.png"),
        ),
        ("overlay off", lambda: True, hide_overlay),
        ("overlay hidden", after(3), lambda: save(window(), out / "beacon-wall-no-overlay.png")),
        ("maximise", lambda: True, maximise),
        ("main stream", after(40), lambda: save(window(), out / "beacon-wall-maximised.png")),
        ("2x2", lambda: True, two_by_two),
        ("2x2 settled", settled, lambda: None),
        ("2x2 shot", after(20), lambda: save(window(), out / "beacon-wall-2x2.png")),
        ("quit", lambda: True, lambda: window().quit()),
    ]

    def report_tiles() -> None:
        if session.shell.window is not None:
            for tile in window().wall.tiles:
                print(f"  tile {tile.number}: {tile.status_text}", file=sys.stderr)

    return session.run(steps, on_timeout=report_tiles)


if __name__ == "__main__":
    sys.exit(main())

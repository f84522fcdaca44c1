"""Screenshots of the supervisor's session replay, to look at: a demo operator's shift, replayed.

Run under a real X server (Xvfb)::

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python scripts/screenshot_replay.py

It builds the demo city into ``--data-dir`` (unless one is there) and plays a short shift as the
demo operator: selects the open incident with the most cameras around it (its geofence is drawn
and searched), opens the nearest allowed cameras on the wall, asks for a registered camera (the
gate denies it), closes one tile and signs out. Then it signs in as the demo supervisor, opens
Audit › Replay a session…, picks that shift and scrubs to the moment the wall was fullest, and
saves into ``--out-dir`` the replay window (``beacon-replay.png``) and the session's report as
PDF and HTML (``beacon-replay-report.pdf``, ``.html``).
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QPoint
from screenshot_session import (
    ScreenshotSession,
    Step,
    after,
    arguments,
    save,
    select_busiest_incident,
)

from app.models.audit_chain import AuditEventType
from app.widgets.audit_replay import AuditReplay

SUPERVISOR_USER, SUPERVISOR_PASSWORD = "supervisor", "beacon-supervisor"


def main() -> int:
    args = arguments(__doc__.splitlines()[0], "replay-demo")
    session = ScreenshotSession(args)
    out, window = session.out, session.window
    shown: list[AuditReplay] = []

    def open_cameras() -> None:
        main = window()
        main.geofence_panel.open_action.trigger()

    def ask_for_a_registered_camera() -> None:
        main = window()
        registered = next(
            row for row in main.camera_list.model.rows if row.tier.value == "registered"
        )
        main.wall.open_in_free_tile(registered.camera_id)

    def tiles_busy() -> bool:
        return sum(not tile.is_empty for tile in window().wall.tiles) >= 3

    def close_the_first_tile() -> None:
        wall = window().wall
        first = next(tile for tile in wall.tiles if not tile.is_empty)
        wall.close_tile(first)

    def sign_in_as_supervisor() -> None:
        session.args.user = SUPERVISOR_USER
        session.sign_in(SUPERVISOR_PASSWORD)

    def open_replay() -> None:
        main = window()
        main.setGeometry(session.screen)
        replay = main.open_replay()
        assert replay is not None, "the demo supervisor has no replay entry"
        replay.setGeometry(session.screen)
        shown.append(replay)

    def sessions_listed() -> bool:
        return bool(shown) and any(s.actor == "operator" for s in shown[0].sessions)

    def pick_the_shift() -> None:
        replay = shown[0]
        rows = [row for row, s in enumerate(replay.sessions) if s.actor == "operator"]
        replay.select_session(rows[-1])

    def fullest_moment() -> None:
        replay = shown[0]
        assert replay.replay is not None
        events = replay.replay.events
        closes = [i for i, e in enumerate(events) if e.event_type == AuditEventType.FEED_CLOSED]
        replay.jump_to(max(closes[0] - 1, 0) if closes else len(events) - 1)
        replay.event_table.viewport().update(replay.event_table.viewport().rect())
        replay.timeline.update()
        # the mouse away from the timeline and the buttons: no hover highlight in the shot
        replay.cursor().setPos(replay.mapToGlobal(QPoint(replay.width() - 5, 5)))

    def reports() -> None:
        replay = shown[0]
        replay.export_report(out / "beacon-replay-report.pdf")
        replay.export_report(out / "beacon-replay-report.html")

    steps: list[Step] = [
        ("login dialog", lambda: session.shell.login_dialog is not None, session.sign_in),
        (
            "signed in",
            lambda: session.shell.window is not None,
            lambda: window().setGeometry(session.screen),
        ),
        ("panels loaded", session.panels_loaded, lambda: select_busiest_incident(window())),
        ("geofence searched", lambda: window().geofence_panel.result is not None, open_cameras),
        ("cameras opening", after(10), ask_for_a_registered_camera),
        ("wall busy", tiles_busy, lambda: None),
        ("watched a while", after(20), close_the_first_tile),
        ("closed", after(10), lambda: window().sign_out()),
        (
            "login dialog again",
            lambda: session.shell.login_dialog is not None and session.shell.window is None,
            sign_in_as_supervisor,
        ),
        ("supervisor signed in", lambda: session.shell.window is not None, open_replay),
        ("sessions listed", sessions_listed, pick_the_shift),
        ("replay ready", lambda: shown[0].replay is not None, fullest_moment),
        ("settled", after(5), lambda: save(shown[0], out / "beacon-replay.png")),
        ("reports", lambda: True, reports),
        ("written", after(20), lambda: window().quit()),
    ]
    return session.run(steps)


if __name__ == "__main__":
    sys.exit(main())

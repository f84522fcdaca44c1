"""Screenshots of the evidence an owner sent, in the real console: the evidence dock and the
player, at full HD and at 1366x768.

Run under a real X server (Xvfb)::

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python scripts/screenshot_evidence.py

It builds the demo city into ``--data-dir`` (unless one is there) and points it at a real
evidence server started here on 127.0.0.1 (a throw-away database and vault). Once the operator
is signed in and an incident is selected, an owner answers a footage request for it through the
real upload page (an ffmpeg clip) and another declines; the evidence dock then lists both, and
the clip is opened in the player, which steps a few frames in; last, the shortcut help at
1366x768.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2 as httpx
from screenshot_session import ScreenshotSession, Step, after, arguments, save

from app.cli.main import main as beacon
from app.models.policy import Purpose, PurposeKind
from app.services.credentials import CredentialStore
from app.services.sync_link import sync_token_name
from app.settings import load_settings
from tests.evidence_uploads import Owner, UploadPage, video_file
from tests.sync_server import ServerDatabase, ThreadServer

PLAYER_SHOT = (1100, 720)


def point_at_server(data_dir: Path, scratch: Path) -> tuple[ThreadServer, str]:
    """Start an evidence server and name it in the demo's settings, its token in the keyring."""
    if not (data_dir / "beacon.sqlite").is_file():
        code = beacon(["demo", "init", "--data-dir", str(data_dir)])
        if code != 0:
            raise SystemExit(code)
    settings_file = data_dir / "settings.toml"
    db_url = f"sqlite:///{scratch / 'server.sqlite3'}"
    server = ThreadServer(
        db_url, vault_folder=scratch / "vault", vault_key_file=scratch / "vault-key"
    ).start()
    text = settings_file.read_text(encoding="utf-8").split("\n[sync]\n")[0]
    settings_file.write_text(f'{text}\n[sync]\nserver_url = "{server.url}"\n', encoding="utf-8")
    settings = load_settings(settings_file, data_dir, env={})
    database = ServerDatabase(db_url)
    token = database.register(settings.sync_workstation_id)
    database.close()
    CredentialStore.for_settings(settings).set_secret(sync_token_name(settings), token)
    return server, token


def owners_answer(
    server: ThreadServer, token: str, cad_number: str, incident_type: str, clip: bytes
) -> None:
    """Two owners asked for footage of the incident: one sends a clip, one declines."""
    now = datetime.now(UTC)
    headers = {"Authorization": f"Bearer {token}"}
    cameras = [("FR-9001", "cam-demo-shop", "Harbor Deli front door"),
               ("FR-9002", "cam-demo-garage", "Kiez Garage forecourt")]  # fmt: skip
    links = []
    for reference, camera_id, name in cameras:
        answer = httpx.post(
            f"{server.url}/v1/footage-requests",
            headers=headers,
            json={
                "reference": reference,
                "cad_number": cad_number,
                "incident_type": incident_type or "Incident",
                "camera_id": camera_id,
                "camera_name": name,
                "window_start": (now - timedelta(minutes=45)).isoformat(),
                "window_end": (now - timedelta(minutes=5)).isoformat(),
                "time_zone": "America/Chicago",
                "expires_at": (now + timedelta(days=3)).isoformat(),
            },
        )
        answer.raise_for_status()
        links.append(answer.json()["upload_url"])
    with contextlib.closing(UploadPage(links[0])) as page:
        owner = Owner(page, links[0])
        owner.send("front door 2026-11-18 0940.mp4", clip, chunk=256 * 1024)
        owner.done().raise_for_status()
    with contextlib.closing(UploadPage(links[1])) as page:
        Owner(page, links[1]).decline("The camera was being repaired that week").raise_for_status()


def main() -> int:
    args = arguments(__doc__.splitlines()[0], "shot-evidence")
    scratch = Path(tempfile.mkdtemp(prefix="beacon-shot-evidence-"))
    server, token = point_at_server(args.data_dir, scratch)
    clip = video_file(scratch / "clip.mp4", seconds=6, rate=25, size="1280x720").read_bytes()
    session = ScreenshotSession(args)
    out, window = session.out, session.window

    def select_incident() -> None:
        main_window = window()
        main_window.setGeometry(session.screen)
        panel = main_window.incident_panel
        open_rows = [row for row in panel.model.rows if row.status.value != "closed"]
        panel.view.selectRow(panel.model.rows.index(open_rows[0]))

    def answer_and_show() -> None:
        incident = window().evidence_panel.incident
        assert incident is not None
        owners_answer(server, token, incident.cad_number, incident.incident_type, clip)
        window().evidence_dock.show()
        window().evidence_dock.raise_()
        window().evidence_panel.refresh()

    def listed() -> bool:
        panel = window().evidence_panel
        return panel.model.rowCount() == 2 and not panel.loading

    def open_player() -> None:
        panel = window().evidence_panel
        panel.view.selectRow(0)
        file = panel.rows[0].file
        assert file is not None and panel.incident is not None
        player = panel.play(file, Purpose(PurposeKind.INCIDENT, panel.incident.cad_number))
        player.resize(*PLAYER_SHOT)

    def player_ready() -> bool:
        panel = window().evidence_panel
        return bool(panel.players) and panel.players[0].frame_number == 0

    def step_in() -> None:
        player = window().evidence_panel.players[0]
        player.seek(2.4)

    def small_screen() -> None:
        window().evidence_panel.close_players()
        window().showNormal()
        window().setGeometry(0, 0, 1366, 768)

    def open_help() -> None:
        window().help_action.trigger()

    steps: list[Step] = [
        ("login dialog", lambda: session.shell.login_dialog is not None, session.sign_in),
        ("signed in", lambda: session.shell.window is not None, lambda: None),
        ("panels loaded", session.panels_loaded, select_incident),
        (
            "incident selected",
            lambda: window().evidence_panel.incident is not None,
            answer_and_show,
        ),
        ("evidence listed", listed, lambda: None),
        ("settled", after(5), lambda: save(window(), out / "beacon-evidence-dock.png")),
        ("player", lambda: True, open_player),
        ("first frame", player_ready, step_in),
        (
            "stepped",
            lambda: window().evidence_panel.players[0].frame_number == 60,
            lambda: save(window().evidence_panel.players[0], out / "beacon-evidence-player.png"),
        ),
        ("1366x768", lambda: True, small_screen),
        ("laid out", after(10), lambda: save(window(), out / "beacon-evidence-1366.png")),
        ("help", lambda: True, open_help),
        (
            "help shown",
            lambda: bool(window().help_overlay.isVisible()),
            lambda: save(window(), out / "beacon-evidence-help-1366.png"),
        ),
        ("quit", lambda: True, lambda: window().quit()),
    ]
    try:
        return session.run(steps)
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())

"""A screenshot of the field technician's install check, to look at, on a laptop-sized window.

Run under a real X server (Xvfb)::

    xvfb-run -a -s "-screen 0 1366x768x24" .venv/bin/python scripts/screenshot_install.py

It builds the demo city into ``--data-dir`` (unless one is there), signs in as the demo field
technician, opens Install › Check a camera install…, checks the first integrated demo camera
(main and sub, a short stability run) and saves the panel at 1366x768 into ``--out-dir``
(``beacon-install-check.png``). Then it discovers a simulated ONVIF camera on loopback (the
tests' device simulator, streaming from the tests' RTSP server), reads its streams, checks the
main one it filled in and saves ``beacon-install-discovery.png``. Last, the Placement tab: a
snapshot of the demo camera with two privacy masks and one being drawn
(``beacon-install-placement.png``), and the same previewed as the wall shows it
(``beacon-install-placement-preview.png``), then with most of the picture masked, which warns
(``beacon-install-placement-warning.png``).
"""

from __future__ import annotations

import sys

from screenshot_session import ScreenshotSession, Step, after, arguments, save

from app.widgets.install_verifier import InstallVerifier
from tests.onvif_device import OnvifDeviceSimulator, SimulatedCamera, SimulatedProfile
from tests.rtsp.fixtures import Mount, RtspServer, live_launch

FIELD_TECH_USER, FIELD_TECH_PASSWORD = "fieldtech", "beacon-fieldtech"
LAPTOP = (1366, 768)
RUN_S = 5
# A neighbour's window and a private yard, and a third mask being drawn.
MASKS = [
    [[0.04, 0.08], [0.22, 0.06], [0.24, 0.42], [0.05, 0.45]],
    [[0.62, 0.55], [0.97, 0.5], [0.98, 0.95], [0.6, 0.97]],
]
DRAFT = [[0.4, 0.1], [0.55, 0.12], [0.56, 0.3]]
MOSTLY_PRIVATE = [[[0.0, 0.0], [0.7, 0.0], [0.7, 1.0], [0.0, 1.0]]]


def main() -> int:
    mounts = [Mount("/main", launch=live_launch(1280, 720)), Mount("/sub", launch=live_launch())]
    with RtspServer(mounts) as rtsp, OnvifDeviceSimulator(simulated_camera(rtsp)) as onvif:
        return take_screenshots(onvif)


def simulated_camera(rtsp: RtspServer) -> SimulatedCamera:
    return SimulatedCamera(
        profiles=[
            SimulatedProfile("main", "MainStream", 1280, 720, rtsp.url("/main")),
            SimulatedProfile("sub", "SubStream", 640, 360, rtsp.url("/sub")),
        ],
        name="Corner Bakery entrance",
        location="Main Street",
    )


def take_screenshots(onvif: OnvifDeviceSimulator) -> int:
    args = arguments(__doc__.splitlines()[0], "install-demo")
    args.user = FIELD_TECH_USER
    session = ScreenshotSession(args)
    window = session.window
    shown: list[InstallVerifier] = []
    reports: list[object] = []

    def open_the_check() -> None:
        panel = window().open_install_verifier()
        assert panel is not None, "the demo field technician has no install entry"
        panel.setGeometry(0, 0, *LAPTOP)
        panel.report_ready.connect(reports.append)
        shown.append(panel)

    def run_the_check() -> None:
        panel = shown[0]
        camera = next(
            row for row in window().camera_list.model.rows if row.tier.value == "integrated"
        )
        panel.target_edit.setText(camera.camera_id)
        panel.duration_box.setValue(RUN_S)
        panel.start_check()

    def discover() -> None:
        panel = shown[0]
        panel.discovery_target = onvif.discovery_target
        panel.start_discovery()

    def read_streams() -> None:
        panel = shown[0]
        panel.username_edit.setText(onvif.camera.username)
        panel.password_edit.setText(onvif.camera.password)
        panel.read_streams()

    def check_the_main_stream() -> None:
        reports.clear()
        shown[0].start_check()

    def take_a_snapshot() -> None:
        panel = shown[0]
        camera = next(
            row for row in window().camera_list.model.rows if row.tier.value == "integrated"
        )
        panel.target_edit.setText(camera.camera_id)
        panel.show_tab(1)
        panel.placement.take_snapshot()

    def draw_masks() -> None:
        editor = shown[0].placement.editor
        editor.set_masks(MASKS)
        editor.draft = [list(point) for point in DRAFT]
        editor.update()

    def preview() -> None:
        placement = shown[0].placement
        placement.editor.draft = []
        placement.preview_box.setChecked(True)

    def mask_most() -> None:
        placement = shown[0].placement
        placement.preview_box.setChecked(False)
        placement.editor.set_masks(MOSTLY_PRIVATE)

    steps: list[Step] = [
        (
            "login dialog",
            lambda: session.shell.login_dialog is not None,
            lambda: session.sign_in(FIELD_TECH_PASSWORD),
        ),
        ("panels loaded", session.panels_loaded, open_the_check),
        ("panel shown", after(5), run_the_check),
        ("checked", lambda: bool(reports), lambda: None),
        ("settled", after(3), lambda: save(shown[0], session.out / "beacon-install-check.png")),
        ("saved", after(2), discover),
        ("discovered", lambda: shown[0].device_list.count() > 0, read_streams),
        (
            "streams read",
            lambda: shown[0].target_edit.text().startswith("rtsp:"),
            check_the_main_stream,
        ),
        ("main checked", lambda: bool(reports), lambda: None),
        (
            "settled again",
            after(3),
            lambda: save(shown[0], session.out / "beacon-install-discovery.png"),
        ),
        ("saved again", after(2), take_a_snapshot),
        ("snapshot", lambda: shown[0].placement.editor.frame is not None, draw_masks),
        (
            "masks drawn",
            after(3),
            lambda: save(shown[0], session.out / "beacon-install-placement.png"),
        ),
        ("placement saved", after(1), preview),
        (
            "previewed",
            after(2),
            lambda: save(shown[0], session.out / "beacon-install-placement-preview.png"),
        ),
        ("preview saved", after(1), mask_most),
        (
            "mostly masked",
            after(2),
            lambda: save(shown[0], session.out / "beacon-install-placement-warning.png"),
        ),
        ("warning saved", after(1), lambda: window().quit()),
    ]
    return session.run(steps)


if __name__ == "__main__":
    sys.exit(main())

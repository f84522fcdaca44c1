"""A screenshot of the field technician's install check, to look at, on a laptop-sized window.

Run under a real X server (Xvfb)::

    xvfb-run -a -s "-screen 0 1366x768x24" .venv/bin/python scripts/screenshot_install.py

It builds the demo city into ``--data-dir`` (unless one is there), signs in as the demo field
technician, opens Install › Check a camera install…, checks the first integrated demo camera
(main and sub, a short stability run) and saves the panel at 1366x768 into ``--out-dir``
(``beacon-install-check.png``). Then it discovers a simulated ONVIF camera on loopback (the
tests' device simulator, streaming from the tests' RTSP server), reads its streams, checks the
main one it filled in and saves ``beacon-install-discovery.png``.
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
        ("saved again", after(2), lambda: window().quit()),
    ]
    return session.run(steps)


if __name__ == "__main__":
    sys.exit(main())

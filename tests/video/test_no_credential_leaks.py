"""A camera password with %, @, ! and : must appear nowhere: logs, FFmpeg's output, tile
texts, exception texts, the audit log. Streams are opened, refused, lost and crashed for real."""

from __future__ import annotations

import json
import logging
import os
import signal
from urllib.parse import quote

import pytest

from app.services.audit_log import read_events
from app.services.credentials import CameraCredentials
from app.services.policy_gate import LeaseEndedError, PolicyGate
from app.settings import Settings
from app.video.feed_state import FeedStatus
from app.video.feed_supervisor import FeedSupervisor
from tests.rtsp.fixtures import SECURE_PASSWORD, SECURE_USERNAME, RtspServer, StandardPaths
from tests.video.conftest import LeaseFor

WRONG_PASSWORD = "n0t%it@all!:"
SECRETS = [
    secret
    for password in (SECURE_PASSWORD, WRONG_PASSWORD)
    for secret in (password, quote(password, safe=""), quote(password))
]


@pytest.mark.slow
def test_no_password_anywhere(
    qtbot,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    supervisor: FeedSupervisor,
    gate: PolicyGate,
    lease_for: LeaseFor,
    rtsp_server: RtspServer,
    settings: Settings,
):
    caplog.set_level(logging.DEBUG)
    url = rtsp_server.url(StandardPaths.SECURE)
    good = supervisor.open(
        lease_for(url, CameraCredentials(SECURE_USERNAME, SECURE_PASSWORD)), "main", (640, 360)
    )
    bad = supervisor.open(
        lease_for(url, CameraCredentials(SECURE_USERNAME, WRONG_PASSWORD)), "main", (640, 360)
    )
    texts: list[str] = []

    def observe(condition) -> bool:
        texts.extend([good.state.text, bad.state.text, repr(good), repr(bad)])
        return bool(condition())

    qtbot.waitUntil(lambda: observe(lambda: good.latest() is not None), timeout=15_000)
    qtbot.waitUntil(
        lambda: observe(lambda: bad.state.status is FeedStatus.AUTH_FAILED), timeout=15_000
    )
    rtsp_server.stop()  # the stream is lost mid-way
    qtbot.waitUntil(
        lambda: observe(lambda: good.state.status is not FeedStatus.LIVE), timeout=15_000
    )
    rtsp_server.restart()
    qtbot.waitUntil(lambda: observe(lambda: good.state.status is FeedStatus.LIVE), timeout=15_000)
    victim = supervisor._placement[good.feed_id].process.pid
    assert victim is not None
    os.kill(victim, signal.SIGKILL)  # FFmpeg "crashes"
    qtbot.waitUntil(lambda: observe(lambda: supervisor.restarts == 1), timeout=10_000)
    qtbot.waitUntil(lambda: observe(lambda: good.state.status is FeedStatus.LIVE), timeout=15_000)
    gate.close(good.lease)
    try:
        supervisor.open(good.lease)
    except LeaseEndedError as exc:
        texts.append(str(exc))
    texts.append(repr(good.lease))

    captured = capfd.readouterr()
    places = {
        "log records": "\n".join(
            record.getMessage() + (record.exc_text or "") for record in caplog.records
        ),
        "stdout/stderr of the console and its decode processes (FFmpeg)": captured.out
        + captured.err,
        "tile texts, handles, leases, exceptions": "\n".join(texts),
        "audit log": json.dumps(list(read_events(settings.audit_db))),
    }
    assert places["audit log"].count("feed_allowed") == 2  # the run really happened
    for place, text in places.items():
        for secret in SECRETS:
            assert secret not in text, f"a password leaked into {place}"

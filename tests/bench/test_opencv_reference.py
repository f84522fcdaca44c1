"""The OpenCV ceiling of bench.wall: live streams decoded as the console's decode processes decode
them, each stream's rate measured after the warm-up; a stream that never opens counts as 0."""

from __future__ import annotations

import pytest

from bench.opencv_reference import opencv_sustained, stream_rates
from tests.rtsp.fixtures import RtspServer, StandardPaths

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("work", ["read", "tile"])
def test_every_live_stream_is_measured_at_its_own_rate(rtsp_server: RtspServer, work: str) -> None:
    rates = stream_rates(
        rtsp_server.url(StandardPaths.SUB), 3, work, processes=2, seconds=5, warmup_s=2
    )

    assert len(rates) == 3  # two in one process, one in the other
    assert all(13 <= rate <= 17 for rate in rates), rates  # the clip's 15 frames/s


def test_a_stream_that_never_opens_keeps_up_with_nothing(rtsp_server: RtspServer) -> None:
    sustained, ramp = opencv_sustained(
        f"rtsp://127.0.0.1:{rtsp_server.port}/no-such-mount",
        "read",
        processes=1,
        counts=[1],
        seconds=3,
        warmup_s=1,
        needed_fps=14,
    )

    assert (sustained, ramp) == (0, {"1": 0.0})


def test_an_unknown_work_is_refused() -> None:
    with pytest.raises(ValueError, match="read"):
        stream_rates("rtsp://127.0.0.1:9/none", 1, "decode", processes=1, seconds=1, warmup_s=0)

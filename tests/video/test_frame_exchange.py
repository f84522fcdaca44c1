from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import numpy as np
import pytest

from app.video.frame_exchange import FrameExchange


def _writer(name: str, frames: int) -> None:
    exchange = FrameExchange.attach(name, 64, 48)
    for number in range(1, frames + 1):
        image = np.full((48, 64, 4), number % 256, np.uint8)
        exchange.write(image, number, time.monotonic_ns(), 0)
    exchange.close()


@pytest.fixture
def exchange():
    exchange = FrameExchange.create(64, 48)
    yield exchange
    exchange.unlink()


def test_newest_frame_only_and_drops_counted(exchange: FrameExchange):
    assert exchange.read() is None
    writer = exchange  # one process here; the decode process attaches by name
    for number in range(1, 4):
        writer.write(np.full((48, 64, 4), number, np.uint8), number, number, 0)
    frame = exchange.read()
    assert frame is not None and frame.number == 3 and int(frame.image[0, 0, 0]) == 3
    assert exchange.dropped == 2
    assert exchange.read() is None, "the same frame is never handed out twice"
    writer.write(np.full((24, 32, 4), 9, np.uint8), 4, 4, 0)  # smaller frame: resolution change
    frame = exchange.read()
    assert frame is not None and frame.image.shape == (24, 32, 4) and exchange.dropped == 2
    with pytest.raises(ValueError, match="exceeds"):
        writer.write(np.zeros((49, 64, 4), np.uint8), 5, 5, 0)


def test_frames_cross_processes_without_tearing(exchange: FrameExchange):
    process = multiprocessing.get_context("spawn").Process(
        target=_writer, args=(exchange.name, 3000)
    )
    process.start()
    seen: list[int] = []
    while process.is_alive() or not seen or seen[-1] != 3000:
        frame = exchange.read()
        if frame is not None:
            values = np.unique(frame.image)
            assert len(values) == 1 and int(values[0]) == frame.number % 256, "torn frame"
            seen.append(frame.number)
        elif not process.is_alive() and (not seen or seen[-1] != 3000):
            frame = exchange.read()
            assert frame is not None and frame.number == 3000
            seen.append(frame.number)
    process.join(timeout=10)
    assert process.exitcode == 0
    assert seen == sorted(seen) and len(set(seen)) == len(seen)
    # the writer exiting must not have unlinked the parent's block
    assert (Path("/dev/shm") / exchange.name.lstrip("/")).exists()

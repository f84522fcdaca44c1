"""Stream health as the decoder measures it: the bitrate a feed receives, and how far its
pictures are behind the camera's clock.

Bitrate. OpenCV does not say how many bytes a stream brings. FFmpeg reads a feed's socket in
the feed's own thread, but with recv(), which Linux does not count in the thread's ``rchar``
(/proc/self/task/<tid>/io counts read() and its kin: 0.4 kbit/s measured for a 4 Mbit/s
stream). The connection itself does count it: ``tcpi_bytes_received`` of TCP_INFO (Linux 4.1+).
The feed's connection is the socket that appears while it opens. Opens are serialised in a
process (OpenCV's capture takes a lock for each anyway), so what else can appear meanwhile are
other feeds' RTSP probes, which have received a few hundred bytes where FFmpeg has already read
the stream's first frames. Measured against the test clips: 587, 3925 and 4282 kbit/s received
for clips of 574, 3879 and 4194 kbit/s (RTP and interleaving headers add 1-2 %). Without such a
counter (not Linux, a local file): the container's bitrate as FFmpeg states it, which files
have and RTSP streams do not (0: unknown).

Latency. An RTSP camera's RTCP sender reports tie its RTP timestamps to its wall clock (NTP).
FFmpeg turns the first one into the wall-clock time of the stream's first RTP timestamp
(CAP_PROP_STREAM_OPEN_TIME_USEC), and a frame's timestamp counts from there (CAP_PROP_PTS, in
frame durations). Not CAP_PROP_POS_MSEC: it counts from the first timestamp FFmpeg could give a
frame, which is frames later when a server sends several frames under one RTP timestamp, as
GStreamer's does as a stream starts. Checked on the test server by matching decoded frames to
RTP packets by their pixels: 68 ms behind the sender reports' clock on loopback (the frame the
H.264 parser waits for, and decoding), 68 ms from CAP_PROP_PTS, 334 ms from CAP_PROP_POS_MSEC.
There is no clock (None) before the first sender report (GStreamer's comes 1.6-1.9 s after
PLAY) and for files. A server that starts its timestamps mid-stream (GStreamer's shared clip
mounts to a client that joins late: ``Range: npt=1.5-``) shifts FFmpeg's timestamps by that
start, which puts the camera's time ahead of ours; a picture cannot be shown before it was
taken, so that too is None, as is a camera whose clock runs ahead of the workstation's.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

_TCP_INFO_SIZE = 256
_BYTES_RECEIVED = struct.Struct("<Q")  # tcpi_bytes_received
_BYTES_RECEIVED_OFFSET = 128
_opening = threading.Lock()

Capture = TypeVar("Capture")


class ReceivedBytes:
    """The bytes one TCP connection of this process has received (Linux)."""

    def __init__(self, descriptor: int, inode: int) -> None:
        self._descriptor = descriptor
        self._inode = inode

    def total(self) -> int | None:
        """None once the descriptor is no longer that connection, or is no TCP socket."""
        try:
            if os.fstat(self._descriptor).st_ino != self._inode:
                return None
            connection = socket.socket(fileno=self._descriptor)
            try:
                info = connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_SIZE)
            finally:
                connection.detach()  # FFmpeg's socket: never close it
        except (OSError, AttributeError):  # AttributeError: no TCP_INFO on this platform
            return None
        if len(info) < _BYTES_RECEIVED_OFFSET + _BYTES_RECEIVED.size:
            return None  # a kernel older than 4.1
        return int(_BYTES_RECEIVED.unpack_from(info, _BYTES_RECEIVED_OFFSET)[0])


def open_counting_bytes(
    open_capture: Callable[[], Capture],
) -> tuple[Capture, ReceivedBytes | None]:
    """Open a capture and find the connection it reads from (None: none found)."""
    with _opening:
        before = _sockets()
        capture = open_capture()
        appeared = {inode: fd for inode, fd in _sockets().items() if inode not in before}
    counted = [ReceivedBytes(fd, inode) for inode, fd in appeared.items()]
    totals = [(received.total() or 0, received) for received in counted]
    busiest = max(totals, key=lambda pair: pair[0], default=(0, None))
    return (capture, busiest[1]) if busiest[0] > 0 else (capture, None)


def _sockets() -> dict[int, int]:
    """This process's sockets: inode to descriptor; empty where /proc is not Linux's."""
    found: dict[int, int] = {}
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return found
    for name in names:
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            found[int(target[len("socket:[") : -1])] = int(name)
    return found


class BitrateMeter:
    """kbit/s received between samples, from a connection's counter, else a stated bitrate."""

    def __init__(self, received: ReceivedBytes | None, stated_kbps: float) -> None:
        self._received = received
        self._stated_kbps = max(stated_kbps, 0.0)
        self._last = (time.monotonic(), received.total() if received else None)

    def sample(self) -> float:
        now = time.monotonic()
        total = self._received.total() if self._received else None
        then, before = self._last
        self._last = (now, total)
        if total is None or before is None or now <= then:
            return self._stated_kbps
        return (total - before) * 8 / 1000 / (now - then)


def camera_time_ns(cv2: Any, capture: Any, now_ns: int) -> int:
    """When the camera took the frame just read, on its clock, in ns since the epoch; 0 when
    unknown (see the module's notes). ``now_ns``: the wall clock (time.time_ns()) now."""
    opened_us = capture.get(cv2.CAP_PROP_STREAM_OPEN_TIME_USEC)
    fps = capture.get(cv2.CAP_PROP_FPS)
    if opened_us <= 0 or fps <= 0:
        return 0
    taken = round(opened_us * 1000 + capture.get(cv2.CAP_PROP_PTS) / fps * 1e9)
    return taken if 0 < taken <= now_ns else 0

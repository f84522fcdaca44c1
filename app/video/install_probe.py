"""Measure one camera stream for a field technician's install check: what the camera sends,
and how steadily, over a timed run.

``measure_stream`` asks an rtsp:// camera first (:mod:`app.video.rtsp_probe`: how long until it
described its stream, or why it would not), then decodes with OpenCV's FFmpeg backend on one
thread and keeps, per frame, only what the checks need: when it arrived, its timestamp and
whether its packet was a key frame. Nothing is converted to BGR (``grab()`` without
``retrieve()``): decoding a 1080p15 stream this way costs about 0.07 of a core here.

What is measured, and from where:

- **connect**: rtsp:// only: TCP connect, OPTIONS and DESCRIBE answered (the probe); for other
  URLs and files, FFmpeg's open.
- **time to first frame**: from the start of FFmpeg's open to the first decoded picture (what a
  viewer waits for: the session set-up and the wait for a key frame).
- **codec, profile, level, declared frame rate**: from the parameter sets FFmpeg hands over as
  extradata (the SDP's sprop-parameter-sets, or the file's avcC/hvcC): the H.264 SPS's
  profile_idc, level_idc and VUI timing (time_scale / 2 num_units_in_tick), the H.265 SPS's
  general profile and level. Without VUI timing: the frame rate FFmpeg states.
- **resolution**: the decoder's picture size.
- **measured frame rate**: live, frames per second of wall time after the first frame; a file,
  frames per second of its own timestamps.
- **bitrate**: live, the bytes the connection received (TCP_INFO, see
  :mod:`app.video.stream_health`) per second; a file, the container's stated bitrate.
- **key frame interval**: the longest time between two frames whose packets FFmpeg marks as key
  frames. One decoding thread keeps the packet just read and the picture just decoded the same
  frame (with FFmpeg's frame threads the flag would be frames late). With fewer than two key
  frames the interval is at least the time since the last one (``keyframe_interval_at_least``).
- **dropped frames**: timestamp gaps of more than 1.5 frame intervals (the median interval, not
  the declared rate: a stream that declares 30 and sends 12 fails the frame rate check, not this
  one) and at most ``JUMP_S``, counted as the frames that would fit in them.
- **timestamp jumps**: a timestamp that goes backwards, repeats, or leaps more than ``JUMP_S``.
- **late frames** (live): frames whose arrival lags their timestamp by more than ``LATE_S``,
  against the earliest arrival seen for the stream's clock since the last (re)connect or jump.
- **stability** (live): disconnects (reconnected within the run) and stalls (no frame for
  ``STALL_S``).

Credentials reach this module only inside connect URLs, from a FeedLease (or the services'
equivalent for an unregistered stream); results, exceptions and log lines carry redacted URLs and
fixed phrases only.
"""

from __future__ import annotations

import itertools
import logging
import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from app.models.stream_url import redact_url
from app.video.decode_process import FILE_PROTOCOLS, NETWORK_PROTOCOLS, capture_options
from app.video.rtsp_probe import ProbeOutcome, ProbeResult, probe_rtsp
from app.video.stream_health import ReceivedBytes, open_counting_bytes

log = logging.getLogger(__name__)

StreamName = Literal["main", "sub"]
SourceKind = Literal["camera", "url", "file"]

OPEN_TIMEOUT_MS = 5000
READ_TIMEOUT_MS = 3000
PROBE_TIMEOUT_S = 3.0
JUMP_S = 1.0
LATE_S = 0.5
STALL_S = 2.0
RECONNECT_PAUSE_S = 0.5
SETTLE_S = 1.0
_options_lock = threading.Lock()


class StreamSource(Protocol):
    """Where a stream's connect URL comes from (a FeedLease, or an unregistered stream)."""

    def connect_url(self, stream: StreamName = "main") -> str: ...


@dataclass
class StreamMeasurement:
    """What one stream showed during a check; None where it was not measured or not applicable.

    ``error`` says why nothing (or not everything) could be measured; ``probe_outcome`` is the
    RTSP probe's classification when the camera refused to describe its stream."""

    stream: StreamName
    address: str  # redacted URL or file path
    duration_s: float  # the stability run asked for
    error: str | None = None
    probe_outcome: ProbeOutcome | None = None
    connect_ms: float | None = None
    time_to_first_frame_ms: float | None = None
    codec: str | None = None
    profile: str | None = None
    level: str | None = None
    width: int | None = None
    height: int | None = None
    fps_declared: float | None = None
    fps_declared_from: str | None = None  # "sps" (VUI timing) or "ffmpeg"
    fps_measured: float | None = None
    bitrate_kbps: float | None = None
    keyframe_interval_s: float | None = None
    keyframe_interval_at_least: bool = False
    keyframes: int = 0
    frames: int = 0
    dropped_frames: int | None = None
    late_frames: int | None = None
    timestamp_jumps: int | None = None
    disconnects: int | None = None
    stalls: int | None = None
    measured_s: float = 0.0  # how long frames were watched
    stopped_early: bool = False  # the lease ended or the check was cancelled


@dataclass
class _Timeline:
    """Per-frame facts of a run: arrival (monotonic s), timestamp (s), key frame or not."""

    arrivals: list[float] = field(default_factory=list)
    stamps: list[float] = field(default_factory=list)
    keys: list[bool] = field(default_factory=list)
    segment_starts: list[int] = field(default_factory=list)  # frame index after each (re)connect

    def add(self, arrival: float, stamp: float, key: bool) -> None:
        self.arrivals.append(arrival)
        self.stamps.append(stamp)
        self.keys.append(key)


def measure_stream(
    source: StreamSource,
    stream: StreamName,
    *,
    duration_s: float,
    should_stop: Callable[[], bool] = lambda: False,
) -> StreamMeasurement:
    """Measure ``stream`` of ``source`` for ``duration_s`` after its first frame (a file: up to
    that much of its own time). Never raises for what the camera, the network or the file does;
    stops early (``stopped_early``) once ``should_stop()`` says so."""
    url = source.connect_url(stream)
    address = _display_address(url)
    measurement = StreamMeasurement(stream=stream, address=address, duration_s=duration_s)
    try:
        _measure(url, measurement, is_file=is_local_file(url), should_stop=should_stop)
    except Exception as exc:  # an OpenCV or parsing bug must not end the whole check
        # No traceback: its text could quote the URL; the type and redacted text suffice.
        log.error(
            "install probe of %s failed: %s: %s", address, type(exc).__name__, redact_url(str(exc))
        )
        measurement.error = "the check of this stream failed unexpectedly (see the log)"
    if measurement.error is not None and should_stop():
        # Cut short while connecting: what went wrong then says nothing about the camera.
        measurement.error, measurement.stopped_early = "stopped before the stream opened", True
    return measurement


def is_local_file(url: str) -> bool:
    """A path, or a file:// URL (a clip an owner sent, or a demo camera's): judged on its own
    timestamps, read at decode speed, not in real time."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return False
    return scheme in ("", "file") or len(scheme) == 1  # one letter: a Windows drive


def _display_address(url: str) -> str:
    try:
        parts = urlsplit(url)
        netloc = parts.netloc.rpartition("@")[2]
        if not parts.scheme or len(parts.scheme) == 1:  # a path, or a Windows drive letter
            return url
        return f"{parts.scheme}://{netloc}{parts.path}"
    except ValueError:
        return "(unparsable address)"


def _measure(
    url: str, result: StreamMeasurement, *, is_file: bool, should_stop: Callable[[], bool]
) -> None:
    scheme = "file" if is_file else urlsplit(url).scheme.lower()
    if scheme == "rtsp":
        probe = _probe(url, should_stop)
        if probe.outcome is not ProbeOutcome.OK:
            result.probe_outcome = probe.outcome
            result.error = _probe_message(probe.outcome, probe.detail)
            return
        result.connect_ms = round(probe.elapsed_s * 1000, 1)
        result.codec = probe.codec
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    import cv2

    protocols = FILE_PROTOCOLS if is_file else NETWORK_PROTOCOLS
    opening = time.monotonic()
    capture, received = _open(cv2, url, protocols)
    if not is_file and not capture.isOpened():
        # A camera may refuse one open (a busy 503, a session torn down by the probe's hang-up)
        # and take the next: retry for the open timeout before calling it unopenable.
        capture.release()
        capture, received = _reopen(
            cv2, url, protocols, opening + OPEN_TIMEOUT_MS / 1000, should_stop
        )
    opened = time.monotonic()
    if result.connect_ms is None:
        result.connect_ms = round((opened - opening) * 1000, 1)
    timeline = _Timeline(segment_starts=[0])
    received_bytes = 0
    try:
        if not capture.isOpened():
            result.error = (
                "FFmpeg could not open the file as a video"
                if is_file
                else "no video stream could be opened at this address"
            )
            return
        if not capture.grab():
            result.error = "the stream opened but delivered no picture"
            return
        first = time.monotonic()
        result.time_to_first_frame_ms = round((first - opening) * 1000, 1)
        _describe(cv2, capture, result)
        timeline.add(first, _stamp_s(cv2, capture), _is_key(cv2, capture))
        # The bitrate counts from the first picture, not the open's analysis of the stream.
        received_bytes = -(received.total() or 0) if received is not None else 0
        if is_file:
            _read_file(cv2, capture, timeline, result.duration_s, should_stop)
            result.bitrate_kbps = round(capture.get(cv2.CAP_PROP_BITRATE), 1) or None
        else:
            capture, received, earlier_bytes = _watch(
                cv2, url, protocols, capture, received, timeline, result, should_stop
            )
            received_bytes += earlier_bytes
            if received is not None:
                received_bytes += received.total() or 0
    finally:
        capture.release()
    result.stopped_early = should_stop()
    _summarise(timeline, result, is_file=is_file, received_bytes=received_bytes)


def _probe(url: str, should_stop: Callable[[], bool]) -> ProbeResult:
    """Probe; a camera that says it is busy (503: some do while they set up or tear down a
    session) is asked again for up to the open timeout."""
    deadline = time.monotonic() + OPEN_TIMEOUT_MS / 1000
    while True:
        probe = probe_rtsp(url, timeout_s=PROBE_TIMEOUT_S)
        if probe.status_code != 503 or should_stop() or time.monotonic() >= deadline:
            return probe
        time.sleep(RECONNECT_PAUSE_S)  # a worker thread, never the UI's


def _probe_message(outcome: ProbeOutcome, detail: str) -> str:
    if outcome is ProbeOutcome.NOT_RTSP:
        return "not an RTSP server at this address (a web page on the RTSP port?)"
    return detail


CAPTURE_OPTIONS_VARIABLE = "OPENCV_FFMPEG_CAPTURE_OPTIONS"


def open_capture(cv2: Any, url: str, protocols: str, *, one_thread: bool) -> Any:
    """An FFmpeg capture of ``url`` that may use only ``protocols`` (TCP for RTSP), with the
    probe's timeouts; ``one_thread`` keeps each packet's key frame flag on its own frame.

    FFmpeg reads its options from the environment at each open: every open of this process that
    sets them goes through here, serialised on one lock, and the process's own value is put back
    so no other open inherits ours."""
    parameters = [
        *(cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, OPEN_TIMEOUT_MS),
        *(cv2.CAP_PROP_READ_TIMEOUT_MSEC, READ_TIMEOUT_MS),
    ]
    if one_thread:
        parameters += [cv2.CAP_PROP_N_THREADS, 1]
    with _options_lock:
        before = os.environ.get(CAPTURE_OPTIONS_VARIABLE)
        os.environ[CAPTURE_OPTIONS_VARIABLE] = capture_options(protocols)
        try:
            return cv2.VideoCapture(url, cv2.CAP_FFMPEG, parameters)
        finally:
            if before is None:
                del os.environ[CAPTURE_OPTIONS_VARIABLE]
            else:
                os.environ[CAPTURE_OPTIONS_VARIABLE] = before


def _open(cv2: Any, url: str, protocols: str) -> tuple[Any, ReceivedBytes | None]:
    return open_counting_bytes(lambda: open_capture(cv2, url, protocols, one_thread=True))


def _stamp_s(cv2: Any, capture: Any) -> float:
    return float(capture.get(cv2.CAP_PROP_POS_MSEC)) / 1000


def _is_key(cv2: Any, capture: Any) -> bool:
    return bool(capture.get(cv2.CAP_PROP_LRF_HAS_KEY_FRAME))


def _read_file(
    cv2: Any,
    capture: Any,
    timeline: _Timeline,
    duration_s: float,
    should_stop: Callable[[], bool],
) -> None:
    start = timeline.stamps[0]
    while not should_stop() and timeline.stamps[-1] - start < duration_s and capture.grab():
        timeline.add(time.monotonic(), _stamp_s(cv2, capture), _is_key(cv2, capture))


def _watch(
    cv2: Any,
    url: str,
    protocols: str,
    capture: Any,
    received: ReceivedBytes | None,
    timeline: _Timeline,
    result: StreamMeasurement,
    should_stop: Callable[[], bool],
) -> tuple[Any, ReceivedBytes | None, int]:
    """Read frames until the run's end; reconnect when the camera drops the connection.
    Returns the capture then open, its byte counter, and the bytes of earlier connections."""
    deadline = timeline.arrivals[0] + result.duration_s
    disconnects = 0
    earlier_bytes = 0
    while not should_stop() and time.monotonic() < deadline:
        if capture.grab():
            timeline.add(time.monotonic(), _stamp_s(cv2, capture), _is_key(cv2, capture))
            continue
        disconnects += 1
        if received is not None:
            earlier_bytes += received.total() or 0
        capture.release()
        capture, received = _reopen(cv2, url, protocols, deadline, should_stop)
        timeline.segment_starts.append(len(timeline.arrivals))
    result.disconnects = disconnects
    return capture, received, earlier_bytes


def _reopen(
    cv2: Any, url: str, protocols: str, deadline: float, should_stop: Callable[[], bool]
) -> tuple[Any, ReceivedBytes | None]:
    """Open again, pausing between tries, until it works or the run is over (the last capture
    is returned either way; an unopened one fails its next grab at once)."""
    while True:
        capture, received = _open(cv2, url, protocols)
        if capture.isOpened() or should_stop() or time.monotonic() >= deadline:
            return capture, received
        capture.release()
        time.sleep(RECONNECT_PAUSE_S)  # a worker thread, never the UI's


def _describe(cv2: Any, capture: Any, result: StreamMeasurement) -> None:
    result.width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)) or None
    result.height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) or None
    tag = int(capture.get(cv2.CAP_PROP_FOURCC)) & 0xFFFFFFFF
    fourcc = tag.to_bytes(4, "little").decode("latin-1").strip("\0 ").lower()
    result.codec = _CODEC_OF_FOURCC.get(fourcc, fourcc or None) or result.codec
    parameters = parameter_sets(_extradata(cv2, capture))
    facts = stream_facts(parameters, result.codec)
    result.profile, result.level = facts.profile, facts.level
    if facts.fps is not None:
        result.fps_declared, result.fps_declared_from = round(facts.fps, 3), "sps"
    else:
        stated = float(capture.get(cv2.CAP_PROP_FPS))
        if stated > 0:
            result.fps_declared, result.fps_declared_from = round(stated, 3), "ffmpeg"


_CODEC_OF_FOURCC = {
    **{"h264": "h264", "avc1": "h264", "hevc": "h265", "hev1": "h265", "hvc1": "h265"},
    **{"fmp4": "mpeg4", "mp4v": "mpeg4", "xvid": "mpeg4", "mjpg": "mjpeg", "jpeg": "mjpeg"},
}


def _extradata(cv2: Any, capture: Any) -> bytes:
    index = int(capture.get(cv2.CAP_PROP_CODEC_EXTRADATA_INDEX))
    if index <= 0:
        return b""
    ok, data = capture.retrieve(flag=index)
    return bytes(data.ravel()) if ok and data is not None else b""


def _summarise(
    timeline: _Timeline, result: StreamMeasurement, *, is_file: bool, received_bytes: int
) -> None:
    arrivals, stamps = timeline.arrivals, timeline.stamps
    result.frames = len(arrivals)
    if not arrivals:
        return
    live = not is_file
    span = (arrivals[-1] - arrivals[0]) if live else (stamps[-1] - stamps[0])
    result.measured_s = round(span, 3)
    result.fps_measured = _frame_rate(
        arrivals if live else stamps, settle_s=SETTLE_S if live else 0
    )
    if live and result.measured_s > 0 and received_bytes > 0:
        result.bitrate_kbps = round(received_bytes * 8 / 1000 / result.measured_s, 1)
    counts = _timing_faults(timeline, live=live)
    _keyframe_interval(timeline, counts.restarts, result)
    result.dropped_frames, result.timestamp_jumps = counts.dropped, counts.jumps
    if live:
        result.late_frames, result.stalls = counts.late, counts.stalls


def _keyframe_interval(timeline: _Timeline, restarts: list[int], result: StreamMeasurement) -> None:
    """The longest key frame interval on the stream's own clock, between its restarts."""
    stamps, keys = timeline.stamps, timeline.keys
    bounds = [*restarts, len(stamps)]
    intervals: list[float] = []
    since_last = 0.0
    for start, end in itertools.pairwise(bounds):
        if start >= end:
            continue
        key_stamps = [stamps[i] for i in range(start, end) if keys[i]]
        result.keyframes += len(key_stamps)
        intervals += [b - a for a, b in itertools.pairwise(key_stamps)]
        since_last = stamps[end - 1] - (key_stamps[-1] if key_stamps else stamps[start])
    if intervals and max(intervals) >= since_last:
        result.keyframe_interval_s = round(max(intervals), 3)
    elif since_last > 0:
        # No second key frame, or the last one is older than any interval seen: at least that.
        result.keyframe_interval_s = round(since_last, 3)
        result.keyframe_interval_at_least = True


def _frame_rate(times: list[float], settle_s: float) -> float | None:
    """Frames per second over ``times``, leaving out the first ``settle_s`` when the run is long
    enough: FFmpeg hands the frames it buffered while opening over in a burst."""
    if len(times) < 2:
        return None
    start = times[0]
    if times[-1] - start > 2 * settle_s:
        start = next(moment for moment in times if moment - times[0] >= settle_s)
    frames = sum(1 for moment in times if moment >= start)
    span = times[-1] - start
    return round((frames - 1) / span, 2) if span > 0 and frames > 1 else None


@dataclass
class _Faults:
    dropped: int = 0
    jumps: int = 0
    late: int = 0
    stalls: int = 0
    restarts: list[int] = field(default_factory=list)  # where the stream's clock starts over


def _timing_faults(timeline: _Timeline, *, live: bool) -> _Faults:
    """Count the faults; a live stream's first ``SETTLE_S`` after each (re)connect may restart
    its clock once without a jump counted: FFmpeg rebases an RTSP stream's timestamps after
    the frames it read while opening (seen as 0, 67, 133, 200, then 0 ms again on the test
    server)."""
    faults = _Faults(restarts=[0])
    stamps, arrivals = timeline.stamps, timeline.arrivals
    steps = [
        stamps[i] - stamps[i - 1]
        for i in range(1, len(stamps))
        if i not in timeline.segment_starts and stamps[i] > stamps[i - 1]
    ]
    if not steps:
        return faults
    interval = statistics.median(steps)
    jump = max(JUMP_S, 10 * interval)
    earliest: float | None = None  # the smallest arrival lag behind the stream's clock so far
    connected = arrivals[0]
    settling = live
    for i in range(len(stamps)):
        new_segment = i in timeline.segment_starts
        if new_segment:
            connected, settling = arrivals[i], live
            if i:
                faults.restarts.append(i)
        else:
            step = stamps[i] - stamps[i - 1]
            if step <= 0 or step > jump:
                if not (settling and arrivals[i] - connected < SETTLE_S):
                    faults.jumps += 1
                settling = False
                faults.restarts.append(i)
                new_segment = True
            elif step > 1.5 * interval:
                faults.dropped += round(step / interval) - 1
            if live and arrivals[i] - arrivals[i - 1] > STALL_S:
                faults.stalls += 1
        if not live:
            continue
        lag = arrivals[i] - stamps[i]
        if new_segment or earliest is None:
            earliest = lag
        elif lag - earliest > LATE_S:
            faults.late += 1
        else:
            earliest = min(earliest, lag)
    return faults


# --- parameter sets -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamFacts:
    """What a stream's parameter sets declare."""

    profile: str | None = None
    level: str | None = None
    fps: float | None = None


_H264_PROFILES = {
    66: "Baseline",
    77: "Main",
    88: "Extended",
    100: "High",
    110: "High 10",
    122: "High 4:2:2",
    244: "High 4:4:4 Predictive",
}
_H265_PROFILES = {1: "Main", 2: "Main 10", 3: "Main Still Picture", 4: "Range Extensions"}
_H264_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})


def parameter_sets(extradata: bytes) -> list[bytes]:
    """The NAL units of FFmpeg's extradata: Annex B (start codes, as from an SDP), an avcC or
    an hvcC record (as from an MP4)."""
    if not extradata:
        return []
    if extradata.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01")):
        return [unit for unit in _split_annex_b(extradata) if unit]
    if extradata[0] == 1 and len(extradata) > 22 and _looks_like_hvcc(extradata):
        return _units_of_hvcc(extradata)
    if extradata[0] == 1 and len(extradata) > 6:
        return _units_of_avcc(extradata)
    return []


def _split_annex_b(data: bytes) -> list[bytes]:
    units: list[bytes] = []
    start = data.find(b"\x00\x00\x01")
    while start >= 0:
        begin = start + 3
        end = data.find(b"\x00\x00\x01", begin)
        unit = data[begin:] if end < 0 else data[begin:end]
        units.append(unit.rstrip(b"\x00"))
        start = end
    return units


def _looks_like_hvcc(data: bytes) -> bool:
    # An hvcC's byte 1 holds profile space, tier and profile (<= 0x1F without a profile space);
    # an avcC's is profile_idc (66 and up). Its array count sits at byte 22.
    return data[1] < 0x40


def _units_of_avcc(data: bytes) -> list[bytes]:
    units: list[bytes] = []
    position = 5
    for kind in ("sps", "pps"):
        if position >= len(data):
            break
        count = data[position] & (0x1F if kind == "sps" else 0xFF)
        position += 1
        for _ in range(count):
            size = int.from_bytes(data[position : position + 2], "big")
            units.append(data[position + 2 : position + 2 + size])
            position += 2 + size
    return units


def _units_of_hvcc(data: bytes) -> list[bytes]:
    units: list[bytes] = []
    arrays, position = data[22], 23
    for _ in range(arrays):
        count = int.from_bytes(data[position + 1 : position + 3], "big")
        position += 3
        for _ in range(count):
            size = int.from_bytes(data[position : position + 2], "big")
            units.append(data[position + 2 : position + 2 + size])
            position += 2 + size
    return units


def stream_facts(units: list[bytes], codec: str | None) -> StreamFacts:
    """Profile, level and declared frame rate from the first sequence parameter set."""
    for unit in units:
        try:
            if codec == "h264" and unit and unit[0] & 0x1F == 7:
                return _h264_sps(unit)
            if codec == "h265" and len(unit) > 2 and (unit[0] >> 1) & 0x3F == 33:
                return _h265_sps(unit)
        except IndexError:  # a truncated SPS: say nothing rather than something wrong
            return StreamFacts()
    return StreamFacts()


class _Bits:
    """An RBSP bit reader (emulation prevention bytes removed) with Exp-Golomb codes."""

    def __init__(self, payload: bytes) -> None:
        data = bytearray()
        zeros = 0
        for byte in payload:
            if zeros >= 2 and byte == 3:
                zeros = 0
                continue
            data.append(byte)
            zeros = zeros + 1 if byte == 0 else 0
        self._data = bytes(data)
        self._position = 0

    def u(self, count: int) -> int:
        value = 0
        for _ in range(count):
            byte = self._data[self._position >> 3]
            value = (value << 1) | ((byte >> (7 - (self._position & 7))) & 1)
            self._position += 1
        return value

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise IndexError("Exp-Golomb code too long")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        code = self.ue()
        return (code + 1) // 2 if code & 1 else -(code // 2)


def _h264_sps(unit: bytes) -> StreamFacts:
    """ITU-T H.264 7.3.2.1.1, as far as the VUI's timing info (E.1.1)."""
    bits = _Bits(unit[1:])
    profile_idc = bits.u(8)
    constraints = bits.u(8)
    level_idc = bits.u(8)
    profile = _H264_PROFILES.get(profile_idc, f"profile {profile_idc}")
    if profile_idc == 66 and constraints & 0x40:
        profile = "Constrained Baseline"
    level = f"{level_idc // 10}.{level_idc % 10}"
    bits.ue()  # seq_parameter_set_id
    if profile_idc in _H264_HIGH_PROFILES:
        chroma_format_idc = bits.ue()
        if chroma_format_idc == 3:
            bits.u(1)
        bits.ue()
        bits.ue()
        bits.u(1)
        if bits.u(1):  # seq_scaling_matrix_present_flag
            for index in range(8 if chroma_format_idc != 3 else 12):
                if bits.u(1):
                    _skip_scaling_list(bits, 16 if index < 6 else 64)
    bits.ue()  # log2_max_frame_num_minus4
    order_type = bits.ue()
    if order_type == 0:
        bits.ue()
    elif order_type == 1:
        bits.u(1)
        bits.se()
        bits.se()
        for _ in range(bits.ue()):
            bits.se()
    bits.ue()  # max_num_ref_frames
    bits.u(1)
    bits.ue()  # pic_width_in_mbs_minus1
    bits.ue()  # pic_height_in_map_units_minus1
    if not bits.u(1):  # frame_mbs_only_flag
        bits.u(1)
    bits.u(1)
    if bits.u(1):  # frame_cropping_flag
        for _ in range(4):
            bits.ue()
    fps = None
    if bits.u(1):  # vui_parameters_present_flag
        fps = _vui_frame_rate(bits)
    return StreamFacts(profile, level, fps)


def _skip_scaling_list(bits: _Bits, size: int) -> None:
    last = following = 8
    for _ in range(size):
        if following:
            following = (last + bits.se() + 256) % 256
        last = following or last


def _vui_frame_rate(bits: _Bits) -> float | None:
    if bits.u(1) and bits.u(8) == 255:  # aspect_ratio_info_present_flag, Extended_SAR
        bits.u(32)
    if bits.u(1):  # overscan_info_present_flag
        bits.u(1)
    if bits.u(1):  # video_signal_type_present_flag
        bits.u(4)
        if bits.u(1):
            bits.u(24)
    if bits.u(1):  # chroma_loc_info_present_flag
        bits.ue()
        bits.ue()
    if not bits.u(1):  # timing_info_present_flag
        return None
    units_in_tick, time_scale = bits.u(32), bits.u(32)
    if units_in_tick == 0 or time_scale == 0:
        return None
    return time_scale / (2 * units_in_tick)  # a frame is two fields' ticks (E.2.1)


def _h265_sps(unit: bytes) -> StreamFacts:
    """ITU-T H.265 7.3.2.2: the general profile and level of profile_tier_level."""
    bits = _Bits(unit[2:])
    bits.u(4)  # sps_video_parameter_set_id
    bits.u(3)  # sps_max_sub_layers_minus1
    bits.u(1)
    bits.u(2)  # general_profile_space
    bits.u(1)  # general_tier_flag
    profile_idc = bits.u(5)
    bits.u(32)  # compatibility flags
    bits.u(48)  # constraint flags
    level_idc = bits.u(8)
    profile = _H265_PROFILES.get(profile_idc, f"profile {profile_idc}")
    return StreamFacts(profile, f"{level_idc // 30}.{level_idc % 30 // 3}", None)


__all__ = [
    "SourceKind",
    "StreamFacts",
    "StreamMeasurement",
    "StreamName",
    "StreamSource",
    "is_local_file",
    "measure_stream",
    "parameter_sets",
    "stream_facts",
]

"""The decode process: one thread per feed, frames out through shared memory.

Runs in a child process so that a stream that crashes FFmpeg takes down only this process (the
supervisor restarts it). FFmpeg may use only the protocols the process was started for
(``protocol_whitelist``): a network decoder never reads ``file:``, a file decoder never dials out.
Each capture decodes on one thread (``CAP_PROP_N_THREADS=1``): with a thread per feed that is
the cheapest use of the cores, measured at about 94 % of ``ffmpeg -threads 1``'s throughput.

Before each open of an rtsp:// URL the feed asks the camera itself (:mod:`app.video.rtsp_probe`):
FFmpeg says only "failed", and OpenCV opens one stream at a time per process, so a camera that
is dead, silent or not RTSP at all is retried at the backoff without FFmpeg, the tile says why,
and a wrong password stops the feed (retrying it can lock the camera's account).

Each feed also keeps the last seconds it showed for export as an evidence clip
(:mod:`app.video.clip_buffer`), and measures its stream's health once a second: bitrate received
and latency behind the camera's clock (:mod:`app.video.stream_health`). A stream whose codec
this FFmpeg cannot decode stops at "stream lost: unsupported codec (...)": retrying cannot help
until someone changes the camera or the file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import threading
import time
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import urlsplit

from app.models.camera import PrivacyMask
from app.models.stream_url import redact_url
from app.video.clip_buffer import BufferedFrame, ClipBuffer, ClipWriteError, write_mp4
from app.video.feed_state import (
    ClipWritten,
    CloseFeed,
    DecoderCommand,
    DecoderReport,
    ExportClip,
    FeedReport,
    FeedState,
    FeedStatus,
    OpenFeed,
    PauseFeed,
    ResizeFeed,
)
from app.video.frame_exchange import FrameExchange
from app.video.rtsp_probe import ProbeOutcome, ProbeResult, probe_rtsp
from app.video.scaling import fit_within
from app.video.stream_health import (
    BitrateMeter,
    ReceivedBytes,
    camera_time_ns,
    open_counting_bytes,
)

log = logging.getLogger(__name__)

NETWORK_PROTOCOLS = "rtsp,rtsps,rtp,srtp,udp,tcp,tls,http,https,httpproxy"
FILE_PROTOCOLS = "file"
OPEN_TIMEOUT_MS = 5000
READ_TIMEOUT_MS = 5000
DECODER_NICENESS = 10
# Codecs the wheel's FFmpeg decodes, as FFmpeg names them in a four-character code or an RTSP
# camera's SDP: a failed open of one of these is never taken for an unsupported codec.
DECODABLE_CODECS = frozenset(
    {"h264", "avc1", "h265", "hevc", "hvc1", "hev1", "mjpg", "jpeg", "mp4v", "xvid", "divx"}
    | {"fmp4", "vp80", "vp90", "vp8", "vp9", "av01", "mpg1", "mpg2", "mpeg"}
)
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
PROBE_TIMEOUT_S = 3.0
NO_CLIP = "this feed keeps no clip"
# Probe outcomes after which an FFmpeg open cannot succeed: retried at the backoff, without cv2.
_DEAD_ENDS = frozenset(
    {
        ProbeOutcome.NOT_FOUND,
        ProbeOutcome.REFUSED,
        ProbeOutcome.UNREACHABLE,
        ProbeOutcome.NO_ANSWER,
        ProbeOutcome.NOT_RTSP,
    }
)


def codec_to_blame(fourcc_tag: int, sdp_codec: str | None, url: str) -> str | None:
    """After a decoding open failed and a non-decoding open worked: the codec to name as
    unsupported ("" when it has no name), or None when the failure was something else.

    A codec this FFmpeg decodes is never blamed (a camera answering 503 to one open and not to
    the next would otherwise end its feed for good), nor, on a network stream, a codec with no
    name; a local file fails the same way every time, so there it is the codec.
    """
    fourcc = (fourcc_tag & 0xFFFFFFFF).to_bytes(4, "little").decode("latin-1").strip("\0 ")
    codec = fourcc if fourcc.isalnum() else (sdp_codec or "")
    if codec.lower() in DECODABLE_CODECS:
        return None
    if not codec and urlsplit(url).scheme.lower() != "file":
        return None
    return codec


def capture_options(protocols: str) -> str:
    """The OPENCV_FFMPEG_CAPTURE_OPTIONS of a decode process allowed ``protocols``.

    RTSP over TCP: over UDP, 16 decoding clients lost packets on loopback already. A short
    stream analysis: OpenCV opens one stream at a time per process, and FFmpeg's default
    analysis took 1.9 s of that per open against 0.2 s.
    """
    return f"rtsp_transport;tcp|analyzeduration;200000|protocol_whitelist;{protocols}"


def backoff_delay(attempt: int, rng: random.Random) -> float:
    """Exponential backoff with full jitter, capped: attempt 1 waits up to 0.5 s."""
    ceiling = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (attempt - 1))
    return rng.uniform(ceiling / 2, ceiling)


class _Reporter:
    """Reports from many feed threads over one pipe (a Connection is not thread-safe)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._lock = threading.Lock()

    def __call__(self, feed_id: str, state: FeedState) -> None:
        self.send(FeedReport(feed_id, state))

    def send(self, report: DecoderReport) -> None:
        # If the supervisor is gone, the main loop ends this process.
        with self._lock, contextlib.suppress(BrokenPipeError, OSError):
            self._connection.send(report)


class _Feed:
    def __init__(
        self,
        command: OpenFeed,
        report: _Reporter,
        cv2: Any,
        may_probe: bool = True,
        clip_buffer: ClipBuffer | None = None,
    ) -> None:
        """``clip_buffer``: the buffer of the feed this one replaces (another stream of the same
        camera), so that switching streams keeps what was shown."""
        self.command = command
        self._may_probe = may_probe  # False where the process may not dial out over RTSP
        self._cv2 = cv2
        self._report = report
        self.clip_buffer = _clip_buffer_for(command, cv2, clip_buffer)
        self._exchange = FrameExchange.attach(
            command.exchange_name, command.max_width, command.max_height
        )
        self._size = (command.width, command.height)
        self._masks = command.masks
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._rng = random.Random()
        self._thread = threading.Thread(target=self._run, name=f"feed-{command.feed_id}")

    def start(self) -> None:
        self._thread.start()

    def resize(self, width: int, height: int) -> None:
        self._size = (width, height)

    def pause(self, paused: bool) -> None:
        if paused:
            self._running.clear()
        else:
            self._running.set()

    def request_stop(self) -> None:
        """Ask the feed to stop; it releases its decoder as soon as FFmpeg returns."""
        self._stop.set()
        self._running.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def export_clip(self, command: ExportClip) -> None:
        """Answer with the clip buffer written to ``command.path``, from a thread of its own:
        30 s of 640x360 take about a second to write, which decoding must not wait for."""
        buffer = self.clip_buffer
        if buffer is None:
            self._report.send(ClipWritten(command.feed_id, command.request_id, error=NO_CLIP))
            return
        frames = buffer.frames(time.monotonic_ns())
        if not frames:
            error = (
                f"nothing to save: the feed has shown no picture in the last {buffer.seconds:g} s"
            )
            self._report.send(ClipWritten(command.feed_id, command.request_id, error=error))
            return
        threading.Thread(
            target=self._write_clip,
            args=(command, frames),
            name=f"clip-{command.feed_id}",
            daemon=True,
        ).start()

    def _write_clip(self, command: ExportClip, frames: list[BufferedFrame]) -> None:
        feed_id, request_id = command.feed_id, command.request_id
        try:
            clip = write_mp4(self._cv2, frames, command.path)
        except ClipWriteError as exc:
            answer = ClipWritten(feed_id, request_id, error=str(exc))
        except self._cv2.error as exc:
            log.error("feed %s: clip not written: %s", feed_id, exc)
            answer = ClipWritten(feed_id, request_id, error="the MP4 file could not be written")
        else:
            answer = ClipWritten(
                feed_id, request_id, clip.frames, clip.seconds, clip.width, clip.height
            )
        self._report.send(answer)

    def _state(self, status: FeedStatus, detail: str = "", **values: Any) -> None:
        self._report(self.command.feed_id, FeedState(status, redact_url(detail), **values))

    def _run(self) -> None:
        try:
            self._reconnect_loop()
        finally:
            self._exchange.close()

    def _reconnect_loop(self) -> None:
        cv2 = self._cv2
        attempt = 0
        reconnects = 0
        was_live = False
        why = ""  # why the last attempt failed, in the operator's words
        while not self._stop.is_set():
            if attempt:
                status = FeedStatus.RECONNECTING if was_live else FeedStatus.STREAM_LOST
                detail = why or ("" if was_live else "cannot connect; retrying")
                self._state(status, detail, attempt=attempt, reconnects=reconnects)
                if self._stop.wait(backoff_delay(attempt, self._rng)):
                    break
            else:
                self._state(FeedStatus.CONNECTING)
            probe = self._probe()
            if probe is not None and probe.outcome is ProbeOutcome.AUTH_FAILED:
                # Retrying a wrong password can lock the camera's account: stop here until
                # the operator fixes the credentials (a new OpenFeed starts over).
                self._state(FeedStatus.AUTH_FAILED, probe.detail, reconnects=reconnects)
                return
            if probe is not None and probe.outcome in _DEAD_ENDS:
                # Not worth an FFmpeg open, which would hold OpenCV's open lock meanwhile.
                why = probe.detail
                attempt += 1
                continue
            why = probe.detail if probe is not None and probe.outcome is ProbeOutcome.OTHER else ""
            opening = time.monotonic()
            capture, received = open_counting_bytes(
                lambda: cv2.VideoCapture(
                    self.command.url,
                    cv2.CAP_FFMPEG,
                    [
                        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
                        OPEN_TIMEOUT_MS,
                        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                        READ_TIMEOUT_MS,
                        cv2.CAP_PROP_N_THREADS,
                        1,
                    ],
                )
            )
            try:
                if not capture.isOpened():
                    codec = self._unsupported_codec(probe, time.monotonic() - opening)
                    if codec is not None:
                        detail = f"unsupported codec ({codec})" if codec else "unsupported codec"
                        self._state(FeedStatus.STREAM_LOST, detail, reconnects=reconnects)
                        return
                delivered = self._decode(capture, received, reconnects + int(was_live))
            except cv2.error as exc:
                log.warning(
                    "feed %s: decoder error: %s", self.command.feed_id, redact_url(str(exc))
                )
                delivered = False
            finally:
                capture.release()
            if delivered:
                if was_live:
                    reconnects += 1
                was_live = True
                attempt = 1
            else:
                attempt += 1

    def _unsupported_codec(self, probe: ProbeResult | None, open_took_s: float) -> str | None:
        """After a failed open: the stream's codec if the stream opens when not decoded (so the
        decoder is what is missing): its four-character code, else the camera's SDP name, else
        "". None if it does not open that way either, or if the open timed out (a second open
        would wait as long again, holding every other open of this process)."""
        cv2 = self._cv2
        if open_took_s >= OPEN_TIMEOUT_MS / 1000 * 0.9:
            return None
        # Opened as the feeds open (one at a time), so that no feed counts this socket as its own.
        raw, _ = open_counting_bytes(
            lambda: cv2.VideoCapture(
                self.command.url,
                cv2.CAP_FFMPEG,
                [cv2.CAP_PROP_FORMAT, -1, cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, OPEN_TIMEOUT_MS],
            )
        )
        try:
            if not raw.isOpened():
                return None
            tag = int(raw.get(cv2.CAP_PROP_FOURCC))
        finally:
            raw.release()
        return codec_to_blame(tag, probe.codec if probe is not None else None, self.command.url)

    def _probe(self) -> ProbeResult | None:
        """Ask an rtsp:// camera first (credentials from the URL); None for other schemes."""
        if not self._may_probe or urlsplit(self.command.url).scheme.lower() != "rtsp":
            return None
        try:
            result = probe_rtsp(self.command.url, timeout_s=PROBE_TIMEOUT_S)
        except Exception as exc:  # a probe bug must not end the feed: let FFmpeg decide
            # No traceback: its last line is the exception's text, which could hold the URL.
            log.error(
                "feed %s: probe failed: %s: %s",
                self.command.feed_id,
                type(exc).__name__,
                redact_url(str(exc)),
            )
            return None
        if result.outcome is not ProbeOutcome.OK:
            log.info(
                "feed %s: probe: %s (%.2f s)",
                self.command.feed_id,
                result.detail,
                result.elapsed_s,
            )
        return result

    def _decode(self, capture: Any, received: ReceivedBytes | None, reconnects: int) -> bool:
        """Read until the stream ends or the feed stops; True if any frame was delivered."""
        cv2 = self._cv2
        if not capture.isOpened():
            return False
        bitrate = BitrateMeter(received, capture.get(cv2.CAP_PROP_BITRATE))
        bitrate_kbps = 0.0  # unknown until a second has been measured
        pace = 0.0
        if self.command.realtime_file:
            fps = capture.get(cv2.CAP_PROP_FPS)
            pace = 1.0 / fps if fps and 1 <= fps <= 120 else 1.0 / 15
        delivered = False
        number = 0
        next_due = time.monotonic()
        window_start, window_frames, fps_measured = time.monotonic(), 0, 0.0
        image = None  # reused by each read: a fresh 6 MB array per 1080p frame cost 0.2-0.7 ms
        while not self._stop.is_set():
            if not self._running.is_set():
                self._running.wait()
                next_due = time.monotonic()
                continue
            ok, image = capture.read(image)
            if not ok:
                if self.command.realtime_file and delivered:
                    capture.set(cv2.CAP_PROP_POS_FRAMES, 0)  # loop the clip
                    ok, image = capture.read(image)
                if not ok:
                    return delivered
            number += 1
            height, width = image.shape[:2]
            shown = self._fit(image)
            wall_clock_ns = time.time_ns()
            taken_ns = camera_time_ns(cv2, capture, wall_clock_ns)
            shown_at_ns = time.monotonic_ns()
            bgrx = cv2.cvtColor(shown, cv2.COLOR_BGR2BGRA)  # see frame_exchange
            self._exchange.write(bgrx, number, shown_at_ns, taken_ns)
            if self.clip_buffer is not None:
                self.clip_buffer.add(shown, shown_at_ns)
            window_frames += 1
            now = time.monotonic()
            if now - window_start >= 1.0:
                fps_measured = window_frames / (now - window_start)
                bitrate_kbps = bitrate.sample()
                window_start, window_frames = now, 0
            if not delivered or window_frames == 0:
                delivered = True
                self._state(
                    FeedStatus.LIVE,
                    reconnects=reconnects,
                    width=width,
                    height=height,
                    fps=round(fps_measured, 1),
                    bitrate_kbps=round(bitrate_kbps, 1),
                    latency_ms=round((wall_clock_ns - taken_ns) / 1e6, 1) if taken_ns else None,
                )
            if pace:
                next_due += pace
                delay = next_due - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    break
                if delay < -1.0:
                    next_due = time.monotonic()
        return delivered

    def _fit(self, image: Any) -> Any:
        """Scale into the tile's size (keeping the aspect ratio) and black out privacy masks;
        BGR, as shown (the picture the clip buffer keeps)."""
        cv2 = self._cv2
        box = (
            min(self._size[0], self.command.max_width),
            min(self._size[1], self.command.max_height),
        )
        image = fit_within(cv2, image, box)
        if self._masks:
            apply_privacy_masks(cv2, image, self._masks)
        return image


def _clip_buffer_for(command: OpenFeed, cv2: Any, previous: ClipBuffer | None) -> ClipBuffer | None:
    if command.clip_seconds <= 0:
        return None
    if previous is None:
        return ClipBuffer(cv2, command.clip_seconds)
    previous.seconds = command.clip_seconds
    return previous


def apply_privacy_masks(cv2: Any, image: Any, masks: list[PrivacyMask]) -> None:
    """Black out each polygon (normalised image coordinates) in place.

    One fill per polygon: OpenCV fills the polygons of one call even-odd together, which left
    where two masks overlap unmasked (the share is measured the same way, in
    ``app.models.privacy_coverage``)."""
    import numpy as np

    height, width = image.shape[:2]
    for mask in masks:
        polygon = [[round(x * (width - 1)), round(y * (height - 1))] for x, y in mask]
        cv2.fillPoly(image, [np.array(polygon, np.int32)], (0, 0, 0))


def decode_main(commands: Connection, reports: Connection, protocols: str) -> None:
    """Entry point of a decode process: obey commands until told to stop or orphaned."""
    # Decoding yields to the UI: with a thread per feed at the UI's priority, 16 busy decoders
    # left the console's UI thread waiting for a core (stalls of 120 ms, p99).
    os.nice(DECODER_NICENESS)
    os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = capture_options(protocols)
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    import cv2  # after the options: FFmpeg reads them at each open

    # A thread per feed already keeps the cores busy: OpenCV's own pool splitting each resize
    # over them only hands work to threads that are busy too (25 streams fitted to tiles in
    # bench.opencv_reference's layout: slowest 14.35 frames/s against 13.9 with the pool).
    cv2.setNumThreads(1)

    report = _Reporter(reports)
    may_probe = "rtsp" in protocols.split(",")
    feeds: dict[str, _Feed] = {}
    try:
        while True:
            try:
                command: DecoderCommand | None = commands.recv()
            except (EOFError, OSError):
                break  # the supervisor is gone
            if command is None:
                break
            feed = feeds.get(command.feed_id)
            if isinstance(command, OpenFeed):
                kept = None
                if feed is not None:
                    feed.request_stop()
                    kept = feed.clip_buffer
                feeds[command.feed_id] = _Feed(command, report, cv2, may_probe, kept)
                feeds[command.feed_id].start()
            elif feed is None:
                if isinstance(command, ExportClip):  # the parent waits for an answer
                    closed = ClipWritten(
                        command.feed_id, command.request_id, error="the feed is closed"
                    )
                    report.send(closed)
                continue
            elif isinstance(command, ResizeFeed):
                feed.resize(command.width, command.height)
            elif isinstance(command, PauseFeed):
                feed.pause(command.paused)
            elif isinstance(command, CloseFeed):
                feeds.pop(command.feed_id).request_stop()
            elif isinstance(command, ExportClip):
                feed.export_clip(command)
    finally:
        for feed in feeds.values():
            feed.request_stop()
        for feed in feeds.values():
            feed.join(READ_TIMEOUT_MS / 1000 + 1)

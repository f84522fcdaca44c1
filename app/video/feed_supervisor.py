"""The parent side of decoding: leases in, decode processes managed, frames and states out.

``FeedSupervisor.open`` takes a FeedLease (never a URL) and returns a FeedHandle, which the
video wall polls at display rate for the newest frame and the state to show. Feeds are spread
over network decode processes; local files (demo clips, owners' clips) go to a process of their
own that may read files and nothing else. A watchdog thread restarts a decode process that dies
(FFmpeg crash, SIGKILL) and reopens its feeds, so only their tiles blink while the rest of the
wall runs on. A lease that ends stops its feed, and the tile says why.

``FeedHandle.export_clip`` asks the feed's decode process to write the last seconds it showed
as an MP4 and waits for the answer, which the watchdog routes back to the waiting thread.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from urllib.parse import urlsplit

from app.services.policy_gate import FeedLease, LeaseEndedError, Stream
from app.video.decode_process import FILE_PROTOCOLS, NETWORK_PROTOCOLS, decode_main
from app.video.feed_state import (
    ClipWritten,
    CloseFeed,
    DecoderCommand,
    DecoderReport,
    ExportClip,
    FeedState,
    FeedStatus,
    OpenFeed,
    PauseFeed,
    ResizeFeed,
)
from app.video.frame_exchange import Frame, FrameExchange

log = logging.getLogger(__name__)

MAX_WIDTH, MAX_HEIGHT = 1920, 1080
DEFAULT_CLIP_SECONDS = 30  # as EvidenceSettings.clip_seconds


class ClipExportError(Exception):
    """No clip was exported; the message says why, in the operator's words."""


@dataclass(eq=False)
class _ClipRequest:
    """An ExportClip waiting for its ClipWritten (or for the reason it will never come)."""

    decoder: _Decoder
    answered: threading.Event = field(default_factory=threading.Event)
    answer: ClipWritten | None = None
    failure: str = ""

    def fail(self, why: str) -> None:
        self.failure = why
        self.answered.set()


class _Decoder:
    """One decode process and its two pipes."""

    def __init__(self, protocols: str) -> None:
        self.protocols = protocols
        context = multiprocessing.get_context("spawn")  # never fork a process that runs Qt
        self.commands, child_commands = context.Pipe(duplex=False)[::-1]
        parent_reports, child_reports = context.Pipe(duplex=False)
        self.reports: Connection = parent_reports
        self.process: BaseProcess = context.Process(
            target=decode_main,
            args=(child_commands, child_reports, protocols),
            name=f"beacon-decoder-{protocols.split(',', maxsplit=1)[0]}",
            daemon=True,
        )
        self.process.start()
        child_commands.close()
        child_reports.close()
        self.feeds: set[str] = set()
        # A decoder that never had a feed holds nothing (no frames, no clip being written).
        self.ever_used = False
        self._lock = threading.Lock()

    def send(self, command: DecoderCommand | None) -> bool:
        with self._lock:
            try:
                self.commands.send(command)
            except (BrokenPipeError, OSError):
                return False  # died; the watchdog restarts it
            return True

    def stop(self, timeout: float = 10.0) -> None:
        if not self.ever_used:
            # Still importing OpenCV at a low priority, perhaps: nothing to wait for.
            timeout = 0.0
        self.send(None)
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(2)
        self.commands.close()
        self.reports.close()


@dataclass
class FeedHandle:
    """One open feed as the wall sees it."""

    feed_id: str
    lease: FeedLease
    stream: Stream
    width: int
    height: int
    _exchange: FrameExchange = field(repr=False)
    _supervisor: FeedSupervisor = field(repr=False)
    _state: FeedState = field(default_factory=lambda: FeedState(FeedStatus.CONNECTING))
    paused: bool = False

    @property
    def camera_id(self) -> str:
        return self.lease.camera_id

    @property
    def state(self) -> FeedState:
        return self._state

    @property
    def dropped_frames(self) -> int:
        return self._exchange.dropped

    def latest(self) -> Frame | None:
        """The newest frame not yet taken (a copy), or None."""
        return self._exchange.read()

    def resize(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self._supervisor._send(self, ResizeFeed(self.feed_id, width, height))

    def set_paused(self, paused: bool) -> None:
        """Stop decoding while the tile is hidden; resume when it shows again."""
        if paused != self.paused:
            self.paused = paused
            self._supervisor._send(self, PauseFeed(self.feed_id, paused))

    def switch_stream(self, stream: Stream) -> None:
        """Main stream for a large tile, sub stream for a small one; the last frame stays up."""
        if stream != self.stream and self.lease.has_stream(stream):
            self.stream = stream
            self._supervisor._start(self)

    def export_clip(self, path: Path, timeout_s: float = 30) -> ClipWritten:
        """Write the last seconds this feed showed (scaled and privacy-masked) as an MP4 into
        ``path``, a file that must exist (the evidence export creates it). Blocks until the
        clip is written: call it from a background job, never the UI thread. Raises
        ClipExportError when nothing was written: no frames yet, a full disk, a timeout, the
        feed closed or its decode process died meanwhile."""
        return self._supervisor._export_clip(self, path, timeout_s)

    def close(self) -> None:
        self._supervisor._close(self, FeedState(FeedStatus.ENDED, "closed"))


class FeedSupervisor:
    """Owns the decode processes; thread-safe."""

    def __init__(
        self,
        network_decoders: int = 2,
        on_state: Callable[[FeedHandle], None] | None = None,
        clip_seconds: float = DEFAULT_CLIP_SECONDS,
    ) -> None:
        """``clip_seconds``: how much each feed keeps for clip export (0: nothing)."""
        self._clip_seconds = clip_seconds
        self._clip_requests: dict[int, _ClipRequest] = {}
        self._request_ids = itertools.count(1)
        self._network = [_Decoder(NETWORK_PROTOCOLS) for _ in range(network_decoders)]
        self._files: _Decoder | None = None
        self._handles: dict[str, FeedHandle] = {}
        self._placement: dict[str, _Decoder] = {}
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._on_state = on_state
        self._stopping = threading.Event()
        self.restarts = 0
        self._watchdog = threading.Thread(target=self._watch, name="decoder-watchdog", daemon=True)
        self._watchdog.start()

    def open(
        self, lease: FeedLease, stream: Stream = "sub", size: tuple[int, int] = (640, 360)
    ) -> FeedHandle:
        """Start decoding a leased feed; raises LeaseEndedError if the lease has ended."""
        if lease.ended:
            raise LeaseEndedError(f"lease for camera {lease.camera_id} ended: {lease.end_reason}")
        if not lease.has_stream(stream):
            stream = "main"
        handle = FeedHandle(
            feed_id=f"feed-{next(self._ids)}",
            lease=lease,
            stream=stream,
            width=size[0],
            height=size[1],
            _exchange=FrameExchange.create(MAX_WIDTH, MAX_HEIGHT),
            _supervisor=self,
        )
        with self._lock:
            self._handles[handle.feed_id] = handle
            self._placement[handle.feed_id] = self._decoder_for(lease)
        self._start(handle)
        lease.on_end(lambda ended: self._lease_ended(handle, ended))
        return handle

    def handles(self) -> list[FeedHandle]:
        with self._lock:
            return list(self._handles.values())

    def decoder_pids(self) -> list[int]:
        with self._lock:
            decoders = [*self._network, *([self._files] if self._files else [])]
            return [d.process.pid for d in decoders if d.process.pid is not None]

    def _decoder_for(self, lease: FeedLease) -> _Decoder:
        if self._is_file(lease):
            if self._files is None:
                self._files = _Decoder(FILE_PROTOCOLS)
            return self._files
        return min(self._network, key=lambda decoder: len(decoder.feeds))

    @staticmethod
    def _is_file(lease: FeedLease) -> bool:
        try:
            return urlsplit(lease.connect_url("main")).scheme == "file"
        except LeaseEndedError:
            return False

    def _start(self, handle: FeedHandle) -> None:
        try:
            url = handle.lease.connect_url(handle.stream)
        except LeaseEndedError as exc:
            self._close(handle, FeedState(FeedStatus.ENDED, handle.lease.end_reason or str(exc)))
            return
        decoder = self._placement[handle.feed_id]
        decoder.feeds.add(handle.feed_id)
        decoder.ever_used = True
        decoder.send(
            OpenFeed(
                feed_id=handle.feed_id,
                url=url,
                exchange_name=handle._exchange.name,
                max_width=MAX_WIDTH,
                max_height=MAX_HEIGHT,
                width=handle.width,
                height=handle.height,
                masks=list(handle.lease.privacy_masks),
                realtime_file=decoder.protocols == FILE_PROTOCOLS,
                clip_seconds=self._clip_seconds,
            )
        )
        if handle.paused:
            decoder.send(PauseFeed(handle.feed_id, True))

    def _send(self, handle: FeedHandle, command: DecoderCommand) -> None:
        with self._lock:
            decoder = self._placement.get(handle.feed_id)
        if decoder is not None:
            decoder.send(command)

    def _export_clip(self, handle: FeedHandle, path: Path, timeout_s: float) -> ClipWritten:
        with self._lock:
            decoder = self._placement.get(handle.feed_id)
            if decoder is None:
                raise ClipExportError("the feed is closed")
            request_id = next(self._request_ids)
            request = self._clip_requests[request_id] = _ClipRequest(decoder)
        try:
            if not decoder.send(ExportClip(handle.feed_id, str(path), request_id)):
                raise ClipExportError("the decoder is restarting; try again in a moment")
            if not request.answered.wait(timeout_s):
                raise ClipExportError(f"the clip was not written within {timeout_s:g} s")
        finally:
            with self._lock:
                self._clip_requests.pop(request_id, None)
        if request.failure:
            raise ClipExportError(request.failure)
        assert request.answer is not None
        if request.answer.error:
            raise ClipExportError(request.answer.error)
        return request.answer

    def _clip_written(self, answer: ClipWritten) -> None:
        with self._lock:
            request = self._clip_requests.get(answer.request_id)
        if request is not None:  # else its requester gave up waiting
            request.answer = answer
            request.answered.set()

    def _fail_clip_requests(self, why: str, decoder: _Decoder | None = None) -> None:
        with self._lock:
            failing = [
                request
                for request in self._clip_requests.values()
                if decoder is None or request.decoder is decoder
            ]
        for request in failing:
            request.fail(why)

    def _lease_ended(self, handle: FeedHandle, lease: FeedLease) -> None:
        self._close(handle, FeedState(FeedStatus.ENDED, lease.end_reason or "lease ended"))

    def _close(self, handle: FeedHandle, final: FeedState) -> None:
        with self._lock:
            if self._handles.pop(handle.feed_id, None) is None:
                return
            decoder = self._placement.pop(handle.feed_id)
            decoder.feeds.discard(handle.feed_id)
        decoder.send(CloseFeed(handle.feed_id))
        handle._exchange.unlink()
        self._set_state(handle, final)

    def _set_state(self, handle: FeedHandle, state: FeedState) -> None:
        handle._state = state
        if self._on_state is not None:
            self._on_state(handle)

    def _watch(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                decoders = [*self._network, *([self._files] if self._files else [])]
            waitables: dict[object, _Decoder] = {d.reports: d for d in decoders}
            waitables |= {d.process.sentinel: d for d in decoders}
            for ready in wait(list(waitables), timeout=0.5):  # type: ignore[arg-type]
                decoder = waitables[ready]
                if ready is decoder.reports:
                    self._drain(decoder)
                elif not self._stopping.is_set():
                    self._restart(decoder)

    def _drain(self, decoder: _Decoder) -> None:
        try:
            while decoder.reports.poll():
                report: DecoderReport = decoder.reports.recv()
                if isinstance(report, ClipWritten):
                    self._clip_written(report)
                    continue
                with self._lock:
                    handle = self._handles.get(report.feed_id)
                if handle is not None:
                    self._set_state(handle, report.state)
        except (EOFError, OSError):
            pass  # the process died; its sentinel fires next

    def _restart(self, dead: _Decoder) -> None:
        log.error(
            "decode process %s (%s) died with exit code %s; restarting it",
            dead.process.pid,
            dead.protocols,
            dead.process.exitcode,
        )
        replacement = _Decoder(dead.protocols)
        with self._lock:
            self.restarts += 1
            if dead is self._files:
                self._files = replacement
            else:
                self._network[self._network.index(dead)] = replacement
            moved = [self._handles[f] for f in dead.feeds if f in self._handles]
            for handle in moved:
                self._placement[handle.feed_id] = replacement
        dead.commands.close()
        dead.reports.close()
        self._fail_clip_requests("the decoder stopped while writing the clip; try again", dead)
        for handle in moved:
            self._set_state(handle, FeedState(FeedStatus.RECONNECTING, "decoder restarted", 1))
            self._start(handle)

    def shutdown(self) -> None:
        """Stop every feed and decode process."""
        self._stopping.set()
        self._watchdog.join(timeout=5)
        self._fail_clip_requests("the console is closing")
        for handle in self.handles():
            self._close(handle, FeedState(FeedStatus.ENDED, "console closed"))
        for decoder in [*self._network, *([self._files] if self._files else [])]:
            decoder.stop()

"""A real RTSP server on 127.0.0.1 for the video tests, the clips it serves, and hostile peers.

The server is GStreamer's RTSP server (``tests/rtsp/server.py``), run as a subprocess by Debian's
own ``/usr/bin/python3`` (its ``gi`` bindings are not in the venv); ``make system-packages``
installs it. Clips are made once per test session with ffmpeg and served as they are: clip mounts
never re-encode, and clients of a mount share one pipeline, so 16 clients of a 1080p mount cost
the server little.

Fixtures (register with ``pytest_plugins = ["tests.rtsp.fixtures"]`` in ``tests/conftest.py``):

- ``rtsp_clips``: the session's clips (:class:`RtspClips`).
- ``rtsp_server``: a started server with :func:`standard_mounts` (paths in :class:`StandardPaths`).
- ``rtsp_server_factory``: ``make(mounts, ...)`` starts a server with custom :class:`Mount` s
  (``auth="digest"``: mounts with credentials ask for Digest instead of Basic).

Both stop their servers at teardown, also when the test fails. URLs from :meth:`RtspServer.url`
never carry credentials; :meth:`RtspServer.url_with_credentials` gives the one to hand to the
code under test, and its ``repr`` (what pytest prints) is redacted.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import select
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, NoReturn, Protocol, Self
from urllib.parse import quote

import pytest

SYSTEM_PYTHON = Path("/usr/bin/python3")
SERVER_SCRIPT = Path(__file__).with_name("server.py")
LOOPBACK = "127.0.0.1"
FPS = 15
CLIP_SECONDS = 10

Codec = Literal["h264", "h265"]
AuthMethod = Literal["basic", "digest"]


class RtspServerError(RuntimeError):
    """The test RTSP server did not start, or could not be stopped."""


class CredentialedUrl(str):
    """A URL with a username and password in it: the full text for the code under test, but a
    redacted ``repr`` so that pytest's failure reports and ``%r`` logging do not show the
    password."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(redact(self))


def redact(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@``."""
    return re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@", r"\1***@", url)


@dataclass(frozen=True)
class Mount:
    """One path of the server. Give ``clip`` (a file, served as it is) or ``launch`` (a gst-launch
    line ending in a payloader named ``pay0``, e.g. :func:`live_launch`)."""

    path: str
    clip: Path | None = None
    codec: Codec = "h264"
    launch: str | None = None
    # Serve the clip endlessly; needs an elementary stream (.h264/.h265), see RtspClips.
    loop: bool = False
    # All clients share one pipeline (joining mid-stream); False gives each client its own.
    shared: bool = True
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.path.startswith("/"):
            raise ValueError(f"mount path must start with '/': {self.path!r}")
        if (self.clip is None) == (self.launch is None):
            raise ValueError(f"mount {self.path}: give exactly one of clip and launch")
        if (self.username is None) != (self.password is None):
            raise ValueError(f"mount {self.path}: give both username and password, or neither")

    def config(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"path": self.path, "shared": self.shared}
        if self.clip is not None:
            entry.update(clip=str(self.clip), codec=self.codec, loop=self.loop)
        else:
            entry["launch"] = self.launch
        if self.username is not None:
            entry.update(username=self.username, password=self.password)
        return entry


def live_launch(width: int = 640, height: int = 360, fps: int = FPS) -> str:
    """A live, endless H.264 source (a moving ball, encoded as it plays: costs CPU per mount)."""
    return (
        f"videotestsrc is-live=true pattern=ball ! "
        f"video/x-raw,width={width},height={height},framerate={fps}/1 ! "
        f"x264enc tune=zerolatency key-int-max={fps} speed-preset=ultrafast ! "
        "rtph264pay name=pay0 pt=96 config-interval=1"
    )


class RtspServer:
    """The GStreamer RTSP server as a subprocess on 127.0.0.1.

    The first start() binds a free port the kernel picks (no race between choosing and
    binding); restart() binds the same port again, so a client can reconnect to the same URL.
    """

    def __init__(
        self,
        mounts: Sequence[Mount],
        *,
        port: int = 0,
        start_timeout: float = 20.0,
        stop_timeout: float = 5.0,
        auth: AuthMethod = "basic",
    ) -> None:
        if not mounts:
            raise ValueError("an RTSP server needs at least one mount")
        self.mounts = {mount.path: mount for mount in mounts}
        self.auth = auth  # how mounts with credentials ask for them
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.returncode: int | None = None
        self.start_seconds: float | None = None  # how long the last start() took
        self._port = port
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None

    def __repr__(self) -> str:
        state = f"pid {self._process.pid}" if self._process else "stopped"
        return f"<RtspServer {LOOPBACK}:{self._port} {state} mounts={list(self.mounts)}>"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if not self._port:
            raise RtspServerError("the RTSP server has not been started: no port yet")
        return self._port

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def url(self, path: str) -> str:
        """The mount's URL, never with credentials: safe to print and log."""
        if path not in self.mounts:
            raise KeyError(f"no mount {path!r}; mounts are {sorted(self.mounts)}")
        return f"rtsp://{LOOPBACK}:{self.port}{path}"

    def url_with_credentials(
        self, path: str, *, username: str | None = None, password: str | None = None
    ) -> CredentialedUrl:
        """The URL with (percent-encoded) credentials, the mount's own unless given (a wrong
        password, say). For the code under test only: do not print it."""
        mount = self.mounts.get(path)
        if mount is not None:
            username = mount.username if username is None else username
            password = mount.password if password is None else password
        if username is None or password is None:
            raise ValueError(f"mount {path!r} has no credentials; give username and password")
        userinfo = f"{quote(username, safe='')}:{quote(password, safe='')}"
        return CredentialedUrl(f"rtsp://{userinfo}@{LOOPBACK}:{self.port}{path}")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server process has used so far."""
        if self._process is None:
            raise RtspServerError("the RTSP server is not running")
        fields = Path(f"/proc/{self._process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        # After "pid (comm)": state is field 3, utime 14 and stime 15 (1-based, proc(5)).
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def start(self) -> None:
        if self.running:
            raise RtspServerError(f"{self!r} is already running")
        if not SYSTEM_PYTHON.exists():
            raise RtspServerError(
                f"{SYSTEM_PYTHON} not found: the RTSP test server needs Debian's python3 with "
                "GStreamer's bindings (run `make system-packages`)"
            )
        mounts = [mount.config() for mount in self.mounts.values()]
        config = {"port": self._port, "host": LOOPBACK, "mounts": mounts, "auth": self.auth}
        # The config (it may hold passwords) goes through a private file, not the command line
        # that `ps` and subprocess errors show; the server has read it once it says READY.
        descriptor, config_path = tempfile.mkstemp(prefix="rtsp-server-", suffix=".json")
        with os.fdopen(descriptor, "w") as config_file:
            json.dump(config, config_file)
        # Open while the server runs (a file, not a pipe nobody drains); closed by stop().
        self._stderr = tempfile.TemporaryFile(prefix="rtsp-server-stderr-")  # noqa: SIM115
        environment = {
            key: value
            for key, value in os.environ.items()
            if key not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"}
        }
        started = time.monotonic()
        try:
            self._process = subprocess.Popen(
                [
                    *(str(SYSTEM_PYTHON), str(SERVER_SCRIPT), "--exit-with-stdin"),
                    *("--config", config_path),
                ],
                # The server quits when this pipe closes: when stop() closes it, and also when
                # this process dies without a chance to stop() (killed by a CI timeout, say).
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                env=environment,
            )
            self._finalizer = weakref.finalize(self, _kill, self._process)
            line = self._read_ready_line(started + self.start_timeout)
        finally:
            os.unlink(config_path)
        match = re.fullmatch(r"READY (\d+)", line)
        if match is None:
            self._fail(f"printed {line!r} instead of 'READY <port>'")
        self._port = int(match.group(1))
        self.start_seconds = time.monotonic() - started

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after ``stop_timeout``; returns the exit code (None if it was
        not running). Safe to call twice."""
        process, self._process = self._process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(self.stop_timeout)
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()
        if self._finalizer is not None:
            self._finalizer.detach()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        self.returncode = process.returncode
        return process.returncode

    def restart(self) -> None:
        """Stop and start again on the same port."""
        port = self.port
        self.stop()
        self._port = port
        self.start()

    def stderr_text(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.flush()
        self._stderr.seek(0)
        text = self._stderr.read().decode(errors="replace")
        self._stderr.seek(0, os.SEEK_END)
        return text

    def _read_ready_line(self, deadline: float) -> str:
        assert self._process is not None and self._process.stdout is not None
        descriptor = self._process.stdout.fileno()
        received = b""
        while b"\n" not in received:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._fail(f"did not say READY within {self.start_timeout:g} s")
            readable, _, _ = select.select([descriptor], [], [], remaining)
            if readable:
                chunk = os.read(descriptor, 4096)
                if not chunk:
                    self._process.wait(self.stop_timeout)
                    self._fail(f"exited with code {self._process.returncode} before READY")
                received += chunk
        return received.split(b"\n", 1)[0].decode(errors="replace").strip()

    def _fail(self, what: str) -> NoReturn:
        stderr = self.stderr_text().strip() or "(nothing)"
        self.stop()
        raise RtspServerError(
            f"the RTSP test server ({SERVER_SCRIPT.name}) {what}; its stderr:\n{stderr}"
        )


def _kill(process: subprocess.Popen[bytes]) -> None:
    """Last resort when an RtspServer is dropped without stop(): do not leak the process."""
    if process.poll() is None:
        process.kill()
        process.wait()


# --- clips --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RtspClips:
    """Test clips, 15 frames/s, a key frame every second, no B-frames (as most cameras send).

    Each ``*_stream`` is the same video as an elementary stream (.h264/.h265), which a mount can
    loop endlessly without re-encoding."""

    directory: Path
    main: Path  # 1920x1080 H.264 MP4, 10 s, about 4 Mbit/s
    main_stream: Path
    sub: Path  # 640x360 H.264 MP4, 10 s
    sub_stream: Path
    h265: Path  # 1920x1080 H.265 MP4, 10 s
    h265_stream: Path
    # .h264: 5 s at 640x360, then 5 s at 1280x720 (new SPS in-band)
    resolution_change: Path
    truncated: Path  # the sub MP4 (index first) cut in half: the data stops mid-way
    corrupt: Path  # sub_stream with chunks in its second half overwritten by random bytes
    # 640x360 MP4, 30 s: its SPS declares 30 frames/s (VUI timing), its timestamps pace 12; a
    # key frame every 24 frames (2 s as delivered)
    declares_30_delivers_12: Path
    # 640x360 MP4 at 15 frames/s, 25 s, key frames only at 0 and 20 s (x264 keyint 300)
    keyframe_every_20s: Path

    RESOLUTION_CHANGE_SIZES = ((640, 360), (1280, 720))


def make_clips(directory: Path) -> RtspClips:
    """Encode the clips with ffmpeg (about 5 s on two cores)."""
    if shutil.which("ffmpeg") is None:
        raise RtspServerError("ffmpeg not found: run `make system-packages`")
    directory.mkdir(parents=True, exist_ok=True)
    clips = RtspClips(
        directory=directory,
        main=directory / "main-1080p.mp4",
        main_stream=directory / "main-1080p.h264",
        sub=directory / "sub-360p.mp4",
        sub_stream=directory / "sub-360p.h264",
        h265=directory / "main-1080p-h265.mp4",
        h265_stream=directory / "main-1080p.h265",
        resolution_change=directory / "resolution-change.h264",
        truncated=directory / "truncated-360p.mp4",
        corrupt=directory / "corrupt-360p.h264",
        declares_30_delivers_12=directory / "declares-30-delivers-12.mp4",
        keyframe_every_20s=directory / "keyframe-every-20s.mp4",
    )
    (small, large) = RtspClips.RESOLUTION_CHANGE_SIZES
    first, second = directory / "change-1.h264", directory / "change-2.h264"
    at_30 = directory / "declares-30.h264"
    _run_all(
        [
            _encode(clips.main, 1920, 1080, CLIP_SECONDS, "h264"),
            _encode(clips.sub, 640, 360, CLIP_SECONDS, "h264"),
            _encode(clips.h265, 1920, 1080, CLIP_SECONDS, "h265"),
            _encode(first, *small, CLIP_SECONDS // 2, "h264", "h264"),
            _encode(second, *large, CLIP_SECONDS // 2, "h264", "h264"),
            _encode(at_30, 640, 360, 12, "h264", "h264", fps=30, keyint=24),
            _encode(clips.keyframe_every_20s, 640, 360, 25, "h264", keyint=20 * FPS),
        ]
    )
    _run_all(
        [
            _elementary(clips.main, clips.main_stream, "h264"),
            _elementary(clips.sub, clips.sub_stream, "h264"),
            _elementary(clips.h265, clips.h265_stream, "h265"),
            # The same frames, stamped 12 to the second by the container (-r before -i).
            [
                *("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y"),
                *("-r", "12", "-i", str(at_30), "-c", "copy", "-movflags", "+faststart"),
                str(clips.declares_30_delivers_12),
            ],
        ]
    )
    at_30.unlink()
    # Annex-B streams concatenate byte for byte: the second part brings its own SPS/PPS.
    clips.resolution_change.write_bytes(first.read_bytes() + second.read_bytes())
    first.unlink()
    second.unlink()
    whole = clips.sub.read_bytes()
    clips.truncated.write_bytes(whole[: len(whole) // 2])
    damaged = bytearray(clips.sub_stream.read_bytes())
    chance = random.Random(20261121)
    for number in range(12):
        start = len(damaged) // 2 + number * len(damaged) // 26
        damaged[start : start + 1500] = chance.randbytes(1500)
    clips.corrupt.write_bytes(bytes(damaged))
    return clips


def _encode(
    target: Path,
    width: int,
    height: int,
    seconds: int,
    codec: Codec,
    raw: str | None = None,
    *,
    fps: int = FPS,
    keyint: int | None = None,
) -> list[str]:
    """``keyint``: frames between key frames (default: one a second), with no scene-cut ones."""
    encoder = {
        "h264": ["-c:v", "libx264", "-preset", "veryfast"],
        "h265": ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error"],
    }[codec]
    if keyint is not None:
        encoder += ["-keyint_min", str(keyint), "-sc_threshold", "0"]
    container = ["-f", raw] if raw else ["-movflags", "+faststart"]
    return [
        *("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y"),
        *("-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}"),
        *("-t", str(seconds), *encoder, "-g", str(keyint or fps), "-bf", "0"),
        *("-pix_fmt", "yuv420p"),
        *container,
        str(target),
    ]


def _elementary(source: Path, target: Path, codec: Codec) -> list[str]:
    muxer = {"h264": "h264", "h265": "hevc"}[codec]
    return [
        *("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", str(source)),
        *("-c", "copy", "-bsf:v", f"{muxer}_mp4toannexb", "-f", muxer, str(target)),
    ]


def _run_all(commands: list[list[str]]) -> None:
    """Run the commands in parallel; fail with the first failure's stderr."""
    processes = [
        (command, subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        for command in commands
    ]
    failures = []
    for command, process in processes:
        _, stderr = process.communicate()
        if process.returncode != 0:
            failures.append(f"{' '.join(command)}\n{stderr.decode(errors='replace')}")
    if failures:
        raise RtspServerError("making a test clip failed:\n" + "\n".join(failures))


# --- the standard mounts ------------------------------------------------------------------------


class StandardPaths:
    """The paths of :func:`standard_mounts`. Media start only when a client asks for them."""

    MAIN = "/main"  # 1920x1080 H.264, endless (the clip looped)
    SUB = "/sub"  # 640x360 H.264, endless
    H265 = "/h265"  # 1920x1080 H.265, endless
    ONCE = "/once"  # the 1920x1080 MP4, played once: the stream ends after 10 s
    LIVE = "/live"  # 640x360 encoded live from videotestsrc, endless (costs an encoder)
    SECURE = "/secure"  # SUB behind basic auth: SECURE_USERNAME / SECURE_PASSWORD
    RESOLUTION_CHANGE = "/resolution-change"  # 640x360 then 1280x720, endless
    CORRUPT = "/corrupt"  # SUB with corrupt chunks, endless
    TRUNCATED = "/truncated"  # an MP4 whose data stops half-way
    # Each client gets its own pipeline from the clip's start (30 s and 25 s, played once):
    DECLARES_30_DELIVERS_12 = "/declares-30-delivers-12"  # SPS says 30 frames/s, sends 12
    KEYFRAME_EVERY_20S = "/keyframe-every-20s"  # 640x360 15 fps, key frames at 0 and 20 s


SECURE_USERNAME = "operator"
# Characters a URL must escape, and a colon, which also separates user from password.
SECURE_PASSWORD = "p%w@d!:"


def standard_mounts(clips: RtspClips) -> list[Mount]:
    paths = StandardPaths
    return [
        Mount(paths.MAIN, clips.main_stream, loop=True),
        Mount(paths.SUB, clips.sub_stream, loop=True),
        Mount(paths.H265, clips.h265_stream, codec="h265", loop=True),
        Mount(paths.ONCE, clips.main),
        Mount(paths.LIVE, launch=live_launch()),
        Mount(
            paths.SECURE,
            clips.sub_stream,
            loop=True,
            username=SECURE_USERNAME,
            password=SECURE_PASSWORD,
        ),
        Mount(paths.RESOLUTION_CHANGE, clips.resolution_change, loop=True),
        Mount(paths.CORRUPT, clips.corrupt, loop=True),
        Mount(paths.TRUNCATED, clips.truncated),
        Mount(paths.DECLARES_30_DELIVERS_12, clips.declares_30_delivers_12, shared=False),
        Mount(paths.KEYFRAME_EVERY_20S, clips.keyframe_every_20s, shared=False),
    ]


# --- hostile peers ------------------------------------------------------------------------------


class _LoopbackPeer:
    """A TCP server on 127.0.0.1 (a free port) that runs one thread over all its connections."""

    def __init__(self) -> None:
        self.connections_accepted = 0
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._wake_reader: socket.socket | None = None
        self._wake_writer: socket.socket | None = None
        self._port = 0

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError(f"{type(self).__name__} has not been started")
        return self._port

    def url(self, path: str = "/stream") -> str:
        return f"rtsp://{LOOPBACK}:{self.port}{path}"

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        self._wake_reader, self._wake_writer = socket.socketpair()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((LOOPBACK, 0))
        listener.listen(16)
        listener.setblocking(False)
        self._listener = listener
        self._port = listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name=type(self).__name__, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Closes the listener and every connection; start() may follow."""
        if self._thread is None or self._wake_reader is None or self._wake_writer is None:
            return
        self._wake_writer.send(b"x")
        self._thread.join(5)
        self._thread = None
        self._wake_reader.close()
        self._wake_writer.close()

    def on_data(self, connection: socket.socket, received: bytearray) -> None:
        """Called with everything the peer sent on ``connection`` that is not yet consumed."""
        received.clear()

    def _serve(self) -> None:
        assert self._listener is not None and self._wake_reader is not None
        listener, wake_reader = self._listener, self._wake_reader
        buffers: dict[socket.socket, bytearray] = {}
        with selectors.DefaultSelector() as selector:
            selector.register(listener, selectors.EVENT_READ)
            selector.register(wake_reader, selectors.EVENT_READ)
            try:
                while True:
                    for key, _ in selector.select():
                        if key.fileobj is wake_reader:
                            return
                        if key.fileobj is listener:
                            try:
                                connection, _address = listener.accept()
                            except BlockingIOError:
                                continue
                            connection.setblocking(True)
                            self.connections_accepted += 1
                            buffers[connection] = bytearray()
                            selector.register(connection, selectors.EVENT_READ)
                            continue
                        connection = key.fileobj  # type: ignore[assignment]
                        try:
                            chunk = connection.recv(65536)
                            if chunk:
                                buffers[connection] += chunk
                                self.on_data(connection, buffers[connection])
                        except OSError:  # the peer reset the connection, or went away
                            chunk = b""
                        if not chunk:
                            selector.unregister(connection)
                            connection.close()
                            del buffers[connection]
            finally:
                for connection in buffers:
                    connection.close()
                listener.close()


class SilentServer(_LoopbackPeer):
    """Accepts connections, reads what is sent, and never answers."""


class HttpInsteadOfRtsp(_LoopbackPeer):
    """Answers every request (anything ending in a blank line) with an HTTP/1.1 200 and an HTML
    page, as a web server or a camera's web interface on the wrong port would."""

    BODY = b"<!DOCTYPE html><html><head><title>Camera</title></head><body>Login</body></html>"

    def on_data(self, connection: socket.socket, received: bytearray) -> None:
        while b"\r\n\r\n" in received:
            del received[: received.index(b"\r\n\r\n") + 4]
            connection.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                + f"Content-Length: {len(self.BODY)}\r\n\r\n".encode()
                + self.BODY
            )


class DroppingProxy:
    """Relays TCP connections on 127.0.0.1 to ``upstream_port`` and cuts each one (both sides)
    ``cut_after_s`` after it was accepted, as a camera on a failing link or a rebooting relay
    device does. ``connections_cut`` counts the cuts."""

    def __init__(self, upstream_port: int, cut_after_s: float) -> None:
        self.upstream_port = upstream_port
        self.cut_after_s = cut_after_s
        self.connections_cut = 0
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._listener is None:
            raise RuntimeError("DroppingProxy has not been started")
        return int(self._listener.getsockname()[1])

    def url(self, path: str) -> str:
        return f"rtsp://{LOOPBACK}:{self.port}{path}"

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind((LOOPBACK, 0))
        listener.listen(16)
        self._listener = listener
        self._spawn(self._accept)

    def stop(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            # shutdown() wakes the accept() blocked in the other thread; close() alone does not.
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
        for thread in self._threads:
            thread.join(5)

    def _spawn(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name="dropping-proxy")
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection((LOOPBACK, self.upstream_port), timeout=5)
            upstream.settimeout(None)
            self._spawn(self._relay, client, upstream)
            self._spawn(self._relay, upstream, client)
            self._spawn(self._cut, client, upstream)

    def _relay(self, source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                target.sendall(chunk)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_RDWR)

    def _cut(self, client: socket.socket, upstream: socket.socket) -> None:
        self._stopping.wait(self.cut_after_s)
        with self._lock:
            self.connections_cut += 1
        for side in (client, upstream):
            with contextlib.suppress(OSError):
                side.shutdown(socket.SHUT_RDWR)
            side.close()


# --- fixtures -----------------------------------------------------------------------------------


class RtspServerFactory(Protocol):
    def __call__(
        self,
        mounts: Sequence[Mount],
        *,
        port: int = 0,
        start_timeout: float = 20.0,
        auth: AuthMethod = "basic",
    ) -> RtspServer: ...


@pytest.fixture(scope="session")
def rtsp_clips(tmp_path_factory: pytest.TempPathFactory) -> RtspClips:
    return make_clips(tmp_path_factory.mktemp("rtsp-clips"))


@pytest.fixture
def rtsp_server_factory() -> Iterator[RtspServerFactory]:
    """Starts servers with the given mounts; stops them all at teardown."""
    servers: list[RtspServer] = []

    def make(
        mounts: Sequence[Mount],
        *,
        port: int = 0,
        start_timeout: float = 20.0,
        auth: AuthMethod = "basic",
    ) -> RtspServer:
        server = RtspServer(mounts, port=port, start_timeout=start_timeout, auth=auth)
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def rtsp_server(rtsp_clips: RtspClips, rtsp_server_factory: RtspServerFactory) -> RtspServer:
    """A started server with the standard mounts (see StandardPaths)."""
    return rtsp_server_factory(standard_mounts(rtsp_clips))


__all__ = [
    "SECURE_PASSWORD",
    "SECURE_USERNAME",
    "AuthMethod",
    "CredentialedUrl",
    "DroppingProxy",
    "HttpInsteadOfRtsp",
    "Mount",
    "RtspClips",
    "RtspServer",
    "RtspServerError",
    "RtspServerFactory",
    "SilentServer",
    "StandardPaths",
    "live_launch",
    "make_clips",
    "redact",
    "rtsp_clips",
    "rtsp_server",
    "rtsp_server_factory",
    "standard_mounts",
]

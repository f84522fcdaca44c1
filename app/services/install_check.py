"""The field technician's install check: a timed check of a camera's main and sub streams, each
measurement judged pass / warn / fail against the thresholds below, and an overall verdict.

One engine for ``beacon verify`` and the InstallVerifier panel. What is checked:

- a **registry camera**: through the policy gate, for the purpose ``install:CAMERA`` (the rule
  that lets a field technician open a camera only to verify its install, audited as any feed
  open; the lease ends, audited, when the check does). Credentials come from the keyring.
- a **stream URL** or a **local file** (a clip an owner sent): no camera, no policy; the check
  is audited (who, which redacted address, when) before anything is opened.

Credentials typed into a URL, or asked for when a camera answers 401 (``ask_credentials``), are
stored in the keyring once the camera accepted them, never before: under the camera's id, or for
a bare URL under ``stream:`` and the URL without them. They appear in no result, message or
audit event.

``InstallCheckError`` means the check could not run (bad input, unknown camera, denied, wrong
password); what the camera did wrong is a failed check in the report instead.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path, PureWindowsPath
from typing import Any
from urllib.parse import urlsplit

from app.models.audit_chain import AuditEventType
from app.models.policy import Purpose, PurposeKind
from app.models.stream_url import redact_url, split_credentials, url_with_credentials
from app.services.accounts import SignedInUser
from app.services.audit_log import AuditLog
from app.services.clock import Clock
from app.services.credentials import CameraCredentials, CredentialStore
from app.services.policy_gate import FeedDenied, PolicyGate, UnknownCameraError
from app.video.install_probe import (
    SourceKind,
    StreamMeasurement,
    StreamName,
    StreamSource,
    measure_stream,
)
from app.video.rtsp_probe import ProbeOutcome, probe_rtsp

DEFAULT_DURATION_S = 60.0
MAX_DURATION_S = 3600.0
REPORT_FORMAT = 1
URL_SCHEMES = frozenset({"rtsp", "rtsps", "http", "https"})
CLOSE_REASON = "install_check_finished"
CREDENTIALS_PREFIX = "stream:"

# Asked when a camera wants a user name and password: the prompt text (no secret in it) in,
# the credentials out, or None when the technician has none.
AskCredentials = Callable[[str], CameraCredentials | None]


class InstallCheckError(Exception):
    """The check could not run; the message says why and what to do, and holds no secret."""


class CheckStatus(enum.StrEnum):
    PASS = "pass"  # noqa: S105 (a verdict, not a password)
    WARN = "warn"
    FAIL = "fail"


_SEVERITY = {CheckStatus.PASS: 0, CheckStatus.WARN: 1, CheckStatus.FAIL: 2}


def worst(statuses: list[CheckStatus]) -> CheckStatus:
    return max(statuses, key=_SEVERITY.__getitem__, default=CheckStatus.PASS)


@dataclass(frozen=True, slots=True)
class Threshold:
    """Pass up to ``warn_above``, warn up to ``fail_above``, fail beyond (``at_least``: the
    other way round: pass from ``warn_below``, warn from ``fail_below``)."""

    warn: float
    fail: float
    unit: str
    at_least: bool = False

    def status(self, value: float) -> CheckStatus:
        if self.at_least:
            if value >= self.warn:
                return CheckStatus.PASS
            return CheckStatus.WARN if value >= self.fail else CheckStatus.FAIL
        if value <= self.warn:
            return CheckStatus.PASS
        return CheckStatus.WARN if value <= self.fail else CheckStatus.FAIL

    def text(self) -> str:
        if self.at_least:
            return f"pass ≥ {self.warn:g}{self.unit}, warn ≥ {self.fail:g}{self.unit}, fail below"
        best = f"{self.warn:g}" if self.warn == 0 else f"≤ {self.warn:g}{self.unit}"
        return f"pass {best}, warn ≤ {self.fail:g}{self.unit}, fail above"


# The thresholds, and why. Main streams are what the wall and evidence use; sub streams are the
# small ones a wall tile shows, so they are judged on what a tile needs.
THRESHOLDS: dict[str, Threshold] = {
    # RTSP connect, OPTIONS and DESCRIBE: a camera slower than this makes every feed open slow.
    "connect_ms": Threshold(1000, 3000, " ms"),
    # What an operator waits for when opening the feed; mostly the wait for a key frame.
    "time_to_first_frame_ms": Threshold(2000, 5000, " ms"),
    # Frames measured as a share of the frames declared: a camera that cannot keep its rate
    # is overloaded, or its rate is set above what its encoder or uplink can do.
    "fps_percent_of_declared": Threshold(90, 75, " %", at_least=True),
    # Without a declared rate: what motion still needs.
    "fps_measured": Threshold(10, 5, " fps", at_least=True),
    # A feed opens, and a clip starts, only at a key frame.
    "keyframe_interval_s": Threshold(2.0, 4.0, " s"),
    "dropped_frames_percent": Threshold(1, 5, " %"),
    "late_frames_percent": Threshold(1, 5, " %"),
    "timestamp_jumps": Threshold(0, 1, ""),
    "disconnects": Threshold(0, 1, ""),
    "stalls": Threshold(0, 1, ""),
    "main_height": Threshold(720, 480, " px", at_least=True),
    "sub_height": Threshold(240, 120, " px", at_least=True),
    "main_bitrate_kbps": Threshold(512, 128, " kbit/s", at_least=True),
    "sub_bitrate_kbps": Threshold(128, 32, " kbit/s", at_least=True),
}
PREFERRED_CODECS = frozenset({"h264", "h265"})


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    value: str
    threshold: str
    status: CheckStatus


@dataclass
class StreamReport:
    measurement: StreamMeasurement
    checks: list[Check]

    @property
    def verdict(self) -> CheckStatus:
        return worst([check.status for check in self.checks])

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self.measurement)
        data["probe_outcome"] = (
            self.measurement.probe_outcome.value if self.measurement.probe_outcome else None
        )
        data["verdict"] = self.verdict.value
        data["checks"] = [{**asdict(check), "status": check.status.value} for check in self.checks]
        return data


@dataclass
class InstallCheckReport:
    """One check's result: what install records store (``to_dict`` is JSON-ready)."""

    kind: SourceKind
    address: str  # the camera id, or the redacted URL or file path
    actor: str
    started_at: datetime
    duration_s: float
    streams: list[StreamReport] = field(default_factory=list)
    camera_id: str | None = None
    stopped_reason: str | None = None  # the lease ended or the check was cancelled

    @property
    def verdict(self) -> CheckStatus:
        return worst([stream.verdict for stream in self.streams])

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": REPORT_FORMAT,
            "kind": self.kind,
            "address": self.address,
            "camera_id": self.camera_id,
            "actor": self.actor,
            "started_at": self.started_at.isoformat(),
            "duration_s": self.duration_s,
            "stopped_reason": self.stopped_reason,
            "verdict": self.verdict.value,
            "streams": {stream.measurement.stream: stream.to_dict() for stream in self.streams},
        }


# --- judging --------------------------------------------------------------------------------


def judge(measurement: StreamMeasurement) -> list[Check]:
    """The checks of one stream's measurement."""
    m = measurement
    if m.error is not None:
        return [Check("connect", m.error, "the stream opens", CheckStatus.FAIL)]
    checks: list[Check] = []

    def add(name: str, value: float | None, key: str, shown: str | None = None) -> None:
        limit = THRESHOLDS[key]
        if value is None:
            checks.append(Check(name, "not measured", limit.text(), CheckStatus.FAIL))
            return
        text = shown if shown is not None else f"{value:g}{limit.unit}"
        checks.append(Check(name, text, limit.text(), limit.status(value)))

    add("connect", m.connect_ms, "connect_ms")
    add("time to first frame", m.time_to_first_frame_ms, "time_to_first_frame_ms")
    codec = f"{m.codec or 'unknown'}" + (f" {m.profile}" if m.profile else "")
    codec += f" level {m.level}" if m.level else ""
    checks.append(
        Check(
            "codec",
            codec,
            "h264 or h265",
            CheckStatus.PASS if m.codec in PREFERRED_CODECS else CheckStatus.WARN,
        )
    )
    size = f"{m.width}x{m.height}" if m.width and m.height else None
    add("resolution", m.height, f"{m.stream}_height", size)
    if m.fps_measured is not None and m.fps_declared:
        percent = 100 * m.fps_measured / m.fps_declared
        add(
            "frame rate",
            percent,
            "fps_percent_of_declared",
            f"{m.fps_measured:g} of {m.fps_declared:g} fps declared ({percent:.0f} %)",
        )
    else:
        add("frame rate", m.fps_measured, "fps_measured", f"{m.fps_measured} fps (none declared)")
    add("bitrate", m.bitrate_kbps, f"{m.stream}_bitrate_kbps")
    interval = m.keyframe_interval_s
    shown = None if interval is None else f"{'≥ ' if m.keyframe_interval_at_least else ''}"
    add(
        "key frame interval",
        interval,
        "keyframe_interval_s",
        None if interval is None else f"{shown}{interval:g} s ({m.keyframes} key frames)",
    )
    frames = max(m.frames, 1)
    if m.dropped_frames is not None:
        share = 100 * m.dropped_frames / (frames + m.dropped_frames)
        add(
            "dropped frames", share, "dropped_frames_percent", f"{m.dropped_frames} ({share:.1f} %)"
        )
    if m.late_frames is not None:
        share = 100 * m.late_frames / frames
        add("late frames", share, "late_frames_percent", f"{m.late_frames} ({share:.1f} %)")
    if m.timestamp_jumps is not None:
        add("timestamp jumps", m.timestamp_jumps, "timestamp_jumps")
    if m.disconnects is not None:
        add(
            "disconnects",
            m.disconnects,
            "disconnects",
            f"{m.disconnects} in {m.measured_s:.0f} s",
        )
    if m.stalls is not None:
        add("stalls", m.stalls, "stalls", f"{m.stalls} (no frame for 2 s)")
    if m.stopped_early:
        checks.append(
            Check(
                "stability run",
                f"stopped after {m.measured_s:.0f} of {m.duration_s:g} s",
                "runs to the end",
                CheckStatus.FAIL,
            )
        )
    return checks


# --- what to check ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """What the technician named: a registry camera id, a stream URL, or a local file."""

    kind: SourceKind
    value: str  # camera id, URL as typed (may hold credentials: never show it), or file path

    def __repr__(self) -> str:
        return f"Target({self.kind}, {redact_url(self.value)!r})"


def parse_target(text: str) -> Target:
    """Sort what was typed into a camera id, a URL or a file; raises InstallCheckError for a
    URL that is not one and a file that does not exist."""
    text = text.strip()
    if not text:
        raise InstallCheckError("name a camera id, a stream URL or a video file to check")
    scheme, sep, _ = text.partition(":")
    is_windows_drive = len(scheme) == 1 and PureWindowsPath(text).drive != ""
    if sep and scheme.isascii() and scheme.replace("+", "").isalnum() and not is_windows_drive:
        return _url_target(text, scheme.lower())
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_file():
            raise InstallCheckError(f"{path} is not a file; name a video file to check")
        return Target("file", str(path.resolve()))
    if "/" in text or "\\" in text or path.suffix:
        raise InstallCheckError(f"no such file: {path}")
    return Target("camera", text)


def _url_target(text: str, scheme: str) -> Target:
    shown = redact_url(text)
    if scheme == "file":
        return parse_target(urlsplit(text).path)
    if scheme not in URL_SCHEMES:
        raise InstallCheckError(
            f"{shown!r} is not a stream URL: Beacon checks rtsp://, rtsps://, http:// and "
            "https:// streams, or a local file"
        )
    try:
        parts = urlsplit(text)
        host, _port = parts.hostname, parts.port
    except ValueError:
        host = None
    if not host or not text[len(scheme) + 1 :].startswith("//"):
        raise InstallCheckError(
            f"{shown!r} is not a stream URL (no host); write it like "
            f"{scheme}://HOST[:PORT]/PATH, as the camera's manual gives it"
        )
    return Target("url", text)


class UnregisteredStream:
    """A stream URL that is no registry camera: joined with its keyring credentials at connect
    time, as a FeedLease does for a camera."""

    def __init__(self, url: str, credentials: CredentialStore | None) -> None:
        self.url = url  # without credentials
        self.key = CREDENTIALS_PREFIX + url
        self._credentials = credentials

    def connect_url(self, stream: StreamName = "main") -> str:
        found = self._credentials.get(self.key) if self._credentials is not None else None
        if found is None:
            return self.url
        return url_with_credentials(self.url, found.username, found.password)


class _LocalFile:
    def __init__(self, path: str) -> None:
        self.path = path

    def connect_url(self, stream: StreamName = "main") -> str:
        return self.path


# --- running a check --------------------------------------------------------------------------


class InstallCheck:
    """Runs install checks; safe to use from a worker thread (never from the UI thread)."""

    def __init__(
        self,
        gate: PolicyGate | None,
        audit: AuditLog,
        credentials: Callable[[], CredentialStore],
        clock: Clock,
        ask_credentials: AskCredentials | None = None,
    ) -> None:
        """``gate``: for registry cameras (None: URLs and files only). ``credentials``: opens the
        keyring when first needed (a file or a URL without a password does not need one)."""
        self._gate = gate
        self._audit = audit
        self._open_credentials = credentials
        self._store: CredentialStore | None = None
        self._clock = clock
        self._ask = ask_credentials

    def _credentials(self) -> CredentialStore:
        if self._store is None:
            self._store = self._open_credentials()
        return self._store

    def run(
        self,
        target: Target,
        actor: SignedInUser | str,
        *,
        streams: tuple[StreamName, ...] = ("main", "sub"),
        duration_s: float = DEFAULT_DURATION_S,
        cancel: threading.Event | None = None,
    ) -> InstallCheckReport:
        if not 0 < duration_s <= MAX_DURATION_S:
            raise InstallCheckError(
                f"the stability run must last more than 0 and at most {MAX_DURATION_S:g} s"
            )
        cancel = cancel or threading.Event()
        if target.kind == "camera":
            if not isinstance(actor, SignedInUser):
                raise InstallCheckError(
                    "checking a registry camera opens its owner's feed: sign in as a field "
                    "technician"
                )
            return self._check_camera(target.value, actor, streams, duration_s, cancel)
        if "main" not in streams:
            raise InstallCheckError(
                "a URL or a file is one stream (reported as main); --stream sub needs a camera id"
            )
        name = actor.username if isinstance(actor, SignedInUser) else actor
        return self._check_address(target, name, duration_s, cancel)

    def _check_camera(
        self,
        camera_id: str,
        actor: SignedInUser,
        streams: tuple[StreamName, ...],
        duration_s: float,
        cancel: threading.Event,
    ) -> InstallCheckReport:
        if self._gate is None:
            raise InstallCheckError("registry cameras cannot be checked here (no policy gate)")
        gate = self._gate
        started = self._clock()
        try:
            lease = gate.open_feed(camera_id, actor, Purpose(PurposeKind.INSTALL, camera_id))
        except UnknownCameraError:
            raise InstallCheckError(
                f"no camera {camera_id!r} in the registry, and no file or stream URL by that name"
            ) from None
        except FeedDenied as denied:
            raise InstallCheckError(
                f"camera {camera_id}: the policy gate denied the check: "
                f"{denied.decision.explanation}"
            ) from None
        lease.on_end(lambda _lease: cancel.set())
        try:
            wanted = [stream for stream in streams if lease.has_stream(stream)]
            if not wanted:
                raise InstallCheckError(f"camera {camera_id} has no {' or '.join(streams)} stream")
            self._authenticate(lease, camera_id, camera_id)
            report = InstallCheckReport(
                "camera", camera_id, actor.username, started, duration_s, camera_id=camera_id
            )
            report.streams = self._measure(lease, wanted, duration_s, cancel)
        finally:
            # Before the close below ends the lease (which sets ``cancel`` too).
            ended_by, cancelled = lease.end_reason, cancel.is_set()
            gate.close(lease, CLOSE_REASON)
        if ended_by is not None:
            report.stopped_reason = f"the lease ended: {ended_by}"
        elif cancelled:
            report.stopped_reason = "cancelled"
        return report

    def _check_address(
        self, target: Target, actor: str, duration_s: float, cancel: threading.Event
    ) -> InstallCheckReport:
        clean, username, password = (
            (target.value, None, None) if target.kind == "file" else split_credentials(target.value)
        )
        address = redact_url(clean)
        started = self._clock()
        # On record before anything is opened: who checked which address, and when.
        self._audit.record(
            AuditEventType.STREAM_CHECKED,
            actor=actor,
            subject=address,
            purpose=f"install:{address}",
            details={"kind": target.kind, "duration_s": round(duration_s)},
        )
        source: StreamSource
        if target.kind == "file":
            source = _LocalFile(clean)
        else:
            typed = None if username is None else CameraCredentials(username, password or "")
            source = self._unregistered_source(clean, typed)
        report = InstallCheckReport(target.kind, address, actor, started, duration_s)
        report.streams = self._measure(source, ["main"], duration_s, cancel)
        if cancel.is_set():
            report.stopped_reason = "cancelled"
        return report

    def _unregistered_source(self, url: str, typed: CameraCredentials | None) -> UnregisteredStream:
        """``url`` (without credentials) as a source, with the keyring behind it when it needs
        credentials: typed ones are tried (and kept once accepted), else stored ones, else the
        technician is asked."""
        if urlsplit(url).scheme.lower() != "rtsp":
            if typed is not None:
                raise InstallCheckError(
                    "credentials in an http(s) or rtsps URL are not supported; use the "
                    "camera's rtsp:// URL"
                )
            return UnregisteredStream(url, None)
        if typed is None and probe_rtsp(url).outcome is not ProbeOutcome.AUTH_FAILED:
            # No password wanted (or the camera fails otherwise: the check will say how).
            return UnregisteredStream(url, None)
        source = UnregisteredStream(url, self._credentials())
        self._authenticate(source, source.key, url, typed)
        return source

    def _authenticate(
        self,
        source: StreamSource,
        key: str,
        label: str,
        typed: CameraCredentials | None = None,
    ) -> None:
        """Make sure the keyring holds credentials the camera accepts, before the check: typed
        or asked-for ones are stored only once accepted. Raises InstallCheckError when the
        camera refuses them (retrying could lock the camera's account)."""
        url = source.connect_url("main")
        if urlsplit(url).scheme.lower() != "rtsp":
            return
        candidate = typed
        if candidate is None:
            outcome = probe_rtsp(url)
            if outcome.outcome is not ProbeOutcome.AUTH_FAILED:
                return
            if self._ask is None:
                raise InstallCheckError(
                    f"{redact_url(label)}: {outcome.detail}; run the check where Beacon can ask "
                    "for the camera's user name and password (a terminal, or the console)"
                )
            candidate = self._ask(
                f"{redact_url(label)} wants a user name and password ({outcome.detail})"
            )
            if candidate is None:
                raise InstallCheckError(
                    f"{redact_url(label)} wants a user name and password ({outcome.detail}): "
                    "give the camera's and run the check again"
                )
        clean = split_credentials(url)[0]
        trial = url_with_credentials(clean, candidate.username, candidate.password)
        answer = probe_rtsp(trial)
        if answer.outcome is ProbeOutcome.AUTH_FAILED:
            raise InstallCheckError(
                f"{redact_url(label)}: {answer.detail}; nothing was stored. Check the camera's "
                "user name and password and run the check again"
            )
        if answer.outcome is ProbeOutcome.OK:
            self._credentials().set(key, candidate)

    def _measure(
        self,
        source: StreamSource,
        streams: list[StreamName],
        duration_s: float,
        cancel: threading.Event,
    ) -> list[StreamReport]:
        # Both streams at once: the check takes one stability run, not two.
        with ThreadPoolExecutor(len(streams), thread_name_prefix="install-check") as pool:
            futures = [
                pool.submit(
                    measure_stream,
                    source,
                    stream,
                    duration_s=duration_s,
                    should_stop=cancel.is_set,
                )
                for stream in streams
            ]
            measurements = [future.result() for future in futures]
        return [StreamReport(m, judge(m)) for m in measurements]


__all__ = [
    "DEFAULT_DURATION_S",
    "THRESHOLDS",
    "Check",
    "CheckStatus",
    "InstallCheck",
    "InstallCheckError",
    "InstallCheckReport",
    "StreamReport",
    "Target",
    "Threshold",
    "UnregisteredStream",
    "judge",
    "parse_target",
]

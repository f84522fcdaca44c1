"""Ask an RTSP camera, before FFmpeg does, whether it will serve a stream, and if not, why.

OpenCV's FFmpeg capture says only "failed" when an open fails, and it opens one stream at a time
per process: a dead or silent camera holds every other open in its decode process for the whole
open timeout. ``probe_rtsp`` sends OPTIONS and DESCRIBE itself (plain sockets, a few hundred
bytes), answers a Basic or Digest challenge (RFC 7617, RFC 7616/2617 with MD5 or SHA-256, with
``qop=auth`` or without), and sorts the answer into an operator-facing reason: authentication
failed, stream not found, connection refused, host unreachable, no answer, not an RTSP server.

Credentials never leave this module except on the wire to the camera: results, exceptions and
log lines carry only fixed phrases, status codes and redacted URLs.
"""

from __future__ import annotations

import base64
import contextlib
import enum
import hashlib
import ipaddress
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from app.models.stream_url import redact_url

log = logging.getLogger(__name__)

DEFAULT_PORT = 554
MAX_REPLY_BYTES = 64 * 1024  # all replies of one probe together
USER_AGENT = "Beacon"


class ProbeOutcome(enum.Enum):
    OK = "ok"
    AUTH_FAILED = "authentication failed"
    NOT_FOUND = "not found"
    REFUSED = "refused"
    UNREACHABLE = "unreachable"
    NO_ANSWER = "no answer"
    NOT_RTSP = "not rtsp"
    OTHER = "other"
    NOT_APPLICABLE = "not applicable"  # not rtsp:// (rtsps:// included): FFmpeg decides


@dataclass(frozen=True, slots=True)
class ProbeResult:
    outcome: ProbeOutcome
    detail: str  # a short phrase for the operator; never holds credentials
    status_code: int | None = None  # the RTSP status of the decisive reply, if there was one
    elapsed_s: float = 0.0
    codec: str | None = None  # of the first video stream in the SDP (OK only): "h264", "h265"


class _Failure(Exception):
    """Ends a probe early with its result (internal; never leaves this module)."""

    def __init__(self, outcome: ProbeOutcome, detail: str, status_code: int | None = None):
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail
        self.status_code = status_code


@dataclass
class _Reply:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return _first(self.headers, name)

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]


@dataclass(frozen=True)
class _Target:
    host: str
    port: int
    uri: str  # the request URI: the URL without credentials or fragment
    username: str | None
    password: str | None = field(repr=False)


def probe_rtsp(
    url: str, username: str | None = None, password: str | None = None, timeout_s: float = 3.0
) -> ProbeResult:
    """Probe ``url`` with OPTIONS then DESCRIBE; credentials from the arguments, else from the
    URL's (percent-encoded) user info.

    Each step (name lookup and connect, then each request and its reply) has ``timeout_s``; a
    probe makes at most four steps (the connect, OPTIONS, DESCRIBE, DESCRIBE with credentials).
    Never raises for what the network or the camera does.
    """
    started = time.monotonic()
    try:
        target = _target(url, username, password)
        if target is None:
            result = ProbeResult(ProbeOutcome.NOT_APPLICABLE, "not probed: not rtsp://")
        else:
            result = _Probe(target, timeout_s).run()
    except _Failure as failure:
        result = ProbeResult(failure.outcome, failure.detail, failure.status_code)
    result = ProbeResult(
        result.outcome,
        redact_url(result.detail),
        result.status_code,
        round(time.monotonic() - started, 4),
        result.codec,
    )
    log.debug(
        "probe %s: %s (%s) in %.3f s",
        redact_url(_safe_uri(url)),
        result.outcome.value,
        result.detail,
        result.elapsed_s,
    )
    return result


def _safe_uri(url: str) -> str:
    try:
        parts = urlsplit(url)
        return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))
    except ValueError:
        return "(unparsable URL)"


def _target(url: str, username: str | None, password: str | None) -> _Target | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        # urlsplit's messages can quote the URL: say only what is wrong.
        raise _Failure(ProbeOutcome.UNREACHABLE, "host unreachable (bad address)") from None
    if parts.scheme.lower() != "rtsp":
        return None
    host = parts.hostname
    if not host:
        raise _Failure(ProbeOutcome.UNREACHABLE, "host unreachable (no host in the address)")
    if username is None and parts.username is not None:
        username = unquote(parts.username)
        if password is None and parts.password is not None:
            password = unquote(parts.password)
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    uri = urlunsplit(("rtsp", netloc, parts.path or "/", parts.query, ""))
    return _Target(host, port or DEFAULT_PORT, uri, username, password)


class _Probe:
    def __init__(self, target: _Target, timeout_s: float) -> None:
        self.target = target
        self.timeout_s = timeout_s
        self.sock: socket.socket | None = None
        self.buffer = bytearray()
        self.budget = MAX_REPLY_BYTES
        self.cseq = 0
        self.authorization: Callable[[str], str] | None = None

    def run(self) -> ProbeResult:
        try:
            self._connect()
            options = self._request("OPTIONS", "*")
            if options.status == 401:
                options = self._authenticate("OPTIONS", "*", options)
            describe = self._request("DESCRIBE", self.target.uri)
            if describe.status == 401:
                describe = self._authenticate("DESCRIBE", self.target.uri, describe)
            return _classify(describe)
        finally:
            self._close()

    # --- authentication -------------------------------------------------------------------

    def _authenticate(self, method: str, uri: str, reply: _Reply) -> _Reply:
        """Answer a 401 with the credentials, if there are any. A 401 to credentials is a wrong
        password, unless the camera says the nonce was stale: then once more."""
        if self.target.username is None:
            raise _Failure(
                ProbeOutcome.AUTH_FAILED, "the camera wants a user name and password", 401
            )
        for _ in range(2):
            if self.authorization is not None and not _stale(reply):
                raise _auth_failed()
            self.authorization = _authorizer(reply, self.target)
            reply = self._request(method, uri)
            if reply.status != 401:
                return reply
        raise _auth_failed()

    # --- the connection -------------------------------------------------------------------

    def _connect(self) -> None:
        self._close()
        deadline = time.monotonic() + self.timeout_s
        addresses = _resolve(self.target.host, self.target.port, self.timeout_s)
        refused = False
        for family, kind, proto, address in addresses:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            sock = socket.socket(family, kind, proto)
            sock.settimeout(remaining)
            try:
                sock.connect(address)
            except ConnectionRefusedError:
                refused = True
                sock.close()
                continue
            except OSError:
                sock.close()
                continue
            self.sock = sock
            self.buffer.clear()
            return
        if refused:
            raise _Failure(ProbeOutcome.REFUSED, "connection refused")
        raise _Failure(ProbeOutcome.UNREACHABLE, "host unreachable")

    def _close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _request(self, method: str, uri: str) -> _Reply:
        """Send ``method`` and read its reply; reconnect once if the camera had closed a
        connection it answered on before (some close after a 401)."""
        reused = self.sock is not None and self.cseq > 0
        try:
            return self._exchange(method, uri)
        except _Closed:
            self._close()
            if not reused:
                raise _Failure(
                    ProbeOutcome.NO_ANSWER, "no answer from the camera (it hung up)"
                ) from None
        try:
            return self._exchange(method, uri)
        except _Closed:
            self._close()
            raise _Failure(
                ProbeOutcome.NO_ANSWER, "no answer from the camera (it hung up)"
            ) from None

    def _exchange(self, method: str, uri: str) -> _Reply:
        if self.sock is None:
            self._connect()
        assert self.sock is not None
        self.cseq += 1
        lines = [f"{method} {uri} RTSP/1.0", f"CSeq: {self.cseq}", f"User-Agent: {USER_AGENT}"]
        if method == "DESCRIBE":
            lines.append("Accept: application/sdp")
        if self.authorization is not None:
            lines.append(f"Authorization: {self.authorization(method)}")
        deadline = time.monotonic() + self.timeout_s
        self.sock.settimeout(self.timeout_s)
        try:
            self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        except TimeoutError:
            raise _Failure(ProbeOutcome.NO_ANSWER, "no answer from the camera") from None
        except OSError:
            raise _Closed from None
        reply = self._read_reply(deadline)
        if (reply.header("connection") or "").lower() == "close":
            self._close()
        return reply

    def _read_reply(self, deadline: float) -> _Reply:
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end >= 0:
                break
            self._check_rtsp()
            self._receive(deadline, "no answer from the camera")
        self._check_rtsp()
        head = bytes(self.buffer[:end]).decode("latin-1")
        del self.buffer[: end + 4]
        status_line, *header_lines = head.split("\r\n")
        match = re.fullmatch(r"RTSP/\d\.\d (\d{3})(?: (.*))?", status_line.strip())
        if match is None:
            raise _Failure(ProbeOutcome.NOT_RTSP, "not an RTSP server")
        headers: list[tuple[str, str]] = []
        for line in header_lines:
            if line[:1] in (" ", "\t") and headers:  # a folded continuation line
                key, value = headers[-1]
                headers[-1] = (key, f"{value} {line.strip()}")
            elif ":" in line:
                key, _, value = line.partition(":")
                headers.append((key.strip().lower(), value.strip()))
        length = 0
        with contextlib.suppress(ValueError):
            length = max(0, int(_first(headers, "content-length") or "0"))
        while len(self.buffer) < length:
            if self.budget <= 0:
                break  # keep what fits: the status is known already
            self._receive(deadline, "no complete answer from the camera")
        body = bytes(self.buffer[:length])
        del self.buffer[:length]
        return _Reply(int(match.group(1)), match.group(2) or "", headers, body)

    def _check_rtsp(self) -> None:
        start = bytes(self.buffer[:5])
        if start and not b"RTSP/".startswith(start[: len(b"RTSP/")]):
            raise _Failure(ProbeOutcome.NOT_RTSP, "not an RTSP server")

    def _receive(self, deadline: float, silence: str) -> None:
        assert self.sock is not None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Failure(ProbeOutcome.NO_ANSWER, silence)
        if self.budget <= 0:
            raise _Failure(ProbeOutcome.NOT_RTSP, "not an RTSP server (answer too long)")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(min(self.budget, 16384))
        except TimeoutError:
            raise _Failure(ProbeOutcome.NO_ANSWER, silence) from None
        except OSError:
            raise _Closed from None
        if not chunk:
            raise _Closed
        self.budget -= len(chunk)
        self.buffer += chunk


class _Closed(Exception):
    """The camera closed or reset the connection."""


# family, type, protocol, socket address: what socket.getaddrinfo gives, less the canonical name
_Address = tuple[socket.AddressFamily, socket.SocketKind, int, tuple[Any, ...]]


def _first(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((value for key, value in headers if key == name), None)


def _resolve(host: str, port: int, timeout_s: float) -> list[_Address]:
    """getaddrinfo, bounded by ``timeout_s`` (a hung resolver is left to finish on its own)."""
    try:
        ipaddress.ip_address(host)
        literal = True
    except ValueError:
        literal = False

    def lookup() -> list[_Address]:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return [(family, kind, proto, address) for family, kind, proto, _, address in infos]

    if literal:
        try:
            return lookup()
        except OSError:
            raise _Failure(ProbeOutcome.UNREACHABLE, "host unreachable (bad address)") from None
    outcome: list[list[_Address]] = []
    errors: list[OSError] = []

    def run() -> None:
        try:
            outcome.append(lookup())
        except OSError as error:
            errors.append(error)

    worker = threading.Thread(target=run, name="rtsp-probe-lookup", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if outcome:
        return outcome[0]
    if errors and isinstance(errors[0], socket.gaierror) and errors[0].errno == socket.EAI_AGAIN:
        raise _Failure(ProbeOutcome.UNREACHABLE, "host unreachable (name lookup failed)")
    if errors:
        raise _Failure(ProbeOutcome.UNREACHABLE, "host unreachable (unknown host name)")
    raise _Failure(ProbeOutcome.UNREACHABLE, "host unreachable (name lookup timed out)")


# --- authentication ---------------------------------------------------------------------------

_HASHES: dict[str, Callable[[bytes], str]] = {
    "MD5": lambda data: hashlib.md5(data, usedforsecurity=False).hexdigest(),
    "SHA-256": lambda data: hashlib.sha256(data).hexdigest(),
}
_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?')


def parse_challenges(values: list[str]) -> list[tuple[str, dict[str, str]]]:
    """The challenges of WWW-Authenticate headers: ``[("digest", {"realm": ...}), ...]``."""
    challenges: list[tuple[str, dict[str, str]]] = []
    for value in values:
        rest = value.strip()
        while rest:
            scheme_match = re.match(r"([A-Za-z0-9_-]+)(?:\s+|$)", rest)
            if scheme_match is None:
                break
            rest = rest[scheme_match.end() :]
            params: dict[str, str] = {}
            while True:
                match = _PARAM.match(rest)
                if match is None:
                    break
                # A token followed by "=" starts a param; a token then a space is a new scheme.
                key, raw = match.group(1).lower(), match.group(2)
                if raw.startswith('"'):
                    raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
                params[key] = raw
                rest = rest[match.end() :]
            challenges.append((scheme_match.group(1).lower(), params))
            rest = rest.lstrip(", ")
    return challenges


def _stale(reply: _Reply) -> bool:
    """Whether a 401 to our Digest answer says only that the nonce went stale (RFC 7616
    3.3): the password was right, answer the new nonce. Nothing else earns a second try: each
    wrong try counts towards the camera's account lock-out."""
    return any(
        scheme == "digest" and params.get("stale", "").lower() == "true"
        for scheme, params in parse_challenges(reply.all("www-authenticate"))
    )


def _auth_failed() -> _Failure:
    return _Failure(ProbeOutcome.AUTH_FAILED, "wrong user name or password", 401)


def _authorizer(reply: _Reply, target: _Target) -> Callable[[str], str]:
    """The Authorization header maker for the first challenge we can answer (Digest before
    Basic)."""
    username, password = target.username or "", target.password or ""
    challenges = parse_challenges(reply.all("www-authenticate"))
    for scheme, params in challenges:
        algorithm = params.get("algorithm", "MD5").upper()
        session = algorithm.endswith("-SESS")
        base = algorithm.removesuffix("-SESS")
        if scheme == "digest" and base in _HASHES and "nonce" in params:
            return _digest(params, base, session, target)
    if any(scheme == "basic" for scheme, _ in challenges):
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        return lambda _method: f"Basic {token}"
    raise _Failure(
        ProbeOutcome.AUTH_FAILED, "the camera asks for a login method Beacon does not support", 401
    )


def _digest(
    params: dict[str, str], algorithm: str, session: bool, target: _Target
) -> Callable[[str], str]:
    """RFC 7616 (and 2617) Digest: qop=auth when offered, else the RFC 2069 form."""
    hash_hex = _HASHES[algorithm]
    realm, nonce = params.get("realm", ""), params["nonce"]
    qops = [q.strip() for q in params.get("qop", "").split(",") if q.strip()]
    qop = "auth" if "auth" in qops else ("auth-int" if "auth-int" in qops else None)
    username, password = target.username or "", target.password or ""
    user_field = username
    if params.get("userhash", "").lower() == "true":
        user_field = hash_hex(f"{username}:{realm}".encode())
    counter = 0

    def header(method: str) -> str:
        nonlocal counter
        counter += 1
        cnonce = os.urandom(8).hex()
        nc = f"{counter:08x}"
        ha1 = hash_hex(f"{username}:{realm}:{password}".encode())
        if session:
            ha1 = hash_hex(f"{ha1}:{nonce}:{cnonce}".encode())
        a2 = f"{method}:{target.uri}"
        if qop == "auth-int":
            a2 += ":" + hash_hex(b"")  # our requests have no body
        ha2 = hash_hex(a2.encode())
        if qop:
            response = hash_hex(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}".encode())
        else:
            response = hash_hex(f"{ha1}:{nonce}:{ha2}".encode())
        fields = [
            f'username="{_quote(user_field)}"',
            f'realm="{_quote(realm)}"',
            f'nonce="{_quote(nonce)}"',
            f'uri="{_quote(target.uri)}"',
            f'response="{response}"',
        ]
        if "algorithm" in params:
            fields.append(f"algorithm={params['algorithm']}")
        if "opaque" in params:
            fields.append(f'opaque="{_quote(params["opaque"])}"')
        if qop:
            fields += [f"qop={qop}", f"nc={nc}", f'cnonce="{cnonce}"']
        if user_field != username:
            fields.append("userhash=true")
        return "Digest " + ", ".join(fields)

    return header


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


# --- classification ---------------------------------------------------------------------------

_REASONS = {
    400: "bad request",
    403: "forbidden",
    405: "method not allowed",
    415: "unsupported media type",
    451: "parameter not understood",
    453: "not enough bandwidth",
    454: "session not found",
    455: "method not valid in this state",
    461: "unsupported transport",
    500: "camera error",
    501: "not implemented",
    502: "bad gateway",
    503: "camera busy",
    505: "RTSP version not supported",
}


def _classify(reply: _Reply) -> ProbeResult:
    if 200 <= reply.status < 300:
        codec = sdp_video_codec(reply.body.decode("utf-8", "replace"))
        return ProbeResult(ProbeOutcome.OK, codec or "ok", reply.status, codec=codec)
    if reply.status == 404:
        return ProbeResult(ProbeOutcome.NOT_FOUND, "stream not found (404)", 404)
    if reply.status == 401:  # pragma: no cover - _authenticate handles every 401
        return ProbeResult(ProbeOutcome.AUTH_FAILED, "wrong user name or password", 401)
    reason = _REASONS.get(reply.status, "unexpected answer")
    return ProbeResult(
        ProbeOutcome.OTHER, f"camera answered {reason} ({reply.status})", reply.status
    )


_CODEC_NAMES = {"h265": "h265", "hevc": "h265", "mp4v-es": "mpeg4", "jpeg": "mjpeg"}


def sdp_video_codec(sdp: str) -> str | None:
    """The encoding name of the first video stream of an SDP, lower case (``h264``)."""
    payloads: list[str] = []
    in_video = False
    for raw_line in sdp.splitlines():
        line = raw_line.strip()
        if line.startswith("m="):
            if in_video:
                break  # the first video section has ended
            fields = line[2:].split()
            in_video = bool(fields) and fields[0] == "video"
            payloads = fields[3:] if in_video else []
        elif in_video and line.startswith("a=rtpmap:"):
            number, _, encoding = line[len("a=rtpmap:") :].partition(" ")
            if payloads and number == payloads[0]:
                name = encoding.split("/")[0].strip().lower()
                return _CODEC_NAMES.get(name, name)
    if payloads and payloads[0] == "26":  # the static payload type of JPEG, without an rtpmap
        return "mjpeg"
    return None


__all__ = ["ProbeOutcome", "ProbeResult", "probe_rtsp", "sdp_video_codec"]

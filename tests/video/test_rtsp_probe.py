"""The RTSP probe against the real GStreamer server (Basic and Digest), hostile peers, and a small
scripted camera for the Digest variants GStreamer does not speak (qop=auth, MD5-sess, SHA-256,
stale nonces, hanging up after a 401)."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest

from app.video.rtsp_probe import ProbeOutcome, ProbeResult, probe_rtsp, sdp_video_codec
from tests.rtsp.fixtures import (
    SECURE_PASSWORD,
    SECURE_USERNAME,
    HttpInsteadOfRtsp,
    Mount,
    RtspClips,
    RtspServer,
    RtspServerFactory,
    SilentServer,
    StandardPaths,
    _LoopbackPeer,
)

DIGEST_USERNAME = "admin"
DIGEST_PASSWORD = 'd:g@st "pw"%'  # a colon, an at, quotes and a percent sign


def assert_no_secrets(result: ProbeResult, *secrets: str) -> None:
    text = f"{result!r} {result.detail}"
    for secret in secrets:
        for form in {secret, quote(secret, safe=""), quote(secret)}:
            assert form not in text, "a credential leaked into the probe's result"


# --- the real server ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "codec"), [(StandardPaths.SUB, "h264"), (StandardPaths.H265, "h265")]
)
def test_a_healthy_stream_is_ok_with_its_codec(rtsp_server: RtspServer, path: str, codec: str):
    result = probe_rtsp(rtsp_server.url(path))
    assert result.outcome is ProbeOutcome.OK
    assert (result.status_code, result.codec, result.detail) == (200, codec, codec)
    assert 0 < result.elapsed_s < 2.0


@pytest.mark.parametrize(
    ("password", "detail"),
    [
        ("Bad-pass1", "wrong user name or password"),
        (SECURE_PASSWORD[:-1], "wrong user name or password"),
        (None, "the camera wants a user name and password"),
    ],
    ids=["wrong", "almost", "none"],
)
def test_a_wrong_or_missing_password_is_an_authentication_failure(
    rtsp_server: RtspServer, password: str | None, detail: str
):
    url = (
        rtsp_server.url(StandardPaths.SECURE)
        if password is None
        else rtsp_server.url_with_credentials(StandardPaths.SECURE, password=password)
    )
    result = probe_rtsp(url)
    assert (result.outcome, result.status_code, result.detail) == (
        ProbeOutcome.AUTH_FAILED,
        401,
        detail,
    )
    assert_no_secrets(result, SECURE_PASSWORD, password or SECURE_PASSWORD, SECURE_USERNAME)


def test_the_right_password_opens_the_basic_mount_from_the_url(rtsp_server: RtspServer):
    # The password needs percent-encoding in a URL (%, @, !, :): the probe must decode it.
    result = probe_rtsp(rtsp_server.url_with_credentials(StandardPaths.SECURE))
    assert (result.outcome, result.codec) == (ProbeOutcome.OK, "h264")
    assert_no_secrets(result, SECURE_PASSWORD, SECURE_USERNAME)


def test_credentials_given_as_arguments_win_over_none_in_the_url(rtsp_server: RtspServer):
    url = rtsp_server.url(StandardPaths.SECURE)
    assert probe_rtsp(url, SECURE_USERNAME, SECURE_PASSWORD).outcome is ProbeOutcome.OK
    assert probe_rtsp(url, SECURE_USERNAME, "nope").outcome is ProbeOutcome.AUTH_FAILED


def test_a_missing_path_is_not_found(rtsp_server: RtspServer):
    result = probe_rtsp(f"rtsp://127.0.0.1:{rtsp_server.port}/no-such-stream")
    assert (result.outcome, result.status_code) == (ProbeOutcome.NOT_FOUND, 404)
    assert result.detail == "stream not found (404)"


@pytest.fixture
def digest_server(rtsp_clips: RtspClips, rtsp_server_factory: RtspServerFactory) -> RtspServer:
    return rtsp_server_factory(
        [
            Mount(
                "/cam",
                rtsp_clips.sub_stream,
                loop=True,
                username=DIGEST_USERNAME,
                password=DIGEST_PASSWORD,
            )
        ],
        auth="digest",
    )


def test_the_digest_server_really_asks_for_digest(digest_server: RtspServer):
    """Guards the tests below: they would pass against Basic too."""
    head = raw_exchange(digest_server.port, f"DESCRIBE {digest_server.url('/cam')} RTSP/1.0")
    assert head.startswith("RTSP/1.0 401")
    challenges = re.findall(r"(?im)^WWW-Authenticate:\s*(\w+)", head)
    assert challenges and {c.lower() for c in challenges} == {"digest"}


@pytest.mark.parametrize(
    ("password", "outcome"),
    [
        (DIGEST_PASSWORD, ProbeOutcome.OK),
        ("Bad-pass1", ProbeOutcome.AUTH_FAILED),
        (DIGEST_PASSWORD + "x", ProbeOutcome.AUTH_FAILED),
    ],
    ids=["right", "wrong", "longer"],
)
def test_digest_with_the_real_server(
    digest_server: RtspServer, password: str, outcome: ProbeOutcome
):
    result = probe_rtsp(digest_server.url_with_credentials("/cam", password=password))
    assert result.outcome is outcome
    assert_no_secrets(result, DIGEST_PASSWORD, password)


# --- network failures and hostile peers ---------------------------------------------------------


def test_a_closed_port_is_refused():
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    result = probe_rtsp(f"rtsp://127.0.0.1:{port}/stream")
    assert (result.outcome, result.detail) == (ProbeOutcome.REFUSED, "connection refused")
    assert result.elapsed_s < 1.0


def test_a_silent_server_is_no_answer_within_the_timeout():
    with SilentServer() as silent:
        started = time.monotonic()
        result = probe_rtsp(silent.url(), "user", "pw", timeout_s=1.0)
        elapsed = time.monotonic() - started
        assert silent.connections_accepted == 1
    assert (result.outcome, result.detail) == (ProbeOutcome.NO_ANSWER, "no answer from the camera")
    assert 1.0 <= elapsed < 2.0
    assert result.status_code is None


def test_a_web_server_is_not_rtsp():
    with HttpInsteadOfRtsp() as web:
        result = probe_rtsp(web.url())
        assert web.connections_accepted == 1
    assert (result.outcome, result.detail) == (ProbeOutcome.NOT_RTSP, "not an RTSP server")
    assert result.elapsed_s < 1.0


def test_a_name_that_cannot_resolve_is_unreachable():
    result = probe_rtsp("rtsp://user:secret@nonexistent.invalid/stream")
    assert result.outcome is ProbeOutcome.UNREACHABLE
    assert result.detail.startswith("host unreachable")
    assert_no_secrets(result, "secret")


@pytest.mark.parametrize(
    "url", ["rtsps://user:pw@127.0.0.1:1/stream", "http://127.0.0.1:1/", "file:///tmp/clip.mp4"]
)
def test_other_schemes_are_left_to_ffmpeg(url: str):
    result = probe_rtsp(url)
    assert result.outcome is ProbeOutcome.NOT_APPLICABLE
    assert_no_secrets(result, "pw")


class EndlessHeader(_LoopbackPeer):
    """Starts an RTSP reply and never ends its header."""

    def on_data(self, connection: socket.socket, received: bytearray) -> None:
        received.clear()
        connection.sendall(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nX-Padding: ")
        for _ in range(100):  # 100 KiB, more than the probe may read
            connection.sendall(b"a" * 1024)


def test_an_endless_reply_is_cut_off():
    with EndlessHeader() as peer:
        result = probe_rtsp(peer.url(), timeout_s=5.0)
    assert result.outcome is ProbeOutcome.NOT_RTSP
    assert result.elapsed_s < 2.0


# --- a scripted camera for Digest's variants ----------------------------------------------------


def digest_hash(algorithm: str, text: str) -> str:
    name = "sha256" if algorithm.upper().startswith("SHA-256") else "md5"
    return hashlib.new(name, text.encode()).hexdigest()


def expected_response(method: str, params: dict[str, str], password: str, algorithm: str) -> str:
    """RFC 2617 section 3.2.2.1 (and RFC 7616 section 3.4.1), written out independently."""
    ha1 = digest_hash(algorithm, f"{params['username']}:{params['realm']}:{password}")
    if algorithm.upper().endswith("-SESS"):
        ha1 = digest_hash(algorithm, f"{ha1}:{params['nonce']}:{params['cnonce']}")
    ha2 = digest_hash(algorithm, f"{method}:{params['uri']}")
    if "qop" in params:
        return digest_hash(
            algorithm,
            f"{ha1}:{params['nonce']}:{params['nc']}:{params['cnonce']}:{params['qop']}:{ha2}",
        )
    return digest_hash(algorithm, f"{ha1}:{params['nonce']}:{ha2}")


SDP = (
    "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\n"
    "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/16000\r\n"
    "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H265/90000\r\n"
)


@dataclass
class DigestCamera(_LoopbackPeer):
    """Asks for Digest on DESCRIBE and checks the answer with the RFC formula."""

    password: str = field(default=DIGEST_PASSWORD, repr=False)
    algorithm: str = "MD5"
    qop: str | None = "auth"
    stale_first: bool = False  # the first good answer is told its nonce went stale
    hang_up_after_401: bool = False
    authorizations: list[dict[str, str]] = field(default_factory=list)
    verdicts: list[bool] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()
        self._stale_sent = False

    def on_data(self, connection: socket.socket, received: bytearray) -> None:
        while b"\r\n\r\n" in received:
            end = received.index(b"\r\n\r\n")
            request = bytes(received[:end]).decode()
            del received[: end + 4]
            self._answer(connection, request)

    def _answer(self, connection: socket.socket, request: str) -> None:
        method = request.split(" ", 1)[0]
        cseq = re.search(r"(?im)^CSeq:\s*(\d+)", request)
        head = f"CSeq: {cseq.group(1) if cseq else 0}\r\n"
        if method == "OPTIONS":
            connection.sendall(
                f"RTSP/1.0 200 OK\r\n{head}Public: OPTIONS, DESCRIBE\r\n\r\n".encode()
            )
            return
        authorization = re.search(r"(?im)^Authorization:\s*Digest\s+(.*)$", request)
        if authorization is not None:
            params = dict(
                (key.lower(), quoted or plain)
                for key, quoted, plain in re.findall(
                    r'(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]+))', authorization.group(1)
                )
            )
            params = {key: re.sub(r"\\(.)", r"\1", value) for key, value in params.items()}
            self.authorizations.append(params)
            good = (
                params.get("response")
                == expected_response(method, params, self.password, self.algorithm)
                and params.get("username") == DIGEST_USERNAME
            )
            self.verdicts.append(good)
            if good and self.stale_first and not self._stale_sent:
                self._stale_sent = True
                self._challenge(connection, head, stale=True)
                return
            if good:
                body = SDP.encode()
                connection.sendall(
                    f"RTSP/1.0 200 OK\r\n{head}Content-Type: application/sdp\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                return
        self._challenge(connection, head, stale=False)

    def _challenge(self, connection: socket.socket, head: str, stale: bool) -> None:
        nonce = os.urandom(12).hex()
        qop = f', qop="{self.qop}"' if self.qop else ""
        connection.sendall(
            "RTSP/1.0 401 Unauthorized\r\n"
            f'{head}WWW-Authenticate: Basic realm="cam"\r\n'
            f'WWW-Authenticate: Digest realm="IP Camera(C123)", nonce="{nonce}", '
            f'algorithm={self.algorithm}{qop}, opaque="5ccc069c403ebaf9", '
            f"stale={'TRUE' if stale else 'FALSE'}\r\n"
            "Content-Length: 0\r\n\r\n".encode()
        )
        if self.hang_up_after_401:
            connection.shutdown(socket.SHUT_RDWR)


def camera_url(camera: DigestCamera, password: str = DIGEST_PASSWORD) -> str:
    userinfo = f"{quote(DIGEST_USERNAME, safe='')}:{quote(password, safe='')}"
    return f"rtsp://{userinfo}@127.0.0.1:{camera.port}/Streaming/Channels/101?transport=tcp"


@pytest.mark.parametrize(
    ("algorithm", "qop"),
    [("MD5", "auth"), ("MD5", None), ("MD5-sess", "auth"), ("SHA-256", "auth,auth-int")],
)
def test_digest_variants_are_answered_by_the_rfc_formula(algorithm: str, qop: str | None):
    with DigestCamera(algorithm=algorithm, qop=qop) as camera:
        result = probe_rtsp(camera_url(camera))
    assert (result.outcome, result.codec) == (ProbeOutcome.OK, "h265")
    assert camera.verdicts == [True], "Digest was answered once, correctly"
    (params,) = camera.authorizations
    assert params["uri"] == (
        f"rtsp://127.0.0.1:{camera.port}/Streaming/Channels/101?transport=tcp"
    ), "the digest URI is the request URI, without credentials"
    assert params["opaque"] == "5ccc069c403ebaf9"
    assert params.get("qop") == ("auth" if qop else None)


def test_a_wrong_digest_answer_is_an_authentication_failure_after_one_try():
    with DigestCamera() as camera:
        result = probe_rtsp(camera_url(camera, password="guess"))
    assert result.outcome is ProbeOutcome.AUTH_FAILED
    assert camera.verdicts == [False], "a wrong password is tried once, not again and again"
    assert_no_secrets(result, "guess", DIGEST_PASSWORD)


def test_a_stale_nonce_is_answered_again():
    with DigestCamera(stale_first=True) as camera:
        result = probe_rtsp(camera_url(camera))
    assert result.outcome is ProbeOutcome.OK
    assert camera.verdicts == [True, True]


def test_a_camera_that_hangs_up_after_the_challenge_is_asked_again_on_a_new_connection():
    with DigestCamera(hang_up_after_401=True) as camera:
        result = probe_rtsp(camera_url(camera))
        assert camera.connections_accepted == 2
    assert result.outcome is ProbeOutcome.OK


def test_credentials_never_reach_the_log(rtsp_server: RtspServer, caplog):
    caplog.set_level(logging.DEBUG, logger="app.video.rtsp_probe")
    urls = [
        rtsp_server.url_with_credentials(StandardPaths.SECURE),
        rtsp_server.url_with_credentials(StandardPaths.SECURE, password="Wr0ng-pa55"),
        f"rtsp://{SECURE_USERNAME}:{quote(SECURE_PASSWORD, safe='')}@nonexistent.invalid/x",
    ]
    for url in urls:
        probe_rtsp(url)
    assert len(caplog.records) == len(urls), "every probe is logged at debug level"
    text = caplog.text
    for form in (SECURE_PASSWORD, quote(SECURE_PASSWORD, safe=""), "Wr0ng-pa55"):
        assert form not in text


def test_the_codec_of_the_first_video_stream():
    assert sdp_video_codec(SDP) == "h265"
    assert sdp_video_codec("m=video 0 RTP/AVP 26\r\n") == "mjpeg"
    assert sdp_video_codec("m=audio 0 RTP/AVP 0\r\n") is None


def raw_exchange(port: int, request_line: str) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"{request_line}\r\nCSeq: 1\r\n\r\n".encode())
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
    return received.decode(errors="replace")

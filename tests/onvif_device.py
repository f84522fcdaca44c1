"""A small ONVIF camera on 127.0.0.1 for the discovery tests, speaking the real wire format.

- a **WS-Discovery responder**: a UDP socket that answers a ``Probe`` with a ``ProbeMatches``
  (WS-Discovery 2005/04, as ONVIF devices answer), related to the probe's MessageID; before it,
  it can send raw replies a test chooses (malformed XML, an entity-expansion bomb);
- an **ONVIF SOAP endpoint** over HTTP: the device service answers ``GetCapabilities`` with the
  media service's address, the media service answers ``GetProfiles`` (a main and a sub profile)
  and ``GetStreamUri`` with URIs on the real RTSP test server. Every SOAP call checks the
  WS-Security UsernameToken PasswordDigest; a wrong one gets the ONVIF fault ``NotAuthorized``.

Requests are parsed with defusedxml too: the simulator is no easier to attack than the client.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

import defusedxml.ElementTree

from app.services.onvif_discovery import (
    ONVIF_DEVICE,
    ONVIF_MEDIA,
    ONVIF_SCHEMA,
    SOAP_ENV,
    WSA,
    WSD,
    WSSE,
    WSU,
)

LOOPBACK = "127.0.0.1"
DEVICE_PATH = "/onvif/device_service"
MEDIA_PATH = "/onvif/media_service"

MALFORMED_REPLY = b"<s:Envelope xmlns:s='x'><s:Body><unclosed></s:Body>"
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
        for i in range(1, 10)
    )
    + b"]><lolz>&lol9;</lolz>"
)


@dataclass(frozen=True)
class SimulatedProfile:
    token: str
    name: str
    width: int
    height: int
    rtsp_uri: str
    encoding: str = "H264"


@dataclass
class SimulatedCamera:
    """What the simulated device says about itself."""

    profiles: list[SimulatedProfile]
    username: str = "admin"
    password: str = "onvif-Pa55:w&rd"
    name: str = "Front Door"
    hardware: str = "SimCam 4K"
    location: str = "Main Street"
    endpoint: str = "urn:uuid:6a1c0f3e-0d6a-4c53-9a5e-000000000001"
    # Sent before the real answer, with "{relates_to}" replaced by the probe's MessageID.
    extra_replies: list[bytes] = field(default_factory=list)
    answer_probes: bool = True
    uri_userinfo: str | None = None  # "user:pass" put into every stream URI it returns
    profiles_reply: bytes | None = None  # sent instead of the GetProfiles answer
    authenticated_calls: list[str] = field(default_factory=list)  # what it answered


def _digest(nonce: bytes, created: str, password: str) -> str:
    raw = hashlib.sha1(nonce + created.encode() + password.encode()).digest()
    return base64.b64encode(raw).decode()


class OnvifDeviceSimulator:
    """Start with ``with OnvifDeviceSimulator(camera) as device:``; ``device.discovery_target``
    is where to send the probe, ``device.service_url`` the device service."""

    def __init__(self, camera: SimulatedCamera) -> None:
        self.camera = camera
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.bind((LOOPBACK, 0))
        self._udp.settimeout(0.2)
        self._stopping = threading.Event()
        self._http = ThreadingHTTPServer((LOOPBACK, 0), self._handler())
        self._threads = [
            threading.Thread(target=self._answer_probes, name="onvif-sim-udp", daemon=True),
            threading.Thread(target=self._http.serve_forever, name="onvif-sim-http", daemon=True),
        ]
        self.probes_seen = 0

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stopping.set()
        self._http.shutdown()
        self._http.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._udp.close()

    @property
    def discovery_target(self) -> tuple[str, int]:
        return LOOPBACK, self._udp.getsockname()[1]

    @property
    def http_port(self) -> int:
        return int(self._http.server_address[1])

    @property
    def service_url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}{DEVICE_PATH}"

    # --- WS-Discovery ---------------------------------------------------------------------

    def _answer_probes(self) -> None:
        while not self._stopping.is_set():
            try:
                data, sender = self._udp.recvfrom(65_535)
            except TimeoutError:
                continue
            except OSError:
                return
            probe = defusedxml.ElementTree.fromstring(data, forbid_dtd=True)
            message_id = probe.findtext(f".//{{{WSA}}}MessageID")
            if probe.find(f".//{{{WSD}}}Probe") is None or message_id is None:
                continue
            self.probes_seen += 1
            for reply in self.camera.extra_replies:
                self._udp.sendto(reply.replace(b"{relates_to}", message_id.encode()), sender)
            if self.camera.answer_probes:
                self._udp.sendto(self.probe_matches(message_id), sender)

    def probe_matches(self, relates_to: str) -> bytes:
        camera = self.camera
        scopes = " ".join(
            f"onvif://www.onvif.org/{kind}/{value.replace(' ', '%20')}"
            for kind, value in (
                ("type", "video_encoder"),
                ("Profile", "Streaming"),
                ("name", camera.name),
                ("hardware", camera.hardware),
                ("location", camera.location),
            )
        )
        return (
            f'<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP_ENV}" '
            f'xmlns:wsa="{WSA}" xmlns:d="{WSD}" xmlns:dn="http://www.onvif.org/ver10/network/wsdl">'
            "<SOAP-ENV:Header>"
            "<wsa:MessageID>urn:uuid:0b5a3c2e-5d7f-4b8e-9a11-7f3e2c1d0a99</wsa:MessageID>"
            f"<wsa:RelatesTo>{relates_to}</wsa:RelatesTo>"
            f"<wsa:To>{WSA}/role/anonymous</wsa:To>"
            f"<wsa:Action>{WSD}/ProbeMatches</wsa:Action>"
            "</SOAP-ENV:Header><SOAP-ENV:Body><d:ProbeMatches><d:ProbeMatch>"
            f"<wsa:EndpointReference><wsa:Address>{camera.endpoint}</wsa:Address>"
            "</wsa:EndpointReference>"
            "<d:Types>dn:NetworkVideoTransmitter</d:Types>"
            f"<d:Scopes>{scopes}</d:Scopes>"
            f"<d:XAddrs>{self.service_url}</d:XAddrs>"
            "<d:MetadataVersion>1</d:MetadataVersion>"
            "</d:ProbeMatch></d:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>"
        ).encode()

    # --- ONVIF SOAP -----------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        simulator = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                status, body = simulator.answer(self.path, self.rfile.read(length))
                self.send_response(status)
                self.send_header("Content-Type", "application/soap+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet: pytest shows what failed

        return Handler

    def answer(self, path: str, data: bytes) -> tuple[int, bytes]:
        request = defusedxml.ElementTree.fromstring(data, forbid_dtd=True)
        if not self._authorized(request):
            return 400, self._fault("ter:NotAuthorized", "Sender not Authorized")
        body = request.find(f"{{{SOAP_ENV}}}Body")
        call = body[0] if body is not None and len(body) else None
        if call is None:
            return 400, self._fault("ter:InvalidArgVal", "empty body")
        name = call.tag.rpartition("}")[2]
        answers = {
            (DEVICE_PATH, "GetCapabilities"): self._capabilities,
            (MEDIA_PATH, "GetProfiles"): self._profiles,
            (MEDIA_PATH, "GetStreamUri"): self._stream_uri,
        }
        answer = answers.get((path, name))
        if answer is None:
            return 400, self._fault("ter:ActionNotSupported", f"{name} is not supported")
        self.camera.authenticated_calls.append(name)
        if name == "GetProfiles" and self.camera.profiles_reply is not None:
            return 200, self.camera.profiles_reply
        return 200, self._envelope(answer(call))

    def _authorized(self, request: Element) -> bool:
        token = request.find(f".//{{{WSSE}}}UsernameToken")
        if token is None:
            return False
        nonce = base64.b64decode(token.findtext(f"{{{WSSE}}}Nonce") or "")
        created = token.findtext(f"{{{WSU}}}Created") or ""
        expected = _digest(nonce, created, self.camera.password)
        return (
            token.findtext(f"{{{WSSE}}}Username") == self.camera.username
            and token.findtext(f"{{{WSSE}}}Password") == expected
        )

    def _capabilities(self, _call: Element) -> str:
        media = f"http://{LOOPBACK}:{self.http_port}{MEDIA_PATH}"
        return (
            f'<tds:GetCapabilitiesResponse xmlns:tds="{ONVIF_DEVICE}" xmlns:tt="{ONVIF_SCHEMA}">'
            f"<tds:Capabilities><tt:Media><tt:XAddr>{media}</tt:XAddr></tt:Media>"
            "</tds:Capabilities></tds:GetCapabilitiesResponse>"
        )

    def _profiles(self, _call: Element) -> str:
        profiles = "".join(
            f'<trt:Profiles token="{p.token}" fixed="true"><tt:Name>{p.name}</tt:Name>'
            f'<tt:VideoEncoderConfiguration token="enc-{p.token}"><tt:Name>{p.name}</tt:Name>'
            f"<tt:Encoding>{p.encoding}</tt:Encoding><tt:Resolution><tt:Width>{p.width}"
            f"</tt:Width><tt:Height>{p.height}</tt:Height></tt:Resolution>"
            "</tt:VideoEncoderConfiguration></trt:Profiles>"
            for p in self.camera.profiles
        )
        return (
            f'<trt:GetProfilesResponse xmlns:trt="{ONVIF_MEDIA}" xmlns:tt="{ONVIF_SCHEMA}">'
            f"{profiles}</trt:GetProfilesResponse>"
        )

    def _stream_uri(self, call: Element) -> str:
        token = call.findtext(f"{{{ONVIF_MEDIA}}}ProfileToken")
        profile = next(p for p in self.camera.profiles if p.token == token)
        uri = profile.rtsp_uri
        if self.camera.uri_userinfo is not None:
            uri = uri.replace("rtsp://", f"rtsp://{self.camera.uri_userinfo}@", 1)
        return (
            f'<trt:GetStreamUriResponse xmlns:trt="{ONVIF_MEDIA}" xmlns:tt="{ONVIF_SCHEMA}">'
            f"<trt:MediaUri><tt:Uri>{escape(uri)}</tt:Uri><tt:InvalidAfterConnect>false"
            "</tt:InvalidAfterConnect><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri>"
            "</trt:GetStreamUriResponse>"
        )

    @staticmethod
    def _envelope(body: str) -> bytes:
        return (
            f'<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="{SOAP_ENV}">'
            f"<env:Body>{body}</env:Body></env:Envelope>"
        ).encode()

    @staticmethod
    def _fault(subcode: str, reason: str) -> bytes:
        return (
            f'<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="{SOAP_ENV}" '
            'xmlns:ter="http://www.onvif.org/ver10/error"><env:Body><env:Fault>'
            "<env:Code><env:Value>env:Sender</env:Value><env:Subcode>"
            f"<env:Value>{subcode}</env:Value></env:Subcode></env:Code>"
            f'<env:Reason><env:Text xml:lang="en">{reason}</env:Text></env:Reason>'
            "</env:Fault></env:Body></env:Envelope>"
        ).encode()

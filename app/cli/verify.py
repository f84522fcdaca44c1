"""``beacon verify CAMERA_ID|URL|FILE``: the field technician's install check, headless.
``beacon verify --discover`` lists the ONVIF cameras that answer on the local network.

Checks a registry camera (main and sub stream, through the policy gate: sign in as a field
technician with ``--as``), a stream URL, or a local video file, for a stability run of
``--duration`` seconds, and prints a table of pass / warn / fail checks with their thresholds,
or one JSON object with ``--json``. Exit status: 0 when every check passed, 1 when one warned or
failed, 2 when the check could not run (bad input, unknown camera, denied, wrong password).
Passwords are asked for (never arguments) and kept in the keyring once the camera accepted them.
With ``--discover``: 0 when a device answered, 1 when none did, 2 when no probe could be sent.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any

from app.cli.context import CommandContext, CommandError, os_actor
from app.models.camera import Camera
from app.services.accounts import SignedInUser, SignInError, sign_in
from app.services.credentials import (
    CameraCredentials,
    CredentialStore,
    CredentialStoreError,
    InsecureKeyringError,
)
from app.services.install_check import (
    DEFAULT_DURATION_S,
    InstallCheck,
    InstallCheckError,
    InstallCheckReport,
    StreamReport,
    parse_target,
)
from app.services.onvif_discovery import (
    DEFAULT_TIMEOUT_S,
    WS_DISCOVERY_MULTICAST,
    DiscoveryResult,
    OnvifError,
    discover,
)
from app.services.policy_gate import PolicyGate
from app.video.install_probe import StreamName

STREAMS: dict[str, tuple[StreamName, ...]] = {
    "main": ("main",),
    "sub": ("sub",),
    "both": ("main", "sub"),
}
EPILOG = (
    "A registry camera is checked for the purpose install:CAMERA_ID, which the policy gate "
    "allows field technicians only (give --as; the password is asked for); the check is audited "
    "as a feed open. A URL or file is audited as a stream check. Exit status: 0 pass, 1 warn or "
    "fail, 2 could not run. With --discover: 0 devices found, 1 none answered, 2 no probe sent."
)


def register(subcommands: Any, common: argparse.ArgumentParser) -> None:
    verify = subcommands.add_parser(
        "verify",
        parents=[common],
        help="check a camera's streams on install: codec, resolution, fps, bitrate, key frames",
        description=__doc__.splitlines()[0] if __doc__ else None,
        epilog=EPILOG,
    )
    verify.add_argument("target", metavar="CAMERA_ID|URL|FILE", nargs="?", help="what to check")
    verify.add_argument(
        "--discover",
        action="store_true",
        help="list the ONVIF cameras that answer a WS-Discovery probe instead of checking",
    )
    verify.add_argument(
        "--timeout",
        type=_discovery_seconds,
        default=DEFAULT_TIMEOUT_S,
        metavar="S",
        help=f"how long --discover waits for answers (default {DEFAULT_TIMEOUT_S:g} s)",
    )
    verify.add_argument(
        "--probe-address",
        type=_probe_address,
        default=WS_DISCOVERY_MULTICAST,
        metavar="HOST[:PORT]",
        help="send the --discover probe to one device instead of the local network's multicast "
        f"group {WS_DISCOVERY_MULTICAST[0]}:{WS_DISCOVERY_MULTICAST[1]}",
    )
    verify.add_argument(
        "--duration",
        type=_seconds,
        default=DEFAULT_DURATION_S,
        metavar="S",
        help=f"length of the stability run in seconds (default {DEFAULT_DURATION_S:g})",
    )
    verify.add_argument(
        "--stream",
        choices=sorted(STREAMS),
        default="both",
        help="which of a camera's streams to check (default both; a URL or file is one stream)",
    )
    verify.add_argument("--json", action="store_true", help="print one JSON object")
    verify.add_argument(
        "--as", dest="as_user", metavar="USERNAME", help="the Beacon user checking (field tech)"
    )
    verify.set_defaults(handler=run_verify)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError("the duration must be more than 0 and at most 3600 s")
    return value


def _discovery_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 60:
        raise argparse.ArgumentTypeError(
            "the discovery timeout must be more than 0 and at most 60 s"
        )
    return value


def _probe_address(text: str) -> tuple[str, int]:
    host, colon, port = text.rpartition(":")
    if not colon:
        return text, WS_DISCOVERY_MULTICAST[1]
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST or HOST:PORT")
    return host, int(port)


def _ask_credentials(prompt: str) -> CameraCredentials | None:
    if not sys.stdin.isatty():
        return None  # nobody to ask (a script): the check says the camera wants a password
    print(prompt, file=sys.stderr)
    username = input("User name: ").strip()
    if not username:
        return None
    return CameraCredentials(username, getpass.getpass("Password: "))


def _require_camera(context: CommandContext, camera_id: str, as_user: str | None) -> None:
    """Say what is wrong with a camera id before asking for a password."""
    with context.sessions()() as session:
        if session.get(Camera, camera_id) is None:
            raise CommandError(
                f"no camera {camera_id!r} in the registry, and no file or stream URL by that "
                "name (a URL looks like rtsp://HOST[:PORT]/PATH)"
            )
    if as_user is None:
        raise CommandError(
            f"checking camera {camera_id} opens its owner's feed: sign in as a field technician "
            "with --as USERNAME"
        )


def _sign_in(context: CommandContext, username: str) -> SignedInUser:
    password = getpass.getpass(f"Beacon password of {username}: ")
    with context.sessions()() as session:
        try:
            return sign_in(session, context.audit_log(), username, password)
        except SignInError as exc:
            raise CommandError(str(exc)) from None


def run_verify(context: CommandContext, args: argparse.Namespace) -> int:
    if args.discover:
        if args.target is not None:
            raise CommandError("--discover lists cameras; give it no CAMERA_ID, URL or FILE")
        return run_discover(args)
    if args.target is None:
        raise CommandError("name a camera id, a stream URL or a video file to check, or --discover")
    try:
        target = parse_target(args.target)
    except InstallCheckError as exc:
        raise CommandError(str(exc)) from None
    if target.kind == "camera":
        _require_camera(context, target.value, args.as_user)
    actor: SignedInUser | str = (
        _sign_in(context, args.as_user) if args.as_user is not None else os_actor()
    )
    if target.kind != "camera" and args.stream == "sub":
        raise CommandError(
            "a URL or a file is one stream (reported as main); --stream sub needs a camera id"
        )
    settings = context.settings
    streams = STREAMS[args.stream] if target.kind == "camera" else ("main",)
    try:
        # A camera's lease reads its credentials at connect time: the keyring is needed at
        # once. A URL or file needs it only for a password.
        gate = (
            PolicyGate(
                context.sessions(),
                context.audit_log(),
                CredentialStore.for_settings(settings),
                context.clock,
            )
            if target.kind == "camera"
            else None
        )
        check = InstallCheck(
            gate,
            context.audit_log(),
            lambda: CredentialStore.for_settings(settings),
            context.clock,
            ask_credentials=_ask_credentials,
        )
        if not args.json:
            what = " and ".join(streams)
            print(f"checking {what} for {args.duration:g} s…", file=sys.stderr, flush=True)
        if gate is not None:
            gate.start()  # a revocation during the run ends the lease, and the check
        try:
            report = check.run(target, actor, streams=streams, duration_s=args.duration)
        finally:
            if gate is not None:
                gate.stop()
    except (InstallCheckError, InsecureKeyringError, CredentialStoreError) as exc:
        raise CommandError(str(exc)) from None
    print(json.dumps(report.to_dict(), indent=2) if args.json else as_table(report))
    return 0 if report.verdict.value == "pass" else 1


def run_discover(args: argparse.Namespace) -> int:
    host, port = args.probe_address
    if not args.json:
        print(f"probing {host}:{port} for {args.timeout:g} s…", file=sys.stderr, flush=True)
    try:
        result = discover(args.timeout, args.probe_address)
    except OnvifError as exc:
        raise CommandError(str(exc)) from None
    if args.json:
        print(json.dumps(discovery_dict(result), indent=2))
    else:
        print(discovery_table(result))
    for refusal in result.refused:
        print(refusal, file=sys.stderr)
    return 0 if result.devices else 1


def discovery_dict(result: DiscoveryResult) -> dict[str, Any]:
    return {
        "devices": [device.to_dict() for device in result.devices],
        "refused": list(result.refused),
        "timeout_s": result.timeout_s,
        "probe_address": f"{result.target[0]}:{result.target[1]}",
    }


def discovery_table(result: DiscoveryResult) -> str:
    rows = [
        (
            device.name or "",
            device.hardware or "",
            device.location or "",
            device.service_url or " ".join(device.xaddrs),
        )
        for device in result.devices
    ]
    if not rows:
        return result.summary
    header = ("name", "hardware", "location", "device service")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    lines = [result.summary, ""]
    lines += [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines)


def as_table(report: InstallCheckReport) -> str:
    lines = [
        f"{report.kind} {report.address}: {report.verdict.value.upper()}"
        + (f" (stopped: {report.stopped_reason})" if report.stopped_reason else ""),
    ]
    for stream in report.streams:
        lines += ["", *_stream_table(stream)]
    return "\n".join(lines)


def _stream_table(stream: StreamReport) -> list[str]:
    rows = [
        (check.name, check.value, check.status.value.upper(), check.threshold)
        for check in stream.checks
    ]
    header = ("check", "measured", "result", "threshold")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    title = f"{stream.measurement.stream} stream {stream.measurement.address}: "
    title += stream.verdict.value.upper()
    return [
        title,
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(header)).rstrip(),
        *("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows),
    ]

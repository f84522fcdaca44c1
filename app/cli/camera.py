"""``beacon camera set-stream``: a camera's stream URLs, credentials split off into the keyring.

Installers paste URLs as cameras print them, password included (``rtsp://admin:pw@host/...``).
The credentials go to the keyring; the database keeps the URL without them; what is printed and
audited is redacted.
"""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy import select

from app.cli.context import CommandContext, CommandError, os_actor
from app.models.audit_chain import AuditEventType
from app.models.camera import Camera, CameraTier
from app.models.stream_url import check_stream_url, redact_url, split_credentials
from app.services.credentials import CameraCredentials, CredentialStore


def register(subcommands: Any, common: argparse.ArgumentParser) -> None:
    camera = subcommands.add_parser("camera", help="change a camera's streams")
    actions = camera.add_subparsers(title="camera commands", metavar="ACTION", required=True)
    streams = actions.add_parser(
        "set-stream",
        parents=[common],
        help="set main (and sub) stream URLs; credentials in them go to the keyring",
    )
    streams.add_argument("camera_id")
    streams.add_argument("--main", required=True, help="main stream URL")
    streams.add_argument("--sub", help="sub stream URL (lower resolution)")
    streams.set_defaults(handler=run_set_stream)


def _split(label: str, url: str) -> tuple[str, CameraCredentials | None]:
    clean, username, password = split_credentials(url)
    try:
        check_stream_url(clean)
    except ValueError as exc:
        raise CommandError(f"{label} stream {redact_url(url)}: {exc}") from None
    if username is None and password is None:
        return clean, None
    return clean, CameraCredentials(username or "", password or "")


def run_set_stream(context: CommandContext, args: argparse.Namespace) -> int:
    main_url, main_credentials = _split("main", args.main)
    sub_url, sub_credentials = _split("sub", args.sub) if args.sub else (None, None)
    if main_credentials and sub_credentials and main_credentials != sub_credentials:
        raise CommandError(
            "the main and sub stream URLs carry different credentials; a camera "
            "has one user name and password"
        )
    credentials = main_credentials or sub_credentials
    store = CredentialStore.for_settings(context.settings) if credentials else None
    with context.sessions()() as session:
        camera = session.scalar(select(Camera).where(Camera.id == args.camera_id))
        if camera is None:
            raise CommandError(f"no camera {args.camera_id!r} in the registry")
        if camera.tier is not CameraTier.INTEGRATED:
            raise CommandError(
                f"camera {camera.id} is registered only: it has no streams (integrate it first)"
            )
        context.audit_log().record(
            AuditEventType.CAMERA_CHANGED,
            actor=os_actor(),
            subject=camera.name,
            camera_id=camera.id,
            details={
                "main_stream_url": main_url,
                "sub_stream_url": sub_url,
                "credentials_changed": credentials is not None,
            },
        )
        if store is not None and credentials is not None:
            store.set(camera.id, credentials)
        camera.main_stream_url = main_url
        camera.sub_stream_url = sub_url
        session.commit()
    print(f"camera {args.camera_id}: main {main_url}" + (f", sub {sub_url}" if sub_url else ""))
    if store is not None:
        print(f"credentials stored in the keyring ({store.backend_name}), not in the registry")
    return 0

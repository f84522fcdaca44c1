"""Owners' upload links: each footage request registered with the evidence server first.

A request e-mailed while a server is configured (``[sync] server_url``) carries a link to the
server's upload page, where the owner sends the video (or declines) without an account; the
server puts what arrives in its evidence vault. ``ServerUploadLinks.link_for`` registers one
request (``POST /v1/footage-requests``) and returns its link. The link is a secret the server
keeps only as a hash and this workstation never stores: it goes into the owner's e-mail and
nowhere else (no audit event, log line or error text). Registering a request again, after a
mail that could not be sent, gives a fresh link and ends the old one, which nobody received.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Protocol

from app.models.camera import Camera
from app.models.footage_request import FootageRequest
from app.models.incident import Incident
from app.services.credentials import CredentialStore
from app.services.sync_link import (
    ServerLink,
    ServerUnreachable,
    SyncConnection,
    SyncStalled,
    TokenSource,
    refusal_text,
    required_token,
    sync_token_name,
)
from app.settings import Settings


class UploadLinkError(Exception):
    """No upload link could be made; the message says why and what to do (safe to show)."""


class UploadLinks(Protocol):
    def link_for(
        self,
        request: FootageRequest,
        camera: Camera,
        incident: Incident,
        time_zone: str,
        expires_at: datetime,
    ) -> str:
        """The owner's upload link for ``request``, valid until ``expires_at``; raises
        ``UploadLinkError``."""
        ...


class ServerUploadLinks:
    """Upload links from the evidence server, over one connection for one sending job."""

    def __init__(self, connection: SyncConnection, token: TokenSource) -> None:
        self._link = ServerLink(connection)
        self._token = token
        self._server = connection.server_url

    def link_for(
        self,
        request: FootageRequest,
        camera: Camera,
        incident: Incident,
        time_zone: str,
        expires_at: datetime,
    ) -> str:
        registration = {
            "reference": request.reference,
            "cad_number": incident.cad_number,
            "incident_type": incident.incident_type or "Incident",
            "camera_id": camera.id,
            "camera_name": camera.name or camera.id,
            "window_start": request.window_start.isoformat(),
            "window_end": request.window_end.isoformat(),
            "time_zone": time_zone,
            "expires_at": expires_at.isoformat(),
        }
        try:
            token = required_token(self._token, "the evidence server")
            answer = self._link.request(
                "POST",
                "/v1/footage-requests",
                token,
                json.dumps(registration).encode("utf-8"),
            )
        except ServerUnreachable as exc:
            raise UploadLinkError(
                f"the evidence server at {self._server} cannot make the upload link ({exc}); "
                "try sending again when it is reachable"
            ) from None
        except SyncStalled as exc:
            raise UploadLinkError(f"{exc.reason}: {exc.detail}") from None
        if answer.status in (200, 201):
            url = answer.body.get("upload_url") if isinstance(answer.body, dict) else None
            if isinstance(url, str) and url:
                return url
            raise UploadLinkError(
                f"the evidence server gave no upload link for {request.reference}"
            )
        raise UploadLinkError(
            refusal_text(answer, forbidden="register footage requests", refused=request.reference)
        )

    def close(self) -> None:
        self._link.close()


def server_upload_links(
    settings: Settings, credentials: CredentialStore
) -> ServerUploadLinks | None:
    """Upload links from the server ``[sync]`` names, with the workstation's token from the
    keyring; None when no server is configured (the owner replies by e-mail)."""
    connection = SyncConnection.from_settings(settings)
    if connection is None:
        return None
    name = sync_token_name(settings)
    return ServerUploadLinks(connection, lambda: credentials.get_secret(name))

"""An owner's upload cut off half-way on a real connection to the real server (uvicorn on
127.0.0.1), then resumed from where the server says it stopped: the stored file is the original,
byte for byte."""

from __future__ import annotations

import hashlib
import socket
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from server.database import create_server_engine, session_factory
from server.models import TokenRole
from server.tokens import issue_token, register_workstation
from tests.server.conftest import footage_request
from tests.sync_server import ThreadServer, wait_for


@pytest.fixture(scope="module")
def noisy_clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """About 6 MB of real H.264 (lossless noise): several vault segments and page chunks."""
    path = tmp_path_factory.mktemp("clips") / "noisy.mp4"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         "testsrc2=size=320x240:rate=25", "-t", "2", "-vf", "noise=alls=40:allf=t",
         "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", str(path)],
        check=True,
    )  # fmt: skip
    return path.read_bytes()


def issue_workstation_token(db_url: str) -> str:
    engine = create_server_engine(db_url)
    try:
        with session_factory(engine).begin() as session:
            now = datetime.now(UTC)
            register_workstation(session, "rtcc-ws-03", now)
            return issue_token(
                session, TokenRole.WORKSTATION, now, timedelta(days=1), workstation_id="rtcc-ws-03"
            ).secret
    finally:
        engine.dispose()


@pytest.fixture
def live_vault(
    tmp_path: Path, vault_settings: dict[str, Any]
) -> Iterator[tuple[ThreadServer, str]]:
    db_url = f"sqlite:///{tmp_path / 'server.sqlite3'}"
    server = ThreadServer(db_url, **vault_settings).start()
    try:
        yield server, issue_workstation_token(db_url)
    finally:
        server.stop()


def register_link(server: ThreadServer, token: str) -> str:
    expires = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    answer = httpx.post(
        f"{server.url}/v1/footage-requests",
        json=footage_request(expires_at=expires),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 201, answer.text
    link: str = answer.json()["upload_url"]
    assert link.startswith(server.url + "/upload/")
    return link


def send_cut_off(server: ThreadServer, path: str, data: bytes, size: int, sent: int) -> None:
    """A PUT that promises the whole of ``data`` and sends only ``sent`` bytes, then the
    connection drops (what a phone leaving Wi-Fi does)."""
    head = (
        f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Content-Range: bytes 0-{len(data) - 1}/{size}\r\n"
        f"Content-Length: {len(data)}\r\nContent-Type: application/octet-stream\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(head + data[:sent])
        connection.shutdown(socket.SHUT_WR)


def test_a_cut_off_upload_resumes_where_it_stopped(
    live_vault: tuple[ThreadServer, str], noisy_clip: bytes
):
    server, token = live_vault
    link = register_link(server, token)
    files = link + "/files"
    size = len(noisy_clip)
    upload_id = httpx.post(files, json={"name": "night.mp4", "size": size}).json()["upload_id"]
    where = f"{files}/{upload_id}"
    sent = size * 3 // 5  # not on a segment boundary
    send_cut_off(server, where.removeprefix(server.url), noisy_clip, size, sent)

    def offset() -> int:
        answer = httpx.head(where)
        return int(answer.headers["Upload-Offset"])

    wait_for(lambda: offset() == sent, 30, "the server's record of the bytes that arrived")
    rest = httpx.put(
        where,
        content=noisy_clip[sent:],
        headers={"Content-Range": f"bytes {sent}-{size - 1}/{size}"},
    )
    assert rest.status_code == 200, rest.text
    assert rest.json()["sha256"] == hashlib.sha256(noisy_clip).hexdigest()
    assert httpx.post(link + "/done").status_code == 200
    listed = httpx.get(
        f"{server.url}/v1/incidents/2026-004512/evidence",
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    [item] = listed["evidence"]
    assert item["sha256"] == hashlib.sha256(noisy_clip).hexdigest()
    stored = httpx.get(
        f"{server.url}/v1/evidence/{item['id']}/content",
        params={"purpose": "incident:2026-004512"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert stored.content == noisy_clip

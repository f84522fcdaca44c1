"""An owner answering a footage request through the upload link, the way the page's script
talks to the server: shared by the server's tests (a TestClient) and the console's (a client
of the real server on loopback)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Generic, Protocol, TypeVar
from urllib.parse import urlsplit

import httpx2 as httpx


class UploadServer(Protocol):
    """Where the owner's requests go: anything with an HTTP client for the server's pages."""

    @property
    def client(self) -> httpx.Client: ...


ServerT = TypeVar("ServerT", bound=UploadServer)


class Owner(Generic[ServerT]):
    """An owner with an upload link, talking to the server the way the page's script does."""

    def __init__(self, server: ServerT, link: str) -> None:
        self.server = server
        self.link = link
        self.token = link.rsplit("/", 1)[1]
        self.base = f"/upload/{self.token}"

    def open(self, name: str, size: int) -> httpx.Response:
        return self.server.client.post(f"{self.base}/files", json={"name": name, "size": size})

    def put(self, upload_id: str, data: bytes, first: int, size: int) -> httpx.Response:
        last = first + len(data) - 1
        return self.server.client.put(
            f"{self.base}/files/{upload_id}",
            content=data,
            headers={"Content-Range": f"bytes {first}-{last}/{size}"},
        )

    def send(self, name: str, data: bytes, chunk: int = 4096) -> httpx.Response:
        opened = self.open(name, len(data))
        assert opened.status_code == 201, opened.text
        upload_id = opened.json()["upload_id"]
        answer = opened
        for first in range(0, len(data), chunk):
            answer = self.put(upload_id, data[first : first + chunk], first, len(data))
            assert answer.status_code in (200, 422), answer.text
        return answer

    def page(self) -> httpx.Response:
        return self.server.client.get(self.base)

    def done(self) -> httpx.Response:
        return self.server.client.post(f"{self.base}/done")

    def decline(self, reason: str) -> httpx.Response:
        return self.server.client.post(f"{self.base}/decline", data={"reason": reason})


class UploadPage:
    """The real server's upload page on loopback (``tests.sync_server.ThreadServer``), for an
    owner who got the link by e-mail."""

    def __init__(self, link: str) -> None:
        parts = urlsplit(link)
        self.client = httpx.Client(base_url=f"{parts.scheme}://{parts.netloc}", timeout=30)

    def close(self) -> None:
        self.client.close()


def video_file(path: Path, seconds: float = 3, rate: int = 15, size: str = "320x240") -> Path:
    """A real H.264 MP4 made by ffmpeg (a key frame every 5 frames), as owners send them."""
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         f"testsrc=size={size}:rate={rate}", "-t", str(seconds), "-c:v", "libx264",
         "-pix_fmt", "yuv420p", "-g", "5", str(path)],
        check=True,
    )  # fmt: skip
    return path

"""A real XYZ tile server on 127.0.0.1 for the basemap tests and bench/map.py.

Paths (``{z}/{x}/{y}`` after the prefix):

- ``/png/{z}/{x}/{y}.png``: a 256x256 PNG whose colour encodes the tile (red = z, green = x % 256,
  blue = y % 256), so a test can tell which tile it was given;
- ``/garbage/...``: HTTP 200 with bytes that are no image;
- ``/missing/...``: HTTP 404;
- ``/hang/...``: accepts the request and never answers (until the server stops).

Every request's path and User-Agent are recorded.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np

TILE = re.compile(r"^/(?P<kind>\w+)/(?P<z>\d+)/(?P<x>\d+)/(?P<y>\d+)\.png$")
GARBAGE = b"\x00\x01 this is not an image, it is garbage \xff\xfe" * 8


def tile_colour(z: int, x: int, y: int) -> tuple[int, int, int]:
    """(red, green, blue) of the PNG served for a tile."""
    return z * 10 % 256, x % 256, y % 256


def tile_png(z: int, x: int, y: int) -> bytes:
    red, green, blue = tile_colour(z, x, y)
    image = np.empty((256, 256, 3), np.uint8)
    image[:] = (blue, green, red)  # OpenCV writes BGR
    ok, encoded = cv2.imencode(".png", image)
    assert ok
    return encoded.tobytes()


@dataclass
class TileServer:
    port: int
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, user agent)
    release: threading.Event = field(default_factory=threading.Event)

    def url(self, kind: str) -> str:
        return f"http://127.0.0.1:{self.port}/{kind}/{{z}}/{{x}}/{{y}}.png"

    def paths(self, kind: str) -> list[str]:
        return [path for path, _ in self.requests if path.startswith(f"/{kind}/")]


@contextmanager
def running_tile_server() -> Iterator[TileServer]:
    server_state: TileServer | None = None

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the tests read ``requests`` instead."""

        def do_GET(self) -> None:
            assert server_state is not None
            server_state.requests.append((self.path, self.headers.get("User-Agent", "")))
            match = TILE.match(self.path)
            if match is None or match["kind"] == "missing":
                self.send_error(404)
                return
            if match["kind"] == "hang":
                server_state.release.wait()
                return
            if match["kind"] == "garbage":
                body = GARBAGE
            else:
                body = tile_png(int(match["z"]), int(match["x"]), int(match["y"]))
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    server_state = TileServer(httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, name="tile-server", daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        server_state.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)

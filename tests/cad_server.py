"""A real HTTP CAD server on 127.0.0.1 for the CAD adapter tests, and one that never answers.

``CadServer`` answers every GET with what the test last set (``answer``); it honours
``If-None-Match`` against the ETag it sends, and keeps the headers of every request it got.
``SilentServer`` accepts connections (the kernel's backlog does) and never says a word.
Both are used as ``with contextlib.closing(CadServer()) as server:``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class CadServer:
    def __init__(self) -> None:
        self.status = 200
        self.body = b"[]"
        self.etag: str | None = None
        self.content_length = True  # False: the body ends when the connection closes
        self.requests: list[dict[str, str]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server._lock:
                    server.requests.append(dict(self.headers.items()))
                    status, body, etag = server.status, server.body, server.etag
                    content_length = server.content_length
                if etag is not None and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if etag is not None:
                    self.send_header("ETag", etag)
                if content_length:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                # The client may give up on a body it will not take.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/cad/records"

    def answer(
        self,
        body: bytes | str | object,
        status: int = 200,
        *,
        etag: str | None = None,
        content_length: bool = True,
    ) -> None:
        if isinstance(body, str):
            body = body.encode()
        elif not isinstance(body, bytes):
            body = json.dumps(body).encode()
        with self._lock:
            self.status, self.body, self.etag = status, body, etag
            self.content_length = content_length

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class SilentServer:
    """Listens on 127.0.0.1 and never accepts: connections complete, answers never come."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0), backlog=8)

    @property
    def url(self) -> str:
        host, port = self._socket.getsockname()[:2]
        return f"http://{host}:{port}/cad/records"

    def close(self) -> None:
        self._socket.close()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (the port was just let go)."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        host, port = probe.getsockname()[:2]
    return f"http://{host}:{port}/cad/records"
